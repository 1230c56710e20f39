#!/bin/sh
# Run by packaging/wheels/build-arm64.sh inside the bullseye (amd64) chroot: the static aarch64 dependencies of the
# core, cross-compiled with clang-16 --target=aarch64-linux-gnu against crossbuild-essential-arm64's glibc 2.31
# sysroot (/usr/aarch64-linux-gnu), into /opt/dyn-deps-arm64. The same Debian sources (/opt/src) and flags as the
# x86-64 build; each dependency is built once: /opt/dyn-deps-arm64/.stamp-NAME holds its version and flags, and
# it is rebuilt from a clean tree only when they change. Logs in /opt/build-arm64/NAME.log.
#   OpenSSL 3.5 (trixie), curl 8.14 HTTP(S) only (trixie), yaml-cpp 0.8.0 (trixie), nlohmann-json 3.11.2
#   (bookworm, headers), GoogleTest (bullseye's /usr/src/googletest), all against libc++ 16 for arm64 from
#   /opt/arm64-root (dpkg -x of the arm64 packages, with zlib).
set -e
P=/opt/dyn-deps-arm64
B=/opt/build-arm64
R=/opt/arm64-root
J=${JOBS:-2}
N=${NICE:-19}
TC=${TOOLCHAIN:?the CMake toolchain file}
export PATH=/opt/buildtools/bin:$PATH DYNATRONI_AARCH64_ROOT=$R DYNATRONI_AARCH64_PREFIX=$P
mkdir -p $P/lib $P/include $B/bin
# Compiler drivers for the autotools builds (OpenSSL's Configure and curl's configure take no --target flag).
for d in clang clang++; do
  printf '#!/bin/sh\nexec %s-16 --target=aarch64-linux-gnu "$@"\n' $d >$B/bin/aarch64-$d
  chmod 755 $B/bin/aarch64-$d
done
CC=$B/bin/aarch64-clang

OPENSSL_FLAGS="linux-aarch64 no-shared no-module no-engine no-tests no-docs no-apps -fPIC --openssldir=/usr/lib/ssl"
CURL_FLAGS="--host=aarch64-linux-gnu --disable-shared --enable-static --with-pic --with-openssl=$P --with-zlib
  --without-libpsl --without-brotli --without-zstd --without-nghttp2 --without-nghttp3 --without-ngtcp2
  --without-libidn2 --without-librtmp --without-libssh2 --without-gssapi --disable-ldap --disable-ldaps --disable-rtsp
  --disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp
  --disable-gopher --disable-mqtt --disable-ftp --disable-file --disable-manual --disable-docs
  --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --without-ca-path"
CMAKE_COMMON="-G Ninja -DCMAKE_TOOLCHAIN_FILE=$TC -DCMAKE_BUILD_TYPE=Release -DCMAKE_POSITION_INDEPENDENT_CODE=ON
  -DCMAKE_INSTALL_PREFIX=$P"
YAML_FLAGS="-DBUILD_SHARED_LIBS=OFF -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=OFF"
GTEST_FLAGS="-DBUILD_GMOCK=ON -DINSTALL_GTEST=ON"
TC_SUM=$(md5sum <"$TC" | cut -c1-12)  # a changed toolchain file rebuilds the CMake-built dependencies

srcdir() {
  dsc=/opt/src/$1_${2#*:}.dsc
  [ -f "$dsc" ] || { echo "deps-arm64: $dsc missing (the sources phase downloads it)" >&2; exit 1; }
  rm -rf "$B/$1-src"
  dpkg-source --no-check -x "$dsc" "$B/$1-src" >/dev/null
  echo "$B/$1-src"
}
fresh() {
  if [ -f $P/.stamp-$1 ] && [ "$(cat $P/.stamp-$1)" = "$2" ]; then
    echo "deps-arm64: $1 cached"
    return 1
  fi
  echo "deps-arm64: building $1"
  rm -f $P/.stamp-$1
  return 0
}
run() {
  name=$1
  shift
  "$@" >>$B/$name.log 2>&1 || { tail -30 $B/$name.log; echo "deps-arm64: $name failed (log: $B/$name.log)" >&2; exit 1; }
}

t=$(date +%s)
stamp="$OPENSSL_VERSION $OPENSSL_FLAGS"
if fresh openssl "$stamp"; then
  src=$(srcdir openssl "$OPENSSL_VERSION")
  rm -rf $B/openssl $B/openssl.log
  mkdir -p $B/openssl
  cd $B/openssl
  # shellcheck disable=SC2086
  run openssl env CC=$CC AR=aarch64-linux-gnu-ar RANLIB=aarch64-linux-gnu-ranlib "$src/Configure" $OPENSSL_FLAGS \
    --prefix=$P --libdir=lib
  run openssl nice -n "$N" make -j"$J" build_libs
  run openssl make install_dev
  echo "$stamp" >$P/.stamp-openssl
  rm -f $P/.stamp-curl
  echo "deps-arm64: openssl $(($(date +%s) - t)) s"
fi

t=$(date +%s)
stamp="$CURL_VERSION $CURL_FLAGS"
if fresh curl "$stamp"; then
  src=$(srcdir curl "$CURL_VERSION")
  rm -rf $B/curl $B/curl.log
  mkdir -p $B/curl
  cd $B/curl
  # zlib's arm64 headers and library from the unpacked package; pkg-config sees only the arm64 prefix.
  # shellcheck disable=SC2086
  run curl env CC=$CC AR=aarch64-linux-gnu-ar RANLIB=aarch64-linux-gnu-ranlib PKG_CONFIG_LIBDIR=$P/lib/pkgconfig \
    CPPFLAGS="-I$R/usr/include" LDFLAGS="-L$R/usr/lib/aarch64-linux-gnu" "$src/configure" --prefix=$P $CURL_FLAGS
  run curl nice -n "$N" make -j"$J" -C lib
  run curl make -C lib install
  run curl make -C include install
  run curl make install-pkgconfigDATA
  echo "$stamp" >$P/.stamp-curl
  echo "deps-arm64: curl $(($(date +%s) - t)) s"
fi

# cmake_dep NAME SOURCE_DIR FLAGS: a CMake project built and installed with the toolchain file.
cmake_dep() {
  t=$(date +%s)
  stamp="$TC_SUM $4 $3"
  if fresh "$1" "$stamp"; then
    rm -rf $B/$1 $B/$1.log
    # shellcheck disable=SC2086
    run "$1" cmake -S "$2" -B $B/$1 $CMAKE_COMMON $3
    run "$1" nice -n "$N" ninja -C $B/$1 -j"$J" install
    echo "$stamp" >$P/.stamp-$1
    echo "deps-arm64: $1 $(($(date +%s) - t)) s"
  fi
}
fresh_src() { if [ "$(cat $P/.stamp-$1 2>/dev/null)" != "$TC_SUM $2 $3" ]; then srcdir "$4" "$2"; else echo /nonexistent; fi; }
cmake_dep yaml-cpp "$(fresh_src yaml-cpp "$YAML_CPP_VERSION" "$YAML_FLAGS" yaml-cpp)" "$YAML_FLAGS" "$YAML_CPP_VERSION"
cmake_dep nlohmann "$(fresh_src nlohmann "$NLOHMANN_VERSION" "-DJSON_BuildTests=OFF" nlohmann-json3)" \
  "-DJSON_BuildTests=OFF" "$NLOHMANN_VERSION"
GTEST_VERSION=$(dpkg-query -W -f='${Version}' googletest)
cmake_dep gtest /usr/src/googletest "$GTEST_FLAGS" "$GTEST_VERSION"
ls -l $P/lib/*.a
