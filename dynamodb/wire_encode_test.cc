#include "dynamodb/wire_encode.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace dynatroni::dynamodb::internal {
namespace {

using nlohmann::json;

std::string Written(const AttributeValue& v) {
  std::string out;
  JsonWriter w(&out);
  WriteAttributeValue(w, v);
  EXPECT_TRUE(w.ok());
  return out;
}

// Every type, nested, with strings that need escaping.
Item EveryType() {
  AttributeValue::Map inner = {{"s", AttributeValue::S("in\"ner")}, {"n", AttributeValue::N("-1.5e3")}};
  return {
      {"s", AttributeValue::S("quote \" backslash \\ newline \n tab \t ctl \x01 del \x7f é 😀")},
      {"n", AttributeValue::N(int64_t{-42})},
      {"b", AttributeValue::B(std::string("\x00\xff\x10", 3))},
      {"t", AttributeValue::Bool(true)},
      {"f", AttributeValue::Bool(false)},
      {"null", AttributeValue::NullValue()},
      {"m", AttributeValue::M(inner)},
      {"empty_m", AttributeValue::M({})},
      {"l", AttributeValue::L({AttributeValue::S("x"), AttributeValue::M(inner), AttributeValue::L({})})},
      {"ss", AttributeValue::SS({"a", "b\\c"})},
      {"ns", AttributeValue::NS({"1", "2.5"})},
      {"bs", AttributeValue::BS({"ab", std::string("\x00", 1)})},
      {"key with \"quotes\"", AttributeValue::S("")},
  };
}

TEST(Unit, WrittenItemParsesToWhatTheNlohmannEncoderBuilds) {
  const Item item = EveryType();
  std::string out;
  JsonWriter w(&out);
  WriteItem(w, item);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(json::parse(out), EncodeItem(item));
  for (const auto& [name, value] : item)
    EXPECT_EQ(json::parse(Written(value)), EncodeAttributeValue(value)) << name;
}

TEST(Unit, WriterPlacesCommasAndColonsInNestedObjectsAndArrays) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("a");
  w.BeginArray();
  w.Int(-9223372036854775807 - 1);
  w.Bool(true);
  w.String("x");
  w.BeginObject();
  w.EndObject();
  w.BeginArray();
  w.EndArray();
  w.EndArray();
  w.Key("b");
  w.BeginObject();
  w.Key("c");
  w.Raw(R"({"k":{"S":"v"}})");
  w.Key("d");
  w.Int(7);
  w.EndObject();
  w.Key("e");
  w.Bool(false);
  w.EndObject();
  EXPECT_EQ(out, R"({"a":[-9223372036854775808,true,"x",{},[]],"b":{"c":{"k":{"S":"v"}},"d":7},"e":false})");
  EXPECT_TRUE(w.ok());
}

TEST(Unit, ControlCharactersAreEscapedAndEveryStringRoundTrips) {
  std::string all;
  for (int c = 1; c < 128; ++c) all.push_back(static_cast<char>(c));
  all += std::string("\0", 1) + "é€😀";
  std::string out;
  JsonWriter w(&out);
  w.String(all);
  ASSERT_TRUE(w.ok());
  for (char c : out) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << "raw control byte in the JSON text";
  EXPECT_EQ(json::parse(out).get<std::string>(), all);
}

// The writer accepts exactly what nlohmann's dump accepts (the general path's rule).
TEST(Unit, InvalidUtf8IsRejectedExactlyWhereNlohmannRejectsIt) {
  const std::vector<std::string> cases = {
      "plain",
      "\xc3\xa9",
      "\xe2\x82\xac",
      "\xf0\x9f\x98\x80",
      "\xed\x9f\xbf",      // U+D7FF
      "\xef\xbf\xbf",      // U+FFFF
      "\xf4\x8f\xbf\xbf",  // U+10FFFF
      "\x80",
      "\xbf",
      "\xc0\x80",
      "\xc1\xbf",
      "\xe0\x80\x80",
      "\xe0\x9f\xbf",  // overlongs
      "\xed\xa0\x80",
      "\xed\xbf\xbf",  // surrogates
      "\xf4\x90\x80\x80",
      "\xf5\x80\x80\x80",
      "\xff",  // above U+10FFFF
      "\xe2\x82",
      "\xf0\x9f\x98",
      "\xc3",
      "a\xc3",  // truncated
      "\xe2\x28\xa1",
      "\xc3\x28",  // bad continuation
  };
  for (const std::string& s : cases) {
    bool nlohmann_ok = true;
    try {
      (void)json(s).dump();
    } catch (const json::exception&) {
      nlohmann_ok = false;
    }
    std::string out;
    JsonWriter w(&out);
    w.BeginObject();
    w.Key("k");
    w.String(s);
    w.EndObject();
    EXPECT_EQ(w.ok(), nlohmann_ok) << json(s).dump(-1, ' ', true, json::error_handler_t::replace);
    EXPECT_EQ(IsValidUtf8(s), nlohmann_ok);

    std::string key_out;
    JsonWriter kw(&key_out);
    kw.BeginObject();
    kw.Key(s);
    kw.Bool(true);
    kw.EndObject();
    EXPECT_EQ(kw.ok(), nlohmann_ok) << "as a member name";
  }
}

}  // namespace
}  // namespace dynatroni::dynamodb::internal
