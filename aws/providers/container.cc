#include "aws/providers/container.h"

#include <arpa/inet.h>

#include <cstring>
#include <utility>

#include "aws/providers/util.h"
#include "http/endpoint.h"

namespace dynatroni::aws {
namespace {

using providers_internal::CallDeadline;
using providers_internal::DefaultTransport;
using providers_internal::GetEnv;
using providers_internal::HttpError;
using providers_internal::JsonCredentialFormat;
using providers_internal::ParseJsonCredentials;
using providers_internal::ReadSmallFile;
using providers_internal::ToLower;
using providers_internal::Trim;
using providers_internal::WipeString;

bool IsAllowedPlainHttpHost(const std::string& host) {
  std::string h = ToLower(host);
  if (h == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    uint32_t a = ntohl(v4.s_addr);
    if ((a >> 24) == 127) return true;                                        // 127.0.0.0/8
    if (a == ((169u << 24) | (254u << 16) | (170u << 8) | 2u)) return true;   // ECS
    if (a == ((169u << 24) | (254u << 16) | (170u << 8) | 23u)) return true;  // EKS Pod Identity
    return false;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    in6_addr loopback = IN6ADDR_LOOPBACK_INIT;
    if (std::memcmp(&v6, &loopback, sizeof(v6)) == 0) return true;
    in6_addr eks{};
    inet_pton(AF_INET6, "fd00:ec2::23", &eks);
    if (std::memcmp(&v6, &eks, sizeof(v6)) == 0) return true;
    // IPv4-mapped loopback ::ffff:127.x.y.z
    static const unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(v6.s6_addr, kMappedPrefix, 12) == 0 && v6.s6_addr[12] == 127) return true;
  }
  return false;
}

class ContainerProvider final : public CredentialsProvider {
 public:
  explicit ContainerProvider(ContainerOptions o) : o_(std::move(o)) {}

  Result<Credentials> Resolve(Deadline deadline) override {
    Clock& clock = o_.clock != nullptr ? *o_.clock : *SystemClock::Instance();
    auto relative = GetEnv(o_.env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    auto full = GetEnv(o_.env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    std::string url;
    if (relative) {
      std::string rel = *relative;
      if (rel.empty() || rel.front() != '/') rel.insert(0, "/");
      url = o_.relative_uri_host + rel;
      auto parsed = http::ParseUrl(url, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
      if (!parsed.ok()) return parsed.status();
    } else if (full) {
      DYNATRONI_RETURN_IF_ERROR(ValidateContainerCredentialsUri(*full));
      url = *full;
    } else {
      return NotFound(
          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set");
    }

    http::Request req;
    req.method = "GET";
    DYNATRONI_RETURN_IF_ERROR(req.SetUrl(
        url, relative ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" : "AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    req.headers.emplace_back("accept", "application/json");
    std::string token;
    if (auto token_file = GetEnv(o_.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
      auto t = ReadSmallFile(*token_file,
                             "container authorization token file "
                             "(AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)",
                             size_t{64} * 1024);
      if (!t.ok()) {
        Status st = t.status();
        if (st.code() == StatusCode::kNotFound) st = PermissionDenied(st.message());
        return st;
      }
      token = std::string(Trim(*t));
      WipeString(*t);
    } else if (auto env_token = GetEnv(o_.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
      token = std::string(Trim(*env_token));
      WipeString(*env_token);
    }
    if (token.find_first_of("\r\n") != std::string::npos) {
      WipeString(token);
      return InvalidArgument("the container authorization token contains a line break; it must be one line");
    }
    if (!token.empty()) req.headers.emplace_back("authorization", std::move(token));
    WipeString(token);

    std::shared_ptr<http::Transport> transport = o_.transport;
    if (!transport) {
      auto t = DefaultTransport();
      if (!t.ok()) return t.status();
      transport = *t;
    }
    const std::string what = "container credentials endpoint";
    Status last;
    for (int attempt = 0; attempt < std::max(1, o_.max_attempts); ++attempt) {
      if (attempt > 0 && deadline.Expired(clock)) break;
      auto resp = transport->Send(req, CallDeadline(deadline, clock, o_.attempt_timeout));
      if (!resp.ok()) {
        last = Status(resp.status().code() == StatusCode::kInvalidArgument ? StatusCode::kInvalidArgument
                                                                           : StatusCode::kUnavailable,
                      resp.status().message())
                   .Annotate(what);
        if (last.code() == StatusCode::kInvalidArgument) break;
        continue;
      }
      http::Response& r = *resp;
      if (r.status != 200) {
        last = HttpError(what + " " + Redact(url), r.status);
        WipeString(r.body);
        if (last.code() == StatusCode::kUnavailable) continue;
        break;
      }
      auto creds = ParseJsonCredentials(r.body, JsonCredentialFormat::kContainerOrImds, what, false);
      WipeString(r.body);
      for (auto& h : req.headers) WipeString(h.second);
      if (!creds.ok()) return creds.status();
      creds->source = "container";
      return creds;
    }
    for (auto& h : req.headers) WipeString(h.second);
    if (deadline.Expired(clock) && last.code() == StatusCode::kUnavailable) {
      return DeadlineExceeded(last.message());
    }
    return last;
  }

  [[nodiscard]] std::string name() const override { return "container"; }

 private:
  // The URL without its query string (which could carry a token).
  static std::string Redact(const std::string& url) { return url.substr(0, url.find('?')); }

  const ContainerOptions o_;
};

}  // namespace

Status ValidateContainerCredentialsUri(std::string_view uri) {
  auto url = http::ParseUrl(uri, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (!url.ok()) return url.status();
  if (url->scheme == "https") return Status::Ok();
  if (IsAllowedPlainHttpHost(url->host)) return Status::Ok();
  return InvalidArgument(
      "AWS_CONTAINER_CREDENTIALS_FULL_URI uses plain http to host " + url->host +
      ", which is not allowed: use https, or a loopback address (127.0.0.0/8, ::1, "
      "localhost), 169.254.170.2 (ECS), 169.254.170.23 or fd00:ec2::23 (EKS Pod Identity)");
}

std::shared_ptr<CredentialsProvider> MakeContainerProvider(ContainerOptions options) {
  return std::make_shared<ContainerProvider>(std::move(options));
}

}  // namespace dynatroni::aws
