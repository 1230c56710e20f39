#!/bin/sh
# Run inside the bullseye build chroot by wheel-in-chroot.sh (x86-64) and wheel-arm64-in-chroot.sh (aarch64): the
# licence texts of what the portable wheel bundles, collected into DEST, which the wheel scripts put into the
# wheel's .dist-info/licenses/ (scikit-build-core's wheel.license-files). Nothing of it is in the git repository:
# each text comes from the Debian source or package the build used.
#
#   licenses-in-chroot.sh DEPS_PREFIX LIBCXX_ROOT DEST
#
#   DEPS_PREFIX  the static dependencies' prefix (/opt/dyn-deps, /opt/dyn-deps-arm64). Its stamp files
#                (deps-in-chroot.sh, deps-arm64-in-chroot.sh) name the Debian source version each library was
#                built from; the licence file is taken from that version's .dsc in /opt/src (dpkg-source -x, Debian's
#                patches applied), so the text is the one of the exact source tree the build used
#   LIBCXX_ROOT  where libc++-16-dev and libc++abi-16-dev are: / (installed, x86-64) or /opt/arm64-root (the arm64
#                packages unpacked with dpkg -x); their Debian copyright files
#   DEST         made anew: DEST/README.txt (what each file is and where it came from) and one directory per
#                component
#
# Boost (headers only) is the chroot's libboost1.74-dev: its Debian copyright file (Boost's licences, per file).
# The libc++ copyright refers to /usr/share/common-licenses/Apache-2.0 for the licence's full text: copied too.
# The extracted files are cached in /opt/licenses/PACKAGE_VERSION/ (one per Debian source version).
set -e
[ $# = 3 ] || { echo "usage: licenses-in-chroot.sh DEPS_PREFIX LIBCXX_ROOT DEST" >&2; exit 2; }
P=$1
R=${2%/}
DEST=$3
CACHE=/opt/licenses

# from_source STAMP PACKAGE FILE DIR SPDX: FILE of the Debian source PACKAGE at the version STAMP's stamp names,
# into DEST/DIR/FILE.
from_source() {
  stamp=$P/.stamp-$1
  [ -f "$stamp" ] || { echo "licenses: no $stamp (the deps phase writes it)" >&2; exit 1; }
  version=""
  # shellcheck disable=SC2013  # words, not lines: the stamp's first word that is a version with a .dsc in /opt/src
  for w in $(cat "$stamp"); do
    [ -f "/opt/src/$2_${w#*:}.dsc" ] && { version=$w; break; }
  done
  [ -n "$version" ] || { echo "licenses: $stamp names no version of $2 with a .dsc in /opt/src" >&2; exit 1; }
  cached=$CACHE/$2_${version#*:}/$3
  if [ ! -s "$cached" ]; then
    tmp=$CACHE/tmp-$2
    rm -rf "$tmp"
    mkdir -p "$CACHE"
    dpkg-source --no-check -x "/opt/src/$2_${version#*:}.dsc" "$tmp" >/dev/null
    [ -s "$tmp/$3" ] || { echo "licenses: no $3 in the source of $2 $version" >&2; exit 1; }
    mkdir -p "$(dirname "$cached")"
    cp "$tmp/$3" "$cached"
    rm -rf "$tmp"
  fi
  mkdir -p "$DEST/$4"
  cp "$cached" "$DEST/$4/$3"
  echo "$4/$3: $5; $3 of the Debian source $2 $version" >>"$DEST/README.txt"
}

# from_file PATH DIR NAME SPDX WHAT: a file of the chroot (or of LIBCXX_ROOT), into DEST/DIR/NAME.
from_file() {
  [ -s "$1" ] || { echo "licenses: $1 missing" >&2; exit 1; }
  mkdir -p "$DEST/$2"
  cp "$1" "$DEST/$2/$3"
  echo "$2/$3: $4; $5" >>"$DEST/README.txt"
}

# pkg_version PACKAGE: its version in the chroot's dpkg database ("" for the unpacked arm64 packages).
pkg_version() { if [ -z "$R" ]; then dpkg-query -W -f='${Version}' "$1"; fi; }

rm -rf "$DEST"
mkdir -p "$DEST"
cat >"$DEST/README.txt" <<EOF
The dynatroni wheel's core library and command link these statically (C++ runtime, OpenSSL, curl, yaml-cpp) or
compile their headers in (nlohmann-json, Boost). Their licence texts, one directory each (SPDX identifier; source):

EOF
from_source openssl openssl LICENSE.txt openssl "Apache-2.0"
from_source curl curl COPYING curl "curl"
from_source yaml-cpp yaml-cpp LICENSE yaml-cpp "MIT"
from_source nlohmann nlohmann-json3 LICENSE.MIT nlohmann-json "MIT"
v=$(pkg_version libc++-16-dev)
from_file "$R/usr/share/doc/libc++-16-dev/copyright" libcxx copyright "Apache-2.0 WITH LLVM-exception" \
  "Debian's copyright file of libc++-16-dev${v:+ $v}${R:+ (from $R)}"
v=$(pkg_version libc++abi-16-dev)
from_file "$R/usr/share/doc/libc++abi-16-dev/copyright" libcxxabi copyright "Apache-2.0 WITH LLVM-exception" \
  "Debian's copyright file of libc++abi-16-dev${v:+ $v}${R:+ (from $R)}"
from_file /usr/share/common-licenses/Apache-2.0 libcxx Apache-2.0 "Apache-2.0" \
  "the full text libcxx/copyright and libcxxabi/copyright refer to (Debian's /usr/share/common-licenses/Apache-2.0)"
from_file /usr/share/doc/libboost1.74-dev/copyright boost copyright "BSL-1.0 (and the other licences it lists)" \
  "Debian's copyright file of libboost1.74-dev $(dpkg-query -W -f='${Version}' libboost1.74-dev)"
echo "licenses: $(find "$DEST" -type f | wc -l) files into $DEST"
