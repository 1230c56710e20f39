#!/bin/sh
# Run by packaging/wheels/build.sh inside the bullseye chroot: the static dependencies of the portable wheel, from
# the Debian sources in /opt/src, into /opt/dyn-deps. Each is built once: /opt/dyn-deps/.stamp-NAME holds the
# version and the flags it was built with, and a dependency is rebuilt (from a clean build tree) only when they
# change. Logs in /opt/build/NAME.log.
#   OpenSSL  3.5 (trixie): the TLS and the SigV4 digests; static, PIC, no engines, no loadable modules, no apps
#   curl     8.14 (trixie): HTTP and HTTPS only, on that OpenSSL and the system zlib; Debian's CA bundle path as
#            its built-in default (the core finds the bundle at run time: http/ca_bundle.h)
#   yaml-cpp 0.8.0 (trixie): for the `dynatroni` command, compiled against libc++
#   nlohmann-json 3.11.2 (bookworm): headers only
#   GoogleTest (only with GTEST=1, for build.sh TESTS=1): bullseye's googletest package (/usr/src/googletest),
#            compiled against libc++, with GoogleMock
set -e
P=/opt/dyn-deps
B=/opt/build
J=${JOBS:-2}
N=${NICE:-19}
export CC=clang-16 CXX=clang++-16 PATH=/opt/buildtools/bin:$PATH
mkdir -p $P $B

OPENSSL_FLAGS="linux-x86_64 no-shared no-module no-engine no-tests no-docs no-apps -fPIC --openssldir=/usr/lib/ssl"
CURL_FLAGS="--disable-shared --enable-static --with-pic --with-openssl=$P --with-zlib --without-libpsl
  --without-brotli --without-zstd --without-nghttp2 --without-nghttp3 --without-ngtcp2 --without-libidn2
  --without-librtmp --without-libssh2 --without-gssapi --disable-ldap --disable-ldaps --disable-rtsp --disable-dict
  --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher
  --disable-mqtt --disable-ftp --disable-file --disable-manual --disable-docs
  --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --without-ca-path"
YAML_FLAGS="-DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-stdlib=libc++ -DCMAKE_POSITION_INDEPENDENT_CODE=ON
  -DBUILD_SHARED_LIBS=OFF -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=OFF"

# srcdir PACKAGE VERSION: a clean tree of the Debian source package (Debian's patches applied), unpacked anew from
# the .dsc that the sources phase downloaded into /opt/src, so that no earlier build in a tree can leak in.
srcdir() {
  dsc=/opt/src/$1_${2#*:}.dsc
  [ -f "$dsc" ] || { echo "deps: $dsc missing (the sources phase downloads it)" >&2; exit 1; }
  rm -rf "$B/$1-src"
  dpkg-source --no-check -x "$dsc" "$B/$1-src" >/dev/null
  echo "$B/$1-src"
}

# fresh NAME STAMP: true when NAME must be (re)built; prints why.
fresh() {
  if [ -f $P/.stamp-$1 ] && [ "$(cat $P/.stamp-$1)" = "$2" ]; then
    echo "deps: $1 cached ($(head -c 60 $P/.stamp-$1)...)"
    return 1
  fi
  echo "deps: building $1"
  rm -f $P/.stamp-$1
  return 0
}

# run NAME CMD...: CMD with its output in the log; the log's tail on failure.
run() {
  name=$1
  shift
  "$@" >>$B/$name.log 2>&1 || { tail -30 $B/$name.log; echo "deps: $name failed (log: $B/$name.log)" >&2; exit 1; }
}

t=$(date +%s)
stamp="$OPENSSL_VERSION $OPENSSL_FLAGS"
if fresh openssl "$stamp"; then
  src=$(srcdir openssl "$OPENSSL_VERSION")
  rm -rf $B/openssl $B/openssl.log
  mkdir -p $B/openssl
  cd $B/openssl
  # shellcheck disable=SC2086
  run openssl "$src/Configure" $OPENSSL_FLAGS --prefix=$P --libdir=lib
  run openssl nice -n "$N" make -j"$J" build_libs
  run openssl make install_dev
  echo "$stamp" >$P/.stamp-openssl
  rm -f $P/.stamp-curl  # curl links this OpenSSL
  echo "deps: openssl $(($(date +%s) - t)) s"
fi

t=$(date +%s)
stamp="$CURL_VERSION $CURL_FLAGS"
if fresh curl "$stamp"; then
  src=$(srcdir curl "$CURL_VERSION")
  rm -rf $B/curl $B/curl.log
  mkdir -p $B/curl
  cd $B/curl
  # shellcheck disable=SC2086
  run curl env PKG_CONFIG_PATH=$P/lib/pkgconfig "$src/configure" --prefix=$P $CURL_FLAGS
  run curl nice -n "$N" make -j"$J" -C lib
  run curl make -C lib install
  run curl make -C include install
  run curl make install-pkgconfigDATA
  echo "$stamp" >$P/.stamp-curl
  echo "deps: curl $(($(date +%s) - t)) s"
fi

t=$(date +%s)
stamp="$YAML_CPP_VERSION $YAML_FLAGS"
if fresh yaml-cpp "$stamp"; then
  src=$(srcdir yaml-cpp "$YAML_CPP_VERSION")
  rm -rf $B/yaml-cpp $B/yaml-cpp.log
  # shellcheck disable=SC2086
  run yaml-cpp cmake -S "$src" -B $B/yaml-cpp -G Ninja $YAML_FLAGS -DCMAKE_INSTALL_PREFIX=$P
  run yaml-cpp nice -n "$N" ninja -C $B/yaml-cpp -j"$J" install
  echo "$stamp" >$P/.stamp-yaml-cpp
  echo "deps: yaml-cpp $(($(date +%s) - t)) s"
fi

stamp="$NLOHMANN_VERSION"
if fresh nlohmann "$stamp"; then
  src=$(srcdir nlohmann-json3 "$NLOHMANN_VERSION")
  rm -rf $B/nlohmann $B/nlohmann.log
  run nlohmann cmake -S "$src" -B $B/nlohmann -G Ninja -DJSON_BuildTests=OFF -DCMAKE_INSTALL_PREFIX=$P
  run nlohmann ninja -C $B/nlohmann install
  echo "$stamp" >$P/.stamp-nlohmann
fi
if [ "${GTEST:-0}" = 1 ]; then
  t=$(date +%s)
  GTEST_FLAGS="-DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-stdlib=libc++ -DCMAKE_POSITION_INDEPENDENT_CODE=ON
    -DBUILD_GMOCK=ON -DINSTALL_GTEST=ON"
  stamp="$(dpkg-query -W -f='${Version}' googletest) $GTEST_FLAGS"
  if fresh gtest "$stamp"; then
    rm -rf $B/gtest $B/gtest.log
    # shellcheck disable=SC2086
    run gtest cmake -S /usr/src/googletest -B $B/gtest -G Ninja $GTEST_FLAGS -DCMAKE_INSTALL_PREFIX=$P
    run gtest nice -n "$N" ninja -C $B/gtest -j"$J" install
    echo "$stamp" >$P/.stamp-gtest
    echo "deps: gtest $(($(date +%s) - t)) s"
  fi
fi
ls -l $P/lib/*.a
