#include "aws/credentials.h"

#include <string>

#include <gtest/gtest.h>

#include "aws/test_env.h"

namespace dynatroni::aws {
namespace {

using testing_env::ScopedEnv;

const std::vector<std::string> kCredVars = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_SESSION_TOKEN"};

Credentials Make(std::string id, std::string secret, std::string source = "static") {
  Credentials c;
  c.access_key_id = std::move(id);
  c.secret_access_key = SecretString(std::move(secret));
  c.source = std::move(source);
  return c;
}

TEST(SecretString, CopiesMovesAndComparesByValue) {
  SecretString a("s3cr3t-value-longer-than-sso-buffer");
  SecretString b = a;
  EXPECT_EQ(a, b);
  SecretString c = std::move(b);
  EXPECT_EQ(c.reveal(), "s3cr3t-value-longer-than-sso-buffer");
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): moved-from is wiped
  SecretString d("short");
  d = c;
  EXPECT_EQ(d, c);
  d = SecretString("x");
  EXPECT_EQ(d.reveal(), "x");
  SecretString e("tiny");  // small-string buffer: the move must wipe the source's copy too
  SecretString f(std::move(e));
  EXPECT_TRUE(e.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(f.reveal(), "tiny");
}

TEST(Credentials, DescribeMasksTheKeyIdAndNeverShowsSecrets) {
  Credentials c = Make("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "environment");
  c.session_token = SecretString("FwoGZXIvYXdzEXAMPLETOKEN");
  std::string d = c.Describe();
  EXPECT_EQ(d, "AKIA****MPLE (environment)");
  EXPECT_EQ(d.find("wJalr"), std::string::npos);
  EXPECT_EQ(d.find("FwoG"), std::string::npos);
  EXPECT_EQ(d.find("IOSFODNN7"), std::string::npos);
  EXPECT_EQ(Make("AKID1234", "s").Describe(), "**** (static)");  // too short to show any part
  EXPECT_EQ(Make("", "s", "").Describe(), "(no key id) (unknown source)");
}

TEST(StaticProvider, ReturnsTheGivenCredentialsTaggedStatic) {
  Credentials given = Make("AKIDEXAMPLE", "secret", "");
  given.session_token = SecretString("tok");
  auto p = MakeStaticProvider(given);
  EXPECT_EQ(p->name(), "static");
  auto c = p->Resolve(Deadline::Infinite());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(c->secret_access_key.reveal(), "secret");
  EXPECT_EQ(c->session_token.reveal(), "tok");
  EXPECT_EQ(c->source, "static");
}

TEST(StaticProvider, EmptyKeyIdOrSecretIsInvalidArgumentNamingTheField) {
  auto no_id = MakeStaticProvider(Make("", "secret"))->Resolve(Deadline::Infinite());
  EXPECT_EQ(no_id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_id.status().message().find("access_key_id"), std::string::npos);
  auto no_secret = MakeStaticProvider(Make("AKIDEXAMPLE", ""))->Resolve(Deadline::Infinite());
  EXPECT_EQ(no_secret.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_secret.status().message().find("secret_access_key"), std::string::npos);
}

TEST(EnvironmentProvider, ReadsTheThreeVariables) {
  auto p = MakeEnvironmentProvider({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                    {"AWS_SECRET_ACCESS_KEY", "envsecret"},
                                    {"AWS_SESSION_TOKEN", "envtoken"}});
  EXPECT_EQ(p->name(), "environment");
  auto c = p->Resolve(Deadline::Infinite());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIDENV");
  EXPECT_EQ(c->secret_access_key.reveal(), "envsecret");
  EXPECT_EQ(c->session_token.reveal(), "envtoken");
  EXPECT_EQ(c->source, "environment");
  EXPECT_FALSE(c->expiration.has_value());
}

// The provider reads the snapshot it was given (core/env.h), never the
// process environment: a variable set in the process is not seen, before or
// after the provider was made.
TEST(EnvironmentProvider, ReadsTheGivenEnvironmentNotTheProcesses) {
  ScopedEnv env(kCredVars);
  env.Set("AWS_ACCESS_KEY_ID", "AKIDPROCESS");
  env.Set("AWS_SECRET_ACCESS_KEY", "process");
  auto p = MakeEnvironmentProvider({});
  EXPECT_EQ(p->Resolve(Deadline::Infinite()).status().code(), StatusCode::kNotFound);
  auto snapshot = MakeEnvironmentProvider(ProcessEnvironment());
  env.Set("AWS_ACCESS_KEY_ID", "AKIDLATER");
  env.Set("AWS_SECRET_ACCESS_KEY", "later");
  auto c = snapshot->Resolve(Deadline::Infinite());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "AKIDPROCESS");
  EXPECT_TRUE(c->session_token.empty());
  EXPECT_EQ(p->Resolve(Deadline::Infinite()).status().code(), StatusCode::kNotFound);
}

TEST(EnvironmentProvider, UnsetOrEmptyIsNotFoundAndAHalfPairIsInvalid) {
  EXPECT_EQ(
      MakeEnvironmentProvider({{"AWS_ACCESS_KEY_ID", ""}})->Resolve(Deadline::Infinite()).status().code(),
      StatusCode::kNotFound);

  auto only_id = MakeEnvironmentProvider({{"AWS_ACCESS_KEY_ID", "AKIDONLY"}})->Resolve(Deadline::Infinite());
  EXPECT_EQ(only_id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(only_id.status().message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos);

  auto only_secret =
      MakeEnvironmentProvider({{"AWS_SECRET_ACCESS_KEY", "topsecretvalue"}})->Resolve(Deadline::Infinite());
  EXPECT_EQ(only_secret.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(only_secret.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_EQ(only_secret.status().ToString().find("topsecretvalue"), std::string::npos);
}

}  // namespace
}  // namespace dynatroni::aws
