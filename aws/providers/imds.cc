#include "aws/providers/imds.h"

#include <utility>

#include "aws/providers/util.h"
#include "http/endpoint.h"

namespace dynatroni::aws {

using providers_internal::CallDeadline;
using providers_internal::DefaultTransport;
using providers_internal::EnvIsTrue;
using providers_internal::GetEnv;
using providers_internal::HttpError;
using providers_internal::JsonCredentialFormat;
using providers_internal::ParseJsonCredentials;
using providers_internal::ToLower;
using providers_internal::Trim;
using providers_internal::WipeString;

namespace {

constexpr std::string_view kTokenPath = "/latest/api/token";
constexpr std::string_view kTokenHeader = "x-aws-ec2-metadata-token";
constexpr std::string_view kTtlHeader = "x-aws-ec2-metadata-token-ttl-seconds";
constexpr std::string_view kRolePath = "/latest/meta-data/iam/security-credentials/";

}  // namespace

ImdsClient::ImdsClient(ImdsOptions options) : options_(std::move(options)), transport_(options_.transport) {}

bool ImdsClient::Disabled() const {
  return options_.disabled || EnvIsTrue(options_.env, "AWS_EC2_METADATA_DISABLED");
}

int ImdsClient::token_fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return token_fetches_;
}

Result<std::string> ImdsClient::Endpoint() const {
  std::string url;
  std::string field;
  if (!options_.endpoint.empty()) {
    url = options_.endpoint;
    field = "imds endpoint";
  } else if (auto e = GetEnv(options_.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
    url = *e;
    field = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
  } else if (auto mode = GetEnv(options_.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")) {
    std::string m = ToLower(Trim(*mode));
    if (m == "ipv6") {
      url = "http://[fd00:ec2::254]";
    } else if (m == "ipv4") {
      url = "http://169.254.169.254";
    } else {
      return InvalidArgument("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6");
    }
  } else {
    url = "http://169.254.169.254";
  }
  if (!field.empty()) {
    auto parsed = http::ParseUrl(url, field);
    if (!parsed.ok()) return parsed.status();
    while (url.size() > 8 && url.back() == '/') url.pop_back();
  }
  return url;
}

Result<http::Transport*> ImdsClient::GetTransport() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!transport_) {
    auto t = DefaultTransport();
    if (!t.ok()) return t.status();
    transport_ = *t;
  }
  return transport_.get();
}

Result<std::string> ImdsClient::Token(const std::string& endpoint, Deadline deadline, bool* use_v1) {
  *use_v1 = false;
  Clock& c = clock();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!token_.empty() && token_endpoint_ == endpoint && c.Now() < token_renew_at_) return token_.reveal();
    if (v1_until_ && token_endpoint_ == endpoint && c.Now() < *v1_until_ && options_.allow_imdsv1_fallback) {
      *use_v1 = true;
      return std::string();
    }
  }
  auto fall_back = [&]() {
    std::lock_guard<std::mutex> lock(mu_);
    token_ = SecretString();
    token_endpoint_ = endpoint;
    v1_until_ = c.Now() + std::chrono::minutes(5);
    *use_v1 = true;
    return std::string();
  };
  auto transport = GetTransport();
  if (!transport.ok()) return transport.status();
  http::Request req;
  req.method = "PUT";
  DYNATRONI_RETURN_IF_ERROR(req.SetUrl(endpoint + std::string(kTokenPath), "imds endpoint"));
  req.headers.emplace_back(std::string(kTtlHeader), std::to_string(options_.token_ttl.count()));
  req.body.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++token_fetches_;
  }
  const MonoTime sent_at = c.Now();
  auto resp = (*transport)->Send(req, CallDeadline(deadline, c, options_.per_call_timeout));
  if (!resp.ok()) {
    if (deadline.Expired(c)) {
      return DeadlineExceeded("instance metadata: the deadline passed while requesting a session token");
    }
    if (options_.allow_imdsv1_fallback) return fall_back();
    return NotFound("no instance metadata service answered the IMDSv2 token request at " + endpoint +
                    " (not running on EC2, or the PUT response hop limit is too low for a container): " +
                    resp.status().message());
  }
  http::Response& r = *resp;
  if (r.status == 200) {
    std::string token(Trim(r.body));
    WipeString(r.body);
    if (token.empty()) return MalformedResponse("instance metadata: the IMDSv2 token response is empty");
    std::lock_guard<std::mutex> lock(mu_);
    token_ = SecretString(token);
    token_endpoint_ = endpoint;
    v1_until_.reset();
    token_renew_at_ = sent_at + options_.token_ttl - options_.token_refresh_margin;
    return token;
  }
  WipeString(r.body);
  if ((r.status == 403 || r.status == 404 || r.status == 405) && options_.allow_imdsv1_fallback) {
    return fall_back();
  }
  if (r.status == 403) {
    return PermissionDenied(
        "instance metadata: the IMDSv2 token request was forbidden (HTTP 403): instance metadata access is "
        "turned off for this instance");
  }
  if (r.status == 404 || r.status == 405) {
    return FailedPrecondition("instance metadata endpoint " + endpoint +
                              " does not support IMDSv2 tokens (HTTP " + std::to_string(r.status) +
                              "); set allow_imdsv1_fallback to allow insecure IMDSv1 requests");
  }
  return HttpError("instance metadata token request", r.status);
}

Result<std::string> ImdsClient::Get(std::string_view path, Deadline deadline) {
  if (options_.disabled) return NotFound("disabled by configuration");
  if (EnvIsTrue(options_.env, "AWS_EC2_METADATA_DISABLED"))
    return NotFound("disabled by AWS_EC2_METADATA_DISABLED=true");
  auto endpoint = Endpoint();
  if (!endpoint.ok()) return endpoint.status();
  auto transport = GetTransport();
  if (!transport.ok()) return transport.status();
  Clock& c = clock();
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool v1 = false;
    auto token = Token(*endpoint, deadline, &v1);
    if (!token.ok()) return token.status();
    http::Request req;
    req.method = "GET";
    DYNATRONI_RETURN_IF_ERROR(req.SetUrl(*endpoint + std::string(path), "imds endpoint"));
    if (!v1) req.headers.emplace_back(std::string(kTokenHeader), std::move(*token));
    WipeString(*token);
    auto resp = (*transport)->Send(req, CallDeadline(deadline, c, options_.per_call_timeout));
    for (auto& h : req.headers) WipeString(h.second);
    if (!resp.ok()) {
      if (deadline.Expired(c)) {
        return DeadlineExceeded("instance metadata: the deadline passed during GET " + std::string(path));
      }
      if (v1) {
        return NotFound("no instance metadata service answered at " + *endpoint +
                        " (IMDSv1 fallback): " + resp.status().message());
      }
      return Unavailable("instance metadata GET " + std::string(path) + ": " + resp.status().message());
    }
    http::Response& r = *resp;
    if (r.status == 200) return std::move(r.body);
    WipeString(r.body);
    if (r.status == 401 && !v1 && attempt == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      token_ = SecretString();
      continue;  // the token expired or was revoked: fetch a new one once
    }
    if (r.status == 404) return NotFound(std::string(path) + " is not in the instance metadata (HTTP 404)");
    return HttpError("instance metadata GET " + std::string(path), r.status);
  }
  return PermissionDenied("instance metadata rejected a fresh IMDSv2 token (HTTP 401)");
}

namespace {

class ImdsProvider final : public CredentialsProvider {
 public:
  explicit ImdsProvider(std::shared_ptr<ImdsClient> client) : client_(std::move(client)) {}

  Result<Credentials> Resolve(Deadline deadline) override {
    auto roles = client_->Get(kRolePath, deadline);
    if (!roles.ok()) {
      const Status& st = roles.status();
      if (st.code() == StatusCode::kNotFound && st.message().find("HTTP 404") != std::string::npos) {
        return NotFound("the instance has no IAM role (instance profile) attached");
      }
      return st;
    }
    std::string_view list = *roles;
    std::string role(Trim(list.substr(0, list.find('\n'))));
    if (role.empty()) return NotFound("the instance has no IAM role (instance profile) attached");
    if (role.find_first_of("/?#% ") != std::string::npos) {
      return MalformedResponse("instance metadata: the IAM role name is not a plain name");
    }
    auto body = client_->Get(std::string(kRolePath) + role, deadline);
    if (!body.ok()) {
      Status st = body.status();
      // The role exists, so IMDS applies: never let the chain move on from here.
      if (st.code() == StatusCode::kNotFound) st = Unavailable(st.message());
      return st.Annotate("IMDS credentials for role " + role);
    }
    auto creds = ParseJsonCredentials(*body, JsonCredentialFormat::kContainerOrImds,
                                      "instance metadata credentials for role " + role, true);
    WipeString(*body);
    if (!creds.ok()) return creds.status();
    creds->source = "imds";
    return creds;
  }

  [[nodiscard]] std::string name() const override { return "imds"; }

 private:
  std::shared_ptr<ImdsClient> client_;
};

}  // namespace

std::shared_ptr<CredentialsProvider> MakeImdsProvider(ImdsOptions options) {
  return std::make_shared<ImdsProvider>(std::make_shared<ImdsClient>(std::move(options)));
}

std::shared_ptr<CredentialsProvider> MakeImdsProvider(std::shared_ptr<ImdsClient> client) {
  return std::make_shared<ImdsProvider>(std::move(client));
}

Result<std::string> FetchImdsRegion(ImdsClient& client, Deadline deadline) {
  auto body = client.Get("/latest/meta-data/placement/region", deadline);
  if (!body.ok()) return body.status();
  std::string region(Trim(*body));
  bool plausible = !region.empty() && region.size() <= 63;
  for (char ch : region) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) plausible = false;
  }
  if (!plausible) return MalformedResponse("instance metadata: placement/region is not a region name");
  return region;
}

}  // namespace dynatroni::aws
