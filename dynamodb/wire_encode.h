// File: dynamodb/wire_encode.h
//
// Internal fast path of the client for request bodies (GetItem, PutItem,
// UpdateItem, DeleteItem, Query): writes the JSON text directly instead of
// building an nlohmann::json tree and dumping it, which was most of the
// client's own CPU per request after decoding.
//
// Contract: the text is RFC 8259 JSON that parses to the same value as
// EncodeItem/EncodeAttributeValue plus nlohmann's dump would produce (members
// in the order written, not sorted: DynamoDB does not care). Strings are
// checked as UTF-8 the way nlohmann's dump checks them; after an invalid
// string `ok()` is false and the text must not be sent.
//
// Thread-safety: a JsonWriter is used by one thread; the free functions are pure.
#ifndef DYNATRONI_DYNAMODB_WIRE_ENCODE_H_
#define DYNATRONI_DYNAMODB_WIRE_ENCODE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "dynamodb/attribute_value.h"

namespace dynatroni::dynamodb::internal {

// Appends one JSON value to `*out`, with commas and colons placed by the writer.
// Calls must nest properly (Key only directly inside an object, one value after
// each Key); the writer does not check that — it is internal and tested.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view name);
  void String(std::string_view s);
  void Bool(bool b);
  void Int(int64_t n);
  // A complete JSON value written verbatim (e.g. a key echoed from a response).
  void Raw(std::string_view json_text);

  // False once any key or string was not valid UTF-8.
  [[nodiscard]] bool ok() const { return ok_; }

 private:
  void BeforeValue();
  void Quoted(std::string_view s);

  std::string* out_;
  bool need_comma_ = false;
  bool after_key_ = false;
  bool ok_ = true;
};

// {"S": ...} / {"N": ...} / ... as EncodeAttributeValue, written to `w`.
void WriteAttributeValue(JsonWriter& w, const AttributeValue& v);
// {"name": <attribute value>, ...} as EncodeItem.
void WriteItem(JsonWriter& w, const Item& item);
// {"#k": "key", ...}
void WriteStringMap(JsonWriter& w, const std::map<std::string, std::string>& names);
// {":v": <attribute value>, ...}
void WriteValueMap(JsonWriter& w, const std::map<std::string, AttributeValue>& values);

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points
// above U+10FFFF).
bool IsValidUtf8(std::string_view s);

}  // namespace dynatroni::dynamodb::internal

#endif  // DYNATRONI_DYNAMODB_WIRE_ENCODE_H_
