// File: http/transport.h
//
// The HTTP seam of the core. The DynamoDB client talks to an HttpTransport;
// production uses CurlTransport (http/curl_transport.h), tests substitute
// fakes that script responses and failures.
//
// Thread-safety: implementations must be safe for concurrent Send() calls.
#ifndef DYNATRONI_HTTP_TRANSPORT_H_
#define DYNATRONI_HTTP_TRANSPORT_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "http/endpoint.h"

namespace dynatroni::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "POST";
  // Where the request goes, parsed once by whoever builds the request
  // (http/endpoint.h); the transport never parses a URL. The Host header is
  // endpoint.host_header unless `headers` has one.
  Endpoint endpoint;
  std::string target = "/";  // origin-form request target: "/path[?query]"
  Headers headers;           // sent as given
  std::string body;

  // scheme://host[:port]/path[?query] (for messages and tests).
  [[nodiscard]] std::string url() const { return endpoint.url + target; }
  // Points the request at an absolute http(s) URL: ParseUrl (errors name
  // `field`), then OriginOf and RequestTarget.
  Status SetUrl(std::string_view url, std::string_view field = "url");
};

struct Response {
  int status = 0;
  Headers headers;  // names lower-cased
  std::string body;
  // The request was sent more than once to get this response: a reused
  // keep-alive connection died before any response byte arrived, after request
  // bytes were (or may have been) written to it, and the transport silently
  // sent the request again on a fresh connection (see Transport::Send). An
  // earlier copy may have reached the server and been applied, so for a
  // non-idempotent request this response may answer a duplicate: e.g. a
  // conditional write refused because the earlier copy already applied it.
  bool resent = false;

  // First header value with this (lower-case) name, or empty.
  [[nodiscard]] std::string_view Header(std::string_view lower_name) const;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Sends `request` and waits for the whole response, but never past
  // `deadline` (connect and total timeouts derive from it).
  //
  // Returns the response for any HTTP status (4xx/5xx included). An
  // implementation may send the request once more on a fresh connection when
  // a reused keep-alive connection died before any response byte (CurlTransport
  // does); when the first copy's bytes may have reached the server, the
  // response has `resent` set (a first copy of which certainly no byte was
  // written is harmless to re-send and need not set it). Errors:
  //  * kUnavailable: the request was certainly not sent (DNS failure,
  //    connection refused, TLS handshake failure, deadline already passed).
  //  * kUnknownOutcome: the request may have reached the server but no full
  //    response was read (timeout or reset after sending).
  //  * kInvalidArgument: the URL or options are unusable.
  virtual Result<Response> Send(const Request& request, Deadline deadline) = 0;
};

}  // namespace dynatroni::http

#endif  // DYNATRONI_HTTP_TRANSPORT_H_
