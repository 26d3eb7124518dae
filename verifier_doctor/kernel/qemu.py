"""Load BPF objects into another kernel: boot it under QEMU with a busybox initramfs.

One boot per kernel loads every object: the initramfs holds busybox, the static guest loader
(guest/vdoctor_guest_load.c) and the objects; its /init mounts proc, sysfs, devtmpfs and bpffs,
runs the loader and powers off. The guest's console is the first serial port (kept for
diagnosis); the loader writes its results to the second, a file on the host, so kernel messages
never land inside them. Each program's text (libbpf's lines and the verifier log, exactly as a
host load prints them) comes back zlib-compressed and base64-encoded, checked by length and CRC.

    run = load_in_guest("6.1", [Path("prog.bpf.o")])
    run.release                      # "6.1.0-40-amd64"
    run.results[Path("prog.bpf.o")]  # [ProgramLoad(name, section, accepted, log, error), ...]

With `runs=N` every accepted program is also run with BPF_PROG_TEST_RUN inside the guest, as
kernel/runner.py runs it on the host (the same 64-byte packet for packet types, `repeat` = N;
raw_tracepoint and syscall programs N times with no data; other types are not run):

    run = load_in_guest("6.1", [obj], runs=3)
    run.runs[(obj, "prog")]          # RunResult(retval, duration_ns, repeat=3, printed=[])
    run.run_errors[(obj, "other")]   # "Programs of type kprobe cannot be test-run; ..."

The guest does not collect bpf_printk output: `printed` is always empty there.

A plan per object asks for more: a first run on several CPUs at once, a run again on the used
maps, and the maps' contents after the runs (array maps at key 0; an arena as the guest
process reads it through libbpf's mmap(), with the address of that mapping):

    plan = RunPlan(runs=1000, cpus=2, again=1, dump=True)
    run = load_in_guest("6.12", [obj], plans={obj: plan})
    run.run_series[(obj, "prog")]    # [RunResult on CPU 0, on CPU 1, the run again]
    run.maps[(obj, "prog")]["static_stats"]   # GuestMap(type, address, data)

QEMU runs with TCG (no KVM); a Debian kernel boots and loads in a few seconds.
"""

from __future__ import annotations

import base64
import binascii
import errno
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from verifier_doctor.errors import KernelUnavailable, VdoctorError
from verifier_doctor.kernel.guest import guest_loader
from verifier_doctor.kernel.kernels import kernel_image
from verifier_doctor.kernel.loader import ProgramLoad
from verifier_doctor.kernel.runner import RunResult

QEMU = "qemu-system-x86_64"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
MARK = "@@VDOCTOR"
DONE = "@@VDOCTOR DONE"
MAX_RUNS = 1_000_000_000  # the guest loader's bound (BPF_PROG_TEST_RUN's repeat is an int)


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What the guest does with each accepted program of one object after loading it."""

    runs: int = 0  # BPF_PROG_TEST_RUN's repeat of the first run; 0: not run
    cpus: int = 1  # the first run on this many CPUs at once (one thread each, the guest gets as many)
    again: int = 0  # then a run again with this repeat, on the maps the first run left
    dump: bool = False  # then the object's array maps (key 0) and arenas, in GuestRun.maps


@dataclass(frozen=True, slots=True)
class GuestMap:
    """A map's contents in the guest after the runs."""

    type: int  # the map type's uapi number
    value_size: int
    address: int  # where the guest process maps an arena (its user-space pointers point there), else 0
    data: bytes  # an array's value at key 0 (per-CPU: each possible CPU's, 8-byte aligned); an arena's pages

    def per_cpu(self) -> list[bytes]:
        """A per-CPU array's value on each of the guest's possible CPUs."""
        width = (self.value_size + 7) // 8 * 8
        return [self.data[at:at + width] for at in range(0, len(self.data), width)]


@dataclass(frozen=True, slots=True)
class GuestRun:
    """What one boot of one kernel gave: its release and, per object, each program's load."""

    version: str
    release: str
    results: dict[Path, list[ProgramLoad]]
    seconds: float = 0.0  # wall time of the boot, from QEMU's start to its exit
    console: str = field(default="", repr=False)  # the guest's serial console, for diagnosis
    # With runs=N: each accepted program's test run, keyed by (object, program name). `printed`
    # is always [] (the guest does not collect bpf_printk output).
    runs: dict[tuple[Path, str], RunResult] = field(default_factory=dict)
    # ... and, for an accepted program whose run failed or whose type cannot be test-run, why,
    # in the host runner's words.
    run_errors: dict[tuple[Path, str], str] = field(default_factory=dict)
    # With a RunPlan: every run of the program in the order of the plan (one per CPU, then again).
    run_series: dict[tuple[Path, str], list[RunResult]] = field(default_factory=dict)
    # With RunPlan(dump=True): the maps by name after the runs.
    maps: dict[tuple[Path, str], dict[str, GuestMap]] = field(default_factory=dict)


MAX_CPUS = 64  # the guest loader's bound


def load_in_guest(
    version: str, objects: Sequence[Path], log_level: int = 1, timeout: float = 300,
    runs: int = 0, log_bytes: int = 0, plans: Mapping[Path, RunPlan] | None = None,
) -> GuestRun:
    """Boot kernel `version` (a label of kernels.SUPPORTED) and load every program of `objects`;
    with `runs` > 0, test-run each accepted program `runs` times; with `log_bytes`, each log goes
    to a buffer of that size (the end of a longer log is kept) instead of libbpf's; `plans`
    replaces `runs` for the objects it names."""
    if not 0 <= log_level <= 7:
        raise VdoctorError(f"The verifier log level must be 0 to 7, not {log_level}.")
    objects = [Path(o) for o in objects]
    chosen = {obj: (plans or {}).get(obj, RunPlan(runs=runs)) for obj in objects}
    for plan in chosen.values():
        for count in (plan.runs, plan.again):
            if not 0 <= count <= MAX_RUNS:
                raise VdoctorError(f"The number of test runs must be 0 to {MAX_RUNS}, not {count}.")
        if not 1 <= plan.cpus <= MAX_CPUS:
            raise VdoctorError(f"A run on {plan.cpus} CPUs at once is not possible: 1 to {MAX_CPUS}.")
    for obj in objects:
        if not obj.is_file():
            raise VdoctorError(f"The BPF object {obj} does not exist.")
    if shutil.which(QEMU) is None:
        raise KernelUnavailable(f"{QEMU} is not installed, so no other kernel can be booted.")
    image = kernel_image(version)
    loader = guest_loader()
    with tempfile.TemporaryDirectory(prefix="vdoctor-qemu-") as scratch:
        work = Path(scratch)
        initrd = work / "initrd.cpio"
        initrd.write_bytes(_initramfs(loader, objects, log_level, runs, log_bytes, chosen))
        data = work / "results.txt"
        started = time.monotonic()
        _report(version, f"booting {image.release}")
        try:
            console = _boot(image.vmlinuz, initrd, data, timeout, version,
                            max(plan.cpus for plan in chosen.values()) if chosen else 1)
        except VdoctorError as error:
            _report(version, f"failed after {time.monotonic() - started:.0f} s: {error}")
            raise
        seconds = time.monotonic() - started
        _report(version, f"done in {seconds:.0f} s")
        output = data.read_text(errors="replace") if data.exists() else ""
    parsed = _parse_output(output, objects, console, version)
    return GuestRun(version, parsed.release, parsed.results, seconds, console, parsed.runs,
                    parsed.run_errors, parsed.run_series, parsed.maps)


# Who hears of each boot's progress: a callback (kernel label, what happened), set for a
# while with `reporting()`; boots run two at a time, so it is called from several threads.
_listener: Callable[[str, str], None] | None = None


@contextmanager
def reporting(listener: Callable[[str, str], None]) -> Iterator[None]:
    """Send every guest's progress ("booting 6.1.0-50-amd64", "done in 41 s") to `listener`."""
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous


def _report(version: str, event: str) -> None:
    if _listener is not None:
        _listener(version, event)


def load_in_guests(
    versions: Sequence[str], objects: Sequence[Path], log_level: int = 1,
    timeout: float = 300, jobs: int = 2, runs: int = 0, log_bytes: int = 0,
    plans: Mapping[Path, RunPlan] | None = None,
) -> dict[str, GuestRun | VdoctorError]:
    """`load_in_guest` for several kernels, `jobs` boots at a time; a failed kernel maps to its error."""

    def one(version: str) -> GuestRun | VdoctorError:
        try:
            return load_in_guest(version, objects, log_level, timeout, runs, log_bytes, plans)
        except VdoctorError as error:
            return error

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, stopped_on_interrupt():
        return dict(zip(versions, pool.map(one, versions)))


# The QEMU processes running now. Each runs in its own session (a guest must not take the
# terminal's signals half-way through a boot), so Ctrl-C reaches only vdoctor's main thread,
# while the boots wait in other threads: stopped_on_interrupt() stops them all at once.
_guests: set[subprocess.Popen] = set()
_guests_lock = threading.Lock()
_stopping = False


@contextmanager
def stopped_on_interrupt() -> Iterator[None]:
    """Ctrl-C (KeyboardInterrupt) inside the block kills every running guest before it goes
    on, so that the threads waiting for their boots end at once, not at the boots' end; no
    guest boots after it for the rest of the process (which is ending)."""
    global _stopping
    try:
        yield
    except KeyboardInterrupt:
        with _guests_lock:
            _stopping = True
            running = list(_guests)
        for proc in running:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise


# --- the initramfs ---------------------------------------------------------------------------

_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
dmesg -n 1
echo "@@VDOCTOR BOOTED $(uname -r)"
/bin/vdoctor_guest_load {level} {log_bytes}{objects} >/dev/ttyS1 2>/dev/console
echo "@@VDOCTOR LOADER-EXIT $?"
poweroff -f
"""


def _guest_object(index: int, obj: Path) -> str:
    # One folder per object, so libbpf's lines name the file as the user knows it.
    return f"/objs/{index}/{obj.name}"


def _is_static(executable: bytes) -> bool:
    """True for an ELF64 executable without PT_INTERP: it runs with no libc in the guest."""
    if executable[:5] != b"\x7fELF\x02":
        return False
    phoff = int.from_bytes(executable[0x20:0x28], "little")
    phentsize = int.from_bytes(executable[0x36:0x38], "little")
    phnum = int.from_bytes(executable[0x38:0x3A], "little")
    return all(
        int.from_bytes(executable[phoff + i * phentsize : phoff + i * phentsize + 4], "little") != 3
        for i in range(phnum)
    )


def _plan_options(plan: RunPlan) -> str:
    return f"--runs {plan.runs} --cpus {plan.cpus} --again {plan.again} --dump {int(plan.dump)}"


def _initramfs(loader: Path, objects: Sequence[Path], log_level: int, runs: int = 0,
               log_bytes: int = 0, plans: Mapping[Path, RunPlan] | None = None) -> bytes:
    busybox = next(
        (data for p in BUSYBOX_CANDIDATES if Path(p).is_file()
         and _is_static(data := Path(p).read_bytes())),
        None,
    )
    if busybox is None:
        raise KernelUnavailable("No static busybox is installed (Debian's busybox-static package).")
    init = _INIT.format(
        level=log_level,
        log_bytes=f"--log-bytes {log_bytes} " if log_bytes else "",
        # Each object after the options of its plan (the loader keeps them until changed).
        objects=" ".join(
            f"{_plan_options((plans or {}).get(obj, RunPlan(runs=runs)))} {shlex.quote(_guest_object(i, obj))}"
            for i, obj in enumerate(objects)),
    )
    archive = _Cpio()
    for folder in ("bin", "dev", "proc", "sys", "objs", "tmp"):
        archive.directory(folder)
    # The kernel opens /dev/console for /init before devtmpfs is mounted.
    archive.node("dev/console", stat.S_IFCHR | 0o600, 5, 1)
    archive.file("init", init.encode(), 0o755)
    archive.file("bin/busybox", busybox, 0o755)
    archive.file("bin/vdoctor_guest_load", loader.read_bytes(), 0o755)
    for index, obj in enumerate(objects):
        archive.directory(f"objs/{index}")
        archive.file(_guest_object(index, obj)[1:], obj.read_bytes(), 0o644)
    return archive.finish()


class _Cpio:
    """An uncompressed "newc" cpio archive, the format the kernel unpacks as initramfs."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data),
                  0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b"070701" + b"".join(b"%08X" % value for value in fields)
        self.chunks += [header, encoded, _pad(len(header) + len(encoded)), data, _pad(len(data))]
        self.ino += 1

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, perm: int) -> None:
        self._entry(name, stat.S_IFREG | perm, data)

    def node(self, name: str, mode: int, major: int, minor: int) -> None:
        self._entry(name, mode, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self.chunks)


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


# --- the boot --------------------------------------------------------------------------------

def _boot(vmlinuz: Path, initrd: Path, data: Path, timeout: float, version: str, cpus: int = 1) -> str:
    command = [
        QEMU, "-accel", "tcg", "-m", "512M", "-smp", str(cpus), "-nographic", "-no-reboot",
        "-nic", "none",
        "-serial", "mon:stdio",  # ttyS0: the console
        "-serial", f"file:{data}",  # ttyS1: the loader's results
        "-append", "console=ttyS0 panic=-1 quiet",
        "-kernel", str(vmlinuz), "-initrd", str(initrd),
    ]
    with tempfile.TemporaryFile() as console_file:
        with _guests_lock:
            if _stopping:
                raise KernelUnavailable(f"Linux {version} was not booted: interrupted.")
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=console_file, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            _guests.add(proc)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            console_file.seek(0)
            console = _clean(console_file.read())
            raise KernelUnavailable(
                f"Linux {version} did not finish under QEMU within {timeout:g} s"
                f" (last console line: {_last_line(console)!r})."
            ) from None
        finally:
            with _guests_lock:
                _guests.discard(proc)
        console_file.seek(0)
        console = _clean(console_file.read())
    if proc.returncode != 0:
        raise KernelUnavailable(
            f"QEMU failed to boot Linux {version} (exit status {proc.returncode}:"
            f" {_last_line(console)!r})."
        )
    return console


_ESCAPES = re.compile(r"\x1b(?:\[[0-9;?]*[A-Za-z]|[A-Za-z])")  # SeaBIOS clears the screen


def _clean(raw: bytes) -> str:
    return _ESCAPES.sub("", raw.decode(errors="replace").replace("\r", ""))


def _last_line(console: str) -> str:
    lines = [line for line in console.splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else "nothing"


# --- the results -----------------------------------------------------------------------------

_BLOCK = re.compile(r"^@@VDOCTOR (OPEN|PROGRAM) (\S+(?: \S+)*)$")
_END = re.compile(r"^@@VDOCTOR END ([01]) (\d+) (\d+) ([0-9a-f]{8})$")
# <retval> <duration_ns> <repeat> <errno> <type>; extra fields a newer loader may add are ignored.
_RUN = re.compile(r"^@@VDOCTOR RUN (\d+) (\d+) (\d+) (\d+) (\S+)(?: \S+)*$")
_MAP = re.compile(r"^@@VDOCTOR MAP (\S+) (\d+) (\d+) ([0-9a-f]+)$")
ENOTSUPP = 524  # the kernel-internal "not supported" some test_run paths return


@dataclass(frozen=True, slots=True)
class _Parsed:
    release: str
    results: dict[Path, list[ProgramLoad]]
    runs: dict[tuple[Path, str], RunResult]
    run_errors: dict[tuple[Path, str], str]
    run_series: dict[tuple[Path, str], list[RunResult]] = field(default_factory=dict)
    maps: dict[tuple[Path, str], dict[str, GuestMap]] = field(default_factory=dict)


def _unescape(field_text: str) -> str:
    if field_text == "%00":
        return ""
    return re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), field_text)


def _decode_bytes(body: list[str], length: int, crc: int) -> bytes | None:
    try:
        raw = zlib.decompress(base64.b64decode("".join(body), validate=True))
    except (binascii.Error, zlib.error, ValueError):
        return None
    if len(raw) != length or zlib.crc32(raw) != crc:
        return None
    return raw


def _read_block(lines: list[str], index: int, version: str) -> tuple[bytes, re.Match, int]:
    """The block whose text starts at lines[index]: its bytes, its END line, the next index."""
    start = index
    while index < len(lines) and not lines[index].startswith(f"{MARK} END"):
        index += 1
    end = _END.match(lines[index]) if index < len(lines) else None
    raw = end and _decode_bytes(lines[start:index], int(end.group(3)), int(end.group(4), 16))
    if end is None or raw is None:
        raise KernelUnavailable(f"The results from Linux {version} under QEMU came back damaged.")
    return raw, end, index + 1


def _parse(
    output: str, objects: Sequence[Path], console: str, version: str
) -> tuple[str, dict[Path, list[ProgramLoad]]]:
    """The guest loader's output as (release, results per host object)."""
    parsed = _parse_output(output, objects, console, version)
    return parsed.release, parsed.results


def _run_error(err: int, repeat: int, type_name: str) -> str:
    """Why a guest test run failed, in the words of kernel/runner.py on the host."""
    if repeat == 0:
        return (f"Programs of type {type_name} cannot be test-run; only packet, raw_tracepoint"
                " and syscall programs can.")
    reason = "Operation not supported" if err == ENOTSUPP else os.strerror(err)
    if err in (errno.EOPNOTSUPP, ENOTSUPP, errno.EINVAL):
        return f"The kernel cannot test-run this {type_name} program ({reason})."
    return f"BPF_PROG_TEST_RUN of the {type_name} program failed: {reason}."


def _parse_output(output: str, objects: Sequence[Path], console: str, version: str) -> _Parsed:
    """The guest loader's output (see vdoctor_guest_load.c) as results per host object."""
    lines = output.replace("\r", "").splitlines()
    if DONE not in lines:
        why = "did not boot to the loader" if "@@VDOCTOR BOOTED" not in console else (
            "stopped before the loader finished")
        raise KernelUnavailable(
            f"Linux {version} under QEMU {why} (last console line: {_last_line(console)!r})."
        )
    by_guest = {_guest_object(i, obj): obj for i, obj in enumerate(objects)}
    results: dict[Path, list[ProgramLoad]] = {obj: [] for obj in objects}
    runs: dict[tuple[Path, str], RunResult] = {}
    run_errors: dict[tuple[Path, str], str] = {}
    run_series: dict[tuple[Path, str], list[RunResult]] = {}
    maps: dict[tuple[Path, str], dict[str, GuestMap]] = {}
    accepted: tuple[Path, str] | None = None  # the accepted program RUN lines and MAP blocks are about
    release = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.startswith(f"{MARK} UNAME "):
            release = _unescape(line.split(" ", 2)[2])
            continue
        if line.startswith(f"{MARK} RUN"):
            record = _RUN.match(line)
            if record is None:
                raise KernelUnavailable(
                    f"The results from Linux {version} under QEMU came back damaged."
                )
            if accepted is not None:
                retval, duration, repeat, err = (int(record.group(i)) for i in range(1, 5))
                first = accepted not in runs and accepted not in run_errors
                if err == 0 and repeat > 0:
                    result = RunResult(retval, duration, repeat, [])
                    run_series.setdefault(accepted, []).append(result)
                    if first:
                        runs[accepted] = result
                elif first:
                    run_errors[accepted] = _run_error(err, repeat, _unescape(record.group(5)))
            continue
        dumped = _MAP.match(line)
        if dumped is not None:
            raw, _, index = _read_block(lines, index, version)
            if accepted is not None:
                maps.setdefault(accepted, {})[_unescape(dumped.group(1))] = GuestMap(
                    int(dumped.group(2)), int(dumped.group(3)), int(dumped.group(4), 16), raw)
            continue
        block = _BLOCK.match(line)
        if block is None:
            continue
        raw, end, index = _read_block(lines, index, version)
        text = raw.decode(errors="replace")
        fields = [_unescape(f) for f in block.group(2).split(" ")]
        obj = by_guest.get(fields[0])
        ok, err = end.group(1) == "1", int(end.group(2))
        accepted = None
        if obj is None:
            continue
        if block.group(1) == "OPEN":
            if not ok:  # libbpf could not open the object: one entry, as loader.py gives
                results[obj] = [ProgramLoad(obj.name, "", False, text, -err)]
        elif len(fields) == 3:
            results[obj].append(ProgramLoad(fields[1], fields[2], ok, text, None if ok else -err))
            if ok:
                accepted = (obj, fields[1])
    if not release:
        raise KernelUnavailable(f"Linux {version} under QEMU did not report its release.")
    return _Parsed(release, results, runs, run_errors, run_series, maps)
