// File: aws/providers/util.h
//
// Small helpers shared by the credential providers (internal to
// aws/providers/; other modules should not depend on them): environment
// access, ISO-8601 timestamps, form encoding, HTTP status
// mapping, the JSON credential documents of the container endpoint, IMDS and
// credential_process, and wiping buffers that held secrets.
//
// Thread-safety: all functions are pure (apart from reading a file) and safe
// for concurrent use.
#ifndef DYNATRONI_AWS_PROVIDERS_UTIL_H_
#define DYNATRONI_AWS_PROVIDERS_UTIL_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"
#include "http/transport.h"

namespace dynatroni::aws::providers_internal {

// The value of variable `name` in the snapshot `env`; nullopt when unset or
// empty (the AWS SDKs treat an empty variable as unset).
std::optional<std::string> GetEnv(const Env& env, const char* name);

// `name` is set to "true" (case-insensitive) in `env`.
bool EnvIsTrue(const Env& env, const char* name);

// Strips ASCII whitespace from both ends.
std::string_view Trim(std::string_view s);
std::string ToLower(std::string_view s);

// Parses "2024-01-02T03:04:05Z", with optional fractional seconds and a "Z",
// "+hh:mm", "-hh:mm", "+hhmm" offset. kInvalidArgument (naming `field`) when
// unparsable; the message never quotes the input.
Result<WallTime> ParseIso8601(std::string_view input, std::string_view field);
// "2024-01-02T03:04:05Z" (UTC, whole seconds). For messages.
std::string FormatIso8601(WallTime t);

// application/x-www-form-urlencoded value encoding (RFC 3986 unreserved kept,
// everything else %XX; space as %20).
std::string FormEncode(std::string_view s);

// Overwrites the buffer of `s` (whole capacity) and clears it.
void WipeString(std::string& s);

// Reads a whole (small) file. kNotFound when it does not exist,
// kPermissionDenied when unreadable, kInvalidArgument when larger than
// `max_bytes`. Messages name `what` and the path.
Result<std::string> ReadSmallFile(const std::string& path, std::string_view what, size_t max_bytes = 1 << 20);

// Status for a non-2xx HTTP response from a credential endpoint: 401/403 ->
// kPermissionDenied, 429 and 5xx -> kUnavailable, other 4xx ->
// kInvalidArgument. `what` names the endpoint ("container credentials
// endpoint"); the body is never quoted.
Status HttpError(std::string_view what, int http_status, std::string_view detail = {});

// Parses the JSON credential document shared by the container endpoint and
// IMDS (AccessKeyId, SecretAccessKey, Token, Expiration) and
// credential_process (SessionToken instead of Token, plus Version == 1).
enum class JsonCredentialFormat { kContainerOrImds, kCredentialProcess };
// kMalformedResponse naming the missing/invalid field; messages never contain
// the body. `what` prefixes messages. Requires a non-empty session token and
// an Expiration when `require_token` (IMDS always sends them). For
// kContainerOrImds, a "Code" other than "Success" is kUnavailable.
Result<Credentials> ParseJsonCredentials(std::string_view body, JsonCredentialFormat format,
                                         std::string_view what, bool require_token);

// Deadline for one network call: the caller's deadline, at most `per_call`
// from now on `clock`.
Deadline CallDeadline(Deadline deadline, Clock& clock, Duration per_call);

// The production transport (CurlTransport with default options), created
// once per process. kInternal if libcurl cannot be initialised.
Result<std::shared_ptr<http::Transport>> DefaultTransport();

}  // namespace dynatroni::aws::providers_internal

#endif  // DYNATRONI_AWS_PROVIDERS_UTIL_H_
