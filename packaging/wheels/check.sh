#!/usr/bin/env bash
# packaging/wheels/check.sh - `make wheels-check`: the portable wheel installed with pip into fresh Debian
# chroots that have no compiler and no -dev package, and the plugin conformance tests run there (issue #20 part 2;
# docs/install.md, "Portable wheels").
#
#   packaging/wheels/check.sh [WHEEL_DIR]      (as root; WHEEL_DIR defaults to dist/wheels, what `make wheels` made)
#
# First, once: packaging/wheels/check-licenses.sh, the licence texts of what each wheel bundles are in its
# .dist-info/licenses/third-party/ (a missing one fails the check, after the suites have run), and
# packaging/wheels/check-needs.sh, the shared libraries each wheel needs are those docs/install.md names. Then for each suite
# of SUITES (default: bullseye bookworm trixie), printing each phase with its elapsed seconds:
#   chroot    a pristine minbase chroot (tools/chroot.sh create with CHROOT_CACHE=$PRISTINE: debootstrap once,
#             never run in) copied anew to $WORK/SUITE-amd64
#   packages  python3-venv and the suite's own postgresql (its bin_dir for Patroni's --validate-config) from Debian;
#             then the check that there is no C or C++ compiler and no -dev package
#   pip       a virtualenv /opt/venv: the wheel (pip picks the one for the suite's Python), whose files must be
#             those of docs/install.md's wheel-layout table (python/tests/wheel_layout.py), then Patroni 4.1,
#             psycopg, pytest and boto3 from PyPI
#   binary    the `dynatroni` command unpacked from each wheel: --version, ldd, and a verified TLS handshake with
#             https://pypi.org through the bundled OpenSSL and the CA bundle it finds itself
#   smoke     `import dynatroni._core`, `dynatroni --version` (and ldd of the binary) as pip installed them
#   tests     python/tests/test_plugin_conformance.py against moto and dynalite, started once on the host's
#             loopback by tools/local_dynamodb.py (the chroot shares the host's network); the checkout is mounted
#             read-only at /src
# The failing suites are listed at the end; the exit status is 1 if any failed.
#
# Environment: PY (Python with the repository's dev packages: moto; default /var/lib/dynatroni/venv/bin/python),
# SUITES, PRISTINE (default /var/cache/dynatroni/chroots-pristine), WORK (default /var/cache/dynatroni/wheels-check).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WHEELS=$(cd "${1:-$REPO/dist/wheels}" && pwd)
PY=${PY:-/var/lib/dynatroni/venv/bin/python}
SUITES=${SUITES:-bullseye bookworm trixie}
PRISTINE=${PRISTINE:-/var/cache/dynatroni/chroots-pristine}
WORK=${WORK:-/var/cache/dynatroni/wheels-check}
CHROOT=$REPO/tools/chroot.sh
# From PyPI, into each chroot's virtualenv (psycopg 3.2 is the newest for bullseye's Python 3.9; pytest 8 likewise).
PIP_PACKAGES="patroni[psycopg3]==4.1.5 psycopg[binary]>=3.2,<3.4 pytest>=8,<10 boto3>=1.34,<2"

[[ $(id -u) == 0 ]] || { echo "packaging/wheels/check.sh: must run as root (tools/chroot.sh)" >&2; exit 2; }
compgen -G "$WHEELS/dynatroni-*.whl" >/dev/null || { echo "no dynatroni-*.whl in $WHEELS: run make wheels" >&2; exit 2; }

# The local DynamoDB servers, once for every suite: this script again, under tools/local_dynamodb.py.
if [[ -z ${DYNATRONI_TEST_ENDPOINTS:-} ]]; then
  cd "$REPO"
  exec "$PY" -m tools.local_dynamodb run -- "$REPO/packaging/wheels/check.sh" "$WHEELS"
fi

PHASE_PREFIX='[wheels-check]' PHASE_WIDTH=20
# shellcheck source=packaging/phase.sh
. "$REPO/packaging/phase.sh"

check_suite() {
  local suite=$1 dir
  export CHROOT_CACHE=$WORK
  phase "$suite: chroot" "copy of the pristine $PRISTINE/$suite-amd64 into $WORK"
  mkdir -p "$WORK"
  CHROOT_CACHE=$PRISTINE "$CHROOT" create "$suite" >"$WORK/$suite-create.log" 2>&1 ||
    { tail -20 "$WORK/$suite-create.log"; return 1; }
  "$CHROOT" remove "$suite"
  cp -a "$PRISTINE/$suite-amd64" "$WORK/$suite-amd64"
  dir=$WORK/$suite-amd64
  # No daemon may start inside (postgresql's postinst would start the cluster it creates).
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
  chmod 755 "$dir/usr/sbin/policy-rc.d"

  phase "$suite: packages" "python3-venv postgresql (Debian)"
  "$CHROOT" apt "$suite" python3-venv postgresql >"$WORK/$suite-apt.log" 2>&1 || { tail -20 "$WORK/$suite-apt.log"; return 1; }
  # trixie's postgresql-common depends on postgresql-common-dev: Perl scripts for building extensions (pg_buildext),
  # no header and no compiler. No other -dev package, and no C header at all.
  "$CHROOT" run "$suite" -- sh -c '
    for c in cc gcc g++ c++ clang clang++; do command -v $c && { echo "a compiler: $c"; exit 1; }; done
    dev=$(dpkg-query -W -f="\${Package}\n" | grep -- "-dev$" | grep -vx postgresql-common-dev) &&
      { echo "-dev packages:" $dev; exit 1; }
    [ -z "$(find /usr/include -name "*.h" | head -1)" ] || { echo "C headers in /usr/include"; exit 1; }
    echo "no compiler, no -dev package, no C header; $(python3 --version), PostgreSQL $(ls /usr/lib/postgresql)"'

  phase "$suite: binary" "the dynatroni command from the wheel, unpacked (whether or not pip takes the wheel)"
  "$CHROOT" run "$suite" --ro-bind "$WHEELS:/wheels" -- sh -c '
    set -e
    for w in /wheels/dynatroni-*.whl; do
      python3 -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
n = [n for n in z.namelist() if n.endswith(\"/dynatroni\") and \"scripts\" in n][0]; \
open(\"/tmp/dynatroni\", \"wb\").write(z.read(n))" "$w"
      chmod +x /tmp/dynatroni
      echo "$(basename "$w"): $(/tmp/dynatroni --version); needs: $(ldd /tmp/dynatroni | sed -n "s/^[[:space:]]*\([^ ]*\) =>.*/\1/p" | tr "\n" " ")"
      ! ldd /tmp/dynatroni | grep "not found"
    done
    # TLS through the static OpenSSL with the CA bundle the binary finds itself (http/ca_bundle.h: the chroot is
    # Debian; SSL_CERT_FILE, which tools/chroot.sh sets for pip, unset): a verified handshake with an HTTPS server
    # that is not DynamoDB, which then answers HTTP 405. The host bundle tools/chroot.sh copies in is appended to
    # the Debian bundle of this throwaway copy first: the way out of a network may pass a local CA only the host trusts.
    cat /etc/ssl/dynatroni-host-ca.crt >>/etc/ssl/certs/ca-certificates.crt
    out=$(env -u SSL_CERT_FILE AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y /tmp/dynatroni table check \
      --endpoint-url https://pypi.org --region us-east-1 --table dynatroni-tls-check 2>&1 || true)
    echo "$out" | grep -q "HTTP 405" || { echo "TLS check failed: $out"; exit 1; }
    echo "TLS to https://pypi.org verified with the system CA bundle (the server answered HTTP 405)"'

  phase "$suite: pip" "the wheel, then $PIP_PACKAGES (PyPI)"
  "$CHROOT" run "$suite" --ro-bind "$WHEELS:/wheels" --ro-bind "$REPO:/src" -- sh -c "
    set -e
    python3 -m venv /opt/venv
    python3 /src/python/tests/wheel_layout.py snapshot /opt/venv >/tmp/venv-before
    /opt/venv/bin/python -m pip install -q --disable-pip-version-check --progress-bar off --no-index --no-deps \
      --find-links /wheels dynatroni || { echo \"no wheel in /wheels installs on \$(python3 --version):\" \$(ls /wheels); exit 1; }
    python3 /src/python/tests/wheel_layout.py check /opt/venv /tmp/venv-before
    /opt/venv/bin/python -m pip install -q --disable-pip-version-check --progress-bar off $(printf "'%s' " $PIP_PACKAGES)
    /opt/venv/bin/python -m pip list --disable-pip-version-check 2>/dev/null | grep -Ei '^(dynatroni|patroni|psycopg|pytest|boto3) '"

  phase "$suite: smoke" "import dynatroni._core; dynatroni --version"
  "$CHROOT" run "$suite" -- sh -c '
    set -e
    /opt/venv/bin/python -c "import dynatroni._core, dynatroni; print(\"import dynatroni._core:\", dynatroni.__version__)"
    /opt/venv/bin/dynatroni --version
    bin=$(ls /opt/venv/lib/python3*/site-packages/dynatroni.scripts/dynatroni 2>/dev/null || echo /opt/venv/bin/dynatroni)
    echo "ldd $bin:"; ldd "$bin"'

  phase "$suite: tests" "python/tests/test_plugin_conformance.py (moto + dynalite on the host's loopback)"
  "$CHROOT" run "$suite" --ro-bind "$REPO:/src" --cwd /src -- env DYNATRONI_TEST_ENDPOINTS="$DYNATRONI_TEST_ENDPOINTS" \
    PYTHONDONTWRITEBYTECODE=1 /opt/venv/bin/python -m pytest -q -p no:cacheprovider python/tests/test_plugin_conformance.py
  phase ""
}

failed=()
phase licenses "packaging/wheels/check-licenses.sh: the bundled components' licence texts in each wheel"
"$REPO/packaging/wheels/check-licenses.sh" "$WHEELS"/dynatroni-*.whl || failed+=(licenses)
phase needs "packaging/wheels/check-needs.sh: the libraries each wheel needs are those docs/install.md names"
"$REPO/packaging/wheels/check-needs.sh" "$WHEELS"/dynatroni-*.whl || failed+=(needs)
phase ""
for suite in $SUITES; do
  # Not in an if/|| (errexit would be off inside): the subshell stops at its first failing command.
  set +e
  (set -e; check_suite "$suite")
  rc=$?
  set -e
  if [[ $rc != 0 ]]; then
    failed+=("$suite")
    echo "[wheels-check] $suite: FAILED in the phase above"
  fi
  PHASE="" # the subshell's last phase ended with it
done
printf '[wheels-check] total %d s\n' $(($(date +%s) - T0))
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "[wheels-check] FAILED: ${failed[*]}"
  exit 1
fi
echo "[wheels-check] passed: $SUITES"
