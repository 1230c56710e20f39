// File: http/curl_transport.h
//
// The production Transport, built on libcurl (easy interface, HTTP/1.1).
//
//  * Connection reuse: a small mutex-protected pool of idle CURL easy handles;
//    each handle keeps its own connection cache (keep-alive, TCP_NODELAY), so
//    consecutive Send() calls, from any thread, reuse warm connections.
//  * Timeouts come from the caller's deadline (on CurlOptions::clock): total timeout =
//    time remaining, connect timeout = min(remaining, max_connect_timeout). A
//    deadline that already passed fails with kUnavailable without sending.
//  * TLS: peer and host verification are always on in production; ca_bundle
//    replaces the system CA store. Only http:// and https:// URLs are accepted,
//    plain http only when the URL says so; redirects are never followed.
//  * Framing: by default (CurlOptions::own_http_framing) libcurl only opens
//    the connection and the request/response are framed in-process; with a
//    proxy variable set, or with the option off, libcurl's HTTP layer is used.
//    Both keep the same contract, errors and connection reuse, and both
//    re-send a request once on a fresh connection when a reused connection
//    died before any response byte, marking the answer Response::resent when
//    the first copy may have reached the server (own framing: its bytes were
//    written; libcurl's HTTP layer: always).
//  * Proxies: libcurl reads http_proxy, https_proxy/HTTPS_PROXY, all_proxy/
//    ALL_PROXY and no_proxy/NO_PROXY from the environment at each Send(); we
//    never override that. Upper-case HTTP_PROXY is deliberately ignored by
//    libcurl for http:// URLs (the "httpoxy" CGI issue): use http_proxy.
//  * Error messages name what happened and the method and URL (query string
//    dropped); they never contain request headers or bodies.
//
// Thread-safety: Send() may be called concurrently from any number of threads.
// Destroying the transport while a Send() is running is a caller bug.
#ifndef DYNATRONI_HTTP_CURL_TRANSPORT_H_
#define DYNATRONI_HTTP_CURL_TRANSPORT_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "http/transport.h"

#ifndef DYNATRONI_VERSION
#error "DYNATRONI_VERSION must be defined (it comes with the dynatroni_core_lib target)"
#endif

namespace dynatroni::http {

struct CurlOptions {
  // PEM file of trusted CAs; empty = the system's bundle, found by http/ca_bundle.h (SSL_CERT_FILE, Debian's,
  // RHEL's).
  std::string ca_bundle;
  // Upper bound of the TCP (+TLS) connect phase; the deadline may shorten it.
  Duration max_connect_timeout = std::chrono::seconds(2);
  // Verify the server certificate and host name. Only tests may turn it off.
  bool verify_tls = true;
  // Idle easy handles (each with its warm connection) kept for reuse.
  size_t max_idle_connections = 4;
  std::string user_agent = "dynatroni/" DYNATRONI_VERSION;
  // Frame HTTP/1.1 ourselves (http/http1.h) over a connection libcurl opens
  // (CURLOPT_CONNECT_ONLY: libcurl still does DNS, connect, TLS and its
  // verification) instead of running libcurl's HTTP layer per request, which
  // costs 2-3x the CPU. Applies only while no proxy variable is set (see
  // Proxies above); with one, libcurl's HTTP layer carries the request.
  bool own_http_framing = true;
  // Measures the deadline's remaining time and the idle age of connections;
  // null: SystemClock::Instance(). Must outlive the transport.
  Clock* clock = nullptr;
};

class CurlTransport final : public Transport {
 public:
  // Validates `options` (kInvalidArgument naming the field: ca_bundle not a
  // readable file, max_connect_timeout <= 0, user_agent with control
  // characters) and initializes libcurl once per process.
  static Result<std::unique_ptr<CurlTransport>> Create(CurlOptions options);

  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  // See Transport::Send. The request's endpoint and target are used as
  // parsed (http/endpoint.h), never parsed again: the URL given to libcurl is
  // built from them. kInvalidArgument when the endpoint is not http(s), the
  // target is not "/..." of visible characters, the method is not a token, or
  // a header contains CR/LF.
  Result<Response> Send(const Request& request, Deadline deadline) override;

  // Number of idle handles currently pooled (for tests and diagnostics).
  [[nodiscard]] size_t idle_handles() const;

 private:
  explicit CurlTransport(CurlOptions options);
  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  const CurlOptions options_;
  mutable std::mutex mu_;
  std::vector<void*> idle_;  // CURL* easy handles; guarded by mu_
};

namespace internal {

// Exposed for unit tests.
struct CurlTimeouts {
  long total_ms;    // CURLOPT_TIMEOUT_MS; 0 = none (infinite deadline)
  long connect_ms;  // CURLOPT_CONNECTTIMEOUT_MS
};
// REQUIRES: remaining > 0. Rounds up to whole milliseconds (at least 1).
CurlTimeouts ComputeCurlTimeouts(Duration remaining, Duration max_connect_timeout);

// Maps a failed transfer's CURLcode to kUnavailable / kUnknownOutcome /
// kInvalidArgument. `request_bytes_sent` is CURLINFO_REQUEST_SIZE > 0 (or
// any upload progress); errors that can only happen before sending ignore it.
StatusCode ClassifyCurlError(int curl_code, bool request_bytes_sent);

}  // namespace internal

}  // namespace dynatroni::http

#endif  // DYNATRONI_HTTP_CURL_TRANSPORT_H_
