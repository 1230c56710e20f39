#include "aws/providers/profile_files.h"

#include <atomic>
#include <chrono>
#include <mutex>

#include <gtest/gtest.h>

#include "aws/providers/testing_support.h"
#include "http/testing_http_server.h"

namespace dynatroni::aws {
namespace {

using http::testing::ReceivedRequest;
using http::testing::Reply;
using http::testing::TestingHttpServer;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ParseForm;
using testing::RealTransport;
using testing::ScopedAwsEnv;
using testing::StsCredentialsXml;
using testing::StsErrorXml;
using testing::WithProcessEnv;

ParsedProfileFile Parse(const std::string& text, ProfileFileKind kind) {
  auto r = ParseProfileFile(text, kind, "file");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : ParsedProfileFile{};
}

TEST(ProfileFiles, ParsesSectionsCommentsAndWhitespace) {
  auto f = Parse(
      "# leading comment\n"
      "; another\n"
      "[default]\n"
      "region=us-east-1\n"
      "[ profile   prod ]   # trailing comment\n"
      "  \n"
      "Region = eu-west-1 ; comment after whitespace\n"
      "credential_process = /bin/helper --tag=a#b;c\n"
      "OUTPUT\t=\tjson\t\n"
      "[profile empty]\r\n"
      "[sso-session corp]\n"
      "sso_start_url = https://x\n",
      ProfileFileKind::kConfig);
  ASSERT_EQ(f.profiles.size(), 3u);
  EXPECT_EQ(f.profiles["default"]["region"], "us-east-1");
  EXPECT_EQ(f.profiles["prod"]["region"], "eu-west-1");
  EXPECT_EQ(f.profiles["prod"]["credential_process"], "/bin/helper --tag=a#b;c");
  EXPECT_EQ(f.profiles["prod"]["output"], "json");
  EXPECT_TRUE(f.profiles["empty"].empty());
  EXPECT_FALSE(f.profiles.contains("corp"));
}

TEST(ProfileFiles, SkipsNestedSubSectionsAndJoinsContinuations) {
  auto f = Parse(
      "[profile p]\n"
      "s3 =\n"
      "  max_concurrent_requests = 10\n"
      "  addressing_style = path\n"
      "region = eu-north-1\n"
      "note = first\n"
      "  second\n",
      ProfileFileKind::kConfig);
  const auto& p = f.profiles["p"];
  EXPECT_EQ(p.at("region"), "eu-north-1");
  EXPECT_EQ(p.at("s3"), "");
  EXPECT_FALSE(p.contains("max_concurrent_requests"));
  EXPECT_EQ(p.at("note"), "first\nsecond");
}

TEST(ProfileFiles, IgnoresSectionsOfTheWrongForm) {
  auto config = Parse("[prod]\nregion = x\n[profile ok]\nregion = y\n[profile bad name]\nregion = z\n",
                      ProfileFileKind::kConfig);
  EXPECT_FALSE(config.profiles.contains("prod"));
  EXPECT_TRUE(config.profiles.contains("ok"));
  EXPECT_EQ(config.profiles.size(), 1u);
  EXPECT_EQ(config.warnings.size(), 2u);
  ASSERT_FALSE(config.warnings.empty());
  EXPECT_NE(config.warnings[0].find("file:1"), std::string::npos) << config.warnings[0];

  auto creds = Parse("[profile prod]\naws_access_key_id = A\n[prod]\naws_access_key_id = B\n",
                     ProfileFileKind::kCredentials);
  EXPECT_EQ(creds.profiles.size(), 1u);
  EXPECT_EQ(creds.profiles["prod"]["aws_access_key_id"], "B");
  EXPECT_EQ(creds.warnings.size(), 1u);
}

TEST(ProfileFiles, PrefixedDefaultWinsInEitherOrder) {
  auto a = Parse("[default]\nregion = a\n[profile default]\nregion = b\n", ProfileFileKind::kConfig);
  EXPECT_EQ(a.profiles["default"]["region"], "b");
  auto b =
      Parse("[profile default]\nregion = b\n[default]\nregion = a\noutput = x\n", ProfileFileKind::kConfig);
  EXPECT_EQ(b.profiles["default"]["region"], "b");
  EXPECT_FALSE(b.profiles["default"].contains("output"));
}

TEST(ProfileFiles, RepeatedSectionsMergeAndLastValueWins) {
  auto f = Parse("[a]\nk = 1\nj = 2\n[b]\nk = 3\n[a]\nk = 4\n", ProfileFileKind::kCredentials);
  EXPECT_EQ(f.profiles["a"]["k"], "4");
  EXPECT_EQ(f.profiles["a"]["j"], "2");
}

TEST(ProfileFiles, FatalSyntaxErrorsNameFileAndLine) {
  struct Case {
    std::string text;
    std::string line;
  };
  for (const auto& c :
       {Case{"region = x\n", "f:1:"}, Case{"[default]\nnot a property\n", "f:2:"},
        Case{"\n[default\nregion = x\n", "f:2:"}, Case{"  indented = before any section\n", "f:1:"}}) {
    auto r = ParseProfileFile(c.text, ProfileFileKind::kConfig, "f");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind(c.line, 0), 0u) << r.status().message();
  }
  // Values are never quoted in errors.
  auto r = ParseProfileFile("[default]\nsecretvalue_without_equals\n", ProfileFileKind::kCredentials, "f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("secretvalue"), std::string::npos);
}

TEST(ProfileFiles, LocationsFollowEnvironmentAndHome) {
  ScopedAwsEnv env;
  auto loc = ResolveProfileFileLocations("", "", "", ProcessEnvironment());
  EXPECT_EQ(loc.credentials_file, env.home() + "/.aws/credentials");
  EXPECT_EQ(loc.config_file, env.home() + "/.aws/config");
  EXPECT_EQ(loc.profile, "default");
  EXPECT_EQ(loc.profile_origin, "default");
  env.Set("AWS_SHARED_CREDENTIALS_FILE", "~/c")
      .Set("AWS_CONFIG_FILE", "/etc/cfg")
      .Set("AWS_DEFAULT_PROFILE", "old");
  loc = ResolveProfileFileLocations("", "", "", ProcessEnvironment());
  EXPECT_EQ(loc.credentials_file, env.home() + "/c");
  EXPECT_EQ(loc.config_file, "/etc/cfg");
  EXPECT_EQ(loc.profile, "old");
  env.Set("AWS_PROFILE", "prod");
  loc = ResolveProfileFileLocations("", "", "", ProcessEnvironment());
  EXPECT_EQ(loc.profile, "prod");
  EXPECT_EQ(loc.profile_origin, "AWS_PROFILE");
  loc = ResolveProfileFileLocations("cli", "/x", "/y", ProcessEnvironment());
  EXPECT_EQ(loc.profile, "cli");
  EXPECT_EQ(loc.profile_origin, "explicit");
  EXPECT_EQ(loc.credentials_file, "/x");
}

Result<Credentials> ResolveProfile(ProfileProviderOptions o = {}) {
  return MakeProfileProvider(WithProcessEnv(std::move(o)))
      ->Resolve(Deadline::After(*SystemClock::Instance(), seconds(5)));
}

TEST(ProfileProvider, StaticKeysFromCredentialsFileWinOverConfig) {
  ScopedAwsEnv env;
  env.WriteFile(".aws/credentials",
                "[default]\naws_access_key_id = AKIACREDS\naws_secret_access_key = credsSECRET\n"
                "aws_session_token = credsTOKEN\n");
  env.WriteFile(".aws/config",
                "[default]\naws_access_key_id = AKIACONFIG\naws_secret_access_key = cfgSECRET\n");
  auto c = ResolveProfile();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIACREDS");
  EXPECT_EQ(c->secret_access_key.reveal(), "credsSECRET");
  EXPECT_EQ(c->session_token.reveal(), "credsTOKEN");
  EXPECT_EQ(c->source, "profile:default");
  EXPECT_FALSE(c->expiration.has_value());
}

TEST(ProfileProvider, SelectsProfileFromEnvironmentAndFilesFromVariables) {
  ScopedAwsEnv env;
  std::string creds =
      env.WriteFile("elsewhere/creds", "[prod]\naws_access_key_id = AKIAPROD\naws_secret_access_key = s\n");
  std::string config = env.WriteFile(
      "elsewhere/cfg", "[profile dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = s\n");
  env.Set("AWS_SHARED_CREDENTIALS_FILE", creds).Set("AWS_CONFIG_FILE", config).Set("AWS_PROFILE", "prod");
  auto c = ResolveProfile();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIAPROD");
  EXPECT_EQ(c->source, "profile:prod");
  ProfileProviderOptions o;
  o.profile = "dev";
  auto d = ResolveProfile(o);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->access_key_id, "AKIADEV");
}

TEST(ProfileProvider, MissingProfilesAndKeys) {
  ScopedAwsEnv env;
  auto none = ResolveProfile();
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound) << none.status().ToString();

  env.WriteFile(".aws/config", "[default]\nregion = eu-west-1\n[profile half]\naws_access_key_id = AKIA\n");
  auto region_only = ResolveProfile();
  EXPECT_EQ(region_only.status().code(), StatusCode::kNotFound);
  EXPECT_NE(region_only.status().message().find("no credentials"), std::string::npos);

  env.Set("AWS_PROFILE", "nope");
  auto missing = ResolveProfile();
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("AWS_PROFILE"), std::string::npos) << missing.status().message();

  env.Set("AWS_PROFILE", "half");
  auto half = ResolveProfile();
  EXPECT_EQ(half.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(half.status().message().find("aws_secret_access_key"), std::string::npos);
}

TEST(ProfileProvider, SyntaxErrorIsReported) {
  ScopedAwsEnv env;
  env.WriteFile(".aws/credentials", "aws_access_key_id = AKIA\n");
  auto r = ResolveProfile();
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(":1:"), std::string::npos);
}

TEST(ProfileProvider, RunsCredentialProcess) {
  ScopedAwsEnv env;
  env.WriteFile(
      ".aws/config",
      "[profile tool]\ncredential_process = echo '{\"Version\":1,\"AccessKeyId\":\"ASIATOOL\","
      "\"SecretAccessKey\":\"s\",\"SessionToken\":\"t\",\"Expiration\":\"2030-01-01T00:00:00Z\"}'\n");
  env.Set("AWS_PROFILE", "tool");
  auto c = ResolveProfile();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIATOOL");
  EXPECT_EQ(c->source, "credential_process:tool");
  EXPECT_TRUE(c->expiration.has_value());
}

TEST(ProfileProvider, RejectsSsoAndMfaProfiles) {
  ScopedAwsEnv env;
  env.WriteFile(
      ".aws/config",
      "[profile sso]\nsso_session = corp\nsso_account_id = 1\n"
      "[profile mfa]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\nmfa_serial = arn:mfa\n"
      "[profile base]\naws_access_key_id = AKIA\naws_secret_access_key = s\n");
  env.Set("AWS_PROFILE", "sso");
  auto sso = ResolveProfile();
  EXPECT_EQ(sso.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(sso.status().message().find("credential_process"), std::string::npos);
  env.Set("AWS_PROFILE", "mfa");
  auto mfa = ResolveProfile();
  EXPECT_EQ(mfa.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mfa.status().message().find("mfa_serial"), std::string::npos);
}

// A fake STS that answers AssumeRole for any role with credentials derived
// from the role name, and records the requests.
class FakeSts {
 public:
  FakeSts() {
    auto s = TestingHttpServer::Start([this](const ReceivedRequest& r) { return Handle(r); });
    EXPECT_TRUE(s.ok());
    server_ = std::move(s).value();
  }
  std::string url() const { return server_->Url("/"); }
  std::vector<ReceivedRequest> requests() const { return server_->requests(); }
  std::function<Reply(const ReceivedRequest&)> override_;

 private:
  Reply Handle(const ReceivedRequest& r) {
    if (override_) return override_(r);
    auto form = ParseForm(r.body);
    std::string role = form["RoleArn"].substr(form["RoleArn"].rfind('/') + 1);
    Reply reply;
    reply.body = StsCredentialsXml(form["Action"], "ASIA" + role, "secret-" + role, "token-" + role,
                                   "2030-01-01T00:00:00Z");
    return reply;
  }
  std::unique_ptr<TestingHttpServer> server_;
};

TEST(ProfileProvider, AssumesRoleWithSignedStsCall) {
  ScopedAwsEnv env;
  FakeSts sts;
  env.Set("AWS_ENDPOINT_URL_STS", sts.url());
  env.WriteFile(".aws/config",
                "[profile prod]\nrole_arn = arn:aws:iam::123456789012:role/PROD\nsource_profile = base\n"
                "role_session_name = patroni-1\nexternal_id = ext-42\nduration_seconds = 1800\n"
                "region = us-west-2\n");
  env.WriteFile(".aws/credentials",
                "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = baseSECRET\n");
  env.Set("AWS_PROFILE", "prod");
  ProfileProviderOptions o;
  o.transport = RealTransport();
  auto c = ResolveProfile(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIAPROD");
  EXPECT_EQ(c->secret_access_key.reveal(), "secret-PROD");
  EXPECT_EQ(c->session_token.reveal(), "token-PROD");
  EXPECT_EQ(c->source, "assume-role:prod");
  EXPECT_EQ(c->expiration, WallTime(seconds(1893456000)));

  auto reqs = sts.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  auto form = ParseForm(reqs[0].body);
  EXPECT_EQ(form["Action"], "AssumeRole");
  EXPECT_EQ(form["Version"], "2011-06-15");
  EXPECT_EQ(form["RoleArn"], "arn:aws:iam::123456789012:role/PROD");
  EXPECT_EQ(form["RoleSessionName"], "patroni-1");
  EXPECT_EQ(form["ExternalId"], "ext-42");
  EXPECT_EQ(form["DurationSeconds"], "1800");
  EXPECT_NE(std::string(reqs[0].Header("authorization")).find("/us-west-2/sts/aws4_request"),
            std::string::npos);
  Credentials base;
  base.access_key_id = "AKIABASE";
  base.secret_access_key = SecretString("baseSECRET");
  EXPECT_EQ(testing::VerifySigV4(reqs[0], base), "");
}

TEST(ProfileProvider, ChainsRolesThroughSourceProfiles) {
  ScopedAwsEnv env;
  FakeSts sts;
  env.Set("AWS_ENDPOINT_URL_STS", sts.url());
  env.WriteFile(".aws/config",
                "[profile top]\nrole_arn = arn:aws:iam::1:role/TOP\nsource_profile = mid\n"
                "[profile mid]\nrole_arn = arn:aws:iam::1:role/MID\nsource_profile = base\n"
                "[profile base]\ncredential_process = echo '{\"Version\":1,\"AccessKeyId\":\"AKIAPROC\","
                "\"SecretAccessKey\":\"procSECRET\"}'\n");
  env.Set("AWS_PROFILE", "top");
  ProfileProviderOptions o;
  o.transport = RealTransport();
  auto c = ResolveProfile(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIATOP");
  EXPECT_EQ(c->source, "assume-role:top");
  auto reqs = sts.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(ParseForm(reqs[0].body)["RoleArn"], "arn:aws:iam::1:role/MID");
  EXPECT_EQ(ParseForm(reqs[1].body)["RoleArn"], "arn:aws:iam::1:role/TOP");
  Credentials proc;
  proc.access_key_id = "AKIAPROC";
  proc.secret_access_key = SecretString("procSECRET");
  EXPECT_EQ(testing::VerifySigV4(reqs[0], proc), "");
  Credentials mid;
  mid.access_key_id = "ASIAMID";
  mid.secret_access_key = SecretString("secret-MID");
  mid.session_token = SecretString("token-MID");
  EXPECT_EQ(reqs[1].Header("x-amz-security-token"), "token-MID");
  EXPECT_EQ(testing::VerifySigV4(reqs[1], mid), "");
  // No region anywhere: the global endpoint's signing region.
  EXPECT_NE(std::string(reqs[1].Header("authorization")).find("/us-east-1/sts/aws4_request"),
            std::string::npos);
}

TEST(ProfileProvider, SelfReferenceUsesOwnKeys) {
  ScopedAwsEnv env;
  FakeSts sts;
  env.Set("AWS_ENDPOINT_URL_STS", sts.url());
  env.WriteFile(".aws/credentials",
                "[self]\naws_access_key_id = AKIASELF\naws_secret_access_key = selfSECRET\n"
                "role_arn = arn:aws:iam::1:role/SELFROLE\nsource_profile = self\n");
  env.Set("AWS_PROFILE", "self");
  ProfileProviderOptions o;
  o.transport = RealTransport();
  auto c = ResolveProfile(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIASELFROLE");
  ASSERT_EQ(sts.requests().size(), 1u);
  EXPECT_NE(std::string(sts.requests()[0].Header("authorization")).find("Credential=AKIASELF/"),
            std::string::npos);
}

TEST(ProfileProvider, DetectsCyclesAndDepth) {
  ScopedAwsEnv env;
  FakeSts sts;
  env.Set("AWS_ENDPOINT_URL_STS", sts.url());
  env.WriteFile(".aws/config",
                "[profile a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = b\n"
                "[profile b]\nrole_arn = arn:aws:iam::1:role/B\nsource_profile = a\n"
                "[profile d1]\nrole_arn = arn:aws:iam::1:role/D1\nsource_profile = d2\n"
                "[profile d2]\nrole_arn = arn:aws:iam::1:role/D2\nsource_profile = d3\n"
                "[profile d3]\nrole_arn = arn:aws:iam::1:role/D3\nsource_profile = d4\n"
                "[profile d4]\naws_access_key_id = AKIA\naws_secret_access_key = s\n");
  ProfileProviderOptions o;
  o.transport = RealTransport();
  o.profile = "a";
  auto cycle = ResolveProfile(o);
  EXPECT_EQ(cycle.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(cycle.status().message().find("cycle: a -> b -> a"), std::string::npos)
      << cycle.status().message();
  o.profile = "d1";
  o.max_role_chain_depth = 2;
  auto deep = ResolveProfile(o);
  EXPECT_EQ(deep.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(deep.status().message().find("longer than 2"), std::string::npos) << deep.status().message();
  o.max_role_chain_depth = 5;
  auto ok = ResolveProfile(o);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->access_key_id, "ASIAD1");
  EXPECT_EQ(sts.requests().size(), 3u);  // only the successful chain reached STS
}

TEST(ProfileProvider, CredentialSourceEnvironment) {
  ScopedAwsEnv env;
  FakeSts sts;
  env.Set("AWS_ENDPOINT_URL_STS", sts.url());
  env.WriteFile(".aws/config",
                "[default]\nrole_arn = arn:aws:iam::1:role/ENV\ncredential_source = Environment\n");
  ProfileProviderOptions o;
  o.transport = RealTransport();
  auto missing = ResolveProfile(o);
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument) << missing.status().ToString();
  env.Set("AWS_ACCESS_KEY_ID", "AKIAENV").Set("AWS_SECRET_ACCESS_KEY", "envSECRET");
  auto c = ResolveProfile(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIAENV");
  ASSERT_EQ(sts.requests().size(), 1u);
  Credentials e;
  e.access_key_id = "AKIAENV";
  e.secret_access_key = SecretString("envSECRET");
  EXPECT_EQ(testing::VerifySigV4(sts.requests()[0], e), "");
}

class ProfileStsFailures : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.Set("AWS_ENDPOINT_URL_STS", sts_.url());
    env_.WriteFile(".aws/config",
                   "[default]\nrole_arn = arn:aws:iam::1:role/R\nsource_profile = base\n"
                   "[profile base]\naws_access_key_id = AKIABASE\naws_secret_access_key = " +
                       std::string(kBaseSecret) + "\n");
  }
  Result<Credentials> Resolve(Duration deadline = seconds(5)) {
    ProfileProviderOptions o;
    o.transport = RealTransport();
    return MakeProfileProvider(WithProcessEnv(o))
        ->Resolve(Deadline::After(*SystemClock::Instance(), deadline));
  }
  static void ExpectNoSecrets(const Status& st) {
    for (const char* s : {kBaseSecret, kStsSecret, kStsToken}) {
      EXPECT_EQ(st.message().find(s), std::string::npos) << st.message();
    }
  }
  static constexpr char kBaseSecret[] = "baseSECRETzzz";
  static constexpr char kStsSecret[] = "stsSECRETyyy";
  static constexpr char kStsToken[] = "stsTOKENxxx";
  ScopedAwsEnv env_;
  FakeSts sts_;
};

TEST_F(ProfileStsFailures, StsErrorIsPermissionDenied) {
  sts_.override_ = [](const ReceivedRequest&) {
    Reply r;
    r.status = 403;
    r.reason = "Forbidden";
    r.body = StsErrorXml("AccessDenied",
                         "User: arn:aws:iam::1:user/base is not authorized to perform: sts:AssumeRole");
    return r;
  };
  auto c = Resolve();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(c.status().aws_error(), "AccessDenied");
  EXPECT_NE(c.status().message().find("not authorized to perform"), std::string::npos)
      << c.status().message();
  ExpectNoSecrets(c.status());
}

TEST_F(ProfileStsFailures, MalformedBodyIsReportedWithoutSecrets) {
  sts_.override_ = [](const ReceivedRequest&) {
    Reply r;
    std::string body = StsCredentialsXml("AssumeRole", "ASIA", kStsSecret, kStsToken, "2030-01-01T00:00:00Z");
    r.body = body.substr(0, body.find("</SessionToken>"));  // truncated
    return r;
  };
  auto c = Resolve();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kMalformedResponse) << c.status().ToString();
  ExpectNoSecrets(c.status());
}

TEST_F(ProfileStsFailures, SlowStsFailsWithinTheDeadline) {
  sts_.override_ = [](const ReceivedRequest& req) {
    Reply r;
    r.delay = milliseconds(3000);
    r.body = StsCredentialsXml("AssumeRole", "ASIA", kStsSecret, kStsToken, "2030-01-01T00:00:00Z");
    (void)req;
    return r;
  };
  auto start = std::chrono::steady_clock::now();
  auto c = Resolve(milliseconds(300));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().code() == StatusCode::kDeadlineExceeded ||
              c.status().code() == StatusCode::kUnavailable)
      << c.status().ToString();
  EXPECT_LT(elapsed, milliseconds(2500));
  ExpectNoSecrets(c.status());
}

TEST_F(ProfileStsFailures, ServerErrorIsUnavailable) {
  sts_.override_ = [](const ReceivedRequest&) {
    Reply r;
    r.status = 503;
    r.reason = "Service Unavailable";
    r.body = "<html>oops</html>";
    return r;
  };
  auto c = Resolve();
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable) << c.status().ToString();
}

}  // namespace
}  // namespace dynatroni::aws
