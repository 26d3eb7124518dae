"""Compile one BPF C file into an object with clang (`-target bpf -O2 -g`), as a BPF build does.

The user's own flags come in as a build takes them: include directories (-I), defines (-D),
and compiler flags that replace our defaults `-O2 -g` (`--cflags`, else `$VDOCTOR_CFLAGS`);
`-target bpf`, the `__TARGET_ARCH_<arch>` define and the include of allocator_c/ stay. A
`compile_commands.json` beside or above the source adds the -I/-D/-O/-g/-m flags recorded
for it. A program that includes `vmlinux.h` with none on the include path gets one made from
the target kernel's BTF (`bpftool btf dump ... format c`: the running kernel's
/sys/kernel/btf/vmlinux, or the .BTF of the vmlinux inside a QEMU kernel's image), cached
under the vdoctor cache directory (`vmlinux/<release>-<size>/vmlinux.h`).
An object file (ELF) is taken as it is.
"""

from __future__ import annotations

import os
import platform
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import BuildFailed
from ..resources import allocator_dir

COMPILE_TIMEOUT_S = 300
DEFAULT_CFLAGS = ("-O2", "-g")
CFLAGS_ENV = "VDOCTOR_CFLAGS"
HOST_BTF = Path("/sys/kernel/btf/vmlinux")
ELF_MAGIC = b"\x7fELF"

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


@dataclass(frozen=True, slots=True)
class Built:
    """The object to load, and the compile command that made it (None: an object given as is)."""

    object: Path
    command: tuple[str, ...] | None = None
    vmlinux_h: Path | None = None  # the vmlinux.h we generated and put on the include path


def is_object_file(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == ELF_MAGIC
    except OSError:
        return False


def user_cflags(cflags: str | None) -> tuple[str, ...]:
    """The flags replacing -O2 -g: `cflags` if given, else $VDOCTOR_CFLAGS, else the defaults."""
    text = cflags if cflags is not None else os.environ.get(CFLAGS_ENV)
    if text is None:
        return DEFAULT_CFLAGS
    try:
        return tuple(shlex.split(text))
    except ValueError as error:
        where = "--cflags" if cflags is not None else f"${CFLAGS_ENV}"
        raise BuildFailed(f"{where} cannot be split into flags ({error}): {text!r}.") from None


# Flags of a compile_commands.json entry that matter to a BPF build; with their value when
# the value is the next argument.
_KEPT_PREFIXES = ("-I", "-D", "-U", "-O", "-g", "-m", "-std=", "-include", "-isystem", "-iquote")
_TAKES_VALUE = {"-I", "-D", "-U", "-include", "-isystem", "-iquote", "-mllvm"}


def compile_commands_flags(source: Path) -> tuple[tuple[str, ...], Path | None]:
    """The flags a compile_commands.json beside or above `source` records for it, and the file."""
    source = source.resolve()
    for folder in source.parents:
        database = folder / "compile_commands.json"
        if not database.is_file():
            continue
        try:
            entries = json.loads(database.read_text())
        except (OSError, ValueError):
            return (), None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or "file" not in entry:
                continue
            directory = Path(entry.get("directory") or folder)
            if (directory / entry["file"]).resolve() != source:
                continue
            args = entry.get("arguments") or shlex.split(entry.get("command", ""))
            return _kept_flags(args[1:], directory), database
        return (), None
    return (), None


def _kept_flags(args: Sequence[str], directory: Path) -> tuple[str, ...]:
    kept: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg in _TAKES_VALUE and index < len(args):
            value = args[index]
            index += 1
            if arg in ("-I", "-isystem", "-iquote", "-include"):
                value = str(directory / value)
            kept += [arg, value]
        elif arg.startswith("-I") and len(arg) > 2:
            kept.append("-I" + str(directory / arg[2:]))
        elif arg.startswith(_KEPT_PREFIXES) and not arg.startswith("-MF"):
            kept.append(arg)
    return tuple(kept)


_INCLUDES_VMLINUX = re.compile(r'^\s*#\s*include\s*[<"]vmlinux\.h[>"]', re.MULTILINE)


def includes_vmlinux_h(source: Path) -> bool:
    try:
        return bool(_INCLUDES_VMLINUX.search(source.read_text(errors="replace")))
    except OSError:
        return False


def vmlinux_h_for(btf: Path, key: str) -> Path:
    """vmlinux.h made from the BTF file `btf` (a kernel's BTF or an ELF with .BTF), cached by `key`.

    Returns the folder holding it, for the include path.
    """
    from .kernels import cache_root

    folder = cache_root() / "vmlinux" / re.sub(r"[^A-Za-z0-9._-]", "_", key)
    header = folder / "vmlinux.h"
    if header.is_file():
        return folder
    bpftool = shutil.which("bpftool") or next(
        (p for p in ("/usr/sbin/bpftool", "/sbin/bpftool") if Path(p).is_file()), None)
    if bpftool is None:
        raise BuildFailed("The program includes vmlinux.h, none is on the include path, and bpftool "
                          "(which makes one from the kernel's BTF) is not installed.")
    try:
        done = subprocess.run([bpftool, "btf", "dump", "file", str(btf), "format", "c"],
                              capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as error:
        raise BuildFailed(f"bpftool could not make vmlinux.h from {btf}: {error}.") from None
    if done.returncode != 0 or "struct task_struct" not in done.stdout:
        raise BuildFailed(f"bpftool could not make vmlinux.h from {btf}: {done.stderr.strip() or 'no types'}.")
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"vmlinux.h.{os.getpid()}"
    partial.write_text(done.stdout)
    partial.replace(header)  # atomic: a parallel build sees the whole file or none
    return folder


def host_vmlinux_h() -> Path:
    """The folder of a vmlinux.h for the running kernel, from /sys/kernel/btf/vmlinux."""
    if not HOST_BTF.is_file():
        raise BuildFailed(f"The program includes vmlinux.h, none is on the include path, and the running "
                          f"kernel has no BTF ({HOST_BTF}) to make one from.")
    return vmlinux_h_for(HOST_BTF, f"host-{platform.release()}-{HOST_BTF.stat().st_size}")


# Where a bzImage's compressed payload may start, by the magic of each compression Debian used.
_PAYLOAD_MAGIC = (b"\xfd7zXZ\x00", b"(\xb5/\xfd", b"\x1f\x8b\x08")


def _decompress(data: bytes) -> bytes | None:
    """The start of what `data` holds compressed (xz, zstd or gzip), trailing bytes ignored."""
    import lzma
    import zlib

    try:
        if data.startswith(_PAYLOAD_MAGIC[0]):
            return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
        if data.startswith(_PAYLOAD_MAGIC[2]):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    except (lzma.LZMAError, zlib.error):
        return None
    if shutil.which("zstd") is None:
        return None
    # zstd decodes the frame, then stops at the bytes after it (with a non-zero status).
    done = subprocess.run(["zstd", "-dcq"], input=data, capture_output=True, timeout=COMPILE_TIMEOUT_S)
    return done.stdout or None


def kernel_elf(vmlinuz: Path) -> bytes | None:
    """The vmlinux ELF inside a bzImage (it carries the kernel's BTF in .BTF), or None."""
    image = vmlinuz.read_bytes()
    for magic in _PAYLOAD_MAGIC:
        at = image.find(magic)
        while at >= 0:
            elf = _decompress(image[at:])
            if elf and elf.startswith(ELF_MAGIC):
                return elf
            at = image.find(magic, at + 1)
    return None


def guest_vmlinux_h(version: str) -> Path:
    """The folder of a vmlinux.h for QEMU kernel `version`, from the BTF inside its image."""
    import tempfile

    from .kernels import cache_root, kernel_image

    image = kernel_image(version)
    key = f"{image.release}-{image.vmlinuz.stat().st_size}"
    cached = cache_root() / "vmlinux" / key
    if (cached / "vmlinux.h").is_file():
        return cached
    elf = kernel_elf(image.vmlinuz)
    if elf is None:
        raise BuildFailed(f"The program includes vmlinux.h, none is on the include path, and the image of "
                          f"Linux {version} could not be unpacked to read its BTF (is zstd installed?).")
    with tempfile.NamedTemporaryFile(prefix="vdoctor-vmlinux-") as unpacked:
        unpacked.write(elf)
        unpacked.flush()
        return vmlinux_h_for(Path(unpacked.name), key)


def _on_include_path(name: str, folders: Sequence[Path]) -> bool:
    return any((Path(folder) / name).is_file() for folder in folders)


def build_object(
    source: Path, out_dir: Path, cc: str | None = None, include_dirs: Sequence[Path] = (),
    defines: Sequence[str] = (), cflags: str | None = None, kernel: str = "host",
) -> Built:
    """The object for `source`: compiled with the user's flags, or `source` itself if it is one.

    A missing vmlinux.h is made from the BTF of `kernel`: "host" (the running kernel) or a
    label of kernels.SUPPORTED (the BTF inside that QEMU kernel's image).
    """
    source = Path(source)
    if not source.is_file():
        raise BuildFailed(f"{source} does not exist or is not a file.")
    if is_object_file(source):
        return Built(source)
    compiler = find_compiler(cc)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / _object_name(source)

    recorded, _ = compile_commands_flags(source)
    recorded_dirs = [Path(recorded[i + 1]) for i, flag in enumerate(recorded[:-1]) if flag == "-I"]
    recorded_dirs += [Path(flag[2:]) for flag in recorded if flag.startswith("-I") and len(flag) > 2]
    includes = [Path(folder) for folder in include_dirs] + [source.resolve().parent]
    for folder in include_dirs:
        if not Path(folder).is_dir():
            raise BuildFailed(f"The include directory {folder} (-I) does not exist.")
    generated = None
    if includes_vmlinux_h(source) and not _on_include_path("vmlinux.h", [*includes, *recorded_dirs]):
        generated = _vmlinux_h_of(kernel)
    try:
        includes.append(allocator_dir())
    except FileNotFoundError:
        pass  # an installation without the allocator still compiles programs that do not use it
    multiarch = _multiarch_include(compiler)
    if multiarch is not None:
        includes.append(multiarch)

    arch = _TARGET_ARCH.get(platform.machine())
    command = [compiler, "-target", "bpf", *user_cflags(cflags)]
    command += [f"-D__TARGET_ARCH_{arch}"] if arch else []
    command += [flag if flag.startswith("-D") else f"-D{flag}" for flag in defines]
    command += recorded
    for folder in includes:
        command += ["-I", str(folder)]
    tail = ["-c", str(source), "-o", str(output)]
    result = _compile(command + _system_include(generated) + tail, compiler, source)
    if result.returncode != 0 and generated is None and _MISSING_VMLINUX_H in result.stderr:
        # A header of the project includes vmlinux.h (the source itself does not).
        generated = _vmlinux_h_of(kernel)
        result = _compile(command + _system_include(generated) + tail, compiler, source)
    if result.returncode != 0:
        raise BuildFailed(f"{compiler} could not compile {source.name}:\n{result.stderr.rstrip()}\n"
                          f"The command was: {shlex.join(command + _system_include(generated) + tail)}")
    return Built(output, tuple(command + _system_include(generated) + tail),
                 generated and generated / "vmlinux.h")


_MISSING_VMLINUX_H = "'vmlinux.h' file not found"  # clang's words for a missing include


def _vmlinux_h_of(kernel: str) -> Path:
    return host_vmlinux_h() if kernel == "host" else guest_vmlinux_h(kernel)


def _system_include(folder: Path | None) -> list[str]:
    # A system header: bpftool's C for a newer kernel's BTF warns, and those warnings are not
    # the user's to fix.
    return [] if folder is None else ["-isystem", str(folder)]


def _compile(command: list[str], compiler: str, source: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BuildFailed(f"{compiler} did not finish compiling {source.name} within {COMPILE_TIMEOUT_S} seconds.") from None
    except OSError as error:
        raise BuildFailed(f"{compiler} could not be run: {error.strerror}.") from None


def compile_program(
    source: Path, out_dir: Path, cc: str | None = None, include_dirs: Sequence[Path] = ()
) -> Path:
    """Compile `source` into `out_dir`/<name>.o and return its path; BuildFailed on any error."""
    return build_object(source, out_dir, cc, include_dirs).object
