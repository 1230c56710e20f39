// File: fuzz/fuzz_common.h
//
// Shared helpers of the libFuzzer targets: invariant checks that abort (so
// libFuzzer records the input) with a message saying which property broke.
#ifndef DYNATRONI_FUZZ_FUZZ_COMMON_H_
#define DYNATRONI_FUZZ_FUZZ_COMMON_H_

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/status.h"

namespace dynatroni::fuzz {

[[noreturn]] inline void Fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "FUZZ INVARIANT BROKEN: %.*s: %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

#define DYNATRONI_FUZZ_CHECK(cond, detail)                 \
  do {                                                     \
    if (!(cond)) ::dynatroni::fuzz::Fail(#cond, (detail)); \
  } while (false)

// Every error the core reports is one line: no CR/LF (and, when `printable`,
// no other C0 control character or DEL either).
inline void CheckOneLine(const Status& s, bool printable = false) {
  if (s.ok()) return;
  DYNATRONI_FUZZ_CHECK(s.code() != StatusCode::kOk, s.message());
  for (char c : s.message()) {
    DYNATRONI_FUZZ_CHECK(c != '\n' && c != '\r', s.message());
    if (printable) {
      auto u = static_cast<unsigned char>(c);
      DYNATRONI_FUZZ_CHECK(u >= 0x20 && u != 0x7f, s.message());
    }
  }
}

// `secret` (when long enough to be recognisable) never appears in `text`.
inline void CheckNoSecret(std::string_view text, std::string_view secret) {
  if (secret.size() < 6) return;
  DYNATRONI_FUZZ_CHECK(text.find(secret) == std::string_view::npos, std::string(text));
}

}  // namespace dynatroni::fuzz

#endif  // DYNATRONI_FUZZ_FUZZ_COMMON_H_
