#include "aws/providers/testing_support.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <utility>

#include "aws/providers/util.h"
#include "aws/sigv4.h"
#include "http/curl_transport.h"

namespace dynatroni::aws::testing {

namespace {

const char* const kAwsVariables[] = {"AWS_ACCESS_KEY_ID",
                                     "AWS_SECRET_ACCESS_KEY",
                                     "AWS_SESSION_TOKEN",
                                     "AWS_PROFILE",
                                     "AWS_DEFAULT_PROFILE",
                                     "AWS_SHARED_CREDENTIALS_FILE",
                                     "AWS_CONFIG_FILE",
                                     "AWS_REGION",
                                     "AWS_DEFAULT_REGION",
                                     "AWS_ENDPOINT_URL",
                                     "AWS_ENDPOINT_URL_STS",
                                     "AWS_WEB_IDENTITY_TOKEN_FILE",
                                     "AWS_ROLE_ARN",
                                     "AWS_ROLE_SESSION_NAME",
                                     "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                     "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                     "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                     "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                     "AWS_EC2_METADATA_DISABLED",
                                     "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                     "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                                     "AWS_EC2_METADATA_V1_DISABLED",
                                     "http_proxy",
                                     "HTTP_PROXY",
                                     "https_proxy",
                                     "HTTPS_PROXY",
                                     "all_proxy",
                                     "ALL_PROXY",
                                     "no_proxy",
                                     "NO_PROXY",
                                     "HOME"};

}  // namespace

ScopedAwsEnv::ScopedAwsEnv() {
  for (const char* v : kAwsVariables) Unset(v);
  std::string tmpl = (std::filesystem::temp_directory_path() / "dynatroni-creds-XXXXXX").string();
  char* dir = ::mkdtemp(tmpl.data());
  if (dir == nullptr) std::abort();
  home_ = dir;
  Set("HOME", home_);
  Set("no_proxy", "*");
  Set("AWS_EC2_METADATA_DISABLED", "true");
}

ScopedAwsEnv::~ScopedAwsEnv() {
  for (const auto& [name, value] : saved_) {
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(home_, ec);
}

void ScopedAwsEnv::Remember(const std::string& name) {
  if (saved_.contains(name)) return;
  const char* v = std::getenv(name.c_str());
  saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
}

ScopedAwsEnv& ScopedAwsEnv::Set(const std::string& name, const std::string& value) {
  Remember(name);
  ::setenv(name.c_str(), value.c_str(), 1);
  return *this;
}

ScopedAwsEnv& ScopedAwsEnv::Unset(const std::string& name) {
  Remember(name);
  ::unsetenv(name.c_str());
  return *this;
}

std::string ScopedAwsEnv::WriteFile(const std::string& relative, const std::string& contents) {
  std::filesystem::path p = std::filesystem::path(home_) / relative;
  std::filesystem::create_directories(p.parent_path());
  // Write to a temporary name and rename, as Kubernetes rotates projected files.
  std::filesystem::path tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << contents;
  }
  std::filesystem::rename(tmp, p);
  return p.string();
}

Result<http::Response> ClockBridgeTransport::Send(const http::Request& request, Deadline deadline) {
  if (deadline.infinite()) return inner_->Send(request, deadline);
  Duration left = deadline.Remaining(*clock_);
  return inner_->Send(request, Deadline::After(*SystemClock::Instance(), left));
}

std::shared_ptr<http::Transport> RealTransport() {
  auto t = http::CurlTransport::Create(http::CurlOptions{});
  if (!t.ok()) {
    std::fprintf(stderr, "CurlTransport::Create failed: %s\n", t.status().ToString().c_str());
    std::abort();
  }
  return std::shared_ptr<http::Transport>(std::move(t).value());
}

std::string StsCredentialsXml(const std::string& action, const std::string& access_key_id,
                              const std::string& secret, const std::string& token,
                              const std::string& expiration_iso8601) {
  return "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <" + action +
         "Result>\n    <AssumedRoleUser>\n      <Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>\n"
         "      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:s</AssumedRoleId>\n    </AssumedRoleUser>\n"
         "    <Credentials>\n      <AccessKeyId>" +
         access_key_id + "</AccessKeyId>\n      <SecretAccessKey>" + secret +
         "</SecretAccessKey>\n      <SessionToken>" + token + "</SessionToken>\n      <Expiration>" +
         expiration_iso8601 + "</Expiration>\n    </Credentials>\n  </" + action +
         "Result>\n  <ResponseMetadata>\n    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
         "  </ResponseMetadata>\n</" +
         action + "Response>\n";
}

std::string StsErrorXml(const std::string& code, const std::string& message) {
  return "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    "
         "<Type>Sender</Type>\n"
         "    <Code>" +
         code + "</Code>\n    <Message>" + message +
         "</Message>\n  </Error>\n  <RequestId>0d9e4a3c-0000-0000-0000-000000000000</RequestId>\n"
         "</ErrorResponse>\n";
}

std::map<std::string, std::string> ParseForm(const std::string& body) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
      } else if (s[i] == '+') {
        out.push_back(' ');
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  };
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    std::string_view pair(body.data() + pos, (amp == std::string::npos ? body.size() : amp) - pos);
    size_t eq = pair.find('=');
    if (!pair.empty()) {
      out[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

std::string VerifySigV4(const http::testing::ReceivedRequest& request, const Credentials& creds) {
  const std::string auth(request.Header("authorization"));
  if (auth.empty()) return "no authorization header";
  auto field = [&](const std::string& name) {
    size_t p = auth.find(name + "=");
    if (p == std::string::npos) return std::string();
    p += name.size() + 1;
    size_t e = auth.find(',', p);
    return auth.substr(p, e == std::string::npos ? std::string::npos : e - p);
  };
  const std::string credential = field("Credential");  // AKID/date/region/service/aws4_request
  const std::string signed_headers = field("SignedHeaders");
  std::vector<std::string> scope;
  for (size_t p = 0;;) {
    size_t s = credential.find('/', p);
    scope.push_back(credential.substr(p, s == std::string::npos ? std::string::npos : s - p));
    if (s == std::string::npos) break;
    p = s + 1;
  }
  if (scope.size() != 5) return "bad credential scope: " + credential;
  if (scope[0] != creds.access_key_id) return "signed with key " + scope[0];
  const std::string amz_date(request.Header("x-amz-date"));
  if (amz_date.size() != 16) return "bad x-amz-date";
  std::string iso = amz_date.substr(0, 4) + "-" + amz_date.substr(4, 2) + "-" + amz_date.substr(6, 2) + "T" +
                    amz_date.substr(9, 2) + ":" + amz_date.substr(11, 2) + ":" + amz_date.substr(13, 2) + "Z";
  auto when = providers_internal::ParseIso8601(iso, "x-amz-date");
  if (!when.ok()) return "bad x-amz-date";
  SigningInput in;
  in.method = request.method;
  size_t q = request.target.find('?');
  in.path = request.target.substr(0, q);
  if (q != std::string::npos) in.query = request.target.substr(q + 1);
  std::string names = signed_headers + ";";
  for (size_t p = 0; p < names.size();) {
    size_t s = names.find(';', p);
    std::string name = names.substr(p, s - p);
    in.headers.emplace_back(name, std::string(request.Header(name)));
    p = s + 1;
  }
  in.payload = request.body;
  in.region = scope[2];
  in.service = scope[3];
  in.time = *when;
  auto stages = ComputeSignature(in, creds);
  if (!stages.ok()) return stages.status().ToString();
  std::string expected;
  for (const auto& [n, v] : stages->headers_to_add) {
    if (n == "Authorization" || n == "authorization") expected = v;
  }
  if (expected.empty()) expected = stages->authorization;
  if (expected != auth) return "signature mismatch";
  return "";
}

std::string IsoIn(std::chrono::seconds d, WallTime now) { return providers_internal::FormatIso8601(now + d); }

}  // namespace dynatroni::aws::testing
