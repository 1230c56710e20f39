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
#                `auditwheel show`; `file` of the shared library and of the command inside the wheel;
#                then, on the host, check-licenses.sh and check-needs.sh (the libraries it needs, against docs/install.md)
#  10. python    bullseye's arm64 python3.9-minimal, libpython3.9-stdlib and the libraries they need (`apt-get
#                download` with the newest version the mirror serves, `dpkg -x` into /opt/arm64-py), plus
#                python3-distutils and python3-lib2to3 (architecture all: pip on Python 3.9 imports distutils).
#                Under qemu: `python3.9 -m venv --without-pip /opt/arm64-venv`, pip PIP_VERSION into it from the
#                pip wheel run as a zip (kept while both stay the same), then `pip install` of the repaired wheel
#                from OUT_DIR: pip takes the manylinux_2_31_aarch64 tag from the emulated glibc, and the same
#                wheel renamed to manylinux_2_32_aarch64 must be refused. packaging/wheels/smoke-arm64.py runs
#                with the venv's Python, and with PY (a Python with moto, e.g. the venv of `make deps`) the
#                installed aarch64 `dynatroni` command creates a table in moto on the host's loopback
#                (tools/local_dynamodb.py) and two members race for the leader key. The console scripts pip
#                writes start with "#!/opt/arm64-venv/bin/python", which this machine cannot exec: they run as
#                arguments of the emulated Python.
#  11. conformance  (CONFORMANCE=1, with PY) python/tests/test_plugin_conformance.py, all of it, under the same
#                emulated Python against moto and dynalite on the host's loopback. pip under qemu resolves and
#                installs Patroni 4.1.5, pytest, boto3, psycopg[binary] and psutil into the venv as aarch64 wheels
#                from PyPI (once, stamp file); only ydiff (Patroni needs <1.5, sdists only on PyPI) is built
#                into a pure-Python wheel by the chroot's amd64 pip first, because building an sdist makes pip
#                exec the aarch64 interpreter. The three tests that run Patroni's --validate-config get bullseye's
#                amd64 postgresql-13 (installed into the chroot when missing, with a policy-rc.d that starts no
#                daemon): x86-64 programs, which the emulated Python execs natively (qemu-user hands execve to the
#                kernel); the validator runs them only for their version. They start Patroni as
#                [sys.executable, "-m", ...]: sys.executable is /opt/arm64-venv/bin/python-qemu, a /bin/sh script
#                that runs the venv's Python under qemu (-0 keeps it as argv[0], so the venv is found from it).
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
# Architecture "all": pip on Python 3.9 imports distutils, which Debian ships apart from the standard library.
PY_ALL_DEBS="python3-distutils python3-lib2to3"
# arm64 packages unpacked into /opt/arm64-root: the versions this machine's mirror serves (bullseye-security's
# LLVM 16, bullseye's zlib).
LLVM_ARM64_VERSION=${LLVM_ARM64_VERSION:-1:16.0.6-15~deb11u2}
ARM64_DEBS="libc++-16-dev=$LLVM_ARM64_VERSION libc++abi-16-dev=$LLVM_ARM64_VERSION zlib1g zlib1g-dev"

PHASE_PREFIX='[arm64]' PHASE_WIDTH=9
# shellcheck source=packaging/phase.sh
. "$REPO/packaging/phase.sh"
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
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ ! -e "$f" ] || printf "%s\0" "$f"; done' sh |
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
# On the host, as make wheels-check does for the x86-64 wheel: the licence texts it carries, and the libraries it
# needs from the system against docs/install.md.
"$REPO/packaging/wheels/check-licenses.sh" "$OUT"/dynatroni-*-"$PLAT".whl
"$REPO/packaging/wheels/check-needs.sh" "$OUT"/dynatroni-*-"$PLAT".whl

phase python "bullseye's arm64 Python 3.9 under qemu: a venv, pip $PIP_VERSION, pip install of the repaired wheel"
in_chroot -- sh -c '
  set -e
  stamp="$*"
  [ "$(cat /opt/arm64-py/.stamp 2>/dev/null)" = "$stamp" ] && { echo "[arm64] /opt/arm64-py cached"; exit 0; }
  rm -rf /opt/arm64-py-debs /opt/arm64-py /opt/arm64-venv
  mkdir -p /opt/arm64-py-debs /opt/arm64-py
  cd /opt/arm64-py-debs
  # The candidate first, then older versions: the mirror answers 404 for some bullseye-security files. "all"
  # packages (after the "--") have no :arm64 name.
  arch=:arm64
  for p in "$@"; do
    [ "$p" = -- ] && { arch=""; continue; }
    ok=""
    for v in $(apt-cache madison "$p" | awk -F"|" "/Packages/ {gsub(/ /, \"\", \$2); print \$2}"); do
      apt-get download -q "$p$arch=$v" >/dev/null 2>&1 && { ok=$v; break; }
    done
    [ -n "$ok" ] || { echo "[arm64] no $p$arch on the mirror"; exit 1; }
  done
  for d in *.deb; do dpkg -x "$d" /opt/arm64-py; done
  echo "$stamp" >/opt/arm64-py/.stamp
  ls /opt/arm64-py-debs | tr "\n" " "; echo; du -sh /opt/arm64-py' sh $PY_ARM64_DEBS -- $PY_ALL_DEBS
cp "$REPO/packaging/wheels/smoke-arm64.py" "$DIR/opt/build-arm64/smoke-arm64.py"
ARM64_LIBS=/opt/arm64-py/lib/aarch64-linux-gnu:/opt/arm64-py/usr/lib/aarch64-linux-gnu:/opt/arm64-root/lib/aarch64-linux-gnu
VENV=/opt/arm64-venv
# The emulated Python of the venv: $VENV/bin/python (an aarch64 program) run by qemu. Its console scripts start
# with "#!/opt/arm64-venv/bin/python", which this machine cannot exec: they run as pyqemu $VENV/bin/NAME.
pyqemu() {
  in_chroot -- qemu-aarch64-static -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=$ARM64_LIBS -E PYTHONDONTWRITEBYTECODE=1 \
    $VENV/bin/python "$@"
}
# The venv: made by the emulated python3.9 -m venv, then pip from its wheel (pip is pure Python: the wheel runs as
# a zip, "python pip-*.whl/pip install pip-*.whl"); the wheel comes from PyPI through the chroot's amd64 pip.
# Kept while /opt/arm64-py and PIP_VERSION stay the same.
t=$(date +%s)
in_chroot -- env ARM64_LIBS="$ARM64_LIBS" sh -c '
  set -e
  V=/opt/arm64-venv
  stamp="$(cat /opt/arm64-py/.stamp) pip==$1"
  [ "$(cat $V/.stamp 2>/dev/null)" = "$stamp" ] && { echo "[arm64] $V cached"; exit 0; }
  rm -rf $V /opt/arm64-pip
  /opt/buildtools/bin/python -m pip download -q --disable-pip-version-check --no-deps -d /opt/arm64-pip "pip==$1"
  q="qemu-aarch64-static -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=$ARM64_LIBS"
  $q /opt/arm64-py/usr/bin/python3.9 -m venv --without-pip $V
  $q $V/bin/python /opt/arm64-pip/pip-$1-py3-none-any.whl/pip install -q --disable-pip-version-check --no-index \
    /opt/arm64-pip/pip-$1-py3-none-any.whl
  # sys.executable for the conformance tests, which start Patroni as [sys.executable, "-m", ...]: without
  # binfmt_misc the emulated Python cannot exec the aarch64 $V/bin/python, but qemu-user hands execve to the
  # kernel, which runs this x86-64 /bin/sh script; qemu -0 makes it argv[0], so Python finds the venv from it.
  printf "#!/bin/sh\nexec qemu-aarch64-static -L /usr/aarch64-linux-gnu -0 \"\$0\" $V/bin/python \"\$@\"\n" \
    >$V/bin/python-qemu
  chmod 755 $V/bin/python-qemu
  echo "$stamp" >$V/.stamp
  echo "[arm64] $V: python3.9 -m venv --without-pip, then pip $1 (under qemu)"' sh "$PIP_VERSION"
echo "[arm64] the venv: $(($(date +%s) - t)) s"
# pip itself decides whether the wheel fits: the tags it accepts come from the emulated glibc (confstr).
tags=$(pyqemu -m pip debug --verbose 2>/dev/null)
echo "[arm64] pip debug --verbose, the first manylinux tag pip accepts: $(grep -m1 -oE "cp39-cp39-manylinux_[0-9a-z_]+" <<<"$tags")"
wheel=$(basename "$(ls "$OUT"/dynatroni-*-$PLAT.whl)")
rm -rf "$DIR/opt/build-arm64/pip-in"
mkdir -p "$DIR/opt/build-arm64/pip-in"
cp "$OUT/$wheel" "$DIR/opt/build-arm64/pip-in/"
# The same wheel renamed to ask for glibc 2.32: pip under qemu must refuse it.
wheel232=${wheel/$PLAT/manylinux_2_32_aarch64}
cp "$OUT/$wheel" "$DIR/opt/build-arm64/pip-in/$wheel232"
t=$(date +%s)
pyqemu -m pip install --disable-pip-version-check --no-index --force-reinstall "/opt/build-arm64/pip-in/$wheel"
echo "[arm64] pip install (under qemu) of $wheel: $(($(date +%s) - t)) s"
rc=0
refusal=$(pyqemu -m pip install --disable-pip-version-check --no-index --dry-run "/opt/build-arm64/pip-in/$wheel232" 2>&1) ||
  rc=$?
[[ $rc != 0 ]] || { echo "[arm64] pip under qemu took $wheel232" >&2; exit 1; }
grep "is not a supported wheel on this platform" <<<"$refusal" ||
  { echo "[arm64] pip under qemu refused $wheel232 for another reason: $refusal" >&2; exit 1; }
if [[ -n ${PY:-} && -x ${PY:-} ]] && "$PY" -c 'import moto' 2>/dev/null; then
  # The table made by the installed aarch64 command ($VENV/bin/dynatroni), then the smoke script against the same
  # moto.
  (cd "$REPO" && "$PY" -m tools.local_dynamodb run --only moto -- bash -c '
    set -e
    ep=${DYNATRONI_TEST_ENDPOINTS#moto=}; ep=${ep%%,*}
    "$0" run "$1" -- env AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y qemu-aarch64-static -L /usr/aarch64-linux-gnu \
      -E LD_LIBRARY_PATH=/opt/arm64-root/lib/aarch64-linux-gnu /opt/arm64-venv/bin/dynatroni \
      table create --endpoint-url "$ep" --region us-east-1 --table dynatroni-arm64-smoke
    "$0" run "$1" -- env qemu-aarch64-static -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=$2 \
      -E PYTHONDONTWRITEBYTECODE=1 -E DYNATRONI_SMOKE_ENDPOINT="$ep" -E DYNATRONI_SMOKE_TABLE=dynatroni-arm64-smoke \
      /opt/arm64-venv/bin/python /opt/build-arm64/smoke-arm64.py' "$CHROOT" "$SUITE" "$ARM64_LIBS")
else
  echo "[arm64] no PY with moto: the smoke script runs without a DynamoDB"
  pyqemu /opt/build-arm64/smoke-arm64.py
fi
if [[ ${CONFORMANCE:-0} == 1 ]]; then
  phase conformance "python/tests/test_plugin_conformance.py under qemu (moto + dynalite on the host's loopback)"
  [[ -n ${PY:-} ]] || { echo "[arm64] CONFORMANCE=1 needs PY (a Python with moto; make deps)" >&2; exit 2; }
  # Patroni's --validate-config checks bin_dir for PostgreSQL's programs and runs them for their version:
  # bullseye's amd64 postgresql-13, which the emulated Python execs natively. No daemon may start in the chroot.
  if [[ ! -x $DIR/usr/lib/postgresql/13/bin/postgres ]]; then
    [[ -e $DIR/usr/sbin/policy-rc.d ]] || { printf '#!/bin/sh\nexit 101\n' >"$DIR/usr/sbin/policy-rc.d"; chmod 755 "$DIR/usr/sbin/policy-rc.d"; }
    t=$(date +%s)
    "$CHROOT" apt "$SUITE" postgresql-13 >"$DIR/opt/build-arm64/postgresql-apt.log" 2>&1 ||
      { tail -20 "$DIR/opt/build-arm64/postgresql-apt.log"; exit 1; }
    echo "[arm64] postgresql-13 (amd64) installed into the chroot: $(($(date +%s) - t)) s"
  fi
  rm -rf "$DIR/opt/arm64-site"  # the --target tree earlier versions of this script unpacked the wheels into
  echo "[arm64] /usr/lib/postgresql/13/bin/postgres: $(file -b "$DIR/usr/lib/postgresql/13/bin/postgres" | cut -d, -f1-2)"
  pyqemu -c 'import platform, subprocess, sys
out = subprocess.run(["/usr/lib/postgresql/13/bin/postgres", "--version"], capture_output=True, text=True).stdout
print(f"[arm64] {sys.executable} on {platform.machine()} runs it: {out.strip()}")'
  # Patroni 4.1.5, pytest, boto3, psycopg and psutil: resolved and installed by pip under qemu, aarch64 wheels from
  # PyPI. Patroni needs ydiff<1.5, which PyPI has only as sdists; building one would make pip start the aarch64
  # Python (Exec format error), so the chroot's amd64 pip builds that pure-Python wheel first (--find-links).
  t=$(date +%s)
  in_chroot -- env ARM64_LIBS="$ARM64_LIBS" sh -c '
    set -e
    V=/opt/arm64-venv
    stamp="$*"
    [ "$(cat $V/.deps-stamp 2>/dev/null)" = "$stamp" ] && { echo "[arm64] Patroni and the test tools cached in $V"; exit 0; }
    /opt/buildtools/bin/python -m pip wheel -q --disable-pip-version-check --no-deps -w /opt/arm64-pip "ydiff==1.4.2"
    qemu-aarch64-static -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=$ARM64_LIBS $V/bin/python -m pip install \
      --disable-pip-version-check --progress-bar off --only-binary=:all: --find-links /opt/arm64-pip "$@" \
      >/opt/build-arm64/pip-deps.log 2>&1 || { tail -20 /opt/build-arm64/pip-deps.log; exit 1; }
    grep -E "^Successfully" /opt/build-arm64/pip-deps.log || true
    echo "$stamp" >$V/.deps-stamp' sh \
    "patroni==4.1.5" "pytest>=8,<10" "boto3>=1.34,<2" "psycopg[binary]>=3.2,<3.4" psutil
  echo "[arm64] pip install (under qemu) of Patroni and the test tools: $(($(date +%s) - t)) s"
  # A console script of the wheel, run as an argument of the emulated Python (its first line names an aarch64 one).
  v=$(pyqemu $VENV/bin/patroni-dynamodb --version)
  echo "[arm64] $VENV/bin/patroni-dynamodb (first line $(head -1 "$DIR$VENV/bin/patroni-dynamodb")) --version, run by" \
    "the emulated Python: $v"
  [[ $v == "patroni-dynamodb 4.1.5" ]] || { echo "[arm64] patroni-dynamodb --version printed '$v'" >&2; exit 1; }
  t=$(date +%s)
  (cd "$REPO" && "$PY" -m tools.local_dynamodb run -- bash -c '
    "$0" run "$1" --ro-bind "$2:/src" --cwd /src -- env DYNATRONI_TEST_ENDPOINTS="$DYNATRONI_TEST_ENDPOINTS" \
      LD_LIBRARY_PATH="$3" PYTHONDONTWRITEBYTECODE=1 /opt/arm64-venv/bin/python-qemu /opt/arm64-venv/bin/pytest -q \
      -p no:cacheprovider python/tests/test_plugin_conformance.py' "$CHROOT" "$SUITE" "$REPO" "$ARM64_LIBS")
  echo "[arm64] conformance tests under qemu: $(($(date +%s) - t)) s"
fi
phase "" ""
ls -l "$OUT"
