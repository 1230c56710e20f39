#!/usr/bin/env bash
# packaging/wheels/build-arm64.sh - `make wheels-arm64`: the C++ core, its unit tests and the `dynatroni` command
# cross-built for aarch64 (arm64, AWS Graviton) in the bullseye (glibc 2.31) amd64 chroot, then run under
# qemu-user (issue #20 part 2; docs/install.md, "Portable wheels", arm64).
#
#   packaging/wheels/build-arm64.sh [OUT_DIR]     (as root; OUT_DIR defaults to dist/wheels-arm64)
#
# Phases, each printed with its elapsed seconds:
#   1. chroot    the bullseye chroot of tools/chroot.sh, made if missing
#   2. packages  clang-16, libc++-16 (bullseye-security), crossbuild-essential-arm64, googletest, Boost, dpkg-dev
#                from Debian; /opt/buildtools (cmake, ninja from PyPI) as packaging/wheels/build.sh makes it
#   3. arm64     libc++-16-dev, libc++abi-16-dev and zlib1g(-dev) for arm64: `apt-get download` and `dpkg -x` into
#                /opt/arm64-root (not installed: multiarch libc6:arm64 must match the chroot's libc6, which the
#                mirror may not serve)
#   4. sources   the Debian sources of packaging/wheels/build.sh in /opt/src (`apt-get source` when missing)
#   5. deps      static PIC OpenSSL, curl (HTTP(S) only), yaml-cpp, GoogleTest, nlohmann for aarch64 into
#                /opt/dyn-deps-arm64 (deps-arm64-in-chroot.sh; each once, stamp files)
#   6. core      dynatroni_unit_tests and the `dynatroni` command, DYNATRONI_STATIC_DEPS=ON, with
#                cmake/toolchain-aarch64-linux-gnu.cmake, in /opt/build-arm64/core (kept for the next run)
#   7. qemu      the host's qemu-aarch64-static, copied into the chroot's /usr/local/bin (no binfmt_misc needed),
#                run with -L /usr/aarch64-linux-gnu: `dynatroni --version`, `dynatroni` reading a patroni.yml, the
#                unit tests (GTEST_FILTER, default: all but the lease-simulation shards); file, readelf -d
#                and the newest GLIBC symbol version of the binary; the stripped binary into OUT_DIR
#   8. wheel     `pip wheel` of the same tree with the toolchain file in CMAKE_ARGS, DYNATRONI_STATIC_DEPS=ON,
#                DYNATRONI_BUILD_TESTS=OFF, run by the chroot's amd64 Python (wheel-arm64-in-chroot.sh): the wheel
#                is py3-none (the core is a C ABI library loaded with ctypes), and _PYTHON_HOST_PLATFORM=linux-aarch64
#                makes scikit-build-core tag it linux_aarch64; build tree in /opt/build-arm64/wheel
#   9. repair    `auditwheel repair` into OUT_DIR (--plat auto; the result must be manylinux_2_31_aarch64),
#                `auditwheel show`; `file` of the shared library and of the command inside the wheel
#  10. python    bullseye's arm64 python3.9-minimal, libpython3.9-stdlib and the libraries they need (`apt-get
#                download` with the newest version the mirror serves, `dpkg -x` into /opt/arm64-py), run under qemu
#                with the repaired wheel unpacked onto PYTHONPATH: packaging/wheels/smoke-arm64.py, and with PY (a
#                Python with moto, e.g. the venv of `make deps`) two members racing for the leader key against moto
#                on the host's loopback (tools/local_dynamodb.py)
#  11. conformance  (CONFORMANCE=1, with PY) python/tests/test_plugin_conformance.py under the same emulated Python
#                against moto and dynalite on the host's loopback: Patroni 4.1.5, psycopg, psutil, pytest and boto3
#                from PyPI as aarch64 wheels (pip install --target /opt/arm64-site --platform manylinux2014_aarch64;
#                Patroni and ydiff, pure Python, --no-deps) and the repaired wheel unpacked beside them. The three
#                tests that run Patroni's --validate-config need PostgreSQL's programs in /usr/lib/postgresql and
#                are left out (-k): the build chroot has no PostgreSQL, and an arm64 one could not be exec'd from
#                the emulated Python without binfmt_misc.
#
# JOBS (default 2) and NICE (default 19): parallelism and priority of the compiles. GTEST_FILTER: the unit tests
# run under qemu. SKIP_TESTS=1 skips the unit tests.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$(mkdir -p "${1:-$REPO/dist/wheels-arm64}" && cd "${1:-$REPO/dist/wheels-arm64}" && pwd)
SUITE=bullseye
CHROOT=$REPO/tools/chroot.sh
JOBS=${JOBS:-2}
NICE=${NICE:-19}
# The 8 seeded lease-simulation shards take about 35 s each natively and 474 s (one, measured) under qemu: left
# out by default. GTEST_FILTER='*' runs them too.
GTEST_FILTER=${GTEST_FILTER:--LeaseSimulation/LeaseSimulationShard.*}

# The pins of packaging/wheels/build.sh (the same Debian sources and tools for both architectures); the wheel
# (phases 8 and 9) also uses WHEELTOOLS.
# shellcheck source=packaging/wheels/versions.sh
. "$REPO/packaging/wheels/versions.sh"
PLAT=manylinux_2_31_aarch64
# bullseye's arm64 Python and what its interpreter and standard library modules load (phase 10).
PY_ARM64_DEBS="python3.9-minimal libpython3.9-minimal libpython3.9-stdlib libffi7 libssl1.1 libexpat1 libbz2-1.0
  liblzma5 libsqlite3-0 libmpdec3 libcrypt1 libuuid1 libtinfo6 libncursesw6 libreadline8 libdb5.3"
# arm64 packages unpacked into /opt/arm64-root: the versions this machine's mirror serves (bullseye-security's
# LLVM 16, bullseye's zlib).
LLVM_ARM64_VERSION=${LLVM_ARM64_VERSION:-1:16.0.6-15~deb11u2}
ARM64_DEBS="libc++-16-dev=$LLVM_ARM64_VERSION libc++abi-16-dev=$LLVM_ARM64_VERSION zlib1g zlib1g-dev"

T0=$(date +%s)
PHASE_T=$T0
phase() {
  local now
  now=$(date +%s)
  [[ -n ${PHASE:-} ]] && printf '[arm64] %-9s done in %4d s (total %d s)\n' "$PHASE" $((now - PHASE_T)) $((now - T0))
  PHASE=$1
  PHASE_T=$now
  [[ -n $1 ]] && printf "[arm64] %-9s %s\n" "$1" "${*:2}"
  return 0
}
in_chroot() { "$CHROOT" run "$SUITE" "$@"; }

[[ $(id -u) == 0 ]] || { echo "packaging/wheels/build-arm64.sh: must run as root (tools/chroot.sh)" >&2; exit 2; }
QEMU=$(command -v qemu-aarch64-static || true)
[[ -n $QEMU ]] || { echo "packaging/wheels/build-arm64.sh: no qemu-aarch64-static (apt-get install qemu-user-static)" >&2; exit 2; }

phase chroot "tools/chroot.sh create $SUITE"
"$CHROOT" create "$SUITE"
DIR=$("$CHROOT" path "$SUITE")

phase packages "clang-16, libc++-16, crossbuild-essential-arm64, googletest, boost, dpkg-dev (Debian); $BUILDTOOLS (PyPI)"
PACKAGES="clang-16 libc++-16-dev libc++abi-16-dev crossbuild-essential-arm64 googletest libboost-dev python3
  python3-venv dpkg-dev make perl xz-utils file ca-certificates"
missing=$(in_chroot -- sh -c 'for p in "$@"; do dpkg-query -W -f="\${Status}\n" "$p" 2>/dev/null |
  grep -q "^install ok installed$" || echo "$p"; done' sh $PACKAGES)
if [[ -n $missing ]]; then
  echo "[arm64] installing:" $missing
  "$CHROOT" apt "$SUITE" $missing
fi
in_chroot -- sh -c "set -e; [ -x /opt/buildtools/bin/python ] || python3 -m venv /opt/buildtools
  [ -x /opt/buildtools/bin/cmake ] && [ -x /opt/buildtools/bin/ninja ] && exit 0
  /opt/buildtools/bin/python -m pip install -q --disable-pip-version-check --progress-bar off pip==$PIP_VERSION
  /opt/buildtools/bin/python -m pip install -q --disable-pip-version-check --progress-bar off $BUILDTOOLS"
in_chroot -- sh -c "/opt/buildtools/bin/python -m pip freeze 2>/dev/null | grep -qix auditwheel==6.4.2 && exit 0
  /opt/buildtools/bin/python -m pip install -q --disable-pip-version-check --progress-bar off $WHEELTOOLS"

phase arm64 "$ARM64_DEBS (arm64, apt-get download + dpkg -x into /opt/arm64-root)"
in_chroot -- sh -c '
  set -e
  stamp="$*"
  [ "$(cat /opt/arm64-root/.stamp 2>/dev/null)" = "$stamp" ] && { echo "[arm64] /opt/arm64-root cached"; exit 0; }
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -q >/dev/null
  rm -rf /opt/arm64-debs /opt/arm64-root
  mkdir -p /opt/arm64-debs /opt/arm64-root
  cd /opt/arm64-debs
  for pv in "$@"; do case $pv in *=*) apt-get download -q "${pv%%=*}:arm64=${pv#*=}" ;; *) apt-get download -q "$pv:arm64" ;; esac; done
  for d in *.deb; do dpkg -x "$d" /opt/arm64-root; done
  # zlib1g-dev links libz.so to /lib/aarch64-linux-gnu/... absolutely: point it into the unpacked tree.
  ln -sfn ../../../lib/aarch64-linux-gnu/libz.so.1 /opt/arm64-root/usr/lib/aarch64-linux-gnu/libz.so
  ls /opt/arm64-root/usr/lib/llvm-16/lib/libc++.a /opt/arm64-root/usr/lib/aarch64-linux-gnu/libz.so \
    /opt/arm64-root/lib/aarch64-linux-gnu/libz.so.1 >/dev/null
  echo "$stamp" >/opt/arm64-root/.stamp
  ls /opt/arm64-debs' sh $ARM64_DEBS

phase sources "openssl $OPENSSL_VERSION, curl $CURL_VERSION, yaml-cpp $YAML_CPP_VERSION, nlohmann-json3 $NLOHMANN_VERSION"
src_list=$DIR/etc/apt/sources.list.d/dynatroni-wheel-sources.list
if [[ ! -f $src_list ]]; then
  sed -n 's/^deb \([^ ]*\) bullseye\(-security\)\{0,1\} main$/\1 \2/p' "$DIR/etc/apt/sources.list" |
    while read -r uri sec; do
      for s in trixie bookworm; do echo "deb-src $uri $s$sec main"; done
    done >"$src_list.tmp"
  mv "$src_list.tmp" "$src_list"
fi
mkdir -p "$DIR/opt/src"
in_chroot --cwd /opt/src -- sh -c '
  set -e
  need=""
  for pv in "$@"; do p=${pv%%=*}; v=${pv#*=}; [ -f "${p}_${v#*:}.dsc" ] || need="$need $pv"; done
  [ -z "$need" ] && { echo "[arm64] sources cached in /opt/src"; exit 0; }
  apt-get update -q >/dev/null
  for pv in $need; do apt-get source -q "$pv" | grep -v "^dpkg-source: info:" || true; done
  for pv in $need; do p=${pv%%=*}; v=${pv#*=}; [ -f "${p}_${v#*:}.dsc" ] || { echo "no ${p}_${v#*:}.dsc"; exit 1; }; done
' sh "openssl=$OPENSSL_VERSION" "curl=$CURL_VERSION" "yaml-cpp=$YAML_CPP_VERSION" "nlohmann-json3=$NLOHMANN_VERSION"

phase deps "static OpenSSL, curl, yaml-cpp, GoogleTest; nlohmann (aarch64, into /opt/dyn-deps-arm64)"
in_chroot --ro-bind "$REPO/packaging/wheels:/wheels" --ro-bind "$REPO/cmake:/dyn-cmake" -- env JOBS="$JOBS" \
  NICE="$NICE" OPENSSL_VERSION="$OPENSSL_VERSION" CURL_VERSION="$CURL_VERSION" YAML_CPP_VERSION="$YAML_CPP_VERSION" \
  NLOHMANN_VERSION="$NLOHMANN_VERSION" TOOLCHAIN=/dyn-cmake/toolchain-aarch64-linux-gnu.cmake \
  /bin/sh /wheels/deps-arm64-in-chroot.sh

phase core "dynatroni_unit_tests and dynatroni (clang-16 --target=aarch64-linux-gnu, static libc++, DYNATRONI_STATIC_DEPS=ON)"
# The working tree as git sees it, mtimes kept, so that the kept build tree rebuilds only what changed.
rm -rf --one-file-system "$DIR/opt/src-arm64"
mkdir -p "$DIR/opt/src-arm64"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
  tar --null -T - -cf -) | tar -xf - -C "$DIR/opt/src-arm64"
in_chroot -- env JOBS="$JOBS" NICE="$NICE" sh -c '
  set -e
  export PATH=/opt/buildtools/bin:$PATH
  B=/opt/build-arm64/core
  cmake -S /opt/src-arm64 -B $B -G Ninja -DCMAKE_TOOLCHAIN_FILE=/opt/src-arm64/cmake/toolchain-aarch64-linux-gnu.cmake \
    -DCMAKE_BUILD_TYPE=Release -DDYNATRONI_STATIC_DEPS=ON -DDYNATRONI_BUILD_BENCH=OFF -DDYNATRONI_WERROR=OFF \
    -DBoost_INCLUDE_DIR=/usr/include >/opt/build-arm64/core-configure.log 2>&1 ||
    { tail -40 /opt/build-arm64/core-configure.log; exit 1; }
  grep -E "Found (OpenSSL|CURL|GTest|ZLIB|Boost)|DYNATRONI_LIBCXX" /opt/build-arm64/core-configure.log || true
  nice -n "$NICE" ninja -C $B -j"$JOBS" dynatroni_unit_tests dynatroni_cli >/opt/build-arm64/core-build.log 2>&1 ||
    { grep -A25 -m3 "FAILED:" /opt/build-arm64/core-build.log || tail -40 /opt/build-arm64/core-build.log; exit 1; }
  aarch64-linux-gnu-strip -o $B/cli/dynatroni.stripped $B/cli/dynatroni
  ls -l $B/cli/dynatroni $B/cli/dynatroni.stripped $B/dynatroni_unit_tests'

phase qemu "qemu-aarch64-static -L /usr/aarch64-linux-gnu (in the chroot)"
B=$DIR/opt/build-arm64/core
install -m 0755 "$QEMU" "$DIR/usr/local/bin/qemu-aarch64-static"
qemu() {
  in_chroot --cwd /opt/src-arm64 -- env DYNATRONI_SOURCE_DIR=/opt/src-arm64 qemu-aarch64-static \
    -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=/opt/arm64-root/lib/aarch64-linux-gnu "$@"
}
file -b "$B/cli/dynatroni"
echo "NEEDED: $(readelf -d "$B/cli/dynatroni" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
echo "newest GLIBC symbol version: $(objdump -T "$B/cli/dynatroni" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
qemu /opt/build-arm64/core/cli/dynatroni --version
yml=$DIR/opt/build-arm64/patroni.yml
cat >"$yml" <<'YML'
scope: demo
name: node1
dynamodb:
  table_name: patroni-dcs-arm64
  region: eu-west-1
  endpoint_url: http://127.0.0.1:9
  access_key_id: AKIDEXAMPLE
  secret_access_key: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
YML
# It reads the file (the table, the Region, the endpoint, the keys), then finds nothing listening on port 9: exit
# status 3 ("DynamoDB unreachable") is the expected one, and what it prints shows what it read.
rc=0
qemu /opt/build-arm64/core/cli/dynatroni table check -c /opt/build-arm64/patroni.yml || rc=$?
echo "[arm64] dynatroni table check -c patroni.yml: exit status $rc (3 expected: nothing listens on 127.0.0.1:9)"
[[ $rc == 3 ]]
if [[ ${SKIP_TESTS:-0} != 1 ]]; then
  t=$(date +%s)
  qemu /opt/build-arm64/core/dynatroni_unit_tests --gtest_filter="$GTEST_FILTER" --gtest_brief=1 | tail -25
  echo "[arm64] unit tests under qemu (filter $GTEST_FILTER): $(($(date +%s) - t)) s"
fi
cp "$B/cli/dynatroni.stripped" "$OUT/dynatroni-linux-aarch64"

phase wheel "pip wheel . (toolchain-aarch64-linux-gnu.cmake, DYNATRONI_STATIC_DEPS=ON, _PYTHON_HOST_PLATFORM=linux-aarch64)"
in_chroot --ro-bind "$REPO/packaging/wheels:/wheels" -- env JOBS="$JOBS" NICE="$NICE" /bin/sh /wheels/wheel-arm64-in-chroot.sh

phase repair "auditwheel repair --plat auto (expecting $PLAT)"
in_chroot --bind "$OUT:/out" -- /bin/sh -c "
  set -e
  export PATH=/opt/buildtools/bin:\$PATH
  rm -f /out/dynatroni-*aarch64*.whl
  # auditwheel 6.4.2 lists only the build machine's (x86_64) policies as --plat choices, so the platform comes from
  # the wheel (--plat auto, the lowest manylinux policy its symbol versions allow), and is then checked.
  for w in /opt/wheelhouse-arm64/*.whl; do auditwheel repair --plat auto -w /out \"\$w\"; done
  ls /out/dynatroni-*-$PLAT.whl >/dev/null || { echo \"[arm64] not $PLAT:\" \$(ls /out); exit 1; }
  for w in /out/dynatroni-*.whl; do
    auditwheel show \"\$w\"
    rm -rf /opt/arm64-wheel; mkdir -p /opt/arm64-wheel
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \"\$w\" /opt/arm64-wheel
    chmod +x /opt/arm64-wheel/*.data/scripts/dynatroni
    ls -l /opt/arm64-wheel/dynatroni/libdynatroni_capi.so /opt/arm64-wheel/*.data/scripts/dynatroni \"\$w\"
    file -b /opt/arm64-wheel/dynatroni/libdynatroni_capi.so /opt/arm64-wheel/*.data/scripts/dynatroni
  done"

phase python "bullseye's arm64 Python 3.9 (apt-get download, dpkg -x into /opt/arm64-py) under qemu, the wheel on PYTHONPATH"
in_chroot -- sh -c '
  set -e
  stamp="$*"
  [ "$(cat /opt/arm64-py/.stamp 2>/dev/null)" = "$stamp" ] && { echo "[arm64] /opt/arm64-py cached"; exit 0; }
  rm -rf /opt/arm64-py-debs /opt/arm64-py
  mkdir -p /opt/arm64-py-debs /opt/arm64-py
  cd /opt/arm64-py-debs
  # The candidate first, then older versions: the mirror answers 404 for some bullseye-security files.
  for p in "$@"; do
    ok=""
    for v in $(apt-cache madison "$p" | awk -F"|" "{gsub(/ /, \"\", \$2); print \$2}"); do
      apt-get download -q "$p:arm64=$v" >/dev/null 2>&1 && { ok=$v; break; }
    done
    [ -n "$ok" ] || { echo "[arm64] no $p:arm64 on the mirror"; exit 1; }
  done
  for d in *.deb; do dpkg -x "$d" /opt/arm64-py; done
  echo "$stamp" >/opt/arm64-py/.stamp
  ls /opt/arm64-py-debs | tr "\n" " "; echo; du -sh /opt/arm64-py' sh $PY_ARM64_DEBS
cp "$REPO/packaging/wheels/smoke-arm64.py" "$DIR/opt/build-arm64/smoke-arm64.py"
ARM64_LIBS=/opt/arm64-py/lib/aarch64-linux-gnu:/opt/arm64-py/usr/lib/aarch64-linux-gnu:/opt/arm64-root/lib/aarch64-linux-gnu
smoke() {
  in_chroot -- qemu-aarch64-static -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=$ARM64_LIBS \
    -E PYTHONPATH=/opt/arm64-wheel -E PYTHONDONTWRITEBYTECODE=1 /opt/arm64-py/usr/bin/python3.9 /opt/build-arm64/smoke-arm64.py
}
if [[ -n ${PY:-} && -x ${PY:-} ]] && "$PY" -c 'import moto' 2>/dev/null; then
  # The table made by the wheel's own aarch64 command, then the smoke script against the same moto.
  (cd "$REPO" && "$PY" -m tools.local_dynamodb run --only moto -- bash -c '
    set -e
    ep=${DYNATRONI_TEST_ENDPOINTS#moto=}; ep=${ep%%,*}
    "$0" run "$1" -- env AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y qemu-aarch64-static -L /usr/aarch64-linux-gnu \
      -E LD_LIBRARY_PATH=/opt/arm64-root/lib/aarch64-linux-gnu /opt/arm64-wheel/dynatroni-$2.data/scripts/dynatroni \
      table create --endpoint-url "$ep" --region us-east-1 --table dynatroni-arm64-smoke
    "$0" run "$1" -- env qemu-aarch64-static -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=$3 -E PYTHONPATH=/opt/arm64-wheel \
      -E PYTHONDONTWRITEBYTECODE=1 -E DYNATRONI_SMOKE_ENDPOINT="$ep" -E DYNATRONI_SMOKE_TABLE=dynatroni-arm64-smoke \
      /opt/arm64-py/usr/bin/python3.9 /opt/build-arm64/smoke-arm64.py' "$CHROOT" "$SUITE" "$(cat "$REPO/VERSION")" "$ARM64_LIBS")
else
  echo "[arm64] no PY with moto: the smoke script runs without a DynamoDB"
  smoke
fi
if [[ ${CONFORMANCE:-0} == 1 ]]; then
  phase conformance "python/tests/test_plugin_conformance.py under qemu (moto + dynalite on the host's loopback)"
  [[ -n ${PY:-} ]] || { echo "[arm64] CONFORMANCE=1 needs PY (a Python with moto; make deps)" >&2; exit 2; }
  in_chroot -- sh -c '
    set -e
    S=/opt/arm64-site
    stamp="$*"
    if [ "$(cat $S/.stamp 2>/dev/null)" != "$stamp" ]; then
      rm -rf $S
      pip="/opt/buildtools/bin/python -m pip install -q --disable-pip-version-check --progress-bar off --target $S"
      $pip --platform manylinux2014_aarch64 --python-version 3.9 --implementation cp --abi cp39 --only-binary=:all: \
        "$@" 2>&1 | grep -v "Requires-Python" || true
      $pip --no-deps "patroni==4.1.5" "ydiff>=1.2.0,<1.5,!=1.4.0,!=1.4.1"
      echo "$stamp" >$S/.stamp
    fi
    rm -rf $S/dynatroni $S/dynatroni-*.dist-info $S/dynatroni-*.data
    cp -a /opt/arm64-wheel/. $S/  # the repaired wheel, unpacked by the repair phase (patroni/dcs/dynamodb.py too)
    ls $S | grep -E "^(patroni|psycopg|psutil|pytest|boto3)-" | tr "\n" " "; echo' sh \
    "pytest>=8,<10" "boto3>=1.34,<2" "psycopg[binary]>=3.2,<3.4" urllib3 PyYAML click prettytable python-dateutil psutil
  (cd "$REPO" && "$PY" -m tools.local_dynamodb run -- bash -c '
    "$0" run "$1" --ro-bind "$2:/src" --cwd /src -- env DYNATRONI_TEST_ENDPOINTS="$DYNATRONI_TEST_ENDPOINTS" \
      qemu-aarch64-static -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=$3 -E PYTHONDONTWRITEBYTECODE=1 \
      /opt/arm64-py/usr/bin/python3.9 -c "import site, sys; site.addsitedir(\"/opt/arm64-site\"); import pytest; \
sys.exit(pytest.main(sys.argv[1:]))" -q -p no:cacheprovider \
      -k "not validate_config and not patroni_start_with_a_bad_setting" python/tests/test_plugin_conformance.py' \
    "$CHROOT" "$SUITE" "$REPO" "$ARM64_LIBS")
fi
phase "" ""
ls -l "$OUT"
