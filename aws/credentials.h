// File: aws/credentials.h
//
// AWS credentials and the provider interface that the full credential chain
// (environment, profiles, web identity, container, IMDS) plugs into.
//
// Secrets are held in SecretString, which wipes its memory on destruction and
// never prints itself. No function in this module logs a secret at any level.
//
// Thread-safety: Credentials is a value type. Providers must be safe for
// concurrent Resolve() calls.
#ifndef DYNATRONI_AWS_CREDENTIALS_H_
#define DYNATRONI_AWS_CREDENTIALS_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"

namespace dynatroni::aws {

// A string that zeroes its whole buffer (OPENSSL_cleanse) when destroyed,
// reassigned or moved from.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string s) : s_(std::move(s)) {}
  SecretString(const SecretString& o) = default;
  SecretString(SecretString&& o) noexcept : s_(std::move(o.s_)) { o.Wipe(); }
  SecretString& operator=(const SecretString& o) {
    if (this != &o) {
      Wipe();
      s_ = o.s_;
    }
    return *this;
  }
  SecretString& operator=(SecretString&& o) noexcept {
    if (this != &o) {
      Wipe();
      s_ = std::move(o.s_);
      o.Wipe();
    }
    return *this;
  }
  ~SecretString() { Wipe(); }

  // The secret itself: use only to sign, never to print.
  [[nodiscard]] const std::string& reveal() const { return s_; }
  [[nodiscard]] bool empty() const { return s_.empty(); }
  friend bool operator==(const SecretString& a, const SecretString& b) { return a.s_ == b.s_; }

 private:
  void Wipe() noexcept;
  std::string s_;
};

struct Credentials {
  std::string access_key_id;
  SecretString secret_access_key;
  SecretString session_token;  // empty for long-term keys
  // When temporary credentials stop working; nullopt = never.
  std::optional<WallTime> expiration;
  // Which link of the chain produced them ("environment", "static", ...).
  std::string source;

  // "AKIA****WXYZ (environment)": safe to log. Key ids of 8 characters or
  // fewer are shown as "****"; secrets and tokens never appear.
  [[nodiscard]] std::string Describe() const;
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Returns credentials usable now, within `deadline`. kNotFound when this
  // provider has nothing to offer (so a chain moves on); other codes when it
  // applies but failed.
  virtual Result<Credentials> Resolve(Deadline deadline) = 0;
  // Short name used in logs and in chain failure messages.
  [[nodiscard]] virtual std::string name() const = 0;
  // AWS refused `refused` as expired or unknown (`aws_error`, e.g.
  // ExpiredTokenException): a provider that caches forgets them if they are
  // still the ones it serves, so that the next Resolve() fetches credentials
  // anew (aws/providers/cache.h). The default does nothing: a provider without
  // a cache fetches anew on every Resolve() anyway.
  virtual void InvalidateRefused(const Credentials& /*refused*/, const std::string& /*aws_error*/) {}
};

// True when `a` and `b` sign alike (same key id, secret and session token).
bool SameCredentials(const Credentials& a, const Credentials& b);

// Fixed credentials given explicitly (config file or flags). Resolve() returns
// kInvalidArgument naming the field when access_key_id or secret_access_key is
// empty; `source` defaults to "static".
std::shared_ptr<CredentialsProvider> MakeStaticProvider(Credentials creds);

// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN of `env`
// (the caller's snapshot, core/env.h; empty counts as unset). kNotFound when both
// of the pair are unset; kInvalidArgument when only one of them is set.
// source = "environment".
std::shared_ptr<CredentialsProvider> MakeEnvironmentProvider(const Env& env);

}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_CREDENTIALS_H_
