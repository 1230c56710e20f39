#include "aws/providers/chain.h"

#include <utility>

#include "aws/providers/container.h"
#include "aws/providers/imds.h"
#include "aws/providers/profile_files.h"
#include "aws/providers/web_identity.h"

namespace dynatroni::aws {
namespace {

// The "static" link when no explicit keys are configured.
class UnconfiguredStaticProvider final : public CredentialsProvider {
 public:
  Result<Credentials> Resolve(Deadline /*deadline*/) override {
    return NotFound("no explicit credentials configured");
  }
  [[nodiscard]] std::string name() const override { return "static"; }
};

// "<name>: <message>" unless the message already starts with "<name>:".
std::string Clause(const std::string& name, const std::string& message) {
  if (message.rfind(name + ":", 0) == 0) return message;
  return name + ": " + message;
}

class ProviderChain final : public CredentialsProvider {
 public:
  ProviderChain(std::vector<std::shared_ptr<CredentialsProvider>> links, std::string name)
      : links_(std::move(links)), name_(std::move(name)) {}

  Result<Credentials> Resolve(Deadline deadline) override {
    std::string clauses;
    for (const auto& link : links_) {
      auto r = link->Resolve(deadline);
      if (r.ok()) {
        if (r->source.empty()) r->source = link->name();
        return r;
      }
      const Status& st = r.status();
      if (st.code() != StatusCode::kNotFound) {
        // The first link that applies decides, as in the AWS CLI.
        if (st.message().rfind(link->name() + ":", 0) == 0) return st;
        return st.Annotate(link->name());
      }
      if (!clauses.empty()) clauses += "; ";
      clauses += Clause(link->name(), st.message());
    }
    return NotFound("no AWS credentials found: " + clauses +
                    "; configure one of these sources (see aws/providers/README.md)");
  }

  [[nodiscard]] std::string name() const override { return name_; }

 private:
  const std::vector<std::shared_ptr<CredentialsProvider>> links_;
  const std::string name_;
};

}  // namespace

std::shared_ptr<CredentialsProvider> MakeProviderChain(
    std::vector<std::shared_ptr<CredentialsProvider>> links, std::string name) {
  return std::make_shared<ProviderChain>(std::move(links), std::move(name));
}

std::shared_ptr<CredentialsProvider> MakeDefaultChain(ChainOptions options) {
  std::vector<std::shared_ptr<CredentialsProvider>> links;
  if (options.static_credentials) {
    links.push_back(MakeStaticProvider(*options.static_credentials));
  } else {
    links.push_back(std::make_shared<UnconfiguredStaticProvider>());
  }
  links.push_back(MakeEnvironmentProvider(options.env));

  ProfileProviderOptions po;
  po.transport = options.transport;
  po.clock = options.clock;
  po.profile = options.profile;
  po.credentials_file = options.credentials_file;
  po.config_file = options.config_file;
  po.region = options.region;
  po.sts_endpoint = options.sts_endpoint;
  po.allow_imdsv1_fallback = options.allow_imdsv1_fallback;
  po.env = options.env;
  links.push_back(MakeProfileProvider(std::move(po)));

  WebIdentityOptions wo;
  wo.transport = options.transport;
  wo.clock = options.clock;
  wo.region = options.region;
  wo.sts_endpoint = options.sts_endpoint;
  wo.env = options.env;
  links.push_back(MakeWebIdentityProvider(std::move(wo)));

  ContainerOptions co;
  co.transport = options.transport;
  co.clock = options.clock;
  co.relative_uri_host = options.container_relative_uri_host;
  co.env = options.env;
  links.push_back(MakeContainerProvider(std::move(co)));

  ImdsOptions io;
  io.transport = options.transport;
  io.clock = options.clock;
  io.endpoint = options.imds_endpoint;
  io.disabled = options.disable_imds;
  io.allow_imdsv1_fallback = options.allow_imdsv1_fallback;
  io.per_call_timeout = options.imds_call_timeout;
  io.env = std::move(options.env);
  links.push_back(MakeImdsProvider(std::move(io)));

  auto chain = MakeProviderChain(std::move(links), "default-chain");
  if (!options.cache) return chain;
  CacheOptions cache = options.cache_options;
  if (cache.clock == nullptr) cache.clock = options.clock;
  return MakeCachingProvider(std::move(chain), cache);
}

}  // namespace dynatroni::aws
