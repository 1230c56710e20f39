// File: aws/providers/chain.h
//
// The default credential chain, in the AWS CLI's order:
//   1. static      explicit keys from Dynatroni's configuration (if given)
//   2. environment AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
//   3. profile     shared config/credentials files: role_arn (AssumeRole),
//                  static keys, credential_process (see profile_files.h)
//   4. web-identity AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
//   5. container   AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI
//   6. imds        EC2 instance metadata (IMDSv2) — only reached when the
//                  container variables are unset, since the container link
//                  then says "not found": container *or* IMDS, as the SDKs do.
//
// Semantics: a link that does not apply returns kNotFound and the chain moves
// on. The first link that applies decides: its credentials, or its error
// (the AWS CLI does the same — a broken profile does not silently fall
// through to instance metadata with a different identity). When no link
// applies, the error is kNotFound and its message names every link and why it
// did not apply, one clause each:
//   "no AWS credentials found: static: no explicit credentials configured;
//    environment: ...; profile: ...; web-identity: ...; container: ...;
//    imds: ...; configure one of these sources (see aws/providers/README.md)"
// The returned Credentials.source names the link: "static", "environment",
// "profile:<p>", "assume-role:<p>", "credential_process:<p>",
// "web-identity" (or "web-identity:<p>" from a profile), "container", "imds".
//
// Thread-safety: the chain is safe for concurrent Resolve().
#ifndef DYNATRONI_AWS_PROVIDERS_CHAIN_H_
#define DYNATRONI_AWS_PROVIDERS_CHAIN_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/credentials.h"
#include "aws/providers/cache.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"
#include "http/transport.h"

namespace dynatroni::aws {

struct ChainOptions {
  // HTTP for STS, the container endpoint and IMDS; nullptr = the process-wide
  // CurlTransport (created on first use).
  std::shared_ptr<http::Transport> transport;
  Clock* clock = nullptr;  // nullptr = SystemClock
  // Explicit keys (Dynatroni config / flags); the first link when set.
  std::optional<Credentials> static_credentials;
  // Profile selection and file locations; empty = AWS_PROFILE / env / defaults.
  std::string profile;
  std::string credentials_file;
  std::string config_file;
  // Region for STS calls (AssumeRole, web identity); empty = resolved like the CLI.
  std::string region;
  // STS endpoint override; empty = AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, default.
  std::string sts_endpoint;
  // IMDS settings (see imds.h).
  bool disable_imds = false;  // in addition to AWS_EC2_METADATA_DISABLED=true
  bool allow_imdsv1_fallback = false;
  std::string imds_endpoint;  // empty = AWS_EC2_METADATA_SERVICE_ENDPOINT / default
  Duration imds_call_timeout = std::chrono::seconds(1);
  // Base URL for AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (tests only).
  std::string container_relative_uri_host = "http://169.254.170.2";
  // Wrap the chain in a CachingProvider (cache_options.clock defaults to `clock`).
  bool cache = true;
  CacheOptions cache_options;
  // The environment snapshot (core/env.h) every link reads its variables
  // from; the default is an empty environment.
  Env env;
};

// The default chain described above (wrapped in a CachingProvider unless
// options.cache is false). Never fails to build; problems surface at Resolve().
std::shared_ptr<CredentialsProvider> MakeDefaultChain(ChainOptions options = {});

// A chain over `links` with the semantics above (for custom setups and tests).
// `name` is the provider's name().
std::shared_ptr<CredentialsProvider> MakeProviderChain(
    std::vector<std::shared_ptr<CredentialsProvider>> links, std::string name = "credential-chain");

}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_PROVIDERS_CHAIN_H_
