// File: cli/options.h
//
// Flag parsing, usage texts and configuration resolution shared by every
// subcommand of `dynatroni`.
//
// Configuration, later sources winning:
//   1. `-c patroni.yml`: its `dynamodb:` section, `scope` and `namespace`;
//   2. PATRONI_DYNAMODB_* (and PATRONI_SCOPE / PATRONI_NAMESPACE), exactly as
//      the Patroni plugin layers them (dcs::ParseDcsConfig);
//   3. flags: --table, --region, --endpoint-url, --failover-time, --profile,
//      --cluster, --namespace.
// Region and endpoint not set by any of these come from AWS_REGION /
// AWS_DEFAULT_REGION and AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL of the
// given environment, then from the SDK's own resolution (profile, IMDS).
//
// Thread-safety: pure functions except OpenContext (network, credentials).
#ifndef DYNATRONI_CLI_OPTIONS_H_
#define DYNATRONI_CLI_OPTIONS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/cli.h"
#include "core/status.h"
#include "dcs/config.h"
#include "dcs/dynamo_item_store.h"
#include "dynamodb/client.h"

namespace dynatroni::cli {

// Everything the command line said. Unset optionals = not given.
struct Options {
  std::vector<std::string> command;  // {"table","create"}, {"status"}, {"break-glass","promote"} ...
  bool help = false;
  bool version = false;
  bool json = false;

  // Configuration.
  std::string config_file;
  std::optional<std::string> table, region, endpoint_url, profile, cluster, ns;
  std::optional<double> failover_time_s;
  std::optional<int64_t> group;  // MPP (Citus) group

  // table create
  std::optional<std::pair<int64_t, int64_t>> provisioned;  // RCU, WCU
  bool pitr = false;
  bool deletion_protection = false;
  double wait_timeout_s = 300;

  // status
  std::optional<double> watch_s;  // --watch [SECONDS]
  int64_t count = 0;              // --count N refreshes (0 = until interrupted)

  // break-glass promote
  std::string member;
  std::string reason;
  bool yes = false;

  // cost
  std::optional<int64_t> nodes;
  int64_t clusters = 1;
  double price_read = 0.125;        // $ per million read request units (on-demand)
  double price_write = 0.625;       // $ per million write request units (on-demand)
  double price_rcu_hour = 0.00013;  // $ per provisioned RCU-hour
  double price_wcu_hour = 0.00065;  // $ per provisioned WCU-hour
  std::optional<double> partition_kb;
  double member_kb = 0.5;
  double status_writes = 1.0;               // fraction of leader loops that write `status`
  double switchover_poll_interval_s = 4.0;  // replicas' failover-key reads; 0 = off
  double headroom = 1.5;                    // provisioned capacity = average * headroom
};

// Parses `args` (without the program name). kInvalidArgument with one line
// naming the offending argument; `command` is filled as far as it was
// recognised so the right usage can be shown.
Result<Options> ParseArgs(const std::vector<std::string>& args, std::vector<std::string>* command_seen);

// The usage text of a command ({"status"}), or the overview for an empty or
// unknown command. Ends with a newline.
std::string UsageFor(const std::vector<std::string>& command);

// True for a recognised command path.
bool IsKnownCommand(const std::vector<std::string>& command);

// The resolved configuration, before any network call.
struct ResolvedConfig {
  dcs::DcsConfig dcs;
  std::string scope;      // cluster name as given (may be empty)
  std::string ns;         // Patroni namespace (may be empty = default)
  std::string partition;  // dcs::PartitionFor(ns, scope); empty when no cluster
  std::string table_source;
  std::string region_source;    // "--region", "PATRONI_DYNAMODB_REGION", "AWS_REGION", ...
  std::string endpoint_source;  // "--endpoint-url", ..., "default"
  std::string cluster_source;
};

// The Patroni YAML pieces the CLI uses.
struct PatroniFile {
  std::map<std::string, std::string> dynamodb;  // scalar keys of `dynamodb:`
  std::string scope;
  std::string ns;
  std::string name;
};
// Parses Patroni YAML text. kInvalidArgument naming `origin` on bad YAML or
// a missing / non-mapping `dynamodb:` section.
Result<PatroniFile> ParsePatroniYaml(const std::string& text, const std::string& origin);

// Layers file, environment and flags (see the file comment).
// kInvalidArgument for bad values (one line naming the field and the fix).
Result<ResolvedConfig> ResolveConfig(const Options& opts, const Env& env);

// What a command works with once connected.
struct Context {
  ResolvedConfig config;
  std::string credential_source;
  std::shared_ptr<dynamodb::Client> client;
  std::shared_ptr<dcs::DynamoItemStore> store;
  std::vector<std::string> store_warnings;  // undecodable items skipped by the store
  Clock* clock = nullptr;                   // the hooks' clock (watching, sleeping)
};

// Builds the client and the store; AWS_* variables the configuration left
// open (profile files, credentials, IMDS) come from `env`. kInvalidArgument
// for configuration problems (exit 2), other codes for runtime problems (exit 3).
Result<std::unique_ptr<Context>> OpenContext(const ResolvedConfig& config, const Env& env, Clock* clock);

// A deadline for one DynamoDB call, on the client's clock.
Deadline CallDeadline(Duration d = std::chrono::seconds(15));

}  // namespace dynatroni::cli

#endif  // DYNATRONI_CLI_OPTIONS_H_
