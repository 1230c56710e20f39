#!/bin/sh
# Run by packaging/wheels/build-arm64.sh inside the bullseye (amd64) chroot: `pip wheel` of the copy of the working
# tree in /opt/src-arm64 into /opt/wheelhouse-arm64, cross-compiled for aarch64 with
# cmake/toolchain-aarch64-linux-gnu.cmake (clang-16 --target=aarch64-linux-gnu, a static libc++ 16) against the
# static dependencies in /opt/dyn-deps-arm64 (DYNATRONI_STATIC_DEPS=ON). bullseye's amd64 Python runs the build
# backend: the wheel holds no CPython extension (the core is a C ABI library loaded with ctypes), so no aarch64
# Python is needed. scikit-build-core takes the platform tag from packaging.tags, which reads
# sysconfig.get_platform(), which honours _PYTHON_HOST_PLATFORM: linux-aarch64 makes the tag py3-none-linux_aarch64.
# The CMake build tree is kept in /opt/build-arm64/wheel. The licence texts of what the wheel bundles
# (licenses-in-chroot.sh, with the arm64 libc++ packages' copyright files) go into .dist-info/licenses/third-party/.
set -e
export PATH=/opt/buildtools/bin:$PATH
export CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-2}
# The toolchain file reads these from the environment too (its try_compile projects do).
export DYNATRONI_AARCH64_ROOT=/opt/arm64-root DYNATRONI_AARCH64_PREFIX=/opt/dyn-deps-arm64
export CMAKE_ARGS="-DCMAKE_TOOLCHAIN_FILE=/opt/src-arm64/cmake/toolchain-aarch64-linux-gnu.cmake
  -DDYNATRONI_AARCH64_ROOT=/opt/arm64-root -DDYNATRONI_AARCH64_PREFIX=/opt/dyn-deps-arm64
  -DDYNATRONI_STATIC_DEPS=ON -DDYNATRONI_BUILD_TESTS=OFF -DBoost_INCLUDE_DIR=/usr/include"
rm -rf /opt/wheelhouse-arm64
mkdir -p /opt/wheelhouse-arm64 /opt/build-arm64/wheel
cd /opt/src-arm64
/opt/buildtools/bin/python -c 'import tomli, sys; print("\n".join(tomli.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' \
  >/opt/build-arm64/wheel/build-requires.txt
/opt/buildtools/bin/python -m pip install -q --disable-pip-version-check --progress-bar off -r /opt/build-arm64/wheel/build-requires.txt
[ ! -e third-party ] || { echo "wheel-arm64: the source tree has a third-party/ of its own" >&2; exit 1; }
/bin/sh /wheels/licenses-in-chroot.sh /opt/dyn-deps-arm64 /opt/arm64-root /opt/src-arm64/third-party
_PYTHON_HOST_PLATFORM=linux-aarch64 nice -n "${NICE:-19}" /opt/buildtools/bin/python -m pip wheel \
  --disable-pip-version-check --progress-bar off --no-deps --no-build-isolation -w /opt/wheelhouse-arm64 \
  -C 'build-dir=/opt/build-arm64/wheel/{wheel_tag}' -C build.verbose=false \
  -C 'wheel.license-files=LICEN[CS]E*;COPYING*;NOTICE*;AUTHORS*;third-party/**/*' . >/opt/build-arm64/wheel/pip-wheel.log 2>&1 || {
  grep -A25 -m3 -E "FAILED:|CMake Error" /opt/build-arm64/wheel/pip-wheel.log || tail -40 /opt/build-arm64/wheel/pip-wheel.log
  echo "wheel-arm64: pip wheel failed (log: /opt/build-arm64/wheel/pip-wheel.log in the chroot)" >&2
  exit 1
}
grep -E "Found (OpenSSL|CURL)|yaml-cpp|DYNATRONI_LIBCXX" /opt/build-arm64/wheel/pip-wheel.log || true
ls -l /opt/wheelhouse-arm64
