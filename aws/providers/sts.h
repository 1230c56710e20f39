// File: aws/providers/sts.h
//
// The two STS calls the credential providers make (AssumeRole, signed with
// SigV4 for service "sts"; AssumeRoleWithWebIdentity, unsigned), the STS
// endpoint rules, and a tiny strict extractor for the few XML elements of
// STS's query-protocol responses. No XML library: STS's answers are small and
// regular, and anything unexpected is rejected as kMalformedResponse.
//
// Thread-safety: pure functions; CallSts is safe for concurrent use when the
// transport is.
#ifndef DYNATRONI_AWS_PROVIDERS_STS_H_
#define DYNATRONI_AWS_PROVIDERS_STS_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/credentials.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"
#include "http/transport.h"

namespace dynatroni::aws {

// STS endpoint: `explicit_url` if given, else AWS_ENDPOINT_URL_STS, else
// AWS_ENDPOINT_URL (of `env`), else https://sts.<region>.amazonaws.com
// (".amazonaws.com.cn" for cn-* regions), or the global
// https://sts.amazonaws.com when `region` is empty. kInvalidArgument for a
// malformed override (naming the variable). Result has no trailing slash.
Result<std::string> ResolveStsEndpoint(const std::string& explicit_url, const std::string& region,
                                       const Env& env);

// The region STS requests are sent to and signed for: `explicit_region`,
// else AWS_REGION, else AWS_DEFAULT_REGION (of `env`), else `profile_region`; empty
// means the global endpoint (signed as us-east-1).
std::string StsRegion(const std::string& explicit_region, const std::string& profile_region, const Env& env);

// "dynatroni-<unix seconds>", the default role session name.
std::string DefaultRoleSessionName(Clock& clock);

namespace providers_internal {

// Text of the unique element `name` (at any depth) in `xml`, entity-decoded.
// nullopt when absent. kMalformedResponse when it occurs twice, is
// unterminated, contains markup, or has an unknown entity.
Result<std::optional<std::string>> XmlLeafText(std::string_view xml, std::string_view name);
// Raw inner content of the unique element `name` (may contain child
// elements). Same error rules as XmlLeafText, without the leaf check.
Result<std::optional<std::string_view>> XmlElementContent(std::string_view xml, std::string_view name);

// Parses a successful STS response of `action` ("AssumeRole",
// "AssumeRoleWithWebIdentity"): <{action}Response><{action}Result>
// <Credentials> with AccessKeyId, SecretAccessKey, SessionToken, Expiration.
// kMalformedResponse (never quoting the body) otherwise.
Result<Credentials> ParseStsCredentials(std::string_view body, std::string_view action);

struct StsError {
  std::string code;     // e.g. "AccessDenied"
  std::string message;  // sanitized: printable ASCII, at most 300 bytes
};
// The <ErrorResponse><Error><Code>/<Message> of a failed call, or nullopt
// when the body is not such a document.
std::optional<StsError> ParseStsError(std::string_view body);

// Maps a non-2xx STS response to a Status (with aws_error and http_status):
// throttling/IDP/5xx -> kUnavailable; AccessDenied, ExpiredToken,
// InvalidIdentityToken, InvalidClientTokenId, SignatureDoesNotMatch, ... ->
// kPermissionDenied; ValidationError, MalformedPolicyDocument -> kInvalidArgument.
Status StsFailure(std::string_view what, const http::Response& response);

struct StsCall {
  std::string action;                                       // "AssumeRole" or "AssumeRoleWithWebIdentity"
  std::vector<std::pair<std::string, std::string>> params;  // besides Action and Version
  std::string endpoint;                                     // from ResolveStsEndpoint
  std::string region;                                       // signing region; empty = us-east-1
  // Credentials to sign with; nullptr sends the request unsigned.
  const Credentials* signing_credentials = nullptr;
};

// Sends `call` (form-encoded POST) within `deadline` and parses the
// credentials. Transport errors keep their code (kUnavailable, or
// kUnknownOutcome mapped to kUnavailable since STS calls are safe to repeat);
// `what` prefixes every message. The request and response bodies are wiped.
Result<Credentials> CallSts(http::Transport& transport, Clock& clock, const StsCall& call, Deadline deadline,
                            std::string_view what);

}  // namespace providers_internal
}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_PROVIDERS_STS_H_
