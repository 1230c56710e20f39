// File: bench/client_bench.cc
//
// Client-side cost of the C++ DynamoDB client per operation: GetItem, PutItem,
// conditional UpdateItem and Query (16 items), each run `--ops` times after a
// warm-up. CPU is getrusage(RUSAGE_SELF) user+sys of this process, so the
// server (another process) is not counted; peak RSS is VmHWM.
//
//   client_bench --endpoint http://127.0.0.1:PORT --table bench_client --ops 2000
//   client_bench --offline --ops 20000      # fake transport: sign + encode + decode only
//   client_bench --offline --ops 1000 --idle-us 3000    # the same, sleeping 3 ms before each
//                                                        # operation (cold caches, as after a round trip)
//   client_bench --endpoint URL --table NAME --floors   # also: what the same request costs
//                                                        # with less than the whole client
//
// --floors (plain-http endpoints only) captures the exact request the client
// sends for each operation and replays it `--ops` times three ways, each doing
// less than the client: through CurlTransport (our HTTP layer on libcurl: no
// signing, no JSON), through a bare libcurl easy handle (no transport wrapper
// either), and through a blocking socket (write the bytes, read one response
// by Content-Length: the kernel's TCP work and nothing else). They show how much
// of the client's CPU per operation is ours and how much any client on libcurl,
// or on any HTTP stack, pays for the same exchange.
//
// Prints one JSON object on stdout. bench/boto3_bench.py runs the same loops with
// boto3 (same table, keys and item sizes); bench/client_overhead.py runs both.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "aws/credentials.h"
#include "core/clock.h"
#include "dynamodb/client.h"
#include "http/curl_transport.h"
#include "http/transport.h"

namespace {

namespace ddb = dynatroni::dynamodb;
using dynatroni::Deadline;
using dynatroni::SystemClock;
using nlohmann::json;

constexpr int kKeys = 16;            // items in the partition (a small Patroni cluster)
constexpr size_t kValueBytes = 200;  // size of the "value" attribute
constexpr const char* kPartition = "bench";

struct CpuWall {
  double cpu_s = 0;
  double wall_s = 0;
};

CpuWall Now() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  const auto wall = std::chrono::steady_clock::now().time_since_epoch();
  return {secs(ru.ru_utime) + secs(ru.ru_stime), std::chrono::duration<double>(wall).count()};
}

// Peak RSS of this process image (VmHWM). Not ru_maxrss: that keeps the parent's
// high-water mark across fork + exec, so a child of a big process reports the parent's.
long PeakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return std::atol(line.c_str() + 6);
  }
  return -1;
}

std::string KeyName(int i) { return "k" + std::to_string(i % kKeys); }

ddb::Item Key(int i) {
  return {{"cluster_name", ddb::AttributeValue::S(kPartition)}, {"key", ddb::AttributeValue::S(KeyName(i))}};
}

ddb::Item FullItem(int i) {
  ddb::Item item = Key(i);
  item["value"] = ddb::AttributeValue::S(std::string(kValueBytes, 'v'));
  item["version"] = ddb::AttributeValue::N(int64_t{i});
  return item;
}

// The DynamoDB JSON of FullItem, for the fake transport's answers.
json ItemJson(int i) {
  return {{"cluster_name", {{"S", kPartition}}},
          {"key", {{"S", KeyName(i)}}},
          {"value", {{"S", std::string(kValueBytes, 'v')}}},
          {"version", {{"N", std::to_string(i)}}}};
}

// Answers like DynamoDB would, without a network: what is left is signing,
// encoding the request and decoding the answer.
class CannedTransport final : public dynatroni::http::Transport {
 public:
  CannedTransport() {
    json items = json::array();
    for (int i = 0; i < kKeys; ++i) items.push_back(ItemJson(i));
    get_ = json{{"Item", ItemJson(3)}}.dump();
    query_ = json{{"Items", items}, {"Count", kKeys}, {"ScannedCount", kKeys}}.dump();
  }
  dynatroni::Result<dynatroni::http::Response> Send(const dynatroni::http::Request& request,
                                                    Deadline /*deadline*/) override {
    std::string_view target;
    for (const auto& [name, value] : request.headers) {
      if (name == "X-Amz-Target" || name == "x-amz-target") target = value;
    }
    dynatroni::http::Response r;
    r.status = 200;
    r.headers = {{"content-type", "application/x-amz-json-1.0"}};
    if (target.ends_with(".GetItem")) {
      r.body = get_;
    } else if (target.ends_with(".Query")) {
      r.body = query_;
    } else {
      r.body = "{}";
    }
    return r;
  }

 private:
  std::string get_, query_;
};

Deadline Soon() { return Deadline::After(*SystemClock::Instance(), std::chrono::seconds(10)); }

struct Loop {
  std::string name;
  std::function<bool(int)> op;  // false on error
};

std::vector<Loop> Loops(ddb::Client& c, const std::string& table) {
  std::vector<Loop> loops;
  loops.push_back({"GetItem", [&c, table](int i) {
                     ddb::GetItemRequest r;
                     r.table = table;
                     r.key = Key(i);
                     return c.GetItem(r, Soon()).ok();
                   }});
  loops.push_back({"PutItem", [&c, table](int i) {
                     ddb::PutItemRequest r;
                     r.table = table;
                     r.item = FullItem(i);
                     return c.PutItem(r, Soon()).ok();
                   }});
  loops.push_back({"UpdateItem", [&c, table](int i) {
                     ddb::UpdateItemRequest r;
                     r.table = table;
                     r.key = Key(i);
                     r.update_expression = "SET #v = :v, #n = :n";
                     r.condition.condition = "attribute_exists(#k)";
                     r.condition.names = {{"#v", "value"}, {"#n", "version"}, {"#k", "key"}};
                     r.condition.values = {{":v", ddb::AttributeValue::S(std::string(kValueBytes, 'u'))},
                                           {":n", ddb::AttributeValue::N(int64_t{i})}};
                     auto res = c.UpdateItem(r, Soon());
                     return res.ok() && !res->condition_failed;
                   }});
  loops.push_back({"Query", [&c, table](int /*i*/) {
                     ddb::QueryRequest r;
                     r.table = table;
                     r.key_condition.condition = "#p = :p";
                     r.key_condition.names = {{"#p", "cluster_name"}};
                     r.key_condition.values = {{":p", ddb::AttributeValue::S(kPartition)}};
                     auto res = c.Query(r, Soon());
                     return res.ok() && res->items.size() == kKeys;
                   }});
  return loops;
}

// Passes requests on and keeps a copy of the last one (for --floors).
class RecordingTransport final : public dynatroni::http::Transport {
 public:
  explicit RecordingTransport(std::shared_ptr<dynatroni::http::Transport> inner) : inner_(std::move(inner)) {}
  dynatroni::Result<dynatroni::http::Response> Send(const dynatroni::http::Request& request,
                                                    Deadline deadline) override {
    last = request;
    return inner_->Send(request, deadline);
  }
  std::optional<dynatroni::http::Request> last;

 private:
  std::shared_ptr<dynatroni::http::Transport> inner_;
};

// CPU microseconds per call of `send` over `ops` calls (after 20 unmeasured ones);
// nullopt if a call fails.
std::optional<double> CpuPerCall(int ops, const std::function<bool()>& send) {
  for (int i = 0; i < 20; ++i) {
    if (!send()) return std::nullopt;
  }
  const auto t0 = Now();
  for (int i = 0; i < ops; ++i) {
    if (!send()) return std::nullopt;
  }
  const auto t1 = Now();
  return (t1.cpu_s - t0.cpu_s) * 1e6 / ops;
}

size_t DiscardBytes(char* /*data*/, size_t size, size_t nmemb, void* /*userdata*/) { return size * nmemb; }

// The request through a bare libcurl easy handle: same headers and body, output discarded.
std::optional<double> LibcurlFloor(const dynatroni::http::Request& request, int ops) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return std::nullopt;
  curl_slist* headers = nullptr;
  std::string line;
  for (const auto& [name, value] : request.headers) {
    line.assign(name).append(": ").append(value);
    headers = curl_slist_append(headers, line.c_str());
  }
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, request.url().c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &DiscardBytes);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &DiscardBytes);
  auto result = CpuPerCall(ops, [curl] {
    long status = 0;
    return curl_easy_perform(curl) == CURLE_OK &&
           curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200;
  });
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  return result;
}

// The request's bytes over one kept-alive blocking socket: the floor of any HTTP
// client. Only for http://IPv4:port/ endpoints.
class RawHttp {
 public:
  ~RawHttp() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool Connect(const std::string& url, const dynatroni::http::Request& request) {
    constexpr std::string_view kScheme = "http://";
    if (!url.starts_with(kScheme)) return false;
    const std::string host_port = url.substr(kScheme.size(), url.find('/', kScheme.size()) - kScheme.size());
    const size_t colon = host_port.rfind(':');
    if (colon == std::string::npos) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::atoi(host_port.c_str() + colon + 1)));
    if (inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) return false;
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (fd_ < 0 || ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      return false;
    }
    wire_ = "POST / HTTP/1.1\r\nHost: " + host_port + "\r\nAccept: */*\r\n";
    for (const auto& [name, value] : request.headers)
      wire_.append(name).append(": ").append(value).append("\r\n");
    wire_ += "Content-Length: " + std::to_string(request.body.size()) + "\r\n\r\n" + request.body;
    return true;
  }
  // One request and its whole response; false on any error or a non-200 status.
  bool RoundTrip() {
    if (::send(fd_, wire_.data(), wire_.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(wire_.size()))
      return false;
    size_t got = 0;
    size_t need = 0;  // header length + Content-Length, once the header is in
    while (need == 0 || got < need) {
      if (got == sizeof buf_) return false;
      const ssize_t n = ::recv(fd_, buf_ + got, sizeof buf_ - got, 0);
      if (n <= 0) return false;
      got += static_cast<size_t>(n);
      if (need == 0) {
        const std::string_view head(buf_, got);
        const size_t end = head.find("\r\n\r\n");
        if (end == std::string_view::npos) continue;
        if (!head.starts_with("HTTP/1.1 200")) return false;
        size_t length = 0;
        for (size_t line = head.find("\r\n") + 2; line < end; line = head.find("\r\n", line) + 2) {
          constexpr std::string_view kLength = "content-length:";
          if (end - line > kLength.size() && strncasecmp(buf_ + line, kLength.data(), kLength.size()) == 0) {
            length = std::strtoul(buf_ + line + kLength.size(), nullptr, 10);
          }
        }
        need = end + 4 + length;
      }
    }
    return got == need;
  }

 private:
  int fd_ = -1;
  std::string wire_;
  char buf_[1 << 16];
};

std::optional<double> SocketFloor(const dynatroni::http::Request& request, int ops) {
  auto raw = std::make_unique<RawHttp>();
  if (!raw->Connect(request.url(), request)) return std::nullopt;
  return CpuPerCall(ops, [&raw] { return raw->RoundTrip(); });
}

// Captures each operation's request and replays it through less and less of the stack.
json Floors(const std::string& endpoint, const std::string& table,
            const std::shared_ptr<dynatroni::http::Transport>& curl_transport,
            std::shared_ptr<dynatroni::aws::CredentialsProvider> credentials, int ops) {
  auto recorder = std::make_shared<RecordingTransport>(curl_transport);
  ddb::ClientOptions options;
  options.region = "us-east-1";
  options.endpoint = endpoint;
  options.credentials = std::move(credentials);
  options.transport = recorder;
  auto client = ddb::Client::Create(std::move(options));
  json out = json::object();
  if (!client.ok()) return out;
  auto null_or = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  for (const Loop& loop : Loops(**client, table)) {
    recorder->last.reset();
    if (!loop.op(0) || !recorder->last) continue;
    const dynatroni::http::Request request = *recorder->last;
    out[loop.name] = {
        {"transport_cpu_us_per_op", null_or(CpuPerCall(ops,
                                                       [&] {
                                                         auto r = curl_transport->Send(request, Soon());
                                                         return r.ok() && r->status == 200;
                                                       }))},
        {"libcurl_cpu_us_per_op", null_or(LibcurlFloor(request, ops))},
        {"socket_cpu_us_per_op", null_or(SocketFloor(request, ops))},
    };
  }
  return out;
}

int BadUsage(const char* msg) {
  std::fprintf(stderr,
               "client_bench: %s\nusage: client_bench (--endpoint URL --table NAME | --offline) "
               "[--ops N] [--warmup N] [--idle-us N] [--floors]\n",
               msg);
  return 2;
}

int Run(int argc, char** argv) {
  std::string endpoint, table = "bench_client";
  bool offline = false;
  bool floors = false;
  int ops = 2000, warmup = 100, idle_us = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--offline") {
      offline = true;
    } else if (a == "--idle-us" && has_value) {
      idle_us = std::atoi(argv[++i]);
    } else if (a == "--floors") {
      floors = true;
    } else if (a == "--endpoint" && has_value) {
      endpoint = argv[++i];
    } else if (a == "--table" && has_value) {
      table = argv[++i];
    } else if (a == "--ops" && has_value) {
      ops = std::atoi(argv[++i]);
    } else if (a == "--warmup" && has_value) {
      warmup = std::atoi(argv[++i]);
    } else {
      return BadUsage(("unknown or incomplete argument " + a).c_str());
    }
  }
  if (offline == !endpoint.empty()) return BadUsage("give exactly one of --endpoint and --offline");
  if (ops <= 0 || warmup < 0) return BadUsage("--ops must be > 0 and --warmup >= 0");
  if (floors && offline) return BadUsage("--floors needs --endpoint");

  std::shared_ptr<dynatroni::http::Transport> transport;
  if (offline) {
    transport = std::make_shared<CannedTransport>();
    endpoint = "http://127.0.0.1:1";
  } else {
    auto curl = dynatroni::http::CurlTransport::Create(dynatroni::http::CurlOptions{});
    if (!curl.ok()) return BadUsage(curl.status().ToString().c_str());
    transport = std::move(curl).value();
  }
  dynatroni::aws::Credentials creds;
  creds.access_key_id = "AKIDLOCALTEST";
  creds.secret_access_key = dynatroni::aws::SecretString("local-test-secret");
  creds.source = "static";
  ddb::ClientOptions options;
  options.region = "us-east-1";
  options.endpoint = endpoint;
  auto credentials = dynatroni::aws::MakeStaticProvider(std::move(creds));
  options.credentials = credentials;
  options.transport = transport;
  auto client = ddb::Client::Create(std::move(options));
  if (!client.ok()) return BadUsage(client.status().ToString().c_str());

  const long rss_before_kb = PeakRssKb();
  json out = {{"client", "dynatroni"}, {"mode", offline ? "offline" : "loopback"}, {"ops", ops}};
  for (const Loop& loop : Loops(**client, table)) {
    for (int i = 0; i < warmup; ++i) {
      if (!loop.op(i)) return BadUsage((loop.name + " failed (is the table there?)").c_str());
    }
    const auto t0 = Now();
    int errors = 0;
    for (int i = 0; i < ops; ++i) {
      if (idle_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(idle_us));
      errors += loop.op(i) ? 0 : 1;
    }
    const auto t1 = Now();
    out["operations"][loop.name] = {{"cpu_us_per_op", (t1.cpu_s - t0.cpu_s) * 1e6 / ops},
                                    {"wall_us_per_op", (t1.wall_s - t0.wall_s) * 1e6 / ops},
                                    {"errors", errors}};
  }
  out["rss_at_start_kb"] = rss_before_kb;
  out["peak_rss_kb"] = PeakRssKb();
  json requests = json::object();
  for (const auto& [op, n] : (*client)->stats().requests_by_operation) requests[op] = n;
  out["requests_by_operation"] = requests;
  // After the client's loops, so that their peak RSS is the client's alone.
  if (floors) out["floors"] = Floors(endpoint, table, transport, credentials, ops);
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {  // e.g. nlohmann::json or std::bad_alloc: one line, not an abort
    std::fprintf(stderr, "client_bench: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "client_bench: unknown exception\n");
  }
  return 1;
}
