#!/bin/sh
# Run by packaging/wheels/build.sh (TESTS=1) inside the bullseye chroot: the C++ unit tests built the way the x86-64
# wheel's core is (cmake-args-in-chroot.sh: clang-16, a static libc++ 16, DYNATRONI_STATIC_DEPS=ON against
# /opt/dyn-deps, GoogleTest from deps-in-chroot.sh GTEST=1), from the same copy of the working tree
# (/opt/wheel-src), in their own build tree /opt/build-tests (kept for the next run), and run natively: every test
# of dynatroni_unit_tests, the 64 SigV4 golden cases and the 8 LeaseSimulation shards included. Logs in
# /opt/build-tests/*.log.
set -e
export PATH=/opt/buildtools/bin:$PATH
. /wheels/cmake-args-in-chroot.sh
B=/opt/build-tests
J=${JOBS:-2}
N=${NICE:-19}
mkdir -p $B
t=$(date +%s)
# shellcheck disable=SC2086
cmake -S /opt/wheel-src -B $B -G Ninja $CMAKE_ARGS -DCMAKE_BUILD_TYPE=Release -DDYNATRONI_BUILD_TESTS=ON \
  -DDYNATRONI_BUILD_BENCH=OFF -DDYNATRONI_BUILD_PYTHON=OFF -DDYNATRONI_WERROR=OFF >$B/configure.log 2>&1 ||
  { tail -40 $B/configure.log; echo "tests: cmake failed (log: $B/configure.log)" >&2; exit 1; }
grep -E "Found (OpenSSL|CURL|GTest|ZLIB|Boost)|DYNATRONI_LIBCXX" $B/configure.log || true
nice -n "$N" ninja -C $B -j"$J" dynatroni_unit_tests >$B/build.log 2>&1 ||
  { grep -A25 -m3 "FAILED:" $B/build.log || tail -40 $B/build.log; echo "tests: build failed (log: $B/build.log)" >&2; exit 1; }
echo "tests: dynatroni_unit_tests built in $(($(date +%s) - t)) s ($(tail -1 $B/build.log | cut -c1-80))"
file -b $B/dynatroni_unit_tests | cut -d, -f1-2
echo "tests: NEEDED: $(readelf -d $B/dynatroni_unit_tests | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
t=$(date +%s)
rc=0
(cd /opt/wheel-src && DYNATRONI_SOURCE_DIR=/opt/wheel-src $B/dynatroni_unit_tests --gtest_brief=1 >$B/run.log 2>&1) || rc=$?
# The shards' coverage lines, each failure with the line after it, and GoogleTest's summary.
awk 'f { print; f = 0 } /: Failure$/ { print; f = 1 } /^shard |^\[ +(FAILED|PASSED|SKIPPED) +\]|^\[=+\]/' $B/run.log
echo "tests: dynatroni_unit_tests (every test) ran in $(($(date +%s) - t)) s, exit status $rc"
[ $rc = 0 ]
