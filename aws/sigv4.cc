#include "aws/sigv4.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <utility>
#include <vector>

#include <openssl/crypto.h>

#include "aws/crypto.h"

namespace dynatroni::aws {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ToLower);
  return out;
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

// RFC 3986 percent-encoding of everything but unreserved characters (and '/'
// when `keep_slash`), with upper-case hex as SigV4 requires.
std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = ToLower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes %XX escapes; a '%' not followed by two hex digits is kept literally.
// '+' stays '+' (SigV4 does not treat it as a space).
std::string UriDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = 0;
    int lo = 0;
    if (s[i] == '%' && i + 2 < s.size() && (hi = HexValue(s[i + 1])) >= 0 && (lo = HexValue(s[i + 2])) >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Removes empty, "." and ".." segments; keeps a trailing slash.
std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(pos, end - pos);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    pos = end + 1;
  }
  std::string out = "/";
  for (size_t i = 0; i < segments.size(); ++i) {
    out += segments[i];
    if (i + 1 < segments.size() || path.back() == '/') out += '/';
  }
  return out;
}

std::string CanonicalUri(std::string_view path, bool normalize) {
  if (path.empty()) return "/";
  return UriEncode(normalize ? NormalizePath(path) : std::string(path), /*keep_slash=*/true);
}

using Params = std::vector<std::pair<std::string, std::string>>;  // encoded name, encoded value

Params ParseQuery(std::string_view query) {
  Params params;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t end = query.find('&', pos);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(pos, end - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view name = pair.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      params.emplace_back(UriEncode(UriDecode(name), false), UriEncode(UriDecode(value), false));
    }
    pos = end + 1;
  }
  return params;
}

std::string JoinParams(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

// Trims and collapses runs of whitespace to one space ("Trimall").
std::string TrimAll(std::string_view v) {
  std::string out;
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = !out.empty();
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      out += c;
    }
  }
  return out;
}

bool IsSkippedHeader(const std::string& lower_name) {
  return lower_name == "user-agent" || lower_name == "x-amzn-trace-id" || lower_name == "connection" ||
         lower_name == "upgrade" || lower_name.rfind("sec-websocket-", 0) == 0;
}

std::string CredentialScope(std::string_view date, const SigningInput& in) {
  return std::string(date) + "/" + in.region + "/" + in.service + "/aws4_request";
}

// The whole algorithm. `signing_key` is the derived key, or nullptr to derive it here.
Result<SigningStages> Sign(const SigningInput& in, const Credentials& creds, const std::string* signing_key) {
  if (creds.access_key_id.empty()) return InvalidArgument("SigV4: credentials have an empty access_key_id");
  if (creds.secret_access_key.empty()) {
    return InvalidArgument("SigV4: credentials have an empty secret_access_key");
  }
  if (in.region.empty()) return InvalidArgument("SigV4: region is empty; set the AWS region");
  if (in.service.empty()) return InvalidArgument("SigV4: service is empty");
  const bool query_form = in.location == SignatureLocation::kQuery;
  if (query_form && (in.expires_in < 1s || in.expires_in > std::chrono::hours(24 * 7))) {
    return InvalidArgument("SigV4: expires_in must be between 1 second and 7 days");
  }

  SigningStages st;
  st.amz_date = FormatAmzDate(in.time);
  const std::string date = st.amz_date.substr(0, 8);
  const std::string scope = CredentialScope(date, in);
  const std::string payload_hash = crypto::Sha256Hex(in.payload);
  const std::string& token = creds.session_token.reveal();

  // Canonical headers: lower-cased names, sorted; repeated names joined in order.
  std::map<std::string, std::string> canonical;
  auto add = [&canonical](const std::string& lower_name, std::string_view value) {
    auto [it, inserted] = canonical.try_emplace(lower_name, TrimAll(value));
    if (!inserted) it->second += "," + TrimAll(value);
  };
  for (const auto& [name, value] : in.headers) {
    std::string lower = Lower(name);
    if (lower == "authorization") {
      return InvalidArgument("SigV4: the request already has an Authorization header; sign it only once");
    }
    if (lower == "x-amz-date" && !query_form && TrimAll(value) != st.amz_date) {
      return InvalidArgument("SigV4: the x-amz-date header (" + value + ") differs from the signing time " +
                             st.amz_date + "; leave it out and let the signer add it");
    }
    if (!IsSkippedHeader(lower)) add(lower, value);
  }
  if (!canonical.contains("host")) return InvalidArgument("SigV4: the request has no host header");

  if (!query_form) {
    if (!token.empty() && !canonical.contains("x-amz-security-token")) {
      st.headers_to_add.emplace_back("X-Amz-Security-Token", token);
      if (!in.omit_session_token) add("x-amz-security-token", token);
    }
    if (!canonical.contains("x-amz-date")) {
      st.headers_to_add.emplace_back("X-Amz-Date", st.amz_date);
      add("x-amz-date", st.amz_date);
    }
    if (in.add_content_sha256_header && !canonical.contains("x-amz-content-sha256")) {
      st.headers_to_add.emplace_back("x-amz-content-sha256", payload_hash);
      add("x-amz-content-sha256", payload_hash);
    }
  }
  std::string header_block;
  for (const auto& [name, value] : canonical) {
    header_block.append(name).append(":").append(value).append("\n");
    if (!st.signed_headers.empty()) st.signed_headers += ';';
    st.signed_headers += name;
  }

  // Canonical query: the request's parameters, plus the X-Amz-* ones for kQuery.
  Params params = ParseQuery(in.query);
  Params auth_params;  // in the order they are appended to the URL
  if (query_form) {
    auth_params = {{"X-Amz-Algorithm", std::string(kAlgorithm)},
                   {"X-Amz-Credential", UriEncode(creds.access_key_id + "/" + scope, false)},
                   {"X-Amz-Date", st.amz_date},
                   {"X-Amz-SignedHeaders", UriEncode(st.signed_headers, false)},
                   {"X-Amz-Expires", std::to_string(in.expires_in.count())}};
    params.insert(params.end(), auth_params.begin(), auth_params.end());
    if (!token.empty()) {
      // Before X-Amz-Signature in the URL whether signed or not (the order of the aws-c-auth suite);
      // signed unless omit_session_token.
      auth_params.emplace_back("X-Amz-Security-Token", UriEncode(token, false));
      if (!in.omit_session_token) params.push_back(auth_params.back());
    }
  }
  std::sort(params.begin(), params.end());

  st.canonical_request = in.method + "\n" + CanonicalUri(in.path, in.normalize_path) + "\n" +
                         JoinParams(params) + "\n" + header_block + "\n" + st.signed_headers + "\n" +
                         payload_hash;
  st.string_to_sign = std::string(kAlgorithm) + "\n" + st.amz_date + "\n" + scope + "\n" +
                      crypto::Sha256Hex(st.canonical_request);

  SecretString derived;
  if (signing_key == nullptr) {
    derived = SecretString(DeriveSigningKey(creds.secret_access_key.reveal(), date, in.region, in.service));
    signing_key = &derived.reveal();
  }
  st.signature = crypto::HexLower(crypto::HmacSha256(*signing_key, st.string_to_sign));

  if (query_form) {
    auth_params.emplace_back("X-Amz-Signature", st.signature);
    st.query = in.query.empty() ? JoinParams(auth_params) : in.query + "&" + JoinParams(auth_params);
  } else {
    st.authorization = std::string(kAlgorithm) + " Credential=" + creds.access_key_id + "/" + scope +
                       ", SignedHeaders=" + st.signed_headers + ", Signature=" + st.signature;
    st.headers_to_add.emplace_back("Authorization", st.authorization);
    st.query = in.query;
  }
  return st;
}

}  // namespace

std::string CanonicalHeaderValue(std::string_view value) { return TrimAll(value); }

Result<SigningStages> ComputeSignature(const SigningInput& input, const Credentials& creds) {
  return Sign(input, creds, nullptr);
}

std::string FormatAmzDate(WallTime t) {
  auto secs = std::chrono::floor<std::chrono::seconds>(t);
  auto days = std::chrono::floor<std::chrono::days>(secs);
  std::chrono::year_month_day ymd{days};
  std::chrono::hh_mm_ss hms{secs - days};
  const int year = static_cast<int>(ymd.year());
  if (year >= 0 && year <= 9999) {  // every WallTime; snprintf below is the general case
    char out[16];
    auto put2 = [](char* at, unsigned v) {
      at[0] = static_cast<char>('0' + v / 10);
      at[1] = static_cast<char>('0' + v % 10);
    };
    put2(out, static_cast<unsigned>(year / 100));
    put2(out + 2, static_cast<unsigned>(year % 100));
    put2(out + 4, static_cast<unsigned>(ymd.month()));
    put2(out + 6, static_cast<unsigned>(ymd.day()));
    out[8] = 'T';
    put2(out + 9, static_cast<unsigned>(hms.hours().count()));
    put2(out + 11, static_cast<unsigned>(hms.minutes().count()));
    put2(out + 13, static_cast<unsigned>(hms.seconds().count()));
    out[15] = 'Z';
    return std::string(out, sizeof(out));
  }
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf.data();
}

std::string DeriveSigningKey(std::string_view secret, std::string_view date_yyyymmdd, std::string_view region,
                             std::string_view service) {
  SecretString k_secret("AWS4" + std::string(secret));
  SecretString k_date(crypto::HmacSha256(k_secret.reveal(), date_yyyymmdd));
  SecretString k_region(crypto::HmacSha256(k_date.reveal(), region));
  SecretString k_service(crypto::HmacSha256(k_region.reveal(), service));
  return crypto::HmacSha256(k_service.reveal(), "aws4_request");
}

// ---- Clock skew and HTTP dates ---------------------------------------------

WallTime ClockSkew::Adjust(WallTime local_now) const {
  std::lock_guard lock(mu_);
  return std::chrono::time_point_cast<WallTime::duration>(local_now + offset_);
}

bool ClockSkew::UpdateFromServerDate(std::string_view http_date, WallTime local_now) {
  Result<WallTime> server = ParseHttpDate(http_date);
  if (!server.ok()) return false;
  Duration measured = *server - local_now;
  std::lock_guard lock(mu_);
  Duration change = measured - offset_;
  if (change <= kMinCorrection && change >= -kMinCorrection) return false;
  offset_ = measured;
  return true;
}

Duration ClockSkew::offset() const {
  std::lock_guard lock(mu_);
  return offset_;
}

namespace {

// A tiny cursor for the fixed HTTP date grammars.
class DateCursor {
 public:
  explicit DateCursor(std::string_view s) : s_(s) {}
  bool Char(char c) {
    if (s_.empty() || s_.front() != c) return false;
    s_.remove_prefix(1);
    return true;
  }
  bool Spaces() {  // one or more
    size_t n = s_.find_first_not_of(' ');
    n = n == std::string_view::npos ? s_.size() : n;
    s_.remove_prefix(n);
    return n > 0;
  }
  bool Word(std::string_view* out) {  // one or more letters
    size_t n = 0;
    while (n < s_.size() && ((s_[n] >= 'A' && s_[n] <= 'Z') || (s_[n] >= 'a' && s_[n] <= 'z'))) ++n;
    *out = s_.substr(0, n);
    s_.remove_prefix(n);
    return n > 0;
  }
  bool Int(size_t min_digits, size_t max_digits, int* out) {
    size_t n = 0;
    int v = 0;
    while (n < max_digits && n < s_.size() && s_[n] >= '0' && s_[n] <= '9') v = v * 10 + (s_[n++] - '0');
    if (n < min_digits) return false;
    s_.remove_prefix(n);
    *out = v;
    return true;
  }
  bool Month(int* out) {
    static constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
    std::string_view w;
    if (!Word(&w)) return false;
    auto it = std::find(kMonths.begin(), kMonths.end(), Lower(w));
    if (it == kMonths.end()) return false;
    *out = static_cast<int>(it - kMonths.begin()) + 1;
    return true;
  }
  bool Time(int* h, int* m, int* s) {
    return Int(2, 2, h) && Char(':') && Int(2, 2, m) && Char(':') && Int(2, 2, s);
  }
  bool Zone() {
    std::string_view z;
    return Word(&z) && (z == "GMT" || z == "UTC");
  }
  bool AtEnd() {
    Spaces();
    return s_.empty();
  }

 private:
  std::string_view s_;
};

}  // namespace

Result<WallTime> ParseHttpDate(std::string_view s) {
  int day = 0, month = 0, year = 0, h = 0, m = 0, sec = 0;
  std::string_view weekday;
  DateCursor c(s);
  c.Spaces();
  bool ok = c.Word(&weekday);
  if (ok && c.Char(',')) {
    c.Spaces();
    if (!c.Int(1, 2, &day)) {
      ok = false;
    } else if (c.Char('-')) {  // RFC 850: 21-Oct-15
      ok = c.Month(&month) && c.Char('-') && c.Int(2, 2, &year);
      year += year < 70 ? 2000 : 1900;
    } else {  // RFC 1123: 21 Oct 2015
      ok = c.Spaces() && c.Month(&month) && c.Spaces() && c.Int(4, 4, &year);
    }
    ok = ok && c.Spaces() && c.Time(&h, &m, &sec) && c.Spaces() && c.Zone() && c.AtEnd();
  } else if (ok) {  // asctime: Wed Oct 21 07:28:00 2015
    ok = c.Spaces() && c.Month(&month) && c.Spaces() && c.Int(1, 2, &day) && c.Spaces() &&
         c.Time(&h, &m, &sec) && c.Spaces() && c.Int(4, 4, &year) && c.AtEnd();
  }
  std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                  std::chrono::day(static_cast<unsigned>(day))};
  // Years outside 1970..2199 are refused: WallTime counts nanoseconds in an
  // int64, which overflows after 2262 (fuzz/fuzz_sigv4 found year 4030 doing so).
  if (!ok || !ymd.ok() || year < 1970 || year > 2199 || h > 23 || m > 59 || sec > 60) {
    return InvalidArgument("not an HTTP date (expected e.g. \"Wed, 21 Oct 2015 07:28:00 GMT\"): \"" +
                           std::string(s.substr(0, 64)) + "\"");
  }
  return WallTime(std::chrono::sys_days{ymd}) + std::chrono::hours(h) + std::chrono::minutes(m) +
         std::chrono::seconds(sec);
}

// ---- Signer ------------------------------------------------------------------

Signer::Signer(std::string region, std::string service)
    : region_(std::move(region)), service_(std::move(service)) {}

uint64_t Signer::signing_key_derivations() const {
  std::lock_guard lock(mu_);
  return derivations_;
}

std::string Signer::CachedSigningKey(const Credentials& creds, const std::string& date) {
  const std::string& secret = creds.secret_access_key.reveal();
  // The cache remembers a hash of the secret, never a second copy of it.
  const SecretString secret_hash(crypto::Sha256(secret));
  std::lock_guard lock(mu_);
  // Region and service are fixed per Signer; the key changes with the date and the credentials.
  const bool hit =
      !cache_key_.empty() && date == cache_date_ && creds.access_key_id == cache_access_key_id_ &&
      CRYPTO_memcmp(secret_hash.reveal().data(), cache_secret_hash_.reveal().data(), crypto::kSha256Size) ==
          0;
  if (!hit) {
    cache_key_ = SecretString(DeriveSigningKey(secret, date, region_, service_));
    cache_date_ = date;
    cache_access_key_id_ = creds.access_key_id;
    cache_secret_hash_ = secret_hash;
    ++derivations_;
  }
  return cache_key_.reveal();
}

Result<SigningStages> Signer::Sign(const SigningInput& input, const Credentials& creds) {
  if (input.region != region_ || input.service != service_ || region_.empty() || service_.empty() ||
      creds.access_key_id.empty() || creds.secret_access_key.empty()) {
    return aws::Sign(input, creds, nullptr);  // derives the key (or reports what is missing)
  }
  SecretString key(CachedSigningKey(creds, FormatAmzDate(input.time).substr(0, 8)));
  return aws::Sign(input, creds, &key.reveal());
}

std::string Signer::AuthorizeCanonicalRequest(std::string_view canonical_request,
                                              std::string_view signed_headers, std::string_view amz_date,
                                              const Credentials& creds) {
  const std::string_view date = amz_date.substr(0, 8);
  std::string scope;
  scope.reserve(64);
  scope.append(date).append("/").append(region_).append("/").append(service_).append("/aws4_request");
  std::string string_to_sign;
  string_to_sign.reserve(128 + scope.size());
  string_to_sign.append(kAlgorithm)
      .append("\n")
      .append(amz_date)
      .append("\n")
      .append(scope)
      .append("\n")
      .append(crypto::Sha256Hex(canonical_request));
  SecretString key(CachedSigningKey(creds, std::string(date)));
  const std::string signature = crypto::HexLower(crypto::HmacSha256(key.reveal(), string_to_sign));

  std::string authorization;
  authorization.reserve(kAlgorithm.size() + creds.access_key_id.size() + scope.size() +
                        signed_headers.size() + signature.size() + 48);
  authorization.append(kAlgorithm)
      .append(" Credential=")
      .append(creds.access_key_id)
      .append("/")
      .append(scope)
      .append(", SignedHeaders=")
      .append(signed_headers)
      .append(", Signature=")
      .append(signature);
  return authorization;
}

}  // namespace dynatroni::aws
