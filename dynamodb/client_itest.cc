// The DynamoDB client against real DynamoDB implementations (moto in server
// mode and dynalite), started by tools/local_dynamodb.py. Where a server lacks
// a feature (dynalite: transactions, ALL_OLD on condition failure, TTL) the
// test asserts the client still behaves correctly.
#include "dynamodb/client.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dynamodb/client_json.h"
#include "http/curl_transport.h"
#include "testing/local_servers.h"

namespace dynatroni::dynamodb {
namespace {

using dynatroni::testing::LocalServer;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

aws::Credentials LocalCreds() {
  aws::Credentials c;
  c.access_key_id = "AKIDLOCALTEST";
  c.secret_access_key = aws::SecretString("local-test-secret");
  return c;
}

std::unique_ptr<Client> MakeClient(const std::string& endpoint) {
  auto transport = http::CurlTransport::Create(http::CurlOptions{});
  EXPECT_TRUE(transport.ok()) << transport.status().ToString();
  if (!transport.ok()) return nullptr;
  ClientOptions o;
  o.region = "us-east-1";
  o.endpoint = endpoint;
  o.credentials = aws::MakeStaticProvider(LocalCreds());
  o.transport = std::shared_ptr<http::Transport>(std::move(transport).value());
  auto c = Client::Create(std::move(o));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

Item Key(const std::string& pk, const std::string& sk) {
  return {{"cluster_name", AttributeValue::S(pk)}, {"key", AttributeValue::S(sk)}};
}

Item With(Item item, const std::string& name, AttributeValue v) {
  item[name] = std::move(v);
  return item;
}

class DynamoDbIntegration : public ::testing::TestWithParam<LocalServer> {
 protected:
  void SetUp() override {
    client_ = MakeClient(GetParam().endpoint);
    ASSERT_NE(client_, nullptr);
    table_ = dynatroni::testing::UniqueTableName("ddb-itest");
    CreateTableRequest req;
    req.table = table_;
    req.key_schema = {{"cluster_name", "HASH"}, {"key", "RANGE"}};
    req.attributes = {{"cluster_name", "S"}, {"key", "S"}};
    req.on_demand = true;
    auto created = client_->CreateTable(req, Soon());
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    EXPECT_EQ(created->name, table_);
    auto active = client_->WaitUntilActive(table_, Soon(seconds(30)));
    ASSERT_TRUE(active.ok()) << active.status().ToString();
    created_ = true;
  }

  void TearDown() override {
    if (created_) {
      Status s = client_->DeleteTable(table_, Soon());
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
  }

  static Deadline Soon(Duration d = seconds(15)) { return Deadline::After(*SystemClock::Instance(), d); }

  PutItemRequest Put(Item item, std::string condition = "",
                     std::map<std::string, AttributeValue> values = {}) {
    PutItemRequest r;
    r.table = table_;
    r.item = std::move(item);
    r.condition.condition = std::move(condition);
    r.condition.values = std::move(values);
    return r;
  }

  std::optional<Item> Get(const Item& key) {
    GetItemRequest g;
    g.table = table_;
    g.key = key;
    auto r = client_->GetItem(g, Soon());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->item : std::nullopt;
  }

  std::unique_ptr<Client> client_;
  std::string table_;
  bool created_ = false;
};

TEST_P(DynamoDbIntegration, DescribeTableReportsTheSchema) {
  auto d = client_->DescribeTable(table_, Soon());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->name, table_);
  EXPECT_EQ(d->status, "ACTIVE");
  ASSERT_EQ(d->key_schema.size(), 2u);
  EXPECT_EQ(d->key_schema[0].name, "cluster_name");
  EXPECT_EQ(d->key_schema[0].key_type, "HASH");
  EXPECT_EQ(d->key_schema[1].key_type, "RANGE");
  EXPECT_EQ(d->billing_mode, "PAY_PER_REQUEST");
  EXPECT_TRUE(RawTable(*d).is_object());

  auto missing = client_->DescribeTable(table_ + "-missing", Soon());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();
  EXPECT_EQ(missing.status().aws_error(), "ResourceNotFoundException");
}

TEST_P(DynamoDbIntegration, EveryAttributeTypeRoundTrips) {
  std::string bytes("\0\1\2\xff binary", 11);
  Item item = Key("c", "types");
  item["s"] = AttributeValue::S("hello ✓");
  item["n"] = AttributeValue::N("-12.5");
  item["big"] = AttributeValue::N("12345678901234567890123456789012345678");
  item["b"] = AttributeValue::B(bytes);
  item["t"] = AttributeValue::Bool(true);
  item["f"] = AttributeValue::Bool(false);
  item["z"] = AttributeValue::NullValue();
  item["m"] = AttributeValue::M({{"inner", AttributeValue::L({AttributeValue::N(1), AttributeValue::S("x")})},
                                 {"empty", AttributeValue::M({})}});
  item["l"] = AttributeValue::L(
      {AttributeValue::NullValue(), AttributeValue::M({{"k", AttributeValue::Bool(true)}})});
  item["ss"] = AttributeValue::SS({"a", "b", "c"});
  item["ns"] = AttributeValue::NS({"1", "2.5", "-3"});
  item["bs"] = AttributeValue::BS({std::string("\0x", 2), "yz"});
  auto put = client_->PutItem(Put(item), Soon());
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  auto got = Get(Key("c", "types"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->size(), item.size());
  for (const auto& [name, value] : item) {
    auto it = got->find(name);
    ASSERT_NE(it, got->end()) << name;
    EXPECT_EQ(it->second, value) << name << ": " << DebugString(it->second) << " vs " << DebugString(value);
  }
}

TEST_P(DynamoDbIntegration, ConditionalWritesSucceedAndFailAsResults) {
  const bool has_old = GetParam().supports_return_old_on_condition_failure;
  // Create only if absent.
  auto first = client_->PutItem(
      Put(With(Key("c", "leader"), "rev", AttributeValue::N(1)), "attribute_not_exists(cluster_name)"),
      Soon());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->condition_failed);

  auto again = client_->PutItem(
      Put(With(Key("c", "leader"), "rev", AttributeValue::N(2)), "attribute_not_exists(cluster_name)"),
      Soon());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->condition_failed);
  EXPECT_FALSE(again->ambiguous_attempt);
  if (has_old) {
    ASSERT_TRUE(again->attributes.has_value()) << "moto returns ALL_OLD on condition failure";
    EXPECT_EQ(again->attributes->at("rev").AsInt64(), 1);
  } else {
    EXPECT_FALSE(again->attributes.has_value())
        << "dynalite sends no Item; the result is still a condition failure";
  }

  // Compare-and-set on rev with UpdateItem.
  UpdateItemRequest cas;
  cas.table = table_;
  cas.key = Key("c", "leader");
  cas.update_expression = "SET #r = :new, #o = :owner";
  cas.condition = {
      "#r = :old",
      {{"#r", "rev"}, {"#o", "owner"}},
      {{":old", AttributeValue::N(1)}, {":new", AttributeValue::N(2)}, {":owner", AttributeValue::S("a")}}};
  cas.return_values = ReturnValues::kAllNew;
  auto ok = client_->UpdateItem(cas, Soon());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_FALSE(ok->condition_failed);
  ASSERT_TRUE(ok->attributes.has_value());
  EXPECT_EQ(ok->attributes->at("rev").AsInt64(), 2);
  EXPECT_EQ(*ok->attributes->at("owner").AsString(), "a");

  auto stale = client_->UpdateItem(cas, Soon());  // rev is 2 now
  ASSERT_TRUE(stale.ok()) << stale.status().ToString();
  EXPECT_TRUE(stale->condition_failed);
  if (has_old) {
    ASSERT_TRUE(stale->attributes.has_value());
    EXPECT_EQ(stale->attributes->at("rev").AsInt64(), 2);
    EXPECT_EQ(*stale->attributes->at("owner").AsString(), "a");
  } else {
    EXPECT_FALSE(stale->attributes.has_value());
  }

  // Conditional delete: wrong owner fails, right owner succeeds and returns ALL_OLD.
  DeleteItemRequest del;
  del.table = table_;
  del.key = Key("c", "leader");
  del.condition = {"#o = :me", {{"#o", "owner"}}, {{":me", AttributeValue::S("b")}}};
  del.return_values = ReturnValues::kAllOld;
  auto wrong = client_->DeleteItem(del, Soon());
  ASSERT_TRUE(wrong.ok()) << wrong.status().ToString();
  EXPECT_TRUE(wrong->condition_failed);
  del.condition.values[":me"] = AttributeValue::S("a");
  auto right = client_->DeleteItem(del, Soon());
  ASSERT_TRUE(right.ok()) << right.status().ToString();
  EXPECT_FALSE(right->condition_failed);
  ASSERT_TRUE(right->attributes.has_value());
  EXPECT_EQ(right->attributes->at("rev").AsInt64(), 2);
  EXPECT_FALSE(Get(Key("c", "leader")).has_value());
}

TEST_P(DynamoDbIntegration, ServerValidationErrorsSurfaceAsInvalidArgument) {
  // The item lacks the table's sort key.
  auto r =
      client_->PutItem(Put({{"cluster_name", AttributeValue::S("c")}, {"v", AttributeValue::N(1)}}), Soon());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_EQ(r.status().aws_error(), "ValidationException");
  EXPECT_FALSE(r.status().message().empty());
}

TEST_P(DynamoDbIntegration, QueryPaginatesAPartitionLargerThanOneMegabyte) {
  BatchWriteRequest batch;
  batch.table = table_;
  constexpr int kItems = 12;
  for (int i = 0; i < kItems; ++i) {
    std::string sk = (i < 10 ? "big-0" : "big-") + std::to_string(i);
    batch.puts.push_back(With(Key("big", sk), "data", AttributeValue::S(std::string(100 * 1024, 'a' + i))));
  }
  Status s = client_->BatchWriteItem(batch, Soon(seconds(30)));
  ASSERT_TRUE(s.ok()) << s.ToString();

  QueryRequest q;
  q.table = table_;
  q.key_condition = {"#pk = :pk", {{"#pk", "cluster_name"}}, {{":pk", AttributeValue::S("big")}}};
  auto r = client_->Query(q, Soon(seconds(30)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GE(r->pages, 2) << "1.2 MB cannot come back in one page";
  ASSERT_EQ(r->items.size(), static_cast<size_t>(kItems));
  for (int i = 0; i < kItems; ++i) {
    EXPECT_EQ(r->items[i].at("data").AsString()->size(), 100u * 1024);
    EXPECT_EQ(r->items[i].at("data").AsString()->front(), static_cast<char>('a' + i));
  }

  // With a small page limit, descending.
  q.page_limit = 5;
  q.scan_forward = false;
  auto limited = client_->Query(q, Soon(seconds(30)));
  ASSERT_TRUE(limited.ok()) << limited.status().ToString();
  EXPECT_GE(limited->pages, 3);
  ASSERT_EQ(limited->items.size(), static_cast<size_t>(kItems));
  EXPECT_EQ(*limited->items.front().at("key").AsString(), "big-11");
}

TEST_P(DynamoDbIntegration, BatchWritePutsAndDeletesMoreThanOneBatch) {
  BatchWriteRequest batch;
  batch.table = table_;
  for (int i = 0; i < 40; ++i) {
    batch.puts.push_back(With(Key("batch", "k" + std::to_string(100 + i)), "i", AttributeValue::N(i)));
  }
  ASSERT_TRUE(client_->BatchWriteItem(batch, Soon(seconds(30))).ok());

  QueryRequest q;
  q.table = table_;
  q.key_condition = {"cluster_name = :pk", {}, {{":pk", AttributeValue::S("batch")}}};
  auto all = client_->Query(q, Soon());
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->items.size(), 40u);

  BatchWriteRequest del;
  del.table = table_;
  for (int i = 0; i < 30; ++i) del.delete_keys.push_back(Key("batch", "k" + std::to_string(100 + i)));
  ASSERT_TRUE(client_->BatchWriteItem(del, Soon(seconds(30))).ok());
  auto rest = client_->Query(q, Soon());
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->items.size(), 10u);
  EXPECT_EQ(client_->stats().requests_by_operation.at("BatchWriteItem"), 4u);
}

TEST_P(DynamoDbIntegration, TransactWriteItemsOrAClearError) {
  std::vector<TransactWriteAction> actions(2);
  actions[0].kind = TransactWriteAction::Kind::kPut;
  actions[0].table = table_;
  actions[0].item_or_key = With(Key("tx", "a"), "v", AttributeValue::N(1));
  actions[0].condition.condition = "attribute_not_exists(cluster_name)";
  actions[1].kind = TransactWriteAction::Kind::kPut;
  actions[1].table = table_;
  actions[1].item_or_key = With(Key("tx", "b"), "v", AttributeValue::N(1));
  auto r = client_->TransactWriteItems(actions, "", Soon());
  if (!GetParam().supports_transactions) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
    EXPECT_EQ(r.status().aws_error(), "UnknownOperationException");
    EXPECT_NE(r.status().message().find("TransactWriteItems"), std::string::npos) << r.status().message();
    EXPECT_FALSE(Get(Key("tx", "a")).has_value());
    return;
  }
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->cancelled);
  EXPECT_TRUE(Get(Key("tx", "a")).has_value());
  EXPECT_TRUE(Get(Key("tx", "b")).has_value());

  // Same transaction again: the first action's condition fails, nothing is applied.
  actions[1].item_or_key = With(Key("tx", "b"), "v", AttributeValue::N(2));
  auto cancelled = client_->TransactWriteItems(actions, "", Soon());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
  EXPECT_TRUE(cancelled->cancelled);
  ASSERT_EQ(cancelled->cancellation_codes.size(), 2u);
  EXPECT_EQ(cancelled->cancellation_codes[0], "ConditionalCheckFailed");
  EXPECT_EQ(cancelled->cancellation_codes[1], "None");
  ASSERT_EQ(cancelled->cancellation_items.size(), 2u);
  ASSERT_TRUE(cancelled->cancellation_items[0].has_value()) << "moto returns the item with ALL_OLD";
  EXPECT_EQ(cancelled->cancellation_items[0]->at("v").AsInt64(), 1);
  EXPECT_EQ(Get(Key("tx", "b"))->at("v").AsInt64(), 1) << "a cancelled transaction applies nothing";
}

TEST_P(DynamoDbIntegration, TimeToLiveOrAClearError) {
  Status s = client_->UpdateTimeToLive(table_, "expire_at", true, Soon());
  auto d = client_->DescribeTimeToLive(table_, Soon());
  if (!GetParam().supports_ttl) {
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("UpdateTimeToLive"), std::string::npos) << s.message();
    // dynalite answers DescribeTimeToLive with a fixed DISABLED, which is the truth here.
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->status, "DISABLED");
    EXPECT_TRUE(d->attribute.empty());
    return;
  }
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->status == "ENABLED" || d->status == "ENABLING") << d->status;
  EXPECT_EQ(d->attribute, "expire_at");
}

TEST_P(DynamoDbIntegration, ItemOver400KbIsRejected) {
  Item big = With(Key("c", "big"), "data", AttributeValue::S(std::string(401 * 1024, 'x')));
  auto r = client_->PutItem(Put(big), Soon());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("400 KB"), std::string::npos) << r.status().message();

  // Bypassing the client-side check, the server says the same.
  json body = {{"TableName", table_}, {"Item", EncodeItem(big)}};
  auto raw = Call(*client_, "PutItem", body, true, Soon());
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.status().code(), StatusCode::kInvalidArgument) << raw.status().ToString();
  EXPECT_EQ(raw.status().aws_error(), "ValidationException");
  EXPECT_FALSE(Get(Key("c", "big")).has_value());
}

TEST_P(DynamoDbIntegration, InvalidTableNamesAreRejectedBeforeSending) {
  for (const std::string& bad : {std::string(""), std::string("t"), std::string("bad name!")}) {
    GetItemRequest g;
    g.table = bad;
    g.key = Key("c", "k");
    auto r = client_->GetItem(g, Soon());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(client_->stats().requests_by_operation.count("GetItem"), 0u);
}

std::string ServerName(const ::testing::TestParamInfo<LocalServer>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(LocalServers, DynamoDbIntegration,
                         ::testing::ValuesIn(dynatroni::testing::LocalServers()), ServerName);

TEST(DynamoDbIntegrationNetwork, UnreachableEndpointIsUnavailableWithinTheDeadline) {
  auto client = MakeClient("http://127.0.0.1:1");
  ASSERT_NE(client, nullptr);
  Clock& clock = *SystemClock::Instance();
  Deadline deadline = Deadline::After(clock, seconds(2));
  GetItemRequest g;
  g.table = "unreachable";
  g.key = Key("c", "k");
  auto r = client->GetItem(g, deadline);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_LE(clock.Now(), deadline.when() + milliseconds(500)) << "must give up by the deadline";
  EXPECT_GE(client->stats().requests_by_operation.at("GetItem"), 2u) << "connection refusals are retried";

  // A write that was never sent is not ambiguous.
  PutItemRequest p;
  p.table = "unreachable";
  p.item = Key("c", "k");
  auto w = client->PutItem(p, Deadline::After(clock, seconds(1)));
  EXPECT_EQ(w.status().code(), StatusCode::kUnavailable) << w.status().ToString();
}

}  // namespace
}  // namespace dynatroni::dynamodb
