#!/usr/bin/env bash
# packaging/source/check.sh - `make source-check`: Dynatroni built from source with `pip install .` in a fresh
# Debian 12 (bookworm) chroot that has only the documented build dependencies (issue #20 part 4; docs/install.md,
# "3. From source").
#
#   packaging/source/check.sh        (as root, for tools/chroot.sh)
#
# Printing each phase with its elapsed seconds:
#   chroot     a pristine minbase bookworm chroot (tools/chroot.sh create with CHROOT_CACHE=$PRISTINE: debootstrap
#              once, never run in) copied anew to $WORK/bookworm-amd64
#   packages   exactly packaging/source/build-deps.txt (the list docs/install.md shows, python/tests/test_docs.py
#              checks that) and python3-venv, from Debian; then the check that no python3*-dev package and no
#              Python.h is there
#   source     the checkout's files (git ls-files: tracked, and untracked but not ignored) copied to /opt/src
#   build      python3 -m venv /opt/venv; /opt/venv/bin/pip install /opt/src: pip's isolated build (scikit-build-core
#              from PyPI) compiles the core at nice 19 with CMAKE_BUILD_PARALLEL_LEVEL=$JOBS
#   installed  the files docs/install.md says the install puts into the virtualenv, each checked
#   smoke      import dynatroni._core, dynatroni --version, the libraries the core library and the command need (readelf;
#              ldd resolves each)
#   tests      postgresql from Debian (Patroni's --validate-config needs its programs), Patroni 4.1, pytest and boto3
#              from PyPI, then python/tests/test_plugin_conformance.py against moto and dynalite, started on the
#              host's loopback by tools/local_dynamodb.py (the chroot shares the host's network)
#   uninstall  pip uninstall dynatroni; the files above are gone
#
# Environment: PY (Python with the repository's dev packages: moto; default /var/lib/dynatroni/venv/bin/python),
# PRISTINE (default /var/cache/dynatroni/chroots-pristine), WORK (default /var/cache/dynatroni/source-check),
# JOBS (default 2), TESTS=0 skips the tests phase.
# The sh -c scripts run inside the chroot: single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PY:-/var/lib/dynatroni/venv/bin/python}
PRISTINE=${PRISTINE:-/var/cache/dynatroni/chroots-pristine}
WORK=${WORK:-/var/cache/dynatroni/source-check}
JOBS=${JOBS:-2}
TESTS=${TESTS:-1}
SUITE=bookworm
CHROOT=$REPO/tools/chroot.sh
# From PyPI, for the tests only (the same as packaging/wheels/check.sh).
PIP_PACKAGES=("patroni[psycopg3]==4.1.5" "psycopg[binary]>=3.2,<3.4" "pytest>=8,<10" "boto3>=1.34,<2")
# The build dependencies: one package a line, # comments.
mapfile -t BUILD_DEPS < <(sed 's/#.*//; /^[[:space:]]*$/d' "$REPO/packaging/source/build-deps.txt")

[[ $(id -u) == 0 ]] || { echo "packaging/source/check.sh: must run as root (tools/chroot.sh)" >&2; exit 2; }

# The local DynamoDB servers for the tests phase: this script again, under tools/local_dynamodb.py.
if [[ $TESTS == 1 && -z ${DYNATRONI_TEST_ENDPOINTS:-} ]]; then
  cd "$REPO"
  exec "$PY" -m tools.local_dynamodb run -- "$REPO/packaging/source/check.sh"
fi

PHASE_PREFIX='[source-check]' PHASE_WIDTH=10
# shellcheck source=packaging/phase.sh
. "$REPO/packaging/phase.sh"
trap '[[ -n $PHASE ]] && echo "[source-check] FAILED in phase $PHASE"' EXIT

export CHROOT_CACHE=$WORK
run() { "$CHROOT" run "$SUITE" "$@"; }

phase chroot "copy of the pristine $PRISTINE/$SUITE-amd64 into $WORK"
mkdir -p "$WORK"
CHROOT_CACHE=$PRISTINE "$CHROOT" create "$SUITE" >"$WORK/create.log" 2>&1 || { tail -20 "$WORK/create.log"; exit 1; }
"$CHROOT" remove "$SUITE"
cp -a "$PRISTINE/$SUITE-amd64" "$WORK/$SUITE-amd64"
DIR=$WORK/$SUITE-amd64
# No daemon may start inside (postgresql's postinst would start the cluster it creates).
printf '#!/bin/sh\nexit 101\n' >"$DIR/usr/sbin/policy-rc.d"
chmod 755 "$DIR/usr/sbin/policy-rc.d"

phase packages "${BUILD_DEPS[*]} python3-venv (Debian)"
"$CHROOT" apt "$SUITE" "${BUILD_DEPS[@]}" python3-venv >"$WORK/apt.log" 2>&1 || { tail -20 "$WORK/apt.log"; exit 1; }
run -- sh -c '
  dev=$(dpkg -l | grep -E "^ii +(lib)?python3[^ ]*-dev ") && { echo "python3 -dev packages: $dev"; exit 1; }
  h=$(find / -xdev -name Python.h 2>/dev/null || true)
  [ -z "$h" ] || { echo "Python headers: $h"; exit 1; }
  echo "no python3*-dev package (dpkg -l), no Python.h (find /); $(python3 --version), $(g++ --version | head -1),"\
" $(cmake --version | head -1), $(dpkg-query -W -f="\${Package}\n" | wc -l) packages"'

phase source "the checkout's files (git ls-files) into /opt/src"
mkdir -p "$DIR/opt/src"
git -C "$REPO" ls-files -z --cached --others --exclude-standard |
  (cd "$REPO" && xargs -0 sh -c 'for f; do [ ! -e "$f" ] || printf "%s\0" "$f"; done' sh) |
  tar -C "$REPO" --null -T - -cf - | tar -C "$DIR/opt/src" -xf -
echo "$(find "$DIR/opt/src" -type f | wc -l) files"

phase build "python3 -m venv /opt/venv; /opt/venv/bin/pip install /opt/src (nice 19, CMAKE_BUILD_PARALLEL_LEVEL=$JOBS)"
run -- sh -c "
  set -e
  python3 -m venv /opt/venv
  nice -n 19 env CMAKE_BUILD_PARALLEL_LEVEL=$JOBS /opt/venv/bin/pip install --disable-pip-version-check \
    --progress-bar off /opt/src >/opt/pip-install.log 2>&1 || { tail -40 /opt/pip-install.log; exit 1; }
  grep -E '^ *(Created wheel|Successfully installed)' /opt/pip-install.log | sed 's/ size=.*//'
  echo \"built by \$(sed -n 's/^Generator: //p' /opt/venv/lib/python3.11/site-packages/dynatroni-*.dist-info/WHEEL) with\" \
    \$(sed -n 's/^CMAKE_\\(COMMAND\\|MAKE_PROGRAM\\|CXX_COMPILER\\):[A-Z]*=/\\1=/p' /opt/src/build-python/*/CMakeCache.txt)"

# What docs/install.md ("3. From source") says the install puts into the virtualenv.
SITE=lib/python3.11/site-packages
INSTALLED=("$SITE/dynatroni/__init__.py" "$SITE/dynatroni/libdynatroni_capi.so" "$SITE/patroni/dcs/dynamodb.py"
  "$SITE/dynatroni-patroni.pth" bin/dynatroni bin/patroni-dynamodb bin/patronictl-dynamodb)
phase installed "the files in /opt/venv"
run -- sh -c "cd /opt/venv && ls -ld ${INSTALLED[*]} $SITE/dynatroni-*.dist-info"

phase smoke "import dynatroni._core; dynatroni --version"
run -- sh -c '
  set -e
  /opt/venv/bin/python -c "import dynatroni._core, dynatroni; print(\"import dynatroni._core:\", dynatroni.__version__, dynatroni._core.__file__)"
  /opt/venv/bin/dynatroni --version
  for f in /opt/venv/lib/python3.11/site-packages/dynatroni/libdynatroni_capi.so /opt/venv/bin/dynatroni; do
    echo "$f needs: $(readelf -d "$f" | sed -n "s/.*(NEEDED).*\[\(.*\)\]/\1/p" | tr "\n" " ")"
    if ldd "$f" | grep "not found"; then exit 1; fi
  done'

if [[ $TESTS == 1 ]]; then
  phase tests "postgresql (Debian), ${PIP_PACKAGES[*]} (PyPI), python/tests/test_plugin_conformance.py (moto + dynalite)"
  "$CHROOT" apt "$SUITE" postgresql >"$WORK/apt-tests.log" 2>&1 || { tail -20 "$WORK/apt-tests.log"; exit 1; }
  run -- sh -c "/opt/venv/bin/python -m pip install -q --disable-pip-version-check --progress-bar off \
    $(printf "'%s' " "${PIP_PACKAGES[@]}")"
  run --cwd /opt/src -- env DYNATRONI_TEST_ENDPOINTS="$DYNATRONI_TEST_ENDPOINTS" PYTHONDONTWRITEBYTECODE=1 \
    /opt/venv/bin/python -m pytest -q -p no:cacheprovider python/tests/test_plugin_conformance.py
fi

phase uninstall "pip uninstall dynatroni"
run -- sh -c "
  set -e
  /opt/venv/bin/python -m pip uninstall -y --disable-pip-version-check dynatroni
  cd /opt/venv
  left=\$(ls -d ${INSTALLED[*]} $SITE/dynatroni $SITE/dynatroni-*.dist-info $SITE/patroni/dcs/__pycache__/dynamodb.* \
    2>/dev/null || true)
  [ -z \"\$left\" ] || { echo \"left behind: \$left\"; exit 1; }
  echo 'removed: dynatroni/, dynatroni-*.dist-info, patroni/dcs/dynamodb.py (and its .pyc), dynatroni-patroni.pth, bin/dynatroni, bin/patroni-dynamodb, bin/patronictl-dynamodb'"
phase ""
trap - EXIT
printf '[source-check] passed in %d s\n' $(($(date +%s) - T0))
