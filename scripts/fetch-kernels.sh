#!/usr/bin/env bash
# Fetches the Debian kernels of the QEMU matrix into the cache and builds the guest loader,
# so that a later `vdoctor try --kernel all` or `pytest -m qemu` needs no network.
#
#     scripts/fetch-kernels.sh                 # every kernel in SUPPORTED
#     scripts/fetch-kernels.sh 6.1 7.2         # just these
#     scripts/fetch-kernels.sh --refresh       # ask the suites again for their newest images
#
# Cache: $VDOCTOR_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/vdoctor (see kernel/kernels.py).
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
[ -x "$python" ] || python=python3
exec "$python" - "$@" <<'PY'
import sys

from verifier_doctor.errors import VdoctorError
from verifier_doctor.kernel.guest import guest_loader
from verifier_doctor.kernel.kernels import SUPPORTED, kernel_image

args = sys.argv[1:]
refresh = "--refresh" in args
versions = [a for a in args if a != "--refresh"] or list(SUPPORTED)
failed = 0
try:
    print(f"guest loader: {guest_loader()}")
except VdoctorError as error:
    print(f"guest loader: {error}", file=sys.stderr)
    failed = 1
for version in versions:
    try:
        image = kernel_image(version, refresh=refresh)
        print(f"{version}: {image.release} {image.vmlinuz}")
    except VdoctorError as error:
        print(f"{version}: {error}", file=sys.stderr)
        failed = 1
sys.exit(failed)
PY
