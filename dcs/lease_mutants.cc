// The active lease mutant (dcs/lease_mutants.h), per thread. Compiled only
// into dynatroni_lease_mutation_test, with DYNATRONI_LEASE_MUTANTS.
#include "dcs/lease_mutants.h"

#ifndef DYNATRONI_LEASE_MUTANTS
#error "lease_mutants.cc belongs to the mutation test only (DYNATRONI_LEASE_MUTANTS)"
#endif

namespace dynatroni::dcs {
namespace {
thread_local LeaseMutant active = LeaseMutant::kNone;
}  // namespace

LeaseMutant ActiveLeaseMutant() { return active; }
void SetActiveLeaseMutant(LeaseMutant mutant) { active = mutant; }

}  // namespace dynatroni::dcs
