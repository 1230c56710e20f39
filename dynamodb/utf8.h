// File: dynamodb/utf8.h
//
// The one UTF-8 rule of the client's JSON fast paths (wire_encode, wire_decode):
// RFC 3629 as nlohmann's lexer and dump accept it — no overlongs, no surrogates,
// nothing above U+10FFFF.
//
// Thread-safety: pure function.
#ifndef DYNATRONI_DYNAMODB_UTF8_H_
#define DYNATRONI_DYNAMODB_UTF8_H_

#include <cstddef>

namespace dynatroni::dynamodb::internal {

// Length (2-4) of the well-formed multi-byte sequence starting at `u`, with
// `left` bytes available, or 0 when it is not one. REQUIRES: left >= 1.
inline size_t Utf8SequenceLength(const unsigned char* u, size_t left) {
  auto cont = [](unsigned char c) { return c >= 0x80 && c <= 0xbf; };
  const unsigned char c = u[0];
  if (c >= 0xc2 && c <= 0xdf) return left >= 2 && cont(u[1]) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;  // no overlongs
    const unsigned char hi = c == 0xed ? 0x9f : 0xbf;  // no surrogates
    return left >= 3 && u[1] >= lo && u[1] <= hi && cont(u[2]) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const unsigned char lo = c == 0xf0 ? 0x90 : 0x80;  // no overlongs
    const unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;  // nothing above U+10FFFF
    return left >= 4 && u[1] >= lo && u[1] <= hi && cont(u[2]) && cont(u[3]) ? 4 : 0;
  }
  return 0;  // ASCII is not a multi-byte sequence; continuation bytes, C0/C1, F5..FF are invalid
}

}  // namespace dynatroni::dynamodb::internal

#endif  // DYNATRONI_DYNAMODB_UTF8_H_
