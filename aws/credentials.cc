#include "aws/credentials.h"

#include <utility>

#include <openssl/crypto.h>

namespace dynatroni::aws {

void SecretString::Wipe() noexcept {
  // Growing to capacity() never reallocates, so the whole buffer (including
  // any bytes left behind by an earlier, longer value or a move) is wiped.
  s_.resize(s_.capacity());
  OPENSSL_cleanse(s_.data(), s_.size());
  s_.clear();
}

std::string Credentials::Describe() const {
  std::string id = access_key_id.empty() ? std::string("(no key id)")
                   : access_key_id.size() <= 8
                       ? std::string("****")
                       : access_key_id.substr(0, 4) + "****" + access_key_id.substr(access_key_id.size() - 4);
  return id + " (" + (source.empty() ? std::string("unknown source") : source) + ")";
}

bool SameCredentials(const Credentials& a, const Credentials& b) {
  return a.access_key_id == b.access_key_id && a.secret_access_key == b.secret_access_key &&
         a.session_token == b.session_token;
}

namespace {

class StaticProvider final : public CredentialsProvider {
 public:
  explicit StaticProvider(Credentials creds) : creds_(std::move(creds)) {
    if (creds_.source.empty()) creds_.source = "static";
  }
  Result<Credentials> Resolve(Deadline /*deadline*/) override {
    if (creds_.access_key_id.empty()) {
      return InvalidArgument(
          "static credentials: access_key_id is empty; set both access_key_id and "
          "secret_access_key, or omit both to use the credential chain");
    }
    if (creds_.secret_access_key.empty()) {
      return InvalidArgument(
          "static credentials: secret_access_key is empty; set both access_key_id "
          "and secret_access_key, or omit both to use the credential chain");
    }
    return creds_;
  }
  [[nodiscard]] std::string name() const override { return "static"; }

 private:
  Credentials creds_;
};

class EnvironmentProvider final : public CredentialsProvider {
 public:
  // Keeps only the three variables it reads (the secret in a SecretString).
  explicit EnvironmentProvider(const Env& env)
      : access_key_id_(EnvValue(env, "AWS_ACCESS_KEY_ID").value_or("")),
        secret_access_key_(EnvValue(env, "AWS_SECRET_ACCESS_KEY").value_or("")),
        session_token_(EnvValue(env, "AWS_SESSION_TOKEN").value_or("")) {}

  Result<Credentials> Resolve(Deadline /*deadline*/) override {
    Credentials c;
    c.access_key_id = access_key_id_;
    c.secret_access_key = secret_access_key_;
    if (c.access_key_id.empty() && c.secret_access_key.empty()) {
      return NotFound("environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
    }
    if (c.access_key_id.empty()) {
      return InvalidArgument(
          "environment: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not; "
          "set both or neither");
    }
    if (c.secret_access_key.empty()) {
      return InvalidArgument(
          "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; "
          "set both or neither");
    }
    c.session_token = session_token_;
    c.source = "environment";
    return c;
  }
  [[nodiscard]] std::string name() const override { return "environment"; }

 private:
  const std::string access_key_id_;
  const SecretString secret_access_key_;
  const SecretString session_token_;
};

}  // namespace

std::shared_ptr<CredentialsProvider> MakeStaticProvider(Credentials creds) {
  return std::make_shared<StaticProvider>(std::move(creds));
}

std::shared_ptr<CredentialsProvider> MakeEnvironmentProvider(const Env& env) {
  return std::make_shared<EnvironmentProvider>(env);
}

}  // namespace dynatroni::aws
