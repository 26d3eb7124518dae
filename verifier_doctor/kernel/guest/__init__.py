"""The guest loader: `vdoctor_guest_load.c`, built on the host into a static binary.

It runs inside the QEMU guest, where there is no libc or libbpf but the binary itself, so it is
linked statically against the system's libbpf.a, libelf.a, libz.a and libzstd.a (Debian:
libbpf-dev, libelf-dev, zlib1g-dev, libzstd-dev). Built with the host's `cc` (or `$CC`) at first
use into the cache, under a name derived from the sources and the command, so an edited source
is rebuilt and an unchanged one is not.

    loader = guest_loader()     # Path to the static binary
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from verifier_doctor.errors import KernelUnavailable
from verifier_doctor.kernel.kernels import cache_root

SOURCE = Path(__file__).with_name("vdoctor_guest_load.c")
# elfutils 0.192's libelf.a lacks its search-tree helpers (they sit in the unshipped libeu.a);
# the shim supplies them and is linked only when the plain link fails for that reason.
EU_SEARCH_SHIM = Path(__file__).with_name("eu_search_shim.c")
CFLAGS = ("-O2", "-Wall", "-static")
LIBS = ("-lbpf", "-lelf", "-lz", "-lzstd")
NAME = "vdoctor_guest_load"


def _compiler() -> list[str]:
    cc = shlex.split(os.environ.get("CC") or "cc")
    if not cc or shutil.which(cc[0]) is None:
        raise KernelUnavailable(
            f"No C compiler ({cc[0] if cc else 'cc'}) is installed to build the guest loader."
        )
    return cc


def guest_loader(cache_dir: Path | None = None) -> Path:
    """The static guest loader, built into the cache if it is not there yet."""
    cc = _compiler()
    digest = hashlib.sha256()
    for part in (*cc, *CFLAGS, *LIBS):
        digest.update(part.encode() + b"\0")
    for source in (SOURCE, EU_SEARCH_SHIM):
        digest.update(source.read_bytes())
    base = Path(cache_dir) if cache_dir is not None else cache_root() / "guest"
    binary = base / digest.hexdigest()[:16] / NAME
    if binary.is_file():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with open(binary.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.is_file():
            _build(cc, binary)
    return binary


def _build(cc: list[str], binary: Path) -> None:
    partial = binary.with_name(NAME + ".partial")
    attempts = ([str(SOURCE)], [str(SOURCE), str(EU_SEARCH_SHIM)])
    for sources in attempts:
        proc = subprocess.run(
            [*cc, *CFLAGS, "-o", str(partial), *sources, *LIBS],
            capture_output=True, text=True,
        )
        if proc.returncode == 0:
            os.replace(partial, binary)
            return
        if "eu_search_tree" not in proc.stderr:
            break
    partial.unlink(missing_ok=True)
    detail = next(
        (line for line in proc.stderr.splitlines() if "error" in line or "cannot find" in line),
        proc.stderr.strip()[-200:],
    )
    raise KernelUnavailable(
        "The guest loader did not build (static libbpf, libelf, zlib and zstd are needed:"
        f" libbpf-dev libelf-dev zlib1g-dev libzstd-dev): {detail}"
    )
