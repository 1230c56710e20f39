#include "core/seeded_draw.h"

#include <cstdint>
#include <limits>
#include <random>

#include <gtest/gtest.h>

namespace dynatroni {
namespace {

// The values are the mapping's, worked out by hand (Python integers) from the
// engine's first outputs, which the standard fixes for std::mt19937_64; the
// same under libstdc++ and libc++.
TEST(SeededDraw, SameValuesWithEveryStandardLibrary) {
  std::mt19937_64 engine(1);
  const uint64_t x = engine();
  ASSERT_EQ(x, 2469588189546311528u);
  EXPECT_EQ(UnitFromBits(x), 0.13387664401253263);
  EXPECT_EQ(IntFromBits(x, 1'000'000, 20'000'000), 3543656);
  EXPECT_EQ(IntFromBits(x, -(int64_t{1} << 52), int64_t{1} << 52), -3297746019193586);
  EXPECT_EQ(RealFromBits(x, 0.5, 2.0), 0.5 + 1.5 * 0.13387664401253263);
}

TEST(SeededDraw, StaysInRange) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(UnitFromBits(0), 0.0);
  EXPECT_LT(UnitFromBits(kMax), 1.0);
  EXPECT_EQ(IntFromBits(0, -5, 7), -5);
  EXPECT_EQ(IntFromBits(kMax, -5, 7), 7);
  EXPECT_EQ(IntFromBits(kMax, 3, 3), 3);
  EXPECT_EQ(IntFromBits(kMax, 0, int64_t{1} << 50), int64_t{1} << 50);
  EXPECT_LT(RealFromBits(kMax, -1, 1), 1.0);
  EXPECT_EQ(RealFromBits(0, -1, 1), -1.0);
}

TEST(SeededDraw, MulHigh64) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(MulHigh64(kMax, kMax), kMax - 1);  // (2^64 - 1)^2 = 2^128 - 2^65 + 1
  EXPECT_EQ(MulHigh64(uint64_t{1} << 32, uint64_t{1} << 32), 1u);
  EXPECT_EQ(MulHigh64(kMax, 2), 1u);
  EXPECT_EQ(MulHigh64(0x123456789abcdef0u, 0xfedcba9876543210u), 0x121fa00ad77d7422u);
}

// Every value of a small range comes up about equally often.
TEST(SeededDraw, IntegersAreUniform) {
  std::mt19937_64 engine(7);
  int counts[6] = {};
  constexpr int kDraws = 60000;
  for (int i = 0; i < kDraws; ++i) ++counts[IntFromBits(engine(), 0, 5)];
  for (int c : counts) {
    EXPECT_GT(c, kDraws / 6 - 500);
    EXPECT_LT(c, kDraws / 6 + 500);
  }
}

}  // namespace
}  // namespace dynatroni
