#include "dcs/config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "aws/endpoint.h"
#include "aws/providers/chain.h"
#include "aws/providers/region.h"
#include "http/curl_transport.h"

namespace dynatroni::dcs {
namespace {

const char* const kKeys[] = {"table_name",
                             "region",
                             "endpoint_url",
                             "failover_time",
                             "profile",
                             "ca_bundle",
                             "access_key_id",
                             "secret_access_key",
                             "session_token",
                             "leader_poll_interval",
                             "switchover_poll_interval",
                             "metrics_listen"};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

// The accepted keys as one comma-separated list, for error messages: the
// same table the parsers accept, so a message never lists fewer.
std::string KnownKeys() {
  std::string out;
  for (const char* key : kKeys) out += (out.empty() ? "" : ", ") + std::string(key);
  return out;
}

// At most this many characters of a user's value are quoted in a message.
std::string Shown(const std::string& text) { return text.size() > 40 ? text.substr(0, 40) + "..." : text; }

// Largest accepted number of seconds (a day): far above any sane timing, and
// small enough that the conversion to nanoseconds cannot overflow (fuzzing
// found 1e300 overflowing it).
constexpr double kMaxSeconds = 86400;

Result<Duration> ParseSeconds(const std::string& field, const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0' || !std::isfinite(v) || v <= 0 || v > kMaxSeconds) {
    return InvalidArgument(field + ": expected a positive number of seconds (at most 86400), got '" +
                           Shown(text) + "'");
  }
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(v));
}

// "host:port", "[v6]:port": a host of letters, digits, '.', '-', '_' (or a
// bracketed IPv6 address) and a port 1-65535. Returns it unchanged, or "" for
// "off"/"false".
Result<std::string> ParseListen(const std::string& field, const std::string& text) {
  if (text == "off" || text == "false") return std::string();
  auto bad = [&] {
    return InvalidArgument(field + ": expected host:port such as 127.0.0.1:9547 (or [::1]:9547), got '" +
                           Shown(text) + "'");
  };
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad();
  const std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return bad();
  }
  if (const int p = std::stoi(port); p < 1 || p > 65535) return bad();
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']' || !std::all_of(host.begin() + 1, host.end() - 1, [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
        })) {
      return bad();
    }
  } else if (!std::all_of(host.begin(), host.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
             })) {
    return bad();
  }
  return text;
}

Status ParseUrl(const std::string& url, std::map<std::string, std::string>* out) {
  const std::string scheme = "dynamodb://";
  if (url.rfind(scheme, 0) != 0) {
    return InvalidArgument(
        "url: expected dynamodb://<table>?region=...&endpoint_url=...&failover_time=..., got '" +
        Shown(url.substr(0, url.find('?'))) + "'");  // never the query: it may carry a secret_access_key
  }
  std::string rest = url.substr(scheme.size());
  auto q = rest.find('?');
  std::string table = PercentDecode(rest.substr(0, q));
  if (!table.empty() && table.back() == '/') table.pop_back();
  if (!table.empty()) (*out)["table_name"] = table;
  if (q == std::string::npos) return {};
  std::string query = rest.substr(q + 1);
  size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    std::string pair = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      std::string k = PercentDecode(pair.substr(0, eq));
      std::string v = eq == std::string::npos ? "" : PercentDecode(pair.substr(eq + 1));
      bool known = false;
      for (const char* key : kKeys) known = known || k == key;
      if (!known) {
        return InvalidArgument("url: unknown parameter '" + Shown(k) + "' (known: " + KnownKeys() + ")");
      }
      (*out)[k] = v;
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return {};
}

}  // namespace

Result<DcsConfig> ParseDcsConfig(const std::map<std::string, std::string>& section, const Env& env) {
  std::map<std::string, std::string> merged;
  auto url_env = env.find("PATRONI_DYNAMODB_URL");
  std::string url = section.count("url") ? section.at("url") : "";
  if (url.empty() && url_env != env.end()) url = url_env->second;
  if (!url.empty()) DYNATRONI_RETURN_IF_ERROR(ParseUrl(url, &merged));
  for (const auto& [k, v] : section) {
    if (k == "url") continue;
    bool known = false;
    for (const char* key : kKeys) known = known || k == key;
    if (!known) {
      return InvalidArgument("dynamodb." + Shown(k) + ": unknown setting (known: " + KnownKeys() + ", url)");
    }
    merged[k] = v;
  }
  for (const char* key : kKeys) {
    auto it = env.find("PATRONI_DYNAMODB_" + Upper(key));
    if (it != env.end() && !it->second.empty()) merged[key] = it->second;
  }
  DcsConfig c;
  for (const auto& [k, v] : merged) {
    if (k == "table_name") {
      c.table_name = v;
    } else if (k == "region") {
      c.region = v;
    } else if (k == "endpoint_url") {
      c.endpoint_url = v;
    } else if (k == "failover_time") {
      DYNATRONI_ASSIGN_OR_RETURN(Duration f, ParseSeconds("dynamodb.failover_time", v));
      auto t = Timing::FromFailoverTime(f);
      if (!t.ok()) return InvalidArgument("dynamodb." + t.status().message());
      c.failover_time = f;
    } else if (k == "profile") {
      c.profile = v;
    } else if (k == "ca_bundle") {
      c.ca_bundle = v;
    } else if (k == "access_key_id") {
      c.access_key_id = v;
    } else if (k == "secret_access_key") {
      c.secret_access_key = v;
    } else if (k == "session_token") {
      c.session_token = v;
    } else if (k == "leader_poll_interval") {
      DYNATRONI_ASSIGN_OR_RETURN(c.leader_poll_interval, ParseSeconds("dynamodb.leader_poll_interval", v));
    } else if (k == "metrics_listen") {
      DYNATRONI_ASSIGN_OR_RETURN(c.metrics_listen, ParseListen("dynamodb.metrics_listen", v));
    } else if (k == "switchover_poll_interval") {
      if (v == "0" || v == "0.0" || v == "off") {
        c.switchover_poll_interval = Duration::zero();
      } else {
        auto d = ParseSeconds("dynamodb.switchover_poll_interval", v);
        if (!d.ok()) return InvalidArgument(d.status().message() + " (or 0 to turn the polls off)");
        c.switchover_poll_interval = *d;
      }
    }
  }
  if (auto s = dynamodb::ValidateTableName(c.table_name); !s.ok()) {
    return InvalidArgument("dynamodb.table_name: " + s.message());
  }
  if (c.access_key_id.empty() != c.secret_access_key.empty()) {
    return InvalidArgument(
        std::string("dynamodb.") + (c.access_key_id.empty() ? "access_key_id" : "secret_access_key") +
        ": set both access_key_id and secret_access_key, or neither (to use the AWS credential chain)");
  }
  if (!c.endpoint_url.empty()) {
    auto e = aws::NormalizeEndpointUrl(c.endpoint_url, "dynamodb.endpoint_url");
    if (!e.ok()) return e.status();
    c.endpoint_url = *e;
  }
  if (!c.ca_bundle.empty() && env.count("DYNATRONI_SKIP_CA_CHECK") == 0) {
    if (FILE* f = std::fopen(c.ca_bundle.c_str(), "r")) {
      std::fclose(f);
    } else {
      return InvalidArgument("dynamodb.ca_bundle: cannot read '" + Shown(c.ca_bundle) +
                             "': give a readable PEM file or remove the setting");
    }
  }
  return c;
}

std::string PartitionFor(const std::string& ns, const std::string& scope) {
  std::string n = ns;
  while (!n.empty() && n.front() == '/') n.erase(n.begin());
  while (!n.empty() && n.back() == '/') n.pop_back();
  if (n.empty() || n == "service") return scope;
  return n + "/" + scope;
}

Result<Stack> OpenStack(const DcsConfig& config, const Env& env,
                        std::function<void(const std::string&)> on_store_warning) {
  Stack stack;
  aws::RegionChainOptions region_opts;
  region_opts.explicit_region = config.region;
  region_opts.profile = config.profile;
  region_opts.env = env;
  DYNATRONI_ASSIGN_OR_RETURN(
      auto region, aws::ResolveRegionChain(
                       region_opts, Deadline::After(*SystemClock::Instance(), std::chrono::seconds(5))));
  DYNATRONI_ASSIGN_OR_RETURN(auto endpoint, aws::ResolveEndpoint(config.endpoint_url, region.region, env));
  aws::ChainOptions chain;
  chain.profile = config.profile;
  chain.region = region.region;
  chain.env = env;
  if (!config.access_key_id.empty()) {
    aws::Credentials c;
    c.access_key_id = config.access_key_id;
    c.secret_access_key = aws::SecretString(config.secret_access_key);
    c.session_token = aws::SecretString(config.session_token);
    c.source = "static";
    chain.static_credentials = std::move(c);
  }
  std::shared_ptr<aws::CredentialsProvider> creds = aws::MakeDefaultChain(std::move(chain));
  {
    // Resolve once now so the operator sees which link supplies credentials
    // (never the secret). A failure here is reported, not fatal: the DCS
    // retries on every call and Patroni treats it as DynamoDB being unreachable.
    auto resolved = creds->Resolve(Deadline::After(*SystemClock::Instance(), std::chrono::seconds(5)));
    stack.credential_source =
        resolved.ok() ? resolved->source : "unresolved (" + resolved.status().message() + ")";
  }
  http::CurlOptions curl;
  curl.ca_bundle = config.ca_bundle;
  DYNATRONI_ASSIGN_OR_RETURN(auto transport, http::CurlTransport::Create(curl));
  dynamodb::ClientOptions opts;
  // The endpoint as resolved and parsed once (aws::ResolveEndpoint): not parsed again.
  opts.region = endpoint.signing_region;
  opts.endpoint = endpoint.url;
  opts.parsed_endpoint = endpoint.parsed;
  opts.signing_service = endpoint.signing_service;
  opts.credentials = std::move(creds);
  opts.transport = std::shared_ptr<http::Transport>(std::move(transport));
  DYNATRONI_ASSIGN_OR_RETURN(auto client, dynamodb::Client::Create(std::move(opts)));
  stack.client = std::shared_ptr<dynamodb::Client>(std::move(client));
  stack.store =
      std::make_shared<DynamoItemStore>(stack.client, config.table_name, std::move(on_store_warning));
  return stack;
}

Result<std::unique_ptr<Dcs>> MakeDcs(const DcsConfig& config, std::shared_ptr<ItemStore> store,
                                     const std::string& partition, const std::string& name) {
  DcsOptions o;
  o.partition = partition;
  o.name = name;
  o.store = std::move(store);
  o.leader_poll_interval = config.leader_poll_interval;
  o.handover_poll_interval = config.switchover_poll_interval;
  if (config.failover_time) o.timing = *Timing::FromFailoverTime(*config.failover_time);
  return Dcs::Create(std::move(o));
}

}  // namespace dynatroni::dcs
