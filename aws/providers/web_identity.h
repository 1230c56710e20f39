// File: aws/providers/web_identity.h
//
// Web identity (EKS IRSA and friends): AWS_WEB_IDENTITY_TOKEN_FILE +
// AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME) -> STS AssumeRoleWithWebIdentity, an
// unsigned call. The token file is re-read on every Resolve(), because EKS
// rotates it; the token is sent in the request body only and wiped after.
//
// Thread-safety: the provider is stateless; concurrent Resolve() is safe.
#ifndef DYNATRONI_AWS_PROVIDERS_WEB_IDENTITY_H_
#define DYNATRONI_AWS_PROVIDERS_WEB_IDENTITY_H_

#include <chrono>
#include <memory>
#include <string>

#include "aws/credentials.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"
#include "http/transport.h"

namespace dynatroni::aws {

struct WebIdentityOptions {
  std::shared_ptr<http::Transport> transport;  // nullptr = process-wide CurlTransport
  Clock* clock = nullptr;                      // nullptr = SystemClock
  // Each empty field falls back to its environment variable.
  std::string role_arn;           // AWS_ROLE_ARN
  std::string token_file;         // AWS_WEB_IDENTITY_TOKEN_FILE
  std::string role_session_name;  // AWS_ROLE_SESSION_NAME, else "dynatroni-<unix seconds>"
  // STS region: empty = AWS_REGION, AWS_DEFAULT_REGION, else the global endpoint.
  std::string region;
  std::string sts_endpoint;                         // empty: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, default
  Duration sts_timeout = std::chrono::seconds(10);  // cap of the STS call
  std::string source = "web-identity";              // Credentials.source of the result
  // The environment snapshot the AWS_* variables above are read from
  // (core/env.h); the default is an empty environment.
  Env env;
};

// kNotFound (explaining which variable is missing) unless both the token file
// and the role ARN are known. Other errors: the token file cannot be read
// (kPermissionDenied / kInvalidArgument naming the path), STS errors (see
// sts.h: InvalidIdentityToken and ExpiredToken -> kPermissionDenied,
// IDPCommunicationError -> kUnavailable), malformed responses.
std::shared_ptr<CredentialsProvider> MakeWebIdentityProvider(WebIdentityOptions options);

}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_PROVIDERS_WEB_IDENTITY_H_
