// File: aws/providers/testing_support.h
//
// Test support for the credential-provider tests (linked into the unit-test
// binary only): a scrubbed AWS environment, temporary files, STS response
// bodies, and a transport adapter that lets providers run on a FakeClock
// while talking to a real loopback server (http/testing_http_server.h).
//
// Thread-safety: ScopedAwsEnv mutates the process environment: use it only
// from the test's main thread, with no provider thread running.
#ifndef DYNATRONI_AWS_PROVIDERS_TESTING_SUPPORT_H_
#define DYNATRONI_AWS_PROVIDERS_TESTING_SUPPORT_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "aws/credentials.h"
#include "core/clock.h"
#include "core/env.h"
#include "http/testing_http_server.h"
#include "http/transport.h"

namespace dynatroni::aws::testing {

// Clears every AWS_* variable the providers read (restoring them at scope
// end), points HOME at a fresh temporary directory, disables proxies for
// loopback, and sets AWS_EC2_METADATA_DISABLED=true so no test ever waits on
// 169.254.169.254 unless it asks for IMDS explicitly.
class ScopedAwsEnv {
 public:
  ScopedAwsEnv();
  ~ScopedAwsEnv();
  ScopedAwsEnv(const ScopedAwsEnv&) = delete;
  ScopedAwsEnv& operator=(const ScopedAwsEnv&) = delete;

  ScopedAwsEnv& Set(const std::string& name, const std::string& value);
  ScopedAwsEnv& Unset(const std::string& name);

  // The temporary HOME; removed at scope end.
  [[nodiscard]] const std::string& home() const { return home_; }
  // Writes `contents` to home()/relative (creating directories); returns the path.
  std::string WriteFile(const std::string& relative, const std::string& contents);

 private:
  void Remember(const std::string& name);
  std::map<std::string, std::optional<std::string>> saved_;
  std::string home_;
};

// Forwards to `inner`, translating each deadline measured on `clock` (often a
// FakeClock) into the same remaining time on the system clock, which is what
// the real transport measures.
class ClockBridgeTransport final : public http::Transport {
 public:
  ClockBridgeTransport(std::shared_ptr<http::Transport> inner, Clock* clock)
      : inner_(std::move(inner)), clock_(clock) {}
  Result<http::Response> Send(const http::Request& request, Deadline deadline) override;

 private:
  std::shared_ptr<http::Transport> inner_;
  Clock* clock_;
};

// `options` with `env` set to a snapshot of the process environment now (as
// ScopedAwsEnv arranged it): the providers read no other environment.
template <typename Options>
Options WithProcessEnv(Options options) {
  options.env = ProcessEnvironment();
  return options;
}

// A CurlTransport (aborts the test binary if libcurl cannot start).
std::shared_ptr<http::Transport> RealTransport();

// STS query-protocol bodies.
std::string StsCredentialsXml(const std::string& action, const std::string& access_key_id,
                              const std::string& secret, const std::string& token,
                              const std::string& expiration_iso8601);
std::string StsErrorXml(const std::string& code, const std::string& message);

// Form body "a=1&b=2" -> map (percent-decoded).
std::map<std::string, std::string> ParseForm(const std::string& body);

// Recomputes the SigV4 signature of a received request (the headers named in
// its Authorization's SignedHeaders, its x-amz-date, region and service from
// the credential scope) with `creds` and compares. Returns "" when it
// matches, else what differs.
std::string VerifySigV4(const http::testing::ReceivedRequest& request, const Credentials& creds);

// ISO-8601 of clock-independent wall time now + d (for fake responses).
std::string IsoIn(std::chrono::seconds d, WallTime now);

}  // namespace dynatroni::aws::testing

#endif  // DYNATRONI_AWS_PROVIDERS_TESTING_SUPPORT_H_
