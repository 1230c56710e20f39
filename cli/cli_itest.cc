// The dynatroni command against the local DynamoDB servers (moto, dynalite):
// RunCli in-process, one table per test created with `table create`.
#include "cli/cli.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aws/credentials.h"
#include "dcs/dcs.h"
#include "dcs/dynamo_item_store.h"
#include "http/curl_transport.h"
#include "testing/local_servers.h"

namespace dynatroni::cli {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

struct Ran {
  int rc = -1;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::TestWithParam<testing::LocalServer> {
 protected:
  void SetUp() override {
    aws::Credentials creds;
    creds.access_key_id = "AKIDLOCALTEST";
    creds.secret_access_key = aws::SecretString("local-test-secret");
    auto transport = http::CurlTransport::Create({});
    ASSERT_TRUE(transport.ok());
    dynamodb::ClientOptions o;
    o.region = "us-east-1";
    o.endpoint = GetParam().endpoint;
    o.credentials = aws::MakeStaticProvider(creds);
    o.transport = std::shared_ptr<http::Transport>(std::move(transport).value());
    auto client = dynamodb::Client::Create(std::move(o));
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::shared_ptr<dynamodb::Client>(std::move(client).value());
    table_ = testing::UniqueTableName("cli");
    store_ = std::make_shared<dcs::DynamoItemStore>(client_, table_);
    env_ = {{"AWS_ACCESS_KEY_ID", "AKIDLOCALTEST"},
            {"AWS_SECRET_ACCESS_KEY", "local-test-secret"},
            {"USER", "tester"}};
  }
  void TearDown() override {
    if (client_) (void)client_->DeleteTable(table_, Deadline::After(*SystemClock::Instance(), 10s));
  }

  // Runs `dynatroni ARGS --table T --endpoint-url E --region us-east-1`.
  Ran Run(std::vector<std::string> args, const CliHooks& hooks = {}, const std::string& input = "") {
    for (const std::string& a : {std::string("--table"), table_, std::string("--endpoint-url"),
                                 GetParam().endpoint, std::string("--region"), std::string("us-east-1")}) {
      args.push_back(a);
    }
    std::ostringstream out, err;
    std::istringstream in(input);
    Ran r;
    r.rc = RunCli(args, out, err, in, env_, hooks);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  void CreateTable() {
    auto r = Run({"table", "create"});
    ASSERT_EQ(r.rc, kExitOk) << r.out << r.err;
  }

  std::unique_ptr<dcs::Dcs> Node(const std::string& partition, const std::string& name) {
    dcs::DcsOptions o;
    o.partition = partition;
    o.name = name;
    o.store = store_;
    auto d = dcs::Dcs::Create(std::move(o));
    EXPECT_TRUE(d.ok());
    return std::move(d).value();
  }

  static std::string MemberJson(const std::string& role, int64_t lsn) {
    return json{{"conn_url", "postgres://10.0.0.1:5432/postgres"},
                {"api_url", "http://10.0.0.1:8008/patroni"},
                {"state", role == "primary" ? "running" : "streaming"},
                {"role", role},
                {"version", "4.1.0"},
                {"xlog_location", lsn},
                {"timeline", 3}}
        .dump();
  }

  // Leader node1 (acquired, never renewed) and members node1, node2.
  std::unique_ptr<dcs::Dcs> SetUpCluster(const std::string& partition) {
    auto n1 = Node(partition, "node1");
    auto n2 = Node(partition, "node2");
    EXPECT_TRUE(n1->TouchMember("members/node1", MemberJson("primary", 50331744)).value());
    EXPECT_TRUE(n2->TouchMember("members/node2", MemberJson("replica", 50331744 - 3 * 1048576)).value());
    auto won = n1->AcquireLeader("leader");
    EXPECT_TRUE(won.ok() && *won) << won.status().ToString();
    EXPECT_TRUE(n1->SetValue("config", R"({"ttl":30,"loop_wait":10})", std::nullopt).ok());
    EXPECT_TRUE(n1->Initialize("initialize", "7312345678901234567", true).value());
    EXPECT_TRUE(n1->SetValue("status", R"({"optime":50331744})", std::nullopt).ok());
    return n1;
  }

  std::optional<dcs::StoredItem> Get(const std::string& partition, const std::string& key) {
    auto g = store_->Get(partition, key, Deadline::After(*SystemClock::Instance(), 10s));
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? *g : std::nullopt;
  }

  std::vector<dcs::StoredItem> Items(const std::string& partition) {
    auto q = store_->Query(partition, "", Deadline::After(*SystemClock::Instance(), 10s));
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? *q : std::vector<dcs::StoredItem>{};
  }

  std::shared_ptr<dynamodb::Client> client_;
  std::shared_ptr<dcs::DynamoItemStore> store_;
  std::string table_;
  Env env_;
};

TEST_P(CliTest, TableCreateIsIdempotentAndCheckPasses) {
  auto r = Run({"table", "create"});
  ASSERT_EQ(r.rc, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("creating: key cluster_name (S, HASH) + key (S, RANGE), on-demand"),
            std::string::npos);
  EXPECT_NE(r.out.find("table is ACTIVE after"), std::string::npos);
  EXPECT_NE(r.out.find("Table " + table_ + " created"), std::string::npos) << r.out;
  if (GetParam().supports_ttl) {
    EXPECT_NE(r.out.find("TTL enabled on `ttl`"), std::string::npos) << r.out;
  } else {
    EXPECT_NE(r.out.find("WARNING: this endpoint does not support TTL"), std::string::npos) << r.out;
  }
  auto d = client_->DescribeTable(table_, Deadline::After(*SystemClock::Instance(), 10s));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->billing_mode, "PAY_PER_REQUEST");
  ASSERT_EQ(d->key_schema.size(), 2u);

  r = Run({"table", "create"});
  EXPECT_EQ(r.rc, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("already exists and is correct: nothing changed"), std::string::npos) << r.out;

  r = Run({"table", "check"});
  EXPECT_EQ(r.rc, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("table check: no problems"), std::string::npos) << r.out;

  r = Run({"table", "check", "--json"});
  ASSERT_EQ(r.rc, kExitOk) << r.out << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["problems"], 0);
  EXPECT_EQ(j["billing_mode"], "PAY_PER_REQUEST");
  if (GetParam().supports_ttl) {
    EXPECT_EQ(j["ttl_status"], "ENABLED");
    EXPECT_EQ(j["ttl_attribute"], "ttl");
  }
}

TEST_P(CliTest, TableCreateProvisionedWithPitr) {
  auto r = Run({"table", "create", "--provisioned", "3", "2", "--pitr"});
  ASSERT_EQ(r.rc, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("provisioned 3 RCU / 2 WCU"), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.find("point-in-time recovery enabled") != std::string::npos ||
              r.out.find("does not support point-in-time recovery") != std::string::npos)
      << r.out;
  auto d = client_->DescribeTable(table_, Deadline::After(*SystemClock::Instance(), 10s));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->billing_mode, "PROVISIONED");
  r = Run({"table", "check"});
  EXPECT_EQ(r.rc, kExitOk) << r.out;
  EXPECT_NE(r.out.find("provisioned, 3 RCU / 2 WCU"), std::string::npos) << r.out;
}

TEST_P(CliTest, TableCheckDetectsAWrongKeySchema) {
  dynamodb::CreateTableRequest req;
  req.table = table_;
  req.key_schema = {{"id", "HASH"}};
  req.attributes = {{"id", "N"}};
  auto c = client_->CreateTable(req, Deadline::After(*SystemClock::Instance(), 10s));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(client_->WaitUntilActive(table_, Deadline::After(*SystemClock::Instance(), 30s), 50ms).ok());

  auto r = Run({"table", "check"});
  EXPECT_EQ(r.rc, kExitFailed) << r.out << r.err;
  EXPECT_NE(r.out.find("PROBLEM  key schema"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("is id (N, HASH); Dynatroni needs cluster_name (S, HASH) + key (S, RANGE)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("fix: a key schema cannot be changed"), std::string::npos);
  EXPECT_NE(r.out.find("table check: 1 problem"), std::string::npos);

  r = Run({"table", "check", "--json"});
  EXPECT_EQ(r.rc, kExitFailed);
  EXPECT_EQ(json::parse(r.out)["problems"], 1);

  r = Run({"table", "create"});
  EXPECT_EQ(r.rc, kExitFailed) << r.out;
  EXPECT_NE(r.out.find("already exists with a different key schema: nothing changed"), std::string::npos)
      << r.out;

  r = Run({"doctor"});
  EXPECT_EQ(r.rc, kExitFailed) << r.out;
  EXPECT_NE(r.out.find("FAIL  table schema"), std::string::npos) << r.out;
}

TEST_P(CliTest, TableCheckOfAMissingTableFails) {
  auto r = Run({"table", "check"});
  EXPECT_EQ(r.rc, kExitFailed) << r.out << r.err;
  EXPECT_NE(r.out.find("does not exist"), std::string::npos);
  EXPECT_NE(r.out.find("fix: dynatroni table create --table " + table_), std::string::npos);
  r = Run({"status", "--cluster", "c1"});
  EXPECT_EQ(r.rc, kExitRuntime) << r.out << r.err;
  EXPECT_NE(r.err.find("fix: create the table"), std::string::npos) << r.err;
}

TEST_P(CliTest, StatusShowsLeaseMembersKeysAndLeftovers) {
  CreateTable();
  auto n1 = SetUpCluster("c1");
  // A leftover: an item whose DynamoDB ttl is in the past.
  dcs::Mutation m;
  m.value = "old";
  m.ttl_epoch_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() -
      3600;
  ASSERT_TRUE(store_
                  ->Write("c1", "members/gone", m, dcs::Precondition::None(),
                          Deadline::After(*SystemClock::Instance(), 10s))
                  .ok());

  ASSERT_TRUE(n1->SetValue("sync", R"({"leader":"node1","sync_standby":"node2"})", std::nullopt).ok());

  auto r = Run({"status", "--cluster", "c1"});
  ASSERT_EQ(r.rc, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("Leader: node1  term 1  version 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("node1   leader"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("observed age unknown (first observation)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("by the writer's wall clock"), std::string::npos);
  EXPECT_NE(r.out.find("node2   sync_standby"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("streaming"), std::string::npos);
  EXPECT_NE(r.out.find("initialize  "), std::string::npos);
  EXPECT_NE(r.out.find("7312345678901234567"), std::string::npos);
  EXPECT_NE(r.out.find("Leftovers (1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("members/gone  ttl passed"), std::string::npos) << r.out;

  r = Run({"status", "--cluster", "c1", "--json"});
  ASSERT_EQ(r.rc, kExitOk) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["cluster"], "c1");
  EXPECT_EQ(j["leader"]["name"], "node1");
  EXPECT_EQ(j["leader"]["term"], 1);
  EXPECT_EQ(j["leader"]["state"], "held");
  EXPECT_TRUE(j["leader"]["first_observation"].get<bool>());
  EXPECT_TRUE(j["leader"]["observed_age_ms"].is_null());
  EXPECT_EQ(j["leader"]["expires_within_ms"], 30000);
  ASSERT_EQ(j["members"].size(), 3u);  // gone, node1, node2 (sorted by key)
  json node2;
  for (const auto& mm : j["members"]) {
    if (mm["name"] == "node2") node2 = mm;
  }
  EXPECT_EQ(node2["role"], "sync_standby");
  EXPECT_EQ(node2["reported_role"], "replica");
  EXPECT_EQ(node2["state"], "streaming");
  EXPECT_EQ(node2["timeline"], 3);
  EXPECT_EQ(node2["lag_bytes"], 3 * 1048576);
  EXPECT_EQ(j["keys"]["config"]["value"]["ttl"], 30);
  EXPECT_EQ(j["keys"]["sync"]["value"]["sync_standby"], "node2");
  EXPECT_TRUE(j["keys"]["failover"].is_null());
  ASSERT_EQ(j["leftovers"].size(), 1u);
  EXPECT_EQ(j["leftovers"][0]["key"], "members/gone");

  // --watch keeps observations: the second refresh knows the lease's observed age.
  FakeClock clock;
  clock.SetWall(std::chrono::system_clock::now());
  CliHooks hooks;
  hooks.clock = &clock;
  r = Run({"status", "--cluster", "c1", "--json", "--watch", "4", "--count", "2"}, hooks);
  ASSERT_EQ(r.rc, kExitOk) << r.err;
  std::stringstream lines(r.out);
  std::string first, second, extra;
  ASSERT_TRUE(std::getline(lines, first));
  ASSERT_TRUE(std::getline(lines, second));
  EXPECT_FALSE(std::getline(lines, extra)) << "one JSON document per refresh";
  json a = json::parse(first), b = json::parse(second);
  EXPECT_EQ(a["refresh"], 1);
  EXPECT_TRUE(a["leader"]["first_observation"].get<bool>());
  EXPECT_FALSE(b["leader"]["first_observation"].get<bool>());
  EXPECT_EQ(b["leader"]["observed_age_ms"], 4000);
  EXPECT_EQ(b["leader"]["expires_within_ms"], 26000);
  EXPECT_EQ(clock.total_slept(), 4s);

  // Human --watch: the second refresh shows the observed age.
  r = Run({"status", "--cluster", "c1", "--watch", "31", "--count", "2"}, hooks);
  ASSERT_EQ(r.rc, kExitOk) << r.err;
  EXPECT_NE(r.out.find("(refresh 2)"), std::string::npos);
  EXPECT_NE(r.out.find("EXPIRED for this observer: version unchanged for 31.0s"), std::string::npos) << r.out;
  (void)n1;
}

TEST_P(CliTest, ListShowsEveryClusterWithItsLeader) {
  CreateTable();
  auto a = SetUpCluster("alpha");
  auto b = Node("prod/beta", "b1");
  ASSERT_TRUE(b->TouchMember("members/b1", MemberJson("replica", 1)).value());

  auto r = Run({"list"});
  ASSERT_EQ(r.rc, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("Cluster"), std::string::npos);
  EXPECT_NE(r.out.find("alpha      node1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("prod/beta  -"), std::string::npos) << r.out;

  r = Run({"list", "--json"});
  ASSERT_EQ(r.rc, kExitOk) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["clusters"].size(), 2u);
  EXPECT_EQ(j["clusters"][0]["cluster"], "alpha");
  EXPECT_EQ(j["clusters"][0]["leader"], "node1");
  EXPECT_EQ(j["clusters"][0]["members"], 2);
  EXPECT_EQ(j["clusters"][1]["cluster"], "prod/beta");
  EXPECT_TRUE(j["clusters"][1]["leader"].is_null());
  EXPECT_EQ(j["clusters"][1]["members"], 1);

  // The namespace maps to the partition the plugin uses.
  r = Run({"status", "--cluster", "beta", "--namespace", "/prod/", "--json"});
  ASSERT_EQ(r.rc, kExitOk) << r.err;
  EXPECT_EQ(json::parse(r.out)["members"][0]["name"], "b1");

  // So does a Patroni configuration file (scope, namespace, dynamodb: section).
  std::string file = "/tmp/dynatroni-cli-itest-" + table_ + ".yml";
  std::ofstream(file) << "scope: beta\nnamespace: /prod/\nname: b1\ndynamodb:\n  table_name: " << table_
                      << "\n  region: us-east-1\n  endpoint_url: " << GetParam().endpoint << "\n";
  std::ostringstream out, err;
  std::istringstream in;
  int rc = RunCli({"status", "-c", file, "--json"}, out, err, in, env_);
  std::remove(file.c_str());
  ASSERT_EQ(rc, kExitOk) << err.str();
  EXPECT_EQ(json::parse(out.str())["cluster"], "prod/beta");
}

TEST_P(CliTest, MppGroupsAreSelectedWithGroup) {
  CreateTable();
  auto c = Node("citus", "w1");
  ASSERT_TRUE(c->TouchMember("0/members/w1", MemberJson("primary", 5)).value());
  ASSERT_TRUE(c->AcquireLeader("0/leader").value());
  ASSERT_TRUE(c->TouchMember("1/members/w1", MemberJson("replica", 5)).value());

  auto r = Run({"status", "--cluster", "citus"});
  ASSERT_EQ(r.rc, kExitOk) << r.err;
  EXPECT_NE(r.out.find("WARNING: this is an MPP (Citus) cluster with groups 0, 1: use --group N"),
            std::string::npos)
      << r.out;
  r = Run({"status", "--cluster", "citus", "--group", "0", "--json"});
  ASSERT_EQ(r.rc, kExitOk) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["leader"]["name"], "w1");
  EXPECT_EQ(j["members"].size(), 1u);
  EXPECT_EQ(j["group"], 0);
  r = Run({"list"});
  EXPECT_NE(r.out.find("citus (MPP, 2 groups)  w1"), std::string::npos) << r.out;
}

TEST_P(CliTest, DoctorPassesOnAGoodTableAndWritesNothing) {
  CreateTable();
  auto n1 = SetUpCluster("c1");
  auto r = Run({"doctor", "--cluster", "c1"});
  EXPECT_EQ(r.rc, kExitOk) << r.out << r.err;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  for (const char* check : {"PASS  credentials", "PASS  region", "PASS  endpoint", "PASS  table schema",
                            "PASS  consistency    single-Region", "PASS  permission     dynamodb:GetItem",
                            "PASS  permission     dynamodb:Query", "PASS  permission     dynamodb:UpdateItem",
                            "PASS  cluster        c1: leader node1 (term 1), 2 member item(s)"}) {
    EXPECT_NE(r.out.find(check), std::string::npos) << check << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("clock"), std::string::npos);
  EXPECT_EQ(r.out.find("local-test-secret"), std::string::npos) << "never print secrets";
  EXPECT_TRUE(Items("dynatroni-doctor-probe").empty()) << "the probes must write nothing";

  r = Run({"doctor", "--json"});
  EXPECT_EQ(r.rc, kExitOk) << r.out;
  json j = json::parse(r.out);
  EXPECT_NE(j["result"], "FAIL");
  EXPECT_GE(j["checks"].size(), 10u);
  (void)n1;
}

TEST_P(CliTest, DoctorFailsOnAMissingTable) {
  auto r = Run({"doctor"});
  EXPECT_EQ(r.rc, kExitFailed) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS  endpoint"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL  table          table " + table_ + " does not exist"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("fix: dynatroni table create --table " + table_), std::string::npos);
  r = Run({"doctor", "--json"});
  EXPECT_EQ(r.rc, kExitFailed);
  EXPECT_EQ(json::parse(r.out)["result"], "FAIL");
}

// A cluster that ran on the earlier Python DynamoDB DCS with its default table
// (softoboros-patroni) and was moved without pinning table_name: the configured
// table has nothing for it, the old one does, and doctor says so.
TEST_P(CliTest, DoctorWarnsWhenTheClusterIsStillInTheEarlierDefaultTable) {
  const std::string old_table = "softoboros-patroni";
  const std::string cluster = "legacy-" + table_;  // unique: the old table's name is fixed
  auto deadline = [] { return Deadline::After(*SystemClock::Instance(), 10s); };
  auto run_on = [&](std::vector<std::string> args, const std::string& table) {
    for (const std::string& a : {std::string("--table"), table, std::string("--endpoint-url"),
                                 GetParam().endpoint, std::string("--region"), std::string("us-east-1")}) {
      args.push_back(a);
    }
    std::ostringstream out, err;
    std::istringstream in;
    Ran ran;
    ran.rc = RunCli(args, out, err, in, env_);
    ran.out = out.str();
    ran.err = err.str();
    return ran;
  };
  auto created = run_on({"table", "create"}, old_table);
  ASSERT_EQ(created.rc, kExitOk) << created.out << created.err;
  struct DropOldTable {
    dynamodb::Client* client;
    std::string table;
    ~DropOldTable() { (void)client->DeleteTable(table, Deadline::After(*SystemClock::Instance(), 10s)); }
  } drop{client_.get(), old_table};

  // Nothing there for this cluster yet: no migration line.
  CreateTable();
  auto r = Run({"doctor", "--cluster", cluster});
  EXPECT_EQ(r.rc, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("WARN  cluster        no items for cluster " + cluster), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("migration"), std::string::npos) << r.out;

  // Items as the earlier module wrote them (wall-clock microsecond versions, a UUID session, ttl).
  for (const char* key : {"leader", "members/pg1", "config"}) {
    dynamodb::PutItemRequest put;
    put.table = old_table;
    put.item = {{dcs::kPartitionKey, dynamodb::AttributeValue::S(cluster)},
                {dcs::kSortKey, dynamodb::AttributeValue::S(key)},
                {"value", dynamodb::AttributeValue::S("pg1")},
                {"version", dynamodb::AttributeValue::N(int64_t{1764120000000000})},
                {"session", dynamodb::AttributeValue::S("0b5c4e55-0a5e-4f5e-9a39-2d1c8f1b6e01")},
                {"ttl", dynamodb::AttributeValue::N(int64_t{1764120060})}};
    auto w = client_->PutItem(put, deadline());
    ASSERT_TRUE(w.ok()) << w.status().ToString();
  }
  const std::string warning =
      "WARN  migration      table softoboros-patroni (the earlier Python DynamoDB DCS's default table_name) "
      "holds 3 item(s) of cluster " +
      cluster + "; table " + table_ +
      " has none — fix: this cluster has not moved: set dynamodb.table_name: softoboros-patroni (and region: "
      "ca-central-1, failover_time: 60 if the old configuration left them unset), see docs/migration.md";
  r = Run({"doctor", "--cluster", cluster});
  EXPECT_EQ(r.rc, kExitOk) << "a warning, not a failure\n" << r.out << r.err;
  EXPECT_NE(r.out.find(warning), std::string::npos) << r.out;
  r = Run({"doctor", "--cluster", cluster, "--json"});
  json j = json::parse(r.out);
  EXPECT_EQ(j["result"], "WARN") << r.out;
  bool found = false;
  for (const auto& c : j["checks"]) found = found || c["check"] == "migration";
  EXPECT_TRUE(found) << r.out;

  // The configured table does not exist at all (e.g. the default `patroni` never created): still said.
  const std::string missing = table_ + "-missing";
  r = run_on({"doctor", "--cluster", cluster}, missing);
  EXPECT_EQ(r.rc, kExitFailed) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL  table"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("holds 3 item(s) of cluster " + cluster + "; table " + missing + " does not exist"),
            std::string::npos)
      << r.out;

  // Configured to the old table itself: nothing to say.
  r = run_on({"doctor", "--cluster", cluster}, old_table);
  EXPECT_EQ(r.rc, kExitOk) << r.out << r.err;
  EXPECT_EQ(r.out.find("migration"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS  cluster        " + cluster), std::string::npos) << r.out;
}

TEST_P(CliTest, DoctorFailsWhenTheEndpointIsUnreachable) {
  std::vector<std::string> args = {"doctor",   "--table",  table_, "--endpoint-url", "http://127.0.0.1:9",
                                   "--region", "us-east-1"};
  std::ostringstream out, err;
  std::istringstream in;
  int rc = RunCli(args, out, err, in, env_);
  EXPECT_EQ(rc, kExitFailed) << out.str();
  EXPECT_NE(out.str().find("FAIL  endpoint"), std::string::npos) << out.str();
}

TEST_P(CliTest, BreakGlassPromotesOverADeadLeader) {
  CreateTable();
  auto n1 = SetUpCluster("c1");  // node1 holds the lease and never renews it
  auto before = Get("c1", "leader");
  ASSERT_TRUE(before && before->live());

  FakeClock clock;
  clock.SetWall(std::chrono::system_clock::now());
  CliHooks hooks;
  hooks.clock = &clock;
  int ticks = 0;
  hooks.on_watch_tick = [&](Duration) { ++ticks; };
  auto r = Run({"break-glass", "promote", "--cluster", "c1", "--member", "node2", "--reason",
                "node1 host lost", "--yes"},
               hooks);
  ASSERT_EQ(r.rc, kExitOk) << r.out << r.err;
  EXPECT_GE(clock.total_slept(), 30s) << "watched a full lease TTL";
  EXPECT_EQ(ticks, 30);
  EXPECT_NE(r.out.find("stuck lease"), std::string::npos);
  EXPECT_NE(r.out.find("30.0s / 30.0s: version 1 unchanged"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Lease removed: tombstone at version 2"), std::string::npos) << r.out;

  auto lease = Get("c1", "leader");
  ASSERT_TRUE(lease);
  EXPECT_FALSE(lease->live()) << "tombstoned";
  EXPECT_EQ(lease->version, before->version + 1);
  EXPECT_EQ(lease->term, before->term) << "the tombstone keeps the term";

  auto failover = Get("c1", "failover");
  ASSERT_TRUE(failover && failover->live());
  EXPECT_EQ(json::parse(*failover->value), (json{{"member", "node2"}}));

  std::optional<dcs::StoredItem> audit;
  for (const auto& it : Items("c1")) {
    if (it.key.rfind("break-glass/", 0) == 0) audit = it;
  }
  ASSERT_TRUE(audit && audit->live());
  EXPECT_EQ(audit->ttl_epoch_s, 0) << "audit items persist";
  json a = json::parse(*audit->value);
  EXPECT_EQ(a["reason"], "node1 host lost");
  EXPECT_EQ(a["old_leader"], "node1");
  EXPECT_EQ(a["old_term"], 1);
  EXPECT_EQ(a["new_term"], 2);
  EXPECT_EQ(a["member"], "node2");
  EXPECT_EQ(a["who"].get<std::string>().rfind("tester@", 0), 0u);
  EXPECT_EQ(a["outcome"].get<std::string>().rfind("done", 0), 0u) << a.dump();

  // node2 can now take the lease, with the next term (after loading the
  // cluster, as every Patroni cycle does: the acquisition names the version).
  auto n2 = Node("c1", "node2");
  ASSERT_TRUE(n2->LoadCluster("").ok());
  auto won = n2->AcquireLeader("leader");
  ASSERT_TRUE(won.ok() && *won) << won.status().ToString();
  EXPECT_EQ(Get("c1", "leader")->term, 2);

  // status shows the audit item.
  r = Run({"status", "--cluster", "c1"});
  EXPECT_NE(r.out.find("Break-glass audit items (1)"), std::string::npos) << r.out;
  (void)n1;
}

TEST_P(CliTest, BreakGlassRefusesWhileTheLeaseIsRenewed) {
  CreateTable();
  auto n1 = SetUpCluster("c1");
  FakeClock clock;
  clock.SetWall(std::chrono::system_clock::now());
  CliHooks hooks;
  hooks.clock = &clock;
  bool renewed = false;
  hooks.on_watch_tick = [&](Duration watched) {
    if (!renewed && watched >= 10s) {  // node1 is alive: its next loop renews
      auto ok = n1->RenewLeader("leader", std::nullopt);
      EXPECT_TRUE(ok.ok() && *ok) << ok.status().ToString();
      renewed = true;
    }
  };
  auto r = Run(
      {"break-glass", "promote", "--cluster", "c1", "--member", "node2", "--reason", "test", "--yes"}, hooks);
  EXPECT_EQ(r.rc, kExitFailed) << r.out << r.err;
  EXPECT_TRUE(renewed);
  EXPECT_NE(r.out.find("REFUSED: the lease was renewed during the watch: version 1 -> 2, held by node1"),
            std::string::npos)
      << r.out;
  EXPECT_LT(clock.total_slept(), 30s) << "refused as soon as the renewal was seen";
  auto lease = Get("c1", "leader");
  ASSERT_TRUE(lease && lease->live());
  EXPECT_EQ(*lease->value, "node1");
  EXPECT_FALSE(Get("c1", "failover")) << "no failover key";
  for (const auto& it : Items("c1")) EXPECT_NE(it.key.rfind("break-glass/", 0), 0u) << "no audit item";
}

TEST_P(CliTest, BreakGlassAsksAndRefusesWhatItCannotDo) {
  CreateTable();
  auto n1 = SetUpCluster("c1");
  FakeClock clock;
  CliHooks hooks;
  hooks.clock = &clock;
  // Declined confirmation: nothing happens, not even the watch.
  auto r =
      Run({"break-glass", "promote", "--cluster", "c1", "--member", "node2", "--reason", "r"}, hooks, "no\n");
  EXPECT_EQ(r.rc, kExitFailed);
  EXPECT_NE(r.out.find("Type 'yes' to continue"), std::string::npos);
  EXPECT_NE(r.out.find("Aborted: nothing was changed."), std::string::npos);
  EXPECT_EQ(clock.total_slept(), 0s);
  // Unknown member, the holder itself, and a free lease.
  r = Run({"break-glass", "promote", "--cluster", "c1", "--member", "node9", "--reason", "r", "--yes"},
          hooks);
  EXPECT_EQ(r.rc, kExitFailed);
  EXPECT_NE(r.out.find("node9 is not a member of cluster c1 (members: node1, node2)"), std::string::npos)
      << r.out;
  r = Run({"break-glass", "promote", "--cluster", "c1", "--member", "node1", "--reason", "r", "--yes"},
          hooks);
  EXPECT_EQ(r.rc, kExitFailed);
  EXPECT_NE(r.out.find("holds the stuck lease itself"), std::string::npos);
  ASSERT_TRUE(n1->ReleaseLeader("leader").value());
  r = Run({"break-glass", "promote", "--cluster", "c1", "--member", "node2", "--reason", "r", "--yes"},
          hooks);
  EXPECT_EQ(r.rc, kExitFailed);
  EXPECT_NE(r.out.find("has no leader lease to break"), std::string::npos) << r.out;
  EXPECT_EQ(clock.total_slept(), 0s);
  // Confirmed with "yes" on the input stream (lease taken again by node1).
  ASSERT_TRUE(n1->TakeLeader("leader").value());
  r = Run({"break-glass", "promote", "--cluster", "c1", "--member", "node2", "--reason", "r"}, hooks,
          "yes\n");
  EXPECT_EQ(r.rc, kExitOk) << r.out << r.err;
  EXPECT_FALSE(Get("c1", "leader")->live());
}

INSTANTIATE_TEST_SUITE_P(Cli, CliTest, ::testing::ValuesIn(testing::LocalServers()),
                         [](const ::testing::TestParamInfo<testing::LocalServer>& p) {
                           return p.param.name;
                         });

}  // namespace
}  // namespace dynatroni::cli
