// File: cli/cli.h
//
// The `dynatroni` command as a library: cli/main.cc forwards argv here, and
// the tests call RunCli in-process with string streams, an environment map
// and (for break-glass and status --watch) a FakeClock.
//
// Exit codes (docs/cli.md):
//   0  success; every check passed (WARN lines do not change it)
//   1  a check failed, or the command refused / was aborted
//   2  usage error: bad argument or configuration (one error line + usage)
//   3  DynamoDB unreachable or another runtime error
//
// Thread-safety: RunCli may be called concurrently with different streams;
// it keeps no global state.
#ifndef DYNATRONI_CLI_CLI_H_
#define DYNATRONI_CLI_CLI_H_

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "core/clock.h"
#include "dcs/config.h"

namespace dynatroni::cli {

using Env = dcs::Env;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitRuntime = 3;

// Test seams. Defaults are what the real command uses.
struct CliHooks {
  // Watching (break-glass), progress timing and sleeps between refreshes
  // (status --watch, table create). nullptr = SystemClock. Deadlines of
  // DynamoDB calls always use the system clock, which the client uses.
  Clock* clock = nullptr;
  // Called by break-glass after each one-second step of its watch, with the
  // time watched so far (tests renew the lease from here).
  std::function<void(Duration watched)> on_watch_tick;
  // Clear the screen between `status --watch` refreshes (main.cc: isatty).
  bool out_is_tty = false;
  // Overrides "$USER@hostname" in break-glass audit items.
  std::string who;
};

// Runs one invocation. `args` excludes the program name.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, std::istream& in,
           const Env& env);
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, std::istream& in,
           const Env& env, const CliHooks& hooks);

}  // namespace dynatroni::cli

#endif  // DYNATRONI_CLI_CLI_H_
