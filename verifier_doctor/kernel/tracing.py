"""Collect what bpf_printk wrote while a block of code ran.

bpf_printk goes to the `bpf_trace:bpf_trace_printk` trace event (v5.10; before,
to trace_printk). We enable that event in a private tracing instance
(instances/vdoctor-<pid>-<n>), so the top-level buffer other tools read is
neither cleared nor flooded, and concurrent runs do not see each other's lines.
Without instances we fall back to the top-level `trace`, cleared before the run.
Lines are kept only when the thread that wrote them is the one that ran the
block (BPF_PROG_TEST_RUN executes the program in the caller's context).

If tracefs is missing and cannot be mounted, nothing is collected: best effort,
the caller gets an empty list rather than an error.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

_MOUNT_POINTS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
_EVENT = Path("events/bpf_trace/bpf_trace_printk/enable")
_counter = itertools.count()

# "  python3-1234  [002] ...11  812.345678: bpf_trace_printk: hello"; the
# "(tgid)" column appears when the record-tgid option is set.
_LINE = re.compile(r"^\s*.*?-(?P<pid>\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[\d+\].*?: bpf_trace_printk: (?P<text>.*)$")


def _mount_tracefs(point: Path) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.mount(b"nodev", os.fsencode(point), b"tracefs", 0, None) == 0


def tracefs_root() -> Path | None:
    """The tracefs folder, mounting tracefs at /sys/kernel/tracing if it is not mounted yet."""
    for point in _MOUNT_POINTS:
        if (point / "trace").is_file():
            return point
    if _MOUNT_POINTS[0].is_dir() and _mount_tracefs(_MOUNT_POINTS[0]) and (_MOUNT_POINTS[0] / "trace").is_file():
        return _MOUNT_POINTS[0]
    return None


def _write(path: Path, text: str) -> bool:
    try:
        path.write_text(text)
        return True
    except OSError:
        return False


def parse_trace(text: str, tid: int) -> list[str]:
    """The bpf_trace_printk messages in `text` written by thread `tid`, in order."""
    printed = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match and int(match.group("pid")) == tid:
            printed.append(match.group("text").rstrip())
    return printed


@contextmanager
def _instance(root: Path) -> Iterator[Path | None]:
    folder = root / "instances" / f"vdoctor-{os.getpid()}-{next(_counter)}"
    try:
        folder.mkdir()
    except OSError:
        yield None
        return
    try:
        yield folder if _write(folder / _EVENT, "1") else None
    finally:
        _write(folder / _EVENT, "0")
        with suppress(OSError):
            folder.rmdir()  # removing an instance frees its ring buffer


@contextmanager
def capture_printk() -> Iterator[list[str]]:
    """Yield a list that, when the block ends, holds this thread's bpf_printk lines."""
    printed: list[str] = []
    root = tracefs_root()
    if root is None:
        yield printed
        return
    tid = threading.get_native_id()
    with _instance(root) as folder:
        if folder is None:  # no instances: share the top-level buffer
            folder = root
            _write(root / "trace", "")
        yield printed
        with suppress(OSError):
            printed.extend(parse_trace((folder / "trace").read_text(errors="replace"), tid))
