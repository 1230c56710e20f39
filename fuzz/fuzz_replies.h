// File: fuzz/fuzz_replies.h
//
// Structure-aware DynamoDB answers for the client and cluster-item targets:
// the fuzzer's bytes are read as a sequence of choices (which kind of answer,
// which status, headers, which mutation) over a grammar of mostly valid JSON
// responses, so most inputs reach the typed decoders instead of stopping at the
// status check. Choices read past the end of the input are 0, and choice 0 is
// always the ordinary valid answer: an empty input is the happy path.
//
// ScriptedTransport answers each request through a callback and records every
// exchange (timeouts included), so an oracle can compare what a call reported
// with what the "server" actually said.
#ifndef DYNATRONI_FUZZ_FUZZ_REPLIES_H_
#define DYNATRONI_FUZZ_FUZZ_REPLIES_H_

#include <zlib.h>

#include <charconv>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/status.h"
#include "dynamodb/attribute_value.h"
#include "http/transport.h"

namespace dynatroni::fuzz {

// Reads choices from the front of the input; past its end every choice is 0.
class Choices {
 public:
  Choices(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  // 0 .. n-1.
  int Pick(int n) { return n <= 1 ? 0 : Byte() % n; }
  bool Flag(int one_in) { return Pick(one_in) == one_in - 1; }
  // A length byte (at most `max`), then that many raw bytes.
  std::string Bytes(size_t max) {
    size_t n = std::min<size_t>(Byte(), max);
    n = std::min(n, size_ - pos_);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  [[nodiscard]] bool exhausted() const { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// One request and what the transport gave back for it.
struct Exchange {
  std::string op;  // "PutItem" (from x-amz-target)
  std::string request_body;
  Status transport;  // not OK: no response (kUnavailable: never sent; kUnknownOutcome: sent, no answer)
  http::Response response;
};

class ScriptedTransport final : public http::Transport {
 public:
  using Answer = std::function<Result<http::Response>(const http::Request&, const std::string& op)>;
  ScriptedTransport(FakeClock* clock, Duration latency, Answer answer)
      : clock_(clock), latency_(latency), answer_(std::move(answer)) {}

  Result<http::Response> Send(const http::Request& request, Deadline deadline) override {
    Exchange e;
    for (const auto& [name, value] : request.headers) {
      if (name == "x-amz-target") e.op = value.substr(value.find('.') + 1);
    }
    e.request_body = request.body;
    Result<http::Response> r = Unavailable("scripted: deadline passed before sending");
    if (!deadline.Expired(*clock_)) {
      if (latency_ >= deadline.Remaining(*clock_)) {
        clock_->Advance(deadline.Remaining(*clock_));
        r = UnknownOutcome("scripted: timed out after sending");
      } else {
        clock_->Advance(latency_);
        r = answer_(request, e.op);
      }
    }
    if (r.ok()) {
      e.response = *r;
    } else {
      e.transport = r.status();
    }
    exchanges.push_back(std::move(e));
    return r;
  }

  std::vector<Exchange> exchanges;

 private:
  FakeClock* clock_;
  Duration latency_;
  Answer answer_;
};

// Printable, control characters as \xNN (the message goes through printf).
inline std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

// ---- How the client must read an exchange (independently of the client) ----

inline bool Is2xx(const Exchange& e) {
  return e.transport.ok() && e.response.status >= 200 && e.response.status < 300;
}

// The x-amz-crc32 header is absent or matches the body.
inline bool CrcOk(const http::Response& r) {
  std::string_view h = r.Header("x-amz-crc32");
  if (h.empty()) return true;
  uint64_t expected = 0;
  auto [ptr, ec] = std::from_chars(h.data(), h.data() + h.size(), expected);
  return ec == std::errc() && ptr == h.data() + h.size() &&
         expected == crc32_z(0L, reinterpret_cast<const Bytef*>(r.body.data()), r.body.size());
}

// The body as a JSON object, or a discarded value.
inline nlohmann::json ParseObject(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && !j.is_object()) return nlohmann::json(nlohmann::json::value_t::discarded);
  return j;
}

// A 2xx answer the client may take as the final one: checksum right, a JSON object.
inline bool GoodSuccess(const Exchange& e) {
  return Is2xx(e) && CrcOk(e.response) && !ParseObject(e.response.body).is_discarded();
}

// The answer certainly leaves a write's outcome open: sent without an answer,
// re-sent, a 2xx that is damaged (checksum) or not JSON, or a 5xx carrying no
// error code at all (HTML from a proxy, garbage, empty).
inline bool SurelyAmbiguous(const Exchange& e) {
  if (!e.transport.ok()) return e.transport.code() != StatusCode::kUnavailable;
  const http::Response& r = e.response;
  if (r.resent) return true;
  if (r.status >= 200 && r.status < 300) return !GoodSuccess(e);
  if (r.status >= 500) {
    nlohmann::json j = ParseObject(r.body);
    const bool has_type = !j.is_discarded() && j.contains("__type") && j["__type"].is_string() &&
                          !j["__type"].get<std::string>().empty();
    return !has_type && r.Header("x-amzn-errortype").empty() && r.body.find("<Code>") == std::string::npos;
  }
  return false;
}

// The answer may leave a write's outcome open (a superset of SurelyAmbiguous):
// everything but "certainly not sent" and a clean 4xx naming a client error.
inline bool PossiblyAmbiguous(const Exchange& e) {
  if (!e.transport.ok()) return e.transport.code() != StatusCode::kUnavailable;
  const http::Response& r = e.response;
  if (r.resent || r.status >= 500 || r.status < 400 || !CrcOk(r)) return true;
  for (std::string_view text : {std::string_view(r.body), r.Header("x-amzn-errortype")}) {
    for (std::string_view word : {"Internal", "Unavailable", "Timeout"}) {
      if (text.find(word) != std::string_view::npos) return true;
    }
  }
  return false;
}

// The error document names a failed condition.
inline bool NamesConditionFailure(const Exchange& e) {
  return e.transport.ok() && (e.response.status < 200 || e.response.status >= 300) &&
         (e.response.body.find("ConditionalCheckFailedException") != std::string::npos ||
          e.response.Header("x-amzn-errortype").find("ConditionalCheckFailedException") !=
              std::string_view::npos);
}

// ---- The grammar ----------------------------------------------------------

inline std::string JsonString(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One AttributeValue, mostly valid; sometimes a value the decoder must refuse.
inline std::string GenValue(Choices& in, int depth = 0) {
  static constexpr const char* kNumbers[] = {"0",     "1",   "-7", "3.25", "1e3", "99999999999999999999",
                                             "1e126", "12a", "",   "0x10", "--1", "1e200"};
  switch (in.Pick(depth >= 2 ? 9 : 12)) {
    case 0:
    case 1:
      return "{\"S\":" + JsonString(in.Bytes(24)) + "}";
    case 2:
      return std::string("{\"N\":\"") + kNumbers[in.Pick(12)] + "\"}";
    case 3:
      return "{\"B\":" + JsonString(dynamodb::Base64Encode(in.Bytes(12))) + "}";
    case 4:
      return in.Flag(2) ? R"({"BOOL":true})" : R"({"BOOL":false})";
    case 5:
      return R"({"NULL":true})";
    case 6:
      return R"({"SS":["a","b"]})";
    case 7:
      return in.Flag(2) ? R"({"NS":["1","2.5"]})" : R"({"Q":"unknown type"})";
    case 8:
      return in.Flag(2) ? R"({"BS":["AAE="]})" : R"({"S":1})";
    case 9:
      return "{\"M\":{\"x\":" + GenValue(in, depth + 1) + ",\"y\":" + GenValue(in, depth + 1) + "}}";
    case 10:
      return "{\"L\":[" + GenValue(in, depth + 1) + "," + GenValue(in, depth + 1) + "]}";
    default:
      return "{\"S\":\"x\",\"N\":\"1\"}";  // two types: invalid
  }
}

// A JSON object of `n` attributes named a0.. plus `fixed` ones first ("name":value JSON text).
inline std::string GenItem(Choices& in, const std::vector<std::pair<std::string, std::string>>& fixed = {}) {
  std::string out = "{";
  for (const auto& [name, value] : fixed) {
    if (out.size() > 1) out += ",";
    out += JsonString(name) + ":" + value;
  }
  const int n = in.Pick(4);
  for (int i = 0; i < n; ++i) {
    if (out.size() > 1) out += ",";
    out += "\"a" + std::to_string(i) + "\":" + GenValue(in);
  }
  return out + "}";
}

// Damages a JSON text (or leaves it): truncate, flip a byte, insert bytes.
inline std::string Mutate(Choices& in, std::string body) {
  switch (in.Pick(8)) {
    case 5:
      if (!body.empty()) body.resize(in.Byte() % body.size());
      break;
    case 6:
      if (!body.empty()) body[in.Byte() % body.size()] = static_cast<char>(in.Byte());
      break;
    case 7:
      body.insert(body.empty() ? 0 : in.Byte() % body.size(), in.Bytes(16));
      break;
    default:
      break;
  }
  return body;
}

inline constexpr const char* kErrorTypes[] = {
    "ConditionalCheckFailedException",
    "ValidationException",
    "ResourceNotFoundException",
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "AccessDeniedException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InternalServerError",
    "ServiceUnavailable",
    "ResourceInUseException",
    "TransactionConflictException",
    "ReplicatedWriteConflictException",
    "UnknownOperationException",
    "RequestLimitExceeded",
    "SerializationException",
};

// An error document, JSON mostly (`item`: the ALL_OLD item a condition failure may carry).
inline std::string GenErrorBody(Choices& in, std::string_view type, const std::string& item) {
  std::string prefix = in.Flag(2) ? "com.amazonaws.dynamodb.v20120810#" : "";
  std::string body = "{\"__type\":" + JsonString(prefix + std::string(type)) + ",\"message\":" +
                     JsonString(in.Flag(4) ? "Signature expired: 20150830T123600Z is now earlier than "
                                             "20151021T072800Z"
                                           : "The conditional request failed");
  if (!item.empty()) body += ",\"Item\":" + item;
  return body + "}";
}

// Headers of an answer: content type, and per a flags byte a right or wrong
// x-amz-crc32, an x-amzn-errortype, a Date far from the signing clock.
inline http::Response MakeResponse(Choices& in, int status, std::string body) {
  http::Response r;
  r.status = status;
  const uint8_t flags = in.Byte();
  r.headers.emplace_back("content-type", "application/x-amz-json-1.0");
  r.headers.emplace_back("x-amzn-requestid", "REQ");
  if ((flags & 0x03) == 1) {
    r.headers.emplace_back(
        "x-amz-crc32", std::to_string(crc32_z(0L, reinterpret_cast<const Bytef*>(body.data()), body.size())));
  } else if ((flags & 0x03) == 2) {
    r.headers.emplace_back("x-amz-crc32", in.Flag(2) ? "12345" : in.Bytes(12));
  }
  if ((flags & 0x04) != 0) {
    r.headers.emplace_back("x-amzn-errortype",
                           std::string(kErrorTypes[in.Pick(std::size(kErrorTypes))]) + ":http://internal/");
  }
  if ((flags & 0x08) != 0) r.headers.emplace_back("date", "Wed, 21 Oct 2015 07:28:00 GMT");
  r.resent = (flags & 0x10) != 0;
  r.body = std::move(body);
  return r;
}

}  // namespace dynatroni::fuzz

#endif  // DYNATRONI_FUZZ_FUZZ_REPLIES_H_
