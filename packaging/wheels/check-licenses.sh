#!/usr/bin/env bash
# packaging/wheels/check-licenses.sh - the licence texts of what a portable wheel bundles are in it (issue #20
# part 2; docs/install.md, "What is in the wheel"). Run by check.sh on each wheel of `make wheels`; works on the
# aarch64 wheel of `make wheels-arm64` too.
#
#   packaging/wheels/check-licenses.sh WHEEL...
#
# Each file below must be in the wheel's .dist-info/licenses/third-party/ (put there by licenses-in-chroot.sh) and
# hold the phrase beside it: its copyright holder where the file names one, so that a text cannot be left empty or
# swapped for another project's (OpenSSL 3's LICENSE.txt is the Apache-2.0 text itself, as is libcxx/Apache-2.0).
# Exit status 1 if any is missing in any wheel.
set -euo pipefail

[[ $# -gt 0 ]] || { echo "usage: packaging/wheels/check-licenses.sh WHEEL..." >&2; exit 2; }
python3 - "$@" <<'EOF'
import sys, zipfile
from pathlib import PurePosixPath

EXPECTED = {  # file under .dist-info/licenses/third-party/: a phrase of its text
    "README.txt": "Their licence texts",
    "openssl/LICENSE.txt": "Apache License",
    "curl/COPYING": "Daniel Stenberg",
    "yaml-cpp/LICENSE": "Jesse Beder",
    "nlohmann-json/LICENSE.MIT": "Niels Lohmann",
    "libcxx/copyright": "LLVM Exceptions to the Apache 2.0 License",
    "libcxxabi/copyright": "LLVM Exceptions to the Apache 2.0 License",
    "libcxx/Apache-2.0": "Apache License",
    "boost/copyright": "Upstream-Name: Boost",
}
bad = 0
for wheel in sys.argv[1:]:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        dist_info = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts[0].endswith(".dist-info")}
        if len(dist_info) != 1:
            print(f"{wheel}: {len(dist_info)} .dist-info directories")
            bad += 1
            continue
        prefix = f"{dist_info.pop()}/licenses/third-party/"
        missing = []
        for name, phrase in EXPECTED.items():
            if prefix + name not in names:
                missing.append(name)
            elif phrase.encode() not in z.read(prefix + name):
                missing.append(f"{name} (without {phrase!r})")
        extra = sorted(n[len(prefix):] for n in names
                       if n.startswith(prefix) and not n.endswith("/") and n[len(prefix):] not in EXPECTED)
        print(f"{PurePosixPath(wheel).name}: {len(EXPECTED) - len(missing)} of {len(EXPECTED)} licence files in "
              f"{prefix}" + (f"; MISSING: {', '.join(missing)}" if missing else "")
              + (f"; not checked: {', '.join(extra)}" if extra else ""))
        bad += bool(missing)
sys.exit(1 if bad else 0)
EOF
