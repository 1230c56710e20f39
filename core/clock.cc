#include "core/clock.h"

#include <ctime>
#include <random>
#include <thread>

#include "core/seeded_draw.h"

namespace dynatroni {

SystemClock* SystemClock::Instance() {
  static SystemClock clock;
  return &clock;
}

MonoTime SystemClock::Now() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return MonoTime(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

WallTime SystemClock::WallNow() { return std::chrono::system_clock::now(); }

void SystemClock::SleepFor(Duration d) {
  if (d > Duration::zero()) std::this_thread::sleep_for(d);
}

FakeClock::FakeClock(MonoTime start, WallTime wall_start) : mono_(start), wall_(wall_start) {}

MonoTime FakeClock::Now() {
  std::lock_guard<std::mutex> lock(mu_);
  return mono_;
}

WallTime FakeClock::WallNow() {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_;
}

void FakeClock::SleepFor(Duration d) {
  if (d <= Duration::zero()) return;
  std::lock_guard<std::mutex> lock(mu_);
  mono_ += d;
  wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  slept_ += d;
}

void FakeClock::Advance(Duration d) {
  std::lock_guard<std::mutex> lock(mu_);
  mono_ += d;
  wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
}

void FakeClock::SetWall(WallTime t) {
  std::lock_guard<std::mutex> lock(mu_);
  wall_ = t;
}

Duration FakeClock::total_slept() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slept_;
}

SystemRandom::SystemRandom() {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
  gen_.seed(seq);
}

SystemRandom* SystemRandom::Instance() {
  static SystemRandom r;
  return &r;
}

double SystemRandom::Uniform01() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen_);
}

double SeededRandom::Uniform01() {
  std::lock_guard<std::mutex> lock(mu_);
  return UnitFromBits(gen_());  // the same values with every standard library (core/seeded_draw.h)
}

}  // namespace dynatroni
