#include "core/clock.h"

#include <gtest/gtest.h>

namespace dynatroni {
namespace {

using namespace std::chrono_literals;

TEST(SystemClock, BootClockNeverGoesBackwards) {
  auto* c = SystemClock::Instance();
  MonoTime a = c->Now();
  c->SleepFor(1ms);
  MonoTime b = c->Now();
  EXPECT_GT(b, a);
}

TEST(FakeClock, SleepAdvancesBothClocksWithoutBlocking) {
  FakeClock c;
  MonoTime m = c.Now();
  WallTime w = c.WallNow();
  c.SleepFor(5s);
  EXPECT_EQ(c.Now() - m, 5s);
  EXPECT_EQ(c.WallNow() - w, 5s);
  EXPECT_EQ(c.total_slept(), 5s);
}

TEST(FakeClock, WallJumpDoesNotMoveMonotonicTime) {
  FakeClock c;
  MonoTime m = c.Now();
  c.SetWall(WallTime(std::chrono::seconds(0)));
  EXPECT_EQ(c.Now(), m);
}

TEST(Deadline, ExpiresOnTheMonotonicClockOnly) {
  FakeClock c;
  Deadline d = Deadline::After(c, 2s);
  EXPECT_FALSE(d.Expired(c));
  EXPECT_EQ(d.Remaining(c), 2s);
  c.SetWall(WallTime(std::chrono::hours(1000000)));
  EXPECT_FALSE(d.Expired(c));
  c.Advance(2s);
  EXPECT_TRUE(d.Expired(c));
  EXPECT_TRUE(Deadline::Infinite().Min(d).when() == d.when());
  EXPECT_FALSE(Deadline::Infinite().Expired(c));
}

TEST(SeededRandom, SameSeedSameSequenceInUnitInterval) {
  SeededRandom a(42), b(42);
  for (int i = 0; i < 100; ++i) {
    double x = a.Uniform01();
    EXPECT_EQ(x, b.Uniform01());
    EXPECT_GE(x, 0.0);
    EXPECT_LT(x, 1.0);
  }
}

}  // namespace
}  // namespace dynatroni
