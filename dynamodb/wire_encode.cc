// File: dynamodb/wire_encode.cc
#include "dynamodb/wire_encode.h"

#include <array>
#include <charconv>

#include "dynamodb/utf8.h"

namespace dynatroni::dynamodb::internal {

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(p + i, s.size() - i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
  } else if (need_comma_) {
    out_->push_back(',');
  }
}

// One pass: copies runs that need no escaping, checks multi-byte sequences as it meets them.
void JsonWriter::Quoted(std::string_view s) {
  static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  out_->push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = u[i];
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(u + i, s.size() - i);
      if (n == 0) {
        ok_ = false;  // ok() now says the text must not be sent
      } else {
        i += n - 1;
      }
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out_->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out_->append("\\\"");
        break;
      case '\\':
        out_->append("\\\\");
        break;
      case '\n':
        out_->append("\\n");
        break;
      case '\r':
        out_->append("\\r");
        break;
      case '\t':
        out_->append("\\t");
        break;
      case '\b':
        out_->append("\\b");
        break;
      case '\f':
        out_->append("\\f");
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out_->append(esc, sizeof esc);
      }
    }
  }
  out_->append(s.data() + run, s.size() - run);
  out_->push_back('"');
}

void JsonWriter::BeginObject() {
  BeforeValue();
  out_->push_back('{');
  need_comma_ = false;
}

void JsonWriter::EndObject() {
  out_->push_back('}');
  need_comma_ = true;
}

void JsonWriter::BeginArray() {
  BeforeValue();
  out_->push_back('[');
  need_comma_ = false;
}

void JsonWriter::EndArray() {
  out_->push_back(']');
  need_comma_ = true;
}

void JsonWriter::Key(std::string_view name) {
  if (need_comma_) out_->push_back(',');
  Quoted(name);
  out_->push_back(':');
  after_key_ = true;
}

void JsonWriter::String(std::string_view s) {
  BeforeValue();
  Quoted(s);
  need_comma_ = true;
}

void JsonWriter::Bool(bool b) {
  BeforeValue();
  out_->append(b ? "true" : "false");
  need_comma_ = true;
}

void JsonWriter::Int(int64_t n) {
  BeforeValue();
  std::array<char, 24> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), n);
  out_->append(buf.data(), res.ptr);
  need_comma_ = true;
}

void JsonWriter::Raw(std::string_view json_text) {
  BeforeValue();
  out_->append(json_text);
  need_comma_ = true;
}

namespace {

void WriteStrings(JsonWriter& w, const std::vector<std::string>& v) {
  w.BeginArray();
  for (const auto& s : v) w.String(s);
  w.EndArray();
}

}  // namespace

void WriteAttributeValue(JsonWriter& w, const AttributeValue& v) {
  w.BeginObject();
  switch (v.type()) {
    case AttributeType::kS:
      w.Key("S");
      w.String(*v.AsString());
      break;
    case AttributeType::kN:
      w.Key("N");
      w.String(*v.AsNumberText());
      break;
    case AttributeType::kB:
      w.Key("B");
      w.String(Base64Encode(*v.AsBinary()));
      break;
    case AttributeType::kBool:
      w.Key("BOOL");
      w.Bool(*v.AsBool());
      break;
    case AttributeType::kNull:
      w.Key("NULL");
      w.Bool(true);
      break;
    case AttributeType::kM:
      w.Key("M");
      WriteItem(w, *v.AsMap());
      break;
    case AttributeType::kL:
      w.Key("L");
      w.BeginArray();
      for (const auto& e : *v.AsList()) WriteAttributeValue(w, e);
      w.EndArray();
      break;
    case AttributeType::kSS:
      w.Key("SS");
      WriteStrings(w, *v.AsStringSet());
      break;
    case AttributeType::kNS:
      w.Key("NS");
      WriteStrings(w, *v.AsNumberSet());
      break;
    case AttributeType::kBS:
      w.Key("BS");
      w.BeginArray();
      for (const auto& e : *v.AsBinarySet()) w.String(Base64Encode(e));
      w.EndArray();
      break;
  }
  w.EndObject();
}

void WriteItem(JsonWriter& w, const Item& item) {
  w.BeginObject();
  for (const auto& [name, value] : item) {
    w.Key(name);
    WriteAttributeValue(w, value);
  }
  w.EndObject();
}

void WriteStringMap(JsonWriter& w, const std::map<std::string, std::string>& names) {
  w.BeginObject();
  for (const auto& [k, v] : names) {
    w.Key(k);
    w.String(v);
  }
  w.EndObject();
}

void WriteValueMap(JsonWriter& w, const std::map<std::string, AttributeValue>& values) {
  w.BeginObject();
  for (const auto& [k, v] : values) {
    w.Key(k);
    WriteAttributeValue(w, v);
  }
  w.EndObject();
}

}  // namespace dynatroni::dynamodb::internal
