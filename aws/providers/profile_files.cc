#include "aws/providers/profile_files.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "aws/providers/container.h"
#include "aws/providers/credential_process.h"
#include "aws/providers/imds.h"
#include "aws/providers/sts.h"
#include "aws/providers/util.h"
#include "aws/providers/web_identity.h"

namespace dynatroni::aws {

using providers_internal::CallDeadline;
using providers_internal::CallSts;
using providers_internal::DefaultTransport;
using providers_internal::GetEnv;
using providers_internal::ReadSmallFile;
using providers_internal::StsCall;
using providers_internal::ToLower;
using providers_internal::Trim;

namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

bool IsIdentifierChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '/' || c == '.' || c == '%' || c == '@' || c == ':' || c == '+';
}

bool IsIdentifier(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsIdentifierChar);
}

// Strips a comment that starts at the first '#' or ';' (section headers).
std::string_view StripAnyComment(std::string_view s) {
  size_t p = s.find_first_of("#;");
  return p == std::string_view::npos ? s : s.substr(0, p);
}

// Strips a comment started by whitespace followed by '#' or ';' (property lines).
std::string_view StripWhitespaceComment(std::string_view s) {
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (IsBlank(s[i]) && (s[i + 1] == '#' || s[i + 1] == ';')) return s.substr(0, i);
  }
  return s;
}

// If `inner` starts with `keyword` followed by whitespace, returns the rest.
std::optional<std::string_view> AfterKeyword(std::string_view inner, std::string_view keyword) {
  if (inner.size() <= keyword.size() || inner.substr(0, keyword.size()) != keyword ||
      !IsBlank(inner[keyword.size()])) {
    return std::nullopt;
  }
  return Trim(inner.substr(keyword.size()));
}

}  // namespace

Result<ParsedProfileFile> ParseProfileFile(std::string_view contents, ProfileFileKind kind,
                                           std::string_view file_name) {
  ParsedProfileFile out;
  const std::string file(file_name);
  bool seen_section = false;
  bool default_is_prefixed = false;      // config: [profile default] seen
  ProfileProperties* section = nullptr;  // nullptr inside an ignored section
  std::string* property = nullptr;       // the last property (continuations), or nullptr
  bool property_empty_valued = false;    // its value was empty: indented lines are sub-properties
  bool in_ignored_property = false;      // continuations of something we skip

  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= contents.size()) {
    size_t nl = contents.find('\n', pos);
    std::string_view line =
        contents.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? contents.size() + 1 : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view trimmed = Trim(line);
    const std::string where = file + ":" + std::to_string(line_no) + ": ";
    if (trimmed.empty() || trimmed.front() == '#' || trimmed.front() == ';') continue;

    const bool indented = IsBlank(line.front());
    const bool has_property = property != nullptr || in_ignored_property;

    if (trimmed.front() == '[' && (!indented || !has_property)) {
      std::string_view header = Trim(StripAnyComment(trimmed));
      if (header.empty() || header.back() != ']') {
        return InvalidArgument(where + "section header without a closing ']'");
      }
      std::string_view inner = Trim(header.substr(1, header.size() - 2));
      seen_section = true;
      section = nullptr;
      property = nullptr;
      in_ignored_property = false;
      std::string_view name = inner;
      bool prefixed = false;
      if (auto rest = AfterKeyword(inner, "profile")) {
        if (kind == ProfileFileKind::kCredentials) {
          out.warnings.push_back(where +
                                 "section ignored: the credentials file takes [name], not [profile name]");
          continue;
        }
        name = *rest;
        prefixed = true;
      } else if (kind == ProfileFileKind::kConfig &&
                 (AfterKeyword(inner, "sso-session") || AfterKeyword(inner, "services"))) {
        continue;  // other section kinds: not profiles
      }
      if (!IsIdentifier(name)) {
        out.warnings.push_back(where +
                               "section ignored: the profile name has characters outside "
                               "letters, digits and _-/.%@:+");
        continue;
      }
      const std::string n(name);
      if (kind == ProfileFileKind::kConfig && !prefixed && n != "default") {
        std::string warning = where;
        warning.append("section [").append(n).append("] ignored: profiles in the config file are written ");
        warning.append("[profile ").append(n).append("]");
        out.warnings.push_back(std::move(warning));
        continue;
      }
      if (kind == ProfileFileKind::kConfig && n == "default") {
        if (prefixed && !default_is_prefixed) {
          out.profiles.erase(n);  // [profile default] wins over [default]
          default_is_prefixed = true;
        } else if (!prefixed && default_is_prefixed) {
          out.warnings.push_back(where + "section [default] ignored: [profile default] takes precedence");
          continue;
        }
      }
      section = &out.profiles[n];
      continue;
    }

    if (indented && has_property) {
      // A continuation or a sub-property.
      if (in_ignored_property) continue;
      if (property_empty_valued) {
        if (trimmed.find('=') == std::string_view::npos) {
          return InvalidArgument(where + "expected 'key = value' in a nested sub-section");
        }
        continue;  // sub-properties (e.g. "s3 =\n  max_concurrent_requests = 10") are not used here
      }
      *property += "\n";
      *property += std::string(trimmed);
      continue;
    }

    // A property line.
    std::string_view prop = Trim(StripWhitespaceComment(trimmed));
    size_t eq = prop.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument(where + "expected 'key = value', a [section] or a comment");
    }
    if (!seen_section) return InvalidArgument(where + "a property appears before any [section]");
    std::string_view key = Trim(prop.substr(0, eq));
    std::string_view value = Trim(prop.substr(eq + 1));
    property = nullptr;
    in_ignored_property = false;
    if (!IsIdentifier(key)) {
      out.warnings.push_back(where + "property ignored: the key is empty or has unusual characters");
      in_ignored_property = true;
      continue;
    }
    if (section == nullptr) {
      in_ignored_property = true;
      continue;
    }
    std::string& slot = (*section)[ToLower(key)];
    slot.assign(value);
    property = &slot;
    property_empty_valued = value.empty();
  }
  return out;
}

std::string ExpandHome(const std::string& path, const Env& env) {
  if (path != "~" && path.rfind("~/", 0) != 0) return path;
  std::string home = GetEnv(env, "HOME").value_or("");
  if (home.empty()) {
    struct passwd pw {};
    struct passwd* result = nullptr;
    std::string buf(16384, '\0');
    if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &result) == 0 && result != nullptr &&
        result->pw_dir != nullptr) {
      home = result->pw_dir;
    }
  }
  if (home.empty()) return path;
  while (home.size() > 1 && home.back() == '/') home.pop_back();
  return home + path.substr(1);
}

ProfileFileLocations ResolveProfileFileLocations(const std::string& profile,
                                                 const std::string& credentials_file,
                                                 const std::string& config_file, const Env& env) {
  ProfileFileLocations loc;
  loc.credentials_file = ExpandHome(
      !credentials_file.empty() ? credentials_file
                                : GetEnv(env, "AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"),
      env);
  loc.config_file = ExpandHome(
      !config_file.empty() ? config_file : GetEnv(env, "AWS_CONFIG_FILE").value_or("~/.aws/config"), env);
  if (!profile.empty()) {
    loc.profile = profile;
    loc.profile_origin = "explicit";
  } else if (auto p = GetEnv(env, "AWS_PROFILE")) {
    loc.profile = *p;
    loc.profile_origin = "AWS_PROFILE";
  } else if (auto d = GetEnv(env, "AWS_DEFAULT_PROFILE")) {
    loc.profile = *d;
    loc.profile_origin = "AWS_DEFAULT_PROFILE";
  } else {
    loc.profile = "default";
    loc.profile_origin = "default";
  }
  return loc;
}

ProfileSet::ProfileSet(ParsedProfileFile config, ParsedProfileFile credentials)
    : config_(std::move(config)), credentials_(std::move(credentials)) {
  warnings_ = config_.warnings;
  warnings_.insert(warnings_.end(), credentials_.warnings.begin(), credentials_.warnings.end());
}

Result<ProfileSet> ProfileSet::Load(const ProfileFileLocations& locations) {
  ParsedProfileFile parsed[2];
  const std::string* paths[2] = {&locations.config_file, &locations.credentials_file};
  const ProfileFileKind kinds[2] = {ProfileFileKind::kConfig, ProfileFileKind::kCredentials};
  for (int i = 0; i < 2; ++i) {
    auto text = ReadSmallFile(
        *paths[i], kinds[i] == ProfileFileKind::kConfig ? "AWS config file" : "AWS shared credentials file");
    if (!text.ok()) {
      if (text.status().code() == StatusCode::kNotFound) continue;  // a missing file is an empty file
      return text.status();
    }
    auto p = ParseProfileFile(*text, kinds[i], *paths[i]);
    providers_internal::WipeString(*text);
    if (!p.ok()) return p.status();
    parsed[i] = std::move(p).value();
  }
  return ProfileSet(std::move(parsed[0]), std::move(parsed[1]));
}

bool ProfileSet::Has(const std::string& profile) const {
  return config_.profiles.contains(profile) || credentials_.profiles.contains(profile);
}

std::optional<std::string> ProfileSet::GetFrom(ProfileFileKind kind, const std::string& profile,
                                               const std::string& key) const {
  const auto& profiles = kind == ProfileFileKind::kConfig ? config_.profiles : credentials_.profiles;
  auto p = profiles.find(profile);
  if (p == profiles.end()) return std::nullopt;
  auto v = p->second.find(key);
  if (v == p->second.end() || v->second.empty()) return std::nullopt;
  return v->second;
}

std::optional<std::string> ProfileSet::Get(const std::string& profile, const std::string& key) const {
  if (auto v = GetFrom(ProfileFileKind::kCredentials, profile, key)) return v;
  return GetFrom(ProfileFileKind::kConfig, profile, key);
}

Result<std::optional<std::string>> ProfileRegion(const ProfileFileLocations& locations) {
  auto set = ProfileSet::Load(locations);
  if (!set.ok()) return set.status();
  return set->Get(locations.profile, "region");
}

namespace {

std::string Quote(const std::string& profile) { return "profile '" + profile + "'"; }

class ProfileProvider final : public CredentialsProvider {
 public:
  explicit ProfileProvider(ProfileProviderOptions o) : o_(std::move(o)) {}

  Result<Credentials> Resolve(Deadline deadline) override {
    const ProfileFileLocations loc =
        ResolveProfileFileLocations(o_.profile, o_.credentials_file, o_.config_file, o_.env);
    auto set = ProfileSet::Load(loc);
    if (!set.ok()) return set.status();
    const std::string& name = loc.profile;
    if (!set->Has(name)) {
      const std::string where = loc.credentials_file + " or " + loc.config_file;
      if (loc.profile_origin == "default") return NotFound("no [default] profile in " + where);
      return InvalidArgument(
          Quote(name) + " (from " +
          (loc.profile_origin == "explicit" ? std::string("the profile option") : loc.profile_origin) +
          ") is in neither " + where + "; add a [profile " + name +
          "] section to the config file or select an existing profile");
    }
    Ctx ctx{*set, deadline, name};
    if (set->Get(name, "role_arn")) {
      std::vector<std::string> visited{name};
      auto creds = AssumeRoleFor(ctx, name, visited);
      if (!creds.ok()) return creds;
      if (creds->source.empty()) creds->source = "assume-role:" + name;
      return creds;
    }
    if (HasKeys(*set, ProfileFileKind::kCredentials, name)) {
      return StaticKeys(*set, ProfileFileKind::kCredentials, name);
    }
    if (auto process = set->Get(name, "credential_process")) return RunProcess(ctx, name, *process);
    if (HasKeys(*set, ProfileFileKind::kConfig, name))
      return StaticKeys(*set, ProfileFileKind::kConfig, name);
    if (set->Get(name, "sso_session") || set->Get(name, "sso_start_url") ||
        set->Get(name, "sso_account_id")) {
      return InvalidArgument(Quote(name) +
                             " uses IAM Identity Center (sso_* settings), which Dynatroni does not "
                             "support; set credential_process = aws configure export-credentials --profile " +
                             name + " --format process in another profile and use that one");
    }
    return NotFound(Quote(name) +
                    " has no credentials (no aws_access_key_id, role_arn or credential_process)");
  }

  [[nodiscard]] std::string name() const override { return "profile"; }

 private:
  struct Ctx {
    const ProfileSet& set;
    Deadline deadline;
    std::string top;
  };

  Clock& clock() const { return o_.clock != nullptr ? *o_.clock : *SystemClock::Instance(); }

  static bool HasKeys(const ProfileSet& set, ProfileFileKind kind, const std::string& name) {
    return set.GetFrom(kind, name, "aws_access_key_id") || set.GetFrom(kind, name, "aws_secret_access_key");
  }

  static bool HasAnyKeys(const ProfileSet& set, const std::string& name) {
    return HasKeys(set, ProfileFileKind::kCredentials, name) || HasKeys(set, ProfileFileKind::kConfig, name);
  }

  static Result<Credentials> StaticKeys(const ProfileSet& set, ProfileFileKind kind,
                                        const std::string& name) {
    auto id = set.GetFrom(kind, name, "aws_access_key_id");
    auto secret = set.GetFrom(kind, name, "aws_secret_access_key");
    const char* file = kind == ProfileFileKind::kConfig ? "config" : "credentials";
    if (!id) {
      return InvalidArgument(Quote(name) + " in the " + file +
                             " file sets aws_secret_access_key but not aws_access_key_id; set both");
    }
    if (!secret) {
      return InvalidArgument(Quote(name) + " in the " + file +
                             " file sets aws_access_key_id but not aws_secret_access_key; set both");
    }
    Credentials c;
    c.access_key_id = *id;
    c.secret_access_key = SecretString(std::move(*secret));
    auto token = set.GetFrom(kind, name, "aws_session_token");
    if (!token)
      token = set.GetFrom(kind, name, "aws_security_token");  // legacy name, still honoured by the CLI
    if (token) c.session_token = SecretString(std::move(*token));
    c.source = "profile:" + name;
    return c;
  }

  static Result<Credentials> KeysOf(const ProfileSet& set, const std::string& name) {
    if (HasKeys(set, ProfileFileKind::kCredentials, name)) {
      return StaticKeys(set, ProfileFileKind::kCredentials, name);
    }
    return StaticKeys(set, ProfileFileKind::kConfig, name);
  }

  Result<Credentials> RunProcess(const Ctx& ctx, const std::string& name, const std::string& command) const {
    CredentialProcessOptions po;
    po.clock = &clock();
    po.timeout = o_.credential_process_timeout;
    auto c = RunCredentialProcess(command, ctx.deadline, po, "credential_process of " + Quote(name));
    if (!c.ok()) return c;
    c->source = "credential_process:" + name;
    return c;
  }

  Result<std::shared_ptr<http::Transport>> Transport() const {
    if (o_.transport) return o_.transport;
    return DefaultTransport();
  }

  // Credentials of a source profile: its own role (recursively), its keys, or its process.
  Result<Credentials> ResolveSource(const Ctx& ctx, const std::string& name,
                                    std::vector<std::string>& visited) const {
    if (ctx.set.Get(name, "role_arn")) return AssumeRoleFor(ctx, name, visited);
    if (HasAnyKeys(ctx.set, name)) return KeysOf(ctx.set, name);
    if (auto process = ctx.set.Get(name, "credential_process")) return RunProcess(ctx, name, *process);
    return InvalidArgument("source " + Quote(name) +
                           " has no credentials (no aws_access_key_id, role_arn or credential_process)");
  }

  Result<Credentials> SourceCredentials(const Ctx& ctx, const std::string& name,
                                        std::vector<std::string>& visited) const {
    auto source_profile = ctx.set.Get(name, "source_profile");
    auto credential_source = ctx.set.Get(name, "credential_source");
    if (source_profile && credential_source) {
      return InvalidArgument(Quote(name) + " sets both source_profile and credential_source; keep one");
    }
    if (credential_source) {
      std::shared_ptr<CredentialsProvider> p;
      const std::string& cs = *credential_source;
      if (cs == "Environment") {
        p = MakeEnvironmentProvider(o_.env);
      } else if (cs == "Ec2InstanceMetadata") {
        ImdsOptions io;
        io.transport = o_.transport;
        io.clock = o_.clock;
        io.allow_imdsv1_fallback = o_.allow_imdsv1_fallback;
        io.env = o_.env;
        p = MakeImdsProvider(std::move(io));
      } else if (cs == "EcsContainer") {
        ContainerOptions co;
        co.transport = o_.transport;
        co.clock = o_.clock;
        co.env = o_.env;
        p = MakeContainerProvider(std::move(co));
      } else {
        return InvalidArgument(
            Quote(name) + ": credential_source must be Environment, Ec2InstanceMetadata or EcsContainer");
      }
      auto c = p->Resolve(ctx.deadline);
      if (!c.ok()) {
        Status st = c.status();
        if (st.code() == StatusCode::kNotFound) st = InvalidArgument(st.message());
        return st.Annotate(Quote(name) + ": credential_source " + cs);
      }
      return c;
    }
    if (!source_profile) {
      return InvalidArgument(Quote(name) +
                             " sets role_arn but none of source_profile, credential_source or "
                             "web_identity_token_file");
    }
    const std::string& src = *source_profile;
    if (src == name) {
      if (!HasAnyKeys(ctx.set, name)) {
        return InvalidArgument(Quote(name) + " names itself as source_profile but has no aws_access_key_id");
      }
      return KeysOf(ctx.set, name);
    }
    if (std::find(visited.begin(), visited.end(), src) != visited.end()) {
      std::string path;
      for (const auto& v : visited) path += v + " -> ";
      return InvalidArgument("source_profile cycle: " + path + src + "; break the loop in the config file");
    }
    if (static_cast<int>(visited.size()) > o_.max_role_chain_depth) {
      return InvalidArgument("role chain starting at " + Quote(ctx.top) + " is longer than " +
                             std::to_string(o_.max_role_chain_depth) + " assume-role steps");
    }
    if (!ctx.set.Has(src)) {
      return InvalidArgument("source_profile '" + src + "' of " + Quote(name) + " does not exist");
    }
    visited.push_back(src);
    return ResolveSource(ctx, src, visited);
  }

  Result<Credentials> AssumeRoleFor(const Ctx& ctx, const std::string& name,
                                    std::vector<std::string>& visited) const {
    const std::string role_arn = *ctx.set.Get(name, "role_arn");
    if (ctx.set.Get(name, "mfa_serial")) {
      return InvalidArgument(Quote(name) +
                             " sets mfa_serial: assuming a role with MFA needs a person to type the "
                             "code, which a daemon cannot do; use a role without MFA for Dynatroni");
    }
    const std::string region = StsRegion(o_.region, ctx.set.Get(name, "region").value_or(""), o_.env);
    auto endpoint = ResolveStsEndpoint(o_.sts_endpoint, region, o_.env);
    if (!endpoint.ok()) return endpoint.status();
    auto transport = Transport();
    if (!transport.ok()) return transport.status();
    std::string session = ctx.set.Get(name, "role_session_name").value_or("");
    if (session.empty()) session = DefaultRoleSessionName(clock());

    auto token_file = ctx.set.Get(name, "web_identity_token_file");
    if (token_file && !ctx.set.Get(name, "source_profile") && !ctx.set.Get(name, "credential_source")) {
      WebIdentityOptions wo;
      wo.transport = *transport;
      wo.clock = o_.clock;
      wo.role_arn = role_arn;
      wo.token_file = ExpandHome(*token_file, o_.env);
      wo.role_session_name = session;
      wo.region = region;
      wo.sts_endpoint = *endpoint;
      wo.sts_timeout = o_.sts_timeout;
      wo.source = "web-identity:" + name;
      wo.env = o_.env;
      return MakeWebIdentityProvider(std::move(wo))->Resolve(ctx.deadline);
    }

    auto source = SourceCredentials(ctx, name, visited);
    if (!source.ok()) return source;

    StsCall call;
    call.action = "AssumeRole";
    call.endpoint = *endpoint;
    call.region = region;
    call.signing_credentials = &*source;
    call.params = {{"RoleArn", role_arn}, {"RoleSessionName", session}};
    if (auto external_id = ctx.set.Get(name, "external_id"))
      call.params.emplace_back("ExternalId", *external_id);
    if (auto duration = ctx.set.Get(name, "duration_seconds")) {
      int secs = 0;
      bool ok = !duration->empty() && duration->size() <= 6 &&
                std::all_of(duration->begin(), duration->end(), [](char c) { return c >= '0' && c <= '9'; });
      if (ok) secs = std::stoi(*duration);
      if (!ok || secs < 900 || secs > 43200) {
        return InvalidArgument(Quote(name) + ": duration_seconds must be a whole number from 900 to 43200");
      }
      call.params.emplace_back("DurationSeconds", *duration);
    }
    auto creds = CallSts(**transport, clock(), call, CallDeadline(ctx.deadline, clock(), o_.sts_timeout),
                         "STS AssumeRole for " + role_arn + " (" + Quote(name) + ")");
    if (!creds.ok()) return creds;
    creds->source = "assume-role:" + ctx.top;
    return creds;
  }

  const ProfileProviderOptions o_;
};

}  // namespace

std::shared_ptr<CredentialsProvider> MakeProfileProvider(ProfileProviderOptions options) {
  return std::make_shared<ProfileProvider>(std::move(options));
}

}  // namespace dynatroni::aws
