#include "dcs/dynamo_item_store.h"

#include <chrono>

namespace dynatroni::dcs {
namespace {

using dynamodb::AttributeValue;

dynamodb::Item KeyOf(const std::string& partition, const std::string& key) {
  return {{kPartitionKey, AttributeValue::S(partition)}, {kSortKey, AttributeValue::S(key)}};
}

Result<int64_t> OptionalInt(const dynamodb::Item& item, const std::string& key, const char* name) {
  auto it = item.find(name);
  if (it == item.end()) return int64_t{0};
  auto v = it->second.AsInt64();
  if (!v) return MalformedResponse("`" + key + "`: attribute `" + name + "` is not an integer number");
  return *v;
}

constexpr char kSchemaFix[] =
    "Dynatroni needs cluster_name (S, HASH) + key (S, RANGE); a key schema cannot be changed: create a new "
    "table (`dynatroni table create --table NEW`) and set dynamodb.table_name to it";

// DynamoDB's answers when a request's key does not match the table's schema.
bool IsKeySchemaMismatch(const Status& s) {
  if (s.code() != StatusCode::kInvalidArgument) return false;
  const std::string& m = s.message();
  return m.find("key schema") != std::string::npos ||
         m.find("does not match the schema") != std::string::npos ||
         m.find("key element") != std::string::npos || m.find("KeySchema") != std::string::npos;
}

// Attribute names and the small attributes (version, term, lease_ms,
// updated_at, ttl, session id) of one item, as DynamoDB counts them, rounded up.
constexpr size_t kItemOverheadBytes = 256;

// Adds the fix to a key-schema or item-size ValidationException.
Status Explain(Status s, const std::string& table) {
  if (s.code() == StatusCode::kInvalidArgument &&
      s.message().find("maximum allowed size") != std::string::npos) {
    Status out(s.code(),
               s.message() +
                   " (DynamoDB's item limit is 400 KB; nothing was written: keep the value smaller, "
                   "split or compress it)");
    out.WithCauseOf(s);
    return out;
  }
  if (!IsKeySchemaMismatch(s)) return s;
  Status out(s.code(), s.message() + " (table " + table + " does not have the expected key schema; " +
                           kSchemaFix + ")");
  out.WithCauseOf(s);
  return out;
}

// A returned item is the one addressed: DynamoDB answers a GetItem or UpdateItem with that item only, so
// an answer naming another (a misrouted or garbled one; fuzz_cluster_items found a leader write taking
// the item of members/... as its own) says nothing about ours. The partition is compared when present.
Status CheckAddressed(const dynamodb::Item& item, const std::string& partition, const std::string& key) {
  auto name = [&item](const char* attribute) -> const std::string* {
    auto it = item.find(attribute);
    return it == item.end() ? nullptr : it->second.AsString();
  };
  const std::string* p = name(kPartitionKey);
  const std::string* k = name(kSortKey);
  const bool partition_ok = item.find(kPartitionKey) == item.end() || (p != nullptr && *p == partition);
  if (partition_ok && k != nullptr && *k == key) return Status::Ok();
  return MalformedResponse("`" + key + "`: the answer names another item (" +
                           (p != nullptr ? p->substr(0, 40) : std::string("?")) + " / " +
                           (k != nullptr ? k->substr(0, 40) : std::string("?")) + ")");
}

}  // namespace

Status CheckKeySchema(const dynamodb::TableDescription& table) {
  const dynamodb::TableDescription& d = table;
  bool hash_ok = false;
  bool range_ok = false;
  std::string shown;
  for (const auto& k : d.key_schema) {
    std::string type = "?";
    for (const auto& a : d.attributes) {
      if (a.name == k.name) type = a.type;
    }
    if (k.name == kPartitionKey && k.key_type == "HASH" && type == "S") hash_ok = true;
    if (k.name == kSortKey && k.key_type == "RANGE" && type == "S") range_ok = true;
    if (!shown.empty()) shown += " + ";
    shown += k.name + " (" + type + ", " + k.key_type + ")";
  }
  if (hash_ok && range_ok && d.key_schema.size() == 2) return Status::Ok();
  return FailedPrecondition("dynamodb.table_name: table " + d.name + " has the key schema " +
                            (shown.empty() ? "(none)" : shown) + "; " + kSchemaFix);
}

Status CheckTableAtStart(dynamodb::Client& client, const std::string& table, Deadline deadline) {
  auto d = client.DescribeTable(table, deadline);
  if (d.ok()) return CheckKeySchema(*d);
  if (d.status().code() == StatusCode::kNotFound) {
    return NotFound("dynamodb.table_name: table " + table + " does not exist in " + client.region() + " at " +
                    client.endpoint() + "; create it (`dynatroni table create --table " + table +
                    "`) or fix table_name/region");
  }
  return Status::Ok();
}

Result<StoredItem> DecodeStoredItem(const dynamodb::Item& item) {
  StoredItem out;
  auto key = item.find(kSortKey);
  if (key == item.end() || !key->second.AsString()) return MalformedResponse("item has no string `key`");
  out.key = *key->second.AsString();
  if (auto v = item.find("value"); v != item.end()) {
    if (!v->second.AsString())
      return MalformedResponse("`" + out.key + "`: attribute `value` is not a string");
    out.value = *v->second.AsString();
  }
  auto version = item.find("version");
  if (version == item.end()) return MalformedResponse("`" + out.key + "`: attribute `version` is missing");
  auto ver = version->second.AsInt64();
  if (!ver || *ver < 1)
    return MalformedResponse("`" + out.key + "`: attribute `version` is not a positive integer");
  out.version = *ver;
  if (auto s = item.find("session"); s != item.end() && s->second.AsString())
    out.session = *s->second.AsString();
  DYNATRONI_ASSIGN_OR_RETURN(out.term, OptionalInt(item, out.key, "term"));
  DYNATRONI_ASSIGN_OR_RETURN(out.lease_ms, OptionalInt(item, out.key, "lease_ms"));
  DYNATRONI_ASSIGN_OR_RETURN(out.updated_at_ms, OptionalInt(item, out.key, "updated_at"));
  DYNATRONI_ASSIGN_OR_RETURN(out.ttl_epoch_s, OptionalInt(item, out.key, "ttl"));
  return out;
}

dynamodb::UpdateItemRequest BuildWriteRequest(const std::string& table, const std::string& partition,
                                              const std::string& key, const Mutation& m,
                                              const Precondition& pre, int64_t now_ms) {
  dynamodb::UpdateItemRequest req;
  req.table = table;
  req.key = KeyOf(partition, key);
  req.return_values = dynamodb::ReturnValues::kAllNew;
  req.return_old_on_condition_failure = true;
  auto& names = req.condition.names;
  auto& values = req.condition.values;
  names["#ver"] = "version";
  names["#upd"] = "updated_at";
  values[":zero"] = AttributeValue::N(0);
  values[":one"] = AttributeValue::N(1);
  values[":now"] = AttributeValue::N(now_ms);
  std::string set = "SET #ver = if_not_exists(#ver, :zero) + :one, #upd = :now";
  std::string remove;
  auto add_remove = [&](const std::string& n) { remove += (remove.empty() ? " REMOVE " : ", ") + n; };
  names["#val"] = "value";
  if (m.value) {
    values[":val"] = AttributeValue::S(*m.value);
    set += ", #val = :val";
    if (m.session) {
      names["#ses"] = "session";
      values[":ses"] = AttributeValue::S(*m.session);
      set += ", #ses = :ses";
    }
  } else {
    names["#ses"] = "session";
    add_remove("#val");
    add_remove("#ses");
  }
  if (m.increment_term) {
    names["#term"] = "term";
    set += ", #term = if_not_exists(#term, :zero) + :one";
  }
  if (m.lease_ms) {
    names["#lease"] = "lease_ms";
    values[":lease"] = AttributeValue::N(*m.lease_ms);
    set += ", #lease = :lease";
  }
  names["#ttl"] = "ttl";
  if (m.ttl_epoch_s) {
    values[":ttl"] = AttributeValue::N(*m.ttl_epoch_s);
    set += ", #ttl = :ttl";
  } else {
    add_remove("#ttl");
  }
  req.update_expression = set + remove;
  switch (pre.kind) {
    case Precondition::Kind::kNone:
      break;
    case Precondition::Kind::kAbsent:
      req.condition.condition = "attribute_not_exists(#val)";
      break;
    case Precondition::Kind::kVersionIs:
      if (pre.version == 0) {
        req.condition.condition = "attribute_not_exists(#ver)";
        break;
      }
      values[":expver"] = AttributeValue::N(pre.version);
      req.condition.condition = "#ver = :expver";
      break;
    case Precondition::Kind::kValueIs:
      values[":expval"] = AttributeValue::S(pre.value);
      req.condition.condition = "#val = :expval";
      break;
    case Precondition::Kind::kAbsentAtVersion:
      if (pre.version == 0) {
        req.condition.condition = "attribute_not_exists(#ver)";
        break;
      }
      values[":expver"] = AttributeValue::N(pre.version);
      req.condition.condition = "#ver = :expver AND attribute_not_exists(#val)";
      break;
    case Precondition::Kind::kValueAndVersion:
      values[":expval"] = AttributeValue::S(pre.value);
      values[":expver"] = AttributeValue::N(pre.version);
      req.condition.condition = "#val = :expval AND #ver = :expver";
      break;
  }
  return req;
}

DynamoItemStore::DynamoItemStore(std::shared_ptr<dynamodb::Client> client, std::string table,
                                 WarningSink warn, Clock* clock)
    : client_(std::move(client)),
      table_(std::move(table)),
      warn_(std::move(warn)),
      clock_(clock != nullptr ? clock : SystemClock::Instance()) {}

Result<std::vector<StoredItem>> DynamoItemStore::Query(const std::string& partition,
                                                       const std::string& prefix, Deadline deadline) {
  dynamodb::QueryRequest req;
  req.table = table_;
  req.consistent_read = true;
  req.key_condition.names["#pk"] = kPartitionKey;
  req.key_condition.values[":pk"] = AttributeValue::S(partition);
  req.key_condition.condition = "#pk = :pk";
  if (!prefix.empty()) {
    req.key_condition.names["#sk"] = kSortKey;
    req.key_condition.values[":prefix"] = AttributeValue::S(prefix);
    req.key_condition.condition += " AND begins_with(#sk, :prefix)";
  }
  auto queried = client_->Query(req, deadline);
  if (!queried.ok()) return Explain(queried.status(), table_);
  auto& result = *queried;
  std::vector<StoredItem> out;
  out.reserve(result.items.size());
  for (const auto& item : result.items) {
    auto decoded = DecodeStoredItem(item);
    if (!decoded.ok()) {
      if (warn_) warn_("skipping item in partition " + partition + ": " + decoded.status().message());
      continue;
    }
    out.push_back(std::move(decoded).value());
  }
  return out;
}

Result<std::optional<StoredItem>> DynamoItemStore::Get(const std::string& partition, const std::string& key,
                                                       Deadline deadline) {
  return GetItem(partition, key, /*consistent=*/true, deadline);
}

Result<std::optional<StoredItem>> DynamoItemStore::GetEventually(const std::string& partition,
                                                                 const std::string& key, Deadline deadline) {
  return GetItem(partition, key, /*consistent=*/false, deadline);
}

Result<std::optional<StoredItem>> DynamoItemStore::GetItem(const std::string& partition,
                                                           const std::string& key, bool consistent,
                                                           Deadline deadline) {
  dynamodb::GetItemRequest req;
  req.table = table_;
  req.key = KeyOf(partition, key);
  req.consistent_read = consistent;
  auto got = client_->GetItem(req, deadline);
  if (!got.ok()) return Explain(got.status(), table_);
  auto& result = *got;
  if (!result.item) return std::optional<StoredItem>();
  auto decoded = DecodeStoredItem(*result.item);
  if (!decoded.ok()) return decoded.status();
  DYNATRONI_RETURN_IF_ERROR(CheckAddressed(*result.item, partition, key));
  return std::optional<StoredItem>(std::move(decoded).value());
}

Result<WriteOutcome> DynamoItemStore::Write(const std::string& partition, const std::string& key,
                                            const Mutation& mutation, const Precondition& pre,
                                            Deadline deadline) {
  const WallTime now = clock_->WallNow();
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  // DynamoDB's 400 KB item limit: refuse before sending, with the fix, instead
  // of the service's bare "Item size to update has exceeded the maximum
  // allowed size" (a long timeline history or huge member tags).
  const size_t value_size = mutation.value ? mutation.value->size() : 0;
  const size_t size = partition.size() + key.size() + value_size +
                      (mutation.session ? mutation.session->size() : 0) + kItemOverheadBytes;
  if (size > dynamodb::kMaxItemSizeBytes) {
    return InvalidArgument("`" + key + "`: the value is " + std::to_string(value_size) +
                           " bytes, so the item would exceed DynamoDB's 400 KB item limit (409600 bytes); "
                           "nothing was written: keep the value smaller (split or compress it, e.g. prune a "
                           "long timeline history)");
  }
  std::optional<Mutation> with_ttl;
  if (mutation.expire_after && *mutation.expire_after > Duration::zero()) {
    // The table's clock as the client knows it (SigV4 skew correction), so a
    // node whose clock is far behind never writes a ttl already past.
    with_ttl = mutation;
    with_ttl->ttl_epoch_s = std::chrono::duration_cast<std::chrono::seconds>(
                                (now + client_->clock_skew() + *mutation.expire_after).time_since_epoch())
                                .count();
    with_ttl->expire_after.reset();
  }
  auto req = BuildWriteRequest(table_, partition, key, with_ttl ? *with_ttl : mutation, pre, now_ms);
  auto updated = client_->UpdateItem(req, deadline);
  if (!updated.ok()) return Explain(updated.status(), table_);
  auto& result = *updated;
  WriteOutcome out;
  out.applied = !result.condition_failed;
  out.ambiguous = result.ambiguous_attempt;
  if (result.attributes) {
    Result<StoredItem> decoded = DecodeStoredItem(*result.attributes);
    if (decoded.ok()) {
      if (Status addressed = CheckAddressed(*result.attributes, partition, key); !addressed.ok()) {
        decoded = std::move(addressed);
      }
    }
    if (decoded.ok()) {
      out.item = std::move(decoded).value();
    } else if (out.applied) {
      return decoded.status().Annotate("decoding the written item " + key);
    }
  }
  if (out.applied && !out.item) return MalformedResponse("UpdateItem of " + key + " returned no attributes");
  return out;
}

Status DynamoItemStore::DeletePartition(const std::string& partition, Deadline deadline) {
  dynamodb::QueryRequest req;
  req.table = table_;
  req.consistent_read = true;
  req.key_condition.names["#pk"] = kPartitionKey;
  req.key_condition.values[":pk"] = AttributeValue::S(partition);
  req.key_condition.condition = "#pk = :pk";
  DYNATRONI_ASSIGN_OR_RETURN(auto result, client_->Query(req, deadline));
  dynamodb::BatchWriteRequest batch;
  batch.table = table_;
  for (const auto& item : result.items) {
    auto k = item.find(kSortKey);
    if (k == item.end() || !k->second.AsString()) continue;
    batch.delete_keys.push_back(KeyOf(partition, *k->second.AsString()));
  }
  if (batch.delete_keys.empty()) return {};
  return client_->BatchWriteItem(batch, deadline);
}

}  // namespace dynatroni::dcs
