#include "dcs/config.h"

#include <gtest/gtest.h>

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

TEST(DcsConfig, PartitionIsScopeOrNamespaceSlashScope) {
  EXPECT_EQ(PartitionFor("/service/", "batman"), "batman");
  EXPECT_EQ(PartitionFor("service", "batman"), "batman");
  EXPECT_EQ(PartitionFor("/prod/", "batman"), "prod/batman");
}

}  // namespace
}  // namespace dynatroni::dcs
