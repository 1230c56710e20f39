#!/usr/bin/env bash
# tools/build_deb.sh WHEEL OUTDIR: builds OUTDIR/dynatroni_<version>_<arch>.deb for Debian's own Patroni from a
# py3-none wheel of this machine's platform (`make deb` passes the one `make python-install` built).
#
# Debian's patroni package lives in /usr/lib/python3/dist-packages, so the package installs there what the wheel
# installs beside Patroni in a virtualenv (docs/install.md): our `dynatroni` package, `dynatroni-patroni.pth` and
# `patroni/dcs/dynamodb.py`, plus the `dynatroni` command in /usr/bin and the docs in /usr/share/doc/dynatroni.
# Dpkg tooling only (dpkg-dev): dpkg-shlibdeps computes the shared-library Depends of the compiled files,
# dpkg-gencontrol writes DEBIAN/control from packaging/deb/control and packaging/deb/changelog, dpkg-deb builds.
set -euo pipefail

die() { echo "build_deb: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: tools/build_deb.sh WHEEL OUTDIR"
wheel=$(realpath "$1")
out=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
src=$repo/packaging/deb
python=/usr/bin/python3

for tool in dpkg-shlibdeps dpkg-gencontrol dpkg-parsechangelog dpkg-deb; do
  command -v "$tool" >/dev/null || die "$tool is missing: apt-get install dpkg-dev (make deps)"
done
[ -f "$wheel" ] || die "$1: no such wheel (make python-install builds one into build-python/wheel/)"
version=$(cat "$repo/VERSION")
debversion=$(dpkg-parsechangelog -l "$src/changelog" -S Version)
[ "${debversion%-*}" = "$version" ] ||
  die "packaging/deb/changelog's newest entry is $debversion but VERSION is $version: add an entry for $version-1 (dch -c packaging/deb/changelog -v $version-1)"
case "$(basename "$wheel")" in
  "dynatroni-$version-"*.whl) ;;
  *) die "$(basename "$wheel") is not a wheel of dynatroni $version (VERSION)" ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/debian" "$work/wheel"
cp "$src/control" "$src/changelog" "$work/debian/"
$python -m zipfile -e "$wheel" "$work/wheel"
w=$work/wheel

# The C++ core is a shared library with a C ABI (loaded with ctypes), not a CPython extension: any Python 3 from
# the wheel's Requires-Python on runs it.
core=libdynatroni_capi.so
[ -f "$w/dynatroni/$core" ] || die "the wheel has no dynatroni/$core"
pymin=$(sed -n 's/^Requires-Python: >=\([0-9.]*\)$/\1/p' "$w/dynatroni-$version.dist-info/METADATA")
[ -n "$pymin" ] || die "the wheel's METADATA has no Requires-Python: >=X.Y"

root=$work/debian/dynatroni
site=$root/usr/lib/python3/dist-packages
doc=$root/usr/share/doc/dynatroni
install -d "$site/patroni/dcs" "$site/dynatroni-$version.dist-info" "$root/usr/bin" "$doc/docs/systemd" "$root/DEBIAN"
cp -r "$w/dynatroni" "$site/"
install -m644 "$w/patroni/dcs/dynamodb.py" "$site/patroni/dcs/dynamodb.py"
install -m644 "$w/dynatroni-patroni.pth" "$site/dynatroni-patroni.pth"
# importlib.metadata finds the version; no RECORD, so pip leaves the files to dpkg.
install -m644 "$w/dynatroni-$version.dist-info/"{METADATA,WHEEL,entry_points.txt} "$site/dynatroni-$version.dist-info/"
install -m755 "$w/dynatroni-$version.data/scripts/dynatroni" "$root/usr/bin/dynatroni"

install -m644 "$src/copyright" "$doc/copyright"
gzip -9nc "$src/changelog" >"$doc/changelog.Debian.gz"
gzip -9nc "$repo/CHANGELOG.md" >"$doc/changelog.gz"
install -m644 "$repo/README.md" "$doc/README.md"
install -m644 "$repo"/docs/*.md "$doc/docs/"
install -m644 "$repo"/docs/systemd/*.service "$doc/docs/systemd/"
# Debian policy 12.3: documentation over 4 KB is compressed with gzip -9n.
find "$doc" -type f -size +4k ! -name '*.gz' ! -name copyright -exec gzip -9n {} +

find "$root" -type d -exec chmod 755 {} +
find "$root" -type f -exec chmod 644 {} +
chmod 755 "$root/usr/bin/dynatroni"
install -m755 "$src/postinst" "$src/prerm" "$root/DEBIAN/"

cd "$work"
dpkg-shlibdeps -Tdebian/dynatroni.substvars "$root/usr/bin/dynatroni" "$site/dynatroni/$core"
dpkg-gencontrol -pdynatroni -ldebian/changelog -cdebian/control -fdebian/files -Tdebian/dynatroni.substvars \
  -Pdebian/dynatroni "-Vpython3:Depends=python3 (>= $pymin~)"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs md5sum >DEBIAN/md5sums)
chmod 644 "$root/DEBIAN/md5sums"
cd - >/dev/null
mkdir -p "$out"
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$src/changelog" -S Timestamp) \
  dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
deb="$out/dynatroni_${debversion}_$(dpkg-architecture -qDEB_HOST_ARCH).deb"
[ -f "$deb" ] || die "dpkg-deb did not write $deb"
echo "$deb"
