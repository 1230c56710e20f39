#include "aws/providers/sts.h"

#include <chrono>
#include <utility>

#include "aws/providers/util.h"
#include "aws/sigv4.h"
#include "http/endpoint.h"

namespace dynatroni::aws {

using providers_internal::GetEnv;

Result<std::string> ResolveStsEndpoint(const std::string& explicit_url, const std::string& region,
                                       const Env& env) {
  std::string url;
  std::string field;
  if (!explicit_url.empty()) {
    url = explicit_url;
    field = "sts_endpoint";
  } else if (auto v = GetEnv(env, "AWS_ENDPOINT_URL_STS")) {
    url = *v;
    field = "AWS_ENDPOINT_URL_STS";
  } else if (auto g = GetEnv(env, "AWS_ENDPOINT_URL")) {
    url = *g;
    field = "AWS_ENDPOINT_URL";
  }
  if (!url.empty()) {
    auto parsed = http::ParseUrl(url, field);
    if (!parsed.ok()) return parsed.status();
    while (url.size() > 8 && url.back() == '/') url.pop_back();
    return url;
  }
  if (region.empty()) return std::string("https://sts.amazonaws.com");
  for (char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return InvalidArgument("region \"" + region.substr(0, 64) +
                             "\" is not a valid AWS region name (lower-case letters, digits, dashes)");
    }
  }
  std::string suffix = region.rfind("cn-", 0) == 0 ? ".amazonaws.com.cn" : ".amazonaws.com";
  return "https://sts." + region + suffix;
}

std::string StsRegion(const std::string& explicit_region, const std::string& profile_region, const Env& env) {
  if (!explicit_region.empty()) return explicit_region;
  if (auto r = GetEnv(env, "AWS_REGION")) return *r;
  if (auto d = GetEnv(env, "AWS_DEFAULT_REGION")) return *d;
  return profile_region;
}

std::string DefaultRoleSessionName(Clock& clock) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(clock.WallNow().time_since_epoch()).count();
  return "dynatroni-" + std::to_string(secs);
}

namespace providers_internal {
namespace {

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == ':';
}

struct ElementSpan {
  size_t open_begin = 0;  // '<' of the start tag
  size_t content_begin = 0;
  size_t content_end = 0;
  size_t close_end = 0;  // one past the '>' of the end tag
};

// Finds the next start tag named exactly `name` at or after `from`.
// Returns npos-like false when none; error for malformed tags.
Result<std::optional<ElementSpan>> FindElementFrom(std::string_view xml, std::string_view name, size_t from,
                                                   std::string_view what) {
  const std::string open = "<" + std::string(name);
  size_t pos = from;
  while (true) {
    size_t at = xml.find(open, pos);
    if (at == std::string_view::npos) return std::optional<ElementSpan>();
    size_t after = at + open.size();
    if (after >= xml.size()) return MalformedResponse(std::string(what) + ": truncated XML");
    char c = xml[after];
    if (IsNameChar(c)) {  // a longer name such as <AccessKeyIdX>
      pos = after;
      continue;
    }
    if (c != '>' && c != '/' && c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      return MalformedResponse(std::string(what) + ": malformed XML start tag <" + std::string(name) + ">");
    }
    size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) return MalformedResponse(std::string(what) + ": truncated XML");
    ElementSpan span;
    span.open_begin = at;
    if (xml[gt - 1] == '/') {  // <Name/>: empty element
      span.content_begin = span.content_end = gt;
      span.close_end = gt + 1;
      return std::optional<ElementSpan>(span);
    }
    span.content_begin = gt + 1;
    const std::string close = "</" + std::string(name);
    size_t cl = xml.find(close, span.content_begin);
    while (cl != std::string_view::npos) {
      size_t e = cl + close.size();
      while (e < xml.size() && (xml[e] == ' ' || xml[e] == '\t' || xml[e] == '\r' || xml[e] == '\n')) ++e;
      if (e < xml.size() && xml[e] == '>') {
        span.content_end = cl;
        span.close_end = e + 1;
        return std::optional<ElementSpan>(span);
      }
      if (e < xml.size() && IsNameChar(xml[e])) {  // </NameLonger>
        cl = xml.find(close, e);
        continue;
      }
      break;
    }
    return MalformedResponse(std::string(what) + ": XML element <" + std::string(name) + "> is not closed");
  }
}

Result<std::optional<ElementSpan>> FindUniqueElement(std::string_view xml, std::string_view name) {
  auto first = FindElementFrom(xml, name, 0, "STS response");
  if (!first.ok() || !first->has_value()) return first;
  auto second = FindElementFrom(xml, name, (*first)->close_end, "STS response");
  if (!second.ok()) return second.status();
  if (second->has_value()) {
    return MalformedResponse("STS response: XML element <" + std::string(name) + "> appears more than once");
  }
  return first;
}

Result<std::string> DecodeEntities(std::string_view s, std::string_view name) {
  std::string out;
  out.reserve(s.size());
  auto bad = [&]() {
    return MalformedResponse("STS response: bad character entity in <" + std::string(name) + ">");
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c != '&') {
      out.push_back(c);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      WipeString(out);
      return bad();
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") {
      out.push_back('&');
    } else if (ent == "lt") {
      out.push_back('<');
    } else if (ent == "gt") {
      out.push_back('>');
    } else if (ent == "quot") {
      out.push_back('"');
    } else if (ent == "apos") {
      out.push_back('\'');
    } else if (ent.size() >= 2 && ent[0] == '#') {
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string_view digits = ent.substr(hex ? 2 : 1);
      if (digits.empty()) {
        WipeString(out);
        return bad();
      }
      unsigned long v = 0;
      for (char d : digits) {
        int dv = (d >= '0' && d <= '9')          ? d - '0'
                 : (hex && d >= 'a' && d <= 'f') ? d - 'a' + 10
                 : (hex && d >= 'A' && d <= 'F') ? d - 'A' + 10
                                                 : -1;
        if (dv < 0) {
          WipeString(out);
          return bad();
        }
        v = v * (hex ? 16 : 10) + static_cast<unsigned long>(dv);
        if (v > 0x10FFFF) {
          WipeString(out);
          return bad();
        }
      }
      // UTF-8 encode.
      if (v < 0x80) {
        out.push_back(static_cast<char>(v));
      } else if (v < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (v >> 6)));
        out.push_back(static_cast<char>(0x80 | (v & 0x3F)));
      } else if (v < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (v >> 12)));
        out.push_back(static_cast<char>(0x80 | ((v >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (v & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xF0 | (v >> 18)));
        out.push_back(static_cast<char>(0x80 | ((v >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((v >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (v & 0x3F)));
      }
    } else {
      WipeString(out);
      return bad();
    }
    i = semi;
  }
  return out;
}

std::string Sanitize(std::string_view s, size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (u == '\n' || u == '\r' || u == '\t') {
      out.push_back(' ');
    } else if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    }
  }
  return std::string(Trim(out));
}

// The document's root element name (after an optional <?xml ...?> prolog).
std::string_view RootName(std::string_view xml) {
  std::string_view s = Trim(xml);
  while (s.rfind("<?", 0) == 0 || s.rfind("<!--", 0) == 0) {
    size_t end = s.rfind("<?", 0) == 0 ? s.find("?>") : s.find("-->");
    if (end == std::string_view::npos) return {};
    s = Trim(s.substr(end + (s[1] == '?' ? 2 : 3)));
  }
  if (s.empty() || s[0] != '<') return {};
  size_t i = 1;
  while (i < s.size() && IsNameChar(s[i])) ++i;
  return s.substr(1, i - 1);
}

}  // namespace

Result<std::optional<std::string_view>> XmlElementContent(std::string_view xml, std::string_view name) {
  auto span = FindUniqueElement(xml, name);
  if (!span.ok()) return span.status();
  if (!span->has_value()) return std::optional<std::string_view>();
  return std::optional<std::string_view>(
      xml.substr((*span)->content_begin, (*span)->content_end - (*span)->content_begin));
}

Result<std::optional<std::string>> XmlLeafText(std::string_view xml, std::string_view name) {
  auto content = XmlElementContent(xml, name);
  if (!content.ok()) return content.status();
  if (!content->has_value()) return std::optional<std::string>();
  std::string_view raw = **content;
  if (raw.find('<') != std::string_view::npos) {
    return MalformedResponse("STS response: XML element <" + std::string(name) + "> contains markup");
  }
  auto decoded = DecodeEntities(raw, name);
  if (!decoded.ok()) return decoded.status();
  return std::optional<std::string>(std::move(decoded).value());
}

Result<Credentials> ParseStsCredentials(std::string_view body, std::string_view action) {
  const std::string root = std::string(action) + "Response";
  if (RootName(body) != root) {
    return MalformedResponse("STS " + std::string(action) + ": response is not an <" + root +
                             "> XML document");
  }
  auto result = XmlElementContent(body, std::string(action) + "Result");
  if (!result.ok()) return result.status();
  if (!result->has_value()) {
    return MalformedResponse("STS " + std::string(action) + ": response has no <" + std::string(action) +
                             "Result> element");
  }
  auto creds_xml = XmlElementContent(**result, "Credentials");
  if (!creds_xml.ok()) return creds_xml.status();
  if (!creds_xml->has_value()) {
    return MalformedResponse("STS " + std::string(action) + ": response has no <Credentials> element");
  }
  std::string_view cx = **creds_xml;
  Credentials c;
  std::string fields[4];
  const char* names[4] = {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"};
  for (int i = 0; i < 4; ++i) {
    auto v = XmlLeafText(cx, names[i]);
    if (!v.ok()) {
      for (auto& f : fields) WipeString(f);
      return v.status();
    }
    if (!v->has_value() || Trim(**v).empty()) {
      for (auto& f : fields) WipeString(f);
      return MalformedResponse("STS " + std::string(action) + ": <Credentials> has no <" + names[i] +
                               "> value");
    }
    fields[i] = std::string(Trim(**v));
    WipeString(**v);
  }
  auto exp = ParseIso8601(fields[3], "<Expiration>");
  if (!exp.ok()) {
    for (auto& f : fields) WipeString(f);
    return MalformedResponse("STS " + std::string(action) + ": " + exp.status().message());
  }
  c.access_key_id = std::move(fields[0]);
  c.secret_access_key = SecretString(std::move(fields[1]));
  c.session_token = SecretString(std::move(fields[2]));
  c.expiration = *exp;
  return c;
}

std::optional<StsError> ParseStsError(std::string_view body) {
  if (RootName(body) != "ErrorResponse" && RootName(body) != "Error") return std::nullopt;
  auto error = XmlElementContent(body, "Error");
  if (!error.ok() || !error->has_value()) return std::nullopt;
  auto code = XmlLeafText(**error, "Code");
  if (!code.ok() || !code->has_value()) return std::nullopt;
  StsError out;
  out.code = Sanitize(**code, 100);
  auto message = XmlLeafText(**error, "Message");
  if (message.ok() && message->has_value()) out.message = Sanitize(**message, 300);
  if (out.code.empty()) return std::nullopt;
  return out;
}

Status StsFailure(std::string_view what, const http::Response& response) {
  auto err = ParseStsError(response.body);
  if (!err) {
    return HttpError(what, response.status).WithAwsError("", response.status);
  }
  std::string msg = std::string(what) + " failed: " + err->code;
  if (!err->message.empty()) msg += ": " + err->message;
  msg += " (HTTP " + std::to_string(response.status) + ")";
  const std::string& code = err->code;
  StatusCode sc;
  if (code == "Throttling" || code == "ThrottlingException" || code == "RequestLimitExceeded" ||
      code == "IDPCommunicationError" || code == "ServiceUnavailable" || code == "InternalFailure" ||
      code == "InternalError" || response.status >= 500 || response.status == 429) {
    sc = StatusCode::kUnavailable;
  } else if (code == "AccessDenied" || code == "AccessDeniedException" || code == "ExpiredToken" ||
             code == "ExpiredTokenException" || code == "InvalidIdentityToken" ||
             code == "IDPRejectedClaim" || code == "InvalidClientTokenId" ||
             code == "SignatureDoesNotMatch" || code == "MissingAuthenticationToken" ||
             code == "UnrecognizedClientException" || code == "RegionDisabledException" ||
             code == "InvalidAccessKeyId" || response.status == 401 || response.status == 403) {
    sc = StatusCode::kPermissionDenied;
  } else {
    sc = StatusCode::kInvalidArgument;
  }
  Status st(sc, std::move(msg));
  st.WithAwsError(code, response.status);
  return st;
}

Result<Credentials> CallSts(http::Transport& transport, Clock& clock, const StsCall& call, Deadline deadline,
                            std::string_view what) {
  auto url = http::ParseUrl(call.endpoint, "STS endpoint");
  if (!url.ok()) return url.status().Annotate(what);
  http::Request req;
  req.method = "POST";
  req.endpoint = http::OriginOf(*url);
  req.target = http::RequestTarget(*url);
  req.body = "Action=" + FormEncode(call.action) + "&Version=2011-06-15";
  for (const auto& [k, v] : call.params) req.body += "&" + FormEncode(k) + "=" + FormEncode(v);
  req.headers = {{"host", url->HostHeader()},
                 {"content-type", "application/x-www-form-urlencoded; charset=utf-8"},
                 {"accept", "text/xml"}};
  if (call.signing_credentials != nullptr) {
    SigningInput in;
    in.method = "POST";
    size_t q = url->path_and_query.find('?');
    in.path = url->path_and_query.substr(0, q);
    if (q != std::string::npos) in.query = url->path_and_query.substr(q + 1);
    in.headers = req.headers;
    in.payload = req.body;
    in.region = call.region.empty() ? "us-east-1" : call.region;
    in.service = "sts";
    in.time = clock.WallNow();
    auto stages = ComputeSignature(in, *call.signing_credentials);
    WipeString(in.payload);
    if (!stages.ok()) {
      WipeString(req.body);
      return stages.status().Annotate(what);
    }
    for (auto& h : stages->headers_to_add) req.headers.push_back(h);
    for (auto& h : stages->headers_to_add) WipeString(h.second);
  }
  auto resp = transport.Send(req, deadline);
  WipeString(req.body);
  for (auto& h : req.headers) WipeString(h.second);
  if (!resp.ok()) {
    Status st = resp.status();
    if (st.code() == StatusCode::kUnknownOutcome) st = Status(StatusCode::kUnavailable, st.message());
    if (deadline.Expired(clock) && st.code() == StatusCode::kUnavailable) {
      st = Status(StatusCode::kDeadlineExceeded, st.message());
    }
    return st.Annotate(what);
  }
  http::Response& r = *resp;
  if (r.status < 200 || r.status > 299) {
    Status st = StsFailure(what, r);
    WipeString(r.body);
    return st;
  }
  auto creds = ParseStsCredentials(r.body, call.action);
  WipeString(r.body);
  if (!creds.ok()) return creds.status().Annotate(what);
  return creds;
}

}  // namespace providers_internal
}  // namespace dynatroni::aws
