#!/usr/bin/env bash
# `make dist-check`: the built sdist + wheel install and work outside the development virtualenv.
#
#   tools/dist_check.sh DIST_DIR [WORK_DIR]
#
# DIST_DIR holds what `python -m build` produced (one sdist, one wheel). The script
#   1. checks the sdist carries VERSION, pyproject.toml and the C++ sources, and the wheel the package, the
#      extension, the `dynatroni` binary and the two entry points;
#   2. makes a FRESH virtualenv from /usr/bin/python3 (WORK_DIR/venv), installs requirements-dev.lock (Patroni
#      4.1, pytest, boto3, moto, ... as pinned, hashes checked) and then the wheel, and checks `dynatroni --version`,
#      `dynatroni.__version__`, `patroni-dynamodb --version` and `patronictl-dynamodb --help`;
#   3. runs the plugin conformance tests (python/tests/test_plugin_conformance.py) and the package tests there;
#   4. installs the wheel the Debian way (docs/install.md): `python3 -m pip install --no-deps --target SITE`
#      with Debian's pip, and imports the plugin with Debian's Patroni 3.0.2 on PYTHONPATH=SITE.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="$(cd "${1:?usage: tools/dist_check.sh DIST_DIR [WORK_DIR]}" && pwd)"
WORK="${2:-$REPO/build-distcheck}"
SYSTEM_PYTHON="${SYSTEM_PYTHON:-/usr/bin/python3}"
VERSION="$(tr -d '[:space:]' < "$REPO/VERSION")"

say() { printf '[dist-check] %s\n' "$*"; }
fail() { printf '[dist-check] FAILED: %s\n' "$*" >&2; exit 1; }

shopt -s nullglob
wheels=("$DIST"/dynatroni-"$VERSION"-*.whl)
sdists=("$DIST"/dynatroni-"$VERSION".tar.gz)
[ ${#wheels[@]} -eq 1 ] || fail "expected one dynatroni-$VERSION-*.whl in $DIST, found ${#wheels[@]}"
[ ${#sdists[@]} -eq 1 ] || fail "expected dynatroni-$VERSION.tar.gz in $DIST"
WHEEL="${wheels[0]}"; SDIST="${sdists[0]}"
say "wheel $(basename "$WHEEL"), sdist $(basename "$SDIST")"

# 1. contents
sdist_list="$(tar -tzf "$SDIST")"
for f in VERSION pyproject.toml CMakeLists.txt README.md CHANGELOG.md dcs/dcs.cc cli/main.cc python/dynatroni/dynamodb.py; do
  grep -qx "dynatroni-$VERSION/$f" <<<"$sdist_list" || fail "sdist lacks $f"
done
grep -q "dynatroni-$VERSION/build-" <<<"$sdist_list" && fail "sdist contains a build tree"
"$SYSTEM_PYTHON" - "$WHEEL" <<'PY' || fail "wheel contents"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["dynatroni/__init__.py", "dynatroni/dynamodb.py", "dynatroni/patroni_loader.py", "dynatroni/patroni.py",
        "dynatroni/patronictl.py", "dynatroni/patroni_hook.py", "patroni/dcs/dynamodb.py", "dynatroni-patroni.pth"]
missing = [n for n in need if n not in names]
assert not missing, missing
assert "dynatroni/_core.py" in names and "dynatroni/libdynatroni_capi.so" in names, "no C++ core"
assert "-py3-none-" in sys.argv[1], "not a py3-none wheel: " + sys.argv[1]
assert any(n.endswith(".data/scripts/dynatroni") for n in names), "no dynatroni binary"
ep = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
text = zipfile.ZipFile(sys.argv[1]).read(ep).decode()
assert "patroni-dynamodb = dynatroni.patroni:main" in text and "patronictl-dynamodb = dynatroni.patronictl:main" in text, text
print("[dist-check] wheel carries the package, the C++ core, the dynatroni binary and both entry points")
PY

# 2. a fresh virtualenv
rm -rf "$WORK/venv" "$WORK/debian-site"
mkdir -p "$WORK"
"$SYSTEM_PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
say "installing requirements-dev.lock (patroni 4.1, pytest, boto3, moto, ...) and the wheel into $WORK/venv"
"$VPY" -m pip install --disable-pip-version-check --progress-bar off -q --require-hashes --no-deps \
  -r "$REPO/requirements-dev.lock"
"$VPY" -m pip install --disable-pip-version-check --progress-bar off -q --no-deps "$WHEEL"
"$VPY" -m pip check
got="$("$WORK/venv/bin/dynatroni" --version)"
[ "$got" = "dynatroni $VERSION" ] || fail "dynatroni --version printed '$got'"
say "$got"
got="$("$VPY" -c 'import dynatroni; print(dynatroni.__version__)')"
[ "$got" = "$VERSION" ] || fail "dynatroni.__version__ is '$got'"
"$WORK/venv/bin/patroni-dynamodb" --version | grep -q ' 4\.1\.' || fail "patroni-dynamodb --version"
"$WORK/venv/bin/patronictl-dynamodb" --help | grep -q 'edit-config' || fail "patronictl-dynamodb --help"
say "patroni-dynamodb and patronictl-dynamodb run"

# 3. the plugin tests against the installed wheel (the checkout's python/ is not importable from the tests)
say "running the plugin conformance and package tests in the fresh virtualenv"
(cd "$REPO" && "$VPY" -m pytest -q -p no:cacheprovider python/tests/test_plugin_conformance.py \
  python/tests/test_package.py)

# 4. the Debian way: pip install --target, Debian's Patroni 3.0.2 on the system Python
if [ -d /usr/lib/python3/dist-packages/patroni ]; then
  "$SYSTEM_PYTHON" -m pip install --disable-pip-version-check -q --no-deps --target "$WORK/debian-site" "$WHEEL"
  PYTHONPATH="$WORK/debian-site" "$SYSTEM_PYTHON" -c '
import patroni, patroni.version, dynatroni.dynamodb, dynatroni
assert patroni.__file__.startswith("/usr/lib/python3/dist-packages/"), patroni.__file__
assert patroni.version.__version__.startswith("3.0."), patroni.version.__version__
print("[dist-check] Debian Patroni", patroni.version.__version__, "loads dynatroni", dynatroni.__version__)'
  PYTHONPATH="$WORK/debian-site" "$SYSTEM_PYTHON" -m dynatroni.patroni --version | grep -q ' 3\.0\.' \
    || fail "python3 -m dynatroni.patroni --version with Debian's Patroni"
  got="$("$WORK/debian-site/bin/dynatroni" --version)"
  [ "$got" = "dynatroni $VERSION" ] || fail "--target install: dynatroni --version printed '$got'"
else
  say "Debian's patroni package is not installed: skipping the --target check"
fi
say "OK: $(basename "$WHEEL") installs and passes the plugin tests in a fresh virtualenv"
