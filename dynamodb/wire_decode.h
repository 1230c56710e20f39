// File: dynamodb/wire_decode.h
//
// Internal fast path of the client for item-heavy responses (GetItem, Query).
//
// The general path parses a response body into nlohmann::json and then copies
// every attribute into an Item (DecodeItem): for a Query page that is most of
// the client's CPU. FastDecodeItems reads the body once and builds the Items
// directly; every other top-level member still goes through nlohmann (into
// `rest`), so callers see the same values either way.
//
// Contract: it returns false whenever the body is not valid JSON (RFC 8259,
// UTF-8 checked as nlohmann checks it) or the items member would not decode
// cleanly (wrong shapes, bad numbers or base64, nesting deeper than
// kMaxNestingDepth, a duplicate item member); the caller then takes the general
// path, which produces the exact error message. When it returns true the
// result equals what the general path would have produced.
//
// Thread-safety: pure functions.
#ifndef DYNATRONI_DYNAMODB_WIRE_DECODE_H_
#define DYNATRONI_DYNAMODB_WIRE_DECODE_H_

#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dynamodb/attribute_value.h"

namespace dynatroni::dynamodb::internal {

enum class ItemsShape {
  kList,        // "Items": [ item, ... ]            (Query, Scan)
  kItemOrNull,  // "Item": item | null                (GetItem)
};

struct DecodedBody {
  nlohmann::json rest = nlohmann::json::object();  // the other top-level members
  bool has_field = false;                          // the items member was present (and not null)
  std::vector<Item> items;                         // kList: all items; kItemOrNull: one item when has_field
};

// Parses `body` (a JSON object) decoding member `field` as `shape`. See the contract above.
bool FastDecodeItems(std::string_view body, std::string_view field, ItemsShape shape, DecodedBody* out);

}  // namespace dynatroni::dynamodb::internal

#endif  // DYNATRONI_DYNAMODB_WIRE_DECODE_H_
