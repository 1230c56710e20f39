#include "dynamodb/attribute_value.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

namespace dynatroni::dynamodb {

using nlohmann::json;

// ---------------------------------------------------------------------------
// Construction and access

AttributeValue AttributeValue::S(std::string s) {
  AttributeValue v;
  v.v_ = std::move(s);
  return v;
}
AttributeValue AttributeValue::N(std::string digits) {
  AttributeValue v;
  v.v_ = Number{std::move(digits)};
  return v;
}
AttributeValue AttributeValue::N(int64_t n) { return N(std::to_string(n)); }
AttributeValue AttributeValue::B(std::string bytes) {
  AttributeValue v;
  v.v_ = Binary{std::move(bytes)};
  return v;
}
AttributeValue AttributeValue::Bool(bool b) {
  AttributeValue v;
  v.v_ = b;
  return v;
}
AttributeValue AttributeValue::NullValue() { return AttributeValue(); }
AttributeValue AttributeValue::M(Map m) {
  AttributeValue v;
  v.v_ = std::move(m);
  return v;
}
AttributeValue AttributeValue::L(List l) {
  AttributeValue v;
  v.v_ = std::move(l);
  return v;
}
AttributeValue AttributeValue::SS(std::vector<std::string> v) {
  AttributeValue out;
  out.v_ = StringSet{std::move(v)};
  return out;
}
AttributeValue AttributeValue::NS(std::vector<std::string> v) {
  AttributeValue out;
  out.v_ = NumberSet{std::move(v)};
  return out;
}
AttributeValue AttributeValue::BS(std::vector<std::string> v) {
  AttributeValue out;
  out.v_ = BinarySet{std::move(v)};
  return out;
}

AttributeType AttributeValue::type() const {
  // The variant's alternatives are declared in AttributeType order.
  return static_cast<AttributeType>(v_.index());
}

const std::string* AttributeValue::AsString() const { return std::get_if<std::string>(&v_); }
const std::string* AttributeValue::AsNumberText() const {
  const auto* n = std::get_if<Number>(&v_);
  return n ? &n->digits : nullptr;
}
std::optional<int64_t> AttributeValue::AsInt64() const {
  const auto* n = std::get_if<Number>(&v_);
  if (n == nullptr || n->digits.empty()) return std::nullopt;
  const char* first = n->digits.data();
  const char* last = first + n->digits.size();
  if (*first == '+') ++first;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(first, last, out);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return out;
}
const std::string* AttributeValue::AsBinary() const {
  const auto* b = std::get_if<Binary>(&v_);
  return b ? &b->bytes : nullptr;
}
const bool* AttributeValue::AsBool() const { return std::get_if<bool>(&v_); }
bool AttributeValue::IsNull() const { return std::holds_alternative<Null>(v_); }
const AttributeValue::Map* AttributeValue::AsMap() const { return std::get_if<Map>(&v_); }
const AttributeValue::List* AttributeValue::AsList() const { return std::get_if<List>(&v_); }
const std::vector<std::string>* AttributeValue::AsStringSet() const {
  const auto* s = std::get_if<StringSet>(&v_);
  return s ? &s->v : nullptr;
}
const std::vector<std::string>* AttributeValue::AsNumberSet() const {
  const auto* s = std::get_if<NumberSet>(&v_);
  return s ? &s->v : nullptr;
}
const std::vector<std::string>* AttributeValue::AsBinarySet() const {
  const auto* s = std::get_if<BinarySet>(&v_);
  return s ? &s->v : nullptr;
}

namespace {

// Sets have no order on the wire: compare them as sorted multisets.
bool SameSet(std::vector<std::string> a, std::vector<std::string> b) {
  if (a.size() != b.size()) return false;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

}  // namespace

bool operator==(const AttributeValue& a, const AttributeValue& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case AttributeType::kS:
      return *a.AsString() == *b.AsString();
    case AttributeType::kN:
      return *a.AsNumberText() == *b.AsNumberText();
    case AttributeType::kB:
      return *a.AsBinary() == *b.AsBinary();
    case AttributeType::kBool:
      return *a.AsBool() == *b.AsBool();
    case AttributeType::kNull:
      return true;
    case AttributeType::kM:
      return *a.AsMap() == *b.AsMap();
    case AttributeType::kL:
      return *a.AsList() == *b.AsList();
    case AttributeType::kSS:
      return SameSet(*a.AsStringSet(), *b.AsStringSet());
    case AttributeType::kNS:
      return SameSet(*a.AsNumberSet(), *b.AsNumberSet());
    case AttributeType::kBS:
      return SameSet(*a.AsBinarySet(), *b.AsBinarySet());
  }
  return false;
}

// ---------------------------------------------------------------------------
// Base64 (strict)

namespace {

constexpr char kB64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int B64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kB64Alphabet[(n >> 18) & 63];
    out += kB64Alphabet[(n >> 12) & 63];
    out += kB64Alphabet[(n >> 6) & 63];
    out += kB64Alphabet[n & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t n = byte(i) << 16;
    out += kB64Alphabet[(n >> 18) & 63];
    out += kB64Alphabet[(n >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kB64Alphabet[(n >> 18) & 63];
    out += kB64Alphabet[(n >> 12) & 63];
    out += kB64Alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last_quad = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=') {
        // Padding only in the last quad, only in its last two positions, and
        // nothing but padding after it.
        if (!last_quad || k < 2) return std::nullopt;
        ++pad;
        v[k] = 0;
        continue;
      }
      if (pad > 0) return std::nullopt;
      v[k] = B64Value(c);
      if (v[k] < 0) return std::nullopt;
    }
    uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                 (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    // Canonical form: the bits dropped by the padding must be zero.
    if (pad == 1 && (n & 0xFF) != 0) return std::nullopt;
    if (pad == 2 && (n & 0xFFFF) != 0) return std::nullopt;
    out += static_cast<char>((n >> 16) & 0xFF);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(n & 0xFF);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Numbers

namespace {

struct ParsedNumber {
  bool zero = false;
  int significant_digits = 0;
  // Decimal exponent of the first significant digit (1.5e3 -> 3, 0.01 -> -2).
  int64_t magnitude = 0;
};

// Parses [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?.
std::optional<ParsedNumber> ParseNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::string mantissa;  // every digit of the mantissa, in order
  int64_t int_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    mantissa += s[i++];
    ++int_digits;
  }
  bool has_fraction_digits = false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      mantissa += s[i++];
      has_fraction_digits = true;
    }
  }
  if (int_digits == 0 && !has_fraction_digits) return std::nullopt;
  int64_t exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
    if (i >= s.size()) return std::nullopt;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (exponent < 1000000) exponent = exponent * 10 + (s[i] - '0');
      ++i;
    }
    if (negative) exponent = -exponent;
  }
  if (i != s.size()) return std::nullopt;

  ParsedNumber out;
  size_t first = mantissa.find_first_not_of('0');
  if (first == std::string::npos) {
    out.zero = true;
    return out;
  }
  size_t last = mantissa.find_last_not_of('0');
  out.significant_digits = static_cast<int>(last - first + 1);
  // Digit at mantissa position p has weight 10^(int_digits - 1 - p + exponent).
  out.magnitude = int_digits - 1 - static_cast<int64_t>(first) + exponent;
  return out;
}

std::string At(std::string_view path) { return path.empty() ? std::string("value") : std::string(path); }

}  // namespace

Status ValidateNumber(std::string_view text, std::string_view path) {
  auto parsed = ParseNumber(text);
  if (!parsed) {
    return InvalidArgument(At(path) + ": \"" + std::string(text.substr(0, 64)) +
                           "\" is not a DynamoDB number (use optional sign, digits, optional fraction "
                           "and exponent, e.g. -12.5e3)");
  }
  if (parsed->zero) return Status::Ok();
  if (parsed->significant_digits > 38) {
    return InvalidArgument(At(path) + ": number has " + std::to_string(parsed->significant_digits) +
                           " significant digits; DynamoDB allows at most 38");
  }
  if (parsed->magnitude > 125) {
    return InvalidArgument(At(path) + ": number overflow; DynamoDB numbers must be below 1E+126");
  }
  if (parsed->magnitude < -130) {
    return InvalidArgument(At(path) +
                           ": number underflow; DynamoDB numbers must be at least 1E-130 in magnitude");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Encoding

json EncodeAttributeValue(const AttributeValue& v) {
  switch (v.type()) {
    case AttributeType::kS:
      return json{{"S", *v.AsString()}};
    case AttributeType::kN:
      return json{{"N", *v.AsNumberText()}};
    case AttributeType::kB:
      return json{{"B", Base64Encode(*v.AsBinary())}};
    case AttributeType::kBool:
      return json{{"BOOL", *v.AsBool()}};
    case AttributeType::kNull:
      return json{{"NULL", true}};
    case AttributeType::kM:
      return json{{"M", EncodeItem(*v.AsMap())}};
    case AttributeType::kL: {
      json arr = json::array();
      for (const auto& e : *v.AsList()) arr.push_back(EncodeAttributeValue(e));
      return json{{"L", std::move(arr)}};
    }
    case AttributeType::kSS:
      return json{{"SS", *v.AsStringSet()}};
    case AttributeType::kNS:
      return json{{"NS", *v.AsNumberSet()}};
    case AttributeType::kBS: {
      json arr = json::array();
      for (const auto& e : *v.AsBinarySet()) arr.push_back(Base64Encode(e));
      return json{{"BS", std::move(arr)}};
    }
  }
  return json{{"NULL", true}};
}

json EncodeItem(const Item& item) {
  json out = json::object();
  for (const auto& [name, value] : item) out[name] = EncodeAttributeValue(value);
  return out;
}

// ---------------------------------------------------------------------------
// Decoding

namespace {

std::string Join(std::string_view path, std::string_view name) {
  if (path.empty()) return std::string(name);
  std::string out(path);
  out += '.';
  out += name;
  return out;
}

std::string Index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

Status Bad(std::string_view path, const std::string& what) {
  return MalformedResponse(At(path) + ": " + what);
}

std::string JsonTypeName(const json& j) { return j.type_name(); }

Result<AttributeValue> DecodeAt(const json& j, const std::string& path, int depth);

Result<Item> DecodeMapAt(const json& j, const std::string& path, int depth) {
  if (!j.is_object()) return Bad(path, "expected a JSON object of attributes, got " + JsonTypeName(j));
  Item out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string child = Join(path, it.key());
    auto v = DecodeAt(it.value(), child, depth);
    if (!v.ok()) return v.status();
    out.emplace(it.key(), std::move(v).value());
  }
  return out;
}

Result<std::vector<std::string>> DecodeStringArray(const json& j, const std::string& path) {
  if (!j.is_array()) return Bad(path, "expected a JSON array, got " + JsonTypeName(j));
  std::vector<std::string> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) return Bad(Index(path, i), "expected a string, got " + JsonTypeName(j[i]));
    out.push_back(j[i].get<std::string>());
  }
  return out;
}

Status CheckWireNumber(const std::string& text, const std::string& path) {
  Status s = ValidateNumber(text, path);
  if (s.ok()) return s;
  return MalformedResponse(s.message());
}

Result<AttributeValue> DecodeAt(const json& j, const std::string& path, int depth) {
  if (!j.is_object()) return Bad(path, "expected an attribute value object, got " + JsonTypeName(j));
  if (j.size() != 1) {
    return Bad(path, "an attribute value must have exactly one type tag, got " + std::to_string(j.size()));
  }
  auto it = j.begin();
  const std::string& tag = it.key();
  const json& x = it.value();
  const std::string here = Join(path, tag);
  if (tag == "S") {
    if (!x.is_string()) return Bad(here, "expected a string, got " + JsonTypeName(x));
    return AttributeValue::S(x.get<std::string>());
  }
  if (tag == "N") {
    if (!x.is_string()) return Bad(here, "expected a number in a string, got " + JsonTypeName(x));
    std::string text = x.get<std::string>();
    DYNATRONI_RETURN_IF_ERROR(CheckWireNumber(text, here));
    return AttributeValue::N(std::move(text));
  }
  if (tag == "B") {
    if (!x.is_string()) return Bad(here, "expected a base64 string, got " + JsonTypeName(x));
    auto bytes = Base64Decode(x.get_ref<const std::string&>());
    if (!bytes) return Bad(here, "invalid base64");
    return AttributeValue::B(std::move(*bytes));
  }
  if (tag == "BOOL") {
    if (!x.is_boolean()) return Bad(here, "expected true or false, got " + JsonTypeName(x));
    return AttributeValue::Bool(x.get<bool>());
  }
  if (tag == "NULL") {
    if (!x.is_boolean() || !x.get<bool>()) return Bad(here, "expected true");
    return AttributeValue::NullValue();
  }
  if (tag == "M" || tag == "L") {
    if (depth + 1 > kMaxNestingDepth) {
      return Bad(here, "nesting deeper than " + std::to_string(kMaxNestingDepth) + " levels");
    }
    if (tag == "M") {
      auto m = DecodeMapAt(x, here, depth + 1);
      if (!m.ok()) return m.status();
      return AttributeValue::M(std::move(m).value());
    }
    if (!x.is_array()) return Bad(here, "expected a JSON array, got " + JsonTypeName(x));
    AttributeValue::List list;
    list.reserve(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      auto e = DecodeAt(x[i], Index(here, i), depth + 1);
      if (!e.ok()) return e.status();
      list.push_back(std::move(e).value());
    }
    return AttributeValue::L(std::move(list));
  }
  if (tag == "SS" || tag == "NS" || tag == "BS") {
    auto arr = DecodeStringArray(x, here);
    if (!arr.ok()) return arr.status();
    std::vector<std::string> v = std::move(arr).value();
    if (v.empty()) return Bad(here, "a set must not be empty");
    if (tag == "SS") return AttributeValue::SS(std::move(v));
    if (tag == "NS") {
      for (size_t i = 0; i < v.size(); ++i) DYNATRONI_RETURN_IF_ERROR(CheckWireNumber(v[i], Index(here, i)));
      return AttributeValue::NS(std::move(v));
    }
    for (size_t i = 0; i < v.size(); ++i) {
      auto bytes = Base64Decode(v[i]);
      if (!bytes) return Bad(Index(here, i), "invalid base64");
      v[i] = std::move(*bytes);
    }
    return AttributeValue::BS(std::move(v));
  }
  std::string shown = tag.size() > 32 ? tag.substr(0, 32) + "..." : tag;
  return Bad(path, "unknown attribute type \"" + shown + "\"");
}

}  // namespace

Result<AttributeValue> DecodeAttributeValue(const json& j, std::string_view path) {
  return DecodeAt(j, std::string(path), 0);
}

Result<Item> DecodeItem(const json& j, std::string_view path) { return DecodeMapAt(j, std::string(path), 0); }

// ---------------------------------------------------------------------------
// Client-side validation

namespace {

Status ValidateAt(const AttributeValue& v, const std::string& path, int depth);

Status ValidateSet(const std::vector<std::string>& v, const std::string& path) {
  if (v.empty()) return InvalidArgument(path + ": a set must not be empty (omit the attribute instead)");
  std::set<std::string_view> seen;
  for (const auto& e : v) {
    if (!seen.insert(e).second) return InvalidArgument(path + ": a set must not contain duplicates");
  }
  return Status::Ok();
}

Status ValidateMapAt(const Item& item, const std::string& path, int depth) {
  for (const auto& [name, value] : item) {
    DYNATRONI_RETURN_IF_ERROR(ValidateAt(value, Join(path, name), depth));
  }
  return Status::Ok();
}

Status ValidateAt(const AttributeValue& v, const std::string& path, int depth) {
  switch (v.type()) {
    case AttributeType::kN:
      return ValidateNumber(*v.AsNumberText(), Join(path, "N"));
    case AttributeType::kM:
    case AttributeType::kL: {
      const std::string here = Join(path, v.type() == AttributeType::kM ? "M" : "L");
      if (depth + 1 > kMaxNestingDepth) {
        return InvalidArgument(here + ": nesting deeper than " + std::to_string(kMaxNestingDepth) +
                               " levels; DynamoDB allows at most 32");
      }
      if (const auto* m = v.AsMap()) return ValidateMapAt(*m, here, depth + 1);
      const auto& list = *v.AsList();
      for (size_t i = 0; i < list.size(); ++i)
        DYNATRONI_RETURN_IF_ERROR(ValidateAt(list[i], Index(here, i), depth + 1));
      return Status::Ok();
    }
    case AttributeType::kSS:
      return ValidateSet(*v.AsStringSet(), Join(path, "SS"));
    case AttributeType::kBS:
      return ValidateSet(*v.AsBinarySet(), Join(path, "BS"));
    case AttributeType::kNS: {
      const std::string here = Join(path, "NS");
      const auto& set = *v.AsNumberSet();
      for (size_t i = 0; i < set.size(); ++i)
        DYNATRONI_RETURN_IF_ERROR(ValidateNumber(set[i], Index(here, i)));
      return ValidateSet(set, here);
    }
    default:
      return Status::Ok();
  }
}

}  // namespace

Status ValidateAttributeValue(const AttributeValue& v, std::string_view path) {
  return ValidateAt(v, std::string(path), 0);
}

Status ValidateItem(const Item& item, std::string_view path) {
  return ValidateMapAt(item, std::string(path), 0);
}

// ---------------------------------------------------------------------------
// Size and debug rendering

namespace {

size_t NumberSize(const std::string& text) {
  auto parsed = ParseNumber(text);
  if (!parsed || parsed->zero) return 2;
  return (static_cast<size_t>(parsed->significant_digits) + 1) / 2 + 1;
}

size_t ValueSize(const AttributeValue& v) {
  switch (v.type()) {
    case AttributeType::kS:
      return v.AsString()->size();
    case AttributeType::kN:
      return NumberSize(*v.AsNumberText());
    case AttributeType::kB:
      return v.AsBinary()->size();
    case AttributeType::kBool:
    case AttributeType::kNull:
      return 1;
    case AttributeType::kM: {
      size_t n = 3;
      for (const auto& [name, value] : *v.AsMap()) n += 1 + name.size() + ValueSize(value);
      return n;
    }
    case AttributeType::kL: {
      size_t n = 3;
      for (const auto& e : *v.AsList()) n += 1 + ValueSize(e);
      return n;
    }
    case AttributeType::kSS:
    case AttributeType::kBS: {
      const auto* set = v.AsStringSet() != nullptr ? v.AsStringSet() : v.AsBinarySet();
      size_t n = 0;
      if (set != nullptr) {
        for (const auto& e : *set) n += e.size();
      }
      return n;
    }
    case AttributeType::kNS: {
      size_t n = 0;
      for (const auto& e : *v.AsNumberSet()) n += NumberSize(e);
      return n;
    }
  }
  return 0;
}

void AppendQuoted(std::string& out, const std::string& s) {
  constexpr size_t kMax = 64;
  out += '"';
  out += s.size() > kMax ? s.substr(0, kMax) + "..." : s;
  out += '"';
}

void AppendDebug(std::string& out, const AttributeValue& v) {
  auto set = [&](const char* tag, const std::vector<std::string>& elems, bool binary) {
    out += tag;
    out += '{';
    for (size_t i = 0; i < elems.size(); ++i) {
      if (i) out += ", ";
      if (binary) {
        out += "<" + std::to_string(elems[i].size()) + " bytes>";
      } else if (v.type() == AttributeType::kNS) {
        out += elems[i];
      } else {
        AppendQuoted(out, elems[i]);
      }
    }
    out += '}';
  };
  switch (v.type()) {
    case AttributeType::kS:
      AppendQuoted(out, *v.AsString());
      return;
    case AttributeType::kN:
      out += *v.AsNumberText();
      return;
    case AttributeType::kB:
      out += "<" + std::to_string(v.AsBinary()->size()) + " bytes>";
      return;
    case AttributeType::kBool:
      out += *v.AsBool() ? "true" : "false";
      return;
    case AttributeType::kNull:
      out += "null";
      return;
    case AttributeType::kM: {
      out += '{';
      bool first = true;
      for (const auto& [name, value] : *v.AsMap()) {
        if (!first) out += ", ";
        first = false;
        out += name + ": ";
        AppendDebug(out, value);
      }
      out += '}';
      return;
    }
    case AttributeType::kL: {
      out += '[';
      const auto& list = *v.AsList();
      for (size_t i = 0; i < list.size(); ++i) {
        if (i) out += ", ";
        AppendDebug(out, list[i]);
      }
      out += ']';
      return;
    }
    case AttributeType::kSS:
      set("SS", *v.AsStringSet(), false);
      return;
    case AttributeType::kNS:
      set("NS", *v.AsNumberSet(), false);
      return;
    case AttributeType::kBS:
      set("BS", *v.AsBinarySet(), true);
      return;
  }
}

}  // namespace

size_t ItemSizeBytes(const Item& item) {
  size_t n = 0;
  for (const auto& [name, value] : item) n += name.size() + ValueSize(value);
  return n;
}

std::string DebugString(const AttributeValue& v) {
  std::string out;
  AppendDebug(out, v);
  return out;
}

}  // namespace dynatroni::dynamodb
