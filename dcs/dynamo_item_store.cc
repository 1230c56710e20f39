#include "dcs/dynamo_item_store.h"

#include <chrono>

namespace dynatroni::dcs {
namespace {

using dynamodb::AttributeValue;

dynamodb::Item KeyOf(const std::string& partition, const std::string& key) {
  return {{kPartitionKey, AttributeValue::S(partition)}, {kSortKey, AttributeValue::S(key)}};
}

Result<int64_t> OptionalInt(const dynamodb::Item& item, const char* name) {
  auto it = item.find(name);
  if (it == item.end()) return int64_t{0};
  auto v = it->second.AsInt64();
  if (!v) return MalformedResponse(std::string("attribute `") + name + "` is not an integer number");
  return *v;
}

}  // namespace

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
  DYNATRONI_ASSIGN_OR_RETURN(out.term, OptionalInt(item, "term"));
  DYNATRONI_ASSIGN_OR_RETURN(out.lease_ms, OptionalInt(item, "lease_ms"));
  DYNATRONI_ASSIGN_OR_RETURN(out.updated_at_ms, OptionalInt(item, "updated_at"));
  DYNATRONI_ASSIGN_OR_RETURN(out.ttl_epoch_s, OptionalInt(item, "ttl"));
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
      values[":expver"] = AttributeValue::N(pre.version);
      req.condition.condition = "#ver = :expver";
      break;
    case Precondition::Kind::kValueIs:
      values[":expval"] = AttributeValue::S(pre.value);
      req.condition.condition = "#val = :expval";
      break;
    case Precondition::Kind::kValueAndVersion:
      values[":expval"] = AttributeValue::S(pre.value);
      values[":expver"] = AttributeValue::N(pre.version);
      req.condition.condition = "#val = :expval AND #ver = :expver";
      break;
    case Precondition::Kind::kAbsentOrValueIs:
      values[":expval"] = AttributeValue::S(pre.value);
      req.condition.condition = "attribute_not_exists(#val) OR #val = :expval";
      break;
  }
  return req;
}

DynamoItemStore::DynamoItemStore(std::shared_ptr<dynamodb::Client> client, std::string table,
                                 WarningSink warn)
    : client_(std::move(client)), table_(std::move(table)), warn_(std::move(warn)) {}

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
  DYNATRONI_ASSIGN_OR_RETURN(auto result, client_->Query(req, deadline));
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
  dynamodb::GetItemRequest req;
  req.table = table_;
  req.key = KeyOf(partition, key);
  req.consistent_read = true;
  DYNATRONI_ASSIGN_OR_RETURN(auto result, client_->GetItem(req, deadline));
  if (!result.item) return std::optional<StoredItem>();
  auto decoded = DecodeStoredItem(*result.item);
  if (!decoded.ok()) return decoded.status();
  return std::optional<StoredItem>(std::move(decoded).value());
}

Result<WriteOutcome> DynamoItemStore::Write(const std::string& partition, const std::string& key,
                                            const Mutation& mutation, const Precondition& pre,
                                            Deadline deadline) {
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto req = BuildWriteRequest(table_, partition, key, mutation, pre, now_ms);
  DYNATRONI_ASSIGN_OR_RETURN(auto result, client_->UpdateItem(req, deadline));
  WriteOutcome out;
  out.applied = !result.condition_failed;
  out.ambiguous = result.ambiguous_attempt;
  if (result.attributes) {
    auto decoded = DecodeStoredItem(*result.attributes);
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
