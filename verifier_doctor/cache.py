"""The user's vdoctor cache: kernels, guests, and what start-up would otherwise rebuild.

`$VDOCTOR_CACHE`, else `${XDG_CACHE_HOME:-~/.cache}/vdoctor`. What `kept` stores there is
derived data (the message table; Lark keeps the analysed grammar in `parser.lark`): one
entry per kind, deleting it costs one slower run.
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


_NOTHING = object()


def _entry(name: str, stamp: str) -> Path:
    return cache_root() / f"{name}-{zlib.crc32(stamp.encode()):08x}.marshal"


def load(name: str, stamp: str, default: Any = None) -> Any:
    """The value stored under `name` and `stamp`, or `default` when there is none readable."""
    try:
        return marshal.loads(_entry(name, stamp).read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return default


def store(name: str, stamp: str, value: Any) -> None:
    """Keeps `value` (anything marshal stores: plain data or a code object) under `name` and
    `stamp`, whole or not at all (a parallel reader sees the old entry or the new one), and
    removes the entries of `name` it replaces: one entry per kind. An unwritable cache (a
    read-only home) only means building it again next time."""
    path = _entry(name, stamp)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(marshal.dumps(value))
        os.replace(partial, path)
    except (OSError, ValueError):
        return
    for stale in path.parent.glob(f"{name}-*.marshal"):
        if stale != path:
            try:
                stale.unlink(missing_ok=True)
            except OSError:
                pass


def kept(name: str, stamp: str, build: Callable[[], Any]) -> Any:
    """`build()`'s value, kept in the cache under `name` and `stamp` (what the value depends
    on) and loaded from there (a few ms) until the stamp changes. An unreadable entry is
    built again."""
    value = load(name, stamp, _NOTHING)
    if value is _NOTHING:
        value = build()
        store(name, stamp, value)
    return value
