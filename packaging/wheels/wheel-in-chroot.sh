#!/bin/sh
# Run by packaging/wheels/build.sh inside the bullseye chroot: `pip wheel` of the copy of the working tree in
# /opt/wheel-src into /opt/wheelhouse, with bullseye's Python and whatever build backend pyproject.toml names (from
# PyPI), compiled by clang-16 against a static libc++ 16 and the static
# dependencies in /opt/dyn-deps (DYNATRONI_STATIC_DEPS=ON). The CMake build tree is kept in /opt/wheel-build.
# The licence texts of what it bundles (licenses-in-chroot.sh) go into the wheel's .dist-info/licenses/third-party/.
set -e
export PATH=/opt/buildtools/bin:$PATH CC=clang-16 CXX=clang++-16
export CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-2}
# CMAKE_ARGS (clang-16, -stdlib=libc++, DYNATRONI_STATIC_DEPS=ON, /opt/dyn-deps), shared with tests-in-chroot.sh.
. /wheels/cmake-args-in-chroot.sh
mkdir -p /opt/wheelhouse /opt/wheel-build
cd /opt/wheel-src
# The build backend and its requirements as pyproject.toml names them, installed into /opt/buildtools, whose cmake
# and ninja the build then uses (an isolated build would fetch another CMake, and a new path each time would
# rebuild what the kept build tree has).
/opt/buildtools/bin/python -c 'import tomli, sys; print("\n".join(tomli.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' \
  >/opt/wheel-build/build-requires.txt
/opt/buildtools/bin/python -m pip install -q --disable-pip-version-check --progress-bar off -r /opt/wheel-build/build-requires.txt
# scikit-build-core copies wheel.license-files (globs, relative to the source tree) into .dist-info/licenses/,
# keeping their paths; its default globs are kept, for a licence file of our own.
[ ! -e third-party ] || { echo "wheel: the source tree has a third-party/ of its own" >&2; exit 1; }
/bin/sh /wheels/licenses-in-chroot.sh /opt/dyn-deps / /opt/wheel-src/third-party
nice -n "${NICE:-19}" /opt/buildtools/bin/python -m pip wheel --disable-pip-version-check --progress-bar off \
  --no-deps --no-build-isolation -w /opt/wheelhouse -C build-dir=/opt/wheel-build/{wheel_tag} -C build.verbose=false \
  -C 'wheel.license-files=LICEN[CS]E*;COPYING*;NOTICE*;AUTHORS*;third-party/**/*' . \
  >/opt/wheel-build/pip-wheel.log 2>&1 || {
  grep -A25 -m3 -E "FAILED:|CMake Error" /opt/wheel-build/pip-wheel.log || tail -40 /opt/wheel-build/pip-wheel.log
  echo "wheel: pip wheel failed (log: /opt/wheel-build/pip-wheel.log in the chroot)" >&2
  exit 1
}
grep -E "Found (OpenSSL|CURL)|yaml-cpp|DYNATRONI_LIBCXX" /opt/wheel-build/pip-wheel.log || true
ls -l /opt/wheelhouse
