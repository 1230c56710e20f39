// File: aws/endpoint.h
//
// Region and endpoint resolution for the DynamoDB client.
//
// Region order (first found wins; the AWS CLI's order):
//   explicit value, AWS_REGION, AWS_DEFAULT_REGION
//   (the credential-chain issue adds: the profile's `region`, then IMDS).
// Endpoint order: explicit endpoint_url, AWS_ENDPOINT_URL_DYNAMODB,
//   AWS_ENDPOINT_URL, else https://dynamodb.<region>.amazonaws.com
//   (".amazonaws.com.cn" for cn-* regions).
//
// Empty environment variables count as unset.
//
// The environment is the caller's snapshot (core/env.h), never getenv.
//
// Thread-safety: pure functions of their inputs.
#ifndef DYNATRONI_AWS_ENDPOINT_H_
#define DYNATRONI_AWS_ENDPOINT_H_

#include <optional>
#include <string>

#include "core/env.h"
#include "core/status.h"
#include "http/endpoint.h"

namespace dynatroni::aws {

struct Endpoint {
  std::string url;     // scheme://host[:port], no trailing slash
  std::string source;  // "endpoint_url", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL", "default"
  // `url` parsed once (http::ParseEndpoint): what a client sends to and signs
  // for, passed on as is (dynamodb::ClientOptions::parsed_endpoint).
  http::Endpoint parsed;
  // What requests to it are signed for (SigV4 credential scope).
  std::string signing_region;
  std::string signing_service = "dynamodb";
  [[nodiscard]] bool is_plain_http() const { return url.rfind("http://", 0) == 0; }
};

struct ResolvedRegion {
  std::string region;
  std::string source;  // "region", "AWS_REGION", "AWS_DEFAULT_REGION"
};

// The first of AWS_REGION, AWS_DEFAULT_REGION set (non-empty) in `env`,
// unvalidated, with the variable's name as source; nullopt when neither is.
std::optional<ResolvedRegion> RegionFromEnvironment(const Env& env);

// The first of AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL set (non-empty)
// in `env`, normalized (NormalizeEndpointUrl, errors naming the variable),
// with the variable's name as source; nullopt when neither is.
Result<std::optional<Endpoint>> EndpointFromEnvironment(const Env& env);

// kInvalidArgument with a one-line fix when no region is found or it is not a
// plausible region name (lower-case letters, digits and dashes).
Result<ResolvedRegion> ResolveRegion(const std::string& explicit_region, const Env& env);

// kInvalidArgument when a given URL is not http(s)://host[:port][/]. The
// result carries the parsed endpoint and the signing region (`region`) and
// service ("dynamodb").
Result<Endpoint> ResolveEndpoint(const std::string& explicit_url, const std::string& region, const Env& env);

// Validates one endpoint URL (http::ParseEndpoint); returns it normalized: scheme
// and host lower-cased, one trailing slash removed. Host may be a name, IPv4 or
// [IPv6]; no user info, path, query or fragment. Errors start with "<field_name>: ".
Result<std::string> NormalizeEndpointUrl(const std::string& url, const std::string& field_name);

}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_ENDPOINT_H_
