#include "core/status.h"

#include <gtest/gtest.h>

namespace dynatroni {
namespace {

TEST(Status, DefaultIsOkAndPrintsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, CarriesCodeMessageAndAwsError) {
  Status s = Unavailable("throttled");
  s.WithAwsError("ThrottlingException", 400);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.aws_error(), "ThrottlingException");
  EXPECT_EQ(s.http_status(), 400);
  EXPECT_EQ(s.ToString(), "Unavailable: throttled [ThrottlingException, HTTP 400]");
}

TEST(Status, AnnotatePrefixesContextAndKeepsCode) {
  Status s = NotFound("table t").Annotate("GetItem");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "GetItem: table t");
}

// A copy of the detail (empty when none), so no test dereferences a pointer.
CallDetail DetailOf(const Status& s) {
  const CallDetail* d = s.call_detail();
  return d != nullptr ? *d : CallDetail{"(none)", "", -1, {}};
}

TEST(Status, CallDetailSurvivesAnnotateAndWithAwsError) {
  Status s = Unavailable("UpdateItem: throttled");
  EXPECT_EQ(s.call_detail(), nullptr);
  s.WithCallDetail({"UpdateItem", "REQ1", 3, std::chrono::milliseconds(1250)});
  Status t = s.Annotate("loading cluster c");
  t.WithAwsError("ThrottlingException", 400);
  const CallDetail d = DetailOf(t);
  EXPECT_EQ(d.operation, "UpdateItem");
  EXPECT_EQ(d.request_id, "REQ1");
  EXPECT_EQ(d.attempts, 3);
  EXPECT_EQ(d.elapsed.count(), 1250);
  EXPECT_EQ(t.aws_error(), "ThrottlingException");
  // The printed form is unchanged by the detail.
  EXPECT_EQ(t.ToString(),
            "Unavailable: loading cluster c: UpdateItem: throttled [ThrottlingException, HTTP 400]");
  Status ok;
  ok.WithCallDetail({"GetItem", "", 1, {}});
  EXPECT_EQ(ok.call_detail(), nullptr);
}

// An error built anew from a store failure (dcs.cc's "leader write not
// applied (...)") reports that failure's call: its detail and DynamoDB error
// code, unless it has its own.
TEST(Status, WithCauseOfTakesTheCausesCallOnlyWhereMissing) {
  Status cause = UnknownOutcome("GetItem: timed out");
  cause.WithAwsError("InternalServerError", 500)
      .WithCallDetail({"GetItem", "REQ2", 4, std::chrono::milliseconds(900)});
  Status built = Unavailable("leader write not applied");
  built.WithCauseOf(cause);
  EXPECT_EQ(DetailOf(built).operation, "GetItem");
  EXPECT_EQ(DetailOf(built).request_id, "REQ2");
  EXPECT_EQ(built.aws_error(), "InternalServerError");
  EXPECT_EQ(built.http_status(), 500);
  EXPECT_EQ(built.code(), StatusCode::kUnavailable);
  EXPECT_EQ(built.message(), "leader write not applied");
  Status own = Unavailable("x");
  own.WithAwsError("ThrottlingException", 400).WithCallDetail({"UpdateItem", "REQ1", 1, {}});
  own.WithCauseOf(cause);
  EXPECT_EQ(DetailOf(own).operation, "UpdateItem");
  EXPECT_EQ(own.aws_error(), "ThrottlingException");
  Status none = Unavailable("y");
  none.WithCauseOf(Status());
  EXPECT_EQ(none.call_detail(), nullptr);
  Status ok;
  ok.WithCauseOf(cause);
  EXPECT_TRUE(ok.ok());
}

// Regression (fuzz/fuzz_attribute_value, fuzz_dcs_config): messages quoting
// input with raw newlines or control characters broke the one-line contract.
TEST(Status, MessageIsAlwaysOnePrintableLine) {
  Status s = InvalidArgument(std::string("n: \"{\"SS\"\0\0\0\n}\" is not a number\r\tx\x1b[31m", 39));
  EXPECT_EQ(s.message(), "n: \"{\"SS\"\\x00\\x00\\x00 }\" is not a number  x\\x1b[31m");
  Status a = s.Annotate("line1\nline2");
  EXPECT_EQ(a.message().find('\n'), std::string::npos);
  EXPECT_EQ(a.message().rfind("line1 line2: ", 0), 0U);
  EXPECT_EQ(InvalidArgument("plain text, unchanged").message(), "plain text, unchanged");
}

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd");
  return x / 2;
}

Status UseHalf(int x, int* out) {
  DYNATRONI_ASSIGN_OR_RETURN(*out, Half(x));
  return {};
}

TEST(Result, HoldsValueOrStatus) {
  auto r = Half(4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2);
  auto e = Half(3);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
}

TEST(Result, AssignOrReturnPropagatesError) {
  int out = 0;
  EXPECT_TRUE(UseHalf(8, &out).ok());
  EXPECT_EQ(out, 4);
  EXPECT_EQ(UseHalf(7, &out).code(), StatusCode::kInvalidArgument);
}

TEST(Result, BuiltFromOkStatusBecomesInternalError) {
  Result<int> r{Status()};
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace dynatroni
