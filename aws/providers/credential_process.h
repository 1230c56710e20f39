// File: aws/providers/credential_process.h
//
// Runs a profile's `credential_process` command (via /bin/sh -c, as the AWS
// CLI does) and parses its Version 1 JSON output:
//   {"Version": 1, "AccessKeyId": "...", "SecretAccessKey": "...",
//    "SessionToken": "...", "Expiration": "2024-01-02T03:04:05Z"}
// SessionToken and Expiration are optional (long-term keys never expire).
//
// The child gets /dev/null as stdin, a pipe as stdout (read here, at most
// `max_output_bytes`, wiped after parsing) and this process's stderr (so its
// diagnostics reach the operator, as with the CLI). It runs in its own process
// group, which is killed (SIGKILL) when the time budget runs out.
//
// Thread-safety: RunCredentialProcess is safe for concurrent use (posix_spawn,
// no global state).
#ifndef DYNATRONI_AWS_PROVIDERS_CREDENTIAL_PROCESS_H_
#define DYNATRONI_AWS_PROVIDERS_CREDENTIAL_PROCESS_H_

#include <chrono>
#include <cstddef>
#include <string>

#include "aws/credentials.h"
#include "core/clock.h"
#include "core/status.h"

namespace dynatroni::aws {

struct CredentialProcessOptions {
  // Measures the caller's deadline. nullptr = SystemClock. (The wait for the
  // child itself is a real OS wait: the budget is computed once, up front.)
  Clock* clock = nullptr;
  // Upper bound for one run; the caller's deadline may shorten it.
  Duration timeout = std::chrono::seconds(60);
  size_t max_output_bytes = size_t{64} * 1024;
};

// Runs `command` and returns its credentials. `what` prefixes messages (e.g.
// "credential_process of profile 'prod'"); the command line itself is never
// put in a message (it may carry secrets).
// Errors: kDeadlineExceeded when it did not finish in time (it is killed);
// kUnavailable when it cannot be started, exits non-zero or dies from a
// signal; kMalformedResponse for output that is not valid Version 1 JSON or
// is too large. Messages never contain the output.
Result<Credentials> RunCredentialProcess(const std::string& command, Deadline deadline,
                                         const CredentialProcessOptions& options, const std::string& what);

}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_PROVIDERS_CREDENTIAL_PROCESS_H_
