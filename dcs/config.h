// File: dcs/config.h
//
// The `dynamodb:` configuration shared by the Patroni plugin and the CLI, and
// the factory that turns it into a ready Dcs.
//
// Sources, later ones layered over earlier ones:
//   1. `url`: dynamodb://<table>?region=..&endpoint_url=..&failover_time=..
//      (what Patroni builds from PATRONI_DYNAMODB_URL for container setups);
//   2. the other keys of the `dynamodb:` section;
//   3. environment variables PATRONI_DYNAMODB_<KEY> (upper-case key).
// Keys: table_name, region, endpoint_url, failover_time, profile, ca_bundle,
// access_key_id, secret_access_key, session_token, leader_poll_interval,
// switchover_poll_interval, metrics_listen.
// Names Patroni overwrites (namespace, name, scope, ttl, loop_wait,
// retry_timeout, patronictl) are not options of ours.
//
// Thread-safety: pure functions.
#ifndef DYNATRONI_DCS_CONFIG_H_
#define DYNATRONI_DCS_CONFIG_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/env.h"
#include "core/status.h"
#include "dcs/dcs.h"
#include "dcs/dynamo_item_store.h"
#include "dynamodb/client.h"

namespace dynatroni::dcs {

struct DcsConfig {
  std::string table_name = "patroni";
  std::string region;                     // empty: resolved from the environment / profile
  std::string endpoint_url;               // empty: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, regional
  std::optional<Duration> failover_time;  // unset: follow Patroni's ttl/loop_wait/retry_timeout
  std::string profile;
  std::string ca_bundle;
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  Duration leader_poll_interval = std::chrono::seconds(1);
  // DcsOptions::handover_poll_interval; zero = off.
  Duration switchover_poll_interval = std::chrono::seconds(4);
  // "host:port" ("[v6]:port") where the Patroni plugin serves Prometheus
  // metrics (python/dynatroni/metrics.py); empty = off (the default).
  std::string metrics_listen;
};

using Env = dynatroni::Env;

// Builds the configuration from a section (string values) and an
// environment. kInvalidArgument with one line naming the field and the fix.
Result<DcsConfig> ParseDcsConfig(const std::map<std::string, std::string>& section, const Env& env);

// The environment of this process as an Env (core/env.h).
using dynatroni::ProcessEnvironment;

// What the Patroni plugin and the CLI connect through, built by OpenStack.
// The client owns its transport and credential chain; the store shares it.
struct Stack {
  std::string credential_source;  // the credential link that answered, or "unresolved (<why>)"
  std::shared_ptr<dynamodb::Client> client;
  std::shared_ptr<DynamoItemStore> store;
};

// The one constructor of the DynamoDB stack for a configuration: region
// (config, then AWS_REGION / AWS_DEFAULT_REGION, the profile's region, IMDS),
// endpoint (config, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, regional),
// the credential chain (config keys, then aws/providers/chain.h), the curl
// transport (config.ca_bundle), the client and the item store of
// config.table_name, which reports undecodable items to `on_store_warning`
// (may be empty). Every variable comes from `env`, read by the caller once.
// Resolves the credentials once (up to 5 s) to name their source; a failure
// there is reported in credential_source, not returned. Errors:
// kInvalidArgument for a region or endpoint that cannot be resolved, others
// from the transport. Safe to call from any thread; may block on the network.
Result<Stack> OpenStack(const DcsConfig& config, const Env& env,
                        std::function<void(const std::string&)> on_store_warning);

// The Dcs of member `name` in `partition` over `store`, with the
// configuration's failover_time, leader_poll_interval and
// switchover_poll_interval. Errors as Dcs::Create.
Result<std::unique_ptr<Dcs>> MakeDcs(const DcsConfig& config, std::shared_ptr<ItemStore> store,
                                     const std::string& partition, const std::string& name);

// The partition for a Patroni scope and namespace: "<scope>" for the default
// namespace ("/service/" or "service"), else "<namespace>/<scope>" with
// slashes trimmed.
std::string PartitionFor(const std::string& ns, const std::string& scope);

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_CONFIG_H_
