// File: dynamodb/client.h
//
// A DynamoDB JSON-protocol client: signs each request (aws/sigv4.h), sends it
// over an http::Transport, retries what is safe to retry inside the caller's
// deadline, and decodes the answer into typed results.
//
// Error model (see docs/errors.md):
//  * A failed ConditionExpression is NOT an error: write calls return
//    WriteResult{condition_failed = true, attributes = the current item when
//    the server returned it (ALL_OLD)}.
//  * Throttling, 5xx and network errors are retried with capped exponential
//    backoff and full jitter until the deadline. If they persist: kUnavailable
//    (nothing was applied, or a read) or kUnknownOutcome (a write was sent at
//    least once and never answered definitively).
//  * WriteResult::ambiguous_attempt is set when an earlier attempt of this
//    write had an unknown outcome and a retry produced the final answer; a
//    condition failure then may be caused by our own earlier attempt, so the
//    caller must resolve it from `attributes` or a consistent re-read. An
//    answer the transport got by re-sending the request on a fresh connection
//    (http::Response::resent) counts the same: its first copy may have been
//    applied, even when the answer itself is definitive.
//  * Validation (kInvalidArgument), access (kPermissionDenied) and not-found
//    (kNotFound) errors surface at once with DynamoDB's message.
//  * Malformed responses (bad JSON, truncated body, x-amz-crc32 mismatch):
//    retried like a 5xx while the deadline allows; for a write they count as
//    ambiguous (the server may have applied it). Reads that never get a good
//    answer end with kMalformedResponse.
//  * If an earlier attempt of a write was ambiguous, any final error other
//    than a definitive answer (success, condition failure, transaction
//    cancelled) is reported as kUnknownOutcome.
//
// Thread-safety: Client is safe for concurrent use by many threads.
#ifndef DYNATRONI_DYNAMODB_CLIENT_H_
#define DYNATRONI_DYNAMODB_CLIENT_H_

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "core/clock.h"
#include "core/status.h"
#include "dynamodb/attribute_value.h"
#include "http/endpoint.h"
#include "http/transport.h"

namespace dynatroni::dynamodb {

namespace internal {
struct ClientJsonAccess;
}  // namespace internal

struct RetryPolicy {
  int max_attempts = 8;  // total, including the first
  Duration base_delay = std::chrono::milliseconds(25);
  Duration throttle_base_delay = std::chrono::milliseconds(100);
  Duration max_delay = std::chrono::seconds(1);
  // Never start an attempt with less than this left before the deadline.
  Duration min_attempt_time = std::chrono::milliseconds(50);
  // Upper bound of one attempt (the transport gets min(deadline, now + this)),
  // so one hung connection cannot eat the whole deadline. Zero = no bound.
  Duration attempt_timeout = std::chrono::seconds(10);
  // Besides, an attempt gets at most half of the time the call had when it
  // started, but never less than this: with Patroni's retry_timeout as the
  // deadline, a request hung on a dead keep-alive connection still leaves time
  // for a retry on a new one (Patroni's etcd client splits retry_timeout alike).
  // Zero = no such split. Ignored when attempt_timeout is zero.
  Duration min_split_attempt_timeout = std::chrono::seconds(1);
};

struct ClientOptions {
  std::string region;    // required
  std::string endpoint;  // scheme://host[:port]
  // The endpoint already parsed (aws::ResolveEndpoint's `parsed`): used as is,
  // `endpoint` then only names it. Unset: Create parses `endpoint`.
  std::optional<http::Endpoint> parsed_endpoint;
  // The SigV4 service requests are signed for (aws::Endpoint::signing_service).
  std::string signing_service = "dynamodb";
  std::shared_ptr<aws::CredentialsProvider> credentials;  // required
  std::shared_ptr<http::Transport> transport;             // required
  Clock* clock = nullptr;                                 // default: SystemClock
  Random* random = nullptr;                               // default: SystemRandom
  RetryPolicy retry;
  // Verify the x-amz-crc32 header when present (retry reads on mismatch).
  bool verify_crc32 = true;
};

// Upper bounds (seconds, ascending) of the call-latency histogram's buckets;
// a last bucket above them (Prometheus' le="+Inf") is implicit. Fixed, so
// every node's histograms add up.
inline constexpr std::array<double, 13> kLatencyBucketBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                1,     2.5,  5,     10,   20,  60};

// Latencies of whole calls (every attempt and backoff of one operation call).
struct LatencyHistogram {
  // counts[i]: calls with latency <= kLatencyBucketBounds[i] and above the
  // bound before (NOT cumulative); counts.back(): above the last bound.
  std::array<uint64_t, kLatencyBucketBounds.size() + 1> counts{};
  double sum_seconds = 0;
  uint64_t count = 0;
  void Observe(double seconds);
};

// Per-request counters, for benchmarks, `dynatroni cost` and the Prometheus
// metrics (python/dynatroni/metrics.py). Counters only grow.
struct ClientStats {
  std::map<std::string, uint64_t> requests_by_operation;  // attempts sent
  uint64_t retries = 0;           // backoff sleeps taken (incl. UnprocessedItems rounds)
  uint64_t throttles = 0;         // throttling answers (incl. UnprocessedItems rounds)
  uint64_t unknown_outcomes = 0;  // write attempts whose outcome was unknown
  // Calls (one per operation call, whatever its attempts) by {operation,
  // outcome}. Outcome: "success"; "condition_failed" (a failed
  // ConditionExpression or a cancelled transaction: a definitive answer); or
  // the final error's StatusCode in snake case ("unavailable",
  // "unknown_outcome", "deadline_exceeded", "permission_denied", "not_found",
  // "invalid_argument", "malformed_response", "failed_precondition",
  // "internal"). See CallOutcomeLabel.
  std::map<std::pair<std::string, std::string>, uint64_t> calls;
  std::map<std::string, LatencyHistogram> latency_by_operation;  // per call, on the client's Clock
  // Sum of ConsumedCapacity.CapacityUnits in 2xx answers that carry it (the
  // top-level member: an object, or a list of them), by operation; an
  // operation is present once an answer carried it. GetItem, PutItem,
  // UpdateItem, DeleteItem, Query, BatchWriteItem and TransactWriteItems ask
  // for it (ReturnConsumedCapacity TOTAL); error answers (a failed condition
  // included) are not counted.
  std::map<std::string, double> consumed_capacity_by_operation;
};

// The `outcome` label of a finished call: "success" for OK, "condition_failed"
// when `condition_failed`, else the status code in snake case.
std::string CallOutcomeLabel(const Status& status, bool condition_failed);

struct ExpressionParts {
  std::string condition;                         // ConditionExpression (or KeyConditionExpression for Query)
  std::map<std::string, std::string> names;      // "#k" -> "key"
  std::map<std::string, AttributeValue> values;  // ":v" -> value
};

enum class ReturnValues { kNone, kAllOld, kAllNew, kUpdatedOld, kUpdatedNew };

struct GetItemRequest {
  std::string table;
  Item key;
  bool consistent_read = true;
  std::string projection;  // optional ProjectionExpression
  std::map<std::string, std::string> names;
};
struct GetItemResult {
  std::optional<Item> item;  // nullopt when absent
};

struct PutItemRequest {
  std::string table;
  Item item;
  ExpressionParts condition;                         // condition.condition empty = unconditional
  ReturnValues return_values = ReturnValues::kNone;  // kNone or kAllOld
  bool return_old_on_condition_failure = true;       // ReturnValuesOnConditionCheckFailure=ALL_OLD
};

struct UpdateItemRequest {
  std::string table;
  Item key;
  std::string update_expression;
  ExpressionParts condition;  // names/values shared with the update expression
  ReturnValues return_values = ReturnValues::kNone;
  bool return_old_on_condition_failure = true;
};

struct DeleteItemRequest {
  std::string table;
  Item key;
  ExpressionParts condition;
  ReturnValues return_values = ReturnValues::kNone;
  bool return_old_on_condition_failure = true;
};

struct WriteResult {
  bool condition_failed = false;
  // ReturnValues on success, or the current item on condition failure when
  // the server sent it (moto does; dynalite does not).
  std::optional<Item> attributes;
  bool ambiguous_attempt = false;
};

struct QueryRequest {
  std::string table;
  ExpressionParts key_condition;
  std::string filter_expression;  // uses key_condition.names/values
  bool consistent_read = true;
  int page_limit = 0;  // Limit per page; 0 = server default (1 MB)
  bool scan_forward = true;
};
struct QueryResult {
  std::vector<Item> items;  // every page, in order
  int pages = 0;
};

struct BatchWriteRequest {
  std::string table;
  std::vector<Item> puts;
  std::vector<Item> delete_keys;
};

struct TransactWriteAction {
  enum class Kind { kPut, kUpdate, kDelete, kConditionCheck } kind = Kind::kPut;
  std::string table;
  Item item_or_key;
  std::string update_expression;
  ExpressionParts condition;
  bool return_old_on_condition_failure = true;
};
struct TransactWriteResult {
  bool cancelled = false;
  // One reason per action when cancelled ("None", "ConditionalCheckFailed", ...).
  std::vector<std::string> cancellation_codes;
  std::vector<std::optional<Item>> cancellation_items;
  bool ambiguous_attempt = false;
};

struct KeySchemaElement {
  std::string name;
  std::string key_type;
};  // HASH/RANGE
struct AttributeDefinition {
  std::string name;
  std::string type;
};  // S/N/B

struct CreateTableRequest {
  std::string table;
  std::vector<KeySchemaElement> key_schema;
  std::vector<AttributeDefinition> attributes;
  bool on_demand = true;
  int64_t read_capacity = 0, write_capacity = 0;  // when !on_demand
  bool deletion_protection = false;
};

struct TableDescription {
  std::string name;
  std::string status;  // CREATING, ACTIVE, ...
  std::vector<KeySchemaElement> key_schema;
  std::vector<AttributeDefinition> attributes;
  std::string billing_mode;  // PAY_PER_REQUEST or PROVISIONED
  int64_t item_count = 0;
  bool deletion_protection = false;
  std::vector<std::string> replica_regions;
  std::string multi_region_consistency;  // "STRONG", "EVENTUAL" or empty
  std::string raw;                       // the whole Table object, as JSON text (client_json.h: RawTable)
};

struct TimeToLiveDescription {
  std::string status;  // ENABLED, DISABLED, ENABLING, DISABLING
  std::string attribute;
};

class Client {
 public:
  // Errors: kInvalidArgument when a required option is missing (region,
  // endpoint as http(s)://host[:port], credentials, transport) or the retry
  // policy is unusable.
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);

  Result<GetItemResult> GetItem(const GetItemRequest& req, Deadline deadline);
  Result<WriteResult> PutItem(const PutItemRequest& req, Deadline deadline);
  Result<WriteResult> UpdateItem(const UpdateItemRequest& req, Deadline deadline);
  Result<WriteResult> DeleteItem(const DeleteItemRequest& req, Deadline deadline);
  // Follows LastEvaluatedKey until the last page (all within `deadline`).
  Result<QueryResult> Query(const QueryRequest& req, Deadline deadline);
  // Splits into 25-item batches and retries UnprocessedItems with backoff.
  Status BatchWriteItem(const BatchWriteRequest& req, Deadline deadline);
  // An empty `client_request_token` gets a random one, so retries of an
  // ambiguous attempt are idempotent on the service (10 minutes).
  Result<TransactWriteResult> TransactWriteItems(const std::vector<TransactWriteAction>& actions,
                                                 const std::string& client_request_token, Deadline deadline);
  Result<TableDescription> DescribeTable(const std::string& table, Deadline deadline);
  // Polls DescribeTable every `poll` until TableStatus is ACTIVE.
  // kDeadlineExceeded (naming the last status) when the deadline passes first.
  Result<TableDescription> WaitUntilActive(const std::string& table, Deadline deadline,
                                           Duration poll = std::chrono::milliseconds(100));
  Result<TableDescription> CreateTable(const CreateTableRequest& req, Deadline deadline);
  Status DeleteTable(const std::string& table, Deadline deadline);
  Status UpdateTimeToLive(const std::string& table, const std::string& attribute, bool enabled,
                          Deadline deadline);
  Result<TimeToLiveDescription> DescribeTimeToLive(const std::string& table, Deadline deadline);

  // A JSON-level call of any operation: Call in dynamodb/client_json.h.

  [[nodiscard]] ClientStats stats() const;
  [[nodiscard]] const std::string& region() const;
  [[nodiscard]] const std::string& endpoint() const;
  // Observed offset of AWS's clock from ours (from Date headers).
  [[nodiscard]] Duration clock_skew() const;
  // The provider every attempt resolves credentials from (ClientOptions::credentials).
  [[nodiscard]] const std::shared_ptr<aws::CredentialsProvider>& credentials() const;

  ~Client();

 private:
  class Impl;
  friend struct internal::ClientJsonAccess;  // client_json.h
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Table names: 3-255 chars of [A-Za-z0-9_.-]. kInvalidArgument naming the fix.
Status ValidateTableName(const std::string& table);

}  // namespace dynatroni::dynamodb

#endif  // DYNATRONI_DYNAMODB_CLIENT_H_
