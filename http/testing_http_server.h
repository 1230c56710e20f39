// File: http/testing_http_server.h
//
// Test support only (linked into the test binaries, never into the core): a
// tiny blocking HTTP/1.1 server on 127.0.0.1 with a scriptable handler. It
// reads requests with Content-Length bodies, keeps connections alive, and can
// answer normally, hang before answering, or close without answering. It counts
// accepted connections so tests can observe connection reuse, and it accepts
// absolute-form request lines, so it can also play an HTTP proxy.
//
// Bytes that do not start like an HTTP request (e.g. a TLS ClientHello) get a
// "400 Bad Request" and the connection is closed.
//
// Thread-safety: all public methods may be called from any thread. The handler
// runs on the connection's own thread and may be called concurrently.
#ifndef DYNATRONI_HTTP_TESTING_HTTP_SERVER_H_
#define DYNATRONI_HTTP_TESTING_HTTP_SERVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/status.h"
#include "http/transport.h"

namespace dynatroni::http::testing {

struct ReceivedRequest {
  std::string method;
  std::string target;   // as on the request line: "/p?q", or "http://host/p" when acting as a proxy
  std::string version;  // "HTTP/1.1"
  Headers headers;      // names lower-cased, in arrival order
  std::string body;
  int connection = 0;  // 1-based index of the accepted connection that carried it

  [[nodiscard]] std::string_view Header(std::string_view lower_name) const;
};

struct Reply {
  int status = 200;
  std::string reason = "OK";
  Headers headers;  // Content-Length is added
  std::string body;
  // Wait this long before answering (cut short when the server stops).
  std::chrono::milliseconds delay{0};
  // Close the connection instead of answering (after `delay`).
  bool close_without_reply = false;
  // Answer with "Connection: close", then close.
  bool close_after_reply = false;
  // Answer as usual (keep-alive), then close: a server dropping an idle connection.
  bool close_quietly_after_reply = false;
  // When not empty: sent verbatim instead of a formatted reply (chunked bodies,
  // bodies ended by close, interim responses, garbage); `close_after_reply`
  // then closes without adding a header.
  std::string raw;
};

using Handler = std::function<Reply(const ReceivedRequest&)>;

class TestingHttpServer {
 public:
  // Listens on 127.0.0.1 on an ephemeral port.
  static Result<std::unique_ptr<TestingHttpServer>> Start(Handler handler);

  // Stops and joins all threads.
  ~TestingHttpServer();
  TestingHttpServer(const TestingHttpServer&) = delete;
  TestingHttpServer& operator=(const TestingHttpServer&) = delete;

  // Closes the listener and every connection; idempotent.
  void Stop();

  [[nodiscard]] int port() const { return port_; }
  // "http://127.0.0.1:<port><path>".
  [[nodiscard]] std::string Url(std::string_view path = "/") const;
  [[nodiscard]] int accepted_connections() const { return accepted_.load(); }
  // Every complete request received so far, in arrival order.
  [[nodiscard]] std::vector<ReceivedRequest> requests() const;

 private:
  TestingHttpServer(int listen_fd, int port, Handler handler);
  void AcceptLoop();
  void ServeConnection(int fd, int index);
  // Waits up to `d`; returns false when the server is stopping.
  bool WaitUnlessStopping(std::chrono::milliseconds d);

  const int listen_fd_;
  const int port_;
  const Handler handler_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReceivedRequest> requests_;  // guarded by mu_
  std::vector<std::thread> connections_;   // guarded by mu_
  std::thread acceptor_;
  bool stopped_ = false;  // guarded by stop_mu_
  std::mutex stop_mu_;
};

}  // namespace dynatroni::http::testing

#endif  // DYNATRONI_HTTP_TESTING_HTTP_SERVER_H_
