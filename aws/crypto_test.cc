#include "aws/crypto.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>

namespace dynatroni::aws::crypto {
namespace {

// Known answers from FIPS 180-2 (SHA-256) and RFC 4231 (HMAC-SHA256).
TEST(Crypto, Sha256MatchesFipsVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Crypto, Sha256RawIsThirtyTwoBytesOfTheHex) {
  std::string raw = Sha256("abc");
  ASSERT_EQ(raw.size(), 32u);
  EXPECT_EQ(HexLower(raw), Sha256Hex("abc"));
}

TEST(Crypto, Sha256HandlesEmbeddedNulBytes) { EXPECT_NE(Sha256Hex(std::string("a\0b", 3)), Sha256Hex("ab")); }

TEST(Crypto, HmacSha256MatchesRfc4231Vectors) {
  EXPECT_EQ(HexLower(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(HexLower(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HexLower(HmacSha256(std::string(131, '\xaa'),
                                "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Crypto, HmacSha256AcceptsEmptyKeyAndData) {
  EXPECT_EQ(HexLower(HmacSha256("", "")), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

// OpenSSL's own HMAC (EVP_Q_mac), the reference for our RFC 2104 construction.
std::string OpensslHmac(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  static const unsigned char kEmpty = 0;
  const void* key_ptr = key.empty() ? &kEmpty : static_cast<const void*>(key.data());
  EXPECT_NE(
      EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key_ptr, key.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, sizeof(out), &len),
      nullptr);
  return {reinterpret_cast<const char*>(out), len};
}

TEST(Crypto, HmacSha256MatchesOpensslForEveryKeyLengthAroundTheBlockSize) {
  for (size_t key_len : {0u, 1u, 31u, 32u, 33u, 63u, 64u, 65u, 127u, 128u, 200u}) {
    std::string key;
    for (size_t i = 0; i < key_len; ++i) key += static_cast<char>((i * 37 + 11) & 0xff);
    for (size_t data_len : {0u, 1u, 55u, 56u, 64u, 119u, 1000u}) {
      const std::string data(data_len, static_cast<char>('a' + data_len % 26));
      EXPECT_EQ(HexLower(HmacSha256(key, data)), HexLower(OpensslHmac(key, data)))
          << "key " << key_len << " bytes, data " << data_len << " bytes";
    }
  }
}

TEST(Crypto, DigestsFromManyThreadsAgreeWithTheSingleThreadedAnswers) {
  const std::string expected_sha = Sha256Hex("abc");
  const std::string expected_mac = HexLower(HmacSha256("Jefe", "what do ya want for nothing?"));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        if (Sha256Hex("abc") != expected_sha) ++mismatches[t];
        if (HexLower(HmacSha256("Jefe", "what do ya want for nothing?")) != expected_mac) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(Crypto, HexLowerEncodesEveryByteValue) {
  EXPECT_EQ(HexLower(""), "");
  EXPECT_EQ(HexLower(std::string("\x00\x0f\xa0\xff", 4)), "000fa0ff");
}

}  // namespace
}  // namespace dynatroni::aws::crypto
