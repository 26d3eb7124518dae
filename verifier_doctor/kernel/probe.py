"""What the running kernel supports, asked of the kernel itself through libbpf's probes.

A feature is decided by a probe, never by the kernel's version: a 6.18 kernel built without
BPF arenas refuses `BPF_MAP_TYPE_ARENA` like 6.1 does. libbpf names the map types
(`libbpf_bpf_map_type_str`) and creates a small map of the type (`libbpf_probe_bpf_map_type`).
"""

from __future__ import annotations

import ctypes
from functools import cache

from ..errors import KernelUnavailable
from . import libbpf

# libbpf_bpf_map_type_str() returns NULL past the last map type libbpf knows; no kernel
# has anywhere near this many.
_MAX_MAP_TYPES = 256


@cache
def _probe_lib() -> ctypes.CDLL:
    handle = libbpf.lib()
    handle.libbpf_bpf_map_type_str.restype = ctypes.c_char_p
    handle.libbpf_bpf_map_type_str.argtypes = [ctypes.c_int]
    handle.libbpf_probe_bpf_map_type.restype = ctypes.c_int
    handle.libbpf_probe_bpf_map_type.argtypes = [ctypes.c_int, ctypes.c_void_p]
    return handle


@cache
def map_type_number(name: str) -> int:
    """The uapi number of a map type by libbpf's name for it ("arena" -> 33)."""
    handle = _probe_lib()
    for number in range(_MAX_MAP_TYPES):
        known = handle.libbpf_bpf_map_type_str(number)
        if known is None:
            break
        if known.decode() == name:
            return number
    raise KernelUnavailable(f"This libbpf does not know the map type '{name}'; a newer libbpf is needed to probe it.")


def map_type_name(number: int) -> str:
    """libbpf's name of a map type's uapi number (33 -> "arena"), or "type N" past its list."""
    known = _probe_lib().libbpf_bpf_map_type_str(number)
    return known.decode() if known else f"type {number}"


@cache
def map_type_available(name: str) -> bool:
    """Whether the running kernel creates maps of this type ("arena", "ringbuf", ...)."""
    answer = _probe_lib().libbpf_probe_bpf_map_type(map_type_number(name), None)
    if answer < 0:
        raise KernelUnavailable(
            f"Probing the running kernel for the '{name}' map type failed: {libbpf.strerror(-answer)}."
        )
    return answer == 1
