#include "http/curl_transport.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <gtest/gtest.h>

#include "http/testing_http_server.h"

namespace dynatroni::http {
namespace {

using namespace std::chrono_literals;
using testing::ReceivedRequest;
using testing::Reply;
using testing::TestingHttpServer;

constexpr std::array<const char*, 8> kProxyVars = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                                   "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};

// Keeps the tests hermetic: no proxy variable from the caller's environment
// leaks in, and whatever a test sets is restored afterwards.
class ProxyEnvGuard {
 public:
  ProxyEnvGuard() {
    for (size_t i = 0; i < kProxyVars.size(); ++i) {
      const char* v = std::getenv(kProxyVars[i]);
      if (v != nullptr) saved_[i] = v;
      ::unsetenv(kProxyVars[i]);
    }
  }
  ~ProxyEnvGuard() {
    for (size_t i = 0; i < kProxyVars.size(); ++i) {
      if (saved_[i]) {
        ::setenv(kProxyVars[i], saved_[i]->c_str(), 1);
      } else {
        ::unsetenv(kProxyVars[i]);
      }
    }
  }

 private:
  std::array<std::optional<std::string>, kProxyVars.size()> saved_;
};

std::unique_ptr<TestingHttpServer> StartServer(testing::Handler handler) {
  auto server = TestingHttpServer::Start(std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

std::unique_ptr<CurlTransport> MakeTransport(CurlOptions options = {}) {
  auto transport = CurlTransport::Create(std::move(options));
  EXPECT_TRUE(transport.ok()) << transport.status().ToString();
  return transport.ok() ? std::move(transport).value() : nullptr;
}

// Every exchange test runs twice: with the own-framing path (the default) and
// with libcurl's HTTP layer (what runs whenever a proxy variable is set).
class CurlTransportBothFramings : public ::testing::TestWithParam<bool> {
 protected:
  std::unique_ptr<CurlTransport> MakeTransport(CurlOptions options = {}) {
    options.own_http_framing = GetParam();
    return http::MakeTransport(std::move(options));
  }
};

INSTANTIATE_TEST_SUITE_P(Unit, CurlTransportBothFramings, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "OwnFraming" : "LibcurlHttp";
                         });

::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

Deadline In(Duration d) { return Deadline::After(*SystemClock::Instance(), d); }

Reply Echo(const ReceivedRequest& req) {
  Reply reply;
  reply.status = 200;
  reply.headers = {{"X-Echo-Method", req.method}, {"X-Echo-Target", req.target}};
  reply.body = "echo:" + req.body;
  return reply;
}

// A loopback listener that never accepts and whose accept queue is full, so a
// new connection attempt hangs in the TCP handshake (SYNs are dropped).
class BlackholeListener {
 public:
  BlackholeListener() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listen_fd_, 0), 0);
    EXPECT_EQ(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    for (int i = 0; i < 3; ++i) {  // fill the queue (backlog 0 still admits one)
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
      fillers_.push_back(fd);
    }
    std::this_thread::sleep_for(20ms);
  }
  ~BlackholeListener() {
    for (int fd : fillers_) ::close(fd);
    ::close(listen_fd_);
  }
  BlackholeListener(const BlackholeListener&) = delete;
  BlackholeListener& operator=(const BlackholeListener&) = delete;
  [[nodiscard]] int port() const { return port_; }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::vector<int> fillers_;
};

// A loopback port with nothing listening on it.
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(Unit, HttpResponseHeaderReturnsFirstValueOrEmpty) {
  Response response;
  response.headers = {{"x-a", "1"}, {"x-b", "2"}, {"x-a", "3"}};
  EXPECT_EQ(response.Header("x-a"), "1");
  EXPECT_EQ(response.Header("x-b"), "2");
  EXPECT_EQ(response.Header("x-c"), "");
}

TEST(Unit, CurlTimeoutsDeriveFromRemainingTime) {
  auto t = internal::ComputeCurlTimeouts(300ms, 2s);
  EXPECT_EQ(t.total_ms, 300);
  EXPECT_EQ(t.connect_ms, 300);
  t = internal::ComputeCurlTimeouts(10s, 2s);
  EXPECT_EQ(t.total_ms, 10000);
  EXPECT_EQ(t.connect_ms, 2000);
  t = internal::ComputeCurlTimeouts(1ns, 2s);  // rounds up, never 0 (= no timeout in libcurl)
  EXPECT_EQ(t.total_ms, 1);
  EXPECT_EQ(t.connect_ms, 1);
  t = internal::ComputeCurlTimeouts(Duration::max(), 2s);
  EXPECT_EQ(t.total_ms, 0);
  EXPECT_EQ(t.connect_ms, 2000);
}

TEST(Unit, CurlErrorsClassifiedBySentBytes) {
  using internal::ClassifyCurlError;
  EXPECT_EQ(ClassifyCurlError(CURLE_COULDNT_CONNECT, false), StatusCode::kUnavailable);
  EXPECT_EQ(ClassifyCurlError(CURLE_COULDNT_RESOLVE_HOST, false), StatusCode::kUnavailable);
  EXPECT_EQ(ClassifyCurlError(CURLE_SSL_CONNECT_ERROR, false), StatusCode::kUnavailable);
  EXPECT_EQ(ClassifyCurlError(CURLE_PEER_FAILED_VERIFICATION, false), StatusCode::kUnavailable);
  EXPECT_EQ(ClassifyCurlError(CURLE_OPERATION_TIMEDOUT, false), StatusCode::kUnavailable);
  EXPECT_EQ(ClassifyCurlError(CURLE_OPERATION_TIMEDOUT, true), StatusCode::kUnknownOutcome);
  EXPECT_EQ(ClassifyCurlError(CURLE_RECV_ERROR, true), StatusCode::kUnknownOutcome);
  EXPECT_EQ(ClassifyCurlError(CURLE_GOT_NOTHING, true), StatusCode::kUnknownOutcome);
  EXPECT_EQ(ClassifyCurlError(CURLE_PARTIAL_FILE, true), StatusCode::kUnknownOutcome);
  // A connect error after bytes went out (libcurl's retry on a dead reused connection).
  EXPECT_EQ(ClassifyCurlError(CURLE_COULDNT_CONNECT, true), StatusCode::kUnknownOutcome);
  EXPECT_EQ(ClassifyCurlError(CURLE_UNSUPPORTED_PROTOCOL, false), StatusCode::kInvalidArgument);
}

TEST_P(CurlTransportBothFramings, PostRoundTripCarriesHeadersAndBody) {
  ProxyEnvGuard env;
  auto server = StartServer(Echo);
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  request.method = "POST";
  ASSERT_TRUE(request.SetUrl(server->Url("/api?x=1")).ok());
  request.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                     {"X-Amz-Target", "DynamoDB_20120810.GetItem"}};
  request.body = R"({"TableName":"t"})";
  auto response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, std::string("echo:") + R"({"TableName":"t"})");
  EXPECT_EQ(response->Header("x-echo-method"), "POST");  // lower-cased names
  EXPECT_EQ(response->Header("x-echo-target"), "/api?x=1");
  EXPECT_EQ(response->Header("content-length"), std::to_string(response->body.size()));
  EXPECT_FALSE(response->resent);

  auto seen = server->requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].Header("content-type"), "application/x-amz-json-1.0");
  EXPECT_EQ(seen[0].Header("x-amz-target"), "DynamoDB_20120810.GetItem");
  EXPECT_EQ(seen[0].Header("host"), "127.0.0.1:" + std::to_string(server->port()));
  EXPECT_EQ(seen[0].Header("user-agent"), std::string("dynatroni/") + DYNATRONI_VERSION);
  EXPECT_EQ(seen[0].Header("expect"), "");
  EXPECT_EQ(seen[0].body, request.body);
}

TEST_P(CurlTransportBothFramings, GetRoundTripAndErrorStatusesAreResponses) {
  ProxyEnvGuard env;
  auto server = StartServer([](const ReceivedRequest& req) {
    Reply reply = Echo(req);
    if (req.target == "/missing") {
      reply.status = 404;
      reply.reason = "Not Found";
    }
    return reply;
  });
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  request.method = "GET";
  ASSERT_TRUE(request.SetUrl(server->Url("/thing")).ok());
  auto response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("x-echo-method"), "GET");
  EXPECT_EQ(response->body, "echo:");

  ASSERT_TRUE(request.SetUrl(server->Url("/missing")).ok());
  response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 404);
}

TEST_P(CurlTransportBothFramings, SequentialSendsReuseOneConnection) {
  ProxyEnvGuard env;
  auto server = StartServer(Echo);
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  for (int i = 0; i < 3; ++i) {
    Request request;
    ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
    request.body = "n" + std::to_string(i);
    auto response = transport->Send(request, In(5s));
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->body, "echo:n" + std::to_string(i));
  }
  EXPECT_EQ(server->accepted_connections(), 1);
  EXPECT_EQ(transport->idle_handles(), 1u);
}

// One pooled handle serves every request below: each method change must
// reconfigure it, and a same-method request must not inherit anything stale.
TEST_P(CurlTransportBothFramings, OneHandleServesChangingMethodsBodiesAndUrls) {
  ProxyEnvGuard env;
  auto server = StartServer(Echo);
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  struct Step {
    std::string method, path, body;
  };
  const std::vector<Step> steps = {{"POST", "/a", "one"}, {"POST", "/b", "two"},  {"GET", "/c", ""},
                                   {"HEAD", "/d", ""},    {"PUT", "/e", "three"}, {"PUT", "/f", ""},
                                   {"GET", "/g", "body"}, {"GET", "/h", ""},      {"POST", "/i", ""},
                                   {"DELETE", "/j", ""},  {"POST", "/k", "four"}};
  for (const Step& step : steps) {
    Request request;
    request.method = step.method;
    ASSERT_TRUE(request.SetUrl(server->Url(step.path)).ok());
    request.headers = {{"X-Step", step.path}};
    request.body = step.body;
    auto response = transport->Send(request, In(5s));
    ASSERT_TRUE(response.ok()) << step.method << " " << step.path << ": " << response.status().ToString();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, step.method == "HEAD" ? "" : "echo:" + step.body) << step.method << step.path;
  }
  auto seen = server->requests();
  ASSERT_EQ(seen.size(), steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(seen[i].method, steps[i].method) << i;
    EXPECT_EQ(seen[i].target, steps[i].path) << i;
    EXPECT_EQ(seen[i].body, steps[i].body) << i;
    EXPECT_EQ(seen[i].Header("x-step"), steps[i].path) << i;
    EXPECT_EQ(seen[i].Header("expect"), "") << i;
  }
  EXPECT_EQ(transport->idle_handles(), 1u);
}

TEST_P(CurlTransportBothFramings, ServerClosingAfterReplyForcesAFreshConnection) {
  ProxyEnvGuard env;
  auto server = StartServer([](const ReceivedRequest& req) {
    Reply reply = Echo(req);
    reply.close_after_reply = true;
    return reply;
  });
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
  for (int i = 0; i < 2; ++i) {
    auto response = transport->Send(request, In(5s));
    ASSERT_TRUE(response.ok()) << response.status().ToString();
  }
  EXPECT_EQ(server->accepted_connections(), 2);
}

TEST_P(CurlTransportBothFramings, SilentServerGivesUnknownOutcomeWithinDeadline) {
  ProxyEnvGuard env;
  auto server = StartServer([](const ReceivedRequest&) {
    Reply reply;
    reply.delay = 20s;  // cut short when the server stops
    return reply;
  });
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
  request.headers = {{"X-Secret-Header", "hdr-s3cr3t"}};
  request.body = "body-s3cr3t";
  const auto start = std::chrono::steady_clock::now();
  auto response = transport->Send(request, In(300ms));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnknownOutcome) << response.status().ToString();
  EXPECT_TRUE(Contains(response.status().message(), "waiting for the response"));
  EXPECT_TRUE(Contains(response.status().message(), "timed out after"));
  EXPECT_FALSE(Contains(response.status().message(), "s3cr3t"));
  EXPECT_LT(elapsed, 5s);
  EXPECT_EQ(server->requests().size(), 1u);  // it did reach the server
}

TEST_P(CurlTransportBothFramings, ServerClosingWithoutReplyGivesUnknownOutcome) {
  ProxyEnvGuard env;
  auto server = StartServer([](const ReceivedRequest&) {
    Reply reply;
    reply.close_without_reply = true;
    return reply;
  });
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
  request.body = "x";
  auto response = transport->Send(request, In(5s));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnknownOutcome) << response.status().ToString();
  EXPECT_TRUE(Contains(response.status().message(), "closed the connection without a response"));
}

TEST_P(CurlTransportBothFramings, IdleConnectionClosedByServerIsReplacedBeforeSending) {
  ProxyEnvGuard env;
  auto server = StartServer([](const ReceivedRequest& req) {
    Reply reply = Echo(req);
    reply.close_quietly_after_reply = true;  // no "Connection: close": the client learns it from the socket
    return reply;
  });
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
  for (int i = 0; i < 3; ++i) {
    request.body = "n" + std::to_string(i);
    auto response = transport->Send(request, In(5s));
    ASSERT_TRUE(response.ok()) << i << ": " << response.status().ToString();
    EXPECT_EQ(response->body, "echo:n" + std::to_string(i));
    EXPECT_FALSE(response->resent) << i << ": replaced before sending, so sent once";
    std::this_thread::sleep_for(50ms);  // the server's close arrives while the connection is idle
  }
  EXPECT_EQ(server->accepted_connections(), 3);
  EXPECT_EQ(server->requests().size(), 3u);  // each request reached the server once
}

// A reused connection that dies after the request went out, before any
// response byte: the request is tried once more on a fresh connection (as
// libcurl does), and when that dies too the outcome is unknown.
TEST_P(CurlTransportBothFramings, ReusedConnectionDyingUnansweredIsRetriedOnceThenUnknownOutcome) {
  ProxyEnvGuard env;
  std::atomic<int> calls{0};
  auto server = StartServer([&calls](const ReceivedRequest& req) {
    Reply reply = Echo(req);
    reply.close_without_reply = calls.fetch_add(1) > 0;
    return reply;
  });
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
  request.body = "x";
  auto response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  response = transport->Send(request, In(5s));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnknownOutcome) << response.status().ToString();
  EXPECT_EQ(server->requests().size(), 3u);
  EXPECT_EQ(server->accepted_connections(), 2);
}

// Issue #19: the silent re-send on a fresh connection is not hidden. The server
// reads the second request and drops the reused connection unanswered (as if it
// died after the request arrived, maybe applied); the transport sends the
// request again on a fresh connection and the answer to that copy comes back
// marked `resent`: an earlier copy may have reached the server.
TEST_P(CurlTransportBothFramings, ResendOnFreshConnectionAfterReusedOneDiedIsMarkedResent) {
  ProxyEnvGuard env;
  std::atomic<int> calls{0};
  auto server = StartServer([&calls](const ReceivedRequest& req) {
    const int n = calls.fetch_add(1);
    Reply reply = Echo(req);
    if (n == 1) reply.close_without_reply = true;  // the first copy arrived; the connection dies
    if (n == 2) {                                  // the second copy: refused because the first applied
      reply.status = 400;
      reply.reason = "Bad Request";
      reply.body = R"({"__type":"ConditionalCheckFailedException"})";
    }
    return reply;
  });
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
  request.body = "first";
  auto response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_FALSE(response->resent) << "a plain exchange on a fresh connection";

  request.body = "conditional-write";
  response = transport->Send(request, In(5s));  // on the reused connection, which dies
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 400);
  EXPECT_TRUE(response->resent) << "the request went out twice; the answer may be to a duplicate";
  auto seen = server->requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].body, "conditional-write");
  EXPECT_EQ(seen[2].body, "conditional-write");
  EXPECT_EQ(server->accepted_connections(), 2);

  // The flag belongs to that one Send: the next one on the (now reused) fresh connection is plain.
  request.body = "next";
  response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body, "echo:next");
  EXPECT_FALSE(response->resent);
  EXPECT_EQ(server->accepted_connections(), 2);
}

TEST_P(CurlTransportBothFramings, ChunkedClosedDelimitedAndInterimResponsesAreRead) {
  ProxyEnvGuard env;
  auto server = StartServer([](const ReceivedRequest& req) {
    Reply reply;
    if (req.target == "/chunked") {
      reply.raw =
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: chunked\r\n\r\n"
          "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    } else if (req.target == "/interim") {
      reply.raw =
          "HTTP/1.1 100 Continue\r\n\r\n"
          "HTTP/1.1 201 Created\r\nContent-Length: 4\r\nX-Kind: interim\r\n\r\ndone";
    } else {  // no Content-Length: the body ends when the server closes
      reply.raw = "HTTP/1.1 200 OK\r\nConnection: close\r\nX-Kind: eof\r\n\r\nuntil the end";
      reply.close_after_reply = true;
    }
    return reply;
  });
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  request.method = "GET";
  ASSERT_TRUE(request.SetUrl(server->Url("/chunked")).ok());
  auto response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello world");
  EXPECT_EQ(response->Header("x-kind"), "chunked");

  ASSERT_TRUE(request.SetUrl(server->Url("/interim")).ok());
  response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, "done");
  EXPECT_EQ(response->Header("x-kind"), "interim");

  ASSERT_TRUE(request.SetUrl(server->Url("/eof")).ok());
  response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body, "until the end");
  EXPECT_EQ(server->accepted_connections(), 1);  // chunked and interim kept the connection

  // The connection closed with the body: the next request opens a new one.
  ASSERT_TRUE(request.SetUrl(server->Url("/chunked")).ok());
  response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(server->accepted_connections(), 2);
}

TEST_P(CurlTransportBothFramings, GarbageResponseIsAnErrorAndTheConnectionIsDropped) {
  ProxyEnvGuard env;
  std::atomic<int> calls{0};
  auto server = StartServer([&calls](const ReceivedRequest& req) {
    Reply reply = Echo(req);
    if (calls.fetch_add(1) == 0) reply.raw = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
    return reply;
  });
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
  request.body = "x";
  auto response = transport->Send(request, In(5s));
  ASSERT_FALSE(response.ok());
  if (GetParam()) {
    EXPECT_EQ(response.status().code(), StatusCode::kUnknownOutcome) << response.status().ToString();
    EXPECT_TRUE(Contains(response.status().message(), "malformed response"));
  }
  response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body, "echo:x");
  EXPECT_EQ(server->accepted_connections(), 2);
}

TEST_P(CurlTransportBothFramings, RefusedConnectionIsUnavailable) {
  ProxyEnvGuard env;
  auto transport = MakeTransport();
  ASSERT_TRUE(transport);
  const int port = ClosedPort();
  Request request;
  ASSERT_TRUE(request.SetUrl("http://127.0.0.1:" + std::to_string(port) + "/").ok());
  auto response = transport->Send(request, In(5s));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable) << response.status().ToString();
  EXPECT_TRUE(
      Contains(response.status().message(), "connect to 127.0.0.1:" + std::to_string(port) + " refused"));
}

TEST_P(CurlTransportBothFramings, ConnectTimeoutIsUnavailableAndCappedByOption) {
  ProxyEnvGuard env;
  BlackholeListener blackhole;
  CurlOptions options;
  options.max_connect_timeout = 100ms;
  auto transport = MakeTransport(options);
  ASSERT_TRUE(transport);
  Request request;
  ASSERT_TRUE(request.SetUrl("http://127.0.0.1:" + std::to_string(blackhole.port()) + "/").ok());
  request.body = "never sent";
  const auto start = std::chrono::steady_clock::now();
  auto response = transport->Send(request, In(4s));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable) << response.status().ToString();
  EXPECT_TRUE(Contains(response.status().message(), "before the request was sent"));
  EXPECT_LT(elapsed, 3s);  // the 100 ms connect cap, not the 4 s deadline, ended it
}

TEST_P(CurlTransportBothFramings, DeadlineShorterThanConnectCapEndsConnect) {
  ProxyEnvGuard env;
  BlackholeListener blackhole;
  auto transport = MakeTransport();  // 2 s connect cap
  ASSERT_TRUE(transport);
  Request request;
  ASSERT_TRUE(request.SetUrl("http://127.0.0.1:" + std::to_string(blackhole.port()) + "/").ok());
  auto response = transport->Send(request, In(150ms));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable) << response.status().ToString();
  EXPECT_TRUE(Contains(response.status().message(), "timed out after"));
}

// The deadline is read on the clock the options give (issue #22: clocks only
// through the injected interface), never on the system clock behind its back.
TEST_P(CurlTransportBothFramings, DeadlineIsMeasuredOnTheInjectedClock) {
  ProxyEnvGuard env;
  auto server = StartServer(Echo);
  // An hour behind the system clock: its deadlines have passed on the system clock.
  FakeClock clock(SystemClock::Instance()->Now() - std::chrono::hours(1));
  CurlOptions options;
  options.clock = &clock;
  auto transport = MakeTransport(options);
  ASSERT_TRUE(server && transport);
  Request request;
  ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
  const Deadline deadline = Deadline::After(clock, 5s);
  auto response = transport->Send(request, deadline);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  clock.Advance(6s);
  response = transport->Send(request, deadline);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(response.status().message(), "deadline passed"));
}

TEST_P(CurlTransportBothFramings, ExpiredDeadlineIsUnavailableWithoutContactingServer) {
  ProxyEnvGuard env;
  auto server = StartServer(Echo);
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
  auto response = transport->Send(request, Deadline::At(SystemClock::Instance()->Now() - 1ms));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(response.status().message(), "deadline passed"));
  response = transport->Send(request, In(0ns));
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  std::this_thread::sleep_for(50ms);  // let a (wrong) connection attempt show up
  EXPECT_EQ(server->accepted_connections(), 0);
}

TEST_P(CurlTransportBothFramings, HttpsToPlainTextServerFailsTlsAsUnavailable) {
  ProxyEnvGuard env;
  auto server = StartServer(Echo);
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  ASSERT_TRUE(request.SetUrl("https://127.0.0.1:" + std::to_string(server->port()) + "/").ok());
  auto response = transport->Send(request, In(3s));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable) << response.status().ToString();
  EXPECT_TRUE(Contains(response.status().message(), "TLS handshake"));
  EXPECT_TRUE(server->requests().empty());  // never downgraded to plain http
}

TEST(Unit, CurlTransportTlsVerificationIsOnByDefault) {
  CurlOptions options;
  EXPECT_TRUE(options.verify_tls);
  EXPECT_TRUE(options.ca_bundle.empty());
}

TEST(Unit, CurlTransportMissingCaBundleIsInvalidArgumentNamingIt) {
  CurlOptions options;
  options.ca_bundle = "/nonexistent/dynatroni-ca.pem";
  auto transport = CurlTransport::Create(options);
  ASSERT_FALSE(transport.ok());
  EXPECT_EQ(transport.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(transport.status().message(), "ca_bundle"));
  EXPECT_TRUE(Contains(transport.status().message(), "/nonexistent/dynatroni-ca.pem"));

  options.ca_bundle = "/tmp";  // a directory is not a bundle
  transport = CurlTransport::Create(options);
  ASSERT_FALSE(transport.ok());
  EXPECT_TRUE(Contains(transport.status().message(), "ca_bundle"));
}

TEST(Unit, CurlTransportReadableCaBundleIsAccepted) {
  const std::string path = ::testing::TempDir() + "/dynatroni_ca_bundle_test.pem";
  std::ofstream(path) << "not checked until a TLS handshake\n";
  CurlOptions options;
  options.ca_bundle = path;
  auto transport = CurlTransport::Create(options);
  EXPECT_TRUE(transport.ok()) << transport.status().ToString();
  std::remove(path.c_str());
}

TEST(Unit, CurlTransportBadOptionsAreInvalidArgument) {
  CurlOptions options;
  options.max_connect_timeout = 0ms;
  auto transport = CurlTransport::Create(options);
  ASSERT_FALSE(transport.ok());
  EXPECT_TRUE(Contains(transport.status().message(), "max_connect_timeout"));
  options = CurlOptions{};
  options.user_agent = "x\r\nInjected: 1";
  transport = CurlTransport::Create(options);
  ASSERT_FALSE(transport.ok());
  EXPECT_TRUE(Contains(transport.status().message(), "user_agent"));
}

TEST_P(CurlTransportBothFramings, NonHttpUrlIsInvalidArgument) {
  ProxyEnvGuard env;
  auto transport = MakeTransport();
  ASSERT_TRUE(transport);
  for (const char* url : {"ftp://127.0.0.1/x", "file:///etc/passwd", "127.0.0.1:8000/", "", "gopher://h/"}) {
    // The URL is parsed where the request is built (Request::SetUrl); a request
    // left without an http(s) endpoint is refused by the transport alike.
    Request request;
    const Status set = request.SetUrl(url);
    ASSERT_FALSE(set.ok()) << url;
    EXPECT_EQ(set.code(), StatusCode::kInvalidArgument) << url;
    EXPECT_TRUE(Contains(set.message(), "http:// or https://")) << url;
    auto response = transport->Send(request, In(5s));
    ASSERT_FALSE(response.ok()) << url;
    EXPECT_EQ(response.status().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_TRUE(Contains(response.status().message(), "http:// or https://")) << url;
  }
  Request ftp;
  ftp.endpoint.scheme = "ftp";
  ftp.endpoint.host = "127.0.0.1";
  auto response = transport->Send(ftp, In(5s));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(response.status().message(), "http:// or https://"));
}

TEST_P(CurlTransportBothFramings, HeaderInjectionIsInvalidArgumentAndNotEchoed) {
  ProxyEnvGuard env;
  auto server = StartServer(Echo);
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  Request request;
  ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
  request.headers = {{"X-Token", "s3cr3t\r\nX-Evil: 1"}};
  auto response = transport->Send(request, In(5s));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(response.status().message(), "X-Token"));
  EXPECT_FALSE(Contains(response.status().message(), "s3cr3t"));
  request.headers = {{"Bad Name", "v"}};
  EXPECT_EQ(transport->Send(request, In(5s)).status().code(), StatusCode::kInvalidArgument);
  request.headers = {};
  request.method = "PO ST";
  EXPECT_EQ(transport->Send(request, In(5s)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server->accepted_connections(), 0);
}

TEST_P(CurlTransportBothFramings, HttpProxyEnvironmentRoutesThroughProxy) {
  ProxyEnvGuard env;
  auto proxy = StartServer([](const ReceivedRequest& req) {
    Reply reply;
    reply.body = "via-proxy " + req.method + " " + req.target;
    return reply;
  });
  auto transport = MakeTransport();
  ASSERT_TRUE(proxy && transport);
  ::setenv("http_proxy", proxy->Url("").c_str(), 1);  // restored by env
  Request request;
  ASSERT_TRUE(request.SetUrl("http://dynatroni-proxy-test.invalid:8000/path?q=1")
                  .ok());  // unresolvable: only the proxy can answer
  request.body = "payload";
  auto response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body, "via-proxy POST http://dynatroni-proxy-test.invalid:8000/path?q=1");
  auto seen = proxy->requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "http://dynatroni-proxy-test.invalid:8000/path?q=1");  // absolute form
  EXPECT_EQ(seen[0].body, "payload");

  // no_proxy exempts a host again.
  auto direct = StartServer(Echo);
  ASSERT_TRUE(direct);
  ::setenv("no_proxy", "127.0.0.1", 1);
  ASSERT_TRUE(request.SetUrl(direct->Url("/direct")).ok());
  response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body, "echo:payload");
  EXPECT_EQ(proxy->requests().size(), 1u);
}

// The same silent re-send as ResendOnFreshConnectionAfterReusedOneDiedIsMarkedResent, through an HTTP proxy
// (with a proxy variable set libcurl's HTTP layer carries every request, whatever own_http_framing says).
TEST(Unit, CurlTransportResendThroughHttpProxyIsMarkedResent) {
  ProxyEnvGuard env;
  std::atomic<int> calls{0};
  auto proxy = StartServer([&calls](const ReceivedRequest& req) {
    Reply reply = Echo(req);
    reply.close_without_reply = calls.fetch_add(1) == 1;
    return reply;
  });
  auto transport = MakeTransport();
  ASSERT_TRUE(proxy && transport);
  ::setenv("http_proxy", proxy->Url("").c_str(), 1);  // restored by env
  Request request;
  ASSERT_TRUE(request.SetUrl("http://dynatroni-proxy-test.invalid:8000/")
                  .ok());  // unresolvable: only the proxy can answer
  request.body = "a";
  auto response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_FALSE(response->resent);
  request.body = "b";
  response = transport->Send(request, In(5s));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body, "echo:b");
  EXPECT_TRUE(response->resent);
  EXPECT_EQ(proxy->requests().size(), 3u);
  EXPECT_EQ(proxy->accepted_connections(), 2);
}

TEST_P(CurlTransportBothFramings, ConcurrentSendsFromFourThreadsAllSucceed) {
  ProxyEnvGuard env;
  auto server = StartServer([](const ReceivedRequest& req) {
    Reply reply = Echo(req);
    reply.delay = 5ms;  // make the sends overlap
    return reply;
  });
  auto transport = MakeTransport();
  ASSERT_TRUE(server && transport);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Request request;
        ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
        request.body = std::to_string(t) + "-" + std::to_string(i);
        auto response = transport->Send(request, In(5s));
        if (response.ok() && response->status == 200 && response->body == "echo:" + request.body) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(server->requests().size(), static_cast<size_t>(kThreads * kPerThread));
  // At most one live handle (and connection) per concurrent sender.
  EXPECT_LE(server->accepted_connections(), kThreads);
  EXPECT_LE(transport->idle_handles(), 4u);
}

TEST_P(CurlTransportBothFramings, IdlePoolIsBoundedByMaxIdleConnections) {
  ProxyEnvGuard env;
  auto server = StartServer(Echo);
  CurlOptions options;
  options.max_idle_connections = 0;  // no reuse at all
  auto transport = MakeTransport(options);
  ASSERT_TRUE(server && transport);
  Request request;
  ASSERT_TRUE(request.SetUrl(server->Url("/")).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(transport->Send(request, In(5s)).ok());
  EXPECT_EQ(transport->idle_handles(), 0u);
  EXPECT_EQ(server->accepted_connections(), 2);
}

}  // namespace
}  // namespace dynatroni::http
