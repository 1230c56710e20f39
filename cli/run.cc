// RunCli: argument parsing, configuration and dispatch to the subcommands.
#include <unistd.h>

#include <exception>
#include <ostream>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/options.h"

namespace dynatroni::cli {
namespace {

int Usage(std::ostream& err, const std::string& message, const std::vector<std::string>& command) {
  err << "dynatroni: error: " << message << "\n" << UsageFor(command);
  return kExitUsage;
}

int Dispatch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, std::istream& in,
             const Env& env, const CliHooks& hooks) {
  std::vector<std::string> seen;
  auto parsed = ParseArgs(args, &seen);
  if (!parsed.ok()) return Usage(err, parsed.status().message(), seen);
  const Options& o = *parsed;
  if (o.version || (!o.command.empty() && o.command[0] == "version")) {
    out << "dynatroni " << DYNATRONI_VERSION << "\n";
    return kExitOk;
  }
  if (o.help) {
    out << UsageFor(o.command);
    return kExitOk;
  }
  const std::string& cmd = o.command[0];
  if (cmd == "help") {
    std::vector<std::string> topic(o.command.begin() + 1, o.command.end());
    bool partial = topic.size() == 1 && (topic[0] == "table" || topic[0] == "break-glass");
    if (!topic.empty() && !IsKnownCommand(topic) && !partial) {
      return Usage(err, "unknown command '" + topic[0] + "'", {});
    }
    out << UsageFor(topic);
    return kExitOk;
  }
  if (cmd == "cost") return RunCost(o, out, err);

  auto config = ResolveConfig(o, env);
  if (!config.ok()) return Usage(err, config.status().message(), o.command);
  if (cmd == "doctor") return RunDoctor(o, *config, env, out, err, hooks);
  if ((cmd == "status" || cmd == "break-glass") && config->partition.empty()) {
    return Usage(err,
                 "no cluster: give --cluster NAME, -c patroni.yml (its scope) or PATRONI_SCOPE "
                 "(`dynatroni list` shows the clusters in the table)",
                 o.command);
  }
  auto ctx = OpenContext(*config, env, hooks.clock);
  if (!ctx.ok()) {
    if (ctx.status().code() == StatusCode::kInvalidArgument)
      return Usage(err, ctx.status().message(), o.command);
    PrintError(err, ctx.status());
    return ExitCodeFor(ctx.status());
  }
  Context& c = **ctx;
  if (cmd == "table") {
    if (o.command[1] == "create") return RunTableCreate(o, c, out, err);
    return RunTableCheck(o, c, out, err);
  }
  if (cmd == "status") return RunStatus(o, c, out, err, hooks);
  if (cmd == "list") return RunList(o, c, out, err);
  if (cmd == "break-glass") return RunBreakGlass(o, c, out, err, in, env, hooks);
  return Usage(err, "unknown command '" + cmd + "'", {});
}

}  // namespace

int ExitCodeFor(const Status& s) {
  if (s.ok()) return kExitOk;
  return s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitRuntime;
}

void PrintError(std::ostream& err, const Status& s, const std::string& table) {
  err << "dynatroni: error: " << s.message();
  if (!s.aws_error().empty()) err << " [" << s.aws_error() << "]";
  err << "\n";
  switch (s.code()) {
    case StatusCode::kNotFound:
      if (!table.empty()) {
        err << "fix: create the table with `dynatroni table create --table " << table
            << "`, or point --table / dynamodb.table_name at the right one\n";
      }
      break;
    case StatusCode::kPermissionDenied:
      err << "fix: check the credentials (`dynatroni doctor` names their source) and the IAM policy "
             "(docs/cli.md lists the actions the plugin needs)\n";
      break;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      err << "fix: check the endpoint and the network path to DynamoDB (`dynatroni doctor`)\n";
      break;
    default:
      break;
  }
}

std::string WhoAmI(const Env& env) {
  std::string user;
  for (const char* k : {"USER", "LOGNAME"}) {
    auto it = env.find(k);
    if (it != env.end() && !it->second.empty()) {
      user = it->second;
      break;
    }
  }
  if (user.empty()) user = "unknown";
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return user + "@unknown-host";
  return user + "@" + host;
}

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, std::istream& in,
           const Env& env) {
  return RunCli(args, out, err, in, env, CliHooks{});
}

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, std::istream& in,
           const Env& env, const CliHooks& hooks) {
  try {
    return Dispatch(args, out, err, in, env, hooks);
  } catch (const std::exception& e) {
    err << "dynatroni: internal error: " << e.what() << "\n";
    return kExitRuntime;
  }
}

}  // namespace dynatroni::cli
