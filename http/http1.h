// File: http/http1.h
//
// HTTP/1.1 message framing for the transport's own-framing path
// (CurlTransport with CurlOptions::own_http_framing): the request is written
// by AppendRequest into one buffer; the response is parsed by ResponseReader,
// which wraps Boost.Beast's HTTP/1 parser (status line, header fields,
// Content-Length, chunked transfer coding, body delimited by connection close,
// 1xx interim responses). libcurl still owns the connection (DNS, connect,
// TLS, ALPN); these functions only frame bytes and do no I/O.
//
// Thread-safety: AppendRequest is reentrant; a ResponseReader is used by one
// thread at a time.
#ifndef DYNATRONI_HTTP_HTTP1_H_
#define DYNATRONI_HTTP_HTTP1_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "http/transport.h"

namespace dynatroni::http::http1 {

// What the caller derived from the URL and options.
struct RequestContext {
  std::string_view target;      // origin-form request target: "/path[?query]" (never empty)
  std::string_view host;        // Host value when the request has none: "host[:port]", default port left out
  std::string_view user_agent;  // User-Agent when the request has none; empty = send none
};

// Appends `request` (head and body) to `*out` as HTTP/1.1: the request line,
// the request's headers in order (an empty value is sent as "Name:"), Host,
// User-Agent and "Accept: */*" unless the request has its own, and
// Content-Length computed from the body (a caller's Content-Length or
// Transfer-Encoding header is dropped). GET and HEAD without a body carry no
// Content-Length. REQUIRES: the method and header names are HTTP tokens and
// no header value contains CR, LF or NUL (CurlTransport::Send checks this).
void AppendRequest(const Request& request, const RequestContext& context, std::string* out);

// Incremental parser of one HTTP/1.1 response (after any 1xx interim ones).
class ResponseReader {
 public:
  // `head_request`: the request was HEAD, so the response has no body.
  // `max_body_bytes`: a longer body is a malformed response.
  explicit ResponseReader(bool head_request, size_t max_body_bytes = kDefaultMaxBodyBytes);
  ~ResponseReader();
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  static constexpr size_t kDefaultMaxBodyBytes = size_t{64} << 20;  // 64 MiB
  static constexpr size_t kMaxHeaderBytes = size_t{64} << 10;       // 64 KiB per response head

  // Feeds the next bytes read from the connection (any split). Returns OK
  // while more is needed or once the response is complete (see done());
  // kMalformedResponse naming what is wrong for bytes that cannot be a
  // response. Bytes after the complete response are kept in leftover_bytes().
  Status Feed(std::string_view data);
  // The connection was closed by the peer. OK when that completes the
  // response (a body delimited by close); kMalformedResponse when the
  // response is cut short. Call at most once.
  Status FeedEof();

  [[nodiscard]] bool done() const { return done_; }
  // Some byte was received (even if not yet a complete status line).
  [[nodiscard]] bool received_any() const { return received_any_; }
  // After done(): the connection may carry another request (HTTP/1.1 without
  // "Connection: close", a self-delimited body, no bytes beyond the response).
  [[nodiscard]] bool keep_alive() const;
  [[nodiscard]] size_t leftover_bytes() const { return leftover_; }

  // REQUIRES: done(). Status, headers (lower-cased names, in order) and body.
  Response TakeResponse();

 private:
  struct Parser;
  Status Consume(std::string_view input);

  bool head_request_;
  size_t max_body_bytes_;
  std::unique_ptr<Parser> parser_;
  std::string pending_;  // received bytes the parser has not consumed yet
  bool done_ = false;
  bool received_any_ = false;
  bool eof_ = false;
  size_t leftover_ = 0;
};

}  // namespace dynatroni::http::http1

#endif  // DYNATRONI_HTTP_HTTP1_H_
