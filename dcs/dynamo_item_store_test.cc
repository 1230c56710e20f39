#include "dcs/dynamo_item_store.h"

#include <cctype>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/fake_transport.h"

namespace dynatroni::dcs {
namespace {

using dynamodb::AttributeValue;
using dynamodb::Item;
using nlohmann::json;

Item Good(const std::string& key) {
  return {{kPartitionKey, AttributeValue::S("c")},
          {kSortKey, AttributeValue::S(key)},
          {"value", AttributeValue::S("{}")},
          {"version", AttributeValue::N(3)}};
}

// Regression (bad input end to end): a corrupt term/lease_ms/updated_at/ttl
// was reported without the item's key, so the skip warning did not say which
// item was skipped.
TEST(Unit, DecodeStoredItemNamesTheKeyOfEveryCorruptAttribute) {
  const std::pair<const char*, AttributeValue> cases[] = {
      {"value", AttributeValue::B(std::string("\0\1", 2))},
      {"value", AttributeValue::N(42)},
      {"version", AttributeValue::S("seven")},
      {"version", AttributeValue::N(0)},
      {"version", AttributeValue::N("1000000000000000000000000000000")},
      {"term", AttributeValue::S("x")},
      {"lease_ms", AttributeValue::Bool(true)},
      {"updated_at", AttributeValue::N("1.5")},
      {"ttl", AttributeValue::L({})},
  };
  for (const auto& [name, bad] : cases) {
    Item item = Good("members/n1");
    item[name] = bad;
    auto r = DecodeStoredItem(item);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse);
    EXPECT_NE(r.status().message().find("`members/n1`"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(name), std::string::npos) << r.status().message();
  }
  Item missing = Good("sync");
  missing.erase("version");
  EXPECT_FALSE(DecodeStoredItem(missing).ok());
  Item no_key = Good("x");
  no_key[kSortKey] = AttributeValue::N(5);
  EXPECT_FALSE(DecodeStoredItem(no_key).ok());
  // Unknown attributes and a non-string session are tolerated (foreign writers, older versions).
  Item tolerant = Good("members/t");
  tolerant["owner"] = AttributeValue::S("someone");
  tolerant["session"] = AttributeValue::N(9);
  auto ok = DecodeStoredItem(tolerant);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->version, 3);
  EXPECT_EQ(ok->session, "");
}

dynamodb::TableDescription Table(std::vector<dynamodb::KeySchemaElement> ks,
                                 std::vector<dynamodb::AttributeDefinition> ad) {
  dynamodb::TableDescription d;
  d.name = "pgdcs";
  d.key_schema = std::move(ks);
  d.attributes = std::move(ad);
  return d;
}

TEST(Unit, CheckKeySchemaAcceptsOnlyClusterNameAndKeyStrings) {
  EXPECT_TRUE(CheckKeySchema(
                  Table({{"cluster_name", "HASH"}, {"key", "RANGE"}}, {{"cluster_name", "S"}, {"key", "S"}}))
                  .ok());
  const dynamodb::TableDescription bad[] = {
      Table({{"id", "HASH"}}, {{"id", "S"}}),
      Table({{"cluster_name", "HASH"}}, {{"cluster_name", "S"}}),
      Table({{"cluster_name", "HASH"}, {"key", "RANGE"}}, {{"cluster_name", "S"}, {"key", "N"}}),
      Table({{"key", "HASH"}, {"cluster_name", "RANGE"}}, {{"cluster_name", "S"}, {"key", "S"}}),
      Table({}, {}),
  };
  for (const auto& d : bad) {
    Status s = CheckKeySchema(d);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(s.message().find("dynamodb.table_name: table pgdcs has the key schema"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("dynatroni table create"), std::string::npos) << s.message();
  }
}

class StoreWithFakeDynamo : public ::testing::Test {
 protected:
  void SetUp() override {
    dynamodb::ClientOptions o;
    o.region = "us-east-1";
    o.endpoint = "http://127.0.0.1:8000";
    aws::Credentials c;
    c.access_key_id = "AKIDEXAMPLE";
    c.secret_access_key = aws::SecretString("secret");
    o.credentials = aws::MakeStaticProvider(c);
    o.transport = transport_;
    o.clock = &clock_;
    o.random = &random_;
    client_ = std::shared_ptr<dynamodb::Client>(std::move(dynamodb::Client::Create(std::move(o)).value()));
    store_ = std::make_unique<DynamoItemStore>(client_, "pgdcs");
  }
  void Answer(int status, const json& body) { transport_->PushResponse(status, body.dump()); }
  Deadline Soon() { return Deadline::After(clock_, std::chrono::seconds(3)); }

  FakeClock clock_;
  SeededRandom random_{1};
  std::shared_ptr<http::FakeTransport> transport_ = std::make_shared<http::FakeTransport>(&clock_);
  std::shared_ptr<dynamodb::Client> client_;
  std::unique_ptr<DynamoItemStore> store_;
};

TEST_F(StoreWithFakeDynamo, KeySchemaValidationErrorsCarryTheFix) {
  const json error = {{"__type", "com.amazonaws.dynamodb.v20120810#ValidationException"},
                      {"message", "The provided key element does not match the schema"}};
  Answer(400, error);
  auto q = store_->Query("c", "", Soon());
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(q.status().message().find("table pgdcs does not have the expected key schema"), std::string::npos)
      << q.status().message();
  Answer(400, error);
  auto g = store_->Get("c", "leader", Soon());
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("dynatroni table create"), std::string::npos);
  // Other validation errors are left as they are.
  Answer(400, {{"__type", "com.amazonaws.dynamodb.v20120810#ValidationException"},
               {"message", "Item size has exceeded the maximum allowed size"}});
  Mutation m;
  m.value = "x";
  auto w = store_->Write("c", "history", m, Precondition::None(), Soon());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().message().find("key schema"), std::string::npos) << w.status().message();
  EXPECT_NE(w.status().message().find("400 KB"), std::string::npos) << w.status().message();
}

// Regression (bad input end to end): a value over 400 KB (a long timeline
// history) got DynamoDB's bare "Item size ... exceeded"; now it is refused
// before sending, naming the key, the limit and the fix.
TEST_F(StoreWithFakeDynamo, ValueOverTheItemLimitIsRefusedBeforeSendingWithTheFix) {
  Mutation m;
  m.value = std::string(dynamodb::kMaxItemSizeBytes, 'h');
  auto w = store_->Write("c", "history", m, Precondition::None(), Soon());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(w.status().message().find("`history`"), std::string::npos) << w.status().message();
  EXPECT_NE(w.status().message().find("400 KB"), std::string::npos);
  EXPECT_NE(w.status().message().find("nothing was written"), std::string::npos);
  EXPECT_EQ(transport_->request_count(), 0U);
  // Just under the limit is sent (the service has the last word, and its answer gets the fix too).
  m.value = std::string(dynamodb::kMaxItemSizeBytes - 1024, 'h');
  Answer(400, {{"__type", "com.amazonaws.dynamodb.v20120810#ValidationException"},
               {"message", "Item size to update has exceeded the maximum allowed size"}});
  w = store_->Write("c", "history", m, Precondition::None(), Soon());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(transport_->request_count(), 1U);
  EXPECT_NE(w.status().message().find("400 KB"), std::string::npos) << w.status().message();
}

TEST_F(StoreWithFakeDynamo, CheckTableAtStartReportsWrongSchemaAndMissingTableOnly) {
  Answer(200, {{"Table",
                {{"TableName", "pgdcs"},
                 {"TableStatus", "ACTIVE"},
                 {"KeySchema", {{{"AttributeName", "id"}, {"KeyType", "HASH"}}}},
                 {"AttributeDefinitions", {{{"AttributeName", "id"}, {"AttributeType", "S"}}}}}}});
  EXPECT_EQ(CheckTableAtStart(*client_, "pgdcs", Soon()).code(), StatusCode::kFailedPrecondition);
  Answer(400, {{"__type", "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"},
               {"message", "Requested resource not found"}});
  Status missing = CheckTableAtStart(*client_, "pgdcs", Soon());
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("table pgdcs does not exist in us-east-1"), std::string::npos)
      << missing.message();
  // No permission to describe, or unreachable: start anyway (the regular calls report it).
  Answer(400, {{"__type", "com.amazonaws.dynamodb.v20120810#AccessDeniedException"}, {"message", "no"}});
  EXPECT_TRUE(CheckTableAtStart(*client_, "pgdcs", Soon()).ok());
  transport_->SetFallback(
      [](const http::Request&) { return Result<http::Response>(Unavailable("refused")); });
  EXPECT_TRUE(CheckTableAtStart(*client_, "pgdcs", Soon()).ok());
}

// The lease decides on strongly consistent reads only: an eventually
// consistent read may return an item up to about a second old (an earlier
// holder, an older version), so the Query and Get the DCS decides on must send
// "ConsistentRead": true, and only GetEventually (wake-up hints) may send
// false. Nothing else notices when either flag is flipped: every local server
// answers both the same way.
TEST_F(StoreWithFakeDynamo, QueryAndGetReadConsistentlyAndOnlyGetEventuallyDoesNot) {
  auto target = [this](size_t i) {
    const auto requests = transport_->requests();
    for (const auto& [k, v] : requests.at(i).headers) {
      std::string lower = k;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "x-amz-target") return v;
    }
    return std::string();
  };
  auto body = [this](size_t i) { return json::parse(transport_->requests().at(i).body); };

  Answer(200, {{"Items", json::array({json::parse(R"({"cluster_name": {"S": "c"}, "key": {"S": "leader"},
                                                      "value": {"S": "n1"}, "version": {"N": "3"}})")})},
               {"Count", 1},
               {"ScannedCount", 1}});
  auto q = store_->Query("c", "", Soon());
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  ASSERT_EQ(q->size(), 1U);
  Answer(200, {{"Items", json::array()}, {"Count", 0}, {"ScannedCount", 0}});
  ASSERT_TRUE(store_->Query("c", "members/", Soon()).ok());
  Answer(200, json::parse(R"({"Item": {"cluster_name": {"S": "c"}, "key": {"S": "leader"},
                                       "value": {"S": "n1"}, "version": {"N": "3"}}})"));
  auto g = store_->Get("c", "leader", Soon());
  ASSERT_TRUE(g.ok() && *g) << g.status().ToString();
  Answer(200, json::object());
  auto e = store_->GetEventually("c", "leader", Soon());
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_FALSE(*e);

  ASSERT_EQ(transport_->request_count(), 4U);
  EXPECT_EQ(target(0), "DynamoDB_20120810.Query");
  EXPECT_EQ(body(0)["ConsistentRead"], json(true)) << "Query (whole partition): " << body(0).dump();
  EXPECT_EQ(target(1), "DynamoDB_20120810.Query");
  EXPECT_EQ(body(1)["ConsistentRead"], json(true)) << "Query (prefix): " << body(1).dump();
  EXPECT_EQ(target(2), "DynamoDB_20120810.GetItem");
  EXPECT_EQ(body(2)["ConsistentRead"], json(true)) << "Get: " << body(2).dump();
  EXPECT_EQ(target(3), "DynamoDB_20120810.GetItem");
  EXPECT_EQ(body(3)["ConsistentRead"], json(false)) << "GetEventually: " << body(3).dump();
}

// Found by fuzz_cluster_items (issue #23 item 6): an UpdateItem answered with the item of another key
// (a misrouted or garbled answer) was taken as the written item, so a leader write whose answer named
// members/<us> with our name and session counted as an acquisition. An answer naming another key or
// partition now says nothing about ours: an error for an applied write or a Get, no item for a refusal.
TEST_F(StoreWithFakeDynamo, AnAnswerNamingAnotherItemIsNeverTakenAsTheOneAddressed) {
  auto item = [](const std::string& partition, const std::string& key) {
    return json{{"cluster_name", {{"S", partition}}},
                {"key", {{"S", key}}},
                {"value", {{"S", "n1"}}},
                {"session", {{"S", "s1"}}},
                {"version", {{"N", "4"}}}};
  };
  Mutation m;
  m.value = "n1";
  m.session = "s1";
  for (const json& wrong : {item("c", "members/n1"), item("other", "leader")}) {
    Answer(200, {{"Attributes", wrong}});
    auto w = store_->Write("c", "leader", m, Precondition::VersionIs(3), Soon());
    ASSERT_FALSE(w.ok()) << wrong.dump();
    EXPECT_EQ(w.status().code(), StatusCode::kMalformedResponse);
    EXPECT_NE(w.status().message().find("names another item"), std::string::npos) << w.status().message();

    Answer(400, {{"__type", "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"},
                 {"message", "The conditional request failed"},
                 {"Item", wrong}});
    auto refused = store_->Write("c", "leader", m, Precondition::VersionIs(3), Soon());
    ASSERT_TRUE(refused.ok()) << refused.status().ToString();
    EXPECT_FALSE(refused->applied);
    EXPECT_FALSE(refused->item) << "a refusal's item names another key: " << wrong.dump();

    Answer(200, {{"Item", wrong}});
    auto g = store_->Get("c", "leader", Soon());
    ASSERT_FALSE(g.ok()) << wrong.dump();
    EXPECT_EQ(g.status().code(), StatusCode::kMalformedResponse);
  }
  // The item addressed (and one without the partition attribute) is taken as before.
  json right = item("c", "leader");
  Answer(200, {{"Attributes", right}});
  auto w = store_->Write("c", "leader", m, Precondition::VersionIs(3), Soon());
  ASSERT_TRUE(w.ok() && w->applied && w->item) << w.status().ToString();
  EXPECT_EQ(w->item->version, 4);
  right.erase("cluster_name");
  Answer(200, {{"Item", right}});
  auto g = store_->Get("c", "leader", Soon());
  ASSERT_TRUE(g.ok() && *g) << g.status().ToString();
}

}  // namespace
}  // namespace dynatroni::dcs
