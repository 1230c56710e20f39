// File: aws/providers/profile_files.h
//
// The shared AWS `credentials` and `config` files, and the profile credential
// provider built on them.
//
// File format (the AWS SDKs' shared-config rules):
//  * `[profile name]` sections in `config` (and `[default]`, or
//    `[profile default]`, which wins over `[default]`); plain `[name]` in
//    `credentials`. Other config section kinds (`[sso-session x]`,
//    `[services x]`) and non-prefixed non-default names in `config` are
//    ignored (with a warning), as the SDKs do. Section names may be padded
//    with whitespace and followed by a `#`/`;` comment.
//  * `key = value` properties; keys are lower-cased (the AWS CLI does), values
//    trimmed. A `#` or `;` preceded by whitespace starts a trailing comment.
//    Lines whose first non-blank character is `#` or `;` are comments.
//  * An indented line continues the previous property's value (joined with
//    "\n"). After a property with an empty value (`s3 =`), indented
//    `key = value` lines are sub-properties: kept apart and ignored here.
//  * Repeated sections merge; a repeated key takes the last value.
//  * Fatal syntax errors (a property before any section, a section header
//    without `]`, a line that is neither) make the whole file
//    kInvalidArgument "<file>:<line>: ..." (never quoting the line's value).
//
// Where the files are: AWS_SHARED_CREDENTIALS_FILE (default
// ~/.aws/credentials) and AWS_CONFIG_FILE (default ~/.aws/config), `~`
// expanded from HOME (or the password database). A missing file is an empty
// file. Profile: explicit option, else AWS_PROFILE, else AWS_DEFAULT_PROFILE,
// else "default". Both files contribute to a profile; the `credentials` file
// wins key by key.
//
// Thread-safety: the parser is pure; the provider re-reads the files on each
// Resolve() and is safe for concurrent use.
#ifndef DYNATRONI_AWS_PROVIDERS_PROFILE_FILES_H_
#define DYNATRONI_AWS_PROVIDERS_PROFILE_FILES_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"
#include "http/transport.h"

namespace dynatroni::aws {

// Properties of one profile: lower-cased key -> trimmed value.
using ProfileProperties = std::map<std::string, std::string>;

enum class ProfileFileKind { kConfig, kCredentials };

struct ParsedProfileFile {
  std::map<std::string, ProfileProperties> profiles;  // by profile name
  // Recoverable problems ("config:12: section [foo] ignored: ..."); never values.
  std::vector<std::string> warnings;
};

// Parses the contents of one file. `file_name` is used in messages only.
Result<ParsedProfileFile> ParseProfileFile(std::string_view contents, ProfileFileKind kind,
                                           std::string_view file_name);

struct ProfileFileLocations {
  std::string credentials_file;  // absolute or as given
  std::string config_file;
  std::string profile;         // the selected profile name
  std::string profile_origin;  // "explicit", "AWS_PROFILE", "AWS_DEFAULT_PROFILE" or "default"
};

// Applies the rules above; empty arguments mean "not given".
// Variables (AWS_PROFILE, ..., HOME) come from `env`.
ProfileFileLocations ResolveProfileFileLocations(const std::string& profile,
                                                 const std::string& credentials_file,
                                                 const std::string& config_file, const Env& env);

// `~` and `~/...` expanded with HOME of `env` (or getpwuid_r when it is unset).
std::string ExpandHome(const std::string& path, const Env& env);

// Both files, parsed. Copyable value.
class ProfileSet {
 public:
  ProfileSet() = default;
  ProfileSet(ParsedProfileFile config, ParsedProfileFile credentials);

  // Reads and parses both files (missing = empty). Errors: parse errors and
  // unreadable files (kInvalidArgument / kPermissionDenied naming the file).
  static Result<ProfileSet> Load(const ProfileFileLocations& locations);

  [[nodiscard]] bool Has(const std::string& profile) const;
  // The value of `key` for `profile`: the credentials file first, then config.
  [[nodiscard]] std::optional<std::string> Get(const std::string& profile, const std::string& key) const;
  // The value from one file only.
  [[nodiscard]] std::optional<std::string> GetFrom(ProfileFileKind kind, const std::string& profile,
                                                   const std::string& key) const;
  [[nodiscard]] const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  ParsedProfileFile config_;
  ParsedProfileFile credentials_;
  std::vector<std::string> warnings_;
};

struct ProfileProviderOptions {
  // For STS and (credential_source) the container endpoint / IMDS. nullptr =
  // the process-wide CurlTransport, created on first use.
  std::shared_ptr<http::Transport> transport;
  Clock* clock = nullptr;        // nullptr = SystemClock
  std::string profile;           // empty: AWS_PROFILE, AWS_DEFAULT_PROFILE, "default"
  std::string credentials_file;  // empty: AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials
  std::string config_file;       // empty: AWS_CONFIG_FILE, ~/.aws/config
  // Region for STS calls; empty: AWS_REGION, AWS_DEFAULT_REGION, the
  // profile's `region`, else the global endpoint (see sts.h).
  std::string region;
  // STS endpoint override; empty: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, default.
  std::string sts_endpoint;
  // role_arn -> source_profile hops allowed (a cycle is always an error).
  int max_role_chain_depth = 5;
  // Cap of one STS call (the caller's deadline may shorten it).
  Duration sts_timeout = std::chrono::seconds(10);
  // Cap of one credential_process run (the caller's deadline may shorten it).
  Duration credential_process_timeout = std::chrono::seconds(60);
  // For `credential_source = Ec2InstanceMetadata`.
  bool allow_imdsv1_fallback = false;
  // The environment snapshot (core/env.h) the variables of the profile
  // selection, STS and credential_source are read from; default empty.
  Env env;
};

// The profile provider. Resolution inside the selected profile, as the AWS
// CLI orders it:
//   1. role_arn with source_profile or credential_source (Environment,
//      Ec2InstanceMetadata, EcsContainer): STS AssumeRole signed with the
//      source credentials (source profiles may themselves assume roles, up to
//      max_role_chain_depth; a profile may name itself as source_profile to
//      use its own static keys) -> source "assume-role:<profile>";
//      role_arn with web_identity_token_file -> AssumeRoleWithWebIdentity
//      -> "web-identity:<profile>". Honours role_session_name,
//      external_id and duration_seconds; mfa_serial is rejected (needs a human).
//   2. aws_access_key_id/aws_secret_access_key[/aws_session_token] from the
//      credentials file -> "profile:<profile>";
//   3. credential_process -> "credential_process:<profile>";
//   4. static keys from the config file -> "profile:<profile>".
// kNotFound when the default profile does not exist or the profile has none
// of these (so the chain moves on). kInvalidArgument when a profile named by
// option or AWS_PROFILE does not exist, for half-configured keys, role
// cycles, sso_* profiles (unsupported: use credential_process with
// `aws configure export-credentials --format process`), and file syntax errors.
std::shared_ptr<CredentialsProvider> MakeProfileProvider(ProfileProviderOptions options);

// The `region` of the selected profile (merged as above: the credentials file
// wins over config); nullopt when the profile or
// the key is absent. Errors only for unreadable/unparsable files.
Result<std::optional<std::string>> ProfileRegion(const ProfileFileLocations& locations);

}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_PROVIDERS_PROFILE_FILES_H_
