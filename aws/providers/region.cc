#include "aws/providers/region.h"

#include <algorithm>

#include "aws/providers/profile_files.h"
#include "aws/providers/util.h"

namespace dynatroni::aws {
namespace {

bool IsPlausibleRegion(const std::string& r) {
  return !r.empty() && r.size() <= 63 && r.front() != '-' && r.back() != '-' &&
         std::all_of(r.begin(), r.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

}  // namespace

Result<ResolvedRegion> ResolveRegionChain(const RegionChainOptions& options, Deadline deadline) {
  using providers_internal::GetEnv;
  const Env& env = options.env;
  if (!options.explicit_region.empty() || GetEnv(env, "AWS_REGION") || GetEnv(env, "AWS_DEFAULT_REGION")) {
    return ResolveRegion(options.explicit_region, env);
  }
  const ProfileFileLocations loc =
      ResolveProfileFileLocations(options.profile, options.credentials_file, options.config_file, env);
  auto profile_region = ProfileRegion(loc);
  if (!profile_region.ok()) return profile_region.status().Annotate("reading the profile's region");
  if (profile_region->has_value()) {
    const std::string& r = **profile_region;
    if (!IsPlausibleRegion(r)) {
      return InvalidArgument("region \"" + r.substr(0, 64) + "\" of profile '" + loc.profile + "' in " +
                             loc.config_file + " is not a valid AWS region name; use e.g. us-east-1");
    }
    return ResolvedRegion{r, "profile:" + loc.profile};
  }
  std::string imds_note = "instance metadata not consulted";
  if (options.use_imds) {
    ImdsOptions imds = options.imds;
    imds.env = env;
    ImdsClient client(std::move(imds));
    Clock& clock = options.imds.clock != nullptr ? *options.imds.clock : *SystemClock::Instance();
    auto r = FetchImdsRegion(client, deadline.Min(Deadline::After(clock, options.imds_timeout)));
    if (r.ok()) return ResolvedRegion{*r, "imds"};
    imds_note = "instance metadata: " + r.status().message();
  }
  return InvalidArgument(
      "no AWS region configured: set the region option, AWS_REGION, or region in profile '" + loc.profile +
      "' of " + loc.config_file + " (e.g. us-east-1); " + imds_note);
}

}  // namespace dynatroni::aws
