// File: core/env.h
//
// The process environment as a value. The environment is read once, at the
// edge (cli/main.cc, the Python binding's call), and the snapshot is passed
// down to everything that needs a variable (configuration, AWS region,
// endpoint and credential resolution), so no library code calls getenv and
// tests hand in exactly the variables they mean.
//
// Thread-safety: Env is a value type; EnvValue is pure; ProcessEnvironment
// reads `environ` (do not call it concurrently with setenv).
#ifndef DYNATRONI_CORE_ENV_H_
#define DYNATRONI_CORE_ENV_H_

#include <map>
#include <optional>
#include <string>

namespace dynatroni {

// Variable name -> value.
using Env = std::map<std::string, std::string>;

// The value of `name` in `env`; nullopt when unset or empty (the AWS SDKs
// treat an empty variable as unset).
std::optional<std::string> EnvValue(const Env& env, const std::string& name);

// A snapshot of this process's environment.
Env ProcessEnvironment();

}  // namespace dynatroni

#endif  // DYNATRONI_CORE_ENV_H_
