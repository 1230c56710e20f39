// File: aws/providers/imds.h
//
// EC2 instance metadata (IMDSv2) client, credential provider and region lookup.
//
//  * Token: PUT /latest/api/token with x-aws-ec2-metadata-token-ttl-seconds
//    (21600 by default); reused until `token_refresh_margin` before its TTL
//    ends (monotonic clock). A 401 on a metadata GET drops the token and
//    retries once with a fresh one.
//  * Credentials: GET /latest/meta-data/iam/security-credentials/ (the role
//    name, first line) then .../<role> (JSON: Code, AccessKeyId,
//    SecretAccessKey, Token, Expiration).
//  * Region: GET /latest/meta-data/placement/region.
//  * Every HTTP call has a short timeout (`per_call_timeout`, 1 s) within the
//    caller's deadline.
//  * Disabled (kNotFound "disabled") when AWS_EC2_METADATA_DISABLED=true or
//    options.disabled.
//  * Endpoint: options.endpoint, else AWS_EC2_METADATA_SERVICE_ENDPOINT, else
//    http://[fd00:ec2::254] when AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6,
//    else http://169.254.169.254.
//  * IMDSv1: never used unless allow_imdsv1_fallback. The AWS SDKs fall back
//    to v1 (tokenless GETs) when the token PUT fails with 403/404/405 or times
//    out, unless `ec2_metadata_v1_disabled = true` (config) or
//    AWS_EC2_METADATA_V1_DISABLED=true. Dynatroni's default is the hardened
//    setting (as if ec2_metadata_v1_disabled were true); allow_imdsv1_fallback
//    = true restores the SDKs' fallback, for instances or proxies without
//    IMDSv2 support. A fallback decision is remembered for 5 minutes (one
//    token PUT per resolution at most, as botocore does).
//  * When no metadata service answers at all (connection refused, timeout on
//    the token PUT: not on EC2), the provider returns kNotFound, so a chain
//    reports "not on EC2" rather than an outage.
//
// Thread-safety: ImdsClient and the provider are safe for concurrent use (the
// token cache is internally locked).
#ifndef DYNATRONI_AWS_PROVIDERS_IMDS_H_
#define DYNATRONI_AWS_PROVIDERS_IMDS_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"
#include "http/transport.h"

namespace dynatroni::aws {

struct ImdsOptions {
  std::shared_ptr<http::Transport> transport;  // nullptr = process-wide CurlTransport
  Clock* clock = nullptr;                      // nullptr = SystemClock
  std::string endpoint;                        // empty: see above
  bool disabled = false;                       // in addition to AWS_EC2_METADATA_DISABLED=true
  bool allow_imdsv1_fallback = false;
  Duration per_call_timeout = std::chrono::seconds(1);
  std::chrono::seconds token_ttl{21600};
  // A cached token is renewed once less than this is left of its TTL.
  Duration token_refresh_margin = std::chrono::seconds(60);
  // The environment snapshot the AWS_* variables above are read from
  // (core/env.h); the default is an empty environment.
  Env env;
};

class ImdsClient {
 public:
  explicit ImdsClient(ImdsOptions options);

  // GET <endpoint><path> with a session token (or without one when the
  // token PUT failed and allow_imdsv1_fallback). Returns the body of a 200.
  // Errors: kNotFound when disabled, when no metadata service answers
  // (message says so), or for HTTP 404 of `path`; kPermissionDenied for a
  // 403 on the token PUT (IMDS access turned off for the instance) or a 401
  // that a fresh token does not cure; kFailedPrecondition when the endpoint
  // does not support IMDSv2 and fallback is off; kUnavailable for 5xx/
  // transport errors after the token was obtained; kDeadlineExceeded when the
  // caller's deadline passed.
  Result<std::string> Get(std::string_view path, Deadline deadline);

  // The endpoint in use ("http://169.254.169.254"), or an error for a bad override.
  [[nodiscard]] Result<std::string> Endpoint() const;
  // Whether IMDS is disabled by option or environment.
  [[nodiscard]] bool Disabled() const;
  // Number of token PUTs sent so far (for tests and diagnostics).
  [[nodiscard]] int token_fetches() const;

 private:
  Result<std::string> Token(const std::string& endpoint, Deadline deadline, bool* use_v1);
  Result<http::Transport*> GetTransport();
  Clock& clock() const { return options_.clock != nullptr ? *options_.clock : *SystemClock::Instance(); }

  const ImdsOptions options_;
  mutable std::mutex mu_;
  std::shared_ptr<http::Transport> transport_;  // guarded by mu_ (set once)
  SecretString token_;                          // guarded by mu_
  std::string token_endpoint_;                  // endpoint the token is for
  MonoTime token_renew_at_{};                   // guarded by mu_
  // After a token PUT failed and fallback is allowed: use IMDSv1 until then.
  std::optional<MonoTime> v1_until_;  // guarded by mu_
  int token_fetches_ = 0;             // guarded by mu_
};

// The IMDS credential provider (source "imds").
std::shared_ptr<CredentialsProvider> MakeImdsProvider(ImdsOptions options);
// Same, sharing an existing client (and its token cache).
std::shared_ptr<CredentialsProvider> MakeImdsProvider(std::shared_ptr<ImdsClient> client);

// The instance's region from /latest/meta-data/placement/region. Errors as
// ImdsClient::Get; kMalformedResponse for an implausible region name.
Result<std::string> FetchImdsRegion(ImdsClient& client, Deadline deadline);

}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_PROVIDERS_IMDS_H_
