// File: aws/crypto.h
//
// The few hash primitives SigV4 needs, on OpenSSL 3's EVP interfaces.
//
// These cannot fail with a working libcrypto; if OpenSSL itself reports an
// error (a broken or misconfigured provider) the process aborts with a message
// rather than signing with garbage.
//
// Thread-safety: all functions are pure and safe for concurrent use.
#ifndef DYNATRONI_AWS_CRYPTO_H_
#define DYNATRONI_AWS_CRYPTO_H_

#include <string>
#include <string_view>

namespace dynatroni::aws::crypto {

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
