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


# Messages whose numeric field is a map or program type, by the field's name (the catalogue's
# format is the message's identity across kernels).
_TYPE_FIELDS = {
    "cannot pass map_type %d into func %s#%d": ("map_type", "map"),
    "map_ptr access not supported for map type %d": ("type", "map"),
    "map type %d is misconfigured": ("type", "map"),
    "verifier bug: R%d has incorrect map type %d": ("type", "map"),
    "func %s#%d not supported for program type %d": ("type", "program"),
}


def types_in(message) -> str | None:
    """The map or program type a message gives by number, by name ("map type 27 is
    BPF_MAP_TYPE_RINGBUF."), or None."""
    found = _TYPE_FIELDS.get(message.format)
    if found is None:
        return None
    field, table = found
    number = message.number(field)
    name = map_type_name(number) if table == "map" else prog_type_name(number)
    return None if name is None else f"{table} type {number} is {name}."


def map_type_action(helper: str | None, given: str | None = None) -> str | None:
    """What to change when a helper got a map of the wrong type: the map's declaration."""
    wanted = map_types_of_helper(helper)
    if not wanted:
        return None
    now = f" (it is {given})" if given else ""
    return f"declare the map passed to {helper} as {' or '.join(wanted)}{now}"
