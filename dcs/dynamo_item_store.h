// File: dcs/dynamo_item_store.h
//
// ItemStore on one DynamoDB table (layout in dcs/item_store.h). Every write is
// a single conditional UpdateItem that bumps `version` atomically
// (if_not_exists(version, 0) + 1) and asks for ALL_OLD on condition failure;
// reads are strongly consistent (GetItem / paginated Query).
//
// Items in the partition that do not decode (foreign or corrupt) are skipped
// and reported through the warning callback, never a crash.
//
// Thread-safety: safe for concurrent use (the Client is).
#ifndef DYNATRONI_DCS_DYNAMO_ITEM_STORE_H_
#define DYNATRONI_DCS_DYNAMO_ITEM_STORE_H_

#include <functional>
#include <memory>
#include <string>

#include "dcs/item_store.h"
#include "dynamodb/attribute_value.h"
#include "dynamodb/client.h"

namespace dynatroni::dcs {

// Attribute names of the table layout.
inline constexpr char kPartitionKey[] = "cluster_name";
inline constexpr char kSortKey[] = "key";

class DynamoItemStore final : public ItemStore {
 public:
  using WarningSink = std::function<void(const std::string&)>;

  // `clock` (default: the system clock) gives updated_at and, corrected by
  // the client's learned clock skew, the `ttl` of Mutation::expire_after.
  DynamoItemStore(std::shared_ptr<dynamodb::Client> client, std::string table, WarningSink warn = nullptr,
                  Clock* clock = nullptr);

  Result<std::vector<StoredItem>> Query(const std::string& partition, const std::string& prefix,
                                        Deadline deadline) override;
  Result<std::optional<StoredItem>> GetEventually(const std::string& partition, const std::string& key,
                                                  Deadline deadline) override;
  Result<std::optional<StoredItem>> Get(const std::string& partition, const std::string& key,
                                        Deadline deadline) override;
  Result<WriteOutcome> Write(const std::string& partition, const std::string& key, const Mutation& mutation,
                             const Precondition& pre, Deadline deadline) override;
  Status DeletePartition(const std::string& partition, Deadline deadline) override;
  [[nodiscard]] Duration ClockSkew() const override { return client_->clock_skew(); }

  [[nodiscard]] const std::string& table() const { return table_; }
  [[nodiscard]] dynamodb::Client& client() { return *client_; }

 private:
  Result<std::optional<StoredItem>> GetItem(const std::string& partition, const std::string& key,
                                            bool consistent, Deadline deadline);

  std::shared_ptr<dynamodb::Client> client_;
  std::string table_;
  WarningSink warn_;
  Clock* clock_;
};

// Decodes one table item. kMalformedResponse naming the attribute when it is
// not a Dynatroni item (missing key, wrong types).
Result<StoredItem> DecodeStoredItem(const dynamodb::Item& item);
// Checks that `table` has Dynatroni's key schema, cluster_name (S, HASH) +
// key (S, RANGE). kFailedPrecondition with one line naming the table, the
// schema it has and the fix otherwise.
Status CheckKeySchema(const dynamodb::TableDescription& table);
// Best effort at plugin/CLI start: DescribeTable within `deadline`, then
// CheckKeySchema. Returns OK when the table could not be described (no
// permission, unreachable: the regular calls report that), kNotFound when the
// table does not exist, kFailedPrecondition for a wrong key schema.
Status CheckTableAtStart(dynamodb::Client& client, const std::string& table, Deadline deadline);
// The UpdateItem parts for a write (exposed for tests). `now_ms` is
// updated_at; Mutation::expire_after must already be folded into
// ttl_epoch_s by the caller.
dynamodb::UpdateItemRequest BuildWriteRequest(const std::string& table, const std::string& partition,
                                              const std::string& key, const Mutation& mutation,
                                              const Precondition& pre, int64_t now_ms);

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_DYNAMO_ITEM_STORE_H_
