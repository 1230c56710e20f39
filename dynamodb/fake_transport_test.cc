#include "http/fake_transport.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace dynatroni::http {
namespace {

using std::chrono::milliseconds;

Request MakeRequest(std::string body) {
  Request r;
  EXPECT_TRUE(r.SetUrl("http://127.0.0.1:1/").ok());
  r.body = std::move(body);
  return r;
}

TEST(FakeTransport, AnswersInFifoOrderAndRecordsEveryRequest) {
  FakeTransport t;
  t.PushResponse(200, "first", {{"x-amz-crc32", "1"}});
  t.PushFailure(UnknownOutcome("reset after sending"));
  t.PushResponse(503, "third");
  EXPECT_EQ(t.pending(), 3u);

  auto r1 = t.Send(MakeRequest("a"), Deadline::Infinite());
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->body, "first");
  EXPECT_EQ(r1->Header("x-amz-crc32"), "1");
  auto r2 = t.Send(MakeRequest("b"), Deadline::Infinite());
  EXPECT_EQ(r2.status().code(), StatusCode::kUnknownOutcome);
  auto r3 = t.Send(MakeRequest("c"), Deadline::Infinite());
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->status, 503);

  auto r4 = t.Send(MakeRequest("d"), Deadline::Infinite());
  EXPECT_EQ(r4.status().code(), StatusCode::kInternal) << "an unscripted request must be noticed";

  auto reqs = t.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].body, "a");
  EXPECT_EQ(reqs[3].body, "d");
  EXPECT_EQ(t.pending(), 0u);
}

TEST(FakeTransport, HandlersSeeTheRequestAndFallbackAnswersAfterTheScript) {
  FakeTransport t;
  t.PushHandler([](const Request& r) -> Result<Response> { return Response{201, {}, "echo:" + r.body}; });
  t.SetFallback([](const Request&) -> Result<Response> { return Response{200, {}, "fallback"}; });
  EXPECT_EQ(t.Send(MakeRequest("x"), Deadline::Infinite())->body, "echo:x");
  EXPECT_EQ(t.Send(MakeRequest("y"), Deadline::Infinite())->body, "fallback");
  EXPECT_EQ(t.Send(MakeRequest("z"), Deadline::Infinite())->body, "fallback");
}

TEST(FakeTransport, LatencyAdvancesTheFakeClockAndTimesOutAtTheDeadline) {
  FakeClock clock;
  FakeTransport t(&clock, milliseconds(30));
  t.PushResponse(200, "{}");
  t.PushResponse(200, "{}", {}, milliseconds(500));
  t.PushResponse(200, "{}");
  MonoTime start = clock.Now();
  ASSERT_TRUE(t.Send(MakeRequest(""), Deadline::After(clock, milliseconds(100))).ok());
  EXPECT_EQ(clock.Now() - start, milliseconds(30));

  // The 500 ms step cannot finish inside a 200 ms deadline: a timeout after sending.
  Deadline d = Deadline::After(clock, milliseconds(200));
  auto slow = t.Send(MakeRequest(""), d);
  EXPECT_EQ(slow.status().code(), StatusCode::kUnknownOutcome);
  EXPECT_EQ(clock.Now(), d.when());

  // A deadline already passed: nothing sent.
  auto late = t.Send(MakeRequest(""), d);
  EXPECT_EQ(late.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(t.deadlines().size(), 3u);
}

TEST(FakeTransport, IsSafeForConcurrentSends) {
  FakeTransport t;
  constexpr int kThreads = 8, kPerThread = 200;
  for (int i = 0; i < kThreads * kPerThread / 2; ++i) t.PushResponse(200, "scripted");
  t.SetFallback([](const Request&) -> Result<Response> { return Response{200, {}, "fallback"}; });
  std::atomic<int> scripted{0}, fallback{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < kPerThread; ++k) {
        auto r = t.Send(MakeRequest("q"), Deadline::Infinite());
        (r->body == "scripted" ? scripted : fallback)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(scripted.load(), kThreads * kPerThread / 2);
  EXPECT_EQ(fallback.load(), kThreads * kPerThread / 2);
  EXPECT_EQ(t.request_count(), static_cast<size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace dynatroni::http
