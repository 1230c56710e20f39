#include "aws/sigv4.h"

#include <ctime>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aws/crypto.h"
#include "aws/sigv4_test_support.h"

namespace dynatroni::aws {
namespace {

using namespace std::chrono_literals;

using testing::ExampleCreds;  // aws/sigv4_test_support.h
using testing::kSuiteTime;

SigningInput BasicInput() {
  SigningInput in;
  in.method = "GET";
  in.path = "/";
  in.headers = {{"Host", "example.amazonaws.com"}};
  in.region = "us-east-1";
  in.service = "service";
  in.time = kSuiteTime;
  return in;
}

// The canonical request's lines, for checking one of them.
std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t nl = s.find('\n', pos);
    out.push_back(s.substr(pos, nl - pos));
    if (nl == std::string::npos) return out;
    pos = nl + 1;
  }
}

std::string CanonicalUriOf(const std::string& path, bool normalize) {
  SigningInput in = BasicInput();
  in.path = path;
  in.normalize_path = normalize;
  auto st = ComputeSignature(in, ExampleCreds());
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  return st.ok() ? Lines(st->canonical_request)[1] : "";
}

std::string CanonicalQueryOf(const std::string& query) {
  SigningInput in = BasicInput();
  in.query = query;
  auto st = ComputeSignature(in, ExampleCreds());
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  return st.ok() ? Lines(st->canonical_request)[2] : "";
}

TEST(Sigv4, FormatsAmzDateInUtcTruncatingSubSeconds) {
  EXPECT_EQ(FormatAmzDate(kSuiteTime), "20150830T123600Z");
  EXPECT_EQ(FormatAmzDate(kSuiteTime + 999ms), "20150830T123600Z");
  EXPECT_EQ(FormatAmzDate(WallTime(std::chrono::seconds(0))), "19700101T000000Z");
}

TEST(Sigv4, DerivesTheSigningKeyOfTheAwsDocumentationExample) {
  // AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
  EXPECT_EQ(crypto::HexLower(
                DeriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(Sigv4, NormalizesAndDoubleEncodesPaths) {
  EXPECT_EQ(CanonicalUriOf("/a/./b/../c//", true), "/a/c/");
  EXPECT_EQ(CanonicalUriOf("/../..", true), "/");
  EXPECT_EQ(CanonicalUriOf("", true), "/");
  EXPECT_EQ(CanonicalUriOf("/a/./b/../c//", false), "/a/./b/../c//");
  EXPECT_EQ(CanonicalUriOf("/a b/~x", false), "/a%20b/~x");
  // The wire form is encoded once more, as non-S3 services expect.
  EXPECT_EQ(CanonicalUriOf("/a%2Fb", true), "/a%252Fb");
}

TEST(Sigv4, CanonicalQueryIsDecodedReencodedAndSorted) {
  EXPECT_EQ(CanonicalQueryOf(""), "");
  EXPECT_EQ(CanonicalQueryOf("b=2&a=1&a=0"), "a=0&a=1&b=2");
  EXPECT_EQ(CanonicalQueryOf("c=x%20y&d=a+b&e&&f=%zz"), "c=x%20y&d=a%2Bb&e=&f=%25zz");
  EXPECT_EQ(CanonicalQueryOf("k=%e1%88%b4/"), "k=%E1%88%B4%2F");
  EXPECT_EQ(CanonicalQueryOf("B=1&a=1"), "B=1&a=1");  // byte order: upper case first
}

TEST(Sigv4, CanonicalHeadersAreLowerCasedTrimmedJoinedAndSorted) {
  SigningInput in = BasicInput();
  in.headers = {{"Zeta", "  a   b\t c  "}, {"Host", "example.amazonaws.com"}, {"My-Header", "v2"},
                {"my-header", "v1"},       {"User-Agent", "dynatroni/1"},     {"X-Amzn-Trace-Id", "t"}};
  auto st = ComputeSignature(in, ExampleCreds());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->signed_headers, "host;my-header;x-amz-date;zeta");
  EXPECT_NE(st->canonical_request.find("\nhost:example.amazonaws.com\nmy-header:v2,v1\n"
                                       "x-amz-date:20150830T123600Z\nzeta:a b c\n\n"),
            std::string::npos)
      << st->canonical_request;
  ASSERT_EQ(st->headers_to_add.size(), 2u);
  EXPECT_EQ(st->headers_to_add[0], (std::pair<std::string, std::string>("X-Amz-Date", "20150830T123600Z")));
  EXPECT_EQ(st->headers_to_add[1].first, "Authorization");
  EXPECT_EQ(st->headers_to_add[1].second, st->authorization);
}

TEST(Sigv4, SessionTokenIsAddedAndSigned) {
  auto st = ComputeSignature(BasicInput(), ExampleCreds("TOKEN"));
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->signed_headers, "host;x-amz-date;x-amz-security-token");
  EXPECT_NE(st->canonical_request.find("\nx-amz-security-token:TOKEN\n"), std::string::npos);
  EXPECT_EQ(st->headers_to_add.front(),
            (std::pair<std::string, std::string>("X-Amz-Security-Token", "TOKEN")));
  auto without = ComputeSignature(BasicInput(), ExampleCreds());
  ASSERT_TRUE(without.ok());
  EXPECT_NE(st->signature, without->signature);
}

TEST(Sigv4, OmittedSessionTokenIsSentButNotSigned) {
  SigningInput in = BasicInput();
  in.omit_session_token = true;
  auto st = ComputeSignature(in, ExampleCreds("TOKEN"));
  auto plain = ComputeSignature(BasicInput(), ExampleCreds());
  ASSERT_TRUE(st.ok() && plain.ok());
  EXPECT_EQ(st->signature, plain->signature);
  EXPECT_EQ(st->headers_to_add.front().first, "X-Amz-Security-Token");
}

TEST(Sigv4, AuthorizationHeaderHasCredentialScopeSignedHeadersAndSignature) {
  auto st = ComputeSignature(BasicInput(), ExampleCreds());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" +
                st->signature);
  EXPECT_EQ(st->signature.size(), 64u);
  EXPECT_EQ(st->string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n" +
                crypto::Sha256Hex(st->canonical_request));
}

TEST(Sigv4, PayloadHashIsTheBodyHash) {
  SigningInput in = BasicInput();
  in.payload = "{\"a\":1}";
  auto st = ComputeSignature(in, ExampleCreds());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(Lines(st->canonical_request).back(), crypto::Sha256Hex("{\"a\":1}"));
}

TEST(Sigv4, RejectsUnusableInput) {
  SigningInput no_host = BasicInput();
  no_host.headers = {{"X-Other", "1"}};
  EXPECT_EQ(ComputeSignature(no_host, ExampleCreds()).status().code(), StatusCode::kInvalidArgument);

  SigningInput signed_twice = BasicInput();
  signed_twice.headers.emplace_back("Authorization", "x");
  EXPECT_EQ(ComputeSignature(signed_twice, ExampleCreds()).status().code(), StatusCode::kInvalidArgument);

  SigningInput wrong_date = BasicInput();
  wrong_date.headers.emplace_back("X-Amz-Date", "20000101T000000Z");
  EXPECT_EQ(ComputeSignature(wrong_date, ExampleCreds()).status().code(), StatusCode::kInvalidArgument);
  SigningInput right_date = BasicInput();
  right_date.headers.emplace_back("X-Amz-Date", "20150830T123600Z");
  EXPECT_TRUE(ComputeSignature(right_date, ExampleCreds()).ok());

  Credentials no_secret = ExampleCreds();
  no_secret.secret_access_key = SecretString();
  auto st = ComputeSignature(BasicInput(), no_secret);
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.status().message().find("secret_access_key"), std::string::npos);

  SigningInput long_expiry = BasicInput();
  long_expiry.location = SignatureLocation::kQuery;
  long_expiry.expires_in = std::chrono::hours(24 * 8);
  EXPECT_EQ(ComputeSignature(long_expiry, ExampleCreds()).status().code(), StatusCode::kInvalidArgument);
}

TEST(Sigv4, QueryFormPutsTheSignatureInTheQuery) {
  SigningInput in = BasicInput();
  in.query = "b=1";
  in.location = SignatureLocation::kQuery;
  in.expires_in = 60s;
  auto st = ComputeSignature(in, ExampleCreds("T/+"));
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(st->authorization.empty());
  EXPECT_TRUE(st->headers_to_add.empty());
  EXPECT_EQ(st->signed_headers, "host");
  EXPECT_EQ(
      st->query,
      "b=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice"
      "%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=60"
      "&X-Amz-Security-Token=T%2F%2B&X-Amz-Signature=" +
          st->signature);
  EXPECT_EQ(Lines(st->canonical_request)[2],
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice"
            "%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-Security-Token=T%2F%2B"
            "&X-Amz-SignedHeaders=host&b=1");
}

// The presigned URL of a request whose session token is sent but not signed (omit_session_token): the
// token still goes before X-Amz-Signature, where aws-c-auth (the signer of the suite in testdata/sigv4)
// puts it, signed or not. Unsigned, it leaves the signature that of the suite's get-vanilla case.
TEST(Sigv4, QueryFormPutsAnOmittedSessionTokenBeforeTheSignature) {
  SigningInput in = BasicInput();
  in.location = SignatureLocation::kQuery;
  in.omit_session_token = true;
  auto st = ComputeSignature(in, ExampleCreds("T/+"));
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->canonical_request.find("Security-Token"), std::string::npos);
  const std::string get_vanilla_signature =
      "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d";
  EXPECT_EQ(st->signature, get_vanilla_signature);
  EXPECT_EQ(st->query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice"
            "%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600"
            "&X-Amz-Security-Token=T%2F%2B&X-Amz-Signature=" +
                get_vanilla_signature);
}

// ---- ParseHttpDate / ClockSkew -------------------------------------------------

const WallTime kOct21 = WallTime(std::chrono::seconds(1445412480));  // 2015-10-21 07:28:00 UTC

TEST(HttpDate, ParsesRfc1123Rfc850AndAsctime) {
  for (const char* s : {"Wed, 21 Oct 2015 07:28:00 GMT", "Wednesday, 21-Oct-15 07:28:00 GMT",
                        "Wed Oct 21 07:28:00 2015", "  Wed, 21 Oct 2015 07:28:00 GMT  "}) {
    auto t = ParseHttpDate(s);
    ASSERT_TRUE(t.ok()) << s << ": " << t.status().ToString();
    EXPECT_EQ(*t, kOct21) << s;
  }
  auto leap = ParseHttpDate("Sun, 29 Feb 2004 00:00:00 GMT");
  ASSERT_TRUE(leap.ok());
  EXPECT_EQ(FormatAmzDate(*leap), "20040229T000000Z");
  auto y1999 = ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT");
  ASSERT_TRUE(y1999.ok());
  EXPECT_EQ(FormatAmzDate(*y1999), "19941106T084937Z");
}

TEST(HttpDate, RejectsMalformedDates) {
  for (const char* s :
       {"", "garbage", "Wed, 32 Oct 2015 07:28:00 GMT", "Sun, 29 Feb 2015 00:00:00 GMT",
        "Wed, 21 Oct 2015 07:28:00 PST", "Wed, 21 Foo 2015 07:28:00 GMT", "Wed, 21 Oct 2015 24:00:00 GMT",
        "Wed, 21 Oct 2015 07:28 GMT", "Wed, 21 Oct 2015 07:28:00 GMT trailing", "20151021T072800Z"}) {
    EXPECT_EQ(ParseHttpDate(s).status().code(), StatusCode::kInvalidArgument) << s;
  }
}

// Regression (fuzz/fuzz_sigv4): a server Date in year 4030 overflowed the
// nanosecond WallTime (UBSan); such dates are refused and never adopted.
TEST(HttpDate, YearsBeyondTheWallTimeRangeAreRefusedNotOverflowed) {
  for (const char* s : {"Wed, 21 Oct 4030 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
                        "Thu, 01 Jan 1970 00:00:00 GMT", "Wed Oct 21 07:28:00 2300"}) {
    auto t = ParseHttpDate(s);
    if (std::string_view(s).find("1970") != std::string_view::npos) {
      EXPECT_TRUE(t.ok()) << s;
    } else {
      EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << s;
    }
  }
  EXPECT_EQ(ParseHttpDate("Tue, 31 Dec 1969 23:59:59 GMT").status().code(), StatusCode::kInvalidArgument);
  ClockSkew skew;
  EXPECT_FALSE(skew.UpdateFromServerDate("Wed, 21 Oct 4030 07:28:00 GMT", kOct21));
  EXPECT_EQ(skew.offset(), Duration(0));
}

TEST(ClockSkew, IgnoresSmallDifferencesAndAdoptsLargeOnes) {
  ClockSkew skew;
  EXPECT_EQ(skew.Adjust(kOct21), kOct21);
  // Server 3 s ahead: within noise, nothing changes.
  EXPECT_FALSE(skew.UpdateFromServerDate("Wed, 21 Oct 2015 07:28:03 GMT", kOct21));
  EXPECT_EQ(skew.offset(), Duration(0));
  // Server 10 min ahead: adopt it.
  EXPECT_TRUE(skew.UpdateFromServerDate("Wed, 21 Oct 2015 07:38:00 GMT", kOct21));
  EXPECT_EQ(skew.offset(), 10min);
  EXPECT_EQ(skew.Adjust(kOct21), kOct21 + 10min);
  // A measurement close to the current offset changes nothing.
  EXPECT_FALSE(skew.UpdateFromServerDate("Wed, 21 Oct 2015 07:38:02 GMT", kOct21));
  EXPECT_EQ(skew.offset(), 10min);
  // The local clock got fixed: the offset follows back.
  EXPECT_TRUE(skew.UpdateFromServerDate("Wed, 21 Oct 2015 07:28:00 GMT", kOct21));
  EXPECT_EQ(skew.offset(), Duration(0));
  // Server behind us, and unparsable dates.
  EXPECT_TRUE(skew.UpdateFromServerDate("Wed, 21 Oct 2015 07:20:00 GMT", kOct21));
  EXPECT_EQ(skew.offset(), -8min);
  EXPECT_FALSE(skew.UpdateFromServerDate("not a date", kOct21));
  EXPECT_EQ(skew.offset(), -8min);
}

// ---- Signer: the generic pieces (the DynamoDB request is dynamodb/request_signing_test.cc) ----

TEST(Signer, SignMatchesComputeSignatureAndCachesTheKey) {
  Signer signer("us-east-1", "service");
  SigningInput in = BasicInput();
  auto direct = ComputeSignature(in, ExampleCreds("tok"));
  ASSERT_TRUE(direct.ok());
  for (int i = 0; i < 3; ++i) {
    auto st = signer.Sign(in, ExampleCreds("tok"));
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_EQ(st->authorization, direct->authorization);
    EXPECT_EQ(st->canonical_request, direct->canonical_request);
  }
  EXPECT_EQ(signer.signing_key_derivations(), 1u);
  in.region = "eu-west-1";  // not the signer's: derived afresh, not cached
  auto other = signer.Sign(in, ExampleCreds("tok"));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->authorization, ComputeSignature(in, ExampleCreds("tok"))->authorization);
  EXPECT_EQ(signer.signing_key_derivations(), 1u);
}

TEST(Signer, AuthorizesACallersCanonicalRequestAsComputeSignatureDoes) {
  Signer signer("us-east-1", "service");
  SigningInput in = BasicInput();
  in.headers.emplace_back("X-Amz-Date", FormatAmzDate(in.time));
  auto st = ComputeSignature(in, ExampleCreds());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(signer.AuthorizeCanonicalRequest(st->canonical_request, st->signed_headers, st->amz_date,
                                             ExampleCreds()),
            st->authorization);
}

TEST(Sigv4, FormatAmzDateAgreesWithGmtime) {
  for (int64_t secs : {int64_t{0}, int64_t{951782400} /* 2000-02-29 */, int64_t{1440938160},
                       int64_t{4102444799} /* 2099-12-31T23:59:59 */, int64_t{1234567890}, int64_t{86399}}) {
    const std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    ASSERT_NE(gmtime_r(&tt, &tm), nullptr);
    char expected[32];
    ASSERT_GT(std::strftime(expected, sizeof(expected), "%Y%m%dT%H%M%SZ", &tm), 0u);
    EXPECT_EQ(FormatAmzDate(WallTime(std::chrono::seconds(secs)) + 999ms), expected);
  }
}

}  // namespace
}  // namespace dynatroni::aws
