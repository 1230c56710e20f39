// File: examples/client_demo.cc
//
// A short walk through the DynamoDB client doing what the leader lease does,
// against any DynamoDB endpoint (`make demo` runs it against a local moto):
// create a table, acquire the `leader` item with attribute_not_exists, renew it
// with a version condition, show a second node's refused acquisition (with the
// current item the server returns), query the partition consistently, then
// delete the table. Each step prints its elapsed time.
//
//   dynatroni_client_demo [--endpoint URL] [--region REGION] [--table NAME]
//
// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN);
// region and endpoint from the flags or the usual AWS_* variables. Secrets are never printed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "aws/credentials.h"
#include "aws/endpoint.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"
#include "dynamodb/attribute_value.h"
#include "dynamodb/client.h"
#include "http/curl_transport.h"

namespace {

using dynatroni::Deadline;
using dynatroni::Status;
using dynatroni::SystemClock;
using dynatroni::dynamodb::AttributeValue;
using dynatroni::dynamodb::Item;

constexpr auto kStepTimeout = std::chrono::seconds(10);

struct Flags {
  std::string endpoint;
  std::string region;
  std::string table;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string* target = nullptr;
    if (arg == "--endpoint") {
      target = &flags->endpoint;
    } else if (arg == "--region") {
      target = &flags->region;
    } else if (arg == "--table") {
      target = &flags->table;
    } else {
      std::fprintf(stderr, "unknown argument '%s'\nusage: %s [--endpoint URL] [--region R] [--table NAME]\n",
                   arg.c_str(), argv[0]);
      return false;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", arg.c_str());
      return false;
    }
    *target = argv[++i];
  }
  return true;
}

std::string Render(const Item& item) {
  std::string out = "{";
  for (const auto& [name, value] : item) {
    if (out.size() > 1) out += ", ";
    out += name + ": " + dynatroni::dynamodb::DebugString(value);
  }
  return out + "}";
}

// Prints one step: "[  +12.3 ms | total 40.1 ms] what: detail".
class Steps {
 public:
  Steps() : start_(Now()), last_(start_) {}
  void Print(const std::string& what, const std::string& detail) {
    const auto now = Now();
    std::printf("[%8.1f ms | total %8.1f ms] %-28s %s\n", Ms(now - last_), Ms(now - start_), what.c_str(),
                detail.c_str());
    std::fflush(stdout);
    last_ = now;
  }
  void Restart() { last_ = Now(); }

 private:
  static std::chrono::steady_clock::time_point Now() { return std::chrono::steady_clock::now(); }
  static double Ms(std::chrono::steady_clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  }
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
};

int Fail(const std::string& step, const Status& status) {
  std::fprintf(stderr, "demo: %s failed: %s\n", step.c_str(), status.ToString().c_str());
  return 1;
}

Deadline StepDeadline() { return Deadline::After(*SystemClock::Instance(), kStepTimeout); }

int RunDemo(dynatroni::dynamodb::Client& client, const std::string& table, Steps& steps) {
  namespace ddb = dynatroni::dynamodb;
  const std::string cluster = "demo-cluster";
  const Item leader_key = {{"cluster_name", AttributeValue::S(cluster)},
                           {"key", AttributeValue::S("leader")}};

  // 1. node-a acquires the lease: only if nobody holds it.
  ddb::PutItemRequest acquire;
  acquire.table = table;
  acquire.item = leader_key;
  acquire.item["value"] = AttributeValue::S("node-a");
  acquire.item["session"] = AttributeValue::S("node-a");
  acquire.item["version"] = AttributeValue::N(int64_t{1});
  acquire.condition.condition = "attribute_not_exists(#k)";
  acquire.condition.names = {{"#k", "key"}};
  auto acquired = client.PutItem(acquire, StepDeadline());
  if (!acquired.ok()) return Fail("acquire", acquired.status());
  if (acquired->condition_failed) {
    std::fprintf(stderr, "demo: the new table already had a leader item\n");
    return 1;
  }
  steps.Print("node-a acquires leader", "ok: attribute_not_exists(key), version 1");

  // A member item, so the partition holds more than the lease.
  ddb::PutItemRequest member;
  member.table = table;
  member.item = {{"cluster_name", AttributeValue::S(cluster)},
                 {"key", AttributeValue::S("members/node-a")},
                 {"value", AttributeValue::S(R"({"role":"primary","state":"running"})")},
                 {"version", AttributeValue::N(int64_t{1})}};
  auto member_put = client.PutItem(member, StepDeadline());
  if (!member_put.ok()) return Fail("put member", member_put.status());
  steps.Print("node-a writes its member", "ok: members/node-a");

  // 2. node-a renews: owner = me AND version = the version I last wrote; bump it.
  ddb::UpdateItemRequest renew;
  renew.table = table;
  renew.key = leader_key;
  renew.update_expression = "SET #v = :next";
  renew.condition.condition = "#v = :expected AND #s = :me";
  renew.condition.names = {{"#v", "version"}, {"#s", "session"}};
  renew.condition.values = {{":expected", AttributeValue::N(int64_t{1})},
                            {":next", AttributeValue::N(int64_t{2})},
                            {":me", AttributeValue::S("node-a")}};
  renew.return_values = ddb::ReturnValues::kAllNew;
  auto renewed = client.UpdateItem(renew, StepDeadline());
  if (!renewed.ok()) return Fail("renew", renewed.status());
  if (renewed->condition_failed) {
    std::fprintf(stderr, "demo: the renewal was refused unexpectedly\n");
    return 1;
  }
  steps.Print("node-a renews leader",
              "ok: version 1 -> 2, now " + (renewed->attributes ? Render(*renewed->attributes) : "?"));

  // 3. node-b tries to acquire the held lease: refused, and the server says by whom.
  ddb::PutItemRequest steal = acquire;
  steal.item["value"] = AttributeValue::S("node-b");
  steal.item["session"] = AttributeValue::S("node-b");
  steal.return_old_on_condition_failure = true;
  auto stolen = client.PutItem(steal, StepDeadline());
  if (!stolen.ok()) return Fail("second acquisition", stolen.status());
  if (!stolen->condition_failed) {
    std::fprintf(stderr, "demo: node-b acquired a lease that node-a holds\n");
    return 1;
  }
  steps.Print(
      "node-b tries to acquire",
      "refused (condition failed); current item: " +
          (stolen->attributes ? Render(*stolen->attributes) : std::string("not returned by this server")));

  // 4. One strongly consistent Query of the partition (what a cluster load does).
  ddb::QueryRequest query;
  query.table = table;
  query.key_condition.condition = "cluster_name = :c";
  query.key_condition.values = {{":c", AttributeValue::S(cluster)}};
  query.consistent_read = true;
  auto queried = client.Query(query, StepDeadline());
  if (!queried.ok()) return Fail("query", queried.status());
  steps.Print("query partition (consistent)", std::to_string(queried->items.size()) + " items in " +
                                                  std::to_string(queried->pages) + " page(s)");
  for (const auto& item : queried->items) std::printf("    %s\n", Render(item).c_str());
  if (queried->items.size() != 2) {
    std::fprintf(stderr, "demo: expected 2 items in the partition\n");
    return 1;
  }
  return 0;
}

int Main(int argc, char** argv) {
  namespace ddb = dynatroni::dynamodb;
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  Steps steps;

  const dynatroni::Env env = dynatroni::ProcessEnvironment();  // read once, here
  auto region = dynatroni::aws::ResolveRegion(flags.region, env);
  if (!region.ok()) return Fail("region", region.status());
  auto endpoint = dynatroni::aws::ResolveEndpoint(flags.endpoint, region->region, env);
  if (!endpoint.ok()) return Fail("endpoint", endpoint.status());
  auto transport = dynatroni::http::CurlTransport::Create(dynatroni::http::CurlOptions{});
  if (!transport.ok()) return Fail("transport", transport.status());

  ddb::ClientOptions options;
  options.region = region->region;
  options.endpoint = endpoint->url;
  options.credentials = dynatroni::aws::MakeEnvironmentProvider(env);
  options.transport = std::shared_ptr<dynatroni::http::Transport>(std::move(transport).value());
  auto created_client = ddb::Client::Create(std::move(options));
  if (!created_client.ok()) return Fail("client", created_client.status());
  ddb::Client& client = **created_client;
  steps.Print("client ready", endpoint->url + " (" + endpoint->source + "), region " + region->region + " (" +
                                  region->source + ")");

  const std::string table =
      flags.table.empty() ? "dynatroni_demo_" + std::to_string(static_cast<long>(::getpid())) : flags.table;
  ddb::CreateTableRequest create;
  create.table = table;
  create.key_schema = {{"cluster_name", "HASH"}, {"key", "RANGE"}};
  create.attributes = {{"cluster_name", "S"}, {"key", "S"}};
  auto created = client.CreateTable(create, StepDeadline());
  if (!created.ok()) return Fail("create table", created.status());
  int polls = 0;
  std::string status = created->status;
  const Deadline active_deadline = StepDeadline();
  while (status != "ACTIVE") {
    if (active_deadline.Expired(*SystemClock::Instance())) {
      std::fprintf(stderr, "demo: table %s not ACTIVE in time (last status %s)\n", table.c_str(),
                   status.c_str());
      break;
    }
    SystemClock::Instance()->SleepFor(std::chrono::milliseconds(50));
    auto described = client.DescribeTable(table, StepDeadline());
    if (!described.ok()) return Fail("describe table", described.status());
    status = described->status;
    ++polls;
  }
  steps.Print("create table",
              table + ": " + status + " after " + std::to_string(polls) + " DescribeTable poll(s)");

  const int rc = status == "ACTIVE" ? RunDemo(client, table, steps) : 1;

  steps.Restart();
  const Status deleted = client.DeleteTable(table, StepDeadline());
  if (!deleted.ok()) return Fail("delete table", deleted);
  steps.Print("delete table", table + ": deleted");

  const auto stats = client.stats();
  uint64_t requests = 0;
  for (const auto& [operation, count] : stats.requests_by_operation) requests += count;
  std::printf("demo %s: %llu requests, %llu retries\n", rc == 0 ? "finished" : "FAILED",
              static_cast<unsigned long long>(requests), static_cast<unsigned long long>(stats.retries));
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {  // only std::bad_alloc and the like: the core does not throw
    std::fprintf(stderr, "demo: %s\n", e.what());
    return 1;
  }
}
