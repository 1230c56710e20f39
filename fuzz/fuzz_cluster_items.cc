// Fuzz target: the cluster-item decoder and the lease's reading of DynamoDB's
// answers, with oracles.
//
// A small model of DynamoDB (one partition: GetItem, Query with pages,
// UpdateItem with the condition and update expressions the item store
// writes) answers the real Client/DynamoItemStore/Dcs stack. The input is
// choices (fuzz/fuzz_replies.h): the partition's starting items (a foreign
// leader, a tombstone, our own leader from an earlier process, corrupt and
// foreign items), a schedule of DCS calls (LoadCluster, AcquireLeader,
// TakeLeader, RenewLeader, ReleaseLeader, PollLeader, SetValue, Initialize,
// TouchMember; 0 = the next of a default cycle) with clock steps, and per
// request how the "server" behaves: answer truly (choice 0), let another node
// write first, apply but answer 5xx / time out / send a damaged 200, not apply
// and answer 5xx or fail to connect, refuse with a condition failure (with or
// without the item), or lie (a 200 whose item has another session, value,
// version or key).
//
// Oracles, for every input (besides ASan/UBSan and one-line messages):
//  * the item store: a write reported applied had a good 2xx last answer whose
//    Attributes decode to exactly the item reported; reported refused, a last
//    answer naming ConditionalCheckFailedException; after an answer that left
//    the outcome open, any error is kUnknownOutcome; a Get returns exactly the
//    Item of its last good 2xx answer;
//  * an acquisition or renewal reported won: some answer of that call (the
//    UpdateItem's Attributes, the refused write's item, or the re-read) names
//    the leader key, our name and session, at a version above the one the
//    write was conditioned on, and that is the version and term the lease now
//    holds (held, with time left);
//  * a condition failure never reports won, unless an answer of this or an
//    earlier leader write left an outcome open (our own earlier attempt may
//    have produced the item);
//  * SetValue/Initialize/TouchMember report applied only when an answer
//    names the key written (SetValue: at the version returned);
//  * views: live, keyed right, versions >= 1, ages >= 0.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "dcs/dcs.h"
#include "dcs/dynamo_item_store.h"
#include "fuzz/fuzz_common.h"
#include "fuzz/fuzz_replies.h"

using namespace dynatroni;  // NOLINT(google-build-using-namespace)
using dynamodb::AttributeValue;
using dynamodb::Item;
using fuzz::Exchange;
using nlohmann::json;

namespace {

constexpr char kPartition[] = "cluster";
constexpr char kName[] = "node1";
constexpr char kSession[] = "session-1";

// ---- The model server --------------------------------------------------------

std::string Str(const json& j, const char* name) {
  return j.contains(name) && j[name].is_string() ? j[name].get<std::string>() : std::string();
}

std::vector<std::string> SplitTopLevel(std::string_view s, char sep) {
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || (s[i] == sep && depth == 0)) {
      std::string part(s.substr(start, i - start));
      part.erase(0, part.find_first_not_of(' '));
      part.erase(part.find_last_not_of(' ') + 1);
      if (!part.empty()) out.push_back(part);
      start = i + 1;
    } else if (s[i] == '(') {
      ++depth;
    } else if (s[i] == ')') {
      --depth;
    }
  }
  return out;
}

class Model {
 public:
  std::map<std::string, Item> items;  // by sort key

  static Item KeyItem(const std::string& key) {
    return {{"cluster_name", AttributeValue::S(kPartition)}, {"key", AttributeValue::S(key)}};
  }
  Item Leader(const std::string& key, const std::string& value, const std::string& session, int64_t version,
              int64_t term) {
    Item it = KeyItem(key);
    it["value"] = AttributeValue::S(value);
    it["session"] = AttributeValue::S(session);
    it["version"] = AttributeValue::N(version);
    it["term"] = AttributeValue::N(term);
    it["lease_ms"] = AttributeValue::N(9000);
    it["updated_at"] = AttributeValue::N(1440938160000);
    return it;
  }
  // Another node writes the leader first: takes it, or releases it (a tombstone).
  void ForeignLeaderWrite(bool release) {
    Item& it = items.try_emplace("leader", KeyItem("leader")).first->second;
    int64_t version = it.count("version") ? it["version"].AsInt64().value_or(0) : 0;
    int64_t term = it.count("term") ? it["term"].AsInt64().value_or(0) : 0;
    it = Leader("leader", "node2", "session-2", version + 1, term + 1);
    if (release) {
      it.erase("value");
      it.erase("session");
    }
  }

  static const AttributeValue* Find(const Item* item, const std::string& name) {
    if (item == nullptr) return nullptr;
    auto it = item->find(name);
    return it == item->end() ? nullptr : &it->second;
  }

  // The condition expressions dcs/dynamo_item_store.cc writes: terms joined by AND, each
  // attribute_not_exists(#n) or #n = :v.
  static bool Holds(const std::string& cond, const Item* cur, const json& names, const json& values) {
    std::string rest = cond;
    while (!rest.empty()) {
      size_t and_pos = rest.find(" AND ");
      std::string term = rest.substr(0, and_pos);
      rest = and_pos == std::string::npos ? "" : rest.substr(and_pos + 5);
      if (term.rfind("attribute_not_exists(", 0) == 0) {
        std::string n = Str(names, term.substr(21, term.size() - 22).c_str());
        if (Find(cur, n) != nullptr) return false;
      } else {
        size_t eq = term.find(" = ");
        if (eq == std::string::npos) return false;
        std::string n = Str(names, term.substr(0, eq).c_str());
        auto v = dynamodb::DecodeAttributeValue(values.value(term.substr(eq + 3), json()));
        const AttributeValue* have = Find(cur, n);
        if (!v.ok() || have == nullptr || !(*have == *v)) return false;
      }
    }
    return true;
  }

  // "SET #a = :v, #b = if_not_exists(#b, :zero) + :one REMOVE #c, #d".
  static Item Apply(const Item* cur, const Item& key, const std::string& expr, const json& names,
                    const json& values) {
    Item out = cur != nullptr ? *cur : key;
    std::string set = expr;
    std::string remove;
    if (size_t r = expr.find(" REMOVE "); r != std::string::npos) {
      set = expr.substr(0, r);
      remove = expr.substr(r + 8);
    } else if (expr.rfind("REMOVE ", 0) == 0) {
      set.clear();
      remove = expr.substr(7);
    }
    if (set.rfind("SET ", 0) == 0) set = set.substr(4);
    auto value = [&values](const std::string& name) {
      auto v = dynamodb::DecodeAttributeValue(values.value(name, json()));
      return v.ok() ? *v : AttributeValue::NullValue();
    };
    for (const std::string& clause : SplitTopLevel(set, ',')) {
      size_t eq = clause.find(" = ");
      if (eq == std::string::npos) continue;
      const std::string target = Str(names, clause.substr(0, eq).c_str());
      const std::string rhs = clause.substr(eq + 3);
      if (rhs.rfind("if_not_exists(", 0) == 0) {
        // if_not_exists(#x, :zero) + :one
        size_t comma = rhs.find(',');
        size_t close = rhs.find(')');
        size_t plus = rhs.find("+ ");
        if (comma == std::string::npos || close == std::string::npos || plus == std::string::npos) continue;
        std::string base_name = Str(names, rhs.substr(14, comma - 14).c_str());
        std::string zero = rhs.substr(comma + 2, close - comma - 2);
        const AttributeValue* have = Find(cur, base_name);
        int64_t base = have != nullptr ? have->AsInt64().value_or(0) : value(zero).AsInt64().value_or(0);
        out[target] = AttributeValue::N(base + value(rhs.substr(plus + 2)).AsInt64().value_or(0));
      } else {
        out[target] = value(rhs);
      }
    }
    for (const std::string& n : SplitTopLevel(remove, ',')) out.erase(Str(names, n.c_str()));
    return out;
  }
};

// How the server treats one request.
enum class Behaviour {
  kTrue,           // apply and answer truly
  kForeignFirst,   // another node writes the leader first, then as kTrue
  kApplied5xx,     // apply, answer 500
  kNotApplied5xx,  // do not apply, answer 5xx (HTML or DynamoDB's)
  kAppliedTimeout,
  kNotSent,         // connection refused
  kAppliedDamaged,  // apply, answer a damaged 200
  kLie,             // answer a 200 whose item differs (applied or not)
  kRefuse,          // answer a condition failure whatever the condition
};

Behaviour PickBehaviour(fuzz::Choices& in) {
  switch (in.Pick(20)) {
    case 10:
    case 11:
      return Behaviour::kForeignFirst;
    case 12:
      return Behaviour::kApplied5xx;
    case 13:
      return Behaviour::kNotApplied5xx;
    case 14:
      return Behaviour::kAppliedTimeout;
    case 15:
      return Behaviour::kNotSent;
    case 16:
      return Behaviour::kAppliedDamaged;
    case 17:
    case 18:
      return Behaviour::kLie;
    case 19:
      return Behaviour::kRefuse;
    default:
      return Behaviour::kTrue;
  }
}

// A lie about an item: another session, value, version, key, term or a corrupt attribute.
Item Lie(fuzz::Choices& in, Item item) {
  switch (in.Pick(8)) {
    case 0:
      item["session"] = AttributeValue::S("session-2");
      break;
    case 1:
      item["value"] = AttributeValue::S("node2");
      break;
    case 2:
      item["version"] = AttributeValue::N(item["version"].AsInt64().value_or(0) + 1 + in.Pick(3));
      break;
    case 3:
      item["version"] = AttributeValue::N(item["version"].AsInt64().value_or(0) - 1);
      break;
    case 4:
      item["key"] = AttributeValue::S(in.Flag(2) ? "config" : "members/node1");
      break;
    case 5:
      item["value"] = AttributeValue::S(kName);
      item["session"] = AttributeValue::S(kSession);
      break;
    case 6:
      item["lease_ms"] = AttributeValue::N(in.Flag(2) ? "100000000000000000" : "-5");
      break;
    default:
      item["term"] = AttributeValue::S("x");
      break;
  }
  return item;
}

std::string ItemJson(const Item& item) { return dynamodb::EncodeItem(item).dump(); }

class Server {
 public:
  Server(fuzz::Choices* in, Model* model) : in_(in), model_(model) {}

  Result<http::Response> Answer(const http::Request& req, const std::string& op) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return Reply(400, R"({"__type":"SerializationException"})");
    const Behaviour b = PickBehaviour(*in_);
    if (b == Behaviour::kNotSent) return Unavailable("fuzz: connection refused");
    if (b == Behaviour::kNotApplied5xx) {
      return Reply(in_->Flag(2) ? 503 : 500,
                   in_->Flag(2) ? "<html>502</html>" : R"({"__type":"InternalServerError","message":"x"})");
    }
    if (b == Behaviour::kForeignFirst) model_->ForeignLeaderWrite(in_->Flag(3));

    std::string answer;
    int status = 200;
    if (op == "UpdateItem") {
      const json& names = body.value("ExpressionAttributeNames", json::object());
      const json& values = body.value("ExpressionAttributeValues", json::object());
      auto key_item = dynamodb::DecodeItem(body.value("Key", json::object()));
      if (!key_item.ok() || !key_item->count("key") || key_item->at("key").AsString() == nullptr) {
        return Reply(400, R"({"__type":"ValidationException"})");
      }
      const std::string key = *key_item->at("key").AsString();
      auto it = model_->items.find(key);
      const Item* cur = it == model_->items.end() ? nullptr : &it->second;
      if (b == Behaviour::kRefuse || !Model::Holds(Str(body, "ConditionExpression"), cur, names, values)) {
        std::string item;
        if (cur != nullptr && Str(body, "ReturnValuesOnConditionCheckFailure") == "ALL_OLD" &&
            !in_->Flag(4)) {
          item = ItemJson(b == Behaviour::kLie ? Lie(*in_, *cur) : *cur);
        }
        return Reply(400, fuzz::GenErrorBody(*in_, "ConditionalCheckFailedException", item));
      }
      Item next = Model::Apply(cur, *key_item, Str(body, "UpdateExpression"), names, values);
      if (b != Behaviour::kLie || in_->Flag(2)) model_->items[key] = next;
      answer = "{\"Attributes\":" + ItemJson(b == Behaviour::kLie ? Lie(*in_, next) : next) + "}";
    } else if (op == "GetItem") {
      auto key_item = dynamodb::DecodeItem(body.value("Key", json::object()));
      const std::string key =
          key_item.ok() && key_item->count("key") && key_item->at("key").AsString() != nullptr
              ? *key_item->at("key").AsString()
              : "";
      auto it = model_->items.find(key);
      if (b == Behaviour::kLie) {
        Item lie = it != model_->items.end() ? it->second : model_->Leader(key, "node2", "session-2", 1, 1);
        answer = "{\"Item\":" + ItemJson(Lie(*in_, lie)) + "}";
      } else {
        answer = it == model_->items.end() ? "{}" : "{\"Item\":" + ItemJson(it->second) + "}";
      }
    } else if (op == "Query") {
      const json& values = body.value("ExpressionAttributeValues", json::object());
      const std::string prefix = values.contains(":prefix") ? Str(values[":prefix"], "S") : "";
      std::string start;
      if (body.contains("ExclusiveStartKey"))
        start = Str(body["ExclusiveStartKey"].value("key", json()), "S");
      std::vector<std::string> page;
      std::string next_key;
      const bool split = in_->Flag(4);
      for (auto it = start.empty() ? model_->items.begin() : model_->items.upper_bound(start);
           it != model_->items.end(); ++it) {
        if (it->first.compare(0, prefix.size(), prefix) != 0) continue;
        if (split && page.size() == 2) {
          next_key = ItemJson(Model::KeyItem(std::prev(it)->first));
          break;
        }
        page.push_back(ItemJson(b == Behaviour::kLie && page.empty() ? Lie(*in_, it->second) : it->second));
      }
      answer = "{\"Items\":[";
      for (size_t i = 0; i < page.size(); ++i) answer += (i ? "," : "") + page[i];
      answer += "],\"Count\":" + std::to_string(page.size());
      if (!next_key.empty()) answer += ",\"LastEvaluatedKey\":" + next_key;
      answer += "}";
    } else {
      return Reply(400, R"({"__type":"UnknownOperationException"})");
    }
    switch (b) {
      case Behaviour::kApplied5xx:
        return Reply(500, in_->Flag(2) ? "" : R"({"__type":"InternalServerError"})");
      case Behaviour::kAppliedTimeout:
        return UnknownOutcome("fuzz: timed out after sending");
      case Behaviour::kAppliedDamaged: {
        std::string damaged = fuzz::Mutate(*in_, answer);
        if (damaged == answer) damaged.resize(answer.size() / 2);
        return Reply(status, damaged);
      }
      default:
        return Reply(status, answer);
    }
  }

 private:
  Result<http::Response> Reply(int status, std::string body) {
    return fuzz::MakeResponse(*in_, status, body);
  }

  fuzz::Choices* in_;
  Model* model_;
};

// ---- Oracles -----------------------------------------------------------------

std::string Describe(const std::vector<Exchange>& ex, size_t from) {
  std::string out;
  for (size_t i = from; i < ex.size(); ++i) {
    const Exchange& e = ex[i];
    out += " [" + e.op + " ";
    out += e.transport.ok() ? std::to_string(e.response.status) + " " + e.response.body.substr(0, 300)
                            : std::string(StatusCodeName(e.transport.code()));
    out += "]";
  }
  return fuzz::Printable(out);
}

// The items the answers [from, end) name: UpdateItem Attributes, a refused write's Item, GetItem's Item.
std::vector<dcs::StoredItem> NamedItems(const std::vector<Exchange>& ex, size_t from) {
  std::vector<dcs::StoredItem> out;
  for (size_t i = from; i < ex.size(); ++i) {
    const Exchange& e = ex[i];
    if (!e.transport.ok() || !fuzz::CrcOk(e.response)) continue;
    json body = fuzz::ParseObject(e.response.body);
    if (body.is_discarded()) continue;
    for (const char* field : {"Attributes", "Item"}) {
      if (!body.contains(field) || !body[field].is_object()) continue;
      auto item = dynamodb::DecodeItem(body[field]);
      if (!item.ok()) continue;
      auto stored = dcs::DecodeStoredItem(*item);
      if (stored.ok()) out.push_back(*stored);
    }
  }
  return out;
}

bool AnyPossiblyAmbiguous(const std::vector<Exchange>& ex, size_t from, const char* op) {
  for (size_t i = from; i < ex.size(); ++i) {
    if (ex[i].op == op && fuzz::PossiblyAmbiguous(ex[i])) return true;
  }
  return false;
}

// The version the leader write of exchange `e` was conditioned on (0: none / no item).
int64_t ConditionedVersion(const Exchange& e) {
  json body = json::parse(e.request_body, nullptr, false);
  if (body.is_discarded()) return 0;
  json v = body.value("ExpressionAttributeValues", json::object()).value(":expver", json());
  auto decoded = dynamodb::DecodeAttributeValue(v);
  return decoded.ok() ? decoded->AsInt64().value_or(0) : 0;
}

// Checks every item-store call against the answers that produced it.
class CheckingStore final : public dcs::ItemStore {
 public:
  CheckingStore(std::shared_ptr<dcs::DynamoItemStore> inner, const fuzz::ScriptedTransport* transport)
      : inner_(std::move(inner)), transport_(transport) {}

  Result<std::vector<dcs::StoredItem>> Query(const std::string& partition, const std::string& prefix,
                                             Deadline deadline) override {
    auto r = inner_->Query(partition, prefix, deadline);
    fuzz::CheckOneLine(r.status());
    return r;
  }
  Result<std::optional<dcs::StoredItem>> Get(const std::string& partition, const std::string& key,
                                             Deadline deadline) override {
    const size_t mark = transport_->exchanges.size();
    auto r = inner_->Get(partition, key, deadline);
    fuzz::CheckOneLine(r.status());
    const auto& ex = transport_->exchanges;
    if (r.ok()) {
      const std::string what = Describe(ex, mark);
      DYNATRONI_FUZZ_CHECK(ex.size() > mark && fuzz::GoodSuccess(ex.back()),
                           "a Get succeeded without a good 2xx answer:" + what);
      json body = fuzz::ParseObject(ex.back().response.body);
      std::optional<dcs::StoredItem> expected;
      if (body.contains("Item") && !body["Item"].is_null()) {
        auto item = dynamodb::DecodeItem(body["Item"]);
        DYNATRONI_FUZZ_CHECK(item.ok(), "a Get succeeded on an item that does not decode:" + what);
        auto stored = dcs::DecodeStoredItem(*item);
        DYNATRONI_FUZZ_CHECK(stored.ok(), "a Get succeeded on an item that is no cluster item:" + what);
        expected = *stored;
      }
      DYNATRONI_FUZZ_CHECK(*r == expected, "a Get returned another item than its answer's:" + what);
    }
    return r;
  }
  Result<dcs::WriteOutcome> Write(const std::string& partition, const std::string& key,
                                  const dcs::Mutation& mutation, const dcs::Precondition& pre,
                                  Deadline deadline) override {
    const size_t mark = transport_->exchanges.size();
    auto r = inner_->Write(partition, key, mutation, pre, deadline);
    fuzz::CheckOneLine(r.status());
    const auto& ex = transport_->exchanges;
    const std::string what = Describe(ex, mark);
    if (r.ok()) {
      DYNATRONI_FUZZ_CHECK(ex.size() > mark, "a write reported done without any answer");
      const Exchange& last = ex.back();
      if (r->applied) {
        DYNATRONI_FUZZ_CHECK(fuzz::GoodSuccess(last),
                             "a write reported applied, but its last answer was no good 2xx:" + what);
        auto items = NamedItems(ex, ex.size() - 1);
        DYNATRONI_FUZZ_CHECK(r->item && items.size() == 1 && items[0] == *r->item,
                             "a write reported applied with another item than its answer's:" + what);
      } else {
        DYNATRONI_FUZZ_CHECK(
            fuzz::NamesConditionFailure(last),
            "a write reported refused, but its last answer names no failed condition:" + what);
      }
    } else {
      bool open = false;
      for (size_t i = mark; i < ex.size(); ++i) open = open || fuzz::SurelyAmbiguous(ex[i]);
      // (The client's known deviation, fuzz_dynamodb_response: a definitive answer carrying an item that
      // does not decode ends as kMalformedResponse; so does a 2xx whose item is no cluster item.)
      const bool decode_failure = r.status().code() == StatusCode::kMalformedResponse && ex.size() > mark &&
                                  !fuzz::ParseObject(ex.back().response.body).is_discarded() &&
                                  (fuzz::GoodSuccess(ex.back()) || fuzz::NamesConditionFailure(ex.back()));
      if (open && !decode_failure) {
        DYNATRONI_FUZZ_CHECK(r.status().code() == StatusCode::kUnknownOutcome,
                             "a write that may have been applied failed with " +
                                 std::string(StatusCodeName(r.status().code())) + ":" + what);
      }
    }
    return r;
  }
  Status DeletePartition(const std::string& partition, Deadline deadline) override {
    return inner_->DeletePartition(partition, deadline);
  }
  [[nodiscard]] Duration ClockSkew() const override { return inner_->ClockSkew(); }

 private:
  std::shared_ptr<dcs::DynamoItemStore> inner_;
  const fuzz::ScriptedTransport* transport_;
};

void CheckView(const dcs::ClusterView& view) {
  for (const auto& [key, o] : view.items) {
    DYNATRONI_FUZZ_CHECK(o.item.key == key, key);
    DYNATRONI_FUZZ_CHECK(o.item.live(), "view.items holds only live items: " + key);
    DYNATRONI_FUZZ_CHECK(o.item.version >= 1, "versions are positive: " + key);
    DYNATRONI_FUZZ_CHECK(o.age >= Duration::zero(), "ages are not negative: " + key);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Choices in(data, size);
  Model model;
  switch (in.Pick(5)) {  // the partition before this process starts
    case 1:
      model.items["leader"] = model.Leader("leader", "node2", "session-2", 4, 2);
      break;
    case 2:
      model.items["leader"] = model.Leader("leader", "node2", "session-2", 4, 2);
      model.items["leader"].erase("value");
      break;
    case 3:  // our own lease, written by this node's previous process
      model.items["leader"] = model.Leader("leader", kName, "session-0", 7, 3);
      break;
    case 4:  // foreign and corrupt items beside a foreign leader
      model.items["leader"] = model.Leader("leader", "node2", "session-2", 2, 1);
      for (int i = in.Pick(4); i > 0; --i) {
        static constexpr const char* kKeys[] = {"config", "members/node2", "zz", "sync"};
        const std::string key = kKeys[in.Pick(4)];
        std::string text =
            fuzz::GenItem(in, {{"cluster_name", R"({"S":"cluster"})"}, {"key", "{\"S\":\"" + key + "\"}"}});
        json j = json::parse(text, nullptr, false);
        auto item = j.is_discarded() ? Result<Item>(Internal("")) : dynamodb::DecodeItem(j);
        if (item.ok()) model.items[key] = *item;
      }
      break;
    default:
      break;
  }

  FakeClock clock;
  SeededRandom random(7);
  Server server(&in, &model);
  auto transport = std::make_shared<fuzz::ScriptedTransport>(
      &clock, std::chrono::milliseconds(300),
      [&server](const http::Request& req, const std::string& op) { return server.Answer(req, op); });
  dynamodb::ClientOptions o;
  o.region = "us-east-1";
  o.endpoint = "http://127.0.0.1:8000";
  aws::Credentials creds;
  creds.access_key_id = "AKIDFUZZ";
  creds.secret_access_key = aws::SecretString("fuzz-secret-key");
  o.credentials = aws::MakeStaticProvider(creds);
  o.transport = transport;
  o.clock = &clock;
  o.random = &random;
  o.retry.max_attempts = 2;
  auto client = dynamodb::Client::Create(std::move(o));
  if (!client.ok()) fuzz::Fail("Client::Create", client.status().ToString());

  std::vector<std::string> warnings;
  auto inner = std::make_shared<dcs::DynamoItemStore>(
      std::shared_ptr<dynamodb::Client>(std::move(client).value()), "patroni",
      [&warnings](const std::string& w) { warnings.push_back(w); }, &clock);
  auto store = std::make_shared<CheckingStore>(inner, transport.get());

  dcs::DcsOptions opts;
  opts.partition = kPartition;
  opts.name = kName;
  opts.session = kSession;
  opts.store = store;
  opts.clock = &clock;
  SeededRandom dcs_random(8);
  opts.random = &dcs_random;
  // ttl 9 s, retry_timeout 3 s: with 300 ms per request at most ~10 Query pages per call.
  opts.timing = *dcs::Timing::FromFailoverTime(std::chrono::seconds(9));
  auto dcs_or = dcs::Dcs::Create(std::move(opts));
  if (!dcs_or.ok()) fuzz::Fail("Dcs::Create", dcs_or.status().ToString());
  dcs::Dcs& d = **dcs_or;

  const auto& ex = transport->exchanges;
  bool leader_write_open = false;  // some leader write's outcome was left open (now or earlier)
  // The default cycle (choice 0 at every step): load, acquire, renew, load, touch, set, release, poll.
  static constexpr int kCycle[] = {1, 2, 4, 1, 7, 8, 5, 6};
  const int steps = 6 + in.Pick(10);
  for (int step = 0; step < steps; ++step) {
    int call = in.Pick(12);
    if (call == 0 || call > 9) call = kCycle[step % 8];
    const size_t mark = ex.size();
    switch (call) {
      case 1: {
        auto view = d.LoadCluster("");
        fuzz::CheckOneLine(view.status());
        if (view.ok()) CheckView(*view);
        break;
      }
      case 2:    // AcquireLeader
      case 3:    // TakeLeader
      case 4: {  // RenewLeader
        auto won = call == 2   ? d.AcquireLeader("leader")
                   : call == 3 ? d.TakeLeader("leader")
                               : d.RenewLeader("leader", in.Flag(2) ? std::optional<int64_t>(in.Pick(9))
                                                                    : std::nullopt);
        fuzz::CheckOneLine(won.status());
        const std::string what = Describe(ex, mark);
        int64_t floor = -1;
        for (size_t i = mark; i < ex.size(); ++i) {
          if (ex[i].op == "UpdateItem") floor = ConditionedVersion(ex[i]);
        }
        const bool open_now = AnyPossiblyAmbiguous(ex, mark, "UpdateItem");
        if (won.ok() && *won) {
          const dcs::LeaseInfo lease = d.Lease("leader");
          DYNATRONI_FUZZ_CHECK(floor >= 0, "a lease reported won without a leader write:" + what);
          bool named = false;
          for (const dcs::StoredItem& item : NamedItems(ex, mark)) {
            named = named || (item.key == "leader" && item.live() && *item.value == kName &&
                              item.session == kSession && item.version > floor &&
                              item.version == lease.version && item.term == lease.term);
          }
          DYNATRONI_FUZZ_CHECK(named, "a lease reported won, but no answer names our session at version " +
                                          std::to_string(lease.version) + " > " + std::to_string(floor) +
                                          ":" + what);
          DYNATRONI_FUZZ_CHECK(lease.held && lease.remaining > Duration::zero(),
                               "a lease reported won is not held:" + what);
          if (!open_now && !leader_write_open) {
            bool last_refused = false;
            for (size_t i = mark; i < ex.size(); ++i) {
              if (ex[i].op == "UpdateItem") last_refused = fuzz::NamesConditionFailure(ex[i]);
            }
            DYNATRONI_FUZZ_CHECK(!last_refused, "a refused leader write reported won:" + what);
          }
        }
        leader_write_open = leader_write_open || open_now;
        break;
      }
      case 5: {
        auto released =
            d.ReleaseLeader("leader", in.Flag(2) ? std::optional<int64_t>(in.Pick(9)) : std::nullopt);
        fuzz::CheckOneLine(released.status());
        leader_write_open = leader_write_open || AnyPossiblyAmbiguous(ex, mark, "UpdateItem");
        break;
      }
      case 6: {
        auto poll = d.PollLeader("leader", 1);
        fuzz::CheckOneLine(poll.status());
        (void)d.PlanWatch("leader", 1);
        break;
      }
      case 7:
      case 8:
      case 9: {
        const std::string value = "v" + std::to_string(step);
        const std::string key = call == 7 ? "members/node1" : call == 8 ? "config" : "initialize";
        bool applied = false;
        std::optional<int64_t> version;
        if (call == 7) {
          auto r = d.TouchMember(key, value);
          fuzz::CheckOneLine(r.status());
          applied = r.ok() && *r && ex.size() > mark;  // (a skipped rewrite sends nothing)
        } else if (call == 8) {
          auto r = d.SetValue(key, value, in.Flag(2) ? std::optional<int64_t>(in.Pick(5)) : std::nullopt);
          fuzz::CheckOneLine(r.status());
          applied = r.ok() && r->has_value();
          if (applied) version = **r;
        } else {
          auto r = d.Initialize(key, value, in.Flag(2));
          fuzz::CheckOneLine(r.status());
          applied = r.ok() && *r;
        }
        if (applied) {
          bool named = false;
          for (const dcs::StoredItem& item : NamedItems(ex, mark)) {
            // (The value and session are not compared: a 200 to an UpdateItem that SETs them is
            // trusted for them; only the lease checks whose they are.)
            named = named || (item.key == key && (!version || item.version == *version));
          }
          DYNATRONI_FUZZ_CHECK(
              named, "a write of " + key + " reported applied, but no answer names it:" + Describe(ex, mark));
        }
        break;
      }
      default:
        break;
    }
    static constexpr int kStepMs[] = {1000, 3000, 10000, 300};
    clock.Advance(std::chrono::milliseconds(kStepMs[in.Pick(4)]));
  }
  (void)d.Lease("leader");
  for (const auto& w : warnings) fuzz::CheckOneLine(InvalidArgument(w));
  return 0;
}
