#include "dynamodb/client.h"

#include <zlib.h>

#include <atomic>
#include <cctype>
#include <ostream>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "aws/providers/cache.h"
#include "dynamodb/client_json.h"
#include "http/fake_transport.h"

namespace dynatroni::dynamodb {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

aws::Credentials TestCreds() {
  aws::Credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = aws::SecretString(kSecret);
  return c;
}

// A provider whose answers are scripted (then the static credentials).
class ScriptedProvider final : public aws::CredentialsProvider {
 public:
  std::vector<Status> failures;
  std::atomic<int> calls{0};
  Result<aws::Credentials> Resolve(Deadline) override {
    int n = calls++;
    if (n < static_cast<int>(failures.size())) return failures[n];
    return TestCreds();
  }
  [[nodiscard]] std::string name() const override { return "scripted"; }
};

std::string Crc(const std::string& body) {
  return std::to_string(crc32_z(0L, reinterpret_cast<const Bytef*>(body.data()), body.size()));
}

std::string ErrorBody(const std::string& type, const std::string& message,
                      const char* message_key = "message") {
  return json{{"__type", "com.amazonaws.dynamodb.v20120810#" + type}, {message_key, message}}.dump();
}

class DynamoDbClient : public ::testing::Test {
 protected:
  void SetUp() override { client_ = Make(); }

  std::unique_ptr<Client> Make(RetryPolicy policy = {},
                               std::shared_ptr<aws::CredentialsProvider> creds = nullptr) {
    ClientOptions o;
    o.region = "us-east-1";
    o.endpoint = "http://127.0.0.1:8000";
    o.credentials = creds ? creds : aws::MakeStaticProvider(TestCreds());
    o.transport = transport_;
    o.clock = &clock_;
    o.random = &random_;
    o.retry = policy;
    auto c = Client::Create(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }

  void Ok(const json& body, bool with_crc = true) {
    std::string text = body.dump();
    http::Headers h{{"content-type", "application/x-amz-json-1.0"}};
    if (with_crc) h.emplace_back("x-amz-crc32", Crc(text));
    transport_->PushResponse(200, text, h);
  }
  void Error(int status, const std::string& type, const std::string& message = "boom") {
    transport_->PushResponse(status, ErrorBody(type, message));
  }

  json Body(size_t i) { return json::parse(transport_->requests().at(i).body); }
  std::string Header(size_t i, const std::string& name) {
    const auto requests = transport_->requests();
    for (const auto& [k, v] : requests.at(i).headers) {
      std::string lower = k;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == name) return v;
    }
    return "";
  }

  Deadline In(Duration d) { return Deadline::After(clock_, d); }

  FakeClock clock_;
  SeededRandom random_{7};
  std::shared_ptr<http::FakeTransport> transport_ =
      std::make_shared<http::FakeTransport>(&clock_, milliseconds(5));
  std::unique_ptr<Client> client_;
};

Item Key(const std::string& pk, const std::string& sk) {
  return {{"cluster_name", AttributeValue::S(pk)}, {"key", AttributeValue::S(sk)}};
}

GetItemRequest Get(const std::string& table, Item key, bool consistent = true, std::string projection = "",
                   std::map<std::string, std::string> names = {}) {
  GetItemRequest r;
  r.table = table;
  r.key = std::move(key);
  r.consistent_read = consistent;
  r.projection = std::move(projection);
  r.names = std::move(names);
  return r;
}

PutItemRequest Put(const std::string& table, Item item, ExpressionParts condition = {}) {
  PutItemRequest r;
  r.table = table;
  r.item = std::move(item);
  r.condition = std::move(condition);
  return r;
}

UpdateItemRequest Update(const std::string& table, Item key, std::string update,
                         ExpressionParts condition = {}) {
  UpdateItemRequest r;
  r.table = table;
  r.key = std::move(key);
  r.update_expression = std::move(update);
  r.condition = std::move(condition);
  return r;
}

DeleteItemRequest Del(const std::string& table, Item key) {
  DeleteItemRequest r;
  r.table = table;
  r.key = std::move(key);
  return r;
}

ClientOptions Opts(std::shared_ptr<http::Transport> transport, Clock* clock = nullptr,
                   Random* random = nullptr) {
  ClientOptions o;
  o.region = "us-east-1";
  o.endpoint = "http://localhost:1";
  o.credentials = aws::MakeStaticProvider(TestCreds());
  o.transport = std::move(transport);
  o.clock = clock;
  o.random = random;
  return o;
}

// --------------------------------------------------------------------------
// Request shape

TEST_F(DynamoDbClient, GetItemSendsSignedJsonProtocolRequest) {
  Ok({{"Item", {{"cluster_name", {{"S", "c"}}}, {"key", {{"S", "leader"}}}, {"rev", {{"N", "7"}}}}}});
  auto r = client_->GetItem(Get("tbl", Key("c", "leader"), true, "", {}), In(seconds(2)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->item.has_value());
  EXPECT_EQ(r->item->at("rev").AsInt64(), 7);

  auto req = transport_->requests().at(0);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.url(), "http://127.0.0.1:8000/");
  EXPECT_EQ(Header(0, "x-amz-target"), "DynamoDB_20120810.GetItem");
  EXPECT_EQ(Header(0, "content-type"), "application/x-amz-json-1.0");
  EXPECT_EQ(Header(0, "authorization")
                .rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/dynamodb/"
                       "aws4_request",
                       0),
            0u)
      << Header(0, "authorization");
  EXPECT_EQ(Header(0, "x-amz-date"), "20231114T221320Z");
  json body = Body(0);
  EXPECT_EQ(body["TableName"], "tbl");
  EXPECT_EQ(body["ConsistentRead"], true);
  EXPECT_EQ(body["Key"], json::parse(R"({"cluster_name":{"S":"c"},"key":{"S":"leader"}})"));
  EXPECT_FALSE(body.contains("ProjectionExpression"));
  EXPECT_EQ(client_->stats().requests_by_operation.at("GetItem"), 1u);
}

TEST_F(DynamoDbClient, GetItemOfAbsentItemIsNullopt) {
  Ok(json::object());
  auto r = client_->GetItem(Get("tbl", Key("c", "none"), false, "#v", {{"#v", "value"}}), In(seconds(2)));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->item.has_value());
  EXPECT_EQ(Body(0)["ConsistentRead"], false);
  EXPECT_EQ(Body(0)["ProjectionExpression"], "#v");
  EXPECT_EQ(Body(0)["ExpressionAttributeNames"]["#v"], "value");
}

TEST_F(DynamoDbClient, ConditionalPutSendsExpressionsAndAllOld) {
  Ok({{"Attributes", {{"v", {{"S", "old"}}}}}});
  PutItemRequest req;
  req.table = "tbl";
  req.item = Key("c", "leader");
  req.item["v"] = AttributeValue::S("new");
  req.condition.condition = "attribute_not_exists(#k) OR #r = :r";
  req.condition.names = {{"#k", "key"}, {"#r", "rev"}};
  req.condition.values = {{":r", AttributeValue::N(3)}};
  req.return_values = ReturnValues::kAllOld;
  auto r = client_->PutItem(req, In(seconds(2)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->condition_failed);
  ASSERT_TRUE(r->attributes.has_value());
  EXPECT_EQ(*r->attributes->at("v").AsString(), "old");
  EXPECT_EQ(Header(0, "x-amz-target"), "DynamoDB_20120810.PutItem");
  json b = Body(0);
  EXPECT_EQ(b["ConditionExpression"], "attribute_not_exists(#k) OR #r = :r");
  EXPECT_EQ(b["ExpressionAttributeNames"]["#r"], "rev");
  EXPECT_EQ(b["ExpressionAttributeValues"][":r"], json::parse(R"({"N":"3"})"));
  EXPECT_EQ(b["ReturnValues"], "ALL_OLD");
  EXPECT_EQ(b["ReturnValuesOnConditionCheckFailure"], "ALL_OLD");
  EXPECT_EQ(b["Item"]["v"], json::parse(R"({"S":"new"})"));
}

TEST_F(DynamoDbClient, UnconditionalPutOmitsConditionFields) {
  Ok(json::object());
  PutItemRequest req;
  req.table = "tbl";
  req.item = Key("c", "k");
  ASSERT_TRUE(client_->PutItem(req, In(seconds(2))).ok());
  json b = Body(0);
  EXPECT_FALSE(b.contains("ConditionExpression"));
  EXPECT_FALSE(b.contains("ReturnValuesOnConditionCheckFailure"));
  EXPECT_FALSE(b.contains("ReturnValues"));
  EXPECT_FALSE(b.contains("ExpressionAttributeValues"));
}

TEST_F(DynamoDbClient, UpdateItemSendsUpdateExpressionAndDecodesAllNew) {
  Ok({{"Attributes", {{"rev", {{"N", "4"}}}}}});
  UpdateItemRequest req;
  req.table = "tbl";
  req.key = Key("c", "leader");
  req.update_expression = "SET #r = :n";
  req.condition = {"#r = :o", {{"#r", "rev"}}, {{":o", AttributeValue::N(3)}, {":n", AttributeValue::N(4)}}};
  req.return_values = ReturnValues::kAllNew;
  req.return_old_on_condition_failure = false;
  auto r = client_->UpdateItem(req, In(seconds(2)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attributes->at("rev").AsInt64(), 4);
  json b = Body(0);
  EXPECT_EQ(Header(0, "x-amz-target"), "DynamoDB_20120810.UpdateItem");
  EXPECT_EQ(b["UpdateExpression"], "SET #r = :n");
  EXPECT_EQ(b["ConditionExpression"], "#r = :o");
  EXPECT_EQ(b["ReturnValues"], "ALL_NEW");
  EXPECT_FALSE(b.contains("ReturnValuesOnConditionCheckFailure"));
}

// Write answers go through the direct decoder (wire_decode.h) and, when it
// declines, the general path: the result is the same either way.
TEST_F(DynamoDbClient, WriteAnswersDecodeTheSameThroughEitherPath) {
  const json attrs = json::parse(
      R"({"s":{"S":"x\u00e9"},"n":{"N":"-1.5e3"},"b":{"B":"AAE="},"t":{"BOOL":true},"z":{"NULL":true},)"
      R"("m":{"M":{"l":{"L":[{"N":"1"},{"SS":["a","b"]}]}}},"ns":{"NS":["1","2"]},"bs":{"BS":["AA=="]}})");
  UpdateItemRequest req;
  req.table = "tbl";
  req.key = Key("c", "leader");
  req.update_expression = "SET #r = :n";
  req.condition = {"", {{"#r", "rev"}}, {{":n", AttributeValue::N(4)}}};
  req.return_values = ReturnValues::kAllNew;
  Ok({{"Attributes", attrs}});
  auto direct = client_->UpdateItem(req, In(seconds(2)));
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  ASSERT_TRUE(direct->attributes.has_value());
  auto expected = DecodeItem(attrs, "Attributes");
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(*direct->attributes, *expected);
  // Other top-level members (ConsumedCapacity) leave the attributes alone.
  Ok({{"Attributes", attrs}, {"ConsumedCapacity", {{"TableName", "tbl"}, {"CapacityUnits", 1.0}}}});
  auto general = client_->UpdateItem(req, In(seconds(2)));
  ASSERT_TRUE(general.ok());
  EXPECT_EQ(general->attributes, direct->attributes);
  // No attributes, null attributes, a non-object: none, as before.
  for (const char* body : {"{}", R"({"Attributes":null})", R"({"Attributes":"x"})"}) {
    transport_->PushResponse(200, body);
    auto r = client_->UpdateItem(req, In(seconds(2)));
    ASSERT_TRUE(r.ok()) << body;
    EXPECT_FALSE(r->attributes.has_value()) << body;
  }
  // A bad attribute type is still the general path's exact error.
  Ok(json::parse(R"({"Attributes":{"value":{"Q":"1"}}})"));
  auto bad = client_->UpdateItem(req, In(seconds(2)));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kMalformedResponse);
  EXPECT_NE(bad.status().message().find(R"(Attributes.value: unknown attribute type "Q")"), std::string::npos)
      << bad.status().message();
}

TEST_F(DynamoDbClient, DeleteItemShapeAndReturnValuesRule) {
  Ok(json::object());
  DeleteItemRequest req;
  req.table = "tbl";
  req.key = Key("c", "x");
  req.condition.condition = "attribute_exists(#k)";
  req.condition.names = {{"#k", "key"}};
  ASSERT_TRUE(client_->DeleteItem(req, In(seconds(2))).ok());
  EXPECT_EQ(Header(0, "x-amz-target"), "DynamoDB_20120810.DeleteItem");
  EXPECT_EQ(Body(0)["ReturnValuesOnConditionCheckFailure"], "ALL_OLD");

  req.return_values = ReturnValues::kAllNew;
  auto bad = client_->DeleteItem(req, In(seconds(2)));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(transport_->request_count(), 1u);
}

// --------------------------------------------------------------------------
// Condition failures are results

TEST_F(DynamoDbClient, ConditionFailureWithItemIsAResultCarryingTheCurrentItem) {
  transport_->PushResponse(
      400, json{{"__type", "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"},
                {"message", "The conditional request failed"},
                {"Item", {{"rev", {{"N", "9"}}}, {"owner", {{"S", "other"}}}}}}
               .dump());
  UpdateItemRequest req =
      Update("tbl", Key("c", "leader"), "SET a = :a",
             {"rev = :r", {}, {{":r", AttributeValue::N(1)}, {":a", AttributeValue::S("x")}}});
  auto r = client_->UpdateItem(req, In(seconds(2)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->condition_failed);
  EXPECT_FALSE(r->ambiguous_attempt);
  ASSERT_TRUE(r->attributes.has_value());
  EXPECT_EQ(r->attributes->at("rev").AsInt64(), 9);
  EXPECT_EQ(transport_->request_count(), 1u) << "condition failures are never retried";
}

TEST_F(DynamoDbClient, ConditionFailureWithoutItemHasNoAttributes) {
  Error(400, "ConditionalCheckFailedException", "The conditional request failed");
  PutItemRequest req = Put("tbl", Key("c", "k"), {"attribute_not_exists(k)", {}, {}});
  auto r = client_->PutItem(req, In(seconds(2)));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->condition_failed);
  EXPECT_FALSE(r->attributes.has_value());
}

TEST_F(DynamoDbClient, CallReportsConditionFailureAsFailedPreconditionWithAwsError) {
  Error(400, "ConditionalCheckFailedException", "The conditional request failed");
  auto r = Call(*client_, "PutItem", json{{"TableName", "tbl"}}, true, In(seconds(1)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().aws_error(), "ConditionalCheckFailedException");
  EXPECT_EQ(r.status().http_status(), 400);
}

// --------------------------------------------------------------------------
// Error mapping

struct MappingCase {
  int http;
  std::string type;  // full __type
  StatusCode expected;
  const char* message_key;
};

// gtest prints the case as "400 ValidationException -> InvalidArgument" instead of its bytes.
void PrintTo(const MappingCase& c, std::ostream* os) {
  *os << c.http << " " << c.type.substr(c.type.find('#') + 1) << " -> " << StatusCodeName(c.expected);
}

// Test names: the error's short name and the HTTP status, e.g. "ValidationException_400".
std::string MappingCaseName(const ::testing::TestParamInfo<MappingCase>& info) {
  std::string name =
      info.param.type.substr(info.param.type.find('#') + 1) + "_" + std::to_string(info.param.http);
  for (char& c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
  }
  return name + "_" + std::to_string(info.index);
}

class DynamoDbClientErrorMapping : public DynamoDbClient,
                                   public ::testing::WithParamInterface<MappingCase> {};

TEST_P(DynamoDbClientErrorMapping, SurfacesAtOnceWithDynamoDbMessage) {
  const auto& c = GetParam();
  transport_->PushResponse(c.http, json{{"__type", c.type}, {c.message_key, "the service said no"}}.dump());
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), c.expected) << r.status().ToString();
  EXPECT_EQ(r.status().message(), "GetItem: the service said no");
  EXPECT_EQ(r.status().aws_error(), c.type.substr(c.type.rfind('#') + 1));
  EXPECT_EQ(r.status().http_status(), c.http);
  EXPECT_EQ(transport_->request_count(), 1u) << "not retried";
  EXPECT_EQ(clock_.total_slept(), Duration::zero());
}

INSTANTIATE_TEST_SUITE_P(
    Unit, DynamoDbClientErrorMapping,
    ::testing::Values(MappingCase{400, "com.amazon.coral.validate#ValidationException",
                                  StatusCode::kInvalidArgument, "message"},
                      MappingCase{400, "com.amazonaws.dynamodb.v20120810#SerializationException",
                                  StatusCode::kInvalidArgument, "Message"},
                      MappingCase{400, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                                  StatusCode::kNotFound, "message"},
                      MappingCase{400, "com.amazon.coral.service#AccessDeniedException",
                                  StatusCode::kPermissionDenied, "Message"},
                      MappingCase{400, "com.amazon.coral.service#UnrecognizedClientException",
                                  StatusCode::kPermissionDenied, "message"},
                      MappingCase{403, "com.amazon.coral.service#MissingAuthenticationTokenException",
                                  StatusCode::kPermissionDenied, "message"},
                      MappingCase{400, "com.amazon.coral.service#IncompleteSignatureException",
                                  StatusCode::kPermissionDenied, "message"},
                      MappingCase{400, "com.amazon.coral.service#InvalidSignatureException",
                                  StatusCode::kPermissionDenied, "message"},
                      MappingCase{400, "com.amazon.coral.service#ExpiredTokenException",
                                  StatusCode::kPermissionDenied, "message"},
                      MappingCase{403, "SignatureDoesNotMatch", StatusCode::kPermissionDenied, "message"},
                      MappingCase{400, "com.amazonaws.dynamodb.v20120810#ResourceInUseException",
                                  StatusCode::kFailedPrecondition, "message"},
                      MappingCase{400, "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
                                  StatusCode::kFailedPrecondition, "message"},
                      MappingCase{400, "com.amazonaws.dynamodb.v20120810#SomethingNewException",
                                  StatusCode::kInvalidArgument, "message"}),
    MappingCaseName);

TEST_F(DynamoDbClient, UnknownOperationNamesTheOperation) {
  transport_->PushResponse(400, R"({"__type":"com.amazon.coral.service#UnknownOperationException"})");
  auto r = client_->DescribeTimeToLive("tbl", In(seconds(2)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("DescribeTimeToLive"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().aws_error(), "UnknownOperationException");
}

TEST_F(DynamoDbClient, ErrorTypeFromHeaderWhenBodyHasNone) {
  transport_->PushResponse(400, R"({"message":"bad key"})",
                           {{"x-amzn-errortype", "ValidationException:http://internal.amazon.com/coral/"}});
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(2)));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().aws_error(), "ValidationException");
}

TEST_F(DynamoDbClient, XmlForbiddenFromMotoIsPermissionDenied) {
  transport_->PushResponse(403,
                           "<?xml version=\"1.0\"?><ErrorResponse><Error><Code>InvalidClientTokenId</Code>"
                           "<Message>The security token included in the request is invalid.</Message></Error>"
                           "</ErrorResponse>",
                           {{"content-type", "text/xml"}});
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(2)));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(r.status().aws_error(), "InvalidClientTokenId");
  EXPECT_NE(r.status().message().find("security token"), std::string::npos);
  EXPECT_EQ(transport_->request_count(), 1u);
}

TEST_F(DynamoDbClient, UnreadableErrorBodies) {
  transport_->PushResponse(403, "Forbidden");
  EXPECT_EQ(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(2))).status().code(),
            StatusCode::kPermissionDenied);

  transport_->PushResponse(404, "<html>not here</html>");
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(2)));
  EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse);
  EXPECT_EQ(r.status().http_status(), 404);

  transport_->PushResponse(502, "<html>Bad Gateway</html>");
  Ok(json::object());
  EXPECT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(2))).ok())
      << "a 5xx without JSON is retried";
  EXPECT_EQ(transport_->request_count(), 4u);
}

TEST_F(DynamoDbClient, ErrorMessagesNeverContainTheSecret) {
  Error(400, "InvalidSignatureException", "The request signature we calculated does not match");
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(2)));
  EXPECT_EQ(r.status().ToString().find(kSecret), std::string::npos);
  const auto requests = transport_->requests();
  for (const auto& [k, v] : requests.at(0).headers) EXPECT_EQ(v.find(kSecret), std::string::npos) << k;
}

// --------------------------------------------------------------------------
// Retries, backoff, deadlines

TEST_F(DynamoDbClient, ThrottlesAreRetriedWithCappedJitteredBackoff) {
  std::vector<MonoTime> sent;
  auto record_then = [&](int status, std::string body) {
    transport_->PushHandler([&, status, body](const http::Request&) -> Result<http::Response> {
      sent.push_back(clock_.Now());
      return http::Response{status, {}, body};
    });
  };
  for (const char* t : {"ProvisionedThroughputExceededException", "ThrottlingException",
                        "RequestLimitExceeded", "LimitExceededException", "TransactionInProgressException"}) {
    record_then(400, ErrorBody(t, "slow down"));
  }
  record_then(200, "{}");
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(30)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(sent.size(), 6u);
  RetryPolicy p;
  for (size_t i = 1; i < sent.size(); ++i) {
    Duration gap = sent[i] - sent[i - 1] - milliseconds(5);  // minus the fake latency
    Duration cap = std::min(p.max_delay, p.throttle_base_delay * (1 << (i - 1)));
    EXPECT_GE(gap, Duration::zero());
    EXPECT_LE(gap, cap) << "retry " << i;
  }
  auto st = client_->stats();
  EXPECT_EQ(st.throttles, 5u);
  EXPECT_EQ(st.retries, 5u);
  EXPECT_EQ(st.requests_by_operation.at("GetItem"), 6u);
}

TEST_F(DynamoDbClient, JitterUsesTheWholeRangeAcrossSeeds) {
  // Full jitter: the first backoff is Uniform01 * base, so different seeds
  // give different, non-zero sleeps below the base.
  std::set<Duration::rep> sleeps;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    FakeClock clock;
    SeededRandom rnd(seed);
    auto t = std::make_shared<http::FakeTransport>();
    t->PushResponse(500, ErrorBody("InternalServerError", "oops"));
    t->PushResponse(200, "{}");
    ClientOptions o = Opts(t, &clock, &rnd);
    auto c = Client::Create(o);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->GetItem(Get("tbl", Key("a", "b")), Deadline::After(clock, seconds(5))).ok());
    EXPECT_LE(clock.total_slept(), RetryPolicy{}.base_delay);
    sleeps.insert(clock.total_slept().count());
  }
  EXPECT_GE(sleeps.size(), 4u);
}

TEST_F(DynamoDbClient, ReadsGiveUpAtMaxAttemptsWithUnavailable) {
  RetryPolicy p;
  p.max_attempts = 3;
  client_ = Make(p);
  transport_->SetFallback([](const http::Request&) -> Result<http::Response> {
    return http::Response{500, {}, ErrorBody("InternalServerError", "Internal server error")};
  });
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(60)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().aws_error(), "InternalServerError");
  EXPECT_NE(r.status().message().find("3 attempts"), std::string::npos) << r.status().message();
  EXPECT_EQ(transport_->request_count(), 3u);
}

// What the plugin logs on a failure comes from the Status, not from parsing
// its message: the operation, the attempts, the time taken and the request id
// of the last answer (docs/operations.md, "What the log says").
CallDetail DetailOf(const Status& s) {
  const CallDetail* d = s.call_detail();
  return d != nullptr ? *d : CallDetail{"(none)", "", -1, {}};
}

TEST_F(DynamoDbClient, FailuresCarryOperationAttemptsElapsedAndRequestId) {
  RetryPolicy p;
  p.max_attempts = 3;
  client_ = Make(p);
  int n = 0;
  transport_->SetFallback([&n](const http::Request&) -> Result<http::Response> {
    http::Headers h{{"x-amzn-requestid", "REQ" + std::to_string(++n)}};
    return http::Response{
        400, h, ErrorBody("ThrottlingException", "Rate of requests exceeds the allowed throughput.")};
  });
  const MonoTime start = clock_.Now();
  auto r = client_->UpdateItem(
      Update("tbl", Key("a", "b"), "SET v = :v", {"", {}, {{":v", AttributeValue::S("x")}}}),
      In(seconds(60)));
  ASSERT_FALSE(r.ok());
  const CallDetail d = DetailOf(r.status());
  EXPECT_EQ(d.operation, "UpdateItem") << r.status().ToString();
  EXPECT_EQ(d.attempts, 3);
  EXPECT_EQ(d.request_id, "REQ3");
  EXPECT_EQ(d.elapsed.count(), std::chrono::duration_cast<milliseconds>(clock_.Now() - start).count());
  EXPECT_GT(d.elapsed.count(), 0);
  EXPECT_EQ(r.status().aws_error(), "ThrottlingException");

  // A network failure: no answer, so no request id; an error answered at once: one attempt.
  transport_->SetFallback(
      [](const http::Request&) -> Result<http::Response> { return Unavailable("connect refused"); });
  auto down = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(60)));
  EXPECT_EQ(DetailOf(down.status()).operation, "GetItem");
  EXPECT_EQ(DetailOf(down.status()).attempts, 3);
  EXPECT_EQ(DetailOf(down.status()).request_id, "");
  transport_->SetFallback([](const http::Request&) -> Result<http::Response> {
    return http::Response{400, {{"x-amzn-requestid", "DENIED1"}}, ErrorBody("AccessDeniedException", "no")};
  });
  QueryRequest query;
  query.table = "tbl";
  query.key_condition = {"#p = :p", {{"#p", "cluster_name"}}, {{":p", AttributeValue::S("c")}}};
  auto denied = client_->Query(query, In(seconds(60)));
  EXPECT_EQ(DetailOf(denied.status()).operation, "Query");
  EXPECT_EQ(DetailOf(denied.status()).attempts, 1);
  EXPECT_EQ(DetailOf(denied.status()).request_id, "DENIED1");
  // Success carries nothing (no allocation for it on the success path).
  transport_->SetFallback(nullptr);
  Ok(json::object());
  EXPECT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5))).ok());
}

TEST_F(DynamoDbClient, RetriesNeverOutliveTheDeadline) {
  RetryPolicy p;
  p.max_attempts = 1000;
  client_ = Make(p);
  transport_->SetFallback([](const http::Request&) -> Result<http::Response> {
    return http::Response{400, {}, ErrorBody("ThrottlingException", "Rate exceeded")};
  });
  MonoTime start = clock_.Now();
  Deadline d = In(seconds(2));
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), d);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("deadline"), std::string::npos) << r.status().message();
  EXPECT_LE(clock_.Now(), d.when());
  EXPECT_LE(clock_.total_slept(), seconds(2));
  EXPECT_GE(clock_.Now() - start, seconds(2) - p.min_attempt_time - milliseconds(5))
      << "keeps trying while time remains";
  EXPECT_GT(transport_->request_count(), 5u);
  for (Deadline sent_with : transport_->deadlines()) EXPECT_LE(sent_with.when(), d.when());
}

TEST_F(DynamoDbClient, NoAttemptStartsWithLessThanMinAttemptTimeLeft) {
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(milliseconds(20)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(transport_->request_count(), 0u);

  auto past = client_->GetItem(Get("tbl", Key("a", "b")), Deadline::At(clock_.Now() - seconds(1)));
  EXPECT_EQ(past.status().code(), StatusCode::kDeadlineExceeded);
}

TEST_F(DynamoDbClient, AttemptTimeoutBoundsEachAttempt) {
  RetryPolicy p;
  p.attempt_timeout = milliseconds(300);
  client_ = Make(p);
  Ok(json::object());
  ASSERT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(10))).ok());
  Deadline sent = transport_->deadlines().at(0);
  EXPECT_LE(sent.when(), clock_.Now() + milliseconds(300));
}

// Patroni's retry_timeout (10 s at failover_time 30) equals attempt_timeout: without the split a request hung
// on a dead keep-alive connection would use all of it, and the primary would demote.
TEST_F(DynamoDbClient, AHungAttemptLeavesHalfTheDeadlineForARetry) {
  const auto start = clock_.Now();
  transport_->PushResponse(200, "{}", {}, seconds(60));  // hangs until its attempt deadline
  Ok(json{{"Item", {{"pk", {{"S", "a"}}}}}});
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(10)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->item.has_value());
  ASSERT_EQ(transport_->deadlines().size(), 2u);
  EXPECT_EQ(transport_->deadlines()[0].when(), start + seconds(5));
  EXPECT_LE(clock_.Now(), start + seconds(10));

  // A write: the retry succeeds, and the hung attempt is reported as possibly applied.
  transport_->PushResponse(200, "{}", {}, seconds(60));
  Ok(json::object());
  auto w = client_->PutItem(Put("tbl", Key("a", "b")), In(seconds(10)));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(w->ambiguous_attempt);
}

TEST_F(DynamoDbClient, ShortDeadlinesAreNotSplitBelowTheMinimumAttemptTime) {
  const auto start = clock_.Now();
  Ok(json::object());
  ASSERT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(milliseconds(1500))).ok());
  EXPECT_EQ(transport_->deadlines().at(0).when(), start + seconds(1));  // max(750 ms, 1 s)
  const auto later = clock_.Now();
  Ok(json::object());
  ASSERT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(milliseconds(800))).ok());
  EXPECT_EQ(transport_->deadlines().at(1).when(), later + milliseconds(800));  // the deadline itself
}

TEST_F(DynamoDbClient, NetworkFailuresBeforeSendingAreRetried) {
  transport_->PushFailure(Unavailable("connection refused"));
  transport_->PushFailure(Unavailable("connection refused"));
  Ok(json::object());
  PutItemRequest req = Put("tbl", Key("a", "b"));
  auto r = client_->PutItem(req, In(seconds(5)));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ambiguous_attempt) << "nothing was sent, so nothing is ambiguous";
}

TEST_F(DynamoDbClient, WriteTimingOutUntilTheDeadlineIsUnknownOutcome) {
  transport_->SetFallback(
      [](const http::Request&) -> Result<http::Response> { return UnknownOutcome("timeout after sending"); });
  PutItemRequest req = Put("tbl", Key("a", "b"));
  auto r = client_->PutItem(req, In(seconds(1)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnknownOutcome) << r.status().ToString();
  EXPECT_GT(transport_->request_count(), 1u);
  EXPECT_GT(client_->stats().unknown_outcomes, 0u);

  bool ambiguous = false;
  auto c = Call(*client_, "PutItem", json{{"TableName", "tbl"}}, true, In(seconds(1)), &ambiguous);
  EXPECT_EQ(c.status().code(), StatusCode::kUnknownOutcome);
  EXPECT_TRUE(ambiguous);
}

TEST_F(DynamoDbClient, SlowWriteReachingTheDeadlineIsUnknownOutcome) {
  // One attempt that the transport times out (latency beyond the deadline).
  transport_->set_latency(seconds(5));
  transport_->SetFallback([](const http::Request&) -> Result<http::Response> {
    return http::Response{200, {}, "{}"};
  });
  PutItemRequest req = Put("tbl", Key("a", "b"));
  Deadline d = In(seconds(1));
  auto r = client_->PutItem(req, d);
  EXPECT_EQ(r.status().code(), StatusCode::kUnknownOutcome);
  EXPECT_EQ(clock_.Now(), d.when());
}

TEST_F(DynamoDbClient, ReadTimingOutUntilTheDeadlineIsUnavailableNotUnknown) {
  transport_->SetFallback(
      [](const http::Request&) -> Result<http::Response> { return UnknownOutcome("timeout after sending"); });
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(1)));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST_F(DynamoDbClient, WriteRefusedUntilTheDeadlineIsUnavailable) {
  transport_->SetFallback(
      [](const http::Request&) -> Result<http::Response> { return Unavailable("connection refused"); });
  auto r = client_->PutItem(Put("tbl", Key("a", "b")), In(seconds(1)));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << "never sent: definitely not applied";
}

TEST_F(DynamoDbClient, AmbiguousAttemptThenConditionFailureIsFlagged) {
  transport_->PushFailure(UnknownOutcome("timeout after sending"));
  transport_->PushResponse(400, json{{"__type", "ConditionalCheckFailedException"},
                                     {"message", "The conditional request failed"},
                                     {"Item", {{"owner", {{"S", "me"}}}}}}
                                    .dump());
  PutItemRequest req = Put("tbl", Key("a", "b"), {"attribute_not_exists(k)", {}, {}});
  auto r = client_->PutItem(req, In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->condition_failed);
  EXPECT_TRUE(r->ambiguous_attempt);
  EXPECT_EQ(*r->attributes->at("owner").AsString(), "me");
}

// Issue #19: the transport sent the request twice (a reused connection died
// after the first copy went out) and the answer is to the second copy. The
// first copy may have been applied, so a condition failure may be caused by
// our own write: it is reported as ambiguous (with the ALL_OLD item), never
// as a plain refusal.
http::Response Resent(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.resent = true;
  return r;
}

TEST_F(DynamoDbClient, ResentWriteAnsweredWithConditionFailureIsAmbiguous) {
  transport_->PushResponse(Resent(400, json{{"__type", "ConditionalCheckFailedException"},
                                            {"message", "The conditional request failed"},
                                            {"Item", {{"owner", {{"S", "me"}}}}}}
                                           .dump()));
  PutItemRequest req = Put("tbl", Key("a", "b"), {"attribute_not_exists(k)", {}, {}});
  auto r = client_->PutItem(req, In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->condition_failed);
  EXPECT_TRUE(r->ambiguous_attempt) << "the refusal may be caused by our own first copy";
  ASSERT_TRUE(r->attributes.has_value());
  EXPECT_EQ(*r->attributes->at("owner").AsString(), "me");
  EXPECT_EQ(transport_->request_count(), 1u) << "a condition failure is final, not retried";
  EXPECT_EQ(client_->stats().unknown_outcomes, 1u);

  // Without ALL_OLD (dynalite): still ambiguous, no item.
  transport_->PushResponse(Resent(400, ErrorBody("ConditionalCheckFailedException", "failed")));
  auto u = client_->UpdateItem(
      Update("tbl", Key("a", "b"), "SET x = :x", {"x = :x", {}, {{":x", AttributeValue::N(1)}}}),
      In(seconds(5)));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(u->condition_failed);
  EXPECT_TRUE(u->ambiguous_attempt);
  EXPECT_FALSE(u->attributes.has_value());

  // Client::Call reports it through `ambiguous`.
  transport_->PushResponse(Resent(400, ErrorBody("ConditionalCheckFailedException", "failed")));
  bool ambiguous = false;
  auto c = Call(*client_, "DeleteItem", json{{"TableName", "tbl"}}, true, In(seconds(5)), &ambiguous);
  EXPECT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(ambiguous);
}

TEST_F(DynamoDbClient, ResentWriteFollowsTheEarlierAttemptWasAmbiguousRules) {
  // Success (direct-decode path): success, flagged.
  transport_->PushResponse(Resent(200, "{}"));
  auto ok = client_->PutItem(Put("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->ambiguous_attempt);

  // A throttle on the second copy does not make the first one unapplied.
  transport_->PushResponse(Resent(400, ErrorBody("ProvisionedThroughputExceededException", "slow down")));
  Ok(json::object());
  auto t = client_->PutItem(Put("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(t->ambiguous_attempt);

  // A definitive error after it is still an unknown outcome.
  transport_->PushResponse(Resent(400, ErrorBody("ExpiredTokenException", "expired")));
  auto e = client_->DeleteItem(Del("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnknownOutcome) << e.status().ToString();
  EXPECT_EQ(e.status().aws_error(), "ExpiredTokenException");

  // A cancelled transaction answered to a second copy.
  transport_->PushResponse(
      Resent(400, json{{"__type", "com.amazonaws.dynamodb.v20120810#TransactionCanceledException"},
                       {"message", "Transaction cancelled"},
                       {"CancellationReasons", {{{"Code", "ConditionalCheckFailed"}}}}}
                      .dump()));
  TransactWriteAction action;
  action.kind = TransactWriteAction::Kind::kDelete;
  action.table = "tbl";
  action.item_or_key = Key("a", "b");
  action.condition = {"attribute_exists(k)", {}, {}};
  auto x = client_->TransactWriteItems({action}, "tok", In(seconds(5)));
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  EXPECT_TRUE(x->cancelled);
  EXPECT_TRUE(x->ambiguous_attempt);
}

TEST_F(DynamoDbClient, ResentReadIsAnOrdinaryAnswer) {
  transport_->PushResponse(Resent(200, json{{"Item", {{"k", {{"S", "v"}}}}}}.dump()));
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->item.has_value());
  transport_->PushResponse(Resent(200, "{}"));
  bool ambiguous = true;
  auto c = Call(*client_, "GetItem", json{{"TableName", "tbl"}}, false, In(seconds(5)), &ambiguous);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(ambiguous);
  EXPECT_EQ(client_->stats().unknown_outcomes, 0u);
}

TEST_F(DynamoDbClient, FiveHundredOnAWriteIsAmbiguousButThrottleIsNot) {
  Error(500, "InternalServerError", "Internal server error");
  Ok(json::object());
  auto r = client_->PutItem(Put("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ambiguous_attempt);

  Error(400, "ProvisionedThroughputExceededException", "slow down");
  Ok(json::object());
  auto t = client_->PutItem(Put("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->ambiguous_attempt);

  Error(503, "ServiceUnavailable", "down");
  Ok(json::object());
  auto u = client_->UpdateItem(
      Update("tbl", Key("a", "b"), "SET x = :x", {"", {}, {{":x", AttributeValue::N(1)}}}), In(seconds(5)));
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->ambiguous_attempt);
}

TEST_F(DynamoDbClient, AmbiguousAttemptThenDefinitiveErrorIsStillUnknownOutcome) {
  transport_->PushFailure(UnknownOutcome("reset"));
  Error(400, "ExpiredTokenException", "The security token included in the request is expired");
  auto r = client_->DeleteItem(Del("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnknownOutcome);
  EXPECT_EQ(r.status().aws_error(), "ExpiredTokenException");
}

TEST_F(DynamoDbClient, ReadsRetryUnknownOutcome) {
  transport_->PushFailure(UnknownOutcome("timeout"));
  Ok(json::object());
  EXPECT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5))).ok());
  EXPECT_EQ(transport_->request_count(), 2u);
}

TEST_F(DynamoDbClient, MaxAttemptsOneMeansNoRetry) {
  RetryPolicy p;
  p.max_attempts = 1;
  client_ = Make(p);
  Error(500, "InternalServerError", "x");
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5)));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(transport_->request_count(), 1u);
  EXPECT_EQ(clock_.total_slept(), Duration::zero());
}

// --------------------------------------------------------------------------
// Integrity: CRC, malformed and truncated bodies

TEST_F(DynamoDbClient, CrcMismatchIsRetriedForReads) {
  std::string body = R"({"Item":{"k":{"S":"v"}}})";
  transport_->PushResponse(200, body, {{"x-amz-crc32", "12345"}});
  transport_->PushResponse(200, body, {{"x-amz-crc32", Crc(body)}});
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r->item->at("k").AsString(), "v");
  EXPECT_EQ(transport_->request_count(), 2u);
}

TEST_F(DynamoDbClient, PersistentCrcMismatchIsMalformedForReadsAndUnknownForWrites) {
  transport_->SetFallback([](const http::Request&) -> Result<http::Response> {
    return http::Response{200, {{"x-amz-crc32", "not-a-number"}}, "{}"};
  });
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(1)));
  EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse);
  EXPECT_NE(r.status().message().find("x-amz-crc32"), std::string::npos);
  auto w = client_->PutItem(Put("tbl", Key("a", "b")), In(seconds(1)));
  EXPECT_EQ(w.status().code(), StatusCode::kUnknownOutcome)
      << "a 200 with a damaged body was probably applied";
}

TEST_F(DynamoDbClient, CrcCheckCanBeDisabled) {
  ClientOptions o = Opts(transport_, &clock_, &random_);
  o.verify_crc32 = false;
  auto c = Client::Create(o);
  transport_->PushResponse(200, "{}", {{"x-amz-crc32", "1"}});
  EXPECT_TRUE((*c)->GetItem(Get("tbl", Key("a", "b")), In(seconds(1))).ok());
}

TEST_F(DynamoDbClient, TruncatedBodyIsRetriedThenMalformed) {
  transport_->PushResponse(200, R"({"Item":{"k":{"S":"v")");
  Ok({{"Item", {{"k", {{"S", "v"}}}}}});
  EXPECT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5))).ok());
  EXPECT_EQ(transport_->request_count(), 2u);

  transport_->SetFallback([](const http::Request&) -> Result<http::Response> {
    return http::Response{200, {}, "[1,2"};
  });
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(1)));
  EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse);
  EXPECT_NE(r.status().message().find("not a JSON object"), std::string::npos) << r.status().message();
}

TEST_F(DynamoDbClient, MalformedWriteResponseIsAmbiguous) {
  transport_->PushResponse(200, "{\"Attri");
  Ok(json::object());
  auto r = client_->PutItem(Put("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ambiguous_attempt);
}

TEST_F(DynamoDbClient, UnknownAttributeTypeInResponseIsMalformedNamingThePath) {
  Ok(json::parse(R"({"Item":{"value":{"M":{"x":{"Q":"1"}}}}})"));
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse);
  EXPECT_NE(r.status().message().find(R"(Item.value.M.x: unknown attribute type "Q")"), std::string::npos)
      << r.status().message();
}

// --------------------------------------------------------------------------
// Clock skew

TEST_F(DynamoDbClient, SkewErrorCorrectsTheClockFromDateAndRetriesOnce) {
  // Our wall clock is 20 minutes behind the server's.
  clock_.SetWall(WallTime(seconds(1700000000)));
  transport_->PushResponse(
      400,
      ErrorBody("InvalidSignatureException", "Signature expired: 20231114T221320Z is now earlier than ..."),
      {{"date", "Tue, 14 Nov 2023 22:33:20 GMT"}});
  Ok(json::object());
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Header(0, "x-amz-date"), "20231114T221320Z");
  EXPECT_EQ(Header(1, "x-amz-date").substr(0, 13), "20231114T2233");
  EXPECT_GE(client_->clock_skew(), seconds(1195));
  EXPECT_LE(client_->clock_skew(), seconds(1200));
  EXPECT_EQ(clock_.total_slept(), Duration::zero()) << "a skew retry needs no backoff";
}

TEST_F(DynamoDbClient, SkewRetryHappensOnlyOnce) {
  transport_->SetFallback([](const http::Request&) -> Result<http::Response> {
    return http::Response{400,
                          {{"date", "Tue, 14 Nov 2023 23:33:20 GMT"}},
                          ErrorBody("InvalidSignatureException", "Signature expired")};
  });
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5)));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(transport_->request_count(), 2u);
}

TEST_F(DynamoDbClient, SkewRetryBeyondMaxAttemptsStaysPermissionDenied) {
  RetryPolicy p;
  p.max_attempts = 1;
  client_ = Make(p);
  transport_->PushResponse(400, ErrorBody("InvalidSignatureException", "Signature expired"),
                           {{"date", "Tue, 14 Nov 2023 23:33:20 GMT"}});
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5)));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
  EXPECT_EQ(transport_->request_count(), 1u);
}

TEST_F(DynamoDbClient, SignatureErrorWithoutSkewIsPermissionDeniedAtOnce) {
  std::string date = "Tue, 14 Nov 2023 22:13:20 GMT";  // == the fake wall clock
  transport_->PushResponse(400,
                           ErrorBody("InvalidSignatureException", "The request signature we calculated..."),
                           {{"date", date}});
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5)));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(transport_->request_count(), 1u);
  EXPECT_EQ(client_->clock_skew(), Duration::zero());
}

// --------------------------------------------------------------------------
// Credentials AWS refuses (ExpiredTokenException, UnrecognizedClientException)

// Hands out temporary credentials "ASIA...1", "ASIA...2", ... valid for an hour, one set per call (a
// rotating credential endpoint), and counts the calls.
class RotatingProvider final : public aws::CredentialsProvider {
 public:
  explicit RotatingProvider(Clock* clock) : clock_(clock) {}
  std::atomic<int> calls{0};
  bool rotate = true;  // false: always the first set (a source not yet rotated)
  Result<aws::Credentials> Resolve(Deadline) override {
    const int n = rotate ? ++calls : (++calls, 1);
    aws::Credentials c;
    c.access_key_id = "ASIAROTATINGEXAMPLE" + std::to_string(n);
    c.secret_access_key = aws::SecretString(std::string(kSecret) + std::to_string(n));
    c.session_token = aws::SecretString("session-token-" + std::to_string(n));
    c.expiration = clock_->WallNow() + std::chrono::hours(1);
    return c;
  }
  [[nodiscard]] std::string name() const override { return "rotating"; }

 private:
  Clock* clock_;
};

class DynamoDbClientRefusedCredentials : public DynamoDbClient {
 protected:
  void SetUp() override {
    aws::CacheOptions o;
    o.clock = &clock_;
    o.background_refresh = false;
    cache_ = aws::MakeCachingProvider(inner_, o);
    client_ = Make({}, cache_);
  }
  std::shared_ptr<RotatingProvider> inner_ = std::make_shared<RotatingProvider>(&clock_);
  std::shared_ptr<aws::CachingProvider> cache_;
};

TEST_F(DynamoDbClientRefusedCredentials, ExpiredTokenFetchesNewCredentialsAndSendsTheWriteAgain) {
  Error(400, "ExpiredTokenException", "The security token included in the request is expired");
  Ok(json::object());
  auto r = client_->UpdateItem(
      Update("tbl", Key("a", "b"), "SET x = :x", {"", {}, {{":x", AttributeValue::N(1)}}}), In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->ambiguous_attempt) << "an ExpiredToken answer means the write was not applied";
  ASSERT_EQ(transport_->request_count(), 2u);
  EXPECT_EQ(Header(0, "x-amz-security-token"), "session-token-1");
  EXPECT_EQ(Header(1, "x-amz-security-token"), "session-token-2");
  EXPECT_EQ(inner_->calls, 2) << "the refused credentials were dropped from the cache and fetched anew";
  EXPECT_EQ(clock_.total_slept(), Duration::zero()) << "no backoff before the attempt with new credentials";
  EXPECT_EQ(cache_->refusals().count, 1u);
  EXPECT_EQ(cache_->refusals().last, "ExpiredTokenException for ASIA****PLE1 (rotating)");

  // Later calls keep the new credentials.
  Ok(json::object());
  ASSERT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5))).ok());
  EXPECT_EQ(Header(2, "x-amz-security-token"), "session-token-2");
  EXPECT_EQ(inner_->calls, 2);
}

TEST_F(DynamoDbClientRefusedCredentials, UnrecognizedClientFetchesNewCredentialsToo) {
  Error(400, "UnrecognizedClientException", "The security token included in the request is invalid.");
  Ok(json{{"Items", json::array()}});
  QueryRequest q;
  q.table = "tbl";
  q.key_condition = {"#pk = :pk", {{"#pk", "cluster_name"}}, {{":pk", AttributeValue::S("c")}}};
  auto r = client_->Query(q, In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Header(1, "x-amz-security-token"), "session-token-2");
}

TEST_F(DynamoDbClientRefusedCredentials, OnlyOncePerCall) {
  transport_->SetFallback([](const http::Request&) -> Result<http::Response> {
    return http::Response{400, {}, ErrorBody("ExpiredTokenException", "expired")};
  });
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5)));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
  EXPECT_EQ(r.status().aws_error(), "ExpiredTokenException");
  EXPECT_EQ(transport_->request_count(), 2u);
  EXPECT_EQ(inner_->calls, 2);
}

TEST_F(DynamoDbClientRefusedCredentials, TheSameCredentialsAgainAreNotSentAgain) {
  inner_->rotate = false;
  Error(400, "ExpiredTokenException", "The security token included in the request is expired");
  auto r = client_->PutItem(Put("tbl", Key("a", "b")), In(seconds(5)));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
  EXPECT_EQ(r.status().message(), "PutItem: The security token included in the request is expired");
  EXPECT_EQ(transport_->request_count(), 1u);
  EXPECT_EQ(inner_->calls, 2) << "fetched anew once";
  ASSERT_NE(r.status().call_detail(), nullptr);
  EXPECT_EQ(r.status().call_detail()->attempts, 1);
}

TEST_F(DynamoDbClientRefusedCredentials, AccessDeniedKeepsTheCredentials) {
  Error(400, "AccessDeniedException", "not authorized to perform: dynamodb:GetItem");
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5)));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(transport_->request_count(), 1u);
  EXPECT_EQ(inner_->calls, 1);
  EXPECT_EQ(cache_->refusals().count, 0u);
}

TEST_F(DynamoDbClientRefusedCredentials, AnEarlierAmbiguousAttemptStaysUnknown) {
  transport_->PushFailure(UnknownOutcome("reset after sending"));
  Error(400, "ExpiredTokenException", "expired");
  Error(400, "ConditionalCheckFailedException", "The conditional request failed");
  auto r = client_->UpdateItem(
      Update("tbl", Key("a", "b"), "SET x = :x", {"x = :x", {}, {{":x", AttributeValue::N(1)}}}),
      In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->condition_failed);
  EXPECT_TRUE(r->ambiguous_attempt) << "the first attempt may have applied: the failed condition may be ours";
  EXPECT_EQ(transport_->request_count(), 3u);
}

TEST_F(DynamoDbClientRefusedCredentials, NoTimeLeftMeansNoSecondAttempt) {
  // The refusal takes all but 40 ms of the deadline: less than min_attempt_time (50 ms) is left.
  transport_->PushResponse(400, ErrorBody("ExpiredTokenException", "expired"), {}, milliseconds(960));
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(1)));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
  EXPECT_EQ(r.status().aws_error(), "ExpiredTokenException");
  EXPECT_EQ(transport_->request_count(), 1u);
}

// --------------------------------------------------------------------------
// Query pagination

TEST_F(DynamoDbClient, QueryFollowsLastEvaluatedKeyAcrossPages) {
  json lek1 = {{"cluster_name", {{"S", "c"}}}, {"key", {{"S", "k1"}}}};
  json lek2 = {{"cluster_name", {{"S", "c"}}}, {"key", {{"S", "k3"}}}};
  Ok({{"Items", {{{"key", {{"S", "k0"}}}}, {{"key", {{"S", "k1"}}}}}},
      {"Count", 2},
      {"LastEvaluatedKey", lek1}});
  Ok({{"Items", {{{"key", {{"S", "k2"}}}}, {{"key", {{"S", "k3"}}}}}},
      {"Count", 2},
      {"LastEvaluatedKey", lek2}});
  Ok({{"Items", {{{"key", {{"S", "k4"}}}}}}, {"Count", 1}});
  QueryRequest q;
  q.table = "tbl";
  q.key_condition = {"#pk = :pk AND begins_with(#sk, :p)",
                     {{"#pk", "cluster_name"}, {"#sk", "key"}},
                     {{":pk", AttributeValue::S("c")}, {":p", AttributeValue::S("k")}}};
  q.page_limit = 2;
  q.scan_forward = false;
  auto r = client_->Query(q, In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pages, 3);
  ASSERT_EQ(r->items.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(*r->items[i].at("key").AsString(), "k" + std::to_string(i));
  json b0 = Body(0), b1 = Body(1), b2 = Body(2);
  EXPECT_EQ(Header(0, "x-amz-target"), "DynamoDB_20120810.Query");
  EXPECT_EQ(b0["KeyConditionExpression"], "#pk = :pk AND begins_with(#sk, :p)");
  EXPECT_EQ(b0["ConsistentRead"], true);
  EXPECT_EQ(b0["Limit"], 2);
  EXPECT_EQ(b0["ScanIndexForward"], false);
  EXPECT_FALSE(b0.contains("ExclusiveStartKey"));
  EXPECT_EQ(b1["ExclusiveStartKey"], lek1);
  EXPECT_EQ(b2["ExclusiveStartKey"], lek2);
}

TEST_F(DynamoDbClient, QueryStopsOnARepeatedLastEvaluatedKey) {
  json lek = {{"k", {{"S", "x"}}}};
  transport_->SetFallback([&](const http::Request&) -> Result<http::Response> {
    return http::Response{200, {}, json{{"Items", json::array()}, {"LastEvaluatedKey", lek}}.dump()};
  });
  QueryRequest q;
  q.table = "tbl";
  q.key_condition.condition = "k = :k";
  q.key_condition.values = {{":k", AttributeValue::S("x")}};
  auto r = client_->Query(q, In(seconds(5)));
  EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse);
  EXPECT_EQ(transport_->request_count(), 2u);
}

TEST_F(DynamoDbClient, QueryPagesShareOneDeadline) {
  transport_->set_latency(milliseconds(400));
  int page = 0;
  transport_->SetFallback([&page](const http::Request&) -> Result<http::Response> {
    return http::Response{
        200, {}, R"({"Items":[],"LastEvaluatedKey":{"k":{"S":")" + std::to_string(++page) + R"("}}})"};
  });
  QueryRequest q;
  q.table = "tbl";
  q.key_condition.condition = "k = :k";
  q.key_condition.values = {{":k", AttributeValue::S("x")}};
  Deadline d = In(seconds(1));
  auto r = client_->Query(q, d);
  EXPECT_FALSE(r.ok());
  EXPECT_LE(clock_.Now(), d.when());
  EXPECT_LE(transport_->request_count(), 3u);
}

// --------------------------------------------------------------------------
// BatchWriteItem

TEST_F(DynamoDbClient, BatchWriteSplitsIntoBatchesOf25AndRetriesUnprocessedItems) {
  BatchWriteRequest req;
  req.table = "tbl";
  for (int i = 0; i < 28; ++i) req.puts.push_back(Key("c", "p" + std::to_string(i)));
  for (int i = 0; i < 2; ++i) req.delete_keys.push_back(Key("c", "d" + std::to_string(i)));
  // First batch: 3 items come back unprocessed, then succeed.
  transport_->PushHandler([](const http::Request& r) -> Result<http::Response> {
    json body = json::parse(r.body);
    json unprocessed = json::array();
    for (int i = 0; i < 3; ++i) unprocessed.push_back(body["RequestItems"]["tbl"][i]);
    return http::Response{200, {}, json{{"UnprocessedItems", {{"tbl", unprocessed}}}}.dump()};
  });
  Ok({{"UnprocessedItems", json::object()}});
  Ok({{"UnprocessedItems", json::object()}});
  ASSERT_TRUE(client_->BatchWriteItem(req, In(seconds(5))).ok());
  ASSERT_EQ(transport_->request_count(), 3u);
  EXPECT_EQ(Header(0, "x-amz-target"), "DynamoDB_20120810.BatchWriteItem");
  EXPECT_EQ(Body(0)["RequestItems"]["tbl"].size(), 25u);
  EXPECT_EQ(Body(1)["RequestItems"]["tbl"].size(), 3u);
  EXPECT_EQ(Body(1)["RequestItems"]["tbl"][0], Body(0)["RequestItems"]["tbl"][0]);
  json last = Body(2)["RequestItems"]["tbl"];
  ASSERT_EQ(last.size(), 5u);
  EXPECT_TRUE(last[4].contains("DeleteRequest"));
  EXPECT_EQ(last[4]["DeleteRequest"]["Key"]["key"]["S"], "d1");
  EXPECT_GT(clock_.total_slept(), Duration::zero()) << "unprocessed items are retried after a backoff";
}

TEST_F(DynamoDbClient, BatchWriteReportsHowManyRemainAtTheDeadline) {
  BatchWriteRequest req;
  req.table = "tbl";
  for (int i = 0; i < 30; ++i) req.puts.push_back(Key("c", "p" + std::to_string(i)));
  transport_->SetFallback([](const http::Request& r) -> Result<http::Response> {
    json body = json::parse(r.body);
    json all = body["RequestItems"]["tbl"];
    json keep = json::array({all[0], all[1]});
    return http::Response{200, {}, json{{"UnprocessedItems", {{"tbl", keep}}}}.dump()};
  });
  Deadline d = In(seconds(2));
  Status s = client_->BatchWriteItem(req, d);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("7 of 30 items still unprocessed"), std::string::npos) << s.message();
  EXPECT_LE(clock_.Now(), d.when());
}

// --------------------------------------------------------------------------
// TransactWriteItems

TEST_F(DynamoDbClient, TransactWriteItemsShapeAndToken) {
  Ok(json::object());
  std::vector<TransactWriteAction> actions(4);
  actions[0].kind = TransactWriteAction::Kind::kPut;
  actions[0].table = "tbl";
  actions[0].item_or_key = Key("c", "a");
  actions[0].condition.condition = "attribute_not_exists(k)";
  actions[1].kind = TransactWriteAction::Kind::kUpdate;
  actions[1].table = "tbl";
  actions[1].item_or_key = Key("c", "b");
  actions[1].update_expression = "SET v = :v";
  actions[1].condition.values = {{":v", AttributeValue::N(1)}};
  actions[2].kind = TransactWriteAction::Kind::kDelete;
  actions[2].table = "tbl";
  actions[2].item_or_key = Key("c", "d");
  actions[3].kind = TransactWriteAction::Kind::kConditionCheck;
  actions[3].table = "tbl";
  actions[3].item_or_key = Key("c", "e");
  actions[3].condition.condition = "attribute_exists(k)";
  actions[3].return_old_on_condition_failure = false;
  auto r = client_->TransactWriteItems(actions, "token-1", In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->cancelled);
  json b = Body(0);
  EXPECT_EQ(Header(0, "x-amz-target"), "DynamoDB_20120810.TransactWriteItems");
  EXPECT_EQ(b["ClientRequestToken"], "token-1");
  ASSERT_EQ(b["TransactItems"].size(), 4u);
  EXPECT_EQ(b["TransactItems"][0]["Put"]["ReturnValuesOnConditionCheckFailure"], "ALL_OLD");
  EXPECT_EQ(b["TransactItems"][0]["Put"]["Item"]["key"]["S"], "a");
  EXPECT_EQ(b["TransactItems"][1]["Update"]["UpdateExpression"], "SET v = :v");
  EXPECT_EQ(b["TransactItems"][1]["Update"]["ExpressionAttributeValues"][":v"]["N"], "1");
  EXPECT_EQ(b["TransactItems"][2]["Delete"]["Key"]["key"]["S"], "d");
  EXPECT_FALSE(b["TransactItems"][3]["ConditionCheck"].contains("ReturnValuesOnConditionCheckFailure"));

  // No token given: a random one, the same on every retry of this call.
  Error(500, "InternalServerError", "x");
  Ok(json::object());
  auto r2 = client_->TransactWriteItems({actions[2]}, "", In(seconds(5)));
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->ambiguous_attempt);
  std::string token = Body(1)["ClientRequestToken"];
  EXPECT_EQ(token.size(), 32u);
  EXPECT_EQ(Body(2)["ClientRequestToken"], token);
}

TEST_F(DynamoDbClient, TransactionCancelledIsAResultWithReasonsAndItems) {
  transport_->PushResponse(
      400, json{{"__type", "com.amazonaws.dynamodb.v20120810#TransactionCanceledException"},
                {"Message",
                 "Transaction cancelled, please refer cancellation reasons for specific reasons "
                 "[None, ConditionalCheckFailed]"},
                {"CancellationReasons",
                 {{{"Code", "None"}},
                  {{"Code", "ConditionalCheckFailed"},
                   {"Message", "The conditional request failed"},
                   {"Item", {{"rev", {{"N", "5"}}}}}}}}}
               .dump());
  std::vector<TransactWriteAction> actions(2);
  for (auto& a : actions) {
    a.kind = TransactWriteAction::Kind::kDelete;
    a.table = "tbl";
    a.item_or_key = Key("c", "x");
  }
  auto r = client_->TransactWriteItems(actions, "t", In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->cancelled);
  EXPECT_EQ(r->cancellation_codes, (std::vector<std::string>{"None", "ConditionalCheckFailed"}));
  ASSERT_EQ(r->cancellation_items.size(), 2u);
  EXPECT_FALSE(r->cancellation_items[0].has_value());
  EXPECT_EQ(r->cancellation_items[1]->at("rev").AsInt64(), 5);
  EXPECT_EQ(transport_->request_count(), 1u);
}

TEST_F(DynamoDbClient, TransactionCancelledWithoutReasonListParsesTheMessage) {
  Error(400, "TransactionCanceledException",
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[ConditionalCheckFailed, None]");
  TransactWriteAction a;
  a.kind = TransactWriteAction::Kind::kDelete;
  a.table = "tbl";
  a.item_or_key = Key("c", "x");
  auto r = client_->TransactWriteItems({a, a}, "t", In(seconds(5)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cancellation_codes, (std::vector<std::string>{"ConditionalCheckFailed", "None"}));
  EXPECT_EQ(r->cancellation_items.size(), 2u);
}

TEST_F(DynamoDbClient, TransactWriteItemsValidatesActions) {
  EXPECT_EQ(client_->TransactWriteItems({}, "", In(seconds(1))).status().code(),
            StatusCode::kInvalidArgument);
  std::vector<TransactWriteAction> many(101);
  EXPECT_EQ(client_->TransactWriteItems(many, "", In(seconds(1))).status().code(),
            StatusCode::kInvalidArgument);
  TransactWriteAction check;
  check.kind = TransactWriteAction::Kind::kConditionCheck;
  check.table = "tbl";
  check.item_or_key = Key("a", "b");
  EXPECT_EQ(client_->TransactWriteItems({check}, "", In(seconds(1))).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->TransactWriteItems({check}, std::string(37, 'x'), In(seconds(1))).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(transport_->request_count(), 0u);
}

// --------------------------------------------------------------------------
// Table management

TEST_F(DynamoDbClient, DescribeTableParsesTheDescription) {
  Ok(json::parse(R"({"Table":{
      "TableName":"tbl","TableStatus":"ACTIVE","ItemCount":12,
      "KeySchema":[{"AttributeName":"cluster_name","KeyType":"HASH"},{"AttributeName":"key","KeyType":"RANGE"}],
      "AttributeDefinitions":[{"AttributeName":"cluster_name","AttributeType":"S"},
                              {"AttributeName":"key","AttributeType":"S"}],
      "BillingModeSummary":{"BillingMode":"PAY_PER_REQUEST"},
      "DeletionProtectionEnabled":true,
      "Replicas":[{"RegionName":"us-east-2"},{"RegionName":"us-west-2"}],
      "MultiRegionConsistency":"STRONG"}})"));
  auto r = client_->DescribeTable("tbl", In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, "tbl");
  EXPECT_EQ(r->status, "ACTIVE");
  EXPECT_EQ(r->item_count, 12);
  ASSERT_EQ(r->key_schema.size(), 2u);
  EXPECT_EQ(r->key_schema[1].name, "key");
  EXPECT_EQ(r->key_schema[1].key_type, "RANGE");
  EXPECT_EQ(r->attributes[0].type, "S");
  EXPECT_EQ(r->billing_mode, "PAY_PER_REQUEST");
  EXPECT_TRUE(r->deletion_protection);
  EXPECT_EQ(r->replica_regions, (std::vector<std::string>{"us-east-2", "us-west-2"}));
  EXPECT_EQ(r->multi_region_consistency, "STRONG");
  EXPECT_EQ(RawTable(*r)["ItemCount"], 12);
  EXPECT_EQ(Body(0), json::parse(R"({"TableName":"tbl"})"));

  Ok(json::parse(R"({"Table":{"TableName":"t2x","TableStatus":"CREATING"}})"));
  auto p = client_->DescribeTable("t2x", In(seconds(5)));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->billing_mode, "PROVISIONED");
  EXPECT_TRUE(p->replica_regions.empty());

  Ok(json::parse(R"({"NotTable":{}})"));
  EXPECT_EQ(client_->DescribeTable("tbl", In(seconds(5))).status().code(), StatusCode::kMalformedResponse);
}

TEST_F(DynamoDbClient, WaitUntilActivePollsUntilActive) {
  Ok(json::parse(R"({"Table":{"TableName":"tbl","TableStatus":"CREATING"}})"));
  Ok(json::parse(R"({"Table":{"TableName":"tbl","TableStatus":"CREATING"}})"));
  Ok(json::parse(R"({"Table":{"TableName":"tbl","TableStatus":"ACTIVE"}})"));
  auto r = client_->WaitUntilActive("tbl", In(seconds(5)), milliseconds(100));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, "ACTIVE");
  EXPECT_EQ(clock_.total_slept(), milliseconds(200));

  transport_->SetFallback([](const http::Request&) -> Result<http::Response> {
    return http::Response{200, {}, R"({"Table":{"TableName":"tbl","TableStatus":"CREATING"}})"};
  });
  auto w = client_->WaitUntilActive("tbl", In(seconds(1)), milliseconds(100));
  EXPECT_EQ(w.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(w.status().message().find("CREATING"), std::string::npos);
}

TEST_F(DynamoDbClient, CreateTableSendsSchemaAndBillingMode) {
  Ok(json::parse(R"({"TableDescription":{"TableName":"tbl","TableStatus":"CREATING"}})"));
  CreateTableRequest req;
  req.table = "tbl";
  req.key_schema = {{"cluster_name", "HASH"}, {"key", "RANGE"}};
  req.attributes = {{"cluster_name", "S"}, {"key", "S"}};
  auto r = client_->CreateTable(req, In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, "CREATING");
  json b = Body(0);
  EXPECT_EQ(Header(0, "x-amz-target"), "DynamoDB_20120810.CreateTable");
  EXPECT_EQ(b["BillingMode"], "PAY_PER_REQUEST");
  EXPECT_EQ(b["KeySchema"][1], json::parse(R"({"AttributeName":"key","KeyType":"RANGE"})"));
  EXPECT_EQ(b["AttributeDefinitions"][0],
            json::parse(R"({"AttributeName":"cluster_name","AttributeType":"S"})"));
  EXPECT_FALSE(b.contains("ProvisionedThroughput"));
  EXPECT_FALSE(b.contains("DeletionProtectionEnabled"));

  req.on_demand = false;
  req.read_capacity = 5;
  req.write_capacity = 2;
  req.deletion_protection = true;
  Ok(json::parse(R"({"TableDescription":{"TableName":"tbl","TableStatus":"CREATING"}})"));
  ASSERT_TRUE(client_->CreateTable(req, In(seconds(5))).ok());
  EXPECT_EQ(Body(1)["ProvisionedThroughput"]["WriteCapacityUnits"], 2);
  EXPECT_EQ(Body(1)["DeletionProtectionEnabled"], true);
}

TEST_F(DynamoDbClient, DeleteTableAndTtlOperations) {
  Ok(json::parse(R"({"TableDescription":{"TableName":"tbl","TableStatus":"DELETING"}})"));
  EXPECT_TRUE(client_->DeleteTable("tbl", In(seconds(5))).ok());
  EXPECT_EQ(Header(0, "x-amz-target"), "DynamoDB_20120810.DeleteTable");

  Ok(json::parse(R"({"TimeToLiveSpecification":{"Enabled":true,"AttributeName":"expire_at"}})"));
  EXPECT_TRUE(client_->UpdateTimeToLive("tbl", "expire_at", true, In(seconds(5))).ok());
  EXPECT_EQ(Body(1), json::parse(R"({"TableName":"tbl",
      "TimeToLiveSpecification":{"Enabled":true,"AttributeName":"expire_at"}})"));

  Ok(json::parse(R"({"TimeToLiveDescription":{"TimeToLiveStatus":"ENABLED","AttributeName":"expire_at"}})"));
  auto d = client_->DescribeTimeToLive("tbl", In(seconds(5)));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status, "ENABLED");
  EXPECT_EQ(d->attribute, "expire_at");

  Error(400, "ResourceNotFoundException", "Requested resource not found: Table: tbl not found");
  EXPECT_EQ(client_->DeleteTable("tbl", In(seconds(5))).code(), StatusCode::kNotFound);
}

// --------------------------------------------------------------------------
// Client-side validation

TEST_F(DynamoDbClient, TableNamesAreValidatedBeforeSending) {
  for (const std::string& bad :
       {std::string(""), std::string("ab"), std::string("t"), std::string(256, 'a'), std::string("has space"),
        std::string("slash/name"), std::string("ümlaut")}) {
    Status s = ValidateTableName(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("3-255 characters"), std::string::npos) << s.message();
    auto r = client_->GetItem(Get(bad, Key("a", "b")), In(seconds(1)));
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind("GetItem: table name", 0), 0u) << r.status().message();
  }
  EXPECT_TRUE(ValidateTableName("abc").ok());
  EXPECT_TRUE(ValidateTableName(std::string(255, 'x')).ok());
  EXPECT_TRUE(ValidateTableName("My_Table-1.v2").ok());
  EXPECT_NE(ValidateTableName("").message().find("empty"), std::string::npos);
  EXPECT_EQ(transport_->request_count(), 0u);
}

TEST_F(DynamoDbClient, ItemOver400KbIsRejectedClientSide) {
  PutItemRequest req = Put("tbl", Key("a", "b"));
  req.item["blob"] = AttributeValue::B(std::string(400 * 1024, 'x'));
  auto r = client_->PutItem(req, In(seconds(1)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("400 KB"), std::string::npos) << r.status().message();

  BatchWriteRequest batch;
  batch.table = "tbl";
  batch.puts = {req.item};
  EXPECT_EQ(client_->BatchWriteItem(batch, In(seconds(1))).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(transport_->request_count(), 0u);

  // Just under the limit is sent.
  req.item["blob"] = AttributeValue::B(std::string(400 * 1024 - 100, 'x'));
  Ok(json::object());
  EXPECT_TRUE(client_->PutItem(req, In(seconds(1))).ok());
}

TEST_F(DynamoDbClient, MissingKeysAndBadValuesAreRejectedClientSide) {
  EXPECT_EQ(client_->GetItem(Get("tbl", {}), In(seconds(1))).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->DeleteItem(Del("tbl", {}), In(seconds(1))).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->PutItem(Put("tbl", {}), In(seconds(1))).status().code(), StatusCode::kInvalidArgument);
  auto bad_number = client_->PutItem(Put("tbl", {{"k", AttributeValue::N("12x")}}), In(seconds(1)));
  EXPECT_EQ(bad_number.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_number.status().message().find("Item.k.N"), std::string::npos)
      << bad_number.status().message();
  UpdateItemRequest u =
      Update("tbl", Key("a", "b"), "SET v = :v", {"", {}, {{":v", AttributeValue::SS({})}}});
  EXPECT_EQ(client_->UpdateItem(u, In(seconds(1))).status().code(), StatusCode::kInvalidArgument);
  QueryRequest q;
  q.table = "tbl";
  EXPECT_EQ(client_->Query(q, In(seconds(1))).status().code(), StatusCode::kInvalidArgument);
  PutItemRequest invalid_utf8 = Put("tbl", {{"k", AttributeValue::S("\xff\xfe")}});
  auto u8 = client_->PutItem(invalid_utf8, In(seconds(1)));
  EXPECT_EQ(u8.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(u8.status().message().find("UTF-8"), std::string::npos);
  EXPECT_EQ(transport_->request_count(), 0u);
}

// --------------------------------------------------------------------------
// Credentials

TEST_F(DynamoDbClient, NoCredentialsIsAClearError) {
  auto provider = std::make_shared<ScriptedProvider>();
  provider->failures = {NotFound("AWS_ACCESS_KEY_ID is not set")};
  client_ = Make({}, provider);
  auto r = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(1)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("cannot get AWS credentials"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("scripted"), std::string::npos);
  EXPECT_EQ(transport_->request_count(), 0u);

  aws::Credentials empty;
  client_ = Make({}, aws::MakeStaticProvider(empty));
  auto e = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(1)));
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("access_key_id"), std::string::npos) << e.status().message();
  EXPECT_EQ(transport_->request_count(), 0u);
}

TEST_F(DynamoDbClient, CredentialsAreResolvedPerAttemptAndTransientFailuresRetried) {
  auto provider = std::make_shared<ScriptedProvider>();
  provider->failures = {Unavailable("IMDS timed out")};
  client_ = Make({}, provider);
  Error(500, "InternalServerError", "x");
  Ok(json::object());
  ASSERT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5))).ok());
  EXPECT_EQ(provider->calls.load(), 3);
  EXPECT_EQ(transport_->request_count(), 2u);
}

TEST_F(DynamoDbClient, CreateValidatesOptions) {
  ClientOptions o = Opts(transport_);
  EXPECT_TRUE(Client::Create(o).ok());
  auto no_region = o;
  no_region.region.clear();
  EXPECT_EQ(Client::Create(no_region).status().code(), StatusCode::kInvalidArgument);
  auto bad_endpoint = o;
  bad_endpoint.endpoint = "localhost:8000";
  EXPECT_NE(Client::Create(bad_endpoint).status().message().find("endpoint"), std::string::npos);
  auto no_creds = o;
  no_creds.credentials = nullptr;
  EXPECT_EQ(Client::Create(no_creds).status().code(), StatusCode::kInvalidArgument);
  auto no_transport = o;
  no_transport.transport = nullptr;
  EXPECT_EQ(Client::Create(no_transport).status().code(), StatusCode::kInvalidArgument);
  auto bad_retry = o;
  bad_retry.retry.max_attempts = 0;
  EXPECT_EQ(Client::Create(bad_retry).status().code(), StatusCode::kInvalidArgument);
  auto slash = o;
  slash.endpoint = "http://localhost:1/";
  EXPECT_EQ((*Client::Create(slash))->endpoint(), "http://localhost:1");
  // The one endpoint parser runs in Create: an http(s) URL it refuses (here a path) is
  // refused there, naming the field, not at each call's signing.
  auto with_path = o;
  with_path.endpoint = "http://localhost:1/path";
  auto refused = Client::Create(with_path);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      refused.status().message(),
      "ClientOptions.endpoint: \"http://localhost:1/path\" is not a usable endpoint URL (no path, query or "
      "fragment allowed); expected http(s)://host[:port], e.g. http://127.0.0.1:8000");
}

// An endpoint parsed once by aws::ResolveEndpoint is taken as is: the request goes
// to it and is signed for it and for the given service; the client parses nothing.
TEST_F(DynamoDbClient, TakesAParsedEndpointAndSigningServiceAsGiven) {
  auto parsed = http::ParseEndpoint("http://[::1]:9000", "endpoint");
  ASSERT_TRUE(parsed.ok());
  ClientOptions o = Opts(transport_, &clock_, &random_);
  o.endpoint.clear();
  o.parsed_endpoint = *parsed;
  o.signing_service = "dynamodb-test";
  auto client = Client::Create(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->endpoint(), "http://[::1]:9000");
  Ok(json::object());
  auto got = (*client)->GetItem(Get("tbl", Key("c", "leader"), true, "", {}), In(seconds(2)));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const auto req = transport_->requests().at(0);
  EXPECT_EQ(req.url(), "http://[::1]:9000/");
  EXPECT_EQ(Header(0, "host"), "[::1]:9000");
  EXPECT_NE(Header(0, "authorization").find("/us-east-1/dynamodb-test/aws4_request"), std::string::npos);
  o.signing_service.clear();
  EXPECT_EQ(Client::Create(o).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(DynamoDbClient, IsSafeForConcurrentUse) {
  transport_->set_latency(Duration::zero());
  std::atomic<int> n{0};
  transport_->SetFallback([&](const http::Request&) -> Result<http::Response> {
    if (++n % 5 == 0) return http::Response{500, {}, ErrorBody("InternalServerError", "x")};
    return http::Response{200, {}, R"({"Item":{"k":{"S":"v"}}})"};
  });
  constexpr int kThreads = 6, kCalls = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) {
        if (client_->GetItem(Get("tbl", Key("a", "b")), Deadline::Infinite()).ok()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kCalls);
  auto st = client_->stats();
  EXPECT_EQ(st.requests_by_operation.at("GetItem"), static_cast<uint64_t>(n.load()));
  EXPECT_EQ(st.retries, static_cast<uint64_t>(n.load() - kThreads * kCalls));
  EXPECT_EQ((st.calls[{"GetItem", "success"}]), static_cast<uint64_t>(kThreads * kCalls));
  EXPECT_EQ(st.latency_by_operation.at("GetItem").count, static_cast<uint64_t>(kThreads * kCalls));
}

TEST(LatencyHistogram, EachObservationLandsInTheFirstBucketWhoseBoundHoldsIt) {
  LatencyHistogram h;
  h.Observe(0.001);  // <= 0.005
  h.Observe(0.005);  // a bound itself belongs to its bucket (le: less or equal)
  h.Observe(0.0051);
  h.Observe(59);
  h.Observe(61);  // above the last bound
  EXPECT_EQ(h.counts[0], 2u);
  EXPECT_EQ(h.counts[1], 1u);
  EXPECT_EQ(h.counts[kLatencyBucketBounds.size() - 1], 1u);  // le=60
  EXPECT_EQ(h.counts.back(), 1u);                            // +Inf only
  EXPECT_EQ(h.count, 5u);
  EXPECT_DOUBLE_EQ(h.sum_seconds, 0.001 + 0.005 + 0.0051 + 59 + 61);
  uint64_t total = 0;
  for (uint64_t c : h.counts) total += c;
  EXPECT_EQ(total, h.count);
}

TEST(CallOutcomeLabel, NamesEveryOutcomeInSnakeCase) {
  EXPECT_EQ(CallOutcomeLabel(Status::Ok(), false), "success");
  EXPECT_EQ(CallOutcomeLabel(FailedPrecondition("x"), true), "condition_failed");
  EXPECT_EQ(CallOutcomeLabel(FailedPrecondition("x"), false), "failed_precondition");
  EXPECT_EQ(CallOutcomeLabel(Unavailable("x"), false), "unavailable");
  EXPECT_EQ(CallOutcomeLabel(UnknownOutcome("x"), false), "unknown_outcome");
  EXPECT_EQ(CallOutcomeLabel(DeadlineExceeded("x"), false), "deadline_exceeded");
  EXPECT_EQ(CallOutcomeLabel(PermissionDenied("x"), false), "permission_denied");
  EXPECT_EQ(CallOutcomeLabel(InvalidArgument("x"), false), "invalid_argument");
  EXPECT_EQ(CallOutcomeLabel(MalformedResponse("x"), false), "malformed_response");
}

TEST_F(DynamoDbClient, CountsCallsByOperationAndOutcomeWithTheirLatency) {
  // A throttled GetItem that then succeeds: one call (two attempts), outcome success.
  Error(400, "ProvisionedThroughputExceededException", "slow down");
  Ok(json::parse(R"({"Item":{"k":{"S":"v"}}})"));
  ASSERT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5))).ok());
  // A PutItem whose condition fails: a definitive answer, counted apart from errors.
  Error(400, "ConditionalCheckFailedException", "The conditional request failed");
  auto put = client_->PutItem(Put("tbl", Key("a", "b"), {"attribute_not_exists(#k)", {{"#k", "key"}}, {}}),
                              In(seconds(5)));
  ASSERT_TRUE(put.ok() && put->condition_failed);
  // A rejected request.
  Error(400, "ValidationException", "bad");
  EXPECT_FALSE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5))).ok());

  auto st = client_->stats();
  EXPECT_EQ((st.calls[{"GetItem", "success"}]), 1u);
  EXPECT_EQ((st.calls[{"GetItem", "invalid_argument"}]), 1u);
  EXPECT_EQ((st.calls[{"PutItem", "condition_failed"}]), 1u);
  EXPECT_EQ(st.calls.size(), 3u);
  EXPECT_EQ(st.requests_by_operation.at("GetItem"), 3u);  // attempts: the throttled one too
  EXPECT_EQ(st.throttles, 1u);
  const LatencyHistogram& get = st.latency_by_operation.at("GetItem");
  EXPECT_EQ(get.count, 2u);
  // The throttled call took two 5 ms attempts and a backoff sleep: more than 10 ms of the fake clock.
  EXPECT_GT(get.sum_seconds, 0.015);
  EXPECT_EQ(st.latency_by_operation.at("PutItem").count, 1u);
  EXPECT_DOUBLE_EQ(st.latency_by_operation.at("PutItem").sum_seconds, 0.005);
  EXPECT_TRUE(st.consumed_capacity_by_operation.empty());  // no answer carried ConsumedCapacity
}

TEST_F(DynamoDbClient, AddsUpTheConsumedCapacityAnswersCarry) {
  Ok(json::parse(R"({"Item":{"k":{"S":"v"}},"ConsumedCapacity":{"TableName":"tbl","CapacityUnits":0.5}})"));
  Ok(json::parse(R"({"ConsumedCapacity":{"TableName":"tbl","CapacityUnits":1.0}})"));
  Ok(json::parse(R"({"ConsumedCapacity":[{"TableName":"tbl","CapacityUnits":2},{"TableName":"t2",
                    "CapacityUnits":3}]})"));
  Ok(json::parse(R"({"Item":{"k":{"S":"v"}}})"));  // none
  auto got = client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5)));
  ASSERT_TRUE(got.ok() && got->item.has_value());  // the fast decoder still decodes the item
  ASSERT_TRUE(client_->PutItem(Put("tbl", Key("a", "b")), In(seconds(5))).ok());
  ASSERT_TRUE(Call(*client_, "TransactWriteItems", json::object(), true, In(seconds(5))).ok());
  ASSERT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5))).ok());
  auto st = client_->stats();
  EXPECT_DOUBLE_EQ(st.consumed_capacity_by_operation.at("GetItem"), 0.5);
  EXPECT_DOUBLE_EQ(st.consumed_capacity_by_operation.at("PutItem"), 1.0);
  EXPECT_DOUBLE_EQ(st.consumed_capacity_by_operation.at("TransactWriteItems"), 5.0);
}

TEST_F(DynamoDbClient, OnlyTheTopLevelConsumedCapacityCounts) {
  // The name as an attribute of the item, inside a string value, and a top-level member after them.
  // Sent as written (Ok() would re-serialize with sorted keys, putting the top-level member first).
  auto raw = [&](const std::string& text) {
    transport_->PushResponse(200, text, {{"content-type", "application/x-amz-json-1.0"}});
  };
  raw(R"({"Item":{"ConsumedCapacity":{"M":{"CapacityUnits":{"N":"7"}}},
               "v":{"S":"\"},\"ConsumedCapacity\":{\"CapacityUnits\":9},\"w\":\""}},
        "ConsumedCapacity":{"TableName":"tbl","CapacityUnits":0.5}})");
  raw(R"({"Item":{"v":{"S":"\"ConsumedCapacity\":{\"CapacityUnits\":9}"}}})");  // no member
  raw(R"({"ConsumedCapacity":"garbage","Attributes":null})");                   // not units
  ASSERT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5))).ok());
  ASSERT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5))).ok());
  ASSERT_TRUE(client_->PutItem(Put("tbl", Key("a", "b")), In(seconds(5))).ok());
  auto st = client_->stats();
  EXPECT_DOUBLE_EQ(st.consumed_capacity_by_operation.at("GetItem"), 0.5);
  EXPECT_DOUBLE_EQ(st.consumed_capacity_by_operation.at("PutItem"), 0.0);
}

TEST_F(DynamoDbClient, ItemOperationsAskForTheConsumedCapacity) {
  for (int i = 0; i < 7; ++i) Ok(json::object());
  ASSERT_TRUE(client_->GetItem(Get("tbl", Key("a", "b")), In(seconds(5))).ok());
  ASSERT_TRUE(client_->PutItem(Put("tbl", Key("a", "b")), In(seconds(5))).ok());
  ASSERT_TRUE(client_
                  ->UpdateItem(Update("tbl", Key("a", "b"), "SET #v = :v",
                                      {"", {{"#v", "v"}}, {{":v", AttributeValue::S("x")}}}),
                               In(seconds(5)))
                  .ok());
  ASSERT_TRUE(client_->DeleteItem(Del("tbl", Key("a", "b")), In(seconds(5))).ok());
  QueryRequest q;
  q.table = "tbl";
  q.key_condition = {"cluster_name = :p", {}, {{":p", AttributeValue::S("a")}}};
  ASSERT_TRUE(client_->Query(q, In(seconds(5))).ok());
  BatchWriteRequest b;
  b.table = "tbl";
  b.puts.push_back(Key("a", "b"));
  ASSERT_TRUE(client_->BatchWriteItem(b, In(seconds(5))).ok());
  TransactWriteAction put;
  put.table = "tbl";
  put.item_or_key = Key("a", "b");
  ASSERT_TRUE(client_->TransactWriteItems({put}, "", In(seconds(5))).ok());
  ASSERT_EQ(transport_->requests().size(), 7u);
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(Body(i)["ReturnConsumedCapacity"], "TOTAL") << Body(i).dump();
}

}  // namespace
}  // namespace dynatroni::dynamodb
