#include "cli/options.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "aws/endpoint.h"

namespace dynatroni::cli {
namespace {

enum class Arity { kNone, kOne, kTwo, kOptionalNumber };

struct FlagSpec {
  const char* name;  // long name without dashes
  char short_name;   // 0 = none
  Arity arity;
  // Space-separated command ids ("table-create status ...") or "*".
  const char* commands;
};

// Command ids: table-create table-check status list doctor break-glass cost.
constexpr char kConfigCommands[] = "table-create table-check status list doctor break-glass";

const FlagSpec kFlags[] = {
    {"help", 'h', Arity::kNone, "*"},
    {"version", 0, Arity::kNone, "*"},
    {"json", 0, Arity::kNone, "table-check status list doctor cost"},
    {"config", 'c', Arity::kOne, kConfigCommands},
    {"table", 0, Arity::kOne, kConfigCommands},
    {"region", 0, Arity::kOne, kConfigCommands},
    {"endpoint-url", 0, Arity::kOne, kConfigCommands},
    {"profile", 0, Arity::kOne, kConfigCommands},
    {"failover-time", 0, Arity::kOne, "table-create table-check status list doctor break-glass cost"},
    {"cluster", 0, Arity::kOne, "status doctor break-glass"},
    {"namespace", 0, Arity::kOne, "status doctor break-glass"},
    {"group", 0, Arity::kOne, "status break-glass"},
    {"provisioned", 0, Arity::kTwo, "table-create"},
    {"pitr", 0, Arity::kNone, "table-create"},
    {"deletion-protection", 0, Arity::kNone, "table-create"},
    {"wait-timeout", 0, Arity::kOne, "table-create"},
    {"watch", 'w', Arity::kOptionalNumber, "status"},
    {"count", 0, Arity::kOne, "status"},
    {"member", 0, Arity::kOne, "break-glass"},
    {"reason", 0, Arity::kOne, "break-glass"},
    {"yes", 'y', Arity::kNone, "break-glass"},
    {"nodes", 0, Arity::kOne, "cost"},
    {"clusters", 0, Arity::kOne, "cost"},
    {"price-read", 0, Arity::kOne, "cost"},
    {"price-write", 0, Arity::kOne, "cost"},
    {"price-rcu-hour", 0, Arity::kOne, "cost"},
    {"price-wcu-hour", 0, Arity::kOne, "cost"},
    {"partition-kb", 0, Arity::kOne, "cost"},
    {"member-kb", 0, Arity::kOne, "cost"},
    {"status-writes", 0, Arity::kOne, "cost"},
    {"switchover-poll-interval", 0, Arity::kOne, "cost"},
    {"headroom", 0, Arity::kOne, "cost"},
};

const FlagSpec* FindFlag(const std::string& name) {
  for (const auto& f : kFlags) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

const FlagSpec* FindShort(char c) {
  for (const auto& f : kFlags) {
    if (f.short_name != 0 && f.short_name == c) return &f;
  }
  return nullptr;
}

std::string CommandId(const std::vector<std::string>& command) {
  if (command.empty()) return "";
  if (command[0] == "table" && command.size() > 1) return "table-" + command[1];
  return command[0];
}

std::string CommandText(const std::vector<std::string>& command) {
  std::string s = "dynatroni";
  for (const auto& c : command) s += " " + c;
  return s;
}

bool Allowed(const FlagSpec& f, const std::string& id) {
  if (std::string(f.commands) == "*") return true;
  std::stringstream ss(f.commands);
  std::string c;
  while (ss >> c) {
    if (c == id) return true;
  }
  return false;
}

bool LooksLikeNumber(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end != nullptr && *end == '\0';
}

constexpr double kMaxSeconds = 86400;         // as dynamodb.* durations in patroni.yml (dcs/config.cc)
constexpr int64_t kMaxCapacityUnits = 40000;  // DynamoDB's default per-table capacity quota

// `max` keeps values that later become durations or counts far from overflow.
Result<double> ParseNumber(const std::string& flag, const std::string& text, double min, bool min_inclusive,
                           const char* what, double max) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0' || !std::isfinite(v) || v < min ||
      (!min_inclusive && v == min) || v > max) {
    return InvalidArgument("--" + flag + ": expected " + what + ", got '" + text + "'");
  }
  return v;
}

Result<int64_t> ParseInt(const std::string& flag, const std::string& text, int64_t min, int64_t max) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || errno != 0 || v < min || v > max) {
    return InvalidArgument("--" + flag + ": expected a whole number from " + std::to_string(min) + " to " +
                           std::to_string(max) + ", got '" + text + "'");
  }
  return static_cast<int64_t>(v);
}

const std::set<std::string>& KnownCommandIds() {
  static const std::set<std::string> ids = {"table-create", "table-check", "status", "list",   "doctor",
                                            "break-glass",  "cost",        "help",   "version"};
  return ids;
}

}  // namespace

bool IsKnownCommand(const std::vector<std::string>& command) {
  if (command.empty()) return false;
  if (command[0] == "table") return command.size() == 2 && (command[1] == "create" || command[1] == "check");
  if (command[0] == "break-glass") return command.size() == 2 && command[1] == "promote";
  if (command[0] == "help") return true;
  return command.size() == 1 && KnownCommandIds().count(command[0]) > 0;
}

Result<Options> ParseArgs(const std::vector<std::string>& args, std::vector<std::string>* command_seen) {
  Options o;
  std::vector<std::pair<const FlagSpec*, std::vector<std::string>>> given;
  std::vector<std::string>& cmd = o.command;
  auto report = [&](Status s) -> Result<Options> {
    if (command_seen) *command_seen = cmd;
    return s;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() >= 2 && a[0] == '-' && !(a.size() > 1 && std::isdigit(static_cast<unsigned char>(a[1])))) {
      std::string name;
      std::optional<std::string> inline_value;
      const FlagSpec* spec = nullptr;
      if (a.rfind("--", 0) == 0) {
        name = a.substr(2);
        if (auto eq = name.find('='); eq != std::string::npos) {
          inline_value = name.substr(eq + 1);
          name = name.substr(0, eq);
        }
        spec = FindFlag(name);
      } else if (a.size() == 2) {
        spec = FindShort(a[1]);
        if (spec) name = spec->name;
      }
      if (spec == nullptr) return report(InvalidArgument("unknown option '" + a + "'"));
      std::vector<std::string> values;
      switch (spec->arity) {
        case Arity::kNone:
          if (inline_value) return report(InvalidArgument("--" + name + " takes no value"));
          break;
        case Arity::kOne:
          if (inline_value) {
            values.push_back(*inline_value);
          } else if (i + 1 < args.size()) {
            values.push_back(args[++i]);
          } else {
            return report(InvalidArgument("--" + name + " needs a value"));
          }
          break;
        case Arity::kTwo:
          if (inline_value || i + 2 >= args.size()) {
            return report(InvalidArgument("--" + name + " needs two values (e.g. --provisioned 5 5)"));
          }
          values.push_back(args[++i]);
          values.push_back(args[++i]);
          break;
        case Arity::kOptionalNumber:
          if (inline_value) {
            values.push_back(*inline_value);
          } else if (i + 1 < args.size() && LooksLikeNumber(args[i + 1])) {
            values.push_back(args[++i]);
          }
          break;
      }
      given.emplace_back(spec, std::move(values));
      continue;
    }
    // A positional word: the command path.
    if (cmd.empty()) {
      cmd.push_back(a);
      if (!KnownCommandIds().count(a) && a != "table" && a != "break-glass") {
        cmd.clear();
        return report(InvalidArgument("unknown command '" + a + "'"));
      }
    } else if (cmd[0] == "help") {
      cmd.push_back(a);
    } else if ((cmd[0] == "table" || cmd[0] == "break-glass") && cmd.size() == 1) {
      cmd.push_back(a);
      if (!IsKnownCommand(cmd)) {
        cmd.pop_back();
        return report(InvalidArgument("unknown subcommand '" + a + "' of `dynatroni " + cmd[0] + "`"));
      }
    } else {
      return report(InvalidArgument("unexpected argument '" + a + "'"));
    }
  }
  // --help / --version win over everything else.
  for (const auto& [spec, values] : given) {
    if (std::string(spec->name) == "help") o.help = true;
    if (std::string(spec->name) == "version") o.version = true;
  }
  if (o.help || o.version) {
    if (command_seen) *command_seen = cmd;
    return o;
  }
  if (cmd.empty()) return report(InvalidArgument("no command given"));
  if ((cmd[0] == "table" || cmd[0] == "break-glass") && cmd.size() == 1) {
    return report(InvalidArgument("`dynatroni " + cmd[0] + "` needs a subcommand"));
  }
  std::string id = CommandId(cmd);
  if (id == "break-glass-promote") id = "break-glass";
  for (const auto& [spec, values] : given) {
    if (!Allowed(*spec, id)) {
      return report(InvalidArgument("--" + std::string(spec->name) + " is not an option of `" +
                                    CommandText(cmd) + "`"));
    }
    const std::string n = spec->name;
    const std::string v = values.empty() ? "" : values[0];
    auto num = [&](double min, bool inclusive, const char* what, double max) {
      return ParseNumber(n, v, min, inclusive, what, max);
    };
    if (n == "json") {
      o.json = true;
    } else if (n == "config") {
      o.config_file = v;
    } else if (n == "table") {
      o.table = v;
    } else if (n == "region") {
      o.region = v;
    } else if (n == "endpoint-url") {
      o.endpoint_url = v;
    } else if (n == "profile") {
      o.profile = v;
    } else if (n == "cluster") {
      if (v.empty()) return report(InvalidArgument("--cluster: expected the Patroni scope, got ''"));
      o.cluster = v;
    } else if (n == "namespace") {
      o.ns = v;
    } else if (n == "failover-time") {
      auto f = num(0, false, "a number of seconds (9 to 86400)", kMaxSeconds);
      if (!f.ok()) return report(f.status());
      auto t = dcs::Timing::FromFailoverTime(
          std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*f)));
      if (!t.ok()) return report(InvalidArgument("--failover-time: " + t.status().message()));
      o.failover_time_s = *f;
    } else if (n == "group") {
      auto g = ParseInt(n, v, 0, 2147483647);
      if (!g.ok()) return report(g.status());
      o.group = *g;
    } else if (n == "provisioned") {
      auto r = ParseInt(n, values[0], 1, kMaxCapacityUnits);
      if (!r.ok()) {
        return report(InvalidArgument(
            "--provisioned RCU WCU: RCU must be a whole number from 1 to 40000, got '" + values[0] + "'"));
      }
      auto w = ParseInt(n, values[1], 1, kMaxCapacityUnits);
      if (!w.ok()) {
        return report(InvalidArgument(
            "--provisioned RCU WCU: WCU must be a whole number from 1 to 40000, got '" + values[1] + "'"));
      }
      o.provisioned = std::make_pair(*r, *w);
    } else if (n == "pitr") {
      o.pitr = true;
    } else if (n == "deletion-protection") {
      o.deletion_protection = true;
    } else if (n == "wait-timeout") {
      auto t = num(0, false, "a positive number of seconds (at most 86400)", kMaxSeconds);
      if (!t.ok()) return report(t.status());
      o.wait_timeout_s = *t;
    } else if (n == "watch") {
      if (v.empty()) {
        o.watch_s = 2.0;
      } else {
        auto t = num(0.1, true, "a refresh interval of 0.1 to 86400 seconds", kMaxSeconds);
        if (!t.ok()) return report(t.status());
        o.watch_s = *t;
      }
    } else if (n == "count") {
      auto c = ParseInt(n, v, 1, 1'000'000'000);
      if (!c.ok()) return report(c.status());
      o.count = *c;
    } else if (n == "member") {
      if (v.empty()) return report(InvalidArgument("--member: expected the Patroni member name, got ''"));
      o.member = v;
    } else if (n == "reason") {
      o.reason = v;
    } else if (n == "yes") {
      o.yes = true;
    } else if (n == "nodes") {
      auto c = ParseInt(n, v, 1, 1000);
      if (!c.ok()) return report(c.status());
      o.nodes = *c;
    } else if (n == "clusters") {
      auto c = ParseInt(n, v, 1, 1'000'000);
      if (!c.ok()) return report(c.status());
      o.clusters = *c;
    } else if (n == "price-read" || n == "price-write" || n == "price-rcu-hour" || n == "price-wcu-hour") {
      auto p = num(0, true, "a price in dollars (0 to 1000000)", 1e6);
      if (!p.ok()) return report(p.status());
      double& dst = n == "price-read"       ? o.price_read
                    : n == "price-write"    ? o.price_write
                    : n == "price-rcu-hour" ? o.price_rcu_hour
                                            : o.price_wcu_hour;
      dst = *p;
    } else if (n == "partition-kb" || n == "member-kb") {
      auto p = num(0, false, "a size in KB (more than 0, at most 1000000)", 1e6);
      if (!p.ok()) return report(p.status());
      if (n == "partition-kb") {
        o.partition_kb = *p;
      } else {
        o.member_kb = *p;
      }
    } else if (n == "status-writes") {
      auto p = num(0, true, "a fraction between 0 and 1", 1);
      if (!p.ok() || *p > 1) {
        return report(
            InvalidArgument("--status-writes: expected a fraction between 0 and 1, got '" + v + "'"));
      }
      o.status_writes = *p;
    } else if (n == "switchover-poll-interval") {
      auto p = num(0, true, "seconds (0 = off, at most 86400)", kMaxSeconds);
      if (!p.ok()) return report(p.status());
      o.switchover_poll_interval_s = *p;
    } else if (n == "headroom") {
      auto p = num(1, true, "a factor from 1 to 100", 100);
      if (!p.ok()) return report(p.status());
      o.headroom = *p;
    }
  }
  // Required flags.
  if (id == "break-glass") {
    if (!o.cluster) return report(InvalidArgument("--cluster NAME is required (the Patroni scope)"));
    if (o.member.empty()) return report(InvalidArgument("--member NODE is required (the member to promote)"));
    if (o.reason.empty()) {
      return report(InvalidArgument("--reason TEXT is required (it goes into the audit item)"));
    }
  }
  if (id == "cost") {
    if (!o.failover_time_s) return report(InvalidArgument("--failover-time SECONDS is required"));
    if (!o.nodes) return report(InvalidArgument("--nodes N is required (Patroni nodes per cluster)"));
  }
  if (o.count > 0 && !o.watch_s) return report(InvalidArgument("--count only applies with --watch"));
  if (command_seen) *command_seen = cmd;
  return o;
}

std::string UsageFor(const std::vector<std::string>& command) {
  static const char kConfigHelp[] =
      "Configuration (later wins): -c patroni.yml (its dynamodb: section, scope, namespace),\n"
      "PATRONI_DYNAMODB_* / PATRONI_SCOPE / PATRONI_NAMESPACE and AWS_* environment variables, then flags:\n"
      "  -c, --config FILE       a Patroni YAML file\n"
      "  --table NAME            DynamoDB table (default: patroni)\n"
      "  --region REGION         AWS Region\n"
      "  --endpoint-url URL      DynamoDB endpoint (local servers, VPC endpoints)\n"
      "  --profile NAME          AWS profile for credentials\n";
  static const char kExit[] =
      "Exit codes: 0 ok, 1 check failed / refused, 2 usage error, 3 DynamoDB unreachable or runtime error.\n";
  std::string id = CommandId(command);
  std::string s;
  if (id == "table-create") {
    s = "usage: dynatroni table create [--provisioned RCU WCU] [--pitr] [--deletion-protection]\n"
        "                              [--wait-timeout SECONDS] [config flags]\n"
        "Creates the Dynatroni table (cluster_name S HASH, key S RANGE), on-demand unless --provisioned,\n"
        "with TTL on `ttl`, and waits until it is ACTIVE. Re-running on a correct table changes nothing.\n"
        "  --provisioned RCU WCU   provisioned capacity instead of on-demand\n"
        "  --pitr                  enable point-in-time recovery\n"
        "  --deletion-protection   enable deletion protection\n"
        "  --wait-timeout SECONDS  how long to wait for ACTIVE (default 300)\n";
    s += kConfigHelp;
  } else if (id == "table-check") {
    s = "usage: dynatroni table check [--json] [config flags]\n"
        "Verifies key schema and types, TTL, billing mode, point-in-time recovery and global-table "
        "replicas;\n"
        "prints what is wrong and how to fix it. Exit 1 when there is a problem.\n";
    s += kConfigHelp;
  } else if (id == "status") {
    s = "usage: dynatroni status [--cluster NAME] [--namespace NS] [--group N] [--json]\n"
        "                        [--watch [SECONDS] [--count N]] [--failover-time S] [config flags]\n"
        "Leader, term, lease as this observer sees it, members, config/sync/failover/initialize and\n"
        "leftovers of one Patroni cluster (one strongly consistent Query).\n"
        "  --cluster NAME          the Patroni scope (default: scope of -c / PATRONI_SCOPE)\n"
        "  --namespace NS          the Patroni namespace (default /service/)\n"
        "  --group N               MPP (Citus) group\n"
        "  --watch [SECONDS]       refresh every SECONDS (default 2); lease ages become observed ages\n"
        "  --count N               stop after N refreshes\n";
    s += kConfigHelp;
  } else if (id == "list") {
    s = "usage: dynatroni list [--json] [config flags]\n"
        "The clusters in the table (a Scan), with their leader and member count.\n";
    s += kConfigHelp;
  } else if (id == "doctor") {
    s = "usage: dynatroni doctor [--cluster NAME] [--json] [config flags]\n"
        "Checks credentials, region, endpoint latency, table schema and TTL, the permissions the plugin\n"
        "needs (harmless probes that write nothing), clock offset and global-table consistency.\n"
        "One line per check: PASS, WARN or FAIL with the fix. Exit 1 when a check fails.\n";
    s += kConfigHelp;
  } else if (id == "break-glass" || id == "break-glass-promote") {
    s = "usage: dynatroni break-glass promote --cluster NAME --member NODE --reason TEXT [--yes]\n"
        "                                     [--namespace NS] [--group N] [--failover-time S] [config "
        "flags]\n"
        "Emergency only, when the leader lease is stuck and its holder is known to be dead: watches the\n"
        "lease for a full TTL and refuses if it is renewed; writes an audit item; removes the lease only\n"
        "at the version it watched; sets Patroni's failover key so NODE takes over. See\n"
        "docs/runbook-break-glass.md.\n"
        "  --yes                   do not ask for confirmation\n";
    s += kConfigHelp;
  } else if (id == "cost") {
    s = "usage: dynatroni cost --failover-time SECONDS --nodes N [--clusters C] [--json]\n"
        "                      [--price-read X] [--price-write Y] [--price-rcu-hour X] [--price-wcu-hour Y]\n"
        "                      [--partition-kb KB] [--member-kb KB] [--status-writes F] [--headroom H]\n"
        "                      [--switchover-poll-interval S]\n"
        "DynamoDB requests per minute and dollars per month of the plugin's request pattern.\n"
        "  --failover-time S       Patroni ttl; loop_wait = S/3\n"
        "  --nodes N               Patroni nodes per cluster\n"
        "  --clusters C            clusters sharing the table (default 1)\n"
        "  --price-read X          $ per million read request units (default 0.125, us-east-1 on-demand)\n"
        "  --price-write Y         $ per million write request units (default 0.625)\n"
        "  --price-rcu-hour X      $ per provisioned RCU-hour (default 0.00013)\n"
        "  --price-wcu-hour Y      $ per provisioned WCU-hour (default 0.00065)\n"
        "  --partition-kb KB       size of one cluster's items (default 2 + member-kb x nodes)\n"
        "  --member-kb KB          size of one member item (default 0.5)\n"
        "  --status-writes F       fraction of leader loops that write `status` (default 1: busy primary)\n"
        "  --headroom H            provisioned capacity = average x H (default 1.5)\n"
        "  --switchover-poll-interval S  the plugin's switchover_poll_interval (default 4; 0 = off)\n";
  } else {
    s = "usage: dynatroni <command> [options]\n"
        "Commands:\n"
        "  table create            create the DynamoDB table (idempotent)\n"
        "  table check             verify an existing table\n"
        "  status                  one cluster: leader, lease, members, keys, leftovers\n"
        "  list                    the clusters in the table\n"
        "  doctor                  check credentials, endpoint, table, permissions, clock, consistency\n"
        "  break-glass promote     emergency: replace a stuck lease whose holder is dead\n"
        "  cost                    requests per minute and dollars per month\n"
        "  help [COMMAND]          usage of a command\n"
        "Global: -h/--help, --version, --json (reading commands).\n";
  }
  s += kExit;
  return s;
}

Result<PatroniFile> ParsePatroniYaml(const std::string& text, const std::string& origin) {
  PatroniFile out;
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return InvalidArgument(origin + ": expected a YAML mapping (a Patroni configuration)");
    auto scalar = [&](const char* key) -> std::string {
      YAML::Node n = root[key];
      return n && n.IsScalar() ? n.as<std::string>() : std::string();
    };
    out.scope = scalar("scope");
    out.ns = scalar("namespace");
    out.name = scalar("name");
    YAML::Node d = root["dynamodb"];
    if (!d || d.IsNull()) {
      return InvalidArgument(origin +
                             ": no `dynamodb:` section: this Patroni configuration does not use Dynatroni");
    }
    if (!d.IsMap()) return InvalidArgument(origin + ": `dynamodb:` must be a mapping of settings");
    static const std::set<std::string> kPatroniKeys = {"namespace",  "name", "scope",         "loop_wait",
                                                       "patronictl", "ttl",  "retry_timeout", "group"};
    for (const auto& kv : d) {
      std::string k = kv.first.as<std::string>();
      if (kPatroniKeys.count(k) || !kv.second.IsScalar()) continue;
      out.dynamodb[k] = kv.second.as<std::string>();
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(origin + ": not valid YAML: " + std::string(e.what()));
  }
  return out;
}

Result<ResolvedConfig> ResolveConfig(const Options& opts, const Env& env_in) {
  ResolvedConfig rc;
  std::map<std::string, std::string> section;
  std::string file_label;
  if (!opts.config_file.empty()) {
    std::ifstream f(opts.config_file);
    if (!f) {
      return InvalidArgument("-c " + opts.config_file +
                             ": cannot read the file: give the path of patroni.yml");
    }
    std::stringstream ss;
    ss << f.rdbuf();
    DYNATRONI_ASSIGN_OR_RETURN(PatroniFile pf, ParsePatroniYaml(ss.str(), opts.config_file));
    section = pf.dynamodb;
    rc.scope = pf.scope;
    rc.ns = pf.ns;
    if (!rc.scope.empty()) rc.cluster_source = "scope in " + opts.config_file;
    file_label = opts.config_file;
  }
  Env env = env_in;
  auto env_value = [&](const std::string& k) -> std::string {
    auto it = env.find(k);
    return it == env.end() ? std::string() : it->second;
  };
  if (!env_value("PATRONI_SCOPE").empty()) {
    rc.scope = env_value("PATRONI_SCOPE");
    rc.cluster_source = "PATRONI_SCOPE";
  }
  if (!env_value("PATRONI_NAMESPACE").empty()) rc.ns = env_value("PATRONI_NAMESPACE");
  // Flags win: put them in the section and hide the environment variables
  // that ParseDcsConfig would otherwise layer over them.
  auto flag = [&](const std::optional<std::string>& v, const char* key) {
    if (!v) return;
    section[key] = *v;
    std::string upper = key;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    env.erase("PATRONI_DYNAMODB_" + upper);
  };
  flag(opts.table, "table_name");
  flag(opts.region, "region");
  flag(opts.endpoint_url, "endpoint_url");
  flag(opts.profile, "profile");
  if (opts.failover_time_s) {
    std::ostringstream s;
    s << *opts.failover_time_s;
    flag(s.str(), "failover_time");
  }
  // Section keys (and so the flags) override the same setting inside a `url`.
  auto parsed = dcs::ParseDcsConfig(section, env);
  if (!parsed.ok()) {
    // Name the flag when the bad value came from one.
    const std::string& m = parsed.status().message();
    const std::pair<const char*, const std::optional<std::string>*> flags[] = {
        {"table_name", &opts.table},
        {"region", &opts.region},
        {"endpoint_url", &opts.endpoint_url},
        {"profile", &opts.profile}};
    for (const auto& [key, value] : flags) {
      std::string field = std::string("dynamodb.") + key + ":";
      if (value->has_value() && m.rfind(field, 0) == 0) {
        std::string name = key == std::string("table_name") ? "table" : key;
        for (char& c : name) c = c == '_' ? '-' : c;
        return InvalidArgument("--" + name + ":" + m.substr(field.size()));
      }
    }
    return parsed.status();
  }
  rc.dcs = *parsed;

  auto source_of = [&](const std::optional<std::string>& flag_value, const char* flag_name, const char* key) {
    std::string upper = key;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (flag_value) return std::string("--") + flag_name;
    if (!env_value("PATRONI_DYNAMODB_" + upper).empty()) return "PATRONI_DYNAMODB_" + upper;
    if (section.count(key)) return "dynamodb." + std::string(key) + " in " + file_label;
    if (section.count("url") || !env_value("PATRONI_DYNAMODB_URL").empty())
      return std::string("dynamodb url");
    return std::string();
  };
  rc.table_source = source_of(opts.table, "table", "table_name");
  if (rc.table_source.empty()) rc.table_source = "default";
  rc.region_source = source_of(opts.region, "region", "region");
  if (rc.dcs.region.empty()) {
    // The order of aws/endpoint.h; the profile and IMDS are consulted by
    // dcs::OpenStack when it connects.
    if (auto r = aws::RegionFromEnvironment(env)) {
      rc.dcs.region = r->region;
      rc.region_source = r->source;
    } else {
      rc.region_source = "AWS profile / instance metadata";
    }
  }
  rc.endpoint_source = source_of(opts.endpoint_url, "endpoint-url", "endpoint_url");
  if (rc.dcs.endpoint_url.empty()) {
    DYNATRONI_ASSIGN_OR_RETURN(std::optional<aws::Endpoint> e, aws::EndpointFromEnvironment(env));
    if (e) {
      rc.dcs.endpoint_url = e->url;
      rc.endpoint_source = e->source;
    } else {
      rc.endpoint_source = "regional default";
    }
  }
  if (opts.cluster) {
    rc.scope = *opts.cluster;
    rc.cluster_source = "--cluster";
  }
  if (opts.ns) rc.ns = *opts.ns;
  if (!rc.scope.empty()) rc.partition = dcs::PartitionFor(rc.ns, rc.scope);
  return rc;
}

Deadline CallDeadline(Duration d) { return Deadline::After(*SystemClock::Instance(), d); }

Result<std::unique_ptr<Context>> OpenContext(const ResolvedConfig& config, const Env& env, Clock* clock) {
  auto ctx = std::make_unique<Context>();
  ctx->config = config;
  ctx->clock = clock ? clock : SystemClock::Instance();
  Context* raw = ctx.get();
  DYNATRONI_ASSIGN_OR_RETURN(dcs::Stack stack, dcs::OpenStack(config.dcs, env, [raw](const std::string& w) {
                               raw->store_warnings.push_back(w);
                             }));
  ctx->credential_source = std::move(stack.credential_source);
  ctx->client = std::move(stack.client);
  ctx->store = std::move(stack.store);
  return ctx;
}

}  // namespace dynatroni::cli
