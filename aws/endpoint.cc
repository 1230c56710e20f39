#include "aws/endpoint.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "http/endpoint.h"

namespace dynatroni::aws {
namespace {

// Empty values count as unset, as in the AWS SDKs.
std::string GetEnv(const Env& env, const char* name) { return EnvValue(env, name).value_or(""); }

bool IsPlausibleRegion(std::string_view r) {
  return !r.empty() && r.size() <= 63 && r.front() != '-' && r.back() != '-' &&
         std::all_of(r.begin(), r.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

}  // namespace

std::optional<ResolvedRegion> RegionFromEnvironment(const Env& env) {
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (std::string v = GetEnv(env, name); !v.empty()) return ResolvedRegion{std::move(v), name};
  }
  return std::nullopt;
}

Result<ResolvedRegion> ResolveRegion(const std::string& explicit_region, const Env& env) {
  ResolvedRegion r;
  if (!explicit_region.empty()) {
    r = {explicit_region, "region"};
  } else if (auto from_env = RegionFromEnvironment(env)) {
    r = std::move(*from_env);
  } else {
    return InvalidArgument(
        "no AWS region configured: set the region option or the AWS_REGION environment "
        "variable, e.g. us-east-1");
  }
  if (!IsPlausibleRegion(r.region)) {
    return InvalidArgument(r.source + " \"" + r.region.substr(0, 64) +
                           "\" is not a valid AWS region name; use lower-case letters, digits and dashes, "
                           "e.g. us-east-1");
  }
  return r;
}

Result<std::string> NormalizeEndpointUrl(const std::string& url, const std::string& field_name) {
  DYNATRONI_ASSIGN_OR_RETURN(http::Endpoint endpoint, http::ParseEndpoint(url, field_name));
  return std::move(endpoint.url);
}

namespace {

// `url` parsed (errors naming `field`), with its source.
Result<Endpoint> Parsed(std::string_view url, const std::string& field, std::string source) {
  DYNATRONI_ASSIGN_OR_RETURN(http::Endpoint parsed, http::ParseEndpoint(url, field));
  Endpoint e;
  e.url = parsed.url;
  e.source = std::move(source);
  e.parsed = std::move(parsed);
  return e;
}

}  // namespace

Result<std::optional<Endpoint>> EndpointFromEnvironment(const Env& env) {
  for (const char* name : {"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"}) {
    std::string value = GetEnv(env, name);
    if (value.empty()) continue;
    DYNATRONI_ASSIGN_OR_RETURN(Endpoint e, Parsed(value, name, name));
    return std::optional<Endpoint>(std::move(e));
  }
  return std::optional<Endpoint>();
}

Result<Endpoint> ResolveEndpoint(const std::string& explicit_url, const std::string& region, const Env& env) {
  if (!explicit_url.empty()) {
    DYNATRONI_ASSIGN_OR_RETURN(Endpoint e, Parsed(explicit_url, "endpoint_url", "endpoint_url"));
    e.signing_region = region;
    return e;
  }
  DYNATRONI_ASSIGN_OR_RETURN(std::optional<Endpoint> from_env, EndpointFromEnvironment(env));
  if (from_env) {
    from_env->signing_region = region;
    return std::move(*from_env);
  }
  if (!IsPlausibleRegion(region)) {
    return InvalidArgument("cannot build the default DynamoDB endpoint: region \"" + region.substr(0, 64) +
                           "\" is not a valid AWS region name; set the region, e.g. us-east-1");
  }
  const bool china = region.rfind("cn-", 0) == 0;
  DYNATRONI_ASSIGN_OR_RETURN(
      Endpoint e, Parsed("https://dynamodb." + region + (china ? ".amazonaws.com.cn" : ".amazonaws.com"),
                         "endpoint", "default"));
  e.signing_region = region;
  return e;
}

}  // namespace dynatroni::aws
