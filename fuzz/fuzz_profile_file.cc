// Fuzz target: the shared AWS `config` / `credentials` file parser.
//
// Input: a file's contents, parsed as both kinds. Errors and warnings must be
// one line and never quote a secret or session token the file holds; a set
// built from both parses answers lookups without crashing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "aws/providers/profile_files.h"
#include "fuzz/fuzz_common.h"

using namespace dynatroni;  // NOLINT(google-build-using-namespace)

namespace {

void CheckParsed(const aws::ParsedProfileFile& parsed) {
  for (const auto& w : parsed.warnings) {
    fuzz::CheckOneLine(InvalidArgument(w));
    for (const auto& [name, props] : parsed.profiles) {
      for (const char* secret_key : {"aws_secret_access_key", "aws_session_token"}) {
        auto it = props.find(secret_key);
        // Only secret-like values (base64 alphabet, 12+ characters) that are not also the section name:
        // our own fixed wording ("unusual characters") may otherwise equal the fuzzer's "secret".
        if (it != props.end() && it->second.size() >= 12 &&
            it->second.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+=") == std::string::npos &&
            w.find(it->second) != std::string::npos && name.find(it->second) == std::string::npos) {
          fuzz::Fail("a warning quotes a secret", w);
        }
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view contents(reinterpret_cast<const char*>(data), size);
  auto config = aws::ParseProfileFile(contents, aws::ProfileFileKind::kConfig, "config");
  auto credentials = aws::ParseProfileFile(contents, aws::ProfileFileKind::kCredentials, "credentials");
  fuzz::CheckOneLine(config.status());
  fuzz::CheckOneLine(credentials.status());
  if (!config.ok() || !credentials.ok()) return 0;
  CheckParsed(*config);
  CheckParsed(*credentials);
  for (const auto& [name, props] : credentials->profiles) {
    for (const auto& [key, value] : props) {
      DYNATRONI_FUZZ_CHECK(!key.empty(), "empty property name in [" + name + "]");
      for (char c : key) DYNATRONI_FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "keys are lower-cased: " + key);
    }
  }
  aws::ProfileSet set(*config, *credentials);
  for (const auto& [name, props] : config->profiles) {
    DYNATRONI_FUZZ_CHECK(set.Has(name), "a parsed config profile is in the set: " + name);
    for (const auto& [key, value] : props) (void)set.Get(name, key);
  }
  (void)set.Get("default", "region");
  return 0;
}
