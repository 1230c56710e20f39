#!/bin/sh
# The C++ core + unit tests with clang-16 and a static libc++ 16 (bullseye-security), OpenSSL 3.5 + curl 8.14
# built from trixie's Debian source (/opt/dyn-deps), nlohmann 3.11.2 (bookworm's source), GoogleTest 1.10
# (bullseye's /usr/src/googletest) rebuilt against libc++.
set -e
export PATH=/opt/buildtools/bin:$PATH CC=clang-16 CXX=clang++-16
LIBCXX="-stdlib=libc++"
LINK="-stdlib=libc++ -static-libstdc++ -pthread"
t0=$(date +%s)
if [ ! -f /opt/gtest-libcxx/lib/libgtest.a ]; then
  cmake -S /usr/src/googletest -B /opt/src/gtest-build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS="$LIBCXX" -DCMAKE_EXE_LINKER_FLAGS="$LINK" -DCMAKE_INSTALL_PREFIX=/opt/gtest-libcxx \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON > /opt/src/gtest.log 2>&1
  nice -n 19 ninja -C /opt/src/gtest-build -j2 install >> /opt/src/gtest.log 2>&1
fi
t1=$(date +%s); echo "gtest: $((t1 - t0)) s"
cmake -S /src -B /b-clang -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDYNATRONI_BUILD_BENCH=OFF \
  -DDYNATRONI_BUILD_CLI=${CLI:-OFF} -DDYNATRONI_WERROR=OFF \
  -DCMAKE_CXX_FLAGS="$LIBCXX" -DCMAKE_EXE_LINKER_FLAGS="$LINK" -DCMAKE_SHARED_LINKER_FLAGS="$LINK" \
  -DCMAKE_PREFIX_PATH="/opt/dyn-deps;/opt/gtest-libcxx" -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=BOTH \
  -DOPENSSL_ROOT_DIR=/opt/dyn-deps -DOPENSSL_USE_STATIC_LIBS=ON \
  -DCURL_LIBRARY=/opt/dyn-deps/lib/libcurl.a -DCURL_INCLUDE_DIR=/opt/dyn-deps/include \
  -DCMAKE_CXX_STANDARD_LIBRARIES="/opt/dyn-deps/lib/libssl.a /opt/dyn-deps/lib/libcrypto.a -lz -ldl -pthread" \
  > /b-clang.configure.log 2>&1 || { tail -30 /b-clang.configure.log; exit 1; }
grep -E "Found (OpenSSL|CURL|GTest|nlohmann)" /b-clang.configure.log || true
nice -n 19 ninja -C /b-clang -j2 -k 0 dynatroni_unit_tests > /b-clang.build.log 2>&1 && echo "build ok" || echo "build FAILED: $(grep -c FAILED: /b-clang.build.log) targets"
t2=$(date +%s); echo "core + unit tests: $((t2 - t1)) s"
