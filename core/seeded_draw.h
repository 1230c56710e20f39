#ifndef DYNATRONI_CORE_SEEDED_DRAW_H_
#define DYNATRONI_CORE_SEEDED_DRAW_H_

// Draws from a 64-bit engine's raw output (std::mt19937_64, whose sequence the
// standard fixes) by a mapping written out here, so that a seed gives the
// same values with every standard library. std::uniform_int_distribution and
// std::uniform_real_distribution do not: their algorithms are the library's
// own, and libstdc++ and libc++ turn the same engine output into different
// integers (docs/install.md, "Portable wheels").
//
//   UnitFromBits(x)      = (x >> 11) * 2^-53               in [0, 1), 53 random bits
//   RealFromBits(x, a, b) = a + (b - a) * UnitFromBits(x)   in [a, b)
//   IntFromBits(x, lo, hi) = lo + floor(x * n / 2^64), n = hi - lo + 1, in [lo, hi]
//
// IntFromBits is a multiply-shift: one engine value per draw, no rejection
// loop; each value's probability is off by at most n / 2^64 (1e-10 for the
// simulator's widest range, 2^53), far below anything a test measures.

#include <cstdint>

namespace dynatroni {

constexpr double UnitFromBits(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

constexpr double RealFromBits(uint64_t bits, double lo, double hi) {
  return lo + (hi - lo) * UnitFromBits(bits);
}

// The high 64 bits of the 128-bit product a * b, from 32-bit halves (no __int128: ISO C++).
constexpr uint64_t MulHigh64(uint64_t a, uint64_t b) {
  const uint64_t a_lo = a & 0xffffffffu, a_hi = a >> 32, b_lo = b & 0xffffffffu, b_hi = b >> 32;
  const uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
  const uint64_t middle = (lo_lo >> 32) + (hi_lo & 0xffffffffu) + lo_hi;
  return hi_hi + (hi_lo >> 32) + (middle >> 32);
}

// lo <= hi, and hi - lo < 2^64 - 1 (not the whole int64_t range).
constexpr int64_t IntFromBits(uint64_t bits, int64_t lo, int64_t hi) {
  const uint64_t n = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + MulHigh64(bits, n));
}

}  // namespace dynatroni

#endif  // DYNATRONI_CORE_SEEDED_DRAW_H_
