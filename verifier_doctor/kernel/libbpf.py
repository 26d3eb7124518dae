"""A thin ctypes binding to the system's libbpf.so.1 (>= 1.4), and nothing more.

libbpf does all the loading (ELF, BTF, relocations, maps); this module only
declares the few functions the loader and runner call, and turns libbpf's
print callback into text Python can keep (`capture_prints`).
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from ..errors import KernelUnavailable

MIN_VERSION = (1, 4)

# enum libbpf_print_level
LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG = 0, 1, 2

# BTF kinds (include/uapi/linux/btf.h) used to find a global variable's section.
BTF_KIND_VAR = 14
BTF_KIND_DATASEC = 15

# Map types whose values are per CPU: a lookup returns one slot per possible CPU.
PERCPU_MAP_TYPES = frozenset({5, 6, 10, 21})  # PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE


class BpfTestRunOpts(ctypes.Structure):
    # struct bpf_test_run_opts, libbpf 1.4 (bpf.h); `sz` lets libbpf accept an
    # older or newer layout, so only the fields up to batch_size are declared.
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p),
        ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


class BtfVarSecinfo(ctypes.Structure):
    # struct btf_var_secinfo: follows a DATASEC's struct btf_type, one per variable.
    _fields_ = [("type", ctypes.c_uint32), ("offset", ctypes.c_uint32), ("size", ctypes.c_uint32)]


class BtfType(ctypes.Structure):
    # struct btf_type: name_off, info (vlen bits 0-15, kind bits 24-28), size/type.
    _fields_ = [("name_off", ctypes.c_uint32), ("info", ctypes.c_uint32), ("size", ctypes.c_uint32)]


# int (*libbpf_print_fn_t)(enum libbpf_print_level, const char *, va_list).
# On x86_64 va_list is an array type, so the callee receives a pointer; on
# aarch64 it is a 32-byte struct, which the ABI also passes by reference.
PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

# sizeof(va_list) per architecture: va_copy is a plain copy on these ABIs, which
# lets us format twice (once to measure, once to fill). Elsewhere we format once
# into a fixed buffer and accept truncation of very long messages.
_VA_LIST_SIZE = {"x86_64": 24, "aarch64": 32}.get(platform.machine())
_FALLBACK_PRINT_BUF = 1 << 24


def _declare(lib: ctypes.CDLL, name: str, restype, *argtypes) -> None:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


@cache
def lib() -> ctypes.CDLL:
    """libbpf.so.1 with the signatures we use; KernelUnavailable if absent or older than 1.4."""
    try:
        handle = ctypes.CDLL("libbpf.so.1", use_errno=True)
        major, minor = handle.libbpf_major_version(), handle.libbpf_minor_version()
    except (OSError, AttributeError) as error:
        raise KernelUnavailable(f"libbpf.so.1 (version 1.4 or newer) is needed to load programs: {error}") from None
    if (major, minor) < MIN_VERSION:
        raise KernelUnavailable(f"libbpf {major}.{minor} is too old to load programs; version 1.4 or newer is needed.")

    vp, cp, i, u32, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_size_t
    _declare(handle, "libbpf_set_print", vp, PRINT_FN)
    _declare(handle, "libbpf_strerror", i, i, cp, sz)
    _declare(handle, "libbpf_bpf_prog_type_str", cp, i)
    _declare(handle, "libbpf_num_possible_cpus", i)
    _declare(handle, "bpf_object__open_file", vp, cp, vp)
    _declare(handle, "bpf_object__load", i, vp)
    _declare(handle, "bpf_object__close", None, vp)
    _declare(handle, "bpf_object__next_program", vp, vp, vp)
    _declare(handle, "bpf_object__find_map_by_name", vp, vp, cp)
    _declare(handle, "bpf_object__btf", vp, vp)
    _declare(handle, "bpf_program__name", cp, vp)
    _declare(handle, "bpf_program__section_name", cp, vp)
    _declare(handle, "bpf_program__type", i, vp)
    _declare(handle, "bpf_program__set_autoload", i, vp, ctypes.c_bool)
    _declare(handle, "bpf_program__autoload", ctypes.c_bool, vp)
    _declare(handle, "bpf_program__set_attach_target", i, vp, i, cp)
    _declare(handle, "bpf_prog_get_info_by_fd", i, i, vp, ctypes.POINTER(u32))
    _declare(handle, "bpf_program__set_log_level", i, vp, u32)
    _declare(handle, "bpf_program__set_log_buf", i, vp, vp, sz)
    _declare(handle, "bpf_program__fd", i, vp)
    _declare(handle, "bpf_object__next_map", vp, vp, vp)
    _declare(handle, "bpf_map__name", cp, vp)
    _declare(handle, "bpf_map__is_internal", ctypes.c_bool, vp)
    _declare(handle, "bpf_map__map_flags", u32, vp)
    _declare(handle, "bpf_map__fd", i, vp)
    _declare(handle, "bpf_map__type", i, vp)
    _declare(handle, "bpf_map__value_size", u32, vp)
    _declare(handle, "bpf_map__key_size", u32, vp)
    _declare(handle, "bpf_map__initial_value", vp, vp, ctypes.POINTER(sz))
    _declare(handle, "bpf_map__max_entries", u32, vp)
    _declare(handle, "bpf_map_lookup_elem", i, i, vp, vp)
    _declare(handle, "bpf_prog_load", i, i, cp, cp, vp, sz, vp)
    _declare(handle, "bpf_prog_test_run_opts", i, i, ctypes.POINTER(BpfTestRunOpts))
    _declare(handle, "btf__type_cnt", u32, vp)
    _declare(handle, "btf__type_by_id", ctypes.POINTER(BtfType), vp, u32)
    _declare(handle, "btf__name_by_offset", cp, vp, u32)
    _declare(handle, "btf__find_by_name_kind", i, vp, cp, u32)
    return handle


@cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.vsnprintf.restype = ctypes.c_int
    libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
    return libc


def _format(fmt: bytes, va_list: int) -> str:
    """printf-format one libbpf message with libc's vsnprintf."""
    vsnprintf = _libc().vsnprintf
    if _VA_LIST_SIZE is None:
        buf = ctypes.create_string_buffer(_FALLBACK_PRINT_BUF)
        vsnprintf(buf, len(buf), fmt, va_list)
        return buf.value.decode("utf-8", "replace")
    # vsnprintf consumes its va_list, so measure with a copy (va_copy) first:
    # a failed load prints the whole verifier log, many MiB, as one "%s".
    saved = ctypes.create_string_buffer(_VA_LIST_SIZE)
    ctypes.memmove(saved, va_list, _VA_LIST_SIZE)
    needed = vsnprintf(None, 0, fmt, va_list)
    ctypes.memmove(va_list, saved, _VA_LIST_SIZE)
    buf = ctypes.create_string_buffer(max(needed, 0) + 1)
    vsnprintf(buf, len(buf), fmt, va_list)
    return buf.value.decode("utf-8", "replace")


@contextmanager
def capture_prints() -> Iterator[list[tuple[int, str]]]:
    """Collect every message libbpf prints, as (level, text), while the block runs.

    libbpf's print function is process-wide, so the previous one is restored
    afterwards. Messages carry libbpf's own "libbpf: " prefix and newlines.
    """
    handle = lib()
    messages: list[tuple[int, str]] = []

    def on_print(level: int, fmt: bytes, va_list: int) -> int:
        try:
            messages.append((level, _format(fmt, va_list)))
        except Exception as error:  # an exception must not cross into C
            messages.append((LIBBPF_WARN, f"vdoctor: could not format a libbpf message: {error}\n"))
        return 0

    callback = PRINT_FN(on_print)  # keep a reference: libbpf holds only the pointer
    previous = handle.libbpf_set_print(callback)
    try:
        yield messages
    finally:
        handle.libbpf_set_print(ctypes.cast(previous, PRINT_FN) if previous else None)


def strerror(err: int) -> str:
    buf = ctypes.create_string_buffer(256)
    lib().libbpf_strerror(err, buf, len(buf))
    return buf.value.decode("utf-8", "replace")


def prog_type_name(prog_type: int) -> str:
    name = lib().libbpf_bpf_prog_type_str(prog_type)
    return name.decode() if name else f"type {prog_type}"


def last_errno() -> int:
    return ctypes.get_errno()
