// The mutation matrix (docs/reliability.md): every deliberately broken
// variant of the lease (dcs/lease_mutants.h) must be caught by the
// simulation (dcs/lease_simulation.h) within its budget of schedules, and the
// unbroken lease must survive the same schedules. This binary compiles its
// own copy of the lease code with DYNATRONI_LEASE_MUTANTS; production
// binaries never contain the broken branches.
//
// Prints one markdown row per variant: variant, schedules to the first
// violation, the violating schedule's seed, and the violation.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "dcs/lease_mutants.h"
#include "dcs/lease_simulation.h"

namespace dynatroni::dcs {
namespace {

struct Variant {
  LeaseMutant mutant;
  const char* name;
  const char* what;
  // Fault settings beyond the defaults that this variant needs to show.
  void (*tune)(SimulationConfig&) = nullptr;
};

// A request may land up to 30 s after its attempt's deadline, i.e. after the
// same node's later requests (reordering): a late release then meets the
// node's next lease.
void Reordering(SimulationConfig& cfg) {
  cfg.late_beyond_deadline = std::chrono::seconds(30);
  cfg.late_apply_probability = 0.02;
}

constexpr Variant kVariants[] = {
    {LeaseMutant::kOwnerOnlyResolution, "owner-only resolution",
     "a leader write counts as applied when the re-read item is ours, whatever its version (the code before "
     "issue #19)"},
    {LeaseMutant::kZeroSafetyMargin, "zero safety margin", "bound = send + ttl"},
    {LeaseMutant::kBoundFromReply, "bound from the reply", "bound counted from when the reply arrived"},
    {LeaseMutant::kReleaseWithoutVersion, "release without version",
     "release conditioned on the name only (schedules with reordering: late_beyond_deadline 30 s)",
     Reordering},
    {LeaseMutant::kBoundFromCurrentTtl, "bound from the current ttl",
     "bound from the current ttl, not the lease_ms written in the item"},
    {LeaseMutant::kTakeoverUnconditioned, "unconditioned takeover",
     "takeover of an expired lease not conditioned on the observed version"},
    {LeaseMutant::kObservationNotReset, "observation not reset",
     "a follower's observation age not reset when the version changes"},
    {LeaseMutant::kExpiryByWallClock, "expiry by wall clock",
     "a follower expires the lease by its wall clock against the writer's updated_at"},
};

// Schedules each variant may take before the matrix counts it as surviving.
uint64_t Budget() {
  const char* env = std::getenv("DYNATRONI_MUTATION_BUDGET");
  return env ? std::strtoull(env, nullptr, 10) : 10000;
}

// Runs schedules 1..budget with `mutant` active; the first unsafe one.
SimulationResult FirstViolation(LeaseMutant mutant, void (*tune)(SimulationConfig&), uint64_t budget,
                                uint64_t* schedules) {
  SetActiveLeaseMutant(mutant);
  SimulationConfig cfg;
  if (tune != nullptr) tune(cfg);
  SimulationResult last;
  for (uint64_t seed = 1; seed <= budget; ++seed) {
    last = RunSimulation(seed, cfg);
    *schedules = seed;
    if (!last.safe) break;
  }
  SetActiveLeaseMutant(LeaseMutant::kNone);
  return last;
}

TEST(LeaseMutationMatrix, EveryBrokenVariantIsCaught) {
  const uint64_t budget = Budget();
  std::printf("| variant | what is broken | schedules to first violation | seed |\n|---|---|---|---|\n");
  for (const Variant& v : kVariants) {
    uint64_t schedules = 0;
    SimulationResult r = FirstViolation(v.mutant, v.tune, budget, &schedules);
    if (r.safe) {
      std::printf("| %s | %s | survived %llu | - |\n", v.name, v.what,
                  static_cast<unsigned long long>(budget));
    } else {
      std::printf("| %s | %s | %llu | %llu |\n", v.name, v.what, static_cast<unsigned long long>(schedules),
                  static_cast<unsigned long long>(r.seed));
      std::fprintf(stderr, "%s: %s\n", v.name, r.violation.c_str());
    }
    EXPECT_FALSE(r.safe) << "the variant '" << v.name << "' survived " << budget
                         << " schedules: the simulation cannot tell it from the real lease";
  }
}

// The control: the same schedules with the unbroken lease find nothing (the
// checker is not simply failing everything).
TEST(LeaseMutationMatrix, UnbrokenLeaseSurvivesTheSameSchedules) {
  uint64_t schedules = 0;
  SimulationResult r =
      FirstViolation(LeaseMutant::kNone, nullptr, std::min<uint64_t>(Budget(), 2000), &schedules);
  EXPECT_TRUE(r.safe) << r.violation;
  r = FirstViolation(LeaseMutant::kNone, Reordering, std::min<uint64_t>(Budget(), 2000), &schedules);
  EXPECT_TRUE(r.safe) << r.violation;
}

}  // namespace
}  // namespace dynatroni::dcs
