#include "http/endpoint.h"

#include <algorithm>
#include <cstddef>
#include <string>

#include "http/ascii.h"

namespace dynatroni::http {
namespace {

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_';
}

bool IsIpv6Char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

// 1-5 digits, 1-65535; 0 when not a valid port.
int EndpointPort(std::string_view p) {
  if (p.empty() || p.size() > 5) return 0;
  int v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v <= 65535 ? v : 0;
}

// RFC 3986 5.2.4 on an absolute path ("/..." in, "/..." out).
std::string RemoveDotSegments(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  while (!in.empty()) {
    if (in.starts_with("/./")) {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.starts_with("/../") || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      const size_t last = out.rfind('/');
      out.resize(last == std::string::npos ? 0 : last);
    } else {
      const size_t next = in.find('/', 1);
      out.append(in.substr(0, next));
      in = next == std::string_view::npos ? std::string_view() : in.substr(next);
    }
  }
  return out.empty() ? "/" : out;
}

}  // namespace

std::string Url::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port =
      port == 0 || (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  if (!default_port) h += ":" + std::to_string(port);
  return h;
}

Result<Url> ParseUrl(std::string_view url, std::string_view field) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(std::string(field) + " must be an absolute http:// or https:// URL (" +
                           std::string(why) + ")");
  };
  Url out;
  size_t colon = url.find("://");
  if (colon == std::string_view::npos) return bad("no scheme");
  out.scheme = AsciiLower(url.substr(0, colon));
  if (out.scheme != "http" && out.scheme != "https") return bad("scheme is not http or https");
  std::string_view rest = url.substr(colon + 3);
  size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view tail = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (size_t hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) return bad("user info is not allowed");
  std::string_view port_part;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 literal");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after IPv6 literal");
      port_part = after.substr(1);
      if (port_part.empty()) return bad("empty port");
    }
  } else {
    size_t pc = authority.rfind(':');
    if (pc != std::string_view::npos) {
      port_part = authority.substr(pc + 1);
      authority = authority.substr(0, pc);
      if (port_part.empty()) return bad("empty port");
    }
    out.host = std::string(authority);
  }
  if (out.host.empty()) return bad("no host");
  for (char c : out.host) {
    if (c <= ' ' || c == '/' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f) {
      return bad("invalid character in host");
    }
  }
  if (!port_part.empty()) {
    int p = 0;
    for (char c : port_part) {
      if (c < '0' || c > '9') return bad("port is not a number");
      p = p * 10 + (c - '0');
      if (p > 65535) return bad("port out of range");
    }
    if (p == 0) return bad("port out of range");
    out.port = p;
  }
  out.path_and_query = tail.empty() ? "/" : std::string(tail);
  if (out.path_and_query.front() == '?') out.path_and_query.insert(0, "/");
  return out;
}

Result<Endpoint> ParseEndpoint(std::string_view url, std::string_view field) {
  auto bad = [&](std::string_view why) {
    // Never echo a URL that might carry user:password@.
    std::string shown =
        url.find('@') == std::string_view::npos ? "\"" + std::string(url.substr(0, 200)) + "\" " : "";
    return InvalidArgument(std::string(field) + ": " + shown + "is not a usable endpoint URL (" +
                           std::string(why) +
                           "); expected http(s)://host[:port], e.g. http://127.0.0.1:8000");
  };
  Endpoint out;
  if (StartsWithIgnoreCase(url, "https://")) {
    out.scheme = "https";
  } else if (StartsWithIgnoreCase(url, "http://")) {
    out.scheme = "http";
  } else {
    return bad("the scheme must be http:// or https://");
  }
  std::string_view authority = url.substr(out.scheme.size() + 3);
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (authority.find_first_of("/?#") != std::string_view::npos)
    return bad("no path, query or fragment allowed");
  if (authority.find('@') != std::string_view::npos) return bad("credentials in the URL are not allowed");

  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return bad("unterminated IPv6 address");
    if (!std::all_of(authority.begin() + 1, authority.begin() + static_cast<std::ptrdiff_t>(close),
                     IsIpv6Char)) {
      return bad("invalid IPv6 address");
    }
    host = authority.substr(0, close + 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("junk after the IPv6 address");
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (has_port) {
    out.port = EndpointPort(port);
    if (out.port == 0) return bad("the port must be 1-65535");
  }
  if (host.empty() || (host.front() != '[' && !std::all_of(host.begin(), host.end(), IsHostChar))) {
    return bad("invalid host name");
  }
  out.host = AsciiLower(host);
  // The port as written; only exactly the scheme's default is left out of the Host header.
  const bool default_port = !has_port || port == (out.scheme == "https" ? "443" : "80");
  out.host_header = default_port ? out.host : out.host + ":" + std::string(port);
  out.url = out.scheme + "://" + out.host + (has_port ? ":" + std::string(port) : "");
  return out;
}

Endpoint OriginOf(const Url& url) {
  Endpoint out;
  out.scheme = url.scheme;
  out.host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  out.port = url.port;
  out.host_header = url.HostHeader();
  out.url = out.scheme + "://" + out.host + (url.port != 0 ? ":" + std::to_string(url.port) : "");
  return out;
}

std::string RequestTarget(const Url& url) {
  const std::string_view pq = url.path_and_query;
  const size_t q = pq.find('?');
  std::string target = RemoveDotSegments(pq.substr(0, q));
  if (q != std::string_view::npos && q + 1 < pq.size()) target.append(pq.substr(q));
  return target;
}

}  // namespace dynatroni::http
