// File: dynamodb/client_json.h
//
// The JSON-level side of dynamodb::Client, for callers that need raw JSON
// (tests, tools): any JSON-protocol operation with the client's retry and
// deadline handling, and a table description's whole Table object. Kept out
// of dynamodb/client.h so that nlohmann::json stays out of the public API.
//
// Thread-safety: as Client (safe for concurrent use); RawTable is pure.
#ifndef DYNATRONI_DYNAMODB_CLIENT_JSON_H_
#define DYNATRONI_DYNAMODB_CLIENT_JSON_H_

#include <string>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/status.h"
#include "dynamodb/client.h"

namespace dynatroni::dynamodb {

namespace internal {
struct ClientJsonAccess {
  static Result<nlohmann::json> Call(Client& client, const std::string& operation, const nlohmann::json& body,
                                     bool is_write, Deadline deadline, bool* ambiguous);
};
}  // namespace internal

// Low level: one JSON-protocol operation of `client` with the full
// retry/deadline handling. `is_write` selects unknown-outcome reporting. A
// condition failure / cancelled transaction comes back as kFailedPrecondition
// with aws_error() set (the typed calls of Client turn them into results).
// `ambiguous` (optional) is set when some attempt had an unknown outcome.
inline Result<nlohmann::json> Call(Client& client, const std::string& operation, const nlohmann::json& body,
                                   bool is_write, Deadline deadline, bool* ambiguous = nullptr) {
  return internal::ClientJsonAccess::Call(client, operation, body, is_write, deadline, ambiguous);
}

// The whole Table object `table` was read from (TableDescription::raw),
// parsed; a discarded value (is_discarded()) when `raw` is not JSON.
inline nlohmann::json RawTable(const TableDescription& table) {
  return nlohmann::json::parse(table.raw, nullptr, false);
}

}  // namespace dynatroni::dynamodb

#endif  // DYNATRONI_DYNAMODB_CLIENT_JSON_H_
