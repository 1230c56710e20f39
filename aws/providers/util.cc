#include "aws/providers/util.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include "http/curl_transport.h"

namespace dynatroni::aws::providers_internal {

std::optional<std::string> GetEnv(const Env& env, const char* name) { return EnvValue(env, name); }

bool EnvIsTrue(const Env& env, const char* name) {
  auto v = GetEnv(env, name);
  return v && ToLower(Trim(*v)) == "true";
}

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\r\n\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

namespace {

bool ReadDigits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  pos += n;
  return true;
}

bool Expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

Result<WallTime> ParseIso8601(std::string_view input, std::string_view field) {
  using std::chrono::day;
  using std::chrono::duration_cast;
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::month;
  using std::chrono::nanoseconds;
  using std::chrono::seconds;
  using std::chrono::sys_days;
  using std::chrono::year;
  using std::chrono::year_month_day;
  std::string_view s = Trim(input);
  auto bad = [&]() {
    return InvalidArgument(std::string(field) +
                           " is not an ISO-8601 timestamp with a zone, like 1999-12-31T23:59:59Z");
  };
  size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!ReadDigits(s, pos, 4, y) || !Expect(s, pos, '-') || !ReadDigits(s, pos, 2, mo) ||
      !Expect(s, pos, '-') || !ReadDigits(s, pos, 2, d)) {
    return bad();
  }
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return bad();
  ++pos;
  if (!ReadDigits(s, pos, 2, h) || !Expect(s, pos, ':') || !ReadDigits(s, pos, 2, mi) ||
      !Expect(s, pos, ':') || !ReadDigits(s, pos, 2, sec)) {
    return bad();
  }
  nanoseconds frac{0};
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    size_t start = pos;
    int64_t scale = 100000000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += nanoseconds(static_cast<int64_t>(s[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad();
  }
  minutes offset{0};
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!ReadDigits(s, pos, 2, oh)) return bad();
    if (pos < s.size() && s[pos] == ':') ++pos;
    if (!ReadDigits(s, pos, 2, om)) return bad();
    if (oh > 23 || om > 59) return bad();
    offset = minutes(sign * (oh * 60 + om));
  } else {
    return bad();  // a timestamp without a zone is ambiguous
  }
  if (pos != s.size()) return bad();
  if (h > 23 || mi > 59 || sec > 60) return bad();
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return bad();
  auto tp = sys_days{ymd} + hours(h) + minutes(mi) + seconds(sec) + frac - offset;
  return WallTime(duration_cast<WallTime::duration>(tp.time_since_epoch()));
}

std::string FormatIso8601(WallTime t) {
  using std::chrono::floor;
  using std::chrono::hh_mm_ss;
  using std::chrono::seconds;
  using std::chrono::year_month_day;
  auto secs = floor<seconds>(t);
  auto day_start = floor<std::chrono::days>(secs);
  year_month_day ymd(day_start);
  hh_mm_ss<seconds> hms(secs - day_start);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::string FormEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

void WipeString(std::string& s) {
  s.resize(s.capacity());
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

Result<std::string> ReadSmallFile(const std::string& path, std::string_view what, size_t max_bytes) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    int err = errno;
    std::string msg = std::string(what) + " " + path + ": " + std::strerror(err);
    if (err == ENOENT || err == ENOTDIR) return NotFound(msg);
    if (err == EACCES || err == EPERM) return PermissionDenied(msg);
    return InvalidArgument(msg);
  }
  std::string out;
  char buf[4096];
  size_t n = 0;
  bool too_big = false;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    if (out.size() + n > max_bytes) {
      too_big = true;
      break;
    }
    out.append(buf, n);
  }
  bool read_error = std::ferror(f) != 0;
  std::fclose(f);
  OPENSSL_cleanse(buf, sizeof(buf));
  if (too_big) {
    WipeString(out);
    return InvalidArgument(std::string(what) + " " + path + " is larger than " + std::to_string(max_bytes) +
                           " bytes");
  }
  if (read_error) {
    WipeString(out);
    return InvalidArgument(std::string(what) + " " + path + ": read error");
  }
  return out;
}

Status HttpError(std::string_view what, int http_status, std::string_view detail) {
  std::string msg = std::string(what) + " returned HTTP " + std::to_string(http_status);
  if (!detail.empty()) msg += ": " + std::string(detail);
  Status st;
  if (http_status == 401 || http_status == 403) {
    st = PermissionDenied(std::move(msg));
  } else if (http_status == 429 || http_status >= 500) {
    st = Unavailable(std::move(msg));
  } else {
    st = InvalidArgument(std::move(msg));
  }
  return st;
}

namespace {

// Moves a string member out of `j` (so the only copy of a secret is the one
// we wipe later). Returns false when absent or not a string.
bool TakeString(nlohmann::json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return false;
  out = std::move(it->get_ref<std::string&>());
  return true;
}

void WipeJson(nlohmann::json& j) {
  if (j.is_string()) {
    WipeString(j.get_ref<std::string&>());
  } else if (j.is_object() || j.is_array()) {
    for (auto& v : j) WipeJson(v);
  }
}

}  // namespace

Result<Credentials> ParseJsonCredentials(std::string_view body, JsonCredentialFormat format,
                                         std::string_view what, bool require_token) {
  const std::string prefix(what);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body.begin(), body.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() may quote bytes of the body: never use it.
    return MalformedResponse(prefix + ": response is not valid JSON (error at byte " +
                             std::to_string(e.byte) + ")");
  } catch (const std::exception&) {
    return MalformedResponse(prefix + ": response is not valid JSON");
  }
  struct Wiper {
    nlohmann::json& j;
    ~Wiper() {
      try {
        WipeJson(j);
      } catch (...) {  // cannot happen (types are checked); a destructor must not throw
      }
    }
  } wiper{j};
  if (!j.is_object()) return MalformedResponse(prefix + ": response is not a JSON object");

  if (format == JsonCredentialFormat::kCredentialProcess) {
    auto v = j.find("Version");
    if (v == j.end() || !v->is_number_integer()) {
      return MalformedResponse(prefix + ": output has no integer \"Version\" field (must be 1)");
    }
    if (v->get<int64_t>() != 1) {
      return MalformedResponse(prefix + ": unsupported output \"Version\" " +
                               std::to_string(v->get<int64_t>()) + " (only 1 is supported)");
    }
  }
  if (format == JsonCredentialFormat::kContainerOrImds) {
    // IMDS (and some container agents) report failures as {"Code": "...", "Message": "..."}.
    auto code = j.find("Code");
    if (code != j.end() && code->is_string() && code->get_ref<const std::string&>() != "Success") {
      std::string shown;
      for (char ch : code->get_ref<const std::string&>()) {
        if (shown.size() >= 64) break;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
            ch == '-' || ch == '.') {
          shown.push_back(ch);
        }
      }
      return Unavailable(prefix + ": the endpoint reported Code \"" + shown + "\" instead of \"Success\"");
    }
  }
  Credentials c;
  std::string secret;
  std::string token;
  if (!TakeString(j, "AccessKeyId", c.access_key_id) || c.access_key_id.empty()) {
    return MalformedResponse(prefix + ": response has no string \"AccessKeyId\"");
  }
  if (!TakeString(j, "SecretAccessKey", secret) || secret.empty()) {
    return MalformedResponse(prefix + ": response has no string \"SecretAccessKey\"");
  }
  c.secret_access_key = SecretString(std::move(secret));
  const char* token_field = format == JsonCredentialFormat::kCredentialProcess ? "SessionToken" : "Token";
  if (j.contains(token_field) && !j[token_field].is_null() && !TakeString(j, token_field, token)) {
    return MalformedResponse(prefix + ": \"" + token_field + "\" is not a string");
  }
  if (require_token && token.empty()) {
    return MalformedResponse(prefix + ": response has no string \"" + token_field + "\"");
  }
  c.session_token = SecretString(std::move(token));
  auto exp = j.find("Expiration");
  if (exp != j.end() && !exp->is_null()) {
    if (!exp->is_string()) return MalformedResponse(prefix + ": \"Expiration\" is not a string");
    auto t = ParseIso8601(exp->get_ref<const std::string&>(), "\"Expiration\"");
    if (!t.ok()) return MalformedResponse(prefix + ": " + t.status().message());
    c.expiration = *t;
  } else if (require_token) {
    return MalformedResponse(prefix + ": response has no \"Expiration\"");
  }
  return c;
}

Deadline CallDeadline(Deadline deadline, Clock& clock, Duration per_call) {
  return deadline.Min(Deadline::After(clock, per_call));
}

Result<std::shared_ptr<http::Transport>> DefaultTransport() {
  // Leaked on purpose: background refresh threads may still use it while
  // static destructors run at exit.
  static std::mutex* mu = new std::mutex;
  static auto* instance = new std::shared_ptr<http::Transport>;
  std::lock_guard<std::mutex> lock(*mu);
  if (*instance) return *instance;
  auto t = http::CurlTransport::Create(http::CurlOptions{});
  if (!t.ok()) return t.status().Annotate("creating the HTTP transport for credential providers");
  *instance = std::shared_ptr<http::Transport>(std::move(t).value());
  return *instance;
}

}  // namespace dynatroni::aws::providers_internal
