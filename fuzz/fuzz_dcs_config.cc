// Fuzz target: the `dynamodb:` configuration (section keys, the
// dynamodb:// URL, PATRONI_DYNAMODB_* environment) and endpoint URLs.
//
// Input: lines. "env:NAME=value" adds an environment variable, any other
// "key=value" line a section setting (so "url=dynamodb://..." is the URL).
// Errors must be one printable line that never echoes the secret key or the
// session token; a parsed config must hold a valid table name and timing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "aws/endpoint.h"
#include "dcs/config.h"
#include "fuzz/fuzz_common.h"

using namespace dynatroni;  // NOLINT(google-build-using-namespace)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> section;
  dcs::Env env;
  std::string first_value;
  while (!in.empty()) {
    size_t e = in.find('\n');
    std::string_view line = in.substr(0, e);
    in = e == std::string_view::npos ? std::string_view() : in.substr(e + 1);
    bool is_env = line.rfind("env:", 0) == 0;
    if (is_env) line.remove_prefix(4);
    size_t eq = line.find('=');
    std::string key(line.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : std::string(line.substr(eq + 1));
    if (first_value.empty()) first_value = value;
    (is_env ? env : section)[key] = value;
  }

  // ca_bundle must not make the fuzzer open arbitrary paths.
  env["DYNATRONI_SKIP_CA_CHECK"] = "1";
  auto config = dcs::ParseDcsConfig(section, env);
  if (!config.ok()) {
    fuzz::CheckOneLine(config.status(), /*printable=*/true);
    auto is_secret_key = [](const std::string& k) {
      return k == "secret_access_key" || k == "session_token" || k == "PATRONI_DYNAMODB_SECRET_ACCESS_KEY" ||
             k == "PATRONI_DYNAMODB_SESSION_TOKEN";
    };
    // Names and non-secret values may be quoted on purpose (an unknown setting's name, the start of a bad
    // URL): a "secret" that also occurs there is not a leak.
    std::string all_names;
    for (const auto* m : {&section, &env}) {
      for (const auto& [k, v] : *m) all_names += k + "\n" + (is_secret_key(k) ? "" : v + "\n");
    }
    for (const auto* m : {&section, &env}) {
      for (const auto& [k, v] : *m) {
        if (is_secret_key(k)) {
          // Secret-like values only (base64 alphabet, 16+ characters): our own fixed wording (key names
          // with '_', ", ") may otherwise contain the fuzzer's "secret" by coincidence.
          if (v.size() >= 16 && all_names.find(v) == std::string::npos &&
              v.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+=") ==
                  std::string::npos) {
            fuzz::CheckNoSecret(config.status().message(), v);
          }
        }
      }
    }
  } else {
    DYNATRONI_FUZZ_CHECK(dynamodb::ValidateTableName(config->table_name).ok(), config->table_name);
    DYNATRONI_FUZZ_CHECK(config->leader_poll_interval > Duration::zero(), "leader_poll_interval > 0");
    if (config->failover_time) {
      auto timing = dcs::Timing::FromFailoverTime(*config->failover_time);
      DYNATRONI_FUZZ_CHECK(timing.ok(), timing.status().ToString());
      DYNATRONI_FUZZ_CHECK(timing->SafetyMargin() < timing->ttl, "safety margin below ttl");
    }
    if (!config->endpoint_url.empty()) {
      auto again = aws::NormalizeEndpointUrl(config->endpoint_url, "endpoint_url");
      DYNATRONI_FUZZ_CHECK(again.ok() && *again == config->endpoint_url, "normalized endpoint is a fixpoint");
    }
  }

  auto endpoint = aws::NormalizeEndpointUrl(first_value, "dynamodb.endpoint_url");
  fuzz::CheckOneLine(endpoint.status(), /*printable=*/true);
  auto region = aws::ResolveEndpoint("", first_value, Env{});
  fuzz::CheckOneLine(region.status(), /*printable=*/true);
  std::string partition = dcs::PartitionFor(first_value, "scope");
  DYNATRONI_FUZZ_CHECK(partition.size() >= 5 && partition.compare(partition.size() - 5, 5, "scope") == 0,
                       partition);
  return 0;
}
