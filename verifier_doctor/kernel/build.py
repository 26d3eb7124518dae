"""Compile one BPF C file into an object with clang (`-target bpf -O2 -g`)."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from ..errors import BuildFailed
from ..resources import allocator_dir

COMPILE_TIMEOUT_S = 300

# bpf_tracing.h picks the pt_regs layout from __TARGET_ARCH_<arch>; the names
# are the kernel's ARCH values for what platform.machine() reports.
_TARGET_ARCH = {
    "x86_64": "x86", "i686": "x86", "aarch64": "arm64", "armv7l": "arm", "s390x": "s390",
    "ppc64le": "powerpc", "riscv64": "riscv", "loongarch64": "loongarch", "mips64": "mips",
}


@cache
def _clang_major(cc: str) -> int:
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return -1
    match = re.search(r"clang version (\d+)", out)
    return int(match.group(1)) if match else -1


def _candidates() -> list[str]:
    # Versioned names (clang-19, clang-14, ...) as Debian installs them, plus plain clang.
    names = {"clang"}
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        try:
            names.update(p.name for p in Path(folder).glob("clang-[0-9]*") if p.name[6:].isdigit())
        except OSError:
            continue
    return sorted(n for n in names if shutil.which(n))


def find_compiler(preferred: str | None = None) -> str:
    """The compiler to use: `preferred` if given, else the newest clang on PATH."""
    if preferred:
        if shutil.which(preferred) is None:
            raise BuildFailed(f"The compiler {preferred} is not on PATH.")
        return preferred
    found = _candidates()
    if not found:
        raise BuildFailed("No clang is on PATH; install clang (version 14 or newer) to compile BPF programs.")
    # Newest by reported version; on a tie the versioned name is as good as "clang".
    return max(found, key=_clang_major)


@cache
def _multiarch_include(cc: str) -> Path | None:
    """/usr/include/<multiarch>, where Debian keeps <asm/types.h> that <linux/types.h> needs.

    clang-14 and gcc answer -print-multiarch; clang-19 dropped the option, so
    fall back to the host's machine name, which is the triplet's first part.
    """
    for probe in (cc, "cc", "gcc"):
        if shutil.which(probe) is None:
            continue
        try:
            out = subprocess.run([probe, "-print-multiarch"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        triplet = out.stdout.strip()
        if out.returncode == 0 and triplet and (Path("/usr/include") / triplet).is_dir():
            return Path("/usr/include") / triplet
    guess = Path("/usr/include") / f"{platform.machine()}-linux-gnu"
    return guess if guess.is_dir() else None


def _object_name(source: Path) -> str:
    return source.name[: -len(".c")] + ".o" if source.name.endswith(".c") else source.name + ".o"


def compile_program(
    source: Path, out_dir: Path, cc: str | None = None, include_dirs: Sequence[Path] = ()
) -> Path:
    """Compile `source` into `out_dir`/<name>.o and return its path; BuildFailed on any error."""
    source = Path(source)
    if not source.is_file():
        raise BuildFailed(f"{source} does not exist or is not a file.")
    compiler = find_compiler(cc)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / _object_name(source)

    includes = [*include_dirs, source.resolve().parent]
    try:
        includes.append(allocator_dir())
    except FileNotFoundError:
        pass  # an installation without the allocator still compiles programs that do not use it
    multiarch = _multiarch_include(compiler)
    if multiarch is not None:
        includes.append(multiarch)

    arch = _TARGET_ARCH.get(platform.machine())
    command = [compiler, "-target", "bpf", "-O2", "-g"]
    command += [f"-D__TARGET_ARCH_{arch}"] if arch else []
    for folder in includes:
        command += ["-I", str(folder)]
    command += ["-c", str(source), "-o", str(output)]

    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BuildFailed(f"{compiler} did not finish compiling {source.name} within {COMPILE_TIMEOUT_S} seconds.") from None
    except OSError as error:
        raise BuildFailed(f"{compiler} could not be run: {error.strerror}.") from None
    if result.returncode != 0:
        raise BuildFailed(f"{compiler} could not compile {source.name}:\n{result.stderr.rstrip()}")
    return output
