#!/bin/sh
# yaml-cpp 0.8.0 (trixie's Debian source) static with libc++, then the `dynatroni` command against it.
set -e
export PATH=/opt/buildtools/bin:$PATH CC=clang-16 CXX=clang++-16
t0=$(date +%s)
if [ ! -f /opt/dyn-deps/lib/libyaml-cpp.a ]; then
  cmake -S /opt/src/yaml-cpp-0.8.0+dfsg -B /opt/src/yaml-build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS="-stdlib=libc++" -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DBUILD_SHARED_LIBS=OFF \
    -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=OFF \
    -DCMAKE_INSTALL_PREFIX=/opt/dyn-deps > /opt/src/yaml.log 2>&1 || { tail -20 /opt/src/yaml.log; exit 1; }
  nice -n 19 ninja -C /opt/src/yaml-build -j2 install >> /opt/src/yaml.log 2>&1 || { tail -20 /opt/src/yaml.log; exit 1; }
fi
t1=$(date +%s); echo "yaml-cpp: $((t1 - t0)) s"
cmake -S /src -B /b-clang -DDYNATRONI_BUILD_CLI=ON -DCMAKE_PREFIX_PATH="/opt/dyn-deps;/opt/gtest-libcxx" > /b-clang.configure2.log 2>&1 || { tail -20 /b-clang.configure2.log; exit 1; }
grep -i yaml /b-clang.configure2.log || true
nice -n 19 ninja -C /b-clang -j2 dynatroni_cli > /b-clang.cli.log 2>&1 && echo "cli ok" || { grep -A5 FAILED: /b-clang.cli.log | head -20; exit 1; }
t2=$(date +%s); echo "dynatroni command: $((t2 - t1)) s"
ldd /b-clang/cli/dynatroni
/b-clang/cli/dynatroni --version
