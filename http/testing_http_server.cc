#include "http/testing_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

namespace dynatroni::http::testing {
namespace {

constexpr int kPollMs = 20;  // how often blocked threads look at the stop flag
constexpr size_t kMaxHead = size_t{64} * 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Parses the head (request line + headers, without the final CRLFCRLF).
bool ParseHead(std::string_view head, ReceivedRequest& req) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return false;
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  req.version = std::string(line.substr(sp2 + 1));
  if (req.version.rfind("HTTP/", 0) != 0) return false;
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    req.headers.emplace_back(Lower(Trim(line.substr(0, colon))), std::string(Trim(line.substr(colon + 1))));
  }
  return true;
}

}  // namespace

std::string_view ReceivedRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

Result<std::unique_ptr<TestingHttpServer>> TestingHttpServer::Start(Handler handler) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Internal(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    return Internal("binding the test HTTP server failed: " + err);
  }
  return std::unique_ptr<TestingHttpServer>(
      new TestingHttpServer(fd, ntohs(addr.sin_port), std::move(handler)));
}

TestingHttpServer::TestingHttpServer(int listen_fd, int port, Handler handler)
    : listen_fd_(listen_fd), port_(port), handler_(std::move(handler)) {
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TestingHttpServer::~TestingHttpServer() { Stop(); }

void TestingHttpServer::Stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  acceptor_.join();  // no new connection threads after this
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(connections_);
  }
  for (std::thread& t : threads) t.join();
  ::close(listen_fd_);
}

std::string TestingHttpServer::Url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

std::vector<ReceivedRequest> TestingHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

bool TestingHttpServer::WaitUnlessStopping(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

void TestingHttpServer::AcceptLoop() {
  while (!stopping_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, kPollMs) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const int index = ++accepted_;
    std::lock_guard<std::mutex> lock(mu_);
    connections_.emplace_back([this, fd, index] { ServeConnection(fd, index); });
  }
}

void TestingHttpServer::ServeConnection(int fd, int index) {
  std::string buffer;
  // Reads more bytes into `buffer`; false on EOF, error or stop.
  auto read_more = [&]() {
    while (!stopping_) {
      pollfd pfd{fd, POLLIN, 0};
      const int ready = ::poll(&pfd, 1, kPollMs);
      if (ready < 0 && errno != EINTR) return false;
      if (ready <= 0) continue;
      char chunk[16384];
      const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(n));
      return true;
    }
    return false;
  };

  bool open = true;
  while (open && !stopping_) {
    size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!buffer.empty() && !(buffer[0] >= 'A' && buffer[0] <= 'Z')) break;  // not HTTP (e.g. TLS)
      if (buffer.size() > kMaxHead || !read_more()) {
        open = false;
        break;
      }
    }
    if (!open) break;
    ReceivedRequest req;
    req.connection = index;
    if (head_end == std::string::npos || !ParseHead(std::string_view{buffer}.substr(0, head_end), req) ||
        !req.Header("transfer-encoding").empty()) {
      SendAll(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      break;
    }
    size_t content_length = 0;
    const std::string_view cl = req.Header("content-length");
    if (!cl.empty()) {
      const auto [ptr, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), content_length);
      if (ec != std::errc() || ptr != cl.data() + cl.size()) {
        SendAll(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        break;
      }
    }
    buffer.erase(0, head_end + 4);
    while (buffer.size() < content_length) {
      if (!read_more()) {
        open = false;
        break;
      }
    }
    if (!open) break;
    req.body = buffer.substr(0, content_length);
    buffer.erase(0, content_length);
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
    }

    const Reply reply = handler_(req);
    if (reply.delay.count() > 0 && !WaitUnlessStopping(reply.delay)) break;
    if (reply.close_without_reply) break;
    if (!reply.raw.empty()) {
      if (!SendAll(fd, reply.raw) || reply.close_after_reply || reply.close_quietly_after_reply) break;
      continue;
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + reply.reason + "\r\n";
    for (const auto& [name, value] : reply.headers)
      out.append(name).append(": ").append(value).append("\r\n");
    out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    if (reply.close_after_reply) out += "Connection: close\r\n";
    out += "\r\n";
    if (req.method != "HEAD") out += reply.body;
    if (!SendAll(fd, out) || reply.close_after_reply || reply.close_quietly_after_reply) break;
  }
  ::close(fd);
}

}  // namespace dynatroni::http::testing
