#include "http/http1.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>

namespace dynatroni::http::http1 {
namespace {

using namespace std::string_literals;

constexpr RequestContext kContext{"/", "dynamodb.us-east-1.amazonaws.com", "dynatroni/test"};

std::string Frame(const Request& request, const RequestContext& context = kContext) {
  std::string out;
  AppendRequest(request, context, &out);
  return out;
}

Request Make(std::string method, Headers headers = {}, std::string body = "") {
  Request request;
  request.method = std::move(method);
  request.headers = std::move(headers);
  request.body = std::move(body);
  return request;
}

// What one reader made of a byte stream: the first error (or OK) and its state after the last call.
struct Outcome {
  Status status;
  bool done = false;
  bool keep_alive = false;
  size_t leftover = 0;
  Response response;  // when done
};

// Feeds `pieces` in order (stopping at the first error), then the end of the connection when `eof`.
Outcome FeedAll(const std::vector<std::string_view>& pieces, bool eof = false, bool head_request = false,
                size_t max_body_bytes = ResponseReader::kDefaultMaxBodyBytes) {
  ResponseReader reader(head_request, max_body_bytes);
  Outcome outcome;
  for (std::string_view piece : pieces) {
    outcome.status = reader.Feed(piece);
    if (!outcome.status.ok()) break;
  }
  if (outcome.status.ok() && eof) outcome.status = reader.FeedEof();
  outcome.done = reader.done();
  outcome.keep_alive = reader.keep_alive();
  outcome.leftover = reader.leftover_bytes();
  if (outcome.done) outcome.response = reader.TakeResponse();
  return outcome;
}

Outcome RunWhole(std::string_view bytes, bool eof = false, bool head_request = false) {
  return FeedAll({bytes}, eof, head_request);
}

// The first error of feeding `bytes` whole (then EOF): must be kMalformedResponse.
Status MalformedWhole(std::string_view bytes, size_t max_body_bytes = ResponseReader::kDefaultMaxBodyBytes) {
  return FeedAll({bytes}, /*eof=*/true, /*head_request=*/false, max_body_bytes).status;
}

void ExpectSameOutcome(const Outcome& got, const Outcome& want, const std::string& where) {
  SCOPED_TRACE(where);
  EXPECT_EQ(got.status, want.status) << got.status.ToString();
  EXPECT_EQ(got.done, want.done);
  EXPECT_EQ(got.keep_alive, want.keep_alive);
  EXPECT_EQ(got.leftover, want.leftover);
  EXPECT_EQ(got.response.status, want.response.status);
  EXPECT_EQ(got.response.headers, want.response.headers);
  EXPECT_EQ(got.response.body, want.response.body);
}

std::string DynamoDbLikeResponse() {
  const std::string body = R"({"Item":{"pk":{"S":"cluster/a"},"sk":{"S":"leader"},"v":{"N":"17"}}})";
  return "HTTP/1.1 200 OK\r\n"
         "x-amzn-RequestId: 4KBNVRGD25RG4KOVFQVQ8HHKQNVV4KQNSO5AEMVJF66Q9ASUAAJG\r\n"
         "x-amz-crc32: 123\r\n"
         "Content-Type: application/x-amz-json-1.0\r\n"
         "Content-Length: " +
         std::to_string(body.size()) +
         "\r\n"
         "Date: Fri, 27 Nov 2026 05:00:00 GMT\r\n"
         "\r\n" +
         body;
}

// ---------------------------------------------------------------- AppendRequest

TEST(Unit, Http1RequestLineThenHeadersInOrderThenDefaultsThenContentLength) {
  Request request = Make("POST",
                         {{"X-Amz-Target", "DynamoDB_20120810.GetItem"},
                          {"Content-Type", "application/x-amz-json-1.0"},
                          {"x-amz-date", "20261127T050000Z"}},
                         R"({"TableName":"t"})");
  EXPECT_EQ(Frame(request, {"/path?a=1&b=2", "example.com:8000", "dynatroni/1.2.3"}),
            "POST /path?a=1&b=2 HTTP/1.1\r\n"
            "X-Amz-Target: DynamoDB_20120810.GetItem\r\n"
            "Content-Type: application/x-amz-json-1.0\r\n"
            "x-amz-date: 20261127T050000Z\r\n"
            "Host: example.com:8000\r\n"
            "User-Agent: dynatroni/1.2.3\r\n"
            "Accept: */*\r\n"
            "Content-Length: 17\r\n"
            "\r\n"
            R"({"TableName":"t"})");
}

TEST(Unit, Http1RequestOwnHostUserAgentAndAcceptReplaceTheDefaultsCaseInsensitively) {
  Request request =
      Make("GET", {{"hOsT", "other:1"}, {"USER-AGENT", "mine/2"}, {"accept", "application/json"}});
  EXPECT_EQ(Frame(request),
            "GET / HTTP/1.1\r\n"
            "hOsT: other:1\r\n"
            "USER-AGENT: mine/2\r\n"
            "accept: application/json\r\n"
            "\r\n");
  // Only the one the request carries is replaced; the others are still added.
  EXPECT_EQ(Frame(Make("GET", {{"User-Agent", "mine/2"}})),
            "GET / HTTP/1.1\r\n"
            "User-Agent: mine/2\r\n"
            "Host: dynamodb.us-east-1.amazonaws.com\r\n"
            "Accept: */*\r\n"
            "\r\n");
}

TEST(Unit, Http1RequestWithoutContextUserAgentSendsNone) {
  EXPECT_EQ(Frame(Make("GET"), {"/x", "h", ""}),
            "GET /x HTTP/1.1\r\n"
            "Host: h\r\n"
            "Accept: */*\r\n"
            "\r\n");
}

TEST(Unit, Http1RequestEmptyHeaderValueIsSentAsNameColon) {
  const std::string framed = Frame(Make("GET", {{"X-Empty", ""}, {"X-Full", "v"}}));
  EXPECT_NE(framed.find("\r\nX-Empty:\r\nX-Full: v\r\n"), std::string::npos) << framed;
  EXPECT_EQ(framed.find("X-Empty: "), std::string::npos) << framed;
}

TEST(Unit, Http1RequestContentLengthIsSentForBodiesAndForMethodsOtherThanGetAndHead) {
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    const std::string framed = Frame(Make(method));
    EXPECT_NE(framed.find("\r\nContent-Length: 0\r\n\r\n"), std::string::npos) << framed;
  }
  for (const char* method : {"GET", "HEAD"}) {
    const std::string framed = Frame(Make(method));
    EXPECT_EQ(framed.find("Content-Length"), std::string::npos) << framed;
    const std::string with_body = Frame(Make(method, {}, "abc"));
    EXPECT_TRUE(with_body.ends_with("\r\nContent-Length: 3\r\n\r\nabc")) << with_body;
  }
}

TEST(Unit, Http1RequestDropsTheCallersContentLengthAndTransferEncoding) {
  Request request = Make("POST",
                         {{"CONTENT-LENGTH", "999"},
                          {"X-Before", "1"},
                          {"transfer-encoding", "chunked"},
                          {"Content-length", "5"},
                          {"X-After", "2"}},
                         "hello!");
  EXPECT_EQ(Frame(request),
            "POST / HTTP/1.1\r\n"
            "X-Before: 1\r\n"
            "X-After: 2\r\n"
            "Host: dynamodb.us-east-1.amazonaws.com\r\n"
            "User-Agent: dynatroni/test\r\n"
            "Accept: */*\r\n"
            "Content-Length: 6\r\n"
            "\r\n"
            "hello!");
}

TEST(Unit, Http1RequestIsAppendedAfterWhatTheBufferHolds) {
  std::string out = "previous bytes|";
  AppendRequest(Make("GET"), kContext, &out);
  EXPECT_TRUE(out.starts_with("previous bytes|GET / HTTP/1.1\r\n")) << out;
  EXPECT_TRUE(out.ends_with("\r\n\r\n")) << out;
}

TEST(Unit, Http1RequestParsesBackAsTheSameRequest) {
  std::string body(100000, 'x');
  body[0] = '{';
  body[body.size() - 1] = '\0';  // any bytes: the body is counted, not scanned
  Request request = Make("POST", {{"X-Amz-Target", "DynamoDB_20120810.Query"}, {"X-Empty", ""}}, body);
  const std::string framed = Frame(request, {"/q?x=%20", "[::1]:8000", "ua"});

  namespace beast_http = boost::beast::http;
  beast_http::request_parser<beast_http::string_body> parser;
  parser.eager(true);
  parser.body_limit(framed.size());
  boost::beast::error_code ec;
  const size_t used = parser.put(boost::asio::buffer(framed.data(), framed.size()), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(used, framed.size());
  const auto& message = parser.get();
  EXPECT_EQ(message.method_string(), "POST");
  EXPECT_EQ(message.target(), "/q?x=%20");
  EXPECT_EQ(message.version(), 11);
  EXPECT_EQ(message["x-amz-target"], "DynamoDB_20120810.Query");
  EXPECT_EQ(message.count("x-empty"), 1U);
  EXPECT_EQ(message["x-empty"], "");
  EXPECT_EQ(message["host"], "[::1]:8000");
  EXPECT_EQ(message.body(), body);
  EXPECT_TRUE(parser.keep_alive());
}

// ---------------------------------------------------------------- ResponseReader: framing

TEST(Unit, Http1ResponseWithContentLengthIsCompleteAtItsLastByte) {
  const std::string bytes = DynamoDbLikeResponse();
  ResponseReader reader(false);
  Status s = reader.Feed(std::string_view{bytes}.substr(0, bytes.size() - 1));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(reader.done());
  s = reader.Feed(std::string_view{bytes}.substr(bytes.size() - 1));
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(reader.done());
  EXPECT_TRUE(reader.keep_alive());
  EXPECT_EQ(reader.leftover_bytes(), 0U);
  Response r = reader.TakeResponse();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"Item":{"pk":{"S":"cluster/a"},"sk":{"S":"leader"},"v":{"N":"17"}}})");
  EXPECT_EQ(r.Header("x-amz-crc32"), "123");
  EXPECT_EQ(r.Header("content-length"), std::to_string(r.body.size()));
  EXPECT_EQ(r.Header("date"), "Fri, 27 Nov 2026 05:00:00 GMT");
}

TEST(Unit, Http1ResponseHeadersAreLowerCasedInOrderWithDuplicatesKept) {
  Outcome o = RunWhole(
      "HTTP/1.1 404 Not Found\r\n"
      "X-B: 1\r\n"
      "Set-Cookie: a=1\r\n"
      "x-a:   padded value  \r\n"
      "SET-COOKIE: b=2\r\n"
      "X-Empty:\r\n"
      "Content-Length: 0\r\n"
      "\r\n");
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  ASSERT_TRUE(o.done);
  EXPECT_EQ(o.response.status, 404);
  const Headers want = {{"x-b", "1"},          {"set-cookie", "a=1"}, {"x-a", "padded value"},
                        {"set-cookie", "b=2"}, {"x-empty", ""},       {"content-length", "0"}};
  EXPECT_EQ(o.response.headers, want);
  EXPECT_EQ(o.response.body, "");
  EXPECT_TRUE(o.keep_alive);
}

TEST(Unit, Http1ChunkedResponseWithExtensionsAndTrailersIsDecoded) {
  const std::string bytes =
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/plain\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n"
      "5;name=value;flag\r\nhello\r\n"
      "1\r\n \r\n"
      "A; q=\"quoted;value\"\r\n0123456789\r\n"
      "0;last\r\n"
      "X-Trailer: t1\r\n"
      "\r\n";
  Outcome o = RunWhole(bytes);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  ASSERT_TRUE(o.done);
  EXPECT_EQ(o.response.body, "hello 0123456789");
  EXPECT_EQ(o.response.Header("transfer-encoding"), "chunked");
  EXPECT_EQ(o.response.Header("content-type"), "text/plain");
  // Trailer fields are reported after the head's fields.
  ASSERT_FALSE(o.response.headers.empty());
  EXPECT_EQ(o.response.headers.back(), (std::pair<std::string, std::string>("x-trailer", "t1")));
  EXPECT_TRUE(o.keep_alive);
  EXPECT_EQ(o.leftover, 0U);
  // Not complete until the blank line after the trailers.
  Outcome partial = RunWhole(std::string_view{bytes}.substr(0, bytes.size() - 2));
  EXPECT_TRUE(partial.status.ok()) << partial.status.ToString();
  EXPECT_FALSE(partial.done);
}

TEST(Unit, Http1ResponseWithoutLengthEndsAtEofAndClosesTheConnection) {
  const std::string bytes = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close";
  ResponseReader reader(false);
  Status s = reader.Feed(bytes);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(reader.done());
  s = reader.Feed(" and more");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(reader.done());
  s = reader.FeedEof();
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(reader.done());
  EXPECT_FALSE(reader.keep_alive());
  EXPECT_EQ(reader.TakeResponse().body, "body until close and more");
}

TEST(Unit, Http1HeadResponseHasNoBodyDespiteContentLength) {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
  Outcome o = RunWhole(head, /*eof=*/false, /*head_request=*/true);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  ASSERT_TRUE(o.done);
  EXPECT_EQ(o.response.body, "");
  EXPECT_EQ(o.response.Header("content-length"), "1234");
  EXPECT_TRUE(o.keep_alive);
  // Chunked HEAD answer: no chunks follow either.
  o = RunWhole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, true);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_TRUE(o.done);
  EXPECT_TRUE(o.keep_alive);
  // The same bytes answering a GET are a head still waiting for its body.
  o = RunWhole(head);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_FALSE(o.done);
}

TEST(Unit, Http1NoContentAndNotModifiedHaveNoBody) {
  for (const char* head : {"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 304 Not Modified\r\n\r\n",
                           "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"}) {
    SCOPED_TRACE(head);
    Outcome o = RunWhole(head);
    ASSERT_TRUE(o.status.ok()) << o.status.ToString();
    ASSERT_TRUE(o.done);  // without waiting for the connection to close
    EXPECT_EQ(o.response.body, "");
    EXPECT_TRUE(o.keep_alive);
    EXPECT_EQ(o.leftover, 0U);
  }
  Outcome o = RunWhole("HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(o.response.status, 204);
}

TEST(Unit, Http1InterimResponsesArePassedOverForTheFinalOne) {
  const std::string interim =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
  const std::string final_response = "HTTP/1.1 201 Created\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\nok";
  ResponseReader reader(false);
  Status s = reader.Feed(interim);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(reader.done());
  EXPECT_TRUE(reader.received_any());
  s = reader.Feed(final_response);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(reader.done());
  EXPECT_TRUE(reader.keep_alive());
  Response r = reader.TakeResponse();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "ok");
  const Headers want = {{"x-final", "yes"}, {"content-length", "2"}};
  EXPECT_EQ(r.headers, want);  // nothing of the interim responses

  // Interim and final response in one read.
  Outcome o = RunWhole(interim + final_response);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  ASSERT_TRUE(o.done);
  EXPECT_EQ(o.response.status, 201);
  EXPECT_EQ(o.response.headers, want);

  // Only an interim response, then the connection closes: cut short.
  o = RunWhole("HTTP/1.1 100 Continue\r\n\r\n", /*eof=*/true);
  EXPECT_EQ(o.status.code(), StatusCode::kMalformedResponse) << o.status.ToString();
  EXPECT_FALSE(o.done);
}

TEST(Unit, Http1EverySplitOfAResponseGivesTheSameResult) {
  const std::string dynamodb = DynamoDbLikeResponse();
  const std::vector<std::pair<std::string, bool>> cases = {
      {dynamodb, false},
      {"HTTP/1.1 100 Continue\r\n\r\n" + dynamodb, false},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nx-amz-crc32: 1\r\n\r\n"
       "4;ext=1\r\n{\"a\"\r\n5\r\n:1}\r\n\r\n0\r\nX-T: v\r\n\r\n",
       false},
      // Empty chunked bodies (Boost 1.74 asserted on "0\r\n" given again with one byte more).
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the end", true},
      {dynamodb + "HTTP/1.1 200 OK\r\n", false},  // a pipelined extra: leftover bytes
  };
  for (const auto& [bytes, eof] : cases) {
    SCOPED_TRACE(bytes);
    const Outcome whole = RunWhole(bytes, eof);
    ASSERT_TRUE(whole.status.ok()) << whole.status.ToString();
    ASSERT_TRUE(whole.done);
    const std::string_view all(bytes);
    for (size_t i = 0; i <= all.size(); ++i) {
      ExpectSameOutcome(FeedAll({all.substr(0, i), all.substr(i)}, eof), whole,
                        "split at " + std::to_string(i));
    }
    for (size_t i = 1; i < all.size(); i += 7) {
      for (size_t j = i; j < all.size(); ++j) {
        ExpectSameOutcome(FeedAll({all.substr(0, i), all.substr(i, j - i), all.substr(j)}, eof), whole,
                          "split at " + std::to_string(i) + " and " + std::to_string(j));
      }
    }
    std::vector<std::string_view> bytewise;
    for (size_t i = 0; i < all.size(); ++i) bytewise.push_back(all.substr(i, 1));
    ExpectSameOutcome(FeedAll(bytewise, eof), whole, "byte by byte");
    if (::testing::Test::HasFailure()) return;  // one case's report is enough
  }
}

// ---------------------------------------------------------------- ResponseReader: keep-alive

TEST(Unit, Http1KeepAliveFollowsVersionConnectionHeaderAndLeftovers) {
  EXPECT_TRUE(RunWhole("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx").keep_alive);
  EXPECT_FALSE(RunWhole("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx").keep_alive);
  EXPECT_FALSE(
      RunWhole("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 1\r\n\r\nx").keep_alive);
  EXPECT_FALSE(RunWhole("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx").keep_alive);
  EXPECT_TRUE(RunWhole("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx").keep_alive);

  // Bytes beyond the response (in the same read or a later one) make the connection unusable.
  Outcome o = RunWhole("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA");
  ASSERT_TRUE(o.done);
  EXPECT_EQ(o.response.body, "x");
  EXPECT_EQ(o.leftover, 5U);
  EXPECT_FALSE(o.keep_alive);
  o = FeedAll({"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", "", "AB", "C"});
  ASSERT_TRUE(o.done);
  EXPECT_EQ(o.leftover, 3U);
  EXPECT_FALSE(o.keep_alive);

  // The peer closed after a complete response.
  o = RunWhole("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", /*eof=*/true);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  ASSERT_TRUE(o.done);
  EXPECT_FALSE(o.keep_alive);

  // Not done yet: never reusable.
  EXPECT_FALSE(RunWhole("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nx").keep_alive);
  EXPECT_FALSE(ResponseReader(false).keep_alive());
}

// ---------------------------------------------------------------- ResponseReader: malformed input

TEST(Unit, Http1MalformedStatusLinesAreRefused) {
  for (const char* bytes : {"garbage\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/2 200 OK\r\n\r\n",
                            "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n", "<html>\n</html>\n",
                            "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "\r\nHTTP/1.1 200 OK\r\n\r\n"}) {
    SCOPED_TRACE(bytes);
    Status s = MalformedWhole(bytes);
    EXPECT_EQ(s.code(), StatusCode::kMalformedResponse) << s.ToString();
    EXPECT_FALSE(s.message().empty());
  }
}

TEST(Unit, Http1StatusCodesBelow100AreRefused) {
  for (const char* bytes :
       {"HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 099 Low\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.0 042 Low\r\n\r\nbody"}) {
    SCOPED_TRACE(bytes);
    Status s = MalformedWhole(bytes);
    EXPECT_EQ(s.code(), StatusCode::kMalformedResponse) << s.ToString();
  }
  Status s = MalformedWhole("HTTP/1.1 999 Custom\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(Unit, Http1BadContentLengthIsRefused) {
  for (const char* bytes :
       {"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx"}) {
    SCOPED_TRACE(bytes);
    Status s = MalformedWhole(bytes);
    EXPECT_EQ(s.code(), StatusCode::kMalformedResponse) << s.ToString();
  }
}

TEST(Unit, Http1BadChunksAreRefused) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const char* chunks : {"zz\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n",
                             "5;=bad\r\nhello\r\n0\r\n\r\n", "fffffffffffffffffffff\r\n"}) {
    SCOPED_TRACE(chunks);
    Status s = MalformedWhole(head + chunks);
    EXPECT_EQ(s.code(), StatusCode::kMalformedResponse) << s.ToString();
  }
}

TEST(Unit, Http1ResponseHeadOver64KiBIsRefusedWholeOrInPieces) {
  const std::string big = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(ResponseReader::kMaxHeaderBytes, 'a') +
                          "\r\nContent-Length: 0\r\n\r\n";
  Status s = MalformedWhole(big);
  EXPECT_EQ(s.code(), StatusCode::kMalformedResponse) << s.ToString();
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < big.size(); i += 4096) pieces.push_back(std::string_view{big}.substr(i, 4096));
  Outcome o = FeedAll(pieces);
  EXPECT_EQ(o.status.code(), StatusCode::kMalformedResponse) << o.status.ToString();
  EXPECT_FALSE(o.done);
  // A head that never ends is refused once it passes the limit, without waiting for more.
  const std::string endless =
      "HTTP/1.1 200 OK\r\nX-Big: " + std::string(ResponseReader::kMaxHeaderBytes + 10, 'a');
  o = FeedAll({endless});
  EXPECT_EQ(o.status.code(), StatusCode::kMalformedResponse) << o.status.ToString();
  o = FeedAll({std::string_view{endless}.substr(0, 30000), std::string_view{endless}.substr(30000)});
  EXPECT_EQ(o.status.code(), StatusCode::kMalformedResponse) << o.status.ToString();
}

TEST(Unit, Http1ResponseHeadJustUnder64KiBIsAccepted) {
  const std::string head =
      "HTTP/1.1 200 OK\r\nX-Big: " + std::string(60000, 'a') + "\r\nContent-Length: 2\r\n\r\nok";
  Outcome o = RunWhole(head);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  ASSERT_TRUE(o.done);
  EXPECT_EQ(o.response.Header("x-big").size(), 60000U);
  EXPECT_EQ(o.response.body, "ok");
}

TEST(Unit, Http1BodyOverTheLimitIsRefusedWhateverItsFraming) {
  constexpr size_t kLimit = 10;
  // At the limit: accepted.
  Outcome o = FeedAll({"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"}, false, false, kLimit);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(o.response.body, "0123456789");
  o = FeedAll({"HTTP/1.1 200 OK\r\n\r\n0123456789"}, true, false, kLimit);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(o.response.body, "0123456789");

  for (const char* bytes :
       {"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n01234567890",
        "HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n01234\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\r\n01234567890"}) {
    SCOPED_TRACE(bytes);
    Status s = MalformedWhole(bytes, kLimit);
    EXPECT_EQ(s.code(), StatusCode::kMalformedResponse) << s.ToString();
  }
  // The body delimited by close, arriving in pieces.
  o = FeedAll({"HTTP/1.1 200 OK\r\n\r\n012345", "6789", "0"}, true, false, kLimit);
  EXPECT_EQ(o.status.code(), StatusCode::kMalformedResponse) << o.status.ToString();
  // A HEAD answer announcing a large body carries none: within the limit.
  o = FeedAll({"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n"}, false, true, kLimit);
  EXPECT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_TRUE(o.done);
}

// Regression: Boost 1.74's parser lost its body-limit error when body bytes
// came in the same read as the head, and the announced length was reserved
// up front: this threw std::bad_alloc out of Feed.
TEST(Unit, Http1HugeContentLengthArrivingWithBodyBytesIsRefusedNotReserved) {
  const std::string over = std::to_string(ResponseReader::kDefaultMaxBodyBytes + 1);
  for (const std::string& bytes : {"HTTP/1.1 200 OK\r\nContent-Length: 100000000000000\r\n\r\nx"s,
                                   "HTTP/1.1 200 OK\r\nContent-Length: " + over + "\r\n\r\nxyz"}) {
    SCOPED_TRACE(bytes);
    Outcome o = FeedAll({bytes});
    EXPECT_EQ(o.status.code(), StatusCode::kMalformedResponse) << o.status.ToString();
    EXPECT_NE(o.status.message().find("body limit"), std::string::npos) << o.status.ToString();
  }
  // Exactly the default limit is allowed.
  const std::string at = std::to_string(ResponseReader::kDefaultMaxBodyBytes);
  Outcome o = FeedAll({"HTTP/1.1 200 OK\r\nContent-Length: " + at + "\r\n\r\nxyz"});
  EXPECT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_FALSE(o.done);
}

TEST(Unit, Http1ChunkedTrailersAreBoundedWhenTheyArriveInPieces) {
  const std::string bytes = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: " +
                            std::string(2 * ResponseReader::kMaxHeaderBytes, 't');
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < bytes.size(); i += 1000) pieces.push_back(std::string_view{bytes}.substr(i, 1000));
  Outcome o = FeedAll(pieces);
  EXPECT_EQ(o.status.code(), StatusCode::kMalformedResponse) << o.status.ToString();
}

// ---------------------------------------------------------------- ResponseReader: end of connection

TEST(Unit, Http1EofBeforeTheResponseEndsSaysWhereItWasCut) {
  ResponseReader nothing(false);
  EXPECT_FALSE(nothing.received_any());
  Status before = nothing.FeedEof();
  EXPECT_EQ(before.code(), StatusCode::kMalformedResponse) << before.ToString();
  EXPECT_FALSE(nothing.done());

  ResponseReader status_line(false);
  ASSERT_TRUE(status_line.Feed("HTTP/1.1 2").ok());
  Status in_status_line = status_line.FeedEof();
  EXPECT_EQ(in_status_line.code(), StatusCode::kMalformedResponse) << in_status_line.ToString();

  ResponseReader head(false);
  ASSERT_TRUE(head.Feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A").ok());
  Status in_head = head.FeedEof();
  EXPECT_EQ(in_head.code(), StatusCode::kMalformedResponse) << in_head.ToString();

  ResponseReader body(false);
  ASSERT_TRUE(body.Feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc").ok());
  Status in_body = body.FeedEof();
  EXPECT_EQ(in_body.code(), StatusCode::kMalformedResponse) << in_body.ToString();
  EXPECT_FALSE(body.done());

  ResponseReader chunk(false);
  ASSERT_TRUE(chunk.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n").ok());
  Status in_chunks = chunk.FeedEof();
  EXPECT_EQ(in_chunks.code(), StatusCode::kMalformedResponse) << in_chunks.ToString();

  EXPECT_EQ(in_status_line, in_head);  // both inside the head
  EXPECT_NE(before.message(), in_head.message());
  EXPECT_NE(in_head.message(), in_body.message());
  EXPECT_NE(before.message(), in_body.message());
  EXPECT_EQ(in_body, in_chunks);  // both inside the body
  EXPECT_NE(before.message().find("before any"), std::string::npos) << before.ToString();
  EXPECT_NE(in_head.message().find("head"), std::string::npos) << in_head.ToString();
  EXPECT_NE(in_body.message().find("body"), std::string::npos) << in_body.ToString();
}

TEST(Unit, Http1ReceivedAnyTurnsTrueAtTheFirstByte) {
  ResponseReader reader(false);
  EXPECT_FALSE(reader.received_any());
  ASSERT_TRUE(reader.Feed("").ok());
  EXPECT_FALSE(reader.received_any());
  ASSERT_TRUE(reader.Feed("H").ok());
  EXPECT_TRUE(reader.received_any());
  EXPECT_FALSE(reader.done());
  // Even bytes that cannot start a response count as received.
  ResponseReader garbage(false);
  EXPECT_FALSE(garbage.Feed("SSH-2.0-OpenSSH_9.2\r\n").ok());
  EXPECT_TRUE(garbage.received_any());
}

}  // namespace
}  // namespace dynatroni::http::http1
