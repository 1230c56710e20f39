// File: dynamodb/attribute_value.h
//
// DynamoDB's typed AttributeValue (S, N, B, BOOL, NULL, M, L, SS, NS, BS) and
// its JSON wire encoding ({"S":"x"}, {"N":"12"}, {"B":"<base64>"} ...).
//
// Numbers are kept as their decimal string, exactly as DynamoDB sends them.
// Binary values hold raw bytes; base64 happens only on the wire.
//
// Thread-safety: value types; concurrent const access is safe.
#ifndef DYNATRONI_DYNAMODB_ATTRIBUTE_VALUE_H_
#define DYNATRONI_DYNAMODB_ATTRIBUTE_VALUE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"

namespace dynatroni::dynamodb {

class AttributeValue;
using Item = std::map<std::string, AttributeValue, std::less<>>;

enum class AttributeType { kS, kN, kB, kBool, kNull, kM, kL, kSS, kNS, kBS };

class AttributeValue {
 public:
  struct Number {
    std::string digits;
  };
  struct Binary {
    std::string bytes;
  };
  struct Null {};
  struct StringSet {
    std::vector<std::string> v;
  };
  struct NumberSet {
    std::vector<std::string> v;
  };
  struct BinarySet {
    std::vector<std::string> v;
  };
  using List = std::vector<AttributeValue>;
  using Map = Item;

  AttributeValue() : v_(Null{}) {}
  static AttributeValue S(std::string s);
  static AttributeValue N(std::string digits);  // REQUIRES: a DynamoDB number literal
  static AttributeValue N(int64_t n);
  static AttributeValue B(std::string bytes);
  static AttributeValue Bool(bool b);
  static AttributeValue NullValue();
  static AttributeValue M(Map m);
  static AttributeValue L(List l);
  static AttributeValue SS(std::vector<std::string> v);
  static AttributeValue NS(std::vector<std::string> v);
  static AttributeValue BS(std::vector<std::string> v);

  [[nodiscard]] AttributeType type() const;
  // Accessors return nullptr when the type differs.
  [[nodiscard]] const std::string* AsString() const;
  [[nodiscard]] const std::string* AsNumberText() const;
  [[nodiscard]] std::optional<int64_t> AsInt64() const;  // nullopt if not N or not an int64
  [[nodiscard]] const std::string* AsBinary() const;
  [[nodiscard]] const bool* AsBool() const;
  [[nodiscard]] bool IsNull() const;
  [[nodiscard]] const Map* AsMap() const;
  [[nodiscard]] const List* AsList() const;
  [[nodiscard]] const std::vector<std::string>* AsStringSet() const;
  [[nodiscard]] const std::vector<std::string>* AsNumberSet() const;
  [[nodiscard]] const std::vector<std::string>* AsBinarySet() const;

  friend bool operator==(const AttributeValue& a, const AttributeValue& b);

 private:
  using Variant =
      std::variant<std::string, Number, Binary, bool, Null, Map, List, StringSet, NumberSet, BinarySet>;
  Variant v_;
};

// Wire encoding. Decoding rejects unknown type tags, wrong JSON types, invalid
// base64, invalid numbers and nesting deeper than 32 levels with
// kMalformedResponse naming the offending attribute path.
nlohmann::json EncodeAttributeValue(const AttributeValue& v);
nlohmann::json EncodeItem(const Item& item);
Result<AttributeValue> DecodeAttributeValue(const nlohmann::json& j, std::string_view path = "");
Result<Item> DecodeItem(const nlohmann::json& j, std::string_view path = "");

// Checks a DynamoDB number literal: optional sign, digits with an optional
// fraction, optional exponent ("-12", "3.5", ".5", "1e-3"); at most 38
// significant digits; magnitude between 1E-130 and 9.99..E+125 (or zero).
// kInvalidArgument naming `path` and the rule otherwise.
Status ValidateNumber(std::string_view text, std::string_view path);

// Client-side checks before sending a value/item: valid numbers, non-empty
// sets without duplicates, nesting at most 32 levels. kInvalidArgument naming
// the attribute path ("Item.value.M.x: ...").
Status ValidateAttributeValue(const AttributeValue& v, std::string_view path);
Status ValidateItem(const Item& item, std::string_view path);

// Strict standard base64 (RFC 4648, '=' padding required, no whitespace).
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

// DynamoDB's maximum item size (400 KB, names and values counted).
inline constexpr size_t kMaxItemSizeBytes = size_t{400} * 1024;
// Maximum nesting of M/L values.
inline constexpr int kMaxNestingDepth = 32;

// Approximate DynamoDB item size (attribute names + values), as DynamoDB
// counts it for the 400 KB limit: name and S/B bytes as they are; N about one
// byte per two significant digits plus one; BOOL/NULL 1 byte; M/L 3 bytes plus
// 1 byte per element; sets the sum of their elements. Exact for strings and
// binaries, within a few bytes per number otherwise.
size_t ItemSizeBytes(const Item& item);

// Short human-readable rendering for logs (binary shown as length only).
std::string DebugString(const AttributeValue& v);

}  // namespace dynatroni::dynamodb

#endif  // DYNATRONI_DYNAMODB_ATTRIBUTE_VALUE_H_
