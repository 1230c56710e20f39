// File: cli/commands.h
//
// The subcommands of `dynatroni` (one .cc each) and what they share. Used by
// cli/run.cc and the tests; not a stable API.
//
// Thread-safety: each function works on its own Context.
#ifndef DYNATRONI_CLI_COMMANDS_H_
#define DYNATRONI_CLI_COMMANDS_H_

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/options.h"
#include "core/status.h"
#include "dynamodb/client.h"

namespace dynatroni::cli {

// One verified aspect of the table.
struct TableFinding {
  enum class Level { kOk, kWarn, kProblem };
  Level level = Level::kOk;
  std::string aspect;  // "key schema", "ttl", ...
  std::string detail;  // what was found
  std::string fix;     // how to fix it (warnings and problems)
};

struct TableInspection {  // NOLINT(bugprone-exception-escape): json's noexcept moves are flagged falsely
  dynamodb::TableDescription desc;
  std::string ttl_status;  // ENABLED, DISABLED, ...; "unsupported" when the endpoint lacks the operation
  std::string ttl_attribute;
  std::string pitr_status;  // ENABLED, DISABLED, "unsupported"
  std::vector<TableFinding> findings;
  [[nodiscard]] int problems() const;
  [[nodiscard]] bool key_schema_ok() const;
};

// DescribeTable + DescribeTimeToLive + DescribeContinuousBackups and the
// checks of `table check` (also used by `table create` and `doctor`).
// kNotFound when the table does not exist; other errors as the client's.
Result<TableInspection> InspectTable(dynamodb::Client& client, const std::string& table);

// The exit code for a runtime error (kInvalidArgument = 2, else 3).
int ExitCodeFor(const Status& s);
// "dynatroni: error: <message>" plus a fix hint for the common cases.
void PrintError(std::ostream& err, const Status& s, const std::string& table = "");

// "$USER@hostname" from the environment (or "unknown@host").
std::string WhoAmI(const Env& env);

int RunTableCreate(const Options& opts, Context& ctx, std::ostream& out, std::ostream& err);
int RunTableCheck(const Options& opts, Context& ctx, std::ostream& out, std::ostream& err);
int RunStatus(const Options& opts, Context& ctx, std::ostream& out, std::ostream& err, const CliHooks& hooks);
int RunList(const Options& opts, Context& ctx, std::ostream& out, std::ostream& err);
// Doctor opens the client itself so that a failure to do so is a FAIL line.
int RunDoctor(const Options& opts, const ResolvedConfig& config, const Env& env, std::ostream& out,
              std::ostream& err, const CliHooks& hooks);
int RunBreakGlass(const Options& opts, Context& ctx, std::ostream& out, std::ostream& err, std::istream& in,
                  const Env& env, const CliHooks& hooks);
int RunCost(const Options& opts, std::ostream& out, std::ostream& err);

}  // namespace dynatroni::cli

#endif  // DYNATRONI_CLI_COMMANDS_H_
