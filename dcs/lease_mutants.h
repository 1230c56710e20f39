// File: dcs/lease_mutants.h
//
// Deliberately broken variants of the lease, for the simulation's mutation
// matrix only (dcs/lease_mutation_test.cc, docs/reliability.md). A mutant is
// compiled in only where DYNATRONI_LEASE_MUTANTS is defined — the separate
// test executable dynatroni_lease_mutation_test, which compiles its own copy
// of the lease code. Everywhere else DYNATRONI_MUTANT(x) is the constant
// `false` and the broken branches are not in the binary.
//
// Thread-safety: the active mutant is per thread (schedules run in parallel).
#ifndef DYNATRONI_DCS_LEASE_MUTANTS_H_
#define DYNATRONI_DCS_LEASE_MUTANTS_H_

namespace dynatroni::dcs {

enum class LeaseMutant {
  kNone,
  kOwnerOnlyResolution,    // a write counts as applied when the item is ours, whatever its version
  kZeroSafetyMargin,       // bound = send + ttl (no demotion allowance, no drift)
  kBoundFromReply,         // bound counted from when the reply arrived, not from the send
  kReleaseWithoutVersion,  // release conditioned on our name only
  kBoundFromCurrentTtl,    // bound from the current ttl, not the lease written in the item
  kTakeoverUnconditioned,  // takeover of an expired lease not conditioned on the observed version
  kObservationNotReset,    // a follower's observation age not reset when the version changes
  kExpiryByWallClock,      // a follower expires the lease by its wall clock against the writer's updated_at
};

#ifdef DYNATRONI_LEASE_MUTANTS
// The mutant active on this thread (kNone unless a test sets it).
LeaseMutant ActiveLeaseMutant();
void SetActiveLeaseMutant(LeaseMutant mutant);
#define DYNATRONI_MUTANT(name) (::dynatroni::dcs::ActiveLeaseMutant() == ::dynatroni::dcs::LeaseMutant::name)
#else
#define DYNATRONI_MUTANT(name) false
#endif

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_LEASE_MUTANTS_H_
