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

namespace dynatroni::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "POST";
  std::string url;  // absolute: scheme://host[:port]/path[?query]
  Headers headers;  // sent as given (no Host header needed: derived from url)
  std::string body;
};

struct Response {
  int status = 0;
  Headers headers;  // names lower-cased
  std::string body;

  // First header value with this (lower-case) name, or empty.
  [[nodiscard]] std::string_view Header(std::string_view lower_name) const;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Sends `request` and waits for the whole response, but never past
  // `deadline` (connect and total timeouts derive from it).
  //
  // Returns the response for any HTTP status (4xx/5xx included). Errors:
  //  * kUnavailable: the request was certainly not sent (DNS failure,
  //    connection refused, TLS handshake failure, deadline already passed).
  //  * kUnknownOutcome: the request may have reached the server but no full
  //    response was read (timeout or reset after sending).
  //  * kInvalidArgument: the URL or options are unusable.
  virtual Result<Response> Send(const Request& request, Deadline deadline) = 0;
};

}  // namespace dynatroni::http

#endif  // DYNATRONI_HTTP_TRANSPORT_H_
