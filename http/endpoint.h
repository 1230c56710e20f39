// File: http/endpoint.h
//
// The one parser of the http(s) URLs the project is configured with: the
// DynamoDB endpoint (an origin: scheme://host[:port]) and the credential
// endpoints (container credentials, IMDS, STS: an origin plus a path).
//
// Thread-safety: pure functions of their inputs.
#ifndef DYNATRONI_HTTP_ENDPOINT_H_
#define DYNATRONI_HTTP_ENDPOINT_H_

#include <string>
#include <string_view>

#include "core/status.h"

namespace dynatroni::http {

// An absolute http(s) URL, split.
struct Url {
  std::string scheme;          // "http" or "https" (lower-cased)
  std::string host;            // without brackets for IPv6 literals
  int port = 0;                // 0 when absent
  std::string path_and_query;  // starts with '/', "/" when absent; the fragment dropped
  // "host[:port]" as sent in the Host header (IPv6 literal in brackets, the
  // scheme's default port left out).
  [[nodiscard]] std::string HostHeader() const;
};

// Splits an absolute http(s) URL; user info is refused. kInvalidArgument
// naming `field` ("<field> must be an absolute http:// or https:// URL (why)")
// otherwise; the message never quotes the input.
Result<Url> ParseUrl(std::string_view url, std::string_view field);

// An origin-only endpoint: http(s)://host[:port], parsed once.
struct Endpoint {
  std::string scheme;       // "http" or "https"
  std::string host;         // lower-cased; an IPv6 literal keeps its brackets
  int port = 0;             // 0 when the URL gives none
  std::string host_header;  // "host[:port]", the port as written unless exactly "80" (http) / "443" (https)
  std::string url;          // scheme://host[:port], normalized; the port as written (kept even when default)
  [[nodiscard]] bool is_plain_http() const { return scheme == "http"; }
};

// Parses an endpoint URL: scheme and host lower-cased, one trailing slash
// removed. Host may be a name (letters, digits, '-', '.', '_'), IPv4 or
// [IPv6]; the port 1-65535; no user info, path, query or fragment.
// kInvalidArgument otherwise, starting with "<field>: " (the URL quoted unless
// it contains '@').
Result<Endpoint> ParseEndpoint(std::string_view url, std::string_view field);

// The origin of a URL split by ParseUrl, as the Endpoint a request carries:
// the host as written (an IPv6 literal in brackets), the port only when given.
Endpoint OriginOf(const Url& url);

// The origin-form request target sent for `url`: its path with the dot
// segments removed (RFC 3986 5.2.4) and its query, an empty query dropped
// (as libcurl sent it).
std::string RequestTarget(const Url& url);

}  // namespace dynatroni::http

#endif  // DYNATRONI_HTTP_ENDPOINT_H_
