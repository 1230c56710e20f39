#include "http/ca_bundle.h"

#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace dynatroni::http {
namespace {

// A file system holding exactly `files`.
auto Holding(std::set<std::string> files) {
  return [files = std::move(files)](const std::string& path) { return files.count(path) > 0; };
}

TEST(CaBundle, DebianAndUbuntu) {
  EXPECT_EQ(FindCaBundle({}, Holding({"/etc/ssl/certs/ca-certificates.crt"})),
            "/etc/ssl/certs/ca-certificates.crt");
}

TEST(CaBundle, RhelAndAmazonLinux) {
  EXPECT_EQ(FindCaBundle({}, Holding({"/etc/pki/tls/certs/ca-bundle.crt"})),
            "/etc/pki/tls/certs/ca-bundle.crt");
}

TEST(CaBundle, DebiansPathFirstWhenBothExist) {
  EXPECT_EQ(
      FindCaBundle({}, Holding({"/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt"})),
      "/etc/ssl/certs/ca-certificates.crt");
}

TEST(CaBundle, SslCertFileWins) {
  const Env env = {{"SSL_CERT_FILE", "/opt/corp/ca.pem"}};
  EXPECT_EQ(FindCaBundle(env, Holding({"/etc/ssl/certs/ca-certificates.crt"})), "/opt/corp/ca.pem");
  // Even when it is not there: the handshake then fails and names it, instead of trusting another bundle.
  EXPECT_EQ(FindCaBundle(env, Holding({})), "/opt/corp/ca.pem");
}

TEST(CaBundle, EmptySslCertFileIsUnset) {
  EXPECT_EQ(FindCaBundle({{"SSL_CERT_FILE", ""}}, Holding({"/etc/pki/tls/certs/ca-bundle.crt"})),
            "/etc/pki/tls/certs/ca-bundle.crt");
}

TEST(CaBundle, NoneFoundLeavesLibcurlsDefault) { EXPECT_EQ(FindCaBundle({}, Holding({})), ""); }

TEST(CaBundle, ReadableRegularFile) {
  const std::string path = ::testing::TempDir() + "/dynatroni_ca_bundle_probe.pem";
  std::ofstream(path) << "-----BEGIN CERTIFICATE-----\n";
  EXPECT_TRUE(IsReadableRegularFile(path));
  EXPECT_FALSE(IsReadableRegularFile(::testing::TempDir()));  // a directory
  EXPECT_FALSE(IsReadableRegularFile(path + ".missing"));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace dynatroni::http
