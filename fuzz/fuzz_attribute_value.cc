// Fuzz target: the AttributeValue JSON wire decoder (and base64, numbers).
//
// Input: any bytes. Parsed as JSON and decoded both as one AttributeValue and
// as an Item; whatever decodes must re-encode and decode to an equal value, and
// the direct request writer (wire_encode.h) must produce JSON equal to the
// nlohmann encoder's. The raw bytes also go through ValidateNumber, the base64
// codec and the writer's UTF-8 check (which must agree with nlohmann's dump).
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "dynamodb/attribute_value.h"
#include "dynamodb/wire_encode.h"
#include "fuzz/fuzz_common.h"

using namespace dynatroni;            // NOLINT(google-build-using-namespace)
using namespace dynatroni::dynamodb;  // NOLINT(google-build-using-namespace)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);

  fuzz::CheckOneLine(ValidateNumber(text, "n"));
  if (auto decoded = Base64Decode(text)) {
    DYNATRONI_FUZZ_CHECK(Base64Encode(*decoded) == text, "strict base64 must round-trip");
  }
  auto again = Base64Decode(Base64Encode(text));
  DYNATRONI_FUZZ_CHECK(again && *again == text, "Base64Decode(Base64Encode(x)) == x");

  bool dump_ok = true;
  try {
    (void)nlohmann::json(text).dump();
  } catch (const nlohmann::json::exception&) {
    dump_ok = false;
  }
  DYNATRONI_FUZZ_CHECK(internal::IsValidUtf8(text) == dump_ok, "UTF-8 check agrees with nlohmann's dump");
  if (dump_ok) {
    std::string written;
    internal::JsonWriter w(&written);
    w.String(text);
    DYNATRONI_FUZZ_CHECK(nlohmann::json::parse(written, nullptr, false) == nlohmann::json(text),
                         "a written string parses back to itself");
  }

  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;

  auto value = DecodeAttributeValue(j, "v");
  fuzz::CheckOneLine(value.status());
  if (value.ok()) {
    auto round = DecodeAttributeValue(EncodeAttributeValue(*value), "v");
    DYNATRONI_FUZZ_CHECK(round.ok(), round.status().ToString());
    DYNATRONI_FUZZ_CHECK(*round == *value, "decode(encode(v)) == v");
    fuzz::CheckOneLine(ValidateAttributeValue(*value, "v"));
    (void)DebugString(*value);
    std::string written;
    internal::JsonWriter w(&written);
    internal::WriteAttributeValue(w, *value);
    DYNATRONI_FUZZ_CHECK(w.ok(), "a decoded value is valid UTF-8");
    DYNATRONI_FUZZ_CHECK(nlohmann::json::parse(written, nullptr, false) == EncodeAttributeValue(*value),
                         "the direct writer and the nlohmann encoder agree");
  }

  auto item = DecodeItem(j, "Item");
  fuzz::CheckOneLine(item.status());
  if (item.ok()) {
    auto round = DecodeItem(EncodeItem(*item), "Item");
    DYNATRONI_FUZZ_CHECK(round.ok(), round.status().ToString());
    DYNATRONI_FUZZ_CHECK(*round == *item, "decode(encode(item)) == item");
    std::string written;
    internal::JsonWriter w(&written);
    internal::WriteItem(w, *item);
    DYNATRONI_FUZZ_CHECK(w.ok() && nlohmann::json::parse(written, nullptr, false) == EncodeItem(*item),
                         "the direct writer and the nlohmann encoder agree on items");
    Status valid = ValidateItem(*item, "Item");
    fuzz::CheckOneLine(valid);
    size_t bytes = ItemSizeBytes(*item);
    DYNATRONI_FUZZ_CHECK(item->empty() || bytes > 0, "a non-empty item has a size");
  }
  return 0;
}
