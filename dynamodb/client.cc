#include "dynamodb/client.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <mutex>
#include <set>
#include <string_view>
#include <utility>

#include "dynamodb/client_json.h"
#include "dynamodb/error_policy.h"
#include "dynamodb/request_signing.h"
#include "dynamodb/wire_decode.h"
#include "dynamodb/wire_encode.h"
#include "http/endpoint.h"

namespace dynatroni::dynamodb {

using nlohmann::json;

namespace {

// ---------------------------------------------------------------------------
// Small JSON helpers that never throw.

const json* Field(const json& obj, std::string_view name) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

std::string StringField(const json& obj, std::string_view name) {
  const json* f = Field(obj, name);
  return f != nullptr && f->is_string() ? f->get<std::string>() : std::string();
}

json EncodeValues(const std::map<std::string, AttributeValue>& values) {
  json out = json::object();
  for (const auto& [k, v] : values) out[k] = EncodeAttributeValue(v);
  return out;
}

std::string Ms(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

// After AWS refused `refused` (error_policy.h: refused credentials): the provider drops them if it caches
// them, then fetches credentials within `deadline`. True when it got other credentials, worth one more
// attempt; false when it failed or answered the same ones (static keys, a source not yet rotated): the
// refusal then stands.
bool RefetchRefusedCredentials(aws::CredentialsProvider& provider, const aws::Credentials& refused,
                               const std::string& aws_error, Deadline deadline) {
  provider.InvalidateRefused(refused, aws_error);
  auto fresh = provider.Resolve(deadline);
  return fresh.ok() && !aws::SameCredentials(fresh.value(), refused);
}

// Text between <tag> and </tag> in an XML body (moto's 403s), or empty.
std::string XmlElement(std::string_view body, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  size_t b = body.find(open);
  if (b == std::string_view::npos) return {};
  b += open.size();
  size_t e = body.find(close, b);
  if (e == std::string_view::npos) return {};
  return std::string(body.substr(b, std::min<size_t>(e - b, 300)));
}

// Keeps an error message on one line and reasonably short.
std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (s.size() > 500) s = s.substr(0, 500) + "...";
  return s;
}

std::string ReturnValuesName(ReturnValues rv) {
  switch (rv) {
    case ReturnValues::kNone:
      return "NONE";
    case ReturnValues::kAllOld:
      return "ALL_OLD";
    case ReturnValues::kAllNew:
      return "ALL_NEW";
    case ReturnValues::kUpdatedOld:
      return "UPDATED_OLD";
    case ReturnValues::kUpdatedNew:
      return "UPDATED_NEW";
  }
  return "NONE";
}

void AddExpressionParts(json& body, const ExpressionParts& parts, const char* expression_field) {
  if (!parts.condition.empty()) body[expression_field] = parts.condition;
  if (!parts.names.empty()) body["ExpressionAttributeNames"] = parts.names;
  if (!parts.values.empty()) body["ExpressionAttributeValues"] = EncodeValues(parts.values);
}

// The text of the value of top-level member `name` of the JSON object `body`
// (nullopt when absent, or when `body` is not an object as far as scanned).
// One pass that tracks strings and nesting, so a key of the same name inside
// an item, or the name inside a string value, is never taken for it; the value
// itself is not validated here.
std::optional<std::string_view> TopLevelMember(std::string_view body, std::string_view name) {
  size_t i = 0;
  const size_t n = body.size();
  auto skip_ws = [&] {
    while (i < n && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r')) ++i;
  };
  // Past the string starting at body[i] == '"'; false when unterminated.
  auto skip_string = [&] {
    for (++i; i < n; ++i) {
      if (body[i] == '\\') {
        ++i;
      } else if (body[i] == '"') {
        ++i;
        return true;
      }
    }
    return false;
  };
  // Past one value starting at body[i]; false when it is cut short.
  auto skip_value = [&] {
    if (i >= n) return false;
    if (body[i] == '"') return skip_string();
    if (body[i] == '{' || body[i] == '[') {
      int depth = 0;
      while (i < n) {
        const char c = body[i];
        if (c == '"') {
          if (!skip_string()) return false;
          continue;
        }
        if (c == '{' || c == '[') {
          ++depth;
        } else if ((c == '}' || c == ']') && --depth == 0) {
          ++i;
          return true;
        }
        ++i;
      }
      return false;
    }
    // A number, true, false or null: up to the next delimiter.
    while (i < n && body[i] != ',' && body[i] != '}' && body[i] != ']' && body[i] != ' ' && body[i] != '\t' &&
           body[i] != '\n' && body[i] != '\r') {
      ++i;
    }
    return true;
  };
  skip_ws();
  if (i >= n || body[i] != '{') return std::nullopt;
  ++i;
  while (true) {
    skip_ws();
    if (i >= n || body[i] != '"') return std::nullopt;
    const size_t key_start = i + 1;
    if (!skip_string()) return std::nullopt;
    const std::string_view key = body.substr(key_start, i - 1 - key_start);
    skip_ws();
    if (i >= n || body[i] != ':') return std::nullopt;
    ++i;
    skip_ws();
    const size_t value_start = i;
    if (!skip_value()) return std::nullopt;
    if (key == name) return body.substr(value_start, i - value_start);
    skip_ws();
    if (i >= n || body[i] != ',') return std::nullopt;
    ++i;
  }
}

// The request bodies of the item operations are written directly (wire_encode.h).
using internal::JsonWriter;

Status NotUtf8(const std::string& op) {
  return InvalidArgument(op + ": the request contains a string that is not valid UTF-8");
}

void WriteExpressionParts(JsonWriter& w, const ExpressionParts& parts, const char* expression_field) {
  if (!parts.condition.empty()) {
    w.Key(expression_field);
    w.String(parts.condition);
  }
  if (!parts.names.empty()) {
    w.Key("ExpressionAttributeNames");
    internal::WriteStringMap(w, parts.names);
  }
  if (!parts.values.empty()) {
    w.Key("ExpressionAttributeValues");
    internal::WriteValueMap(w, parts.values);
  }
}

// The body of PutItem, UpdateItem and DeleteItem into `*body`: TableName, the item or key as
// `item_field`, UpdateExpression when non-empty, the condition with its names/values, ReturnValues and
// ReturnValuesOnConditionCheckFailure. False when a string is not valid UTF-8.
bool WriteItemWriteBody(std::string* body, const std::string& table, const char* item_field, const Item& item,
                        const std::string& update_expression, const ExpressionParts& condition,
                        ReturnValues return_values, bool return_old_on_condition_failure) {
  JsonWriter w(body);
  w.BeginObject();
  w.Key("TableName");
  w.String(table);
  w.Key(item_field);
  internal::WriteItem(w, item);
  if (!update_expression.empty()) {
    w.Key("UpdateExpression");
    w.String(update_expression);
  }
  WriteExpressionParts(w, condition, "ConditionExpression");
  if (return_values != ReturnValues::kNone) {
    w.Key("ReturnValues");
    w.String(ReturnValuesName(return_values));
  }
  if (!condition.condition.empty() && return_old_on_condition_failure) {
    w.Key("ReturnValuesOnConditionCheckFailure");
    w.String("ALL_OLD");
  }
  w.Key("ReturnConsumedCapacity");
  w.String("TOTAL");
  w.EndObject();
  return w.ok();
}

// PutItem and DeleteItem return nothing or the old item.
Status CheckNoneOrAllOld(ReturnValues rv, const std::string& op) {
  if (rv != ReturnValues::kNone && rv != ReturnValues::kAllOld) {
    return InvalidArgument(op + ": return_values must be kNone or kAllOld (DynamoDB allows no other for " +
                           op + ")");
  }
  return Status::Ok();
}

Status ValidateExpressionValues(const ExpressionParts& parts) {
  for (const auto& [name, value] : parts.values) {
    DYNATRONI_RETURN_IF_ERROR(ValidateAttributeValue(value, "ExpressionAttributeValues." + name));
  }
  return Status::Ok();
}

Status ValidateKey(const Item& key, const std::string& op) {
  if (key.empty()) {
    return InvalidArgument(
        op + ": key is empty; give the table's partition key (and sort key, if any) attributes");
  }
  return ValidateItem(key, "Key").Annotate(op);
}

Status ValidateWriteItem(const Item& item, const std::string& op) {
  if (item.empty())
    return InvalidArgument(op + ": item is empty; it must contain at least the table's key attributes");
  DYNATRONI_RETURN_IF_ERROR(ValidateItem(item, "Item").Annotate(op));
  size_t size = ItemSizeBytes(item);
  if (size > kMaxItemSizeBytes) {
    return InvalidArgument(op + ": item is about " + std::to_string(size) +
                           " bytes; DynamoDB's item size limit is 400 KB (409600 bytes, attribute names and "
                           "values counted); split or compress the value");
  }
  return Status::Ok();
}

Result<TableDescription> ParseTableDescription(const json& table, const std::string& op) {
  if (!table.is_object()) return MalformedResponse(op + ": response has no Table/TableDescription object");
  TableDescription d;
  d.name = StringField(table, "TableName");
  if (d.name.empty()) return MalformedResponse(op + ": table description has no TableName");
  d.status = StringField(table, "TableStatus");
  if (const json* ks = Field(table, "KeySchema"); ks != nullptr && ks->is_array()) {
    for (const auto& e : *ks)
      d.key_schema.push_back({StringField(e, "AttributeName"), StringField(e, "KeyType")});
  }
  if (const json* ad = Field(table, "AttributeDefinitions"); ad != nullptr && ad->is_array()) {
    for (const auto& e : *ad) {
      d.attributes.push_back({StringField(e, "AttributeName"), StringField(e, "AttributeType")});
    }
  }
  if (const json* bm = Field(table, "BillingModeSummary")) d.billing_mode = StringField(*bm, "BillingMode");
  if (d.billing_mode.empty()) d.billing_mode = "PROVISIONED";  // the service omits the summary for these
  if (const json* ic = Field(table, "ItemCount"); ic != nullptr && ic->is_number_integer()) {
    d.item_count = ic->get<int64_t>();
  }
  if (const json* dp = Field(table, "DeletionProtectionEnabled"); dp != nullptr && dp->is_boolean()) {
    d.deletion_protection = dp->get<bool>();
  }
  if (const json* rs = Field(table, "Replicas"); rs != nullptr && rs->is_array()) {
    for (const auto& r : *rs) {
      std::string region = StringField(r, "RegionName");
      if (!region.empty()) d.replica_regions.push_back(std::move(region));
    }
  }
  d.multi_region_consistency = StringField(table, "MultiRegionConsistency");
  // Parsed from the answer, so valid UTF-8; `replace` keeps dump from throwing regardless.
  d.raw = table.dump(-1, ' ', false, json::error_handler_t::replace);
  return d;
}

// Parses "[ConditionalCheckFailed, None]" out of a cancellation message, for
// servers that send no CancellationReasons list.
std::vector<std::string> CodesFromMessage(const std::string& message) {
  std::vector<std::string> out;
  size_t b = message.rfind('[');
  size_t e = message.rfind(']');
  if (b == std::string::npos || e == std::string::npos || e < b) return out;
  std::string inner = message.substr(b + 1, e - b - 1);
  size_t pos = 0;
  while (pos <= inner.size()) {
    size_t comma = inner.find(',', pos);
    std::string part = inner.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------

Status ValidateTableName(const std::string& table) {
  constexpr const char* kRule =
      "DynamoDB table names are 3-255 characters of A-Z, a-z, 0-9, '_', '-' and '.'";
  if (table.empty()) return InvalidArgument(std::string("table name is empty; ") + kRule);
  if (table.size() < 3 || table.size() > 255) {
    std::string shown = table.size() > 40 ? table.substr(0, 40) + "..." : table;
    return InvalidArgument("table name \"" + shown + "\" has " + std::to_string(table.size()) +
                           " characters; " + kRule);
  }
  auto bad_char = std::find_if(table.begin(), table.end(), [](char c) {
    return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
             c == '-' || c == '.');
  });
  if (bad_char != table.end()) {
    const auto c = static_cast<unsigned char>(*bad_char);
    std::string bad = "a non-printable or non-ASCII character";
    if (c >= 0x20 && c < 0x7f) bad = std::string("'") + *bad_char + "'";
    std::string shown = table.size() > 40 ? table.substr(0, 40) + "..." : table;
    return InvalidArgument("table name \"" + shown + "\" contains " + bad + "; " + kRule);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------

class Client::Impl {
 public:
  Impl(ClientOptions o, http::Endpoint e)
      : opts(std::move(o)),
        clock(opts.clock != nullptr ? opts.clock : SystemClock::Instance()),
        random(opts.random != nullptr ? opts.random : SystemRandom::Instance()),
        endpoint(std::move(e)),
        signer(opts.region, opts.signing_service) {}

  // What one logical call produced.
  struct Outcome {  // NOLINT(bugprone-exception-escape): json's noexcept moves are flagged falsely
    Status status;  // OK on success
    json body;      // success body, or the error body of a condition failure / cancellation
    bool ambiguous = false;
    bool condition_failed = false;
    bool cancelled = false;
  };

  // `fast`, when given, is offered each 2xx body first (wire_decode.h); when it
  // returns true the call succeeds with an empty `body` and the caller uses
  // what `fast` decoded; when false the general path (json::parse) runs.
  using FastPath = std::function<bool(std::string_view body)>;
  Outcome Invoke(const std::string& op, const json& body, bool is_write, Deadline deadline,
                 const FastPath& fast = nullptr);
  // The same with the body already encoded (wire_encode.h); `body_text` is sent as is.
  // Counts the call, its outcome and latency (ClientStats::calls, latency_by_operation).
  Outcome InvokeText(const std::string& op, const std::string& body_text, bool is_write, Deadline deadline,
                     const FastPath& fast = nullptr);
  // InvokeText's attempts and retries: each attempt's facts go to the error policy (error_policy.h), whose
  // Decision says whether to finish, retry or surface.
  Outcome RunAttempts(const std::string& op, const std::string& body_text, bool is_write, Deadline deadline,
                      const FastPath& fast);

  // One attempt as the loop sees it: the policy's facts and what the loop keeps from the answer.
  struct Attempt {  // NOLINT(bugprone-exception-escape): json's noexcept moves are flagged falsely
    AttemptFacts facts;
    aws::Credentials credentials;  // the ones it was signed with (told to the provider when refused)
    Status passthrough;            // a signing or transport failure, as reported
    std::string text;              // the failure's message ("<op>: ..."), for the other failures
    std::string aws_error;         // an error answer's type, empty when none
    std::string message;           // an error answer's message (one line)
    std::string request_id;        // x-amzn-RequestId of an answer that is not a success
    std::string date;              // its Date header
    json body;                     // the decoded success body (general path) or the error document
    bool resent = false;           // http::Response::resent
  };
  // Resolves credentials, signs, sends and checks one attempt; decodes a 2xx body (`fast` first).
  Attempt SendOnce(const std::string& op, const std::string& body_text, Deadline deadline,
                   Duration split_bound, const FastPath& fast);
  // An error answer's type, message and document into `a`, with the failure's message.
  static void DecodeErrorAnswer(const std::string& op, const http::Response& resp, Attempt* a);
  // The failure an attempt reports, with the code `d` gave it.
  static Status AttemptStatus(const std::string& op, const Decision& d, const Attempt& a);

  // Backoff before retry number `n` (0-based). Returns false (and sleeps not
  // at all) when no attempt could start afterwards before the deadline.
  bool Backoff(int n, bool throttle, Deadline deadline) {
    const RetryPolicy& p = opts.retry;
    Duration base = throttle ? p.throttle_base_delay : p.base_delay;
    Duration cap = p.max_delay;
    if (n < 40) {
      // base * 2^n without overflow.
      double scaled = static_cast<double>(base.count()) * std::ldexp(1.0, n);
      if (scaled < static_cast<double>(cap.count())) cap = Duration(static_cast<Duration::rep>(scaled));
    }
    Duration delay =
        Duration(static_cast<Duration::rep>(random->Uniform01() * static_cast<double>(cap.count())));
    if (!deadline.infinite()) {
      Duration slack = deadline.Remaining(*clock) - p.min_attempt_time;
      if (slack < Duration::zero()) return false;
      delay = std::min(delay, slack);
    }
    clock->SleepFor(delay);
    std::lock_guard<std::mutex> lock(stats_mu);
    ++stats.retries;
    return true;
  }

  void CountAttempt(const std::string& op) {
    std::lock_guard<std::mutex> lock(stats_mu);
    ++stats.requests_by_operation[op];
  }
  void CountThrottle() {
    std::lock_guard<std::mutex> lock(stats_mu);
    ++stats.throttles;
  }
  void CountUnknown() {
    std::lock_guard<std::mutex> lock(stats_mu);
    ++stats.unknown_outcomes;
  }
  void CountCall(const std::string& op, const Outcome& out, Duration elapsed) {
    const std::string outcome = CallOutcomeLabel(out.status, out.condition_failed || out.cancelled);
    std::lock_guard<std::mutex> lock(stats_mu);
    ++stats.calls[{op, outcome}];
    stats.latency_by_operation[op].Observe(std::chrono::duration<double>(elapsed).count());
  }
  // Adds ConsumedCapacity.CapacityUnits of a 2xx body that carries it.
  void CountCapacity(const std::string& op, std::string_view body) {
    if (body.find("\"ConsumedCapacity\"") == std::string_view::npos) return;
    const auto text = TopLevelMember(body, "ConsumedCapacity");
    if (!text) return;
    json parsed = json::parse(*text, nullptr, false);
    if (parsed.is_discarded()) return;
    const json* cc = &parsed;
    double units = 0;
    auto add = [&units](const json& one) {
      if (const json* u = one.is_object() ? Field(one, "CapacityUnits") : nullptr;
          u != nullptr && u->is_number() && std::isfinite(u->get<double>()) && u->get<double>() >= 0) {
        units += u->get<double>();
      }
    };
    if (cc->is_array()) {
      for (const json& one : *cc) add(one);
    } else {
      add(*cc);
    }
    std::lock_guard<std::mutex> lock(stats_mu);
    stats.consumed_capacity_by_operation[op] += units;
  }

  // Sends a PutItem/UpdateItem/DeleteItem body. A success answer's
  // "Attributes" are decoded directly (wire_decode.h); anything else, and
  // every answer the direct decoder declines, as before (ToWriteResult).
  Result<WriteResult> SendWrite(const std::string& op, const std::string& body, Deadline deadline) {
    internal::DecodedBody fast_body;
    bool fast_used = false;
    auto fast = [&](std::string_view text) {
      fast_used =
          internal::FastDecodeItems(text, "Attributes", internal::ItemsShape::kItemOrNull, &fast_body);
      return fast_used;
    };
    Outcome out = InvokeText(op, body, true, deadline, fast);
    if (!fast_used || !out.status.ok()) return ToWriteResult(op, out);
    WriteResult r;
    r.ambiguous_attempt = out.ambiguous;
    if (fast_body.has_field) r.attributes = std::move(fast_body.items.front());
    return r;
  }

  static Result<WriteResult> ToWriteResult(const std::string& op, const Outcome& out) {
    WriteResult r;
    r.ambiguous_attempt = out.ambiguous;
    if (out.condition_failed) {
      r.condition_failed = true;
      if (const json* item = Field(out.body, "Item");
          item != nullptr && item->is_object() && !item->empty()) {
        auto decoded = DecodeItem(*item, "Item");
        if (!decoded.ok()) return decoded.status().Annotate(op + " (ConditionalCheckFailedException)");
        r.attributes = std::move(decoded).value();
      }
      return r;
    }
    if (!out.status.ok()) return out.status;
    if (const json* attrs = Field(out.body, "Attributes"); attrs != nullptr && attrs->is_object()) {
      auto decoded = DecodeItem(*attrs, "Attributes");
      if (!decoded.ok()) return decoded.status().Annotate(op);
      r.attributes = std::move(decoded).value();
    }
    return r;
  }

  const ClientOptions opts;
  Clock* const clock;
  Random* const random;
  // opts.endpoint, parsed once (in Create).
  const http::Endpoint endpoint;
  aws::Signer signer;
  aws::ClockSkew skew;
  mutable std::mutex stats_mu;
  ClientStats stats;
};

Client::Impl::Outcome Client::Impl::Invoke(const std::string& op, const json& body, bool is_write,
                                           Deadline deadline, const FastPath& fast) {
  std::string body_text;
  try {
    body_text = body.dump();
  } catch (const json::exception&) {
    Outcome out;
    out.status = NotUtf8(op);
    return out;
  }
  return InvokeText(op, body_text, is_write, deadline, fast);
}

Client::Impl::Outcome Client::Impl::InvokeText(const std::string& op, const std::string& body_text,
                                               bool is_write, Deadline deadline, const FastPath& fast) {
  const MonoTime start = clock->Now();
  Outcome out = RunAttempts(op, body_text, is_write, deadline, fast);
  CountCall(op, out, clock->Now() - start);
  return out;
}

Client::Impl::Attempt Client::Impl::SendOnce(const std::string& op, const std::string& body_text,
                                             Deadline deadline, Duration split_bound, const FastPath& fast) {
  Attempt a;
  AttemptFacts& f = a.facts;
  auto creds = opts.credentials->Resolve(deadline);
  if (!creds.ok()) {
    const Status& cs = creds.status();
    f.kind = AttemptFacts::Kind::kCredentialsFailed;
    f.failure = cs.code();
    a.text = op + ": cannot get AWS credentials from provider \"" + opts.credentials->name() +
             "\": " + cs.message();
    if (cs.code() == StatusCode::kNotFound) {
      a.text += " (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure credentials explicitly)";
    }
    return a;
  }
  a.credentials = std::move(creds).value();
  auto request =
      SignDynamoDbRequest(signer, endpoint, op, body_text, a.credentials, skew.Adjust(clock->WallNow()));
  if (!request.ok()) {
    f.kind = AttemptFacts::Kind::kSigningFailed;
    f.failure = request.status().code();
    a.passthrough = request.status().Annotate(op + ": signing");
    return a;
  }
  Deadline attempt_deadline = deadline;
  if (opts.retry.attempt_timeout > Duration::zero()) {
    attempt_deadline =
        deadline.Min(Deadline::After(*clock, std::min(opts.retry.attempt_timeout, split_bound)));
  }
  CountAttempt(op);
  auto response = opts.transport->Send(request.value(), attempt_deadline);
  if (!response.ok()) {
    f.kind = AttemptFacts::Kind::kTransportFailed;
    f.failure = response.status().code();
    a.passthrough = response.status().Annotate(op);
    return a;
  }
  const http::Response& resp = response.value();
  a.resent = resp.resent;
  const int http = resp.status;
  f.http_status = http;
  const bool is_2xx = http >= 200 && http < 300;
  std::string_view crc_header = resp.Header("x-amz-crc32");
  if (opts.verify_crc32 && !crc_header.empty()) {
    uint64_t expected = 0;
    auto [ptr, ec] = std::from_chars(crc_header.data(), crc_header.data() + crc_header.size(), expected);
    uLong actual = crc32_z(0L, reinterpret_cast<const Bytef*>(resp.body.data()), resp.body.size());
    f.crc_ok = ec == std::errc() && ptr == crc_header.data() + crc_header.size() && expected == actual;
  }
  if (!f.crc_ok) {
    a.text = op + ": response body failed its x-amz-crc32 check (" + std::to_string(resp.body.size()) +
             " bytes; damaged or truncated)";
  } else if (is_2xx) {
    CountCapacity(op, resp.body);
    if (fast && fast(resp.body)) {
      f.body_decoded = true;
      return a;  // the success path: nothing else to keep
    }
    json parsed = json::parse(resp.body, nullptr, false);
    f.body_decoded = !parsed.is_discarded() && parsed.is_object();
    if (f.body_decoded) {
      a.body = std::move(parsed);
      return a;
    }
    a.text = op + ": response body is not a JSON object (malformed or truncated, " +
             std::to_string(resp.body.size()) + " bytes)";
  } else {
    DecodeErrorAnswer(op, resp, &a);
  }
  a.request_id = resp.Header("x-amzn-requestid");
  a.date = resp.Header("date");
  f.has_date_header = !a.date.empty();
  return a;
}

void Client::Impl::DecodeErrorAnswer(const std::string& op, const http::Response& resp, Attempt* a) {
  json parsed = json::parse(resp.body, nullptr, false);
  std::string code;
  std::string message;
  if (!parsed.is_discarded() && parsed.is_object()) {
    code = StringField(parsed, "__type");
    message = StringField(parsed, "message");
    if (message.empty()) message = StringField(parsed, "Message");
  }
  if (code.empty()) {
    // x-amzn-ErrorType: "ValidationException:http://internal.amazon.com/..."
    std::string_view et = resp.Header("x-amzn-errortype");
    code = std::string(et.substr(0, et.find(':')));
  }
  if (code.empty()) {
    code = XmlElement(resp.body, "Code");
    if (message.empty()) message = XmlElement(resp.body, "Message");
  }
  if (size_t hash = code.rfind('#'); hash != std::string::npos) code = code.substr(hash + 1);
  a->message = OneLine(std::move(message));
  a->aws_error = std::move(code);
  const int http = resp.status;
  if (!a->aws_error.empty()) {
    a->text = op + ": " + (a->message.empty() ? a->aws_error : a->message);
  } else if (http >= 500) {
    a->text = op + ": HTTP " + std::to_string(http) + " from the server";
  } else if (http == 403) {
    a->text = op + ": HTTP 403 (access denied) with no error details";
  } else {
    a->text = op + ": HTTP " + std::to_string(http) + " with an unreadable error body (" +
              std::to_string(resp.body.size()) + " bytes)";
  }
  a->body = std::move(parsed);
}

Status Client::Impl::AttemptStatus(const std::string& op, const Decision& d, const Attempt& a) {
  if (a.facts.kind == AttemptFacts::Kind::kSigningFailed ||
      a.facts.kind == AttemptFacts::Kind::kTransportFailed) {
    return a.passthrough;  // its code is d.code: the policy passes these through
  }
  if (a.facts.kind == AttemptFacts::Kind::kCredentialsFailed) return {d.code, a.text};
  std::string text = a.text;
  if (d.code == StatusCode::kFailedPrecondition && a.aws_error == "UnknownOperationException") {
    text = op + ": the endpoint does not support the " + op + " operation (UnknownOperationException)";
  }
  Status s(d.code, std::move(text));
  s.WithAwsError(a.aws_error, a.facts.http_status);
  return s;
}

Client::Impl::Outcome Client::Impl::RunAttempts(const std::string& op, const std::string& body_text,
                                                bool is_write, Deadline deadline, const FastPath& fast) {
  Outcome out;
  const MonoTime start = clock->Now();
  const RetryPolicy& policy = opts.retry;
  // Each attempt's share of the call's time (RetryPolicy::min_split_attempt_timeout).
  Duration split_bound = Duration::max();
  if (!deadline.infinite() && policy.min_split_attempt_timeout > Duration::zero()) {
    split_bound = std::max(deadline.Remaining(*clock) / 2, policy.min_split_attempt_timeout);
  }
  int attempts = 0;                    // attempts started (credentials resolved or not)
  int retries = 0;                     // backoff sleeps taken
  bool clock_corrected = false;        // the clock-skew correction is used (once per call)
  bool credentials_refreshed = false;  // credentials fetched anew after AWS refused them (once per call)
  Status last;                         // the last retryable failure
  std::string request_id;              // x-amzn-RequestId of the last answer (kept on failure paths only)

  // Every failure leaves with its CallDetail (core/status.h).
  auto with_detail = [&](Status s) {
    s.WithCallDetail(CallDetail{op, request_id, attempts,
                                std::chrono::duration_cast<std::chrono::milliseconds>(clock->Now() - start)});
    return s;
  };

  while (true) {
    Duration remaining = deadline.Remaining(*clock);
    if (remaining < policy.min_attempt_time) {
      if (attempts > 0) break;
      out.status = with_detail(DeadlineExceeded(op + ": deadline leaves " + Ms(remaining) +
                                                ", less than the minimum attempt time of " +
                                                Ms(policy.min_attempt_time) + "; nothing was sent"));
      return out;
    }
    ++attempts;
    Attempt a = SendOnce(op, body_text, deadline, split_bound, fast);
    a.facts.aws_error = a.aws_error;  // views into `a`, taken once it stays where it is
    a.facts.message = a.message;
    a.facts.clock_corrected = clock_corrected;
    a.facts.credentials_refreshed = credentials_refreshed;
    const Decision d = Classify(is_write, a.facts);
    if (a.resent && is_write) {
      // The transport sent this attempt twice (http::Response::resent): the earlier copy may have been
      // applied, so whatever answer follows is judged like one after an ambiguous attempt.
      out.ambiguous = true;
      CountUnknown();
    }
    if (d.verdict == Verdict::kDone && d.answer == Answer::kSuccess) {
      out.body = std::move(a.body);
      return out;
    }
    if (a.facts.kind == AttemptFacts::Kind::kAnswered) request_id = std::move(a.request_id);
    Status status = AttemptStatus(op, d, a);
    if (d.throttle) CountThrottle();
    switch (d.verdict) {
      case Verdict::kDone:  // a failed condition or a cancelled transaction: an answer, not an error
        out.condition_failed = d.answer == Answer::kConditionFailed;
        out.cancelled = d.answer == Answer::kTransactionCanceled;
        out.body = std::move(a.body);
        if (out.cancelled) {
          if (!out.body.is_object()) out.body = json::object();
          out.body["message"] = a.message;
        }
        out.status = std::move(status);
        return out;
      case Verdict::kSurface:
        if (d.try_clock_correction && skew.UpdateFromServerDate(a.date, clock->WallNow())) {
          clock_corrected = true;
        } else if (d.try_credentials_refresh &&
                   RefetchRefusedCredentials(*opts.credentials, a.credentials, a.aws_error, deadline)) {
          // Not applied (error_policy.cc, refused credentials): one more attempt, signed with the new
          // credentials. An earlier ambiguous attempt keeps out.ambiguous: this one does not resolve it.
          credentials_refreshed = true;
        } else if (SurfacedCode(is_write, out.ambiguous, d.code) == StatusCode::kUnknownOutcome) {
          Status u = UnknownOutcome(op +
                                    ": outcome unknown: an earlier attempt may have been applied (re-read to "
                                    "resolve); final answer: " +
                                    status.message());
          u.WithAwsError(status.aws_error(), status.http_status());
          out.status = with_detail(std::move(u));
          return out;
        } else {
          out.status = with_detail(std::move(status));
          return out;
        }
        last = std::move(status);  // retried at once, without backoff
        if (attempts >= policy.max_attempts) break;
        continue;
      case Verdict::kUnknownOutcome:
        out.ambiguous = true;
        CountUnknown();
        [[fallthrough]];
      case Verdict::kRetry:
        last = std::move(status);
        if (attempts >= policy.max_attempts || !Backoff(retries, d.throttle, deadline)) break;
        ++retries;
        continue;
    }
    break;
  }

  // Out of attempts or time.
  const bool at_deadline = deadline.Remaining(*clock) < policy.min_attempt_time;
  std::string why = "gave up after " + std::to_string(attempts) + " attempt" + (attempts == 1 ? "" : "s") +
                    (at_deadline ? " (deadline reached)" : " (max_attempts reached)");
  const StatusCode code = GaveUpCode(is_write, out.ambiguous, last.code());
  Status final_status =
      code == StatusCode::kUnknownOutcome
          ? UnknownOutcome(op + ": outcome unknown, " + why +
                           "; the write may or may not have been applied (re-read to resolve); last error: " +
                           last.message())
          : Status(code, last.message() + " (" + why + ")");
  final_status.WithAwsError(last.aws_error(), last.http_status());
  out.status = with_detail(std::move(final_status));
  return out;
}

// ---------------------------------------------------------------------------

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  if (options.region.empty())
    return InvalidArgument("ClientOptions.region is empty; set the AWS region, e.g. us-east-1");
  // The one endpoint parser (http/endpoint.h), once; its messages name the field.
  if (options.signing_service.empty()) {
    return InvalidArgument("ClientOptions.signing_service is empty; DynamoDB signs for \"dynamodb\"");
  }
  http::Endpoint endpoint;
  if (options.parsed_endpoint) {
    endpoint = std::move(*options.parsed_endpoint);
    options.parsed_endpoint.reset();
    if (options.endpoint.empty()) options.endpoint = endpoint.url;
  } else {
    DYNATRONI_ASSIGN_OR_RETURN(endpoint, http::ParseEndpoint(options.endpoint, "ClientOptions.endpoint"));
  }
  while (options.endpoint.size() > 8 && options.endpoint.back() == '/') options.endpoint.pop_back();
  if (!options.credentials)
    return InvalidArgument("ClientOptions.credentials is null; give a credentials provider");
  if (!options.transport) return InvalidArgument("ClientOptions.transport is null; give an HTTP transport");
  const RetryPolicy& p = options.retry;
  if (p.max_attempts < 1) return InvalidArgument("RetryPolicy.max_attempts must be at least 1");
  if (p.base_delay < Duration::zero() || p.throttle_base_delay < Duration::zero() ||
      p.max_delay < Duration::zero() || p.min_attempt_time < Duration::zero() ||
      p.attempt_timeout < Duration::zero() || p.min_split_attempt_timeout < Duration::zero()) {
    return InvalidArgument("RetryPolicy durations must not be negative");
  }
  return std::unique_ptr<Client>(new Client(std::make_unique<Impl>(std::move(options), std::move(endpoint))));
}

Result<json> internal::ClientJsonAccess::Call(Client& client, const std::string& operation, const json& body,
                                              bool is_write, Deadline deadline, bool* ambiguous) {
  Client::Impl::Outcome out = client.impl_->Invoke(operation, body, is_write, deadline);
  if (ambiguous != nullptr) *ambiguous = out.ambiguous;
  if (!out.status.ok()) return out.status;
  return std::move(out.body);
}

Result<GetItemResult> Client::GetItem(const GetItemRequest& req, Deadline deadline) {
  DYNATRONI_RETURN_IF_ERROR(ValidateTableName(req.table).Annotate("GetItem"));
  DYNATRONI_RETURN_IF_ERROR(ValidateKey(req.key, "GetItem"));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  w.Key("TableName");
  w.String(req.table);
  w.Key("Key");
  internal::WriteItem(w, req.key);
  w.Key("ConsistentRead");
  w.Bool(req.consistent_read);
  if (!req.projection.empty()) {
    w.Key("ProjectionExpression");
    w.String(req.projection);
  }
  if (!req.names.empty()) {
    w.Key("ExpressionAttributeNames");
    internal::WriteStringMap(w, req.names);
  }
  w.Key("ReturnConsumedCapacity");
  w.String("TOTAL");
  w.EndObject();
  if (!w.ok()) return NotUtf8("GetItem");
  internal::DecodedBody fast_body;
  bool fast_used = false;
  auto fast = [&](std::string_view text) {
    fast_used = internal::FastDecodeItems(text, "Item", internal::ItemsShape::kItemOrNull, &fast_body);
    return fast_used;
  };
  auto out = impl_->InvokeText("GetItem", body, false, deadline, fast);
  if (!out.status.ok()) return out.status;
  GetItemResult r;
  if (fast_used) {
    if (fast_body.has_field) r.item = std::move(fast_body.items.front());
    return r;
  }
  if (const json* item = Field(out.body, "Item"); item != nullptr && !item->is_null()) {
    auto decoded = DecodeItem(*item, "Item");
    if (!decoded.ok()) return decoded.status().Annotate("GetItem");
    r.item = std::move(decoded).value();
  }
  return r;
}

Result<WriteResult> Client::PutItem(const PutItemRequest& req, Deadline deadline) {
  const std::string op = "PutItem";
  DYNATRONI_RETURN_IF_ERROR(ValidateTableName(req.table).Annotate(op));
  DYNATRONI_RETURN_IF_ERROR(ValidateWriteItem(req.item, op));
  DYNATRONI_RETURN_IF_ERROR(ValidateExpressionValues(req.condition).Annotate(op));
  DYNATRONI_RETURN_IF_ERROR(CheckNoneOrAllOld(req.return_values, op));
  std::string body;
  if (!WriteItemWriteBody(&body, req.table, "Item", req.item, "", req.condition, req.return_values,
                          req.return_old_on_condition_failure)) {
    return NotUtf8(op);
  }
  return impl_->SendWrite(op, body, deadline);
}

Result<WriteResult> Client::UpdateItem(const UpdateItemRequest& req, Deadline deadline) {
  const std::string op = "UpdateItem";
  DYNATRONI_RETURN_IF_ERROR(ValidateTableName(req.table).Annotate(op));
  DYNATRONI_RETURN_IF_ERROR(ValidateKey(req.key, op));
  DYNATRONI_RETURN_IF_ERROR(ValidateExpressionValues(req.condition).Annotate(op));
  std::string body;
  if (!WriteItemWriteBody(&body, req.table, "Key", req.key, req.update_expression, req.condition,
                          req.return_values, req.return_old_on_condition_failure)) {
    return NotUtf8(op);
  }
  return impl_->SendWrite(op, body, deadline);
}

Result<WriteResult> Client::DeleteItem(const DeleteItemRequest& req, Deadline deadline) {
  const std::string op = "DeleteItem";
  DYNATRONI_RETURN_IF_ERROR(ValidateTableName(req.table).Annotate(op));
  DYNATRONI_RETURN_IF_ERROR(ValidateKey(req.key, op));
  DYNATRONI_RETURN_IF_ERROR(ValidateExpressionValues(req.condition).Annotate(op));
  DYNATRONI_RETURN_IF_ERROR(CheckNoneOrAllOld(req.return_values, op));
  std::string body;
  if (!WriteItemWriteBody(&body, req.table, "Key", req.key, "", req.condition, req.return_values,
                          req.return_old_on_condition_failure)) {
    return NotUtf8(op);
  }
  return impl_->SendWrite(op, body, deadline);
}

Result<QueryResult> Client::Query(const QueryRequest& req, Deadline deadline) {
  const std::string op = "Query";
  DYNATRONI_RETURN_IF_ERROR(ValidateTableName(req.table).Annotate(op));
  if (req.key_condition.condition.empty()) {
    return InvalidArgument(op +
                           ": key_condition.condition (KeyConditionExpression) is empty; e.g. \"#pk = :pk\"");
  }
  if (req.page_limit < 0) return InvalidArgument(op + ": page_limit must be 0 (server default) or positive");
  DYNATRONI_RETURN_IF_ERROR(ValidateExpressionValues(req.key_condition).Annotate(op));
  // Every page sends the same members, plus ExclusiveStartKey after the first page.
  auto encode = [&req](const json& start_key, std::string* body) {
    JsonWriter w(body);
    w.BeginObject();
    w.Key("TableName");
    w.String(req.table);
    w.Key("ConsistentRead");
    w.Bool(req.consistent_read);
    WriteExpressionParts(w, req.key_condition, "KeyConditionExpression");
    if (!req.filter_expression.empty()) {
      w.Key("FilterExpression");
      w.String(req.filter_expression);
    }
    if (req.page_limit > 0) {
      w.Key("Limit");
      w.Int(req.page_limit);
    }
    if (!req.scan_forward) {
      w.Key("ScanIndexForward");
      w.Bool(false);
    }
    if (!start_key.is_null()) {
      w.Key("ExclusiveStartKey");
      // Echoed from a parsed response, so valid UTF-8; `replace` keeps dump from throwing regardless.
      w.Raw(start_key.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    w.Key("ReturnConsumedCapacity");
    w.String("TOTAL");
    w.EndObject();
    return w.ok();
  };

  QueryResult result;
  json start_key;
  std::string body;
  while (true) {
    body.clear();
    if (!encode(start_key, &body)) return NotUtf8(op);
    internal::DecodedBody fast_body;
    bool fast_used = false;
    auto fast = [&](std::string_view text) {
      fast_used = internal::FastDecodeItems(text, "Items", internal::ItemsShape::kList, &fast_body);
      return fast_used;
    };
    auto out = impl_->InvokeText(op, body, false, deadline, fast);
    if (!out.status.ok()) {
      if (result.pages == 0) return out.status;
      return out.status.Annotate("Query page " + std::to_string(result.pages + 1));
    }
    ++result.pages;
    if (fast_used) {
      if (result.items.empty()) {
        result.items = std::move(fast_body.items);
      } else {
        for (Item& item : fast_body.items) result.items.push_back(std::move(item));
      }
      out.body = std::move(fast_body.rest);
    } else if (const json* items = Field(out.body, "Items")) {
      if (!items->is_array()) return MalformedResponse(op + ": Items is not a JSON array");
      for (size_t i = 0; i < items->size(); ++i) {
        auto decoded = DecodeItem((*items)[i], "Items[" + std::to_string(i) + "]");
        if (!decoded.ok()) return decoded.status().Annotate(op);
        result.items.push_back(std::move(decoded).value());
      }
    }
    const json* lek = Field(out.body, "LastEvaluatedKey");
    if (lek == nullptr || lek->is_null() || (lek->is_object() && lek->empty())) break;
    if (!lek->is_object()) return MalformedResponse(op + ": LastEvaluatedKey is not a JSON object");
    if (*lek == start_key) {
      return MalformedResponse(
          op + ": the server returned the same LastEvaluatedKey twice (pagination would loop)");
    }
    start_key = *lek;
  }
  return result;
}

Status Client::BatchWriteItem(const BatchWriteRequest& req, Deadline deadline) {
  const std::string op = "BatchWriteItem";
  DYNATRONI_RETURN_IF_ERROR(ValidateTableName(req.table).Annotate(op));
  std::vector<json> entries;
  entries.reserve(req.puts.size() + req.delete_keys.size());
  for (const auto& item : req.puts) {
    DYNATRONI_RETURN_IF_ERROR(ValidateWriteItem(item, op));
    entries.push_back({{"PutRequest", {{"Item", EncodeItem(item)}}}});
  }
  for (const auto& key : req.delete_keys) {
    DYNATRONI_RETURN_IF_ERROR(ValidateKey(key, op));
    entries.push_back({{"DeleteRequest", {{"Key", EncodeItem(key)}}}});
  }
  constexpr size_t kBatch = 25;
  const size_t total = entries.size();
  for (size_t begin = 0; begin < total; begin += kBatch) {
    json pending = json::array();
    for (size_t i = begin; i < std::min(total, begin + kBatch); ++i) pending.push_back(std::move(entries[i]));
    int round = 0;
    while (true) {
      json body = {{"RequestItems", {{req.table, pending}}}, {"ReturnConsumedCapacity", "TOTAL"}};
      auto out = impl_->Invoke(op, body, true, deadline);
      if (!out.status.ok()) {
        if (begin == 0 && round == 0) return out.status;
        size_t not_written = pending.size() + (total - std::min(total, begin + kBatch));
        return out.status.Annotate(op + ": " + std::to_string(not_written) + " of " + std::to_string(total) +
                                   " items not written");
      }
      const json* unprocessed = Field(out.body, "UnprocessedItems");
      const json* mine = unprocessed != nullptr ? Field(*unprocessed, req.table) : nullptr;
      if (mine == nullptr || !mine->is_array() || mine->empty()) break;
      pending = *mine;
      impl_->CountThrottle();
      if (!impl_->Backoff(round, /*throttle=*/true, deadline)) {
        size_t remaining = pending.size() + (total - std::min(total, begin + kBatch));
        return Unavailable(op + ": " + std::to_string(remaining) + " of " + std::to_string(total) +
                           " items still unprocessed when the deadline came (the table kept returning "
                           "UnprocessedItems: throttled)");
      }
      ++round;
    }
  }
  return Status::Ok();
}

Result<TransactWriteResult> Client::TransactWriteItems(const std::vector<TransactWriteAction>& actions,
                                                       const std::string& client_request_token,
                                                       Deadline deadline) {
  const std::string op = "TransactWriteItems";
  if (actions.empty() || actions.size() > 100) {
    return InvalidArgument(op + ": " + std::to_string(actions.size()) +
                           " actions given; DynamoDB accepts 1 to 100 per transaction");
  }
  if (client_request_token.size() > 36) {
    return InvalidArgument(op + ": client_request_token is longer than 36 characters");
  }
  json items = json::array();
  for (size_t i = 0; i < actions.size(); ++i) {
    const auto& a = actions[i];
    const std::string where = op + " action " + std::to_string(i);
    DYNATRONI_RETURN_IF_ERROR(ValidateTableName(a.table).Annotate(where));
    DYNATRONI_RETURN_IF_ERROR(ValidateExpressionValues(a.condition).Annotate(where));
    json x = {{"TableName", a.table}};
    const char* kind = "Put";
    switch (a.kind) {
      case TransactWriteAction::Kind::kPut:
        DYNATRONI_RETURN_IF_ERROR(ValidateWriteItem(a.item_or_key, where));
        x["Item"] = EncodeItem(a.item_or_key);
        break;
      case TransactWriteAction::Kind::kUpdate:
        DYNATRONI_RETURN_IF_ERROR(ValidateKey(a.item_or_key, where));
        if (a.update_expression.empty())
          return InvalidArgument(where + ": an Update needs an update_expression");
        x["Key"] = EncodeItem(a.item_or_key);
        x["UpdateExpression"] = a.update_expression;
        kind = "Update";
        break;
      case TransactWriteAction::Kind::kDelete:
        DYNATRONI_RETURN_IF_ERROR(ValidateKey(a.item_or_key, where));
        x["Key"] = EncodeItem(a.item_or_key);
        kind = "Delete";
        break;
      case TransactWriteAction::Kind::kConditionCheck:
        DYNATRONI_RETURN_IF_ERROR(ValidateKey(a.item_or_key, where));
        if (a.condition.condition.empty()) {
          return InvalidArgument(where + ": a ConditionCheck needs a condition expression");
        }
        x["Key"] = EncodeItem(a.item_or_key);
        kind = "ConditionCheck";
        break;
    }
    AddExpressionParts(x, a.condition, "ConditionExpression");
    if (!a.condition.condition.empty() && a.return_old_on_condition_failure) {
      x["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD";
    }
    items.push_back({{kind, std::move(x)}});
  }
  std::string token = client_request_token;
  if (token.empty()) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 32; ++i) token += kHex[static_cast<int>(impl_->random->Uniform01() * 16) & 15];
  }
  json body = {{"TransactItems", std::move(items)},
               {"ClientRequestToken", token},
               {"ReturnConsumedCapacity", "TOTAL"}};
  auto out = impl_->Invoke(op, body, true, deadline);
  TransactWriteResult r;
  r.ambiguous_attempt = out.ambiguous;
  if (out.cancelled) {
    r.cancelled = true;
    const json* reasons = Field(out.body, "CancellationReasons");
    if (reasons != nullptr && reasons->is_array()) {
      for (size_t i = 0; i < reasons->size(); ++i) {
        const json& reason = (*reasons)[i];
        std::string code = StringField(reason, "Code");
        r.cancellation_codes.push_back(code.empty() ? "None" : code);
        std::optional<Item> item;
        if (const json* it = Field(reason, "Item"); it != nullptr && it->is_object() && !it->empty()) {
          auto decoded = DecodeItem(*it, "CancellationReasons[" + std::to_string(i) + "].Item");
          if (!decoded.ok()) return decoded.status().Annotate(op);
          item = std::move(decoded).value();
        }
        r.cancellation_items.push_back(std::move(item));
      }
    } else {
      r.cancellation_codes = CodesFromMessage(StringField(out.body, "message"));
      r.cancellation_items.resize(r.cancellation_codes.size());
    }
    return r;
  }
  if (!out.status.ok()) return out.status;
  return r;
}

Result<TableDescription> Client::DescribeTable(const std::string& table, Deadline deadline) {
  DYNATRONI_RETURN_IF_ERROR(ValidateTableName(table).Annotate("DescribeTable"));
  auto out = impl_->Invoke("DescribeTable", json{{"TableName", table}}, false, deadline);
  if (!out.status.ok()) return out.status;
  const json* t = Field(out.body, "Table");
  return ParseTableDescription(t != nullptr ? *t : json(), "DescribeTable");
}

Result<TableDescription> Client::WaitUntilActive(const std::string& table, Deadline deadline, Duration poll) {
  std::string last_status;
  while (true) {
    auto d = DescribeTable(table, deadline);
    if (!d.ok()) {
      if (d.status().code() == StatusCode::kDeadlineExceeded && !last_status.empty()) break;
      return d.status();
    }
    if (d->status == "ACTIVE") return d;
    last_status = d->status;
    Duration left = deadline.Remaining(*impl_->clock) - impl_->opts.retry.min_attempt_time;
    if (left <= poll) break;
    impl_->clock->SleepFor(poll);
  }
  return DeadlineExceeded("DescribeTable: table \"" + table + "\" is still " + last_status +
                          " at the deadline (waiting for ACTIVE)");
}

Result<TableDescription> Client::CreateTable(const CreateTableRequest& req, Deadline deadline) {
  const std::string op = "CreateTable";
  DYNATRONI_RETURN_IF_ERROR(ValidateTableName(req.table).Annotate(op));
  if (req.key_schema.empty()) return InvalidArgument(op + ": key_schema is empty; give at least a HASH key");
  json body = {{"TableName", req.table}};
  json ks = json::array();
  for (const auto& k : req.key_schema) ks.push_back({{"AttributeName", k.name}, {"KeyType", k.key_type}});
  json ad = json::array();
  for (const auto& a : req.attributes) ad.push_back({{"AttributeName", a.name}, {"AttributeType", a.type}});
  body["KeySchema"] = std::move(ks);
  body["AttributeDefinitions"] = std::move(ad);
  if (req.on_demand) {
    body["BillingMode"] = "PAY_PER_REQUEST";
  } else {
    if (req.read_capacity <= 0 || req.write_capacity <= 0) {
      return InvalidArgument(op + ": provisioned tables need read_capacity and write_capacity >= 1");
    }
    body["BillingMode"] = "PROVISIONED";
    body["ProvisionedThroughput"] = {{"ReadCapacityUnits", req.read_capacity},
                                     {"WriteCapacityUnits", req.write_capacity}};
  }
  if (req.deletion_protection) body["DeletionProtectionEnabled"] = true;
  auto out = impl_->Invoke(op, body, true, deadline);
  if (!out.status.ok()) return out.status;
  const json* t = Field(out.body, "TableDescription");
  return ParseTableDescription(t != nullptr ? *t : json(), op);
}

Status Client::DeleteTable(const std::string& table, Deadline deadline) {
  DYNATRONI_RETURN_IF_ERROR(ValidateTableName(table).Annotate("DeleteTable"));
  return impl_->Invoke("DeleteTable", json{{"TableName", table}}, true, deadline).status;
}

Status Client::UpdateTimeToLive(const std::string& table, const std::string& attribute, bool enabled,
                                Deadline deadline) {
  const std::string op = "UpdateTimeToLive";
  DYNATRONI_RETURN_IF_ERROR(ValidateTableName(table).Annotate(op));
  if (attribute.empty() || attribute.size() > 255) {
    return InvalidArgument(op + ": attribute name must be 1-255 characters");
  }
  json body = {{"TableName", table},
               {"TimeToLiveSpecification", {{"Enabled", enabled}, {"AttributeName", attribute}}}};
  return impl_->Invoke(op, body, true, deadline).status;
}

Result<TimeToLiveDescription> Client::DescribeTimeToLive(const std::string& table, Deadline deadline) {
  const std::string op = "DescribeTimeToLive";
  DYNATRONI_RETURN_IF_ERROR(ValidateTableName(table).Annotate(op));
  auto out = impl_->Invoke(op, json{{"TableName", table}}, false, deadline);
  if (!out.status.ok()) return out.status;
  const json* d = Field(out.body, "TimeToLiveDescription");
  if (d == nullptr || !d->is_object())
    return MalformedResponse(op + ": response has no TimeToLiveDescription");
  TimeToLiveDescription r;
  r.status = StringField(*d, "TimeToLiveStatus");
  r.attribute = StringField(*d, "AttributeName");
  if (r.status.empty()) return MalformedResponse(op + ": TimeToLiveDescription has no TimeToLiveStatus");
  return r;
}

void LatencyHistogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kLatencyBucketBounds.size() && !(seconds <= kLatencyBucketBounds[i])) ++i;
  ++counts[i];
  sum_seconds += seconds;
  ++count;
}

std::string CallOutcomeLabel(const Status& status, bool condition_failed) {
  if (condition_failed) return "condition_failed";
  if (status.ok()) return "success";
  // "DeadlineExceeded" -> "deadline_exceeded".
  std::string out;
  for (char c : StatusCodeName(status.code())) {
    if (std::isupper(static_cast<unsigned char>(c)) != 0) {
      if (!out.empty()) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

ClientStats Client::stats() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  return impl_->stats;
}

const std::string& Client::region() const { return impl_->opts.region; }
const std::string& Client::endpoint() const { return impl_->opts.endpoint; }
Duration Client::clock_skew() const { return impl_->skew.offset(); }
const std::shared_ptr<aws::CredentialsProvider>& Client::credentials() const {
  return impl_->opts.credentials;
}

}  // namespace dynatroni::dynamodb
