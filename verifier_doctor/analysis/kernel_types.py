"""The kernel's map and program types by number, and the map types each helper takes, read
from verifier_doctor/data/bpf_uapi.json (made by scripts/extract_uapi_enums.py from the
kernel's include/uapi/linux/bpf.h and verifier.c; never from libbpf at run time)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

_DATA = Path(__file__).resolve().parent.parent / "data" / "bpf_uapi.json"


@cache
def _tables() -> dict:
    return json.loads(_DATA.read_text())


def map_type_name(number: int | None) -> str | None:
    """2 -> "BPF_MAP_TYPE_ARRAY"; None for a number the newest kernel does not have."""
    return None if number is None else _tables()["map_types"].get(str(number))


def prog_type_name(number: int | None) -> str | None:
    return None if number is None else _tables()["prog_types"].get(str(number))


def map_types_of_helper(helper: str | None) -> tuple[str, ...]:
    """The map types the kernel lets `helper` take ("bpf_ringbuf_output" -> RINGBUF), or ()."""
    return tuple(_tables()["helper_map_types"].get(helper or "", ()))
