// File: dcs/sim_dynamodb.h
//
// A simulated DynamoDB table for the deterministic simulations (test support
// only; linked into dynatroni_sim, never into dynatroni_core). It answers the
// JSON requests the real dynamodb::Client sends, byte for byte as DynamoDB's
// JSON protocol does, so the simulation drives the real client (retries,
// ambiguity flags, ALL_OLD on condition failure, re-reads) and the real
// DynamoItemStore expressions.
//
// Operations: GetItem, PutItem, UpdateItem, DeleteItem, Query (paginated,
// KeyConditionExpression + FilterExpression), BatchWriteItem, DescribeTable.
// ConditionExpression / KeyConditionExpression / FilterExpression and
// UpdateExpression are parsed and evaluated by a small general evaluator of
// the expression language subset (comparators = <> < <= > >=, BETWEEN, IN,
// AND, OR, NOT, parentheses, attribute_exists, attribute_not_exists,
// begins_with, size; SET with plain assignment, `a + b`, `a - b`,
// if_not_exists(path, operand); REMOVE) — never by matching the strings the
// DCS happens to send, so a changed expression changes the behaviour. Like
// DynamoDB it rejects (ValidationException) syntax errors, undefined and
// unused ExpressionAttributeNames/Values, overlapping or key-attribute
// update paths and arithmetic on a missing or non-number attribute. Only
// top-level attribute paths are supported (the DCS uses no others).
//
// Answers: 200 with Item / Items / Attributes (per ReturnValues); 400
// ConditionalCheckFailedException, with the current item as `Item` when
// ReturnValuesOnConditionCheckFailure=ALL_OLD; ValidationException;
// ResourceNotFoundException; InvalidSignatureException ("Signature
// expired") when the request's x-amz-date is more than 5 minutes off the
// table's clock (with a Date header, so the client's skew correction works).
// Injected faults (500, throttling) are built with Error().
//
// Consistency: a write applies atomically at the instant it is handed to
// Handle(). ConsistentRead=true reads see every write applied before;
// ConsistentRead=false reads are served, with probability
// stale_read_probability, from a replica lagging by up to max_staleness: the
// item (or, for a Query, each item) as it was at that earlier instant, i.e.
// possibly a previous version or an item that was since deleted or created.
//
// TTL: ExpireIfDue() deletes an item whose `ttl` (epoch seconds) is before the
// table's wall clock, as DynamoDB's TTL process does some time after expiry
// (the caller schedules it; TtlOf() says when it is due).
//
// Thread-safety: none (one simulation thread).
#ifndef DYNATRONI_DCS_SIM_DYNAMODB_H_
#define DYNATRONI_DCS_SIM_DYNAMODB_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "http/transport.h"

namespace dynatroni::dcs::sim {

// Simulated global time since the start of a run.
using Instant = Duration;

struct SimDynamoOptions {
  std::string table = "patroni";
  std::string partition_key = "cluster_name";
  std::string sort_key = "key";
  // The table's wall clock at Instant 0 (it then runs at rate 1).
  WallTime wall_at_zero = WallTime(std::chrono::seconds(1767225600));  // 2026-01-01
  // Eventually consistent reads: how often one is served by a lagging
  // replica, and by how much it may lag at most.
  double stale_read_probability = 0.5;
  Duration max_staleness = std::chrono::seconds(1);
  // Query pages: with this probability a page ends after 1..short_page_items
  // items (DynamoDB ends pages at 1 MB; this exercises pagination, whose
  // pages are read at different instants).
  double short_page_probability = 0.0;
  int short_page_items = 3;
  // Reject requests whose x-amz-date is more than 5 minutes off the table's
  // clock, as DynamoDB's signature check does.
  bool check_request_time = true;
};

struct SimReply {
  int status = 200;
  std::string body;
  std::string error;     // short error name for traces; empty on success
  bool changed = false;  // a write changed the table
};

class SimDynamoDb {
 public:
  // Called after every change of an item: `item` is the new item (nullptr:
  // deleted), `at` the apply instant, `cause` the operation or "TTL".
  using WriteListener = std::function<void(const std::string& partition, const std::string& key,
                                           const nlohmann::json* item, Instant at, std::string_view cause)>;

  // `uniform01` draws the stale-read and page-size decisions (deterministic
  // in the simulations).
  SimDynamoDb(SimDynamoOptions options, std::function<double()> uniform01);
  ~SimDynamoDb();
  SimDynamoDb(const SimDynamoDb&) = delete;
  SimDynamoDb& operator=(const SimDynamoDb&) = delete;

  // Executes one request at instant `at`. `target` is the X-Amz-Target
  // header ("DynamoDB_20120810.UpdateItem"), `amz_date` the x-amz-date header.
  SimReply Handle(std::string_view target, std::string_view amz_date, std::string_view body, Instant at);
  // Handle() for an http::Request as the client sends it.
  SimReply Handle(const http::Request& request, Instant at);

  // An error answer in DynamoDB's shape, e.g. Error(500, "InternalServerError",
  // "Internal server error") or Error(400, "ThrottlingException", ...).
  static SimReply Error(int status, std::string_view type, std::string_view message);
  // The HTTP response for `reply` as sent at instant `at` (content type,
  // x-amzn-RequestId, x-amz-crc32, Date).
  [[nodiscard]] http::Response ToHttp(const SimReply& reply, Instant at) const;

  // TTL: the `ttl` of the current item (epoch seconds), if any.
  [[nodiscard]] std::optional<int64_t> TtlOf(const std::string& partition, const std::string& key) const;
  // Deletes the item when its `ttl` is before the table's wall clock at `at`
  // (and not more than five years before, as DynamoDB ignores those). True
  // when it deleted it.
  bool ExpireIfDue(const std::string& partition, const std::string& key, Instant at);
  // The instant the table's wall clock reaches `epoch_seconds`.
  [[nodiscard]] Instant InstantOfEpoch(int64_t epoch_seconds) const;
  [[nodiscard]] WallTime WallAt(Instant at) const;

  // Puts `item` (a DynamoDB JSON item with both key attributes) into the
  // table at `at` as it is, e.g. to start a run with leftovers of an earlier
  // cluster. False when the key attributes are missing.
  bool Seed(const nlohmann::json& item, Instant at);
  // The current item (nullptr when absent).
  [[nodiscard]] const nlohmann::json* Current(const std::string& partition, const std::string& key) const;
  void set_write_listener(WriteListener listener) { listener_ = std::move(listener); }
  [[nodiscard]] uint64_t requests() const { return requests_; }

  // Parsed expressions, cached by their text (an implementation detail).
  struct Expr;

 private:
  struct Record {
    // (apply instant, item after it; nullptr = absent), oldest first; pruned
    // to what a read lagging by max_staleness can still see.
    std::vector<std::pair<Instant, std::shared_ptr<const nlohmann::json>>> history;
    [[nodiscard]] const nlohmann::json* current() const {
      return history.empty() ? nullptr : history.back().second.get();
    }
    [[nodiscard]] const nlohmann::json* At(Instant t) const;
  };
  using Partition = std::map<std::string, Record>;

  SimReply Dispatch(std::string_view op, const nlohmann::json& req, Instant at);
  SimReply GetItem(const nlohmann::json& req, Instant at);
  SimReply PutItem(const nlohmann::json& req, Instant at);
  SimReply UpdateItem(const nlohmann::json& req, Instant at);
  SimReply DeleteItem(const nlohmann::json& req, Instant at);
  SimReply Query(const nlohmann::json& req, Instant at);
  SimReply BatchWriteItem(const nlohmann::json& req, Instant at);
  SimReply DescribeTable(const nlohmann::json& req);

  const Expr& Parsed(const std::string& text, int kind);
  Record& RecordFor(const std::pair<std::string, std::string>& key);
  const Record* FindRecord(const std::string& partition, const std::string& key) const;
  void Store(const std::pair<std::string, std::string>& key, std::shared_ptr<const nlohmann::json> item,
             Instant at, std::string_view cause);
  // The instant an eventually consistent read at `at` is served as of.
  Instant ReadInstant(bool consistent, Instant at);

  SimDynamoOptions opts_;
  std::function<double()> uniform01_;
  std::map<std::string, Partition> partitions_;
  std::unordered_map<std::string, std::unique_ptr<Expr>> expr_cache_[3];
  WriteListener listener_;
  uint64_t requests_ = 0;
};

}  // namespace dynatroni::dcs::sim

#endif  // DYNATRONI_DCS_SIM_DYNAMODB_H_
