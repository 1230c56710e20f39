// Offline tests of the dynatroni command line: flags, usage errors,
// configuration layering and the Patroni YAML reader.
#include "cli/options.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "cli/cli.h"

namespace dynatroni::cli {
namespace {

struct Ran {
  int rc;
  std::string out;
  std::string err;
};

Ran RunCmd(const std::vector<std::string>& args, const Env& env = {}) {
  std::ostringstream out, err;
  std::istringstream in;
  int rc = RunCli(args, out, err, in, env);
  return {rc, out.str(), err.str()};
}

int Lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

std::string TempFile(const std::string& text) {
  char path[] = "/tmp/dynatroni-cli-test-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(CliOptions, ParsesCommandPathsAndTheirFlags) {
  auto o = ParseArgs({"table", "create", "--provisioned", "5", "10", "--pitr", "--table", "pg-dcs"}, nullptr);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->command, (std::vector<std::string>{"table", "create"}));
  ASSERT_TRUE(o->provisioned);
  EXPECT_EQ(o->provisioned->first, 5);
  EXPECT_EQ(o->provisioned->second, 10);
  EXPECT_TRUE(o->pitr);
  EXPECT_FALSE(o->deletion_protection);
  EXPECT_EQ(*o->table, "pg-dcs");

  // Flags before the command and --flag=value work too.
  o = ParseArgs({"--table=x-table", "status", "--cluster", "demo", "--json"}, nullptr);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(*o->table, "x-table");
  EXPECT_EQ(*o->cluster, "demo");
  EXPECT_TRUE(o->json);
  EXPECT_FALSE(o->watch_s);
}

TEST(CliOptions, WatchTakesAnOptionalInterval) {
  auto o = ParseArgs({"status", "--watch", "--cluster", "c"}, nullptr);
  ASSERT_TRUE(o.ok());
  EXPECT_DOUBLE_EQ(*o->watch_s, 2.0);
  o = ParseArgs({"status", "--watch", "5", "--count", "3"}, nullptr);
  ASSERT_TRUE(o.ok());
  EXPECT_DOUBLE_EQ(*o->watch_s, 5.0);
  EXPECT_EQ(o->count, 3);
  o = ParseArgs({"status", "-w", "0.5"}, nullptr);
  ASSERT_TRUE(o.ok());
  EXPECT_DOUBLE_EQ(*o->watch_s, 0.5);
  EXPECT_FALSE(ParseArgs({"status", "--count", "3"}, nullptr).ok()) << "--count without --watch";
  EXPECT_FALSE(ParseArgs({"status", "--watch=0"}, nullptr).ok());
}

TEST(CliOptions, BadArgumentsNameTheArgument) {
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  } cases[] = {
      {{"status", "--frobnicate"}, "unknown option '--frobnicate'"},
      {{"launch"}, "unknown command 'launch'"},
      {{"table"}, "needs a subcommand"},
      {{"table", "drop"}, "unknown subcommand 'drop'"},
      {{"status", "--member", "x"}, "--member is not an option of `dynatroni status`"},
      {{"table", "create", "--json"}, "--json is not an option of `dynatroni table create`"},
      {{"status", "--cluster"}, "--cluster needs a value"},
      {{"table", "create", "--provisioned", "5"}, "--provisioned needs two values"},
      {{"table", "create", "--provisioned", "0", "5"}, "RCU must be a whole number from 1 to 40000"},
      {{"table", "create", "--provisioned", "5", "99999999999999999999"},
       "WCU must be a whole number from 1"},
      // Values that would overflow a duration or a count are refused, not wrapped around.
      {{"cost", "--failover-time", "1e300", "--nodes", "3"},
       "--failover-time: expected a number of seconds (9 "
       "to 86400), got '1e300'"},
      {{"cost", "--failover-time", "30", "--nodes", "5000"},
       "--nodes: expected a whole number from 1 to 1000"},
      {{"cost", "--failover-time", "30", "--nodes", "3", "--headroom", "1e9"}, "a factor from 1 to 100"},
      {{"status", "--watch", "1e12"}, "a refresh interval of 0.1 to 86400 seconds"},
      {{"table", "create", "--wait-timeout", "inf"}, "--wait-timeout: expected a positive number of seconds"},
      {{"cost", "--nodes", "3"}, "--failover-time SECONDS is required"},
      {{"cost", "--failover-time", "30"}, "--nodes N is required"},
      {{"cost", "--failover-time", "5", "--nodes", "3"}, "at least 9"},
      {{"cost", "--failover-time", "30", "--nodes", "three"}, "--nodes: expected a whole number"},
      {{"cost", "--failover-time", "30", "--nodes", "3", "--status-writes", "2"}, "between 0 and 1"},
      {{"break-glass", "promote", "--cluster", "c", "--member", "n"}, "--reason TEXT is required"},
      {{"break-glass", "promote", "--member", "n", "--reason", "r"}, "--cluster NAME is required"},
      {{"status", "extra"}, "unexpected argument 'extra'"},
      {{}, "no command given"},
  };
  for (const auto& c : cases) {
    auto o = ParseArgs(c.args, nullptr);
    ASSERT_FALSE(o.ok()) << c.needle;
    EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(o.status().message().find(c.needle), std::string::npos) << o.status().message();
    EXPECT_EQ(o.status().message().find('\n'), std::string::npos) << "one line";
  }
}

TEST(CliOptions, UsageErrorIsOneLineThenTheCommandsUsageAndExit2) {
  auto r = RunCmd({"status", "--frobnicate"});
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_TRUE(r.out.empty());
  ASSERT_EQ(r.err.rfind("dynatroni: error: unknown option '--frobnicate'\n", 0), 0u) << r.err;
  std::string rest = r.err.substr(r.err.find('\n') + 1);
  EXPECT_EQ(rest.rfind("usage: dynatroni status", 0), 0u) << rest;
  EXPECT_EQ(rest, UsageFor({"status"}));

  r = RunCmd({"table", "create", "--provisioned", "x", "1"});
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_NE(r.err.find("usage: dynatroni table create"), std::string::npos);

  r = RunCmd({});
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_NE(r.err.find("usage: dynatroni <command>"), std::string::npos);
}

TEST(CliOptions, HelpAndVersionGoToStdoutWithExit0) {
  auto r = RunCmd({"--version"});
  EXPECT_EQ(r.rc, kExitOk);
  EXPECT_EQ(r.out, std::string("dynatroni ") + DYNATRONI_VERSION + "\n");
  r = RunCmd({"help", "break-glass", "promote"});
  EXPECT_EQ(r.rc, kExitOk);
  EXPECT_EQ(r.out, UsageFor({"break-glass", "promote"}));
  r = RunCmd({"cost", "--help"});
  EXPECT_EQ(r.rc, kExitOk);
  EXPECT_NE(r.out.find("usage: dynatroni cost"), std::string::npos);
  r = RunCmd({"help", "nonsense"});
  EXPECT_EQ(r.rc, kExitUsage);
  for (const char* c :
       {"table create", "table check", "status", "list", "doctor", "break-glass promote", "cost"}) {
    EXPECT_NE(UsageFor({}).find(c), std::string::npos) << c;
  }
  EXPECT_GT(Lines(UsageFor({"doctor"})), 3);
}

TEST(CliOptions, StatusWithoutAClusterIsAUsageError) {
  auto r = RunCmd({"status", "--table", "pg-dcs", "--region", "us-east-1"});
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_NE(r.err.find("no cluster"), std::string::npos);
  EXPECT_NE(r.err.find("dynatroni list"), std::string::npos);
}

TEST(CliOptions, BadConfigValueFromAFlagNamesTheFlag) {
  auto r = RunCmd({"table", "check", "--table", "x", "--region", "us-east-1"});
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_EQ(r.err.rfind("dynatroni: error: --table:", 0), 0u) << r.err;
  r = RunCmd({"table", "check", "--endpoint-url", "ftp://nowhere", "--region", "us-east-1"});
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_EQ(r.err.rfind("dynatroni: error: --endpoint-url:", 0), 0u) << r.err;
}

TEST(CliOptions, FlagsBeatEnvironmentWhichBeatsTheFile) {
  std::string file = TempFile(
      "scope: file-scope\n"
      "namespace: /prod/\n"
      "name: node1\n"
      "dynamodb:\n"
      "  table_name: file-table\n"
      "  region: eu-west-1\n"
      "  failover_time: 15\n"
      "  ttl: 30\n"
      "postgresql:\n"
      "  listen: 0.0.0.0:5432\n");
  auto o = ParseArgs({"status", "-c", file}, nullptr);
  ASSERT_TRUE(o.ok());
  auto rc = ResolveConfig(*o, {});
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->dcs.table_name, "file-table");
  EXPECT_EQ(rc->dcs.region, "eu-west-1");
  EXPECT_EQ(*rc->dcs.failover_time, std::chrono::seconds(15));
  EXPECT_EQ(rc->scope, "file-scope");
  EXPECT_EQ(rc->partition, "prod/file-scope");
  EXPECT_NE(rc->table_source.find(file), std::string::npos);

  Env env = {{"PATRONI_DYNAMODB_TABLE_NAME", "env-table"},
             {"PATRONI_SCOPE", "env-scope"},
             {"AWS_REGION", "ap-south-1"}};
  rc = ResolveConfig(*o, env);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(rc->dcs.table_name, "env-table");
  EXPECT_EQ(rc->table_source, "PATRONI_DYNAMODB_TABLE_NAME");
  EXPECT_EQ(rc->dcs.region, "eu-west-1") << "dynamodb.region beats AWS_REGION, as in the plugin";
  EXPECT_EQ(rc->partition, "prod/env-scope");

  o = ParseArgs(
      {"status", "-c", file, "--table", "flag-table", "--cluster", "flag-scope", "--namespace", "/service/"},
      nullptr);
  ASSERT_TRUE(o.ok());
  rc = ResolveConfig(*o, env);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(rc->dcs.table_name, "flag-table");
  EXPECT_EQ(rc->table_source, "--table");
  EXPECT_EQ(rc->partition, "flag-scope") << "the default namespace maps to the bare scope";
  std::remove(file.c_str());
}

TEST(CliOptions, RegionAndEndpointFallBackToTheGivenAwsEnvironment) {
  auto o = ParseArgs({"list"}, nullptr);
  ASSERT_TRUE(o.ok());
  auto rc = ResolveConfig(
      *o, {{"AWS_DEFAULT_REGION", "eu-north-1"}, {"AWS_ENDPOINT_URL_DYNAMODB", "HTTP://127.0.0.1:8000/"}});
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->dcs.region, "eu-north-1");
  EXPECT_EQ(rc->region_source, "AWS_DEFAULT_REGION");
  EXPECT_EQ(rc->dcs.endpoint_url, "http://127.0.0.1:8000");
  EXPECT_EQ(rc->endpoint_source, "AWS_ENDPOINT_URL_DYNAMODB");
  EXPECT_TRUE(rc->partition.empty());
}

TEST(CliOptions, PatroniYamlErrorsNameTheFile) {
  auto y = ParsePatroniYaml("scope: a\ndynamodb: [1, 2]\n", "p.yml");
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("p.yml"), std::string::npos);
  y = ParsePatroniYaml("scope: a\netcd3:\n  hosts: x\n", "p.yml");
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("no `dynamodb:` section"), std::string::npos);
  y = ParsePatroniYaml("scope: [unclosed\n", "p.yml");
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("not valid YAML"), std::string::npos);
  y = ParsePatroniYaml("scope: s\ndynamodb:\n  table_name: t-t\n  tags: {a: 1}\n  ttl: 30\n", "p.yml");
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->dynamodb.size(), 1u) << "nested values and Patroni's own keys are skipped";

  auto r = RunCmd({"table", "check", "-c", "/nonexistent/patroni.yml"});
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_NE(r.err.find("/nonexistent/patroni.yml: cannot read"), std::string::npos);
}

}  // namespace
}  // namespace dynatroni::cli
