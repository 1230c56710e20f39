// File: aws/providers/container.h
//
// Container credentials (ECS task roles, EKS Pod Identity):
//  * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI -> GET http://169.254.170.2<uri>
//    (wins when both are set, as in the SDKs);
//  * AWS_CONTAINER_CREDENTIALS_FULL_URI -> GET <uri>. https:// may go
//    anywhere; plain http:// only to loopback (127.0.0.0/8, ::1, localhost),
//    the ECS host 169.254.170.2 or the EKS Pod Identity hosts 169.254.170.23
//    and fd00:ec2::23 — anything else is kInvalidArgument, before any request.
//  * Authorization header: the contents of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
//    (re-read on every call; EKS rotates it; wins when both are set), else
//    AWS_CONTAINER_AUTHORIZATION_TOKEN.
// Response JSON: AccessKeyId, SecretAccessKey, Token, Expiration.
//
// Thread-safety: stateless; concurrent Resolve() is safe.
#ifndef DYNATRONI_AWS_PROVIDERS_CONTAINER_H_
#define DYNATRONI_AWS_PROVIDERS_CONTAINER_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"
#include "http/transport.h"

namespace dynatroni::aws {

struct ContainerOptions {
  std::shared_ptr<http::Transport> transport;  // nullptr = process-wide CurlTransport
  Clock* clock = nullptr;                      // nullptr = SystemClock
  // Base for AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (tests point it at a fake).
  std::string relative_uri_host = "http://169.254.170.2";
  // Timeout of one attempt; up to `max_attempts` attempts on connection
  // errors, timeouts and 5xx, all within the caller's deadline.
  Duration attempt_timeout = std::chrono::seconds(2);
  int max_attempts = 2;
  // The environment snapshot the AWS_* variables of the provider are read from
  // (core/env.h); the default is an empty environment.
  Env env;
};

// kNotFound when neither URI variable is set. Errors: kInvalidArgument for a
// disallowed or malformed URI or a token with CR/LF; kPermissionDenied for
// 401/403 or an unreadable token file; kUnavailable for connection errors,
// timeouts and 5xx; kDeadlineExceeded when the deadline passed;
// kMalformedResponse for a bad body. Messages never contain the token or body.
std::shared_ptr<CredentialsProvider> MakeContainerProvider(ContainerOptions options);

// The host rule above, for AWS_CONTAINER_CREDENTIALS_FULL_URI: OK or
// kInvalidArgument explaining which hosts are allowed over plain http.
Status ValidateContainerCredentialsUri(std::string_view uri);

}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_PROVIDERS_CONTAINER_H_
