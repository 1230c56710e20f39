// File: http/ca_bundle.h
//
// The CA bundle a CurlTransport uses when none is configured. Debian's libcurl
// has Debian's path compiled in; the portable wheels' libcurl, built on Debian
// and linked statically (packaging/wheels/), has the same path, which RHEL and
// Amazon Linux do not have. So the transport names the bundle itself:
//
//   1. the configured one (dynamodb.ca_bundle, CurlOptions::ca_bundle): not
//      looked up here, CurlTransport::Create uses it as given;
//   2. SSL_CERT_FILE when set: OpenSSL's own variable for the same thing;
//   3. the first readable regular file of kSystemCaBundles;
//   4. none of them: empty, and libcurl's built-in default applies.
//
// Thread-safety: pure functions (FindCaBundle reads the given Env and asks the
// given predicate about files).
#ifndef DYNATRONI_HTTP_CA_BUNDLE_H_
#define DYNATRONI_HTTP_CA_BUNDLE_H_

#include <array>
#include <functional>
#include <string>
#include <string_view>

#include "core/env.h"

namespace dynatroni::http {

// Debian and Ubuntu (ca-certificates); RHEL, Fedora, Amazon Linux 2 and 2023 (ca-certificates).
inline constexpr std::array<std::string_view, 2> kSystemCaBundles = {
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
};

// True when `path` is a regular file this process can read.
bool IsReadableRegularFile(const std::string& path);

// Steps 2-4 above; `readable` is IsReadableRegularFile except in tests.
std::string FindCaBundle(const Env& env,
                         const std::function<bool(const std::string&)>& readable = IsReadableRegularFile);

}  // namespace dynatroni::http

#endif  // DYNATRONI_HTTP_CA_BUNDLE_H_
