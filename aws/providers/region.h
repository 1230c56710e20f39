// File: aws/providers/region.h
//
// Region resolution in the AWS CLI's order (first found wins):
//   1. the explicit value (Dynatroni's `region` setting)    source "region"
//   2. AWS_REGION                                           source "AWS_REGION"
//   3. AWS_DEFAULT_REGION                                   source "AWS_DEFAULT_REGION"
//   4. `region` of the selected profile (AWS_PROFILE, ...)  source "profile:<name>"
//   5. EC2 instance metadata placement/region (optional,   source "imds"
//      bounded by imds_timeout and the caller's deadline)
// Steps 1-3 are aws::ResolveRegion (aws/endpoint.h). (aws-sdk-cpp puts
// AWS_DEFAULT_REGION before AWS_REGION; the CLI and the other SDKs do not: we
// follow the CLI.) Nothing found is kInvalidArgument with the fix and why
// IMDS did not answer.
//
// Thread-safety: safe for concurrent use (reads files).
#ifndef DYNATRONI_AWS_PROVIDERS_REGION_H_
#define DYNATRONI_AWS_PROVIDERS_REGION_H_

#include <chrono>
#include <string>

#include "aws/endpoint.h"
#include "aws/providers/imds.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"

namespace dynatroni::aws {

struct RegionChainOptions {
  std::string explicit_region;
  // Profile selection (see profile_files.h); empty = environment / defaults.
  std::string profile;
  std::string credentials_file;
  std::string config_file;
  bool use_imds = true;
  // Transport, clock, endpoint, v1 fallback for the IMDS lookup.
  ImdsOptions imds;
  // Total budget of the IMDS lookup (token + GET), within the caller's deadline.
  Duration imds_timeout = std::chrono::seconds(2);
  // The environment snapshot (core/env.h) of AWS_REGION, AWS_DEFAULT_REGION,
  // the profile selection and the IMDS settings (it replaces imds.env);
  // the default is an empty environment.
  Env env;
};

// ResolvedRegion.source is one of the sources listed above. Errors:
// kInvalidArgument when nothing is found or a value is not a plausible region
// name, or the profile files are unparsable.
Result<ResolvedRegion> ResolveRegionChain(const RegionChainOptions& options, Deadline deadline);

}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_PROVIDERS_REGION_H_
