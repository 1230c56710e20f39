#include "aws/crypto.h"

#include <cstdio>
#include <cstdlib>

#include <openssl/evp.h>

namespace dynatroni::aws::crypto {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "dynatroni: OpenSSL %s failed; libcrypto is unusable\n", what);
  std::abort();
}

}  // namespace

std::string Sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) Die("SHA-256");
  return {reinterpret_cast<const char*>(md), len};
}

std::string Sha256Hex(std::string_view data) { return HexLower(Sha256(data)); }

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  // An empty key is legal for HMAC; give OpenSSL a valid pointer regardless.
  static const unsigned char kEmpty = 0;
  const void* key_ptr = key.empty() ? &kEmpty : static_cast<const void*>(key.data());
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key_ptr, key.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, sizeof(out),
                &len) == nullptr) {
    Die("HMAC-SHA256");
  }
  return {reinterpret_cast<const char*>(out), len};
}

std::string HexLower(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    hex[2 * i] = kDigits[b >> 4];
    hex[2 * i + 1] = kDigits[b & 0xf];
  }
  return hex;
}

}  // namespace dynatroni::aws::crypto
