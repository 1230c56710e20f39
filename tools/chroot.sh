#!/usr/bin/env bash
# tools/chroot.sh - cached Debian minbase chroots for building and checking portable wheels (issue #20 part 2).
#
# Usage (as root; needs debootstrap, util-linux's unshare):
#   tools/chroot.sh create SUITE [ARCH]          debootstrap SUITE (bullseye|bookworm|trixie) for ARCH (default: the
#                                                host's, e.g. amd64) into $CHROOT_CACHE/SUITE-ARCH, only if it is missing
#   tools/chroot.sh run SUITE[-ARCH] [--bind HOST[:GUEST]]... [--ro-bind HOST[:GUEST]]... [--cwd DIR] -- CMD [ARG]...
#                                                run CMD inside (create first if missing), with /proc, /sys, /dev,
#                                                /dev/pts and /tmp mounted; exits with CMD's status
#   tools/chroot.sh apt SUITE[-ARCH] PKG...      apt-get update (at most once an hour) + install PKG... inside
#   tools/chroot.sh path SUITE[-ARCH]            print the chroot's directory
#   tools/chroot.sh list                         the cached chroots, their size and debootstrap time
#   tools/chroot.sh remove SUITE[-ARCH]          delete a cached chroot
#
# Environment:
#   CHROOT_CACHE    cache directory (default /var/cache/dynatroni/chroots)
#   CHROOT_MIRROR   Debian mirror (default: the first Debian URI in /etc/apt/sources.list*, i.e. the one this
#                   machine's apt uses; security updates from its "-security" URI when there is one)
#   CHROOT_INCLUDE  extra packages for debootstrap --include (comma separated)
#   CHROOT_DEB_SRC  1 at create: also write deb-src lines into the chroot's sources.list (for `apt-get source`)
#   HOST_CA_BUNDLE  CA bundle copied into the chroot as /etc/ssl/dynatroni-host-ca.crt for pip, curl and Python's
#                   ssl (SSL_CERT_FILE, PIP_CERT, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE; default the host's bundle)
#
# Safety: every mount is made in a private mount namespace (unshare --mount --propagation private), so the
# mounts vanish with the command even if it is killed with SIGKILL, and they never show on the host; an EXIT
# trap unmounts them as well, in reverse order. `create` holds an exclusive flock on SUITE-ARCH.lock and builds
# into a temporary directory that is renamed only on success, so an interrupted debootstrap never leaves a
# half-built chroot in the cache. `run` holds a shared flock, so `remove` and `create` never pull a chroot
# from under a running command. A foreign ARCH (e.g. arm64 on amd64) is created with --foreign and finished
# with qemu-<arch>-static, which needs a binfmt_misc handler for the chroot's own binaries (dpkg and the maintainer
# scripts exec them): without one `create` stops at once; cross-build from a native chroot with multiarch :arm64
# packages instead and run the results with qemu-aarch64-static -L (docs/install.md).
set -euo pipefail

CHROOT_CACHE=${CHROOT_CACHE:-/var/cache/dynatroni/chroots}
HOST_CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
SUPPORTED_SUITES="bullseye bookworm trixie"

die() { echo "chroot.sh: $*" >&2; exit 2; }
log() { echo "chroot.sh: $*" >&2; }

host_arch() { dpkg --print-architecture 2>/dev/null || echo amd64; }

# "bullseye" or "bullseye-arm64" -> SUITE ARCH
parse_name() {
  local name=$1 suite arch
  suite=${name%%-*}
  if [[ $name == *-* ]]; then arch=${name#*-}; else arch=${2:-$(host_arch)}; fi
  [[ " $SUPPORTED_SUITES " == *" $suite "* ]] || die "unsupported suite '$suite' (one of: $SUPPORTED_SUITES)"
  [[ $arch =~ ^[a-z0-9]+$ ]] || die "bad architecture '$arch'"
  echo "$suite $arch"
}

# The URIs this machine's apt uses, from one-line (.list) and deb822 (.sources) files: prints "MAIN SECURITY".
detect_mirrors() {
  local main="" security="" f line uri suites
  # Only Debian's own suites count (not, e.g., a vendor's "cloud-sdk-bookworm").
  local codenames='(buster|bullseye|bookworm|trixie|forky|sid|oldoldstable|oldstable|stable|testing|unstable)'
  classify() {
    if [[ $2 =~ ^${codenames}-security$ || $2 =~ ^${codenames}/updates$ ]]; then [[ -n $security ]] || security=$1
    elif [[ $2 =~ ^${codenames}(-updates)?$ ]]; then [[ -n $main ]] || main=$1
    fi
  }
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  for f in "${files[@]}"; do
    [[ -r $f ]] || continue
    if [[ $f == *.sources ]]; then
      # deb822: pair each stanza's URIs with its Suites.
      while IFS=$'\t' read -r uri suites; do
        [[ $uri == http* ]] || continue
        classify "$uri" "${suites%% *}"
      done < <(awk 'BEGIN{RS="";FS="\n"} {u="";s="";t=""; for(i=1;i<=NF;i++){
                 if($i~/^Types:/)t=$i; if($i~/^URIs:/){u=$i;sub(/^URIs:[ \t]*/,"",u)}
                 if($i~/^Suites:/){s=$i;sub(/^Suites:[ \t]*/,"",s)}}
                 if(t~/[ \t]deb([ \t]|$)/){split(u,a,/[ \t]+/); print a[1] "\t" s}}' "$f")
    else
      while read -r line; do
        line=${line%%#*}
        [[ $line =~ ^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?(http[^[:space:]]+)[[:space:]]+([^[:space:]]+) ]] || continue
        classify "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}"
      done <"$f"
    fi
  done
  main=${CHROOT_MIRROR:-${main:-http://deb.debian.org/debian}}
  echo "${main%/} ${security%/}"
}

chroot_dir() { echo "$CHROOT_CACHE/$1-$2"; }

write_sources() {
  local dir=$1 suite=$2 main=$3 security=$4 types="deb"
  [[ ${CHROOT_DEB_SRC:-0} == 1 ]] && types="deb deb-src"
  {
    echo "# written by tools/chroot.sh"
    local t
    for t in $types; do
      echo "$t $main $suite main"
      echo "$t $main $suite-updates main"
      [[ -n $security ]] && echo "$t $security $suite-security main"
    done
  } >"$dir/etc/apt/sources.list"
}

cmd_create() {
  local suite arch dir start main security keyring tmp
  read -r suite arch < <(parse_name "$@")
  dir=$(chroot_dir "$suite" "$arch")
  mkdir -p "$CHROOT_CACHE"
  exec 9>"$dir.lock"
  flock 9
  if [[ -f $dir/.dynatroni-chroot ]]; then log "$suite-$arch: cached in $dir"; return 0; fi
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
  if [[ $arch != "$(host_arch)" ]]; then
    # Without a binfmt_misc handler the kernel cannot exec the chroot's own binaries, which the second stage
    # (dpkg, maintainer scripts) does all the time: "Exec format error". Say so before downloading anything.
    [[ -e /proc/sys/fs/binfmt_misc/qemu-$(qemu_arch "$arch") ]] ||
      die "no binfmt_misc handler for $arch on this host: a $arch chroot cannot be finished here; cross-build" \
        "from a native chroot instead (dpkg --add-architecture $arch, crossbuild-essential-$arch) and run" \
        "the results with qemu-$(qemu_arch "$arch")-static -L"
  fi
  read -r main security < <(detect_mirrors)
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  tmp=$(mktemp -d "$dir.tmp.XXXXXX")
  CREATE_TMP=$tmp
  # On failure or interruption, the half-built tree goes away (it is never mounted into: debootstrap
  # mounts /proc and /sys itself and unmounts them, the trap makes sure).
  trap 'umount -R "$CREATE_TMP/proc" "$CREATE_TMP/sys" 2>/dev/null || true; rm -rf --one-file-system "$CREATE_TMP"' EXIT
  trap 'exit 130' INT TERM
  log "$suite-$arch: debootstrap --variant=minbase from $main into $tmp"
  start=$(date +%s)
  local opts=(--variant=minbase --arch="$arch" --keyring="$keyring" --include="ca-certificates${CHROOT_INCLUDE:+,$CHROOT_INCLUDE}")
  if [[ $arch == "$(host_arch)" ]]; then
    debootstrap "${opts[@]}" "$suite" "$tmp" "$main" >&2
  else
    local qemu
    qemu=$(qemu_for "$arch")
    debootstrap --foreign "${opts[@]}" "$suite" "$tmp" "$main" >&2
    install -m 0755 "$qemu" "$tmp/usr/bin/"
    chroot "$tmp" "/usr/bin/$(basename "$qemu")" /bin/sh /debootstrap/debootstrap --second-stage >&2
  fi
  write_sources "$tmp" "$suite" "$main" "$security"
  # Packages only: no docs, no man pages, no recommends, keep .debs out of the cache.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$tmp/etc/apt/apt.conf.d/90dynatroni"
  printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\n' \
    >"$tmp/etc/dpkg/dpkg.cfg.d/90dynatroni-nodoc"
  rm -f "$tmp"/var/cache/apt/archives/*.deb
  printf 'suite=%s\narch=%s\nmirror=%s\ncreated=%s\ndebootstrap_seconds=%s\n' \
    "$suite" "$arch" "$main" "$(date -u +%FT%TZ)" "$(($(date +%s) - start))" >"$tmp/.dynatroni-chroot"
  mv -T "$tmp" "$dir"
  trap - EXIT
  log "$suite-$arch: ready in $dir ($(($(date +%s) - start)) s)"
}

qemu_arch() {
  case $1 in arm64) echo aarch64 ;; armhf) echo arm ;; ppc64el) echo ppc64le ;; *) echo "$1" ;; esac
}

qemu_for() {
  local qarch
  qarch=$(qemu_arch "$1")
  command -v "qemu-$qarch-static" || die "qemu-$qarch-static not found (apt-get install qemu-user-static)"
}

# Inside the private mount namespace: mount, chroot, run, unmount (trap). Arguments: DIR CWD NBINDS
# {SRC DST RO}... -- CMD...
cmd__inner() {
  local dir=$1 cwd=$2 n=$3; shift 3
  local mounted=()
  cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  }
  trap cleanup EXIT
  mnt() { mount "$@"; mounted+=("${@: -1}"); }
  mnt -t proc proc "$dir/proc"
  mnt -t sysfs -o ro sysfs "$dir/sys"
  mnt --rbind /dev "$dir/dev"
  mount --make-rslave "$dir/dev"
  mnt -t tmpfs -o mode=1777 tmpfs "$dir/tmp"
  [[ -e /etc/resolv.conf ]] && { cp -L /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true; }
  # The host's CA bundle (it may hold a local CA that the way to PyPI needs), beside the chroot's own bundle
  # rather than over it, so that the chroot's ca-certificates package stays as Debian ships it.
  local ca_env=()
  if [[ -r $HOST_CA_BUNDLE ]]; then
    cp -L "$HOST_CA_BUNDLE" "$dir/etc/ssl/dynatroni-host-ca.crt"
    local v
    for v in SSL_CERT_FILE PIP_CERT REQUESTS_CA_BUNDLE CURL_CA_BUNDLE; do ca_env+=("$v=/etc/ssl/dynatroni-host-ca.crt"); done
  fi
  local i src dst ro
  for ((i = 0; i < n; i++)); do
    src=$1 dst=$2 ro=$3; shift 3
    mkdir -p "$dir$dst"
    mnt --bind "$src" "$dir$dst"
    [[ $ro == 1 ]] && mount -o remount,bind,ro "$dir$dst"
  done
  [[ $1 == -- ]] && shift
  # In the background + wait, so that a TERM/INT/HUP sent to this script reaches the command at once
  # (bash runs traps only between foreground commands) and the mounts go when it has ended.
  env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${ca_env[@]}" \
    chroot "$dir" /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$cwd" "$@" <&0 &
  local child=$! status=0
  trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
  while :; do
    wait "$child" && status=0 || status=$?
    kill -0 "$child" 2>/dev/null || break  # a trapped signal interrupted wait: wait again
  done
  exit "$status"
}

cmd_run() {
  [[ $# -ge 1 ]] || die "run: SUITE[-ARCH] missing"
  local suite arch dir cwd=/ binds=() n=0
  read -r suite arch < <(parse_name "$1"); shift
  dir=$(chroot_dir "$suite" "$arch")
  while [[ $# -gt 0 && $1 != -- ]]; do
    case $1 in
      --bind | --ro-bind)
        local spec=$2 src dst ro=0
        [[ $1 == --ro-bind ]] && ro=1
        src=${spec%%:*}; dst=${spec#*:}; [[ $spec == *:* ]] || dst=$src
        src=$(realpath "$src"); [[ -d $src ]] || die "bind source $src is not a directory"
        binds+=("$src" "$dst" "$ro"); n=$((n + 1)); shift 2 ;;
      --cwd) cwd=$2; shift 2 ;;
      *) die "run: unknown option $1" ;;
    esac
  done
  [[ ${1:-} == -- ]] && shift
  [[ $# -ge 1 ]] || die "run: no command"
  [[ -f $dir/.dynatroni-chroot ]] || cmd_create "$suite" "$arch"
  exec 9>"$dir.lock"
  flock -s 9
  # The foreign-architecture case: the chroot's qemu-*-static runs its binaries only with binfmt_misc.
  exec unshare --mount --propagation private -- "$0" __inner "$dir" "$cwd" "$n" "${binds[@]}" -- "$@"
}

cmd_apt() {
  [[ $# -ge 2 ]] || die "apt: SUITE[-ARCH] PKG... expected"
  local name=$1; shift
  local stamp
  stamp="$(cmd_path "$name")/var/lib/apt/.dynatroni-updated"
  local update="apt-get update -q"
  if [[ -f $stamp && $(($(date +%s) - $(stat -c %Y "$stamp"))) -lt 3600 ]]; then update=true; fi
  cmd_run "$name" -- /bin/sh -c "$update && touch /var/lib/apt/.dynatroni-updated && apt-get install -y -q --no-install-recommends \"\$@\"" sh "$@"
}

cmd_path() {
  local suite arch
  read -r suite arch < <(parse_name "$@")
  chroot_dir "$suite" "$arch"
}

cmd_list() {
  local m
  for m in "$CHROOT_CACHE"/*/.dynatroni-chroot; do
    [[ -f $m ]] || continue
    local d=${m%/.dynatroni-chroot}
    printf '%-16s %6s  %s\n' "$(basename "$d")" "$(du -sh --one-file-system "$d" 2>/dev/null | cut -f1)" \
      "$(tr '\n' ' ' <"$m")"
  done
}

cmd_remove() {
  local suite arch dir
  read -r suite arch < <(parse_name "$@")
  dir=$(chroot_dir "$suite" "$arch")
  [[ -d $dir ]] || { log "$suite-$arch: not cached"; return 0; }
  exec 9>"$dir.lock"
  flock -n 9 || die "$suite-$arch is in use"
  # Never follow into a mount: refuse if anything is still mounted below (a run on this host outside a
  # private namespace, which tools/chroot.sh never does).
  if grep -q " $dir/" /proc/self/mountinfo; then die "something is mounted under $dir"; fi
  rm -rf --one-file-system "$dir"
  log "$suite-$arch: removed"
}

[[ $(id -u) == 0 ]] || die "must run as root (debootstrap, mount and chroot need it)"
case ${1:-} in
  create) shift; cmd_create "$@" ;;
  run) shift; cmd_run "$@" ;;
  apt) shift; cmd_apt "$@" ;;
  path) shift; cmd_path "$@" ;;
  list) cmd_list ;;
  remove) shift; cmd_remove "$@" ;;
  __inner) shift; cmd__inner "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
