// File: aws/test_env.h
//
// Test helper: sets or unsets environment variables for one test and restores
// their previous values on destruction. Not thread-safe (neither is setenv).
#ifndef DYNATRONI_AWS_TEST_ENV_H_
#define DYNATRONI_AWS_TEST_ENV_H_

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dynatroni::aws::testing_env {

class ScopedEnv {
 public:
  // Starts by unsetting every name in `clear`, so the host's environment cannot leak in.
  explicit ScopedEnv(const std::vector<std::string>& clear = {}) {
    for (const auto& name : clear) Unset(name);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  void Set(const std::string& name, const std::string& value) {
    Save(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void Unset(const std::string& name) {
    Save(name);
    ::unsetenv(name.c_str());
  }

 private:
  // Remembers the value from before the first change only.
  void Save(const std::string& name) {
    for (const auto& saved : saved_) {
      if (saved.first == name) return;
    }
    const char* v = std::getenv(name.c_str());
    saved_.emplace_back(name, v ? std::optional<std::string>(v) : std::nullopt);
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

}  // namespace dynatroni::aws::testing_env

#endif  // DYNATRONI_AWS_TEST_ENV_H_
