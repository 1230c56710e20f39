#include "http/endpoint.h"

#include <string>

#include <gtest/gtest.h>

namespace dynatroni::http {
namespace {

TEST(ParseUrl, SplitsSchemeHostPortAndPath) {
  auto u = ParseUrl("HTTP://Host.Example:8080/a/b?x=1#frag", "f");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "Host.Example");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path_and_query, "/a/b?x=1");
  EXPECT_EQ(u->HostHeader(), "Host.Example:8080");

  auto query_only = ParseUrl("https://h?x=1", "f");
  ASSERT_TRUE(query_only.ok());
  EXPECT_EQ(query_only->path_and_query, "/?x=1");
  EXPECT_EQ(query_only->HostHeader(), "h");

  auto v6 = ParseUrl("http://[fd00:ec2::254]:80/latest", "f");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "fd00:ec2::254");
  EXPECT_EQ(v6->port, 80);
  EXPECT_EQ(v6->HostHeader(), "[fd00:ec2::254]");
  EXPECT_EQ(ParseUrl("https://h:8443", "f")->HostHeader(), "h:8443");
}

TEST(ParseUrl, KeepsAnIpv4HostAndElidesOnlyTheSchemesDefaultPort) {
  auto ip = ParseUrl("http://127.0.0.1:8080/a/b?x=1", "f");
  ASSERT_TRUE(ip.ok()) << ip.status().ToString();
  EXPECT_EQ(ip->host, "127.0.0.1");
  EXPECT_EQ(ip->port, 8080);
  EXPECT_EQ(ip->HostHeader(), "127.0.0.1:8080");

  auto v6 = ParseUrl("HTTP://[fd00:ec2::23]/creds", "f");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "fd00:ec2::23");
  EXPECT_EQ(v6->port, 0);
  EXPECT_EQ(v6->path_and_query, "/creds");
  EXPECT_EQ(v6->HostHeader(), "[fd00:ec2::23]");

  auto bare = ParseUrl("https://sts.amazonaws.com", "f");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->port, 0);
  EXPECT_EQ(bare->path_and_query, "/");
  EXPECT_EQ(ParseUrl("https://h:443/", "f")->HostHeader(), "h");
  EXPECT_EQ(ParseUrl("http://h:443/", "f")->HostHeader(), "h:443");
}

TEST(ParseUrl, EachRefusalNamesTheFieldAndTheReasonNeverTheInput) {
  const struct {
    const char* url;
    const char* why;
  } cases[] = {
      {"h:80/secret", "no scheme"},
      {"ftp://secret/", "scheme is not http or https"},
      {"http://user:secret@h/", "user info is not allowed"},
      {"http://[::1/secret", "unterminated IPv6 literal"},
      {"http://[::1]x/secret", "junk after IPv6 literal"},
      {"http://[::1]:/secret", "empty port"},
      {"http://secret:/", "empty port"},
      {"http:///secret", "no host"},
      {"http://", "no host"},
      {"http://se cret/", "invalid character in host"},
      {"http://secret:8x/", "port is not a number"},
      {"http://secret:65536/", "port out of range"},
      {"http://secret:99999/", "port out of range"},
      {"http://secret:0/", "port out of range"},
  };
  for (const auto& c : cases) {
    auto r = ParseUrl(c.url, "SOME_FIELD");
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(),
              std::string("SOME_FIELD must be an absolute http:// or https:// URL (") + c.why + ")")
        << c.url;
  }
}

TEST(ParseEndpoint, ParsesOnceIntoSchemeHostPortHostHeaderAndUrl) {
  auto e = ParseEndpoint("HTTPS://DynamoDB.US-East-1.amazonaws.com/", "endpoint_url");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->scheme, "https");
  EXPECT_EQ(e->host, "dynamodb.us-east-1.amazonaws.com");
  EXPECT_EQ(e->port, 0);
  EXPECT_EQ(e->host_header, "dynamodb.us-east-1.amazonaws.com");
  EXPECT_EQ(e->url, "https://dynamodb.us-east-1.amazonaws.com");
  EXPECT_FALSE(e->is_plain_http());

  auto local = ParseEndpoint("http://127.0.0.1:8000", "endpoint_url");
  ASSERT_TRUE(local.ok());
  EXPECT_TRUE(local->is_plain_http());
  EXPECT_EQ(local->port, 8000);
  EXPECT_EQ(local->host_header, "127.0.0.1:8000");
  EXPECT_EQ(local->url, "http://127.0.0.1:8000");

  // A default port stays in the URL as given but not in the Host header.
  auto explicit_default = ParseEndpoint("https://h:443", "endpoint_url");
  ASSERT_TRUE(explicit_default.ok());
  EXPECT_EQ(explicit_default->url, "https://h:443");
  EXPECT_EQ(explicit_default->host_header, "h");
  // The Host header keeps the port as written: only exactly "443"/"80" is the default.
  auto leading_zero = ParseEndpoint("http://h:080", "endpoint_url");
  ASSERT_TRUE(leading_zero.ok());
  EXPECT_EQ(leading_zero->port, 80);
  EXPECT_EQ(leading_zero->host_header, "h:080");

  auto v6 = ParseEndpoint("http://[FD00::1]:4567", "endpoint_url");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "[fd00::1]");
  EXPECT_EQ(v6->host_header, "[fd00::1]:4567");
  EXPECT_EQ(v6->url, "http://[fd00::1]:4567");
}

TEST(ParseEndpoint, EachRefusalNamesTheFieldQuotesTheUrlAndGivesTheReason) {
  const struct {
    const char* url;
    const char* why;
  } cases[] = {
      {"localhost:8000", "the scheme must be http:// or https://"},
      {"http://host/path", "no path, query or fragment allowed"},
      {"http://host?q=1", "no path, query or fragment allowed"},
      {"http://host#f", "no path, query or fragment allowed"},
      {"http://host//", "no path, query or fragment allowed"},
      {"http://[::1", "unterminated IPv6 address"},
      {"http://[]", "unterminated IPv6 address"},
      {"http://[zz]", "invalid IPv6 address"},
      {"http://[::1]x", "junk after the IPv6 address"},
      {"http://host:0", "the port must be 1-65535"},
      {"http://host:65536", "the port must be 1-65535"},
      {"http://host:080000", "the port must be 1-65535"},
      {"http://host:80a", "the port must be 1-65535"},
      {"http://host:", "the port must be 1-65535"},
      {"http://", "invalid host name"},
      {"http://ho st", "invalid host name"},
  };
  for (const auto& c : cases) {
    auto r = ParseEndpoint(c.url, "endpoint_url");
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), std::string("endpoint_url: \"") + c.url +
                                        "\" is not a usable endpoint URL (" + c.why +
                                        "); expected http(s)://host[:port], e.g. http://127.0.0.1:8000")
        << c.url;
  }
}

TEST(ParseEndpoint, NeverEchoesAUrlWithUserInfo) {
  auto r = ParseEndpoint("http://user:hunter2@host", "dynamodb.endpoint_url");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "dynamodb.endpoint_url: is not a usable endpoint URL (credentials in the URL are not allowed); "
            "expected http(s)://host[:port], e.g. http://127.0.0.1:8000");
}

TEST(RequestTarget, RemovesDotSegmentsAndAnEmptyQueryAsLibcurlDid) {
  // The targets libcurl 7.88's URL parser produced for these URLs, which the
  // transport parsed before requests carried their parsed endpoint.
  struct Case {
    const char* url;
    const char* target;
  };
  for (const Case& c :
       {Case{"http://h", "/"}, Case{"http://h/a/../b", "/b"}, Case{"http://h/a/./b/..", "/a/"},
        Case{"http://h/?", "/"}, Case{"http://h/p?q#f", "/p?q"}, Case{"http://h//x", "//x"},
        Case{"http://h/a%2e%2e/b", "/a%2e%2e/b"}, Case{"http://h/../x", "/x"},
        Case{"http://h/a/b/../../..", "/"}, Case{"http://h/a?x=/../y", "/a?x=/../y"},
        Case{"http://h?x=1", "/?x=1"}}) {
    auto url = ParseUrl(c.url, "url");
    ASSERT_TRUE(url.ok()) << c.url;
    EXPECT_EQ(RequestTarget(*url), c.target) << c.url;
  }
}

TEST(OriginOf, KeepsTheHostAsWrittenAndBracketsIpv6) {
  auto v6 = ParseUrl("http://[fd00:ec2::254]/latest", "url");
  ASSERT_TRUE(v6.ok());
  Endpoint e = OriginOf(*v6);
  EXPECT_EQ(e.scheme, "http");
  EXPECT_EQ(e.host, "[fd00:ec2::254]");
  EXPECT_EQ(e.port, 0);
  EXPECT_EQ(e.host_header, "[fd00:ec2::254]");
  EXPECT_EQ(e.url, "http://[fd00:ec2::254]");
  auto named = ParseUrl("https://Sts.Example:8443/x", "url");
  ASSERT_TRUE(named.ok());
  e = OriginOf(*named);
  EXPECT_EQ(e.host, "Sts.Example");
  EXPECT_EQ(e.port, 8443);
  EXPECT_EQ(e.host_header, "Sts.Example:8443");
  EXPECT_EQ(e.url, "https://Sts.Example:8443");
}

}  // namespace
}  // namespace dynatroni::http
