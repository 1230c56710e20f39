// File: http/ascii.h
//
// ASCII case helpers for HTTP header and method names (locale-independent;
// bytes >= 0x80 are left as they are). Shared by the transport and the
// HTTP/1.1 framing.
//
// Thread-safety: pure functions.
#ifndef DYNATRONI_HTTP_ASCII_H_
#define DYNATRONI_HTTP_ASCII_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace dynatroni::http {

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

// Whether `s` starts with `lower_prefix` ignoring the case of `s`.
// REQUIRES: `lower_prefix` is lower-case.
inline bool StartsWithIgnoreCase(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    if (AsciiLower(s[i]) != lower_prefix[i]) return false;
  }
  return true;
}

// Whether `s` equals `lower` ignoring the case of `s`. REQUIRES: `lower` is lower-case.
inline bool EqualsIgnoreCase(std::string_view s, std::string_view lower) {
  return s.size() == lower.size() && StartsWithIgnoreCase(s, lower);
}

}  // namespace dynatroni::http

#endif  // DYNATRONI_HTTP_ASCII_H_
