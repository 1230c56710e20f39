#!/usr/bin/env bash
# packaging/wheels/check-needs.sh - the shared libraries a portable wheel's compiled files need from the system are
# exactly those docs/install.md names (issue #20 part 4; docs/install.md, "What is in the wheel"). Run by check.sh
# on each wheel of `make wheels`; works on the aarch64 wheel of `make wheels-arm64` too.
#
#   packaging/wheels/check-needs.sh WHEEL...
#
# For each ELF file in the wheel (the core library and the `dynatroni` command), its DT_NEEDED entries
# (`readelf -d`); their union must be the set of `lib*.so*` names in the paragraph of docs/install.md that follows
# the line "<!-- wheel-needs -->", with the `ld-linux-*` loader it names for the wheel's architecture. Exit status 1
# if a wheel needs another library or fewer.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ $# -gt 0 ]] || { echo "usage: packaging/wheels/check-needs.sh WHEEL..." >&2; exit 2; }
command -v readelf >/dev/null || { echo "check-needs.sh: readelf missing (binutils)" >&2; exit 2; }
python3 - "$REPO/docs/install.md" "$@" <<'PY'
import re, subprocess, sys, tempfile, zipfile
from pathlib import Path, PurePosixPath

doc = Path(sys.argv[1]).read_text()
m = re.search(r"^<!-- wheel-needs -->\n(.+?)\n\n", doc, re.M | re.S)
if not m:
    sys.exit("docs/install.md: no paragraph after <!-- wheel-needs -->")
documented = set(re.findall(r"`((?:lib|ld-linux-)[\w+-]*\.so[.\d]*)`", m.group(1)))
LOADERS = {"x86_64": "ld-linux-x86-64.so.2", "aarch64": "ld-linux-aarch64.so.1"}  # glibc's, one per architecture
bad = 0
for wheel in sys.argv[2:]:
    arch = next((a for a in LOADERS if PurePosixPath(wheel).name.endswith(f"_{a}.whl")), None)
    expected = {n for n in documented if n not in LOADERS.values() or n == LOADERS.get(arch)}
    needed, elves = set(), []
    with zipfile.ZipFile(wheel) as z, tempfile.TemporaryDirectory() as tmp:
        for name in z.namelist():
            if z.read(name)[:4] != b"\x7fELF":
                continue
            path = Path(tmp) / PurePosixPath(name).name
            path.write_bytes(z.read(name))
            out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
            needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
            elves.append(PurePosixPath(name).name)
    extra, unused = sorted(needed - expected), sorted(expected - needed)
    print(f"{PurePosixPath(wheel).name}: {', '.join(sorted(elves))} need {' '.join(sorted(needed))}"
          + (f"; NOT IN docs/install.md: {' '.join(extra)}" if extra else "")
          + (f"; docs/install.md names {' '.join(unused)}, needed by none" if unused else ""))
    bad += bool(extra or unused or not elves)
sys.exit(1 if bad else 0)
PY
