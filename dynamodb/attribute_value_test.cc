#include "dynamodb/attribute_value.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace dynatroni::dynamodb {
namespace {

using nlohmann::json;

AttributeValue RoundTrip(const AttributeValue& v) {
  json wire = EncodeAttributeValue(v);
  // Through text too, as on the wire.
  json reparsed = json::parse(wire.dump());
  auto back = DecodeAttributeValue(reparsed, "v");
  EXPECT_TRUE(back.ok()) << back.status().ToString();
  return back.ok() ? back.value() : AttributeValue();
}

TEST(AttributeValue, EveryTypeRoundTripsThroughTheWireEncoding) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes += static_cast<char>(i);
  std::vector<AttributeValue> values = {
      AttributeValue::S("hello ✓"),
      AttributeValue::S(""),
      AttributeValue::N("-12.5e3"),
      AttributeValue::N(int64_t{9223372036854775807}),
      AttributeValue::B(all_bytes),
      AttributeValue::B(""),
      AttributeValue::B("a"),
      AttributeValue::B("ab"),
      AttributeValue::Bool(true),
      AttributeValue::Bool(false),
      AttributeValue::NullValue(),
      AttributeValue::M({{"a", AttributeValue::S("x")}, {"b", AttributeValue::L({AttributeValue::N(1)})}}),
      AttributeValue::M({}),
      AttributeValue::L({AttributeValue::S("x"), AttributeValue::NullValue(), AttributeValue::M({})}),
      AttributeValue::L({}),
      AttributeValue::SS({"a", "b"}),
      AttributeValue::NS({"1", "2.5"}),
      AttributeValue::BS({std::string("\0\1", 2), "xyz"}),
  };
  for (const auto& v : values) {
    EXPECT_EQ(RoundTrip(v), v) << DebugString(v);
  }
}

TEST(AttributeValue, EncodesTheDocumentedWireShapes) {
  EXPECT_EQ(EncodeAttributeValue(AttributeValue::S("x")), json::parse(R"({"S":"x"})"));
  EXPECT_EQ(EncodeAttributeValue(AttributeValue::N(42)), json::parse(R"({"N":"42"})"));
  EXPECT_EQ(EncodeAttributeValue(AttributeValue::B("hi!")), json::parse(R"({"B":"aGkh"})"));
  EXPECT_EQ(EncodeAttributeValue(AttributeValue::Bool(true)), json::parse(R"({"BOOL":true})"));
  EXPECT_EQ(EncodeAttributeValue(AttributeValue::NullValue()), json::parse(R"({"NULL":true})"));
  EXPECT_EQ(EncodeAttributeValue(AttributeValue::BS({"hi"})), json::parse(R"({"BS":["aGk="]})"));
  EXPECT_EQ(EncodeItem({{"k", AttributeValue::M({{"n", AttributeValue::L({})}})}}),
            json::parse(R"({"k":{"M":{"n":{"L":[]}}}})"));
}

TEST(AttributeValue, AccessorsReturnNullForOtherTypes) {
  AttributeValue s = AttributeValue::S("x");
  EXPECT_EQ(s.type(), AttributeType::kS);
  ASSERT_NE(s.AsString(), nullptr);
  EXPECT_EQ(s.AsNumberText(), nullptr);
  EXPECT_EQ(s.AsMap(), nullptr);
  EXPECT_FALSE(s.AsInt64().has_value());
  EXPECT_EQ(AttributeValue::N("17").AsInt64(), 17);
  EXPECT_EQ(AttributeValue::N("-5").AsInt64(), -5);
  EXPECT_FALSE(AttributeValue::N("1.5").AsInt64().has_value());
  EXPECT_FALSE(AttributeValue::N("99999999999999999999").AsInt64().has_value());
  EXPECT_TRUE(AttributeValue().IsNull());
}

TEST(AttributeValue, SetsCompareWithoutOrder) {
  EXPECT_EQ(AttributeValue::SS({"a", "b"}), AttributeValue::SS({"b", "a"}));
  EXPECT_NE(AttributeValue::SS({"a", "b"}), AttributeValue::SS({"a", "c"}));
  EXPECT_NE(AttributeValue::SS({"a"}), AttributeValue::NS({"1"}));
  EXPECT_NE(AttributeValue::L({AttributeValue::N(1), AttributeValue::N(2)}),
            AttributeValue::L({AttributeValue::N(2), AttributeValue::N(1)}));
}

TEST(AttributeValue, DecodeNamesThePathOfAnUnknownType) {
  json j = json::parse(R"({"value":{"M":{"x":{"Q":"1"}}}})");
  auto r = DecodeItem(j, "Item");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse);
  EXPECT_EQ(r.status().message(), "Item.value.M.x: unknown attribute type \"Q\"");
}

TEST(AttributeValue, DecodeNamesListIndexes) {
  json j = json::parse(R"({"l":{"L":[{"S":"a"},{"N":"abc"}]}})");
  auto r = DecodeItem(j, "Item");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse);
  EXPECT_NE(r.status().message().find("Item.l.L[1].N"), std::string::npos) << r.status().message();
}

struct MalformedCase {
  const char* json_text;
  const char* expected_fragment;
};

class AttributeValueMalformed : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(AttributeValueMalformed, IsRejectedWithPathAndReason) {
  const auto& c = GetParam();
  auto r = DecodeAttributeValue(json::parse(c.json_text), "Item.a");
  ASSERT_FALSE(r.ok()) << c.json_text;
  EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse);
  EXPECT_NE(r.status().message().find(c.expected_fragment), std::string::npos)
      << c.json_text << " -> " << r.status().message();
  EXPECT_EQ(r.status().message().rfind("Item.a", 0), 0u) << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(Unit, AttributeValueMalformed,
                         ::testing::Values(MalformedCase{R"("x")", "expected an attribute value object"},
                                           MalformedCase{R"({})", "exactly one type tag"},
                                           MalformedCase{R"({"S":"a","N":"1"})", "exactly one type tag"},
                                           MalformedCase{R"({"S":1})", "expected a string"},
                                           MalformedCase{R"({"N":1})", "expected a number in a string"},
                                           MalformedCase{R"({"N":"1.2.3"})", "not a DynamoDB number"},
                                           MalformedCase{R"({"N":""})", "not a DynamoDB number"},
                                           MalformedCase{R"({"N":"1e"})", "not a DynamoDB number"},
                                           MalformedCase{R"({"N":"0x10"})", "not a DynamoDB number"},
                                           MalformedCase{R"({"N":"NaN"})", "not a DynamoDB number"},
                                           MalformedCase{R"({"N":" 1"})", "not a DynamoDB number"},
                                           MalformedCase{R"({"N":"123456789012345678901234567890123456789"})",
                                                         "38"},
                                           MalformedCase{R"({"N":"1e126"})", "overflow"},
                                           MalformedCase{R"({"N":"1e-131"})", "underflow"},
                                           MalformedCase{R"({"B":"abc"})", "invalid base64"},
                                           MalformedCase{R"({"B":"ab=c"})", "invalid base64"},
                                           MalformedCase{R"({"B":"a===" })", "invalid base64"},
                                           MalformedCase{R"({"B":"aGk=aGk="})", "invalid base64"},
                                           MalformedCase{R"({"B":"aGl="})", "invalid base64"},
                                           MalformedCase{R"({"B":"aG k"})", "invalid base64"},
                                           MalformedCase{R"({"B":5})", "expected a base64 string"},
                                           MalformedCase{R"({"BOOL":"true"})", "expected true or false"},
                                           MalformedCase{R"({"NULL":false})", "expected true"},
                                           MalformedCase{R"({"M":[]})", "expected a JSON object"},
                                           MalformedCase{R"({"L":{}})", "expected a JSON array"},
                                           MalformedCase{R"({"SS":[]})", "must not be empty"},
                                           MalformedCase{R"({"SS":["a",1]})", "[1]"},
                                           MalformedCase{R"({"NS":["1","x"]})", "not a DynamoDB number"},
                                           MalformedCase{R"({"BS":["!!!!"]})", "invalid base64"},
                                           MalformedCase{R"({"SS":"a"})", "expected a JSON array"},
                                           MalformedCase{R"({"Q":"a"})", "unknown attribute type \"Q\""}));

TEST(AttributeValue, NumbersFollowDynamoDbLiteralRules) {
  for (const char* ok :
       {"0", "-0", "+7", "12", "-12.50", "3.", ".5", "1e5", "1E+5", "2.5e-3",
        "12345678901234567890123456789012345678", "1000000000000000000000000000000000000000000",
        "9.9999999999999999999999999999999999999E+125", "1E-130", "0.0000e999"}) {
    EXPECT_TRUE(ValidateNumber(ok, "n").ok()) << ok << ": " << ValidateNumber(ok, "n").message();
  }
  for (const char* bad : {"", "-", "+", ".", "e5", "1e", "1e+", "--1", "1.2.3", "1,5", "Infinity", "1 ",
                          "1e5.5", "123456789012345678901234567890123456789", "1E126", "1E-131"}) {
    Status s = ValidateNumber(bad, "Item.n");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message().rfind("Item.n: ", 0), 0u) << s.message();
  }
}

AttributeValue Nested(int levels) {
  AttributeValue v = AttributeValue::S("leaf");
  for (int i = 0; i < levels; ++i) v = (i % 2) ? AttributeValue::L({v}) : AttributeValue::M({{"m", v}});
  return v;
}

TEST(AttributeValue, DepthLimitIs32Levels) {
  EXPECT_TRUE(DecodeAttributeValue(EncodeAttributeValue(Nested(32)), "a").ok());
  auto r = DecodeAttributeValue(EncodeAttributeValue(Nested(33)), "a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse);
  EXPECT_NE(r.status().message().find("deeper than 32"), std::string::npos) << r.status().message();

  EXPECT_TRUE(ValidateAttributeValue(Nested(32), "a").ok());
  Status s = ValidateAttributeValue(Nested(33), "Item.a");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("32"), std::string::npos);
}

TEST(AttributeValue, DecodeRejectsAbsurdlyDeepJsonWithoutCrashing) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += R"({"L":[)";
  text += R"({"S":"x"})";
  for (int i = 0; i < 5000; ++i) text += "]}";
  json j = json::parse(text, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  auto r = DecodeAttributeValue(j, "deep");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse);
}

TEST(AttributeValue, ClientSideValidationCatchesBadNumbersAndSets) {
  Item item{{"n", AttributeValue::N("12abc")}};
  Status s = ValidateItem(item, "Item");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("Item.n.N: ", 0), 0u) << s.message();

  EXPECT_EQ(ValidateItem({{"s", AttributeValue::SS({})}}, "Item").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateItem({{"s", AttributeValue::SS({"a", "a"})}}, "Item").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateItem({{"s", AttributeValue::NS({"1", "x"})}}, "Item").code(),
            StatusCode::kInvalidArgument);
  Status nested =
      ValidateItem({{"m", AttributeValue::M({{"x", AttributeValue::L({AttributeValue::N("..")})}})}}, "Item");
  EXPECT_EQ(nested.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(nested.message().rfind("Item.m.M.x.L[0].N: ", 0), 0u) << nested.message();
  EXPECT_TRUE(
      ValidateItem({{"ok", AttributeValue::NS({"1", "2"})}, {"s", AttributeValue::S("")}}, "Item").ok());
}

TEST(AttributeValue, Base64IsStrictAndMatchesRfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    auto d = Base64Decode(encoded);
    ASSERT_TRUE(d.has_value()) << encoded;
    EXPECT_EQ(*d, plain);
  }
  for (const char* bad : {"Zg", "Zg=", "Zg===", "=Zg=", "Zm9v\n", "Zm-v", "Zh==", "Zm9=Zm9v"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

TEST(AttributeValue, ItemSizeCountsNamesAndValues) {
  EXPECT_EQ(ItemSizeBytes({}), 0u);
  EXPECT_EQ(ItemSizeBytes({{"ab", AttributeValue::S("hello")}}), 7u);
  EXPECT_EQ(ItemSizeBytes({{"b", AttributeValue::B(std::string(10, 'x'))}}), 11u);
  EXPECT_EQ(ItemSizeBytes({{"t", AttributeValue::Bool(true)}, {"z", AttributeValue::NullValue()}}), 4u);
  // 1 byte per two significant digits plus one: "12345" -> 3 + 1.
  EXPECT_EQ(ItemSizeBytes({{"n", AttributeValue::N("12345")}}), 1u + 4u);
  EXPECT_EQ(ItemSizeBytes({{"n", AttributeValue::N("1000000")}}),
            ItemSizeBytes({{"n", AttributeValue::N("1")}}));
  // Map: 3 bytes + per element (1 + name + value).
  EXPECT_EQ(ItemSizeBytes({{"m", AttributeValue::M({{"k", AttributeValue::S("vv")}})}}),
            1u + 3u + 1u + 1u + 2u);
  EXPECT_EQ(ItemSizeBytes({{"l", AttributeValue::L({AttributeValue::S("a"), AttributeValue::S("bc")})}}),
            1u + 3u + 2u + 3u);
  EXPECT_EQ(ItemSizeBytes({{"s", AttributeValue::SS({"ab", "c"})}}), 4u);
  Item big{{"data", AttributeValue::S(std::string(kMaxItemSizeBytes, 'x'))}};
  EXPECT_GT(ItemSizeBytes(big), kMaxItemSizeBytes);
}

TEST(AttributeValue, DebugStringHidesBinaryContent) {
  AttributeValue v = AttributeValue::M(
      {{"b", AttributeValue::B("secret")}, {"n", AttributeValue::N(3)}, {"s", AttributeValue::SS({"x"})}});
  std::string d = DebugString(v);
  EXPECT_EQ(d, R"({b: <6 bytes>, n: 3, s: SS{"x"}})");
  EXPECT_EQ(d.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace dynatroni::dynamodb
