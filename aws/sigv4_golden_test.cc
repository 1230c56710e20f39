// Runs every case folder of an AWS SigV4 test suite in the aws-c-auth layout
// (context.json, request.txt, header-*.txt and optionally query-*.txt) through
// ComputeSignature and checks every stage.
//
// Suite directory: $DYNATRONI_SIGV4_SUITE when set (read when the binary starts, so the cases
// are the ones of that folder), else the project's copy in aws/testdata/sigv4
// (DYNATRONI_SIGV4_DEFAULT_SUITE, set by aws/CMakeLists.txt). ctest runs all of them as the one
// test Sigv4Golden (aws/CMakeLists.txt); see aws/README.md for running another suite.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aws/sigv4.h"

#ifndef DYNATRONI_SIGV4_DEFAULT_SUITE
#error "DYNATRONI_SIGV4_DEFAULT_SUITE must name the default test-vector directory"
#endif

namespace dynatroni::aws {
namespace {

namespace fs = std::filesystem;

fs::path SuiteDir() {
  const char* env = std::getenv("DYNATRONI_SIGV4_SUITE");
  return (env && *env) ? fs::path(env) : fs::path(DYNATRONI_SIGV4_DEFAULT_SUITE);
}

// Every sub-directory of the suite is a case (LICENSE/NOTICE files are not).
std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(SuiteDir(), ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory()) names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<std::string> ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct ParsedRequest {
  std::string method;
  std::string path;
  std::string query;
  http::Headers headers;  // names and values exactly as written (value after the first ':')
  std::string body;
};

// request.txt: "METHOD target HTTP/1.1", header lines (a line starting with
// whitespace continues the previous header), a blank line, the body. The target
// may contain spaces, so the version is taken from the last space.
std::optional<ParsedRequest> ParseRequest(const std::string& text) {
  ParsedRequest r;
  size_t pos = 0;
  auto next_line = [&](std::string* line) {
    if (pos >= text.size()) return false;
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl;
    *line = text.substr(pos, end - pos);
    if (!line->empty() && line->back() == '\r') line->pop_back();
    pos = nl == std::string::npos ? text.size() : nl + 1;
    return true;
  };
  std::string line;
  if (!next_line(&line)) return std::nullopt;
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string::npos || sp2 <= sp1) return std::nullopt;
  r.method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  while (next_line(&line) && !line.empty()) {
    if ((line[0] == ' ' || line[0] == '\t') && !r.headers.empty()) {
      r.headers.back().second += "\n" + line;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) return std::nullopt;
    r.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  r.body = text.substr(std::min(pos, text.size()));
  return r;
}

WallTime ParseIsoTime(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &sec) != 6) {
    ADD_FAILURE() << "bad timestamp in context.json: " << s;
  }
  using namespace std::chrono;
  return WallTime(sys_days(year(y) / month(static_cast<unsigned>(mo)) / day(static_cast<unsigned>(d)))) +
         hours(h) + minutes(mi) + seconds(sec);
}

std::string SignedRequestText(const ParsedRequest& r, const std::string& query, const http::Headers& extra) {
  std::string out = r.method + " " + r.path + (query.empty() ? "" : "?" + query) + " HTTP/1.1\n";
  for (const auto* hs : {&r.headers, &extra}) {
    for (const auto& [name, value] : *hs) out += name + ":" + value + "\n";
  }
  return out + "\n" + r.body;
}

class Sigv4Golden : public testing::TestWithParam<std::string> {
 protected:
  fs::path Dir() const { return SuiteDir() / GetParam(); }

  // Loads context.json and request.txt into input_/creds_/request_.
  void SetUp() override {
    auto context = ReadFile(Dir() / "context.json");
    auto request = ReadFile(Dir() / "request.txt");
    ASSERT_TRUE(context) << "missing " << (Dir() / "context.json");
    ASSERT_TRUE(request) << "missing " << (Dir() / "request.txt");
    auto parsed = ParseRequest(*request);
    ASSERT_TRUE(parsed) << "unparsable request.txt in " << Dir();
    request_ = *parsed;

    nlohmann::json ctx;
    try {
      ctx = nlohmann::json::parse(*context);
      const auto& c = ctx.at("credentials");
      creds_.access_key_id = c.at("access_key_id").get<std::string>();
      creds_.secret_access_key = SecretString(c.at("secret_access_key").get<std::string>());
      creds_.session_token = SecretString(c.value("token", std::string()));
      input_.region = ctx.at("region").get<std::string>();
      input_.service = ctx.at("service").get<std::string>();
      input_.time = ParseIsoTime(ctx.at("timestamp").get<std::string>());
      input_.normalize_path = ctx.value("normalize", true);
      input_.add_content_sha256_header = ctx.value("sign_body", false);
      input_.omit_session_token = ctx.value("omit_session_token", false);
      input_.expires_in = std::chrono::seconds(ctx.value("expiration_in_seconds", 3600));
    } catch (const nlohmann::json::exception& e) {
      FAIL() << "bad context.json in " << Dir() << ": " << e.what();
    }
    input_.method = request_.method;
    input_.path = request_.path;
    input_.query = request_.query;
    input_.headers = request_.headers;
    input_.payload = request_.body;
  }

  // Checks the four stages of one form against <prefix>-*.txt.
  void CheckForm(const std::string& prefix, const SigningStages& st) {
    auto expect_file = [&](const std::string& name, const std::string& actual) {
      auto expected = ReadFile(Dir() / (prefix + "-" + name + ".txt"));
      ASSERT_TRUE(expected) << "missing " << (Dir() / (prefix + "-" + name + ".txt"));
      EXPECT_EQ(actual, *expected) << prefix << "-" << name << " of " << GetParam();
    };
    expect_file("canonical-request", st.canonical_request);
    expect_file("string-to-sign", st.string_to_sign);
    expect_file("signature", st.signature);
    expect_file("signed-request", SignedRequestText(request_, st.query, st.headers_to_add));
  }

  ParsedRequest request_;
  SigningInput input_;
  Credentials creds_;
};

TEST_P(Sigv4Golden, HeaderFormMatchesEveryStage) {
  input_.location = SignatureLocation::kHeaders;
  auto st = ComputeSignature(input_, creds_);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  CheckForm("header", *st);
}

TEST_P(Sigv4Golden, QueryFormMatchesEveryStage) {
  if (!fs::exists(Dir() / "query-signature.txt")) {
    // Suites without presigned-URL vectors: nothing to compare, but the form must still sign.
    input_.location = SignatureLocation::kQuery;
    EXPECT_TRUE(ComputeSignature(input_, creds_).ok());
    return;
  }
  input_.location = SignatureLocation::kQuery;
  auto st = ComputeSignature(input_, creds_);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  CheckForm("query", *st);
}

std::string CaseTestName(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Suite, Sigv4Golden, testing::ValuesIn(CaseNames()), CaseTestName);

// The guard of a run: it fails when the suite directory is missing, when it yields no case folders (so
// nothing was instantiated), and when the gtest filter selects none of the instantiated golden tests.
// It runs with the cases (ctest's Sigv4Golden test: --gtest_filter=Suite/Sigv4Golden.*:Sigv4GoldenSuite.*),
// so that a run of another suite cannot pass without running any of its cases.
TEST(Sigv4GoldenSuite, SuiteDirectoryHasCasesAndTheRunSelectsThem) {
  ASSERT_TRUE(fs::is_directory(SuiteDir())) << "SigV4 suite directory missing: " << SuiteDir()
                                            << " (set DYNATRONI_SIGV4_SUITE or restore aws/testdata/sigv4)";
  int instantiated = 0;
  int selected = 0;
  const testing::UnitTest& unit = *testing::UnitTest::GetInstance();
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const testing::TestSuite& suite = *unit.GetTestSuite(i);
    if (std::string_view(suite.name()) != "Suite/Sigv4Golden") continue;
    for (int j = 0; j < suite.total_test_count(); ++j) {
      ++instantiated;
      if (suite.GetTestInfo(j)->should_run()) ++selected;
    }
  }
  const size_t cases = CaseNames().size();
  std::printf("[ SIGV4    ] suite %s: %zu case folders, %d golden tests, %d selected by the filter\n",
              fs::absolute(SuiteDir()).string().c_str(), cases, instantiated, selected);
  ASSERT_GT(cases, 0u) << "SigV4 suite directory has no case folders: " << SuiteDir();
  EXPECT_EQ(instantiated, static_cast<int>(2 * cases)) << "every case folder is a header and a query test";
  EXPECT_GT(selected, 0) << "the gtest filter selects none of the " << instantiated << " golden tests of "
                         << SuiteDir() << "; the run would check nothing";
}

TEST(Sigv4GoldenSuite, RequestParserHandlesRepeatsFoldsAndBodies) {
  auto r = ParseRequest("POST /a b/?x=1 HTTP/1.1\r\nHost:h\r\nMy: v1\r\n  more\r\nMy:v2\r\n\r\nbody\nline");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/a b/");
  EXPECT_EQ(r->query, "x=1");
  http::Headers expected = {{"Host", "h"}, {"My", " v1\n  more"}, {"My", "v2"}};
  EXPECT_EQ(r->headers, expected);
  EXPECT_EQ(r->body, "body\nline");
  EXPECT_FALSE(ParseRequest(""));
  EXPECT_FALSE(ParseRequest("GET / HTTP/1.1\nno-colon-here\n"));
}

}  // namespace
}  // namespace dynatroni::aws
