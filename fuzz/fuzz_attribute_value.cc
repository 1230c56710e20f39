// Fuzz target: the AttributeValue JSON wire decoder (and base64, numbers).
//
// Input: any bytes. Parsed as JSON and decoded both as one AttributeValue and
// as an Item; whatever decodes must re-encode and decode to an equal value.
// The raw bytes also go through ValidateNumber and the base64 codec.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "dynamodb/attribute_value.h"
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
  }

  auto item = DecodeItem(j, "Item");
  fuzz::CheckOneLine(item.status());
  if (item.ok()) {
    auto round = DecodeItem(EncodeItem(*item), "Item");
    DYNATRONI_FUZZ_CHECK(round.ok(), round.status().ToString());
    DYNATRONI_FUZZ_CHECK(*round == *item, "decode(encode(item)) == item");
    Status valid = ValidateItem(*item, "Item");
    fuzz::CheckOneLine(valid);
    size_t bytes = ItemSizeBytes(*item);
    DYNATRONI_FUZZ_CHECK(item->empty() || bytes > 0, "a non-empty item has a size");
  }
  return 0;
}
