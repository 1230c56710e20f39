#include "http/curl_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <new>
#include <string_view>
#include <utility>

#include <curl/curl.h>

#include "core/env.h"
#include "http/ascii.h"
#include "http/ca_bundle.h"
#include "http/http1.h"

namespace dynatroni::http {
namespace {

std::once_flag g_curl_init_once;
CURLcode g_curl_init_result = CURLE_OK;

bool HasControlChars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// RFC 9110 token characters (method and header names).
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kExtra.find(c) != std::string_view::npos;
  });
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Concatenates message parts with one allocation.
std::string Join(std::initializer_list<std::string_view> parts) {
  size_t size = 0;
  for (std::string_view part : parts) size += part.size();
  std::string out;
  out.reserve(size);
  for (std::string_view part : parts) out.append(part);
  return out;
}

// The request's endpoint (parsed once by whoever built the request, never
// parsed again here) and target. Error messages use the host, HostPort() and
// the path: never the user info or the query string (a presigned URL could
// carry a signature).
struct UrlParts {
  const Endpoint& endpoint;
  std::string_view target;  // "/path[?query]"

  // The port, the scheme's default filled in.
  [[nodiscard]] std::string Port() const {
    return std::to_string(endpoint.port != 0 ? endpoint.port : (endpoint.scheme == "https" ? 443 : 80));
  }
  // "host:port" (IPv6 hosts bracketed).
  [[nodiscard]] std::string HostPort() const { return Join({endpoint.host, ":", Port()}); }
  // "METHOD scheme://host:port/path: " (no query), the prefix of every message.
  [[nodiscard]] std::string Context(std::string_view method) const {
    return Join({method, " ", endpoint.scheme, "://", endpoint.host, ":", Port(),
                 target.substr(0, target.find('?')), ": "});
  }
};

// Refuses a request the endpoint parsers could not have produced: the
// transport trusts the parsed parts and builds the wire request from them.
Status CheckTarget(const Request& request) {
  const Endpoint& e = request.endpoint;
  if (e.scheme != "http" && e.scheme != "https") {
    return InvalidArgument("url must start with http:// or https://" +
                           (e.scheme.empty() ? std::string(" (the request has no endpoint)")
                                             : " (got " + e.scheme.substr(0, 16) + "://)"));
  }
  if (e.host.empty()) return InvalidArgument("url has no host; use scheme://host[:port]/path");
  if (HasControlChars(request.target)) return InvalidArgument("url contains CR, LF or NUL characters");
  if (request.target.empty() || request.target.front() != '/' ||
      std::any_of(request.target.begin(), request.target.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; })) {
    return InvalidArgument("url is malformed: Bad path");
  }
  return Status::Ok();
}

// Per-Send state reached from the libcurl callbacks.
struct TransferState {
  Headers headers;
  std::string body;
  int request_starts = 0;  // OnRequestStart calls: how often libcurl issued the request
};

// CURLOPT_PREREQFUNCTION: libcurl calls it each time it is about to issue the
// request on a connection (new or reused), so a second call means libcurl is
// sending the request again, i.e. its silent retry on a fresh connection after
// a reused one died without a response byte.
int OnRequestStart(void* userdata, char* /*primary_ip*/, char* /*local_ip*/, int /*primary_port*/,
                   int /*local_port*/) {
  ++static_cast<TransferState*>(userdata)->request_starts;
  return CURL_PREREQFUNC_OK;
}

size_t OnBody(char* data, size_t size, size_t nmemb, void* userdata) {
  const size_t len = size * nmemb;
  try {
    static_cast<TransferState*>(userdata)->body.append(data, len);
  } catch (...) {  // never let an exception cross libcurl
    return 0;
  }
  return len;
}

size_t OnHeader(char* data, size_t size, size_t nitems, void* userdata) {
  const size_t len = size * nitems;
  try {
    auto* state = static_cast<TransferState*>(userdata);
    std::string_view line(data, len);
    if (line.substr(0, 5) == "HTTP/") {
      // A new response head (after 1xx): keep only the final response's headers.
      state->headers.clear();
      return len;
    }
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      // Obsolete line folding: continuation of the previous value.
      std::string_view more = TrimOws(line);
      if (!state->headers.empty() && !more.empty()) {
        state->headers.back().second.append(" ").append(more);
      }
      return len;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return len;  // blank line or junk
    state->headers.emplace_back(AsciiLower(TrimOws(line.substr(0, colon))),
                                std::string(TrimOws(line.substr(colon + 1))));
  } catch (...) {
    return 0;
  }
  return len;
}

// A connection libcurl opened with CURLOPT_CONNECT_ONLY for the own-framing
// path: its easy handle owns exactly that one connection.
struct RawConnection {
  CURL* curl = nullptr;  // null: no connection
  curl_socket_t socket = CURL_SOCKET_BAD;
  std::string origin;  // Endpoint::url it is connected to
  MonoTime last_used{};
};

void CloseRaw(RawConnection& connection) {
  if (connection.curl != nullptr) curl_easy_cleanup(connection.curl);  // closes the socket
  connection = RawConnection{};
}

// A pooled easy handle and what it was last configured for. Everything but the
// per-request options is the same for every request, so a handle is reset and
// fully configured only when the method changes (curl_easy_reset plus ~25
// setopts, several of them string copies, cost more than the rest of Send's
// libcurl setup). `raw` is the own-framing path's connection.
struct PooledHandle {
  CURL* curl = nullptr;
  std::string configured_method;  // empty: not configured yet
  RawConnection raw;
};

void DestroyHandle(PooledHandle* pooled) {
  CloseRaw(pooled->raw);
  curl_easy_cleanup(pooled->curl);
  delete pooled;
}

// Idle connections older than this are not reused: typical load balancers drop
// idle connections after 60 s, and a reuse must not race with that.
constexpr auto kMaxIdleConnectionAge = std::chrono::seconds(50);

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

bool AppendHeader(SlistPtr& list, const std::string& line) {
  curl_slist* appended = curl_slist_append(list.get(), line.c_str());
  if (appended == nullptr) return false;
  (void)list.release();
  list.reset(appended);
  return true;
}

long ToMillisCeil(Duration d) {
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<long>(std::clamp<int64_t>(ms, 1, LONG_MAX));
}

// `peer` is the address libcurl last tried (the proxy when one is used), or empty.
std::string DescribeFailure(CURLcode code, bool sent, const UrlParts& url, const std::string& peer,
                            long os_errno, long elapsed_ms) {
  const std::string hp = url.HostPort();
  const std::string& connect_target = peer.empty() ? hp : peer;
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
      return "could not resolve host " + url.endpoint.host;
    case CURLE_COULDNT_RESOLVE_PROXY:
      return "could not resolve the proxy host (from the http_proxy/https_proxy environment variables)";
    case CURLE_COULDNT_CONNECT:
      if (os_errno == ECONNREFUSED) return "connect to " + connect_target + " refused";
      if (os_errno != 0) {
        return "connect to " + connect_target + " failed: " + std::strerror(static_cast<int>(os_errno));
      }
      return "connect to " + connect_target + " failed";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return "TLS handshake with " + hp + " failed";
    case CURLE_OPERATION_TIMEDOUT:
      if (sent) return "timed out after " + std::to_string(elapsed_ms) + " ms waiting for the response";
      return "timed out after " + std::to_string(elapsed_ms) +
             " ms before the request was sent (connecting to " + hp + ")";
    case CURLE_SEND_ERROR:
      return "sending the request to " + hp + " failed";
    case CURLE_RECV_ERROR:
      return "receiving the response from " + hp + " failed";
    case CURLE_GOT_NOTHING:
      return hp + " closed the connection without a response";
    case CURLE_PARTIAL_FILE:
      return "the response from " + hp + " was cut short";
    case CURLE_WEIRD_SERVER_REPLY:
      return hp + " sent a malformed response";
    default:
      return std::string("transfer with ") + hp + " failed: " + curl_easy_strerror(code);
  }
}

long ElapsedMs(Clock& clock, MonoTime start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now() - start).count());
}

// The Status for a failed curl_easy_perform, in either path.
Status TransferFailure(CURL* curl, CURLcode rc, const std::string& context, const UrlParts& url,
                       long elapsed_ms, const char* error_buffer) {
  long request_size = 0;
  curl_off_t uploaded = 0;
  long os_errno = 0;
  curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_size);
  curl_easy_getinfo(curl, CURLINFO_SIZE_UPLOAD_T, &uploaded);
  curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  const bool sent = request_size > 0 || uploaded > 0;
  char* primary_ip = nullptr;
  long primary_port = 0;
  std::string peer;
  if (curl_easy_getinfo(curl, CURLINFO_PRIMARY_IP, &primary_ip) == CURLE_OK && primary_ip != nullptr &&
      primary_ip[0] != '\0' && curl_easy_getinfo(curl, CURLINFO_PRIMARY_PORT, &primary_port) == CURLE_OK &&
      primary_port > 0) {
    const bool v6 = std::strchr(primary_ip, ':') != nullptr;
    peer = (v6 ? "[" : "") + std::string(primary_ip) + (v6 ? "]:" : ":") + std::to_string(primary_port);
  }
  std::string message = context + DescribeFailure(rc, sent, url, peer, os_errno, elapsed_ms);
  if (error_buffer[0] != '\0') {
    std::string_view detail(error_buffer);
    message.append(" (curl: ").append(TrimOws(detail)).append(")");
  }
  return Status(internal::ClassifyCurlError(rc, sent), std::move(message));
}

// libcurl's HTTP layer carries the request when one of the proxy variables it
// reads is set (it then also applies no_proxy); see curl_transport.h.
bool ProxyVariableSet() {
  for (const char* name : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && value[0] != '\0') return true;
  }
  return false;
}

enum class WaitResult { kReady, kTimedOut, kFailed };

// Waits until `socket` has one of `events` (or an error/hang-up, which the
// next send/recv reports) or the deadline passes.
WaitResult WaitForSocket(curl_socket_t socket, short events, Deadline deadline, Clock& clock) {
  for (;;) {
    int timeout_ms = -1;
    if (!deadline.infinite()) {
      const Duration left = deadline.Remaining(clock);
      if (left <= Duration::zero()) return WaitResult::kTimedOut;
      timeout_ms = static_cast<int>(std::min<long>(ToMillisCeil(left), INT_MAX));
    }
    pollfd pfd{socket, events, 0};
    const int ready = ::poll(&pfd, 1, timeout_ms);
    if (ready > 0) return WaitResult::kReady;
    if (ready < 0 && errno != EINTR) return WaitResult::kFailed;
  }
}

// Options of the connection itself, the same in both framings: protocols,
// HTTP/1.1 (TLS ALPN offers http/1.1 only), TCP and TLS settings.
CURLcode SetConnectionOptions(CURL* curl, const CurlOptions& options) {
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(curl, option, value);
  };
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  set(CURLOPT_TCP_NODELAY, 1L);
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_TCP_KEEPIDLE, 30L);
  set(CURLOPT_TCP_KEEPINTVL, 10L);
  set(CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
  set(CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
  if (!options.ca_bundle.empty()) set(CURLOPT_CAINFO, options.ca_bundle.c_str());
  return rc;
}

// Opens `connection` to url.origin (DNS, TCP, TLS with verification) through
// libcurl, never through a proxy. Errors as for Transport::Send (kUnavailable).
Status ConnectRaw(RawConnection& connection, const CurlOptions& options, const UrlParts& url,
                  const std::string& context, Deadline deadline, Clock& clock) {
  CloseRaw(connection);
  const MonoTime start = clock.Now();
  const Duration remaining = deadline.Remaining(clock);
  if (remaining <= Duration::zero()) {
    return Unavailable(context + "deadline passed before the request was sent");
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Unavailable("curl_easy_init failed (out of memory)");
  connection.curl = curl;  // from here CloseRaw releases it
  const internal::CurlTimeouts timeouts =
      internal::ComputeCurlTimeouts(remaining, options.max_connect_timeout);
  char error_buffer[CURL_ERROR_SIZE];
  error_buffer[0] = '\0';
  CURLcode rc = SetConnectionOptions(curl, options);
  auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(curl, option, value);
  };
  const std::string url_text = Join({url.endpoint.scheme, "://", url.HostPort(), "/"});
  set(CURLOPT_URL, url_text.c_str());
  set(CURLOPT_CONNECT_ONLY, 1L);
  set(CURLOPT_PROXY, "");  // "" = never a proxy: this path runs only when no proxy variable is set
  set(CURLOPT_ERRORBUFFER, error_buffer);
  set(CURLOPT_TIMEOUT_MS, timeouts.total_ms);
  set(CURLOPT_CONNECTTIMEOUT_MS, timeouts.connect_ms);
  if (rc != CURLE_OK) {
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));
    CloseRaw(connection);
    return Internal(context + "configuring libcurl failed: " + curl_easy_strerror(rc));
  }
  rc = curl_easy_perform(curl);
  Status status;
  curl_socket_t socket = CURL_SOCKET_BAD;
  if (rc != CURLE_OK) {
    status = TransferFailure(curl, rc, context, url, ElapsedMs(clock, start), error_buffer);
  } else if (curl_easy_getinfo(curl, CURLINFO_ACTIVESOCKET, &socket) != CURLE_OK ||
             socket == CURL_SOCKET_BAD) {
    status = Unavailable(context + "libcurl connected to " + url.HostPort() + " but reported no socket");
  }
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));  // the buffer dies here
  if (!status.ok()) {
    CloseRaw(connection);
    return status;
  }
  connection.socket = socket;
  connection.origin = url.endpoint.url;
  connection.last_used = clock.Now();
  return Status::Ok();
}

// Whether the pooled connection can carry the next request: same origin, not
// idle too long, and not readable while idle (readable means the server
// closed it or sent bytes nobody asked for; TLS records without data, e.g.
// TLS 1.3 session tickets, are fine).
bool ReusableConnection(RawConnection& connection, const UrlParts& url, MonoTime now) {
  if (connection.curl == nullptr || connection.origin != url.endpoint.url ||
      now - connection.last_used > kMaxIdleConnectionAge) {
    return false;
  }
  pollfd pfd{connection.socket, POLLIN, 0};
  const int ready = ::poll(&pfd, 1, 0);
  if (ready == 0) return true;
  if (ready < 0 || (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return false;
  char byte = 0;
  size_t n = 0;
  return curl_easy_recv(connection.curl, &byte, 1, &n) == CURLE_AGAIN;
}

struct ExchangeOutcome {
  Result<Response> result;
  bool keep_alive = false;
  bool request_may_have_arrived = false;
  // The connection was reused and died before any response byte: like
  // libcurl, try once more on a fresh connection.
  bool retry_on_fresh_connection = false;
};

// One request/response on an open connection.
ExchangeOutcome Exchange(RawConnection& connection, const std::string& wire, bool head_request, bool reused,
                         const UrlParts& url, const std::string& context, Deadline deadline, Clock& clock,
                         MonoTime start) {
  size_t sent = 0;
  while (sent < wire.size()) {
    size_t n = 0;
    const CURLcode rc = curl_easy_send(connection.curl, wire.data() + sent, wire.size() - sent, &n);
    if (rc == CURLE_OK) {
      sent += n;
      continue;
    }
    const StatusCode code = sent == 0 ? StatusCode::kUnavailable : StatusCode::kUnknownOutcome;
    if (rc == CURLE_AGAIN) {
      const WaitResult waited = WaitForSocket(connection.socket, POLLOUT, deadline, clock);
      if (waited == WaitResult::kReady) continue;
      if (waited == WaitResult::kTimedOut) {
        return {Status(code, Join({context, "timed out after ", std::to_string(ElapsedMs(clock, start)),
                                   " ms sending the request to ", url.HostPort()})),
                false, sent > 0, false};
      }
      return {Status(code, Join({context, "waiting to send to ", url.HostPort(),
                                 " failed: ", std::strerror(errno)})),
              false, sent > 0, false};
    }
    return {Status(code, Join({context, "sending the request to ", url.HostPort(),
                               " failed (curl: ", curl_easy_strerror(rc), ")"})),
            false, sent > 0, reused && sent == 0};
  }

  http1::ResponseReader reader(head_request);
  std::array<char, size_t{32} * 1024> buffer;
  bool wait_first = true;  // the response cannot be there before the request was sent
  for (;;) {
    if (wait_first) {
      const WaitResult waited = WaitForSocket(connection.socket, POLLIN, deadline, clock);
      if (waited == WaitResult::kTimedOut) {
        return {UnknownOutcome(Join({context, "timed out after ", std::to_string(ElapsedMs(clock, start)),
                                     " ms waiting for the response"})),
                false, true, false};
      }
      if (waited == WaitResult::kFailed) {
        return {UnknownOutcome(Join({context, "waiting for the response from ", url.HostPort(),
                                     " failed: ", std::strerror(errno)})),
                false, true, false};
      }
    }
    size_t n = 0;
    const CURLcode rc = curl_easy_recv(connection.curl, buffer.data(), buffer.size(), &n);
    if (rc == CURLE_AGAIN) {
      wait_first = true;
      continue;
    }
    wait_first = false;
    const bool nothing_yet = !reader.received_any();
    if (rc != CURLE_OK) {
      return {UnknownOutcome(Join({context, "receiving the response from ", url.HostPort(),
                                   " failed (curl: ", curl_easy_strerror(rc), ")"})),
              false, true, reused && nothing_yet};
    }
    if (n == 0) {
      if (reader.FeedEof().ok()) break;
      if (nothing_yet) {
        return {UnknownOutcome(Join({context, url.HostPort(), " closed the connection without a response"})),
                false, true, reused};
      }
      return {UnknownOutcome(Join({context, "the response from ", url.HostPort(), " was cut short"})), false,
              true, false};
    }
    const Status fed = reader.Feed(std::string_view(buffer.data(), n));
    if (!fed.ok()) {
      return {
          UnknownOutcome(Join({context, url.HostPort(), " sent a malformed response (", fed.message(), ")"})),
          false, true, false};
    }
    if (reader.done()) break;
  }
  const bool keep_alive = reader.keep_alive();
  // The reader refuses status codes outside 100-999 (three digits, not 0xx) as malformed.
  return {reader.TakeResponse(), keep_alive, true, false};
}

// The own-framing path of CurlTransport::Send (request already validated).
Result<Response> SendFramed(RawConnection& connection, const CurlOptions& options, const Request& request,
                            const UrlParts& url, const std::string& context, Deadline deadline,
                            MonoTime start) {
  Clock& clock = options.clock != nullptr ? *options.clock : *SystemClock::Instance();
  std::string wire;
  http1::AppendRequest(
      request, http1::RequestContext{url.target, url.endpoint.host_header, options.user_agent}, &wire);
  const bool head_request = request.method == "HEAD";
  // The first attempt died on a reused connection after the whole request was
  // written to it: it may have reached the server (Response::resent).
  bool may_have_arrived = false;
  for (int attempt = 0;; ++attempt) {
    const bool reused = ReusableConnection(connection, url, clock.Now());
    Status status;
    if (!reused) status = ConnectRaw(connection, options, url, context, deadline, clock);
    bool retry = false;
    bool arrived = false;
    if (status.ok()) {
      ExchangeOutcome outcome =
          Exchange(connection, wire, head_request, reused, url, context, deadline, clock, start);
      if (outcome.result.ok()) {
        if (outcome.keep_alive) {
          connection.last_used = clock.Now();
        } else {
          CloseRaw(connection);
        }
        // A retry whose first attempt wrote no byte (its send failed at once) was harmless.
        outcome.result->resent = may_have_arrived;
        return std::move(outcome.result);
      }
      CloseRaw(connection);
      status = outcome.result.status();
      retry = outcome.retry_on_fresh_connection;
      arrived = outcome.request_may_have_arrived;
    }
    if (may_have_arrived && status.code() == StatusCode::kUnavailable) {
      // The retry was certainly not sent, but the first attempt may have reached the server.
      return UnknownOutcome(status.message() +
                            "; an earlier attempt on a reused connection may have reached the server");
    }
    if (attempt > 0 || !retry || deadline.Expired(clock)) return status;
    may_have_arrived = arrived;
  }
}
}  // namespace

namespace internal {

CurlTimeouts ComputeCurlTimeouts(Duration remaining, Duration max_connect_timeout) {
  const long connect_cap = ToMillisCeil(max_connect_timeout);
  if (remaining == Duration::max()) return CurlTimeouts{0, connect_cap};
  const long total = ToMillisCeil(remaining);
  return CurlTimeouts{total, std::min(total, connect_cap)};
}

StatusCode ClassifyCurlError(int curl_code, bool request_bytes_sent) {
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_OK:
      return StatusCode::kOk;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return StatusCode::kInvalidArgument;
    default:
      break;
  }
  // Resolve, connect and TLS errors happen before the request is written; but
  // libcurl silently retries a request that died on a reused connection, and
  // request bytes counted then (or a proxy CONNECT) make us assume the worst.
  return request_bytes_sent ? StatusCode::kUnknownOutcome : StatusCode::kUnavailable;
}

}  // namespace internal

Result<std::unique_ptr<CurlTransport>> CurlTransport::Create(CurlOptions options) {
  std::call_once(g_curl_init_once, [] { g_curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (g_curl_init_result != CURLE_OK) {
    return Internal(std::string("curl_global_init failed: ") + curl_easy_strerror(g_curl_init_result));
  }
  if (!options.ca_bundle.empty()) {
    const int fd = ::open(options.ca_bundle.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return InvalidArgument("ca_bundle '" + options.ca_bundle + "' is not readable (" +
                             std::strerror(errno) +
                             "); give a readable PEM file or leave it empty for the system CA store");
    }
    struct stat st {};
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    ::close(fd);
    if (!regular) {
      return InvalidArgument("ca_bundle '" + options.ca_bundle +
                             "' is not a regular file; give a readable PEM file or leave it empty");
    }
  }
  if (options.max_connect_timeout <= Duration::zero()) {
    return InvalidArgument("max_connect_timeout must be positive");
  }
  if (HasControlChars(options.user_agent)) {
    return InvalidArgument("user_agent must not contain CR, LF or NUL characters");
  }
  if (options.ca_bundle.empty()) options.ca_bundle = FindCaBundle(ProcessEnvironment());  // http/ca_bundle.h
  return std::unique_ptr<CurlTransport>(new CurlTransport(std::move(options)));
}

CurlTransport::CurlTransport(CurlOptions options) : options_(std::move(options)) {}

CurlTransport::~CurlTransport() {
  for (void* handle : idle_) DestroyHandle(static_cast<PooledHandle*>(handle));
}

size_t CurlTransport::idle_handles() const {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_.size();
}

void* CurlTransport::AcquireHandle() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      void* handle = idle_.back();  // LIFO: the most recently used connection is the warmest
      idle_.pop_back();
      return handle;
    }
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return nullptr;
  auto* pooled = new (std::nothrow) PooledHandle;
  if (pooled == nullptr) {
    curl_easy_cleanup(curl);
    return nullptr;
  }
  pooled->curl = curl;
  return pooled;
}

void CurlTransport::ReleaseHandle(void* handle) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < options_.max_idle_connections) {
      idle_.push_back(handle);
      return;
    }
  }
  DestroyHandle(static_cast<PooledHandle*>(handle));
}

Result<Response> CurlTransport::Send(const Request& request, Deadline deadline) {
  auto* handle = static_cast<PooledHandle*>(AcquireHandle());
  if (handle == nullptr) return Unavailable("curl_easy_init failed (out of memory)");
  struct Releaser {
    CurlTransport* self;
    PooledHandle* handle;
    ~Releaser() {
      // The error buffer and the header list die with this call.
      curl_easy_setopt(handle->curl, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));
      curl_easy_setopt(handle->curl, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
      self->ReleaseHandle(handle);
    }
  } releaser{this, handle};

  DYNATRONI_RETURN_IF_ERROR(CheckTarget(request));
  const UrlParts url{request.endpoint, request.target};
  const std::string context = url.Context(request.method);
  if (!IsToken(request.method)) return InvalidArgument("request method must be an HTTP token (e.g. POST)");
  if (request.method == "HEAD" && !request.body.empty()) {
    return InvalidArgument(context + "a HEAD request cannot carry a body");
  }

  // libcurl's HTTP layer only when a proxy may apply (see curl_transport.h).
  const bool framed = options_.own_http_framing && !ProxyVariableSet();
  // Check the headers (and build libcurl's list) before touching the network.
  SlistPtr header_list;
  bool has_expect = false;
  bool has_content_type = false;
  std::string line;
  for (const auto& [name, value] : request.headers) {
    if (!IsToken(name)) {
      std::string message = context;
      message.append("header name '").append(name).append("' is not an HTTP token");
      return InvalidArgument(message);
    }
    if (HasControlChars(value)) {
      // Never echo the value: it may be a signature or a token.
      std::string message = context;
      message.append("value of header '").append(name).append("' contains CR, LF or NUL");
      return InvalidArgument(message);
    }
    if (framed) continue;
    has_expect |= EqualsIgnoreCase(name, "expect");
    has_content_type |= EqualsIgnoreCase(name, "content-type");
    // "Name;" is libcurl's spelling of a header with an empty value.
    line.assign(name);
    if (value.empty()) {
      line += ';';
    } else {
      line.append(": ").append(value);
    }
    if (!AppendHeader(header_list, line)) return Internal("out of memory building request headers");
  }
  // No 100-continue round trip, and no form content type invented by libcurl.
  if (!framed && ((!has_expect && !AppendHeader(header_list, "Expect:")) ||
                  (!has_content_type && !AppendHeader(header_list, "Content-Type:")))) {
    return Internal("out of memory building request headers");
  }

  Clock& clock = options_.clock != nullptr ? *options_.clock : *SystemClock::Instance();
  const MonoTime start = clock.Now();
  const Duration remaining = deadline.Remaining(clock);
  if (remaining <= Duration::zero()) {
    return Unavailable(context + "deadline passed before the request was sent");
  }
  if (framed) return SendFramed(handle->raw, options_, request, url, context, deadline, start);
  const internal::CurlTimeouts timeouts =
      internal::ComputeCurlTimeouts(remaining, options_.max_connect_timeout);

  CURL* curl = handle->curl;
  TransferState state;
  char error_buffer[CURL_ERROR_SIZE];
  error_buffer[0] = '\0';

  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(curl, option, value);
  };
  // A GET with a body is sent like a custom method: never reuse that configuration.
  const bool get_with_body = request.method == "GET" && !request.body.empty();
  if (handle->configured_method != request.method || get_with_body) {
    // Back to defaults; keeps the connection cache, DNS cache and TLS sessions.
    curl_easy_reset(curl);
    handle->configured_method.clear();
    rc = SetConnectionOptions(curl, options_);
    set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_FORBID_REUSE, 0L);
    // Drop idle connections before typical 60 s load-balancer idle timeouts can
    // race with a reuse.
    set(CURLOPT_MAXAGE_CONN, static_cast<long>(kMaxIdleConnectionAge.count()));
    if (!options_.user_agent.empty()) set(CURLOPT_USERAGENT, options_.user_agent.c_str());
    // CURLOPT_PROXY stays unset so libcurl honours the *_proxy environment.
    set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    set(CURLOPT_HEADERFUNCTION, &OnHeader);
    set(CURLOPT_WRITEFUNCTION, &OnBody);
    set(CURLOPT_PREREQFUNCTION, &OnRequestStart);
    if (request.method == "GET" && request.body.empty()) {
      set(CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
      set(CURLOPT_NOBODY, 1L);
    } else {
      set(CURLOPT_POST, 1L);
      if (request.method != "POST") set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
  }
  set(CURLOPT_ERRORBUFFER, error_buffer);
  const std::string url_text = request.url();  // built from the parsed parts, not validated again
  set(CURLOPT_URL, url_text.c_str());
  set(CURLOPT_TIMEOUT_MS, timeouts.total_ms);
  set(CURLOPT_CONNECTTIMEOUT_MS, timeouts.connect_ms);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&state));
  set(CURLOPT_WRITEDATA, static_cast<void*>(&state));
  set(CURLOPT_PREREQDATA, static_cast<void*>(&state));
  set(CURLOPT_HTTPHEADER, header_list.get());
  if (request.method != "HEAD" && (request.method != "GET" || get_with_body)) {
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    set(CURLOPT_POSTFIELDS, request.body.data());
  }
  if (rc != CURLE_OK) {
    return Internal(context + "configuring libcurl failed: " + curl_easy_strerror(rc));
  }
  if (!get_with_body) handle->configured_method = request.method;

  rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    return TransferFailure(curl, rc, context, url, ElapsedMs(clock, start), error_buffer);
  }

  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 100 || status > 999) {
    return MalformedResponse(context + "response carried no valid HTTP status line");
  }
  Response response;
  response.status = static_cast<int>(status);
  response.headers = std::move(state.headers);
  response.body = std::move(state.body);
  // libcurl re-issued the request (it does so only after a reused connection
  // died without a response byte). Whether the first copy's bytes were written
  // is not reliably observable here (CURLINFO_REQUEST_SIZE also counts a proxy
  // CONNECT and leaves out what the transfer loop sent), so every re-send counts.
  response.resent = state.request_starts > 1;
  return response;
}

}  // namespace dynatroni::http
