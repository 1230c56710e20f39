// File: bench/client_bench.cc
//
// Client-side cost of the C++ DynamoDB client per operation: GetItem, PutItem,
// conditional UpdateItem and Query (16 items), each run `--ops` times after a
// warm-up. CPU is getrusage(RUSAGE_SELF) user+sys of this process, so the
// server (another process) is not counted; peak RSS is VmHWM.
//
//   client_bench --endpoint http://127.0.0.1:PORT --table bench_client --ops 2000
//   client_bench --offline --ops 20000      # fake transport: sign + encode + decode only
//
// Prints one JSON object on stdout. bench/boto3_bench.py runs the same loops with
// boto3 (same table, keys and item sizes); bench/client_overhead.py runs both.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

int BadUsage(const char* msg) {
  std::fprintf(stderr,
               "client_bench: %s\nusage: client_bench (--endpoint URL --table NAME | --offline) "
               "[--ops N] [--warmup N]\n",
               msg);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint, table = "bench_client";
  bool offline = false;
  int ops = 2000, warmup = 100;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--offline") {
      offline = true;
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
  options.credentials = dynatroni::aws::MakeStaticProvider(std::move(creds));
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
    for (int i = 0; i < ops; ++i) errors += loop.op(i) ? 0 : 1;
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
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
