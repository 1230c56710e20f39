#!/bin/sh
# OpenSSL 3.5 (trixie's Debian source) and a minimal curl 8.14 (trixie's), static + PIC, into /opt/dyn-deps.
set -e
P=/opt/dyn-deps
t0=$(date +%s)
cd /opt/src/openssl-3.5.7
[ -f Makefile ] || ./Configure linux-x86_64 --prefix=$P --libdir=lib --openssldir=/usr/lib/ssl \
  no-shared no-module no-engine no-tests no-docs no-apps -fPIC > /opt/src/openssl.configure.log 2>&1
nice -n 19 make -j2 build_libs > /opt/src/openssl.build.log 2>&1
nice -n 19 make install_dev > /opt/src/openssl.install.log 2>&1
t1=$(date +%s); echo "openssl: $((t1 - t0)) s"
cd /opt/src/curl-8.14.1
[ -f Makefile ] || PKG_CONFIG_PATH=$P/lib/pkgconfig ./configure --prefix=$P --disable-shared --enable-static --with-pic \
  --with-openssl=$P --without-libpsl --without-brotli --without-zstd --without-nghttp2 --without-libidn2 \
  --without-librtmp --without-libssh2 --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet \
  --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
  --disable-ftp --disable-file --disable-manual --disable-docs --without-gssapi --with-zlib \
  --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt > /opt/src/curl.configure.log 2>&1
nice -n 19 make -j2 -C lib > /opt/src/curl.build.log 2>&1
nice -n 19 make -C lib install > /opt/src/curl.install.log 2>&1
nice -n 19 make -C include install >> /opt/src/curl.install.log 2>&1
make install-pkgconfigDATA install-binSCRIPTS >> /opt/src/curl.install.log 2>&1 || true
t2=$(date +%s); echo "curl: $((t2 - t1)) s"
ls -la $P/lib/*.a
