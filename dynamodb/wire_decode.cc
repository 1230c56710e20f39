#include "dynamodb/wire_decode.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "dynamodb/utf8.h"

namespace dynatroni::dynamodb::internal {
namespace {

using nlohmann::json;

class Parser {
 public:
  explicit Parser(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  void Ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  // Skips whitespace, then consumes `c` if it is next.
  bool Eat(char c) {
    Ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool Peek(char c) {
    Ws();
    return p_ < end_ && *p_ == c;
  }
  bool AtEnd() {
    Ws();
    return p_ == end_;
  }
  bool Literal(std::string_view word) {
    Ws();
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word)
      return false;
    p_ += word.size();
    return true;
  }

  // A JSON string (after optional whitespace) into *out, escapes decoded and UTF-8 checked.
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    out->clear();
    while (true) {
      const char* run = p_;
      // Eight bytes at a time while none is '"', '\\', a control character or non-ASCII.
      while (end_ - p_ >= 8) {
        uint64_t w = 0;
        std::memcpy(&w, p_, sizeof(w));
        constexpr uint64_t kLo = 0x0101010101010101ULL;
        constexpr uint64_t kHi = 0x8080808080808080ULL;
        auto has_zero = [](uint64_t v) { return (v - kLo) & ~v & kHi; };
        const uint64_t special = has_zero(w ^ (kLo * '"')) | has_zero(w ^ (kLo * '\\')) |
                                 ((w - kLo * 0x20) & ~w & kHi) | (w & kHi);
        if (special != 0) break;
        p_ += 8;
      }
      while (p_ < end_) {
        const auto c = static_cast<unsigned char>(*p_);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++p_;
      }
      out->append(run, static_cast<size_t>(p_ - run));
      if (p_ == end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;  // control characters must be escaped
      if (c >= 0x80) {
        if (!Utf8Sequence(out)) return false;
        continue;
      }
      if (!Escape(out)) return false;
    }
  }

  // Finds the end of any JSON value, checking only the bracket structure and
  // strings; the caller hands the span to nlohmann, which validates it.
  bool SkipValue(std::string_view* span) {
    Ws();
    const char* begin = p_;
    std::string scratch;
    int depth = 0;
    do {
      Ws();
      if (p_ == end_) return false;
      const char c = *p_;
      if (c == '"') {
        if (!String(&scratch)) return false;
      } else if (c == '{' || c == '[') {
        if (++depth > 512) return false;
        ++p_;
      } else if (c == '}' || c == ']') {
        if (--depth < 0) return false;
        ++p_;
      } else if (c == ',' || c == ':') {
        if (depth == 0) return false;
        ++p_;
      } else {
        while (p_ < end_ && *p_ != ',' && *p_ != '}' && *p_ != ']' && *p_ != ':' && *p_ != '"' &&
               *p_ != ' ' && *p_ != '\t' && *p_ != '\n' && *p_ != '\r' && *p_ != '{' && *p_ != '[') {
          ++p_;
        }
      }
    } while (depth > 0);
    *span = std::string_view(begin, static_cast<size_t>(p_ - begin));
    return true;
  }

  // An attribute map (an item, or the value of "M") at nesting `depth`.
  bool ItemMap(Item* out, int depth) {
    if (!Eat('{')) return false;
    if (Eat('}')) return true;
    std::string name;
    do {
      if (!String(&name) || !Eat(':')) return false;
      AttributeValue v;
      if (!Value(&v, depth)) return false;
      // Duplicate names: nlohmann keeps the last one, and so do we.
      out->insert_or_assign(std::move(name), std::move(v));
      name = std::string();
    } while (Eat(','));
    return Eat('}');
  }

  // One attribute value object ({"S": ...}); mirrors DecodeAt in attribute_value.cc.
  bool Value(AttributeValue* out, int depth) {
    if (!Eat('{')) return false;
    std::string tag;
    if (!String(&tag) || !Eat(':')) return false;
    if (tag == "S") {
      std::string s;
      if (!String(&s)) return false;
      *out = AttributeValue::S(std::move(s));
    } else if (tag == "N") {
      std::string s;
      if (!String(&s) || !ValidateNumber(s, "").ok()) return false;
      *out = AttributeValue::N(std::move(s));
    } else if (tag == "B") {
      std::string s;
      if (!String(&s)) return false;
      auto bytes = Base64Decode(s);
      if (!bytes) return false;
      *out = AttributeValue::B(std::move(*bytes));
    } else if (tag == "BOOL") {
      if (Literal("true")) {
        *out = AttributeValue::Bool(true);
      } else if (Literal("false")) {
        *out = AttributeValue::Bool(false);
      } else {
        return false;
      }
    } else if (tag == "NULL") {
      if (!Literal("true")) return false;
      *out = AttributeValue::NullValue();
    } else if (tag == "M") {
      if (depth + 1 > kMaxNestingDepth) return false;
      Item m;
      if (!ItemMap(&m, depth + 1)) return false;
      *out = AttributeValue::M(std::move(m));
    } else if (tag == "L") {
      if (depth + 1 > kMaxNestingDepth || !Eat('[')) return false;
      AttributeValue::List list;
      if (!Eat(']')) {
        do {
          AttributeValue e;
          if (!Value(&e, depth + 1)) return false;
          list.push_back(std::move(e));
        } while (Eat(','));
        if (!Eat(']')) return false;
      }
      *out = AttributeValue::L(std::move(list));
    } else if (tag == "SS" || tag == "NS" || tag == "BS") {
      if (!Eat('[') || Peek(']')) return false;  // sets are never empty
      std::vector<std::string> v;
      do {
        std::string s;
        if (!String(&s)) return false;
        if (tag == "NS" && !ValidateNumber(s, "").ok()) return false;
        if (tag == "BS") {
          auto bytes = Base64Decode(s);
          if (!bytes) return false;
          s = std::move(*bytes);
        }
        v.push_back(std::move(s));
      } while (Eat(','));
      if (!Eat(']')) return false;
      if (tag == "SS") {
        *out = AttributeValue::SS(std::move(v));
      } else if (tag == "NS") {
        *out = AttributeValue::NS(std::move(v));
      } else {
        *out = AttributeValue::BS(std::move(v));
      }
    } else {
      return false;  // unknown type tag
    }
    return Eat('}');  // exactly one type tag
  }

 private:
  // A multi-byte UTF-8 sequence at p_ (dynamodb/utf8.h).
  bool Utf8Sequence(std::string* out) {
    const size_t n =
        Utf8SequenceLength(reinterpret_cast<const unsigned char*>(p_), static_cast<size_t>(end_ - p_));
    if (n == 0) return false;
    out->append(p_, n);
    p_ += n;
    return true;
  }

  bool Hex4(uint32_t* v) {
    if (end_ - p_ < 4) return false;
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      r <<= 4;
      if (c >= '0' && c <= '9') {
        r |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        r |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        r |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    *v = r;
    return true;
  }

  // An escape sequence at p_ (the backslash).
  bool Escape(std::string* out) {
    ++p_;
    if (p_ == end_) return false;
    const char e = *p_++;
    switch (e) {
      case '"':
      case '\\':
      case '/':
        *out += e;
        return true;
      case 'b':
        *out += '\b';
        return true;
      case 'f':
        *out += '\f';
        return true;
      case 'n':
        *out += '\n';
        return true;
      case 'r':
        *out += '\r';
        return true;
      case 't':
        *out += '\t';
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    uint32_t cp = 0;
    if (!Hex4(&cp)) return false;
    if (cp >= 0xdc00 && cp <= 0xdfff) return false;  // a lone low surrogate
    if (cp >= 0xd800 && cp <= 0xdbff) {
      uint32_t low = 0;
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
      p_ += 2;
      if (!Hex4(&low) || low < 0xdc00 || low > 0xdfff) return false;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    }
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xc0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xe0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      *out += static_cast<char>(0xf0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    }
    return true;
  }

  const char* p_;
  const char* end_;
};

}  // namespace

bool FastDecodeItems(std::string_view body, std::string_view field, ItemsShape shape, DecodedBody* out) {
  *out = DecodedBody();
  Parser p(body);
  if (!p.Eat('{')) return false;
  bool seen_field = false;
  if (!p.Eat('}')) {
    std::string name;
    do {
      if (!p.String(&name) || !p.Eat(':')) return false;
      if (name == field) {
        if (seen_field) return false;  // let the general path apply nlohmann's rules
        seen_field = true;
        if (shape == ItemsShape::kItemOrNull) {
          if (!p.Literal("null")) {
            Item item;
            if (!p.ItemMap(&item, 0)) return false;
            out->items.push_back(std::move(item));
            out->has_field = true;
          }
        } else {
          if (!p.Eat('[')) return false;
          out->has_field = true;
          if (!p.Eat(']')) {
            do {
              Item item;
              if (!p.ItemMap(&item, 0)) return false;
              out->items.push_back(std::move(item));
            } while (p.Eat(','));
            if (!p.Eat(']')) return false;
          }
        }
      } else {
        std::string_view span;
        if (!p.SkipValue(&span)) return false;
        // nlohmann's lexer ends the input at a NUL byte, so "1\0junk" alone would parse as 1 (a NUL
        // outside a string is never valid JSON; inside one String() already refused it).
        if (span.find('\0') != std::string_view::npos) return false;
        json value = json::parse(span, nullptr, /*allow_exceptions=*/false);
        if (value.is_discarded()) return false;
        out->rest[name] = std::move(value);
      }
    } while (p.Eat(','));
    if (!p.Eat('}')) return false;
  }
  return p.AtEnd();
}

}  // namespace dynatroni::dynamodb::internal
