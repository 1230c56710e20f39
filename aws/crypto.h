// File: aws/crypto.h
//
// The few hash primitives SigV4 needs, on OpenSSL 3's EVP interfaces.
//
// These cannot fail with a working libcrypto; if OpenSSL itself reports an
// error (a broken or misconfigured provider) the process aborts with a message
// rather than signing with garbage.
//
// SHA-256 is fetched from the default provider once per process and each
// thread reuses one digest context; HMAC-SHA256 is RFC 2104 over that digest
// (OpenSSL 3's EVP_Q_mac/HMAC() would fetch the algorithms on every call).
//
// Thread-safety: all functions are pure and safe for concurrent use.
#ifndef DYNATRONI_AWS_CRYPTO_H_
#define DYNATRONI_AWS_CRYPTO_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace dynatroni::aws::crypto {

inline constexpr size_t kSha256Size = 32;

// SHA-256 of `data`: 32 raw bytes.
std::string Sha256(std::string_view data);
// SHA-256 of `data` as 64 lower-case hex digits.
std::string Sha256Hex(std::string_view data);
// HMAC-SHA256(key, data): 32 raw bytes.
std::string HmacSha256(std::string_view key, std::string_view data);
// Lower-case hex of arbitrary bytes.
std::string HexLower(std::string_view bytes);

}  // namespace dynatroni::aws::crypto

#endif  // DYNATRONI_AWS_CRYPTO_H_
