// File: core/clock.h
//
// Time, sleeping and randomness behind small interfaces so tests and the
// deterministic simulator can replace them.
//
// Two notions of time are kept strictly apart:
//  * Monotonic time (MonoTime): CLOCK_BOOTTIME, which keeps counting through
//    suspend. Every timeout, deadline and lease computation uses it. Values from
//    different hosts are never compared.
//  * Wall time (WallTime): only for SigV4 signing, human-facing timestamps,
//    DynamoDB's garbage-collection `ttl` attribute and a new process's view
//    of which members stopped (dcs/member_expiry.h). Never for lease decisions.
//
// Thread-safety: SystemClock and SystemRandom are safe for concurrent use.
// FakeClock is safe for concurrent use (internally locked).
#ifndef DYNATRONI_CORE_CLOCK_H_
#define DYNATRONI_CORE_CLOCK_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace dynatroni {

using Duration = std::chrono::nanoseconds;
// Nanoseconds on this host's boot clock. Only meaningful on the host that read it.
using MonoTime = std::chrono::time_point<struct BootClockTag, Duration>;
using WallTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time that includes suspend (CLOCK_BOOTTIME).
  virtual MonoTime Now() = 0;
  // Wall-clock time (CLOCK_REALTIME); may jump.
  virtual WallTime WallNow() = 0;
  // Blocks the calling thread for `d` (returns at once for d <= 0).
  virtual void SleepFor(Duration d) = 0;
};

// The real clocks of this host. A process-wide instance is returned by
// SystemClock::Instance().
class SystemClock final : public Clock {
 public:
  static SystemClock* Instance();
  MonoTime Now() override;
  WallTime WallNow() override;
  void SleepFor(Duration d) override;
};

// A manually advanced clock for tests. SleepFor advances time instead of
// blocking, so code under test that sleeps finishes instantly.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(MonoTime start = MonoTime(std::chrono::hours(1)),
                     WallTime wall_start = WallTime(std::chrono::seconds(1700000000)));
  MonoTime Now() override;
  WallTime WallNow() override;
  void SleepFor(Duration d) override;
  void Advance(Duration d);
  // Moves only the wall clock (simulates NTP steps or a skewed host).
  void SetWall(WallTime t);
  [[nodiscard]] Duration total_slept() const;

 private:
  mutable std::mutex mu_;
  MonoTime mono_;
  WallTime wall_;
  Duration slept_{0};
};

// A deadline on the monotonic clock. Deadline::Infinite() never expires.
class Deadline {
 public:
  static Deadline At(MonoTime t) { return Deadline(t); }
  static Deadline After(Clock& clock, Duration d) { return Deadline(clock.Now() + d); }
  static Deadline Infinite() { return Deadline(MonoTime::max()); }

  [[nodiscard]] MonoTime when() const { return when_; }
  [[nodiscard]] bool infinite() const { return when_ == MonoTime::max(); }
  // Time left on `clock`; zero or negative once expired.
  [[nodiscard]] Duration Remaining(Clock& clock) const {
    return infinite() ? Duration::max() : when_ - clock.Now();
  }
  [[nodiscard]] bool Expired(Clock& clock) const { return !infinite() && clock.Now() >= when_; }
  // The earlier of two deadlines.
  [[nodiscard]] Deadline Min(Deadline other) const { return when_ <= other.when_ ? *this : other; }

 private:
  explicit Deadline(MonoTime t) : when_(t) {}
  MonoTime when_;
};

// Uniform random numbers (backoff and poll jitter, Dcs session ids).
// Implementations must be thread-safe.
class Random {
 public:
  virtual ~Random() = default;
  // A value in [0, 1).
  virtual double Uniform01() = 0;
};

// Seeded with 256 bits from std::random_device, not one 32-bit value: Dcs
// draws its session ids here, and those must differ between the incarnations
// of a member.
class SystemRandom final : public Random {
 public:
  SystemRandom();
  static SystemRandom* Instance();
  double Uniform01() override;

 private:
  std::mutex mu_;
  std::mt19937_64 gen_;
};

// Deterministic generator for tests and the simulator.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : gen_(seed) {}
  double Uniform01() override;

 private:
  std::mutex mu_;
  std::mt19937_64 gen_;
};

}  // namespace dynatroni

#endif  // DYNATRONI_CORE_CLOCK_H_
