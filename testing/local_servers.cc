#include "testing/local_servers.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <sstream>

namespace dynatroni::testing {

std::vector<LocalServer> LocalServers() {
  std::vector<LocalServer> out;
  const char* env = std::getenv("DYNATRONI_TEST_ENDPOINTS");
  if (env == nullptr) return out;
  std::stringstream ss(env);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto eq = item.find('=');
    if (eq == std::string::npos) continue;
    LocalServer s;
    s.name = item.substr(0, eq);
    s.endpoint = item.substr(eq + 1);
    if (s.name == "dynalite") {
      s.supports_transactions = false;
      s.supports_return_old_on_condition_failure = false;
      s.supports_ttl = false;
    }
    out.push_back(s);
  }
  return out;
}

std::string UniqueTableName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

}  // namespace dynatroni::testing
