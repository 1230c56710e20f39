#include "dcs/config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aws/test_env.h"
#include "dcs/memory_item_store.h"

namespace dynatroni::dcs {
namespace {

using namespace std::chrono_literals;

TEST(DcsConfig, DefaultsNeedNothing) {
  auto c = ParseDcsConfig({}, {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->table_name, "patroni");
  EXPECT_FALSE(c->failover_time);
  EXPECT_EQ(c->leader_poll_interval, 1s);
}

TEST(DcsConfig, UrlFormIsEnoughToStartAndOtherSourcesLayerOverIt) {
  Env env = {
      {"PATRONI_DYNAMODB_URL",
       "dynamodb://pg-dcs?region=eu-west-1&endpoint_url=http%3A%2F%2F127.0.0.1%3A8000&failover_time=15"},
      {"PATRONI_DYNAMODB_REGION", "eu-central-1"}};
  auto c = ParseDcsConfig({}, env);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->table_name, "pg-dcs");
  EXPECT_EQ(c->region, "eu-central-1") << "environment variables win over the URL";
  EXPECT_EQ(c->endpoint_url, "http://127.0.0.1:8000");
  EXPECT_EQ(*c->failover_time, 15s);
}

TEST(DcsConfig, SectionKeysOverrideUrlAndEnvironmentOverridesSection) {
  auto c = ParseDcsConfig({{"url", "dynamodb://a-table?region=us-east-1"}, {"table_name", "b-table"}},
                          {{"PATRONI_DYNAMODB_TABLE_NAME", "c-table"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->table_name, "c-table");
}

TEST(DcsConfig, FailoverTimeBelowMinimumNamesTheField) {
  auto c = ParseDcsConfig({{"failover_time", "3"}}, {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("dynamodb.failover_time"), std::string::npos);
  EXPECT_NE(c.status().message().find("at least 9"), std::string::npos);
  EXPECT_FALSE(ParseDcsConfig({{"failover_time", "fast"}}, {}).ok());
}

TEST(DcsConfig, BadInputGetsOneLineNamingTheField) {
  struct Case {
    std::map<std::string, std::string> section;
    std::string field;
  } cases[] = {
      {{{"table_name", "x"}}, "dynamodb.table_name"},
      {{{"endpoint_url", "ftp://host"}}, "endpoint_url"},
      {{{"access_key_id", "AKID"}}, "secret_access_key"},
      {{{"ca_bundle", "/nonexistent/ca.pem"}}, "dynamodb.ca_bundle"},
      {{{"namespace_typo", "1"}}, "dynamodb.namespace_typo"},
      {{{"url", "http://table"}}, "url"},
      {{{"url", "dynamodb://t-able?bogus=1"}}, "bogus"},
  };
  for (const auto& c : cases) {
    auto r = ParseDcsConfig(c.section, {});
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
}

// Regression (fuzz/fuzz_dcs_config): 1e300 seconds overflowed the conversion
// to nanoseconds (UBSan); hostile values (huge, control characters, NaN,
// junk in the URL) must give one short printable line naming the field.
TEST(DcsConfig, HostileValuesGetOneShortPrintableLineNamingTheField) {
  const std::string huge(100000, 'x');
  struct Case {
    std::map<std::string, std::string> section;
    std::string field;
  } cases[] = {
      {{{"failover_time", "1e300"}}, "dynamodb.failover_time"},
      {{{"failover_time", "86401"}}, "dynamodb.failover_time"},
      {{{"failover_time", "nan"}}, "dynamodb.failover_time"},
      {{{"failover_time", "-inf"}}, "dynamodb.failover_time"},
      {{{"failover_time", "-30"}}, "dynamodb.failover_time"},
      {{{"failover_time", "30s"}}, "dynamodb.failover_time"},
      {{{"leader_poll_interval", "1e19"}}, "dynamodb.leader_poll_interval"},
      {{{"leader_poll_interval", huge}}, "dynamodb.leader_poll_interval"},
      {{{"table_name", huge}}, "dynamodb.table_name"},
      {{{"table_name", "pat\nroni\x1b[2J"}}, "dynamodb.table_name"},
      {{{"endpoint_url", "http://127.0.0.1:8000/\r\nX-Injected: 1"}}, "dynamodb.endpoint_url"},
      {{{"endpoint_url", "http://user:pass@host"}}, "dynamodb.endpoint_url"},
      {{{"endpoint_url", "http://[::1"}}, "dynamodb.endpoint_url"},
      {{{"endpoint_url", "https://host:99999"}}, "dynamodb.endpoint_url"},
      {{{"url", "dynamodb://t-able?failover_time=1e300"}}, "dynamodb.failover_time"},
      {{{"url", "dynamodb://t%0Aable"}}, "dynamodb.table_name"},
      {{{"url", "dynamodb://t-able?" + huge + "=1"}}, "url: unknown parameter"},
      {{{huge, "1"}}, "unknown setting"},
  };
  for (const auto& c : cases) {
    auto r = ParseDcsConfig(c.section, {});
    ASSERT_FALSE(r.ok()) << c.field;
    const std::string& m = r.status().message();
    EXPECT_NE(m.find(c.field), std::string::npos) << m;
    EXPECT_LT(m.size(), 400U) << m;
    for (char ch : m) EXPECT_TRUE(static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f) << m;
  }
  auto ok = ParseDcsConfig({{"failover_time", "86400"}, {"leader_poll_interval", "0.25"}}, {});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok->failover_time, 86400s);
}

TEST(DcsConfig, SwitchoverPollIntervalDefaultsToFourSecondsAndZeroTurnsItOff) {
  auto d = ParseDcsConfig({}, {});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->switchover_poll_interval, 4s);
  auto off = ParseDcsConfig({{"switchover_poll_interval", "0"}}, {});
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->switchover_poll_interval, Duration::zero());
  auto env = ParseDcsConfig({}, {{"PATRONI_DYNAMODB_SWITCHOVER_POLL_INTERVAL", "0.5"}});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->switchover_poll_interval, 500ms);
  for (const char* bad : {"-1", "soon", "1e9"}) {
    auto r = ParseDcsConfig({{"switchover_poll_interval", bad}}, {});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("dynamodb.switchover_poll_interval"), std::string::npos);
    EXPECT_NE(r.status().message().find("or 0 to turn the polls off"), std::string::npos);
  }
}

TEST(DcsConfig, MetricsListenIsOffByDefaultAndTakesHostAndPort) {
  auto d = ParseDcsConfig({}, {});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->metrics_listen, "");
  for (const char* good :
       {"127.0.0.1:9547", "0.0.0.0:9547", "[::1]:9547", "localhost:1", "db-1.example:65535"}) {
    auto r = ParseDcsConfig({{"metrics_listen", good}}, {});
    ASSERT_TRUE(r.ok()) << good << ": " << r.status().message();
    EXPECT_EQ(r->metrics_listen, good);
  }
  auto off = ParseDcsConfig({{"metrics_listen", "off"}}, {});
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->metrics_listen, "");
  auto env = ParseDcsConfig({}, {{"PATRONI_DYNAMODB_METRICS_LISTEN", "127.0.0.1:9600"}});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->metrics_listen, "127.0.0.1:9600");
  for (const char* bad : {"9547", ":9547", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:95x7",
                          "host name:1", "[::1:9547", "[zz]:1", "http://127.0.0.1:9547"}) {
    auto r = ParseDcsConfig({{"metrics_listen", bad}}, {});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().find("dynamodb.metrics_listen: expected host:port such as 127.0.0.1:9547"),
              0U)
        << r.status().message();
  }
}

TEST(DcsConfig, SecretsAreNeverQuotedInErrors) {
  auto r = ParseDcsConfig({{"secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                           {"session_token", "FQoGZXIvYXdzEXAMPLETOKEN"}},
                          {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("access_key_id"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find("EXAMPLEKEY"), std::string::npos);
  EXPECT_EQ(r.status().message().find("EXAMPLETOKEN"), std::string::npos);
  // A URL with the wrong scheme is quoted without its query, where keys may be.
  auto u = ParseDcsConfig({{"url", "dynamo://t?secret_access_key=wJalrXUtnFEMI/K7MDENG"}}, {});
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("got 'dynamo://t'"), std::string::npos) << u.status().message();
  EXPECT_EQ(u.status().message().find("wJalr"), std::string::npos) << u.status().message();
}

TEST(DcsConfig, PartitionIsScopeOrNamespaceSlashScope) {
  EXPECT_EQ(PartitionFor("/service/", "batman"), "batman");
  EXPECT_EQ(PartitionFor("service", "batman"), "batman");
  EXPECT_EQ(PartitionFor("/prod/", "batman"), "prod/batman");
}

// The keys an error message lists, from "... (known: a, b, c)".
std::set<std::string> ListedKeys(const std::string& message) {
  std::set<std::string> keys;
  auto open = message.find("(known: ");
  auto close = message.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return keys;
  std::string list = message.substr(open + 8, close - open - 8);
  size_t pos = 0;
  while (pos <= list.size()) {
    auto comma = list.find(", ", pos);
    keys.insert(list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (comma == std::string::npos) break;
    pos = comma + 2;
  }
  return keys;
}

// Every key the URL form accepts is named by its unknown-parameter message,
// and the message names nothing it refuses (likewise for the section's keys).
TEST(DcsConfig, UnknownKeyMessagesListExactlyTheAcceptedKeys) {
  const std::vector<std::string> candidates = {
      "table_name", "region", "endpoint_url", "failover_time", "profile", "ca_bundle", "access_key_id",
      "secret_access_key", "session_token", "leader_poll_interval", "switchover_poll_interval",
      "metrics_listen",
      // Patroni's own names and other non-keys: refused.
      "url", "scope", "namespace", "name", "ttl", "loop_wait", "retry_timeout", "tablename"};
  std::set<std::string> url_accepted, section_accepted;
  for (const auto& k : candidates) {
    auto u = ParseDcsConfig({{"url", "dynamodb://t?" + k + "=1"}}, {});
    if (u.ok() || u.status().message().find("unknown parameter") == std::string::npos) url_accepted.insert(k);
    auto s = ParseDcsConfig({{k, "1"}}, {});
    if (s.ok() || s.status().message().find("unknown setting") == std::string::npos)
      section_accepted.insert(k);
  }
  EXPECT_EQ(url_accepted.size(), 12U);
  EXPECT_EQ(section_accepted.size(), 13U);  // the 12 and `url`

  auto u = ParseDcsConfig({{"url", "dynamodb://t?bogus=1"}}, {});
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().message().find("url: unknown parameter 'bogus' (known: "), 0U) << u.status().message();
  EXPECT_EQ(ListedKeys(u.status().message()), url_accepted) << u.status().message();

  auto s = ParseDcsConfig({{"bogus", "1"}}, {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().find("dynamodb.bogus: unknown setting (known: "), 0U)
      << s.status().message();
  EXPECT_EQ(ListedKeys(s.status().message()), section_accepted) << s.status().message();
}

// OpenStack takes the region, the endpoint and the credentials from the
// environment it is given, in the order the CLI resolved them (the
// configuration, AWS_REGION, AWS_DEFAULT_REGION, the profile's region;
// the configuration, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, regional),
// and never from the process's own variables.
TEST(OpenStack, RegionEndpointAndCredentialsComeFromTheGivenEnvironmentInOrder) {
  const Env base = {{"AWS_ACCESS_KEY_ID", "AKIDSTACKTEST"},
                    {"AWS_SECRET_ACCESS_KEY", "stacksecret"},
                    {"AWS_EC2_METADATA_DISABLED", "true"},
                    {"AWS_CONFIG_FILE", "/nonexistent/config"},
                    {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"}};
  DcsConfig config;
  Env env = base;
  env["AWS_DEFAULT_REGION"] = "eu-north-1";
  env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9";
  auto s = OpenStack(config, env, nullptr);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->client->region(), "eu-north-1");
  EXPECT_EQ(s->client->endpoint(), "http://127.0.0.1:9");
  EXPECT_EQ(s->credential_source, "environment");
  EXPECT_NE(s->store, nullptr);

  env["AWS_REGION"] = "ap-south-1";
  env["AWS_ENDPOINT_URL_DYNAMODB"] = "HTTP://127.0.0.1:8000/";
  s = OpenStack(config, env, nullptr);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->client->region(), "ap-south-1");
  EXPECT_EQ(s->client->endpoint(), "http://127.0.0.1:8000");

  config.region = "us-west-2";
  config.endpoint_url = "http://127.0.0.1:7";
  s = OpenStack(config, env, nullptr);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->client->region(), "us-west-2");
  EXPECT_EQ(s->client->endpoint(), "http://127.0.0.1:7");

  // Neither set: the region of the profile AWS_PROFILE names, in AWS_CONFIG_FILE.
  const std::string file = (std::filesystem::temp_directory_path() /
                            ("dynatroni-stack-test-" + std::to_string(::getpid()) + ".ini"))
                               .string();
  {
    std::ofstream out(file);
    out << "[default]\nregion = us-east-2\n[profile stacktest]\nregion = sa-east-1\n";
  }
  env = base;
  env["AWS_CONFIG_FILE"] = file;
  env["AWS_PROFILE"] = "stacktest";
  s = OpenStack(DcsConfig{}, env, nullptr);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->client->region(), "sa-east-1");
  EXPECT_EQ(s->client->endpoint(), "https://dynamodb.sa-east-1.amazonaws.com");
  DcsConfig with_profile;
  with_profile.profile = "default";
  s = OpenStack(with_profile, env, nullptr);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->client->region(), "us-east-2") << "the configured profile wins over AWS_PROFILE";
  std::filesystem::remove(file);

  // The process's variables are not read.
  aws::testing_env::ScopedEnv process({"AWS_PROFILE", "AWS_CONFIG_FILE"});
  process.Set("AWS_REGION", "us-east-1");
  process.Set("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:6");
  s = OpenStack(DcsConfig{}, base, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("no AWS region configured"), std::string::npos) << s.status().message();
}

// MakeDcs takes the member, the store and the configured timing.
TEST(MakeDcs, UsesTheConfiguredTimingAndNamesItsMember) {
  DcsConfig config;
  config.failover_time = std::chrono::seconds(15);
  auto store = std::make_shared<MemoryItemStore>();
  auto d = MakeDcs(config, store, "scope", "node1");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((*d)->timing().ttl, Timing::FromFailoverTime(std::chrono::seconds(15))->ttl);
  EXPECT_EQ(MakeDcs(config, store, "", "node1").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dynatroni::dcs
