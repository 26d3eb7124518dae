"""Load the programs of a BPF object into the running kernel, one at a time, through libbpf.

Each program is loaded from a freshly opened object with only itself set to
autoload, so one rejection does not hide the verdict on the others.

The log kept for a program is what libbpf prints: its warnings and notices
("libbpf: prog 'x': BPF program load failed: ...") and the verifier's log
between "-- BEGIN PROG LOAD LOG --" and "-- END PROG LOAD LOG --". We let
libbpf own the log buffer on purpose: with a buffer of our own
(bpf_program__set_log_buf) libbpf neither prints the log nor retries with a
larger buffer when the kernel answers ENOSPC. libbpf starts at 16 MiB and
doubles; the kernel caps the size at 1 GiB, beyond which the load fails.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import KernelUnavailable, VdoctorError
from . import libbpf
from .runner import RunResult, test_run

BPF_LOG_STATS = 4  # adds "processed N insns ..." to the log, also when the program is accepted

_BEGIN_MARK = "-- BEGIN PROG LOAD LOG --"


@dataclass(frozen=True, slots=True)
class ProgramLoad:
    name: str  # the program's (function's) name
    section: str  # its ELF section, e.g. "xdp"
    accepted: bool
    log: str  # libbpf's lines and the verifier's log, as libbpf prints them
    error: int | None  # negative errno from libbpf on failure, else None
    # libbpf does not load a SEC("?...") program unless asked (bpf_program__set_autoload);
    # we load each program on its own, so it is loaded and verified like the others.
    optional: bool = False


CAP_SYS_ADMIN, CAP_BPF = 21, 39  # include/uapi/linux/capability.h


def may_load_bpf(status: Path = Path("/proc/self/status")) -> bool:
    """Whether this process holds CAP_BPF or CAP_SYS_ADMIN in its effective set (CapEff): the
    capability loading BPF needs, read, not guessed from an EPERM."""
    for line in status.read_text().splitlines():
        if line.startswith("CapEff:"):
            effective = int(line.split()[1], 16)
            return bool(effective >> CAP_BPF & 1 or effective >> CAP_SYS_ADMIN & 1)
    return False


def _map_facts(obj_ptr: int) -> str:
    """One line per map of the object: its type by libbpf's name, its entries, and libbpf's
    probe of the running kernel for that type; said after a load that failed before the
    verifier, so that a refused map is reported with what the kernel lacks. The guest loader
    (guest/vdoctor_guest_load.c, say_map_facts) says the same in the same words."""
    from . import probe

    handle, lines, bpf_map = libbpf.lib(), [], None
    while bpf_map := handle.bpf_object__next_map(obj_ptr, bpf_map):
        type_name = probe.map_type_name(handle.bpf_map__type(bpf_map))
        try:
            verdict = "available" if probe.map_type_available(type_name) else "not available"
        except KernelUnavailable:
            verdict = "unknown"
        lines.append(f"vdoctor: map '{handle.bpf_map__name(bpf_map).decode()}' is of type {type_name} "
                     f"(max_entries {handle.bpf_map__max_entries(bpf_map)}); libbpf's probe of this kernel: "
                     f"{type_name} maps {verdict}\n")
    return "".join(lines)


@cache
def _require_kernel() -> None:
    """Load a two-instruction program, so that a kernel refusing BPF as such says so once.

    Cached only on success: a failed probe raises, and the next call probes again.
    """
    handle = libbpf.lib()
    # r0 = 0; exit  (BPF_ALU64|BPF_MOV|BPF_K, then BPF_JMP|BPF_EXIT)
    insns = (ctypes.c_uint64 * 2)(0xB7, 0x95)
    fd = handle.bpf_prog_load(1, b"vd_probe", b"GPL", insns, 2, None)  # BPF_PROG_TYPE_SOCKET_FILTER
    if fd >= 0:
        os.close(fd)
        return
    err = -fd
    if err in (errno.EPERM, errno.EACCES) and not may_load_bpf():
        raise KernelUnavailable("The running kernel refuses to load BPF programs for this user; run as root or with CAP_BPF.")
    if err in (errno.EPERM, errno.EACCES):
        raise KernelUnavailable("The running kernel refuses to load even a trivial BPF program, although this process "
                                "has CAP_BPF: kernel lockdown or a security module's policy forbids BPF here.")
    if err == errno.ENOSYS:
        raise KernelUnavailable("The running kernel has no bpf() system call (it was built without CONFIG_BPF_SYSCALL).")
    raise KernelUnavailable(f"The running kernel refused even a trivial BPF program: {libbpf.strerror(err)}.")


def _log_text(messages: list[tuple[int, str]]) -> str:
    # libbpf prints the verifier log of an accepted program at debug level and
    # everything that matters on failure as warnings; its other debug lines
    # (ELF sections, relocations) are noise a user of libbpf does not see either.
    kept = [text for level, text in messages if level <= libbpf.LIBBPF_INFO or _BEGIN_MARK in text]
    return "".join(text if text.endswith("\n") else text + "\n" for text in kept)


def _programs(obj_ptr: int) -> list[int]:
    handle, progs, prog = libbpf.lib(), [], None
    while prog := handle.bpf_object__next_program(obj_ptr, prog):
        progs.append(prog)
    return progs


def _prog_name(prog: int) -> str:
    return libbpf.lib().bpf_program__name(prog).decode()


def _section(prog: int) -> str:
    return libbpf.lib().bpf_program__section_name(prog).decode()


def _is_entry_program(prog: int) -> bool:
    """A function in a SEC() section; libbpf 1.4 also lists global functions of .text, which
    are only called by the programs (no SEC(), nothing to load on their own)."""
    return _section(prog) != ".text"


# Program sections that need a BPF trampoline: their load makes the kernel prepare an
# attachment to a kernel function (fentry, fexit, fmod_ret, lsm; sleepable ".s" variants) or
# to a function of another program (freplace).
_TRAMPOLINE_SECTIONS = ("fentry", "fexit", "fmod_ret", "lsm", "freplace")


def _needs_trampoline(section: str) -> bool:
    kind = section.lstrip("?").split("/", 1)[0].removesuffix(".s")
    return kind in _TRAMPOLINE_SECTIONS


class _Object:
    """One opened bpf_object; closing it unloads its programs and maps."""

    def __init__(self, path: Path):
        self.path = path
        raw = libbpf.lib().bpf_object__open_file(os.fsencode(path), None)
        self.error = None if raw else -(libbpf.last_errno() or errno.EINVAL)
        self.ptr: int | None = raw

    def close(self) -> None:
        if self.ptr:
            libbpf.lib().bpf_object__close(self.ptr)
            self.ptr = None

    def program(self, name: str) -> int | None:
        return next((p for p in _programs(self.ptr) if _prog_name(p) == name), None)

    def load_only(self, name: str, log_level: int, log_buf=None, target_fd: int = -1) -> int:
        """Load the object with `name` its only program; 0 or libbpf's negative errno.

        With `log_buf` (a ctypes buffer) the verifier writes its log there and libbpf
        neither prints it nor grows it; a kernel since 6.4 keeps the end of a longer log.
        With `target_fd`, a freplace program replaces its function in that loaded program.
        """
        handle = libbpf.lib()
        for prog in _programs(self.ptr):
            mine = _prog_name(prog) == name
            handle.bpf_program__set_autoload(prog, mine)
            if mine:
                handle.bpf_program__set_log_level(prog, log_level | BPF_LOG_STATS)
                if log_buf is not None:
                    handle.bpf_program__set_log_buf(prog, log_buf, len(log_buf))
                if target_fd >= 0:
                    function = _section(prog).split("/", 1)[-1].encode()
                    handle.bpf_program__set_attach_target(prog, target_fd, function)
        return handle.bpf_object__load(self.ptr)


BPF_F_MMAPABLE = 0x400
ENOTSUPP = 524  # the kernel's internal "not supported", as libbpf reports it


def _unmappable_global_data(obj_ptr: int) -> str | None:
    """The line to report when the kernel refuses to memory-map a global data map.

    libbpf >= 1.5 mmap()s .bss/.data/.rodata right after creating them, and skeletons
    of every libbpf version do; the kernel refuses that when the value holds a
    bpf_spin_lock or a timer (-ENOTSUPP, 524). libbpf 1.4 without a skeleton does not
    mmap, so the object loads here and then fails for the user; we check it ourselves.
    """
    handle = libbpf.lib()
    bpf_map = None
    while bpf_map := handle.bpf_object__next_map(obj_ptr, bpf_map):
        if not handle.bpf_map__is_internal(bpf_map) or not handle.bpf_map__map_flags(bpf_map) & BPF_F_MMAPABLE:
            continue
        size = (handle.bpf_map__value_size(bpf_map) + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE
        try:
            mmap.mmap(handle.bpf_map__fd(bpf_map), size, mmap.MAP_SHARED, mmap.PROT_READ).close()
        except OSError as error:
            name = handle.bpf_map__name(bpf_map).decode()
            return (f"vdoctor: map '{name}': failed to mmap() global data: error -{error.errno}; the kernel "
                    f"refuses to memory-map global data that holds a bpf_spin_lock or a timer, so libbpf >= 1.5 "
                    f"and skeletons fail the load here")
    return None


def _check_file(obj: Path) -> Path:
    obj = Path(obj)
    if not obj.is_file():
        raise VdoctorError(f"The BPF object {obj} does not exist.")
    return obj


# The log buffer of a load at level 2 (asked for, or a rerun): a level-2 log of a program
# that reaches the instruction limit runs to gigabytes; the kernel keeps its end, where the
# verdict is (since 6.4).
RERUN_LOG_BYTES = 64 << 20


def _load(obj: Path, name: str, log_level: int, log_bytes: int = 0,
          target_fd: int = -1) -> tuple[_Object, ProgramLoad]:
    """Open `obj` and load only `name`; the caller closes the returned object.

    With `log_bytes`, the verifier log goes to a buffer of that size of our own (its end is
    kept when the log is longer) instead of libbpf's, which doubles until the log fits.
    """
    if log_level >= 2 and not log_bytes:
        # Our buffer at level 2 too: libbpf would double its own and verify the program
        # again until the whole log fits (five passes and 2.2 GB of memory for one that
        # reaches the instruction limit).
        log_bytes = RERUN_LOG_BYTES
    log_buf = ctypes.create_string_buffer(log_bytes) if log_bytes else None
    with libbpf.capture_prints() as messages:
        opened = _Object(obj)
        if opened.ptr is None:
            err = opened.error
        else:
            prog = opened.program(name)
            if prog is None:
                opened.close()
                raise VdoctorError(f"{obj.name} has no program named {name}.")
            section = _section(prog)
            optional = not libbpf.lib().bpf_program__autoload(prog)  # SEC("?..."), before we set it
            err = opened.load_only(name, log_level, log_buf, target_fd)
    log = _log_text(messages)
    if log_buf is not None and log_buf.value:
        log += (f"libbpf: prog '{name}': {_BEGIN_MARK}\n" + log_buf.value.decode("utf-8", "replace")
                + "-- END PROG LOAD LOG --\n")
    if opened.ptr is not None and err == 0:
        refused = _unmappable_global_data(opened.ptr)
        if refused is not None:
            return opened, ProgramLoad(name, section, False, log + refused + "\n", -ENOTSUPP,
                                       optional)
    if opened.ptr is None:
        return opened, ProgramLoad(name, "", False, log, err)
    if err and _BEGIN_MARK not in log:
        log += _map_facts(opened.ptr)
    if err == -errno.EPERM and _BEGIN_MARK not in log:
        if _needs_trampoline(section):
            # Root with CAP_BPF and CAP_PERFMON, a trivial program loads, tp_btf and iter
            # programs (the same program type) load, yet these fail before the verifier
            # writes a line: the kernel's policy forbids attaching to kernel functions.
            kind = section.lstrip("?").split("/", 1)[0]
            refused = (f"vdoctor: the running kernel refuses {kind} programs before verifying them "
                       f"(EPERM with an empty log, although it loads other programs for this user): "
                       f"it does not allow BPF trampolines, which attach a program to a kernel "
                       f"function or to another program's function, here (kernel lockdown or a "
                       f"security module's policy); try it in another kernel with --kernel\n")
            return opened, ProgramLoad(name, section, False, refused + _without_memlock_hint(log), err, optional)
        if not may_load_bpf():
            # The kernel refused before verifying: bpf_prog_load() wants CAP_BPF
            # (and CAP_NET_ADMIN or CAP_PERFMON) for every type but socket filters
            # and cgroup skb, which the probe in _require_kernel() may have passed.
            opened.close()
            raise KernelUnavailable(f"The running kernel refuses to load {section} programs for this user; run as root or with CAP_BPF.")
        # With the capability, EPERM is the kernel refusing something else (a map type it
        # lacks answers EPERM on 6.18): libbpf's lines say what, and are reported as they are.
        log = _without_memlock_hint(log)
    return opened, ProgramLoad(name, section, err == 0, log, err if err else None,
                               optional)


def _without_memlock_hint(log: str) -> str:
    """libbpf's log without its hint to raise 'ulimit -l' after an EPERM, which misleads where
    the process holds CAP_BPF: memory is not what is missing (and since 5.11 BPF memory is
    not counted against RLIMIT_MEMLOCK)."""
    return "".join(line + "\n" for line in log.splitlines() if "try raising 'ulimit -l'" not in line)


def optional_programs(obj: Path) -> set[str]:
    """The programs of `obj` in SEC("?...") sections, which libbpf does not load by default.

    Opening an object needs no privilege: this works where nothing can be loaded."""
    with libbpf.capture_prints():
        listing = _Object(_check_file(obj))
    if listing.ptr is None:
        return set()
    try:
        return {_prog_name(p) for p in _programs(listing.ptr) if not libbpf.lib().bpf_program__autoload(p)}
    finally:
        listing.close()


def load_program(obj: Path, name: str, log_level: int = 1) -> ProgramLoad:
    """Load only program `name` of `obj` at `log_level`, as load_each_program loads each."""
    _require_kernel()
    opened, result = _load(_check_file(obj), name, log_level)
    opened.close()
    return result


def reload_at_level_2(obj: Path, name: str, log_bytes: int = RERUN_LOG_BYTES) -> ProgramLoad:
    """Load program `name` of `obj` again at log level 2 into a buffer of `log_bytes`."""
    opened, result = _load(_check_file(obj), name, 2, log_bytes)
    opened.close()
    return result


def load_each_program(obj: Path, log_level: int = 1) -> list[ProgramLoad]:
    """Load every program of `obj` on its own and report each verdict with its log.

    An object libbpf cannot even open (bad ELF or BTF) gives one entry named
    after the file, with an empty section and libbpf's lines; an object without
    programs (no function in a SEC() section) gives an empty list.
    """
    obj = _check_file(obj)
    _require_kernel()
    with libbpf.capture_prints() as messages:
        listing = _Object(obj)
    if listing.ptr is None:
        return [ProgramLoad(obj.name, "", False, _log_text(messages), listing.error)]
    try:
        names = [(_prog_name(p), _section(p)) for p in _programs(listing.ptr) if _is_entry_program(p)]
    finally:
        listing.close()

    results = []
    targets = [name for name, section in names if not section.startswith("freplace/")]
    for name, section in names:
        if section.startswith("freplace/"):
            results.append(_load_freplace(obj, name, section, targets, log_level))
            continue
        opened, result = _load(obj, name, log_level)
        opened.close()
        results.append(result)
    return results


def _load_freplace(obj: Path, name: str, section: str, targets: list[str], log_level: int) -> ProgramLoad:
    """A freplace program, loaded as libbpf loads it: against a loaded program holding the
    global function it replaces (the first program of the object that loads and holds it)."""
    function = section.split("/", 1)[1]
    for target in targets:
        held, loaded = _load(obj, target, 1)
        try:
            fd = libbpf.lib().bpf_program__fd(held.program(target)) if loaded.accepted else -1
            if fd >= 0 and function in _function_names(fd, held.ptr):
                opened, result = _load(obj, name, log_level, target_fd=fd)
                opened.close()
                return result
        finally:
            held.close()
    opened, result = _load(obj, name, log_level)
    opened.close()
    said = (f"vdoctor: this freplace program cannot be loaded without a target: it replaces a global "
            f"function of a loaded program, and no program of {obj.name} that loads here holds a "
            f"global function {function}\n")
    return ProgramLoad(name, section, False, said + result.log, result.error, result.optional)


# struct bpf_prog_info (uapi, fields only ever appended): where the function records are.
_INFO_SIZE, _FUNC_INFO_REC_SIZE, _FUNC_INFO, _NR_FUNC_INFO = 232, 132, 136, 144


def _function_names(prog_fd: int, obj_ptr: int) -> set[str]:
    """The functions of a loaded program, from the kernel's func_info and the object's BTF."""
    handle = libbpf.lib()
    btf = handle.bpf_object__btf(obj_ptr)
    info = ctypes.create_string_buffer(_INFO_SIZE)
    size = ctypes.c_uint32(_INFO_SIZE)
    if not btf or handle.bpf_prog_get_info_by_fd(prog_fd, info, ctypes.byref(size)) != 0:
        return set()
    count = int.from_bytes(info.raw[_NR_FUNC_INFO:_NR_FUNC_INFO + 4], "little")
    width = int.from_bytes(info.raw[_FUNC_INFO_REC_SIZE:_FUNC_INFO_REC_SIZE + 4], "little") or 8
    records = ctypes.create_string_buffer(count * width)
    ask = ctypes.create_string_buffer(_INFO_SIZE)
    ask[_NR_FUNC_INFO:_NR_FUNC_INFO + 4] = count.to_bytes(4, "little")
    ask[_FUNC_INFO_REC_SIZE:_FUNC_INFO_REC_SIZE + 4] = width.to_bytes(4, "little")
    ask[_FUNC_INFO:_FUNC_INFO + 8] = ctypes.addressof(records).to_bytes(8, "little")
    size = ctypes.c_uint32(_INFO_SIZE)
    if handle.bpf_prog_get_info_by_fd(prog_fd, ask, ctypes.byref(size)) != 0:
        return set()
    names = set()
    for index in range(count):  # struct bpf_func_info { __u32 insn_off; __u32 type_id; }
        type_id = int.from_bytes(records.raw[index * width + 4:index * width + 8], "little")
        btf_type = handle.btf__type_by_id(btf, type_id)
        if btf_type:
            names.add(handle.btf__name_by_offset(btf, btf_type.contents.name_off).decode())
    return names


class LoadedProgram:
    """An accepted program kept loaded (with its object's maps) until closed."""

    def __init__(self, opened: _Object, load: ProgramLoad):
        handle = libbpf.lib()
        prog = opened.program(load.name)
        self._object = opened
        self.load = load
        self.name = load.name
        self.section = load.section
        self.fd: int = handle.bpf_program__fd(prog)
        self.prog_type: int = handle.bpf_program__type(prog)

    def __enter__(self) -> LoadedProgram:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._object.close()
        self.fd = -1

    def test_run(self, repeat: int = 1, data: bytes | None = None) -> RunResult:
        return test_run(self.fd, self.prog_type, repeat=repeat, data=data)

    def read_global(self, name: str) -> bytes | None:
        """The raw bytes of global variable `name`, or of key 0 of the map named `name`.

        A map name wins over a variable name; ".bss", ".data" and ".rodata" name
        the whole section. Per-CPU maps give one value slot (rounded up to 8
        bytes) per possible CPU, one after the other. None if nothing matches.
        """
        handle, obj = libbpf.lib(), self._object.ptr
        bpf_map = handle.bpf_object__find_map_by_name(obj, name.encode())
        if bpf_map:
            return _lookup_key0(bpf_map)
        found = _find_variable(handle.bpf_object__btf(obj), name)
        if found is None:
            return None
        section, offset, size = found
        bpf_map = handle.bpf_object__find_map_by_name(obj, section.encode())
        value = _lookup_key0(bpf_map) if bpf_map else None
        return None if value is None else value[offset : offset + size]

    def read_arena(self) -> tuple[int, bytes] | None:
        """(address, contents) of the object's arena as this process maps it (libbpf mmap()s
        an arena when it creates it; the program's user-space pointers point there), or None."""
        handle = libbpf.lib()
        bpf_map = None
        while bpf_map := handle.bpf_object__next_map(self._object.ptr, bpf_map):
            if handle.bpf_map__type(bpf_map) == ARENA_MAP_TYPE:
                size = ctypes.c_size_t()
                address = handle.bpf_map__initial_value(bpf_map, ctypes.byref(size))
                return (address, ctypes.string_at(address, size.value)) if address else None
        return None


ARENA_MAP_TYPE = 33  # BPF_MAP_TYPE_ARENA (uapi, Linux 6.9)


def global_variable(obj: Path, name: str) -> tuple[str, int, int] | None:
    """(data section, offset, size) of global variable `name` of `obj`, from its BTF; the
    object is only opened, so this works where nothing can be loaded."""
    with libbpf.capture_prints():
        opened = _Object(_check_file(obj))
    if opened.ptr is None:
        return None
    try:
        return _find_variable(libbpf.lib().bpf_object__btf(opened.ptr), name)
    finally:
        opened.close()


def per_cpu_values(raw: bytes) -> list[bytes]:
    """Split what `read_global` gives for a per-CPU map into one value slot per possible CPU."""
    cpus = libbpf.lib().libbpf_num_possible_cpus()
    width = len(raw) // cpus
    return [raw[cpu * width : (cpu + 1) * width] for cpu in range(cpus)]


def _lookup_key0(bpf_map: int) -> bytes | None:
    handle = libbpf.lib()
    value_size = handle.bpf_map__value_size(bpf_map)
    if handle.bpf_map__type(bpf_map) in libbpf.PERCPU_MAP_TYPES:
        value_size = (value_size + 7) // 8 * 8 * handle.libbpf_num_possible_cpus()
    key = ctypes.create_string_buffer(handle.bpf_map__key_size(bpf_map))
    value = ctypes.create_string_buffer(value_size)
    if handle.bpf_map_lookup_elem(handle.bpf_map__fd(bpf_map), key, value) != 0:
        return None
    return value.raw


def _find_variable(btf: int, name: str) -> tuple[str, int, int] | None:
    """(data section, offset, size) of global variable `name`, from the object's BTF DATASECs."""
    if not btf:
        return None
    handle = libbpf.lib()
    var_id = handle.btf__find_by_name_kind(btf, name.encode(), libbpf.BTF_KIND_VAR)
    if var_id <= 0:
        return None
    for type_id in range(1, handle.btf__type_cnt(btf)):
        btf_type = handle.btf__type_by_id(btf, type_id)
        info = btf_type.contents.info
        if (info >> 24) & 0x1F != libbpf.BTF_KIND_DATASEC:
            continue
        vlen = info & 0xFFFF
        secinfo_addr = ctypes.addressof(btf_type.contents) + ctypes.sizeof(libbpf.BtfType)
        for var in (libbpf.BtfVarSecinfo * vlen).from_address(secinfo_addr):
            if var.type == var_id:
                section = handle.btf__name_by_offset(btf, btf_type.contents.name_off).decode()
                return section, var.offset, var.size
    return None


def open_program(obj: Path, name: str) -> LoadedProgram:
    """Load only program `name` of `obj` and keep it loaded; VdoctorError if it is rejected."""
    obj = _check_file(obj)
    _require_kernel()
    opened, load = _load(obj, name, log_level=1)
    if not load.accepted:
        opened.close()
        raise VdoctorError(f"The kernel did not accept program {name} of {obj.name} ({libbpf.strerror(-(load.error or -errno.EINVAL))}).")
    return LoadedProgram(opened, load)
