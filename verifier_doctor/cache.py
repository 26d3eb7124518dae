"""The user's vdoctor cache: kernels, guests, and what start-up would otherwise rebuild.

`$VDOCTOR_CACHE`, else `${XDG_CACHE_HOME:-~/.cache}/vdoctor`. What `kept` stores there is
derived data (the message table, the compiled parser): deleting it costs one slower run.
"""

from __future__ import annotations

import marshal
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cache_root() -> Path:
    """The vdoctor cache directory: `$VDOCTOR_CACHE`, else `${XDG_CACHE_HOME:-~/.cache}/vdoctor`."""
    explicit = os.environ.get("VDOCTOR_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "vdoctor"


def files_stamp(paths) -> str:
    """What a cached value made from these files depends on: each one's name, size and
    modification time (a missing file is left out)."""
    stamps = []
    for path in map(str, paths):
        try:
            found = os.stat(path)
        except OSError:
            continue
        stamps.append(f"{path}:{found.st_size}.{found.st_mtime_ns}")
    return ",".join(stamps)


def kept(name: str, stamp: str, build: Callable[[], Any]) -> Any:
    """`build()`'s value (anything marshal stores: plain data or a code object), kept in the
    cache under `name` and `stamp` (what the value depends on) and loaded from there (a few
    ms) until the stamp changes. An unreadable entry is built again; an unwritable cache
    (a read-only home) only means building it each time."""
    path = cache_root() / f"{name}-{zlib.crc32(stamp.encode()):08x}.marshal"
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(marshal.dumps(value))
        os.replace(partial, path)
    except OSError:
        pass
    return value
