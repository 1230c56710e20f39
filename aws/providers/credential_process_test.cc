#include "aws/providers/credential_process.h"

#include <chrono>

#include <gtest/gtest.h>

namespace dynatroni::aws {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kSecret[] = "procSECRETwJalrXUtnFEMI";

Result<Credentials> RunCmd(const std::string& cmd, Duration timeout = seconds(10)) {
  CredentialProcessOptions o;
  o.timeout = timeout;
  return RunCredentialProcess(cmd, Deadline::After(*SystemClock::Instance(), seconds(10)), o,
                              "credential_process");
}

TEST(CredentialProcess, ParsesVersionOneOutput) {
  auto c = RunCmd(
      std::string("printf '%s' '{\"Version\": 1, \"AccessKeyId\": \"ASIAPROC\", \"SecretAccessKey\": \"") +
      kSecret + "\", \"SessionToken\": \"tok\", \"Expiration\": \"2030-01-01T00:00:00Z\"}'");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIAPROC");
  EXPECT_EQ(c->secret_access_key.reveal(), kSecret);
  EXPECT_EQ(c->session_token.reveal(), "tok");
  ASSERT_TRUE(c->expiration.has_value());
  EXPECT_EQ(*c->expiration, WallTime(seconds(1893456000)));
}

TEST(CredentialProcess, LongTermKeysNeedNoTokenOrExpiration) {
  auto c = RunCmd("echo '{\"Version\":1,\"AccessKeyId\":\"AKIAPROC\",\"SecretAccessKey\":\"s\"}'");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->session_token.empty());
  EXPECT_FALSE(c->expiration.has_value());
}

TEST(CredentialProcess, NonZeroExitIsUnavailable) {
  auto c = RunCmd(std::string("echo '") + kSecret + "'; exit 3");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("status 3"), std::string::npos) << c.status().message();
  EXPECT_EQ(c.status().message().find(kSecret), std::string::npos);
}

TEST(CredentialProcess, BadJsonIsMalformedAndNotQuoted) {
  for (const std::string& cmd :
       {std::string("echo '{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"") + kSecret + "\"'",
        std::string("echo 'not json ") + kSecret + "'",
        std::string("echo '{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"") + kSecret +
            "\"}'"}) {
    auto c = RunCmd(cmd);
    ASSERT_FALSE(c.ok()) << cmd;
    EXPECT_EQ(c.status().code(), StatusCode::kMalformedResponse) << c.status().ToString();
    EXPECT_EQ(c.status().message().find(kSecret), std::string::npos) << c.status().message();
  }
}

TEST(CredentialProcess, TimeoutKillsTheProcessGroup) {
  auto start = std::chrono::steady_clock::now();
  // The background sleep holds stdout open too: only killing the group ends it.
  auto c = RunCmd("sleep 20 & sleep 20", milliseconds(200));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kDeadlineExceeded) << c.status().ToString();
  EXPECT_LT(elapsed, seconds(5));
}

TEST(CredentialProcess, CallerDeadlineBoundsTheRun) {
  CredentialProcessOptions o;
  o.timeout = seconds(60);
  FakeClock clock;
  o.clock = &clock;
  auto past = RunCredentialProcess("echo x", Deadline::At(clock.Now() - seconds(1)), o, "cp");
  EXPECT_EQ(past.status().code(), StatusCode::kDeadlineExceeded);
  auto start = std::chrono::steady_clock::now();
  auto slow = RunCredentialProcess("sleep 20", Deadline::After(clock, milliseconds(150)), o, "cp");
  EXPECT_EQ(slow.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
}

TEST(CredentialProcess, OversizedOutputIsRejected) {
  CredentialProcessOptions o;
  o.max_output_bytes = 1000;
  auto c = RunCredentialProcess("head -c 100000 /dev/zero | tr '\\0' x",
                                Deadline::After(*SystemClock::Instance(), seconds(10)), o, "cp");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kMalformedResponse);
}

TEST(CredentialProcess, EmptyCommandIsInvalid) {
  EXPECT_EQ(RunCmd("").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dynatroni::aws
