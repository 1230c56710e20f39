#include "aws/crypto.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace dynatroni::aws::crypto {
namespace {

constexpr size_t kBlockSize = 64;  // SHA-256 block size (the HMAC pad length)

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "dynatroni: OpenSSL %s failed; libcrypto is unusable\n", what);
  std::abort();
}

// OpenSSL 3 looks an algorithm up in its provider store on every implicit use
// (EVP_sha256() in EVP_Digest, EVP_Q_mac): fetch SHA-256 once per process.
// The pointer is intentionally never freed (it lives as long as libcrypto).
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) Die("EVP_MD_fetch(SHA256)");
    return fetched;
  }();
  return md;
}

// One reusable digest context per thread (EVP_DigestInit_ex2 resets it).
class ThreadDigest {
 public:
  ThreadDigest() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr) Die("EVP_MD_CTX_new");
  }
  ~ThreadDigest() { EVP_MD_CTX_free(ctx_); }
  ThreadDigest(const ThreadDigest&) = delete;
  ThreadDigest& operator=(const ThreadDigest&) = delete;
  EVP_MD_CTX* get() const { return ctx_; }

 private:
  EVP_MD_CTX* ctx_;
};

// SHA-256 of the concatenation of `parts` into out[0..31].
void Sha256Parts(std::initializer_list<std::string_view> parts, unsigned char* out) {
  thread_local ThreadDigest digest;
  EVP_MD_CTX* ctx = digest.get();
  if (EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) != 1) Die("SHA-256 init");
  for (std::string_view p : parts) {
    if (!p.empty() && EVP_DigestUpdate(ctx, p.data(), p.size()) != 1) Die("SHA-256 update");
  }
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != kSha256Size) Die("SHA-256 final");
}

std::string_view View(const unsigned char* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

}  // namespace

std::string Sha256(std::string_view data) {
  unsigned char md[kSha256Size];
  Sha256Parts({data}, md);
  return std::string(View(md, sizeof(md)));
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[kSha256Size];
  Sha256Parts({data}, md);
  return HexLower(View(md, sizeof(md)));
}

// RFC 2104 over the process-wide SHA-256: H((K ^ opad) || H((K ^ ipad) || data)),
// K the key zero-padded to the block size (hashed first when longer).
std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char k[kBlockSize] = {};
  if (key.size() > kBlockSize) {
    Sha256Parts({key}, k);
  } else if (!key.empty()) {
    std::memcpy(k, key.data(), key.size());
  }
  unsigned char ipad[kBlockSize];
  unsigned char opad[kBlockSize];
  for (size_t i = 0; i < kBlockSize; ++i) {
    ipad[i] = static_cast<unsigned char>(k[i] ^ 0x36);
    opad[i] = static_cast<unsigned char>(k[i] ^ 0x5c);
  }
  unsigned char inner[kSha256Size];
  Sha256Parts({View(ipad, kBlockSize), data}, inner);
  unsigned char mac[kSha256Size];
  Sha256Parts({View(opad, kBlockSize), View(inner, kSha256Size)}, mac);
  OPENSSL_cleanse(k, sizeof(k));
  OPENSSL_cleanse(ipad, sizeof(ipad));
  OPENSSL_cleanse(opad, sizeof(opad));
  return std::string(View(mac, sizeof(mac)));
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
