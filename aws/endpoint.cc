#include "aws/endpoint.h"

#include <algorithm>
#include <string_view>

namespace dynatroni::aws {
namespace {

// Empty values count as unset, as in the AWS SDKs.
std::string GetEnv(const Env& env, const char* name) { return EnvValue(env, name).value_or(""); }

bool IsPlausibleRegion(std::string_view r) {
  return !r.empty() && r.size() <= 63 && r.front() != '-' && r.back() != '-' &&
         std::all_of(r.begin(), r.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_';
}

bool IsIpv6Char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

bool IsValidPort(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  int v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return v >= 1 && v <= 65535;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace

Result<ResolvedRegion> ResolveRegion(const std::string& explicit_region, const Env& env) {
  ResolvedRegion r;
  if (!explicit_region.empty()) {
    r = {explicit_region, "region"};
  } else if (std::string v = GetEnv(env, "AWS_REGION"); !v.empty()) {
    r = {v, "AWS_REGION"};
  } else if (std::string d = GetEnv(env, "AWS_DEFAULT_REGION"); !d.empty()) {
    r = {d, "AWS_DEFAULT_REGION"};
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
  auto bad = [&](std::string_view why) {
    // Never echo a URL that might carry user:password@.
    std::string shown = url.find('@') == std::string::npos ? "\"" + url.substr(0, 200) + "\" " : "";
    return InvalidArgument(field_name + ": " + shown + "is not a usable endpoint URL (" + std::string(why) +
                           "); expected http(s)://host[:port], e.g. http://127.0.0.1:8000");
  };
  std::string lower_prefix = Lower(url.substr(0, 8));
  std::string scheme;
  if (lower_prefix.rfind("https://", 0) == 0) {
    scheme = "https://";
  } else if (lower_prefix.rfind("http://", 0) == 0) {
    scheme = "http://";
  } else {
    return bad("the scheme must be http:// or https://");
  }
  std::string authority = url.substr(scheme.size());
  if (!authority.empty() && authority.back() == '/') authority.pop_back();
  if (authority.find_first_of("/?#") != std::string::npos) return bad("no path, query or fragment allowed");
  if (authority.find('@') != std::string::npos) return bad("credentials in the URL are not allowed");

  std::string host;
  std::string port;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    size_t close = authority.find(']');
    if (close == std::string::npos || close == 1) return bad("unterminated IPv6 address");
    if (!std::all_of(authority.begin() + 1, authority.begin() + static_cast<std::ptrdiff_t>(close),
                     IsIpv6Char)) {
      return bad("invalid IPv6 address");
    }
    host = authority.substr(0, close + 1);
    std::string rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("junk after the IPv6 address");
      port = rest.substr(1);
      if (!IsValidPort(port)) return bad("the port must be 1-65535");
    }
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port = authority.substr(colon + 1);
      if (!IsValidPort(port)) return bad("the port must be 1-65535");
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), IsHostChar)) return bad("invalid host name");
  }
  return scheme + Lower(host) + (port.empty() ? "" : ":" + port);
}

Result<Endpoint> ResolveEndpoint(const std::string& explicit_url, const std::string& region, const Env& env) {
  struct Candidate {
    std::string value;
    const char* source;
  };
  for (const Candidate& c : {Candidate{explicit_url, "endpoint_url"},
                             Candidate{GetEnv(env, "AWS_ENDPOINT_URL_DYNAMODB"), "AWS_ENDPOINT_URL_DYNAMODB"},
                             Candidate{GetEnv(env, "AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL"}}) {
    if (c.value.empty()) continue;
    DYNATRONI_ASSIGN_OR_RETURN(std::string url, NormalizeEndpointUrl(c.value, c.source));
    return Endpoint{std::move(url), c.source};
  }
  if (!IsPlausibleRegion(region)) {
    return InvalidArgument("cannot build the default DynamoDB endpoint: region \"" + region.substr(0, 64) +
                           "\" is not a valid AWS region name; set the region, e.g. us-east-1");
  }
  const bool china = region.rfind("cn-", 0) == 0;
  return Endpoint{"https://dynamodb." + region + (china ? ".amazonaws.com.cn" : ".amazonaws.com"), "default"};
}

}  // namespace dynatroni::aws
