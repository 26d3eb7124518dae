"""The arena backend of the shipped allocator (`#define STATIC_MALLOC_ARENA`), in the kernel.

The programs of tests/allocator/arena/ are tagged as those of tests/allocator/progs/ are
(`/* vdoctor-test: expect N since 6.9 */`) and collected by test_allocator.py's own reader.
The arena needs kernel 6.9 and clang 19 (__BPF_FEATURE_ADDR_SPACE_CAST): clang 14 must stop
with the header's #error, and the kernels of the matrix older than 6.9 must refuse the object.

Where the checks of a kernel run is decided by a probe, not a version: when the running kernel
creates arena maps (kernel/probe.py asks libbpf), on it; else (a kernel built without
CONFIG_BPF_ARENA, or no BPF for this user) in the first QEMU kernel of the matrix that has
arenas, booted once for all of them. The test ids name that kernel (`[running:...]`,
`[6.12:...]`) and pytest's summary says where they ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import struct
import sys
import threading
import warnings
from pathlib import Path

import pytest

from dataclasses import dataclass

import test_allocator
from conftest import kernel_loads_bpf
from test_allocator import COMPILERS, STATS_FIELDS, needs_kernel, one_cpu, per_cpu_stats  # noqa: F401 (a fixture)
from verifier_doctor.errors import BuildFailed, KernelUnavailable
from verifier_doctor.kernel import probe
from verifier_doctor.kernel.kernels import SUPPORTED
from verifier_doctor.kernel.qemu import RunPlan

ARENA = Path(__file__).resolve().parent / "allocator" / "arena"
with pytest.MonkeyPatch.context() as patch:  # the same reader, pointed at the arena programs
    patch.setattr(test_allocator, "PROGS", ARENA)
    EXPECTATIONS = test_allocator.expectations()
SOURCES = sorted({e.source for e in EXPECTATIONS})
CC = "clang-19"  # the arena needs __BPF_FEATURE_ADDR_SPACE_CAST (clang 19+)
needs_clang19 = pytest.mark.skipif(CC not in COMPILERS, reason="clang-19 builds the arena backend")


def test_every_arena_program_is_tagged():
    assert len(EXPECTATIONS) >= 7
    for source in ARENA.glob("*.bpf.c"):
        assert source in SOURCES, f"{source.name} has no vdoctor-test tag"
    assert all(e.since == (6, 9) for e in EXPECTATIONS), "every arena program needs 6.9"


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    from verifier_doctor.kernel.build import compile_program

    out = tmp_path_factory.mktemp("arena")
    return {source: compile_program(source, out, CC) for source in SOURCES}


RUNNING = "running"


def arena_kernel() -> str:
    """Where the arena checks run: "running" when the running kernel loads BPF here and
    creates arena maps (the probe's answer, not its version), else the first QEMU kernel of
    the matrix that has arenas."""
    try:
        if kernel_loads_bpf() and probe.map_type_available("arena"):
            return RUNNING
    except KernelUnavailable:  # this libbpf cannot even name the type: the guest decides
        pass
    return next(v for v in SUPPORTED if not EXPECTATIONS[0].needs_newer_than(v))


def mark_for(where: str) -> pytest.MarkDecorator:
    """A test that runs where `where` says is marked as running there: the running kernel or QEMU."""
    return pytest.mark.kernel if where == RUNNING else pytest.mark.qemu


WHERE = arena_kernel()
on_arena_kernel = mark_for(WHERE)


if WHERE != RUNNING:  # said once in pytest's warnings summary
    warnings.warn(f"the running kernel has no BPF arenas (kernel/probe.py): the arena checks run in "
                  f"Linux {WHERE} under QEMU", stacklevel=1)


@pytest.mark.parametrize("has_arenas", [True, False])
@pytest.mark.parametrize("loads_bpf", [True, False])
def test_the_probe_decides_where_the_arena_checks_run(monkeypatch, has_arenas, loads_bpf):
    """The probe's answer, faked both ways, routes the checks: the running kernel only when it
    loads BPF here and creates arenas; else a QEMU kernel of the matrix that has them."""
    asked = []
    monkeypatch.setattr(probe, "map_type_available", lambda name: asked.append(name) or has_arenas)
    monkeypatch.setattr(sys.modules[__name__], "kernel_loads_bpf", lambda: loads_bpf)
    where = arena_kernel()
    if has_arenas and loads_bpf:
        assert (where, asked) == (RUNNING, ["arena"])
        assert mark_for(where).name == "kernel"
    else:
        assert where == "6.12", "the first kernel of the matrix with arenas (6.9+)"
        assert mark_for(where).name == "qemu"


STRESS_RUNS = 100000  # runs of stress_shared per CPU (16 allocations each, ~0.5 s): long enough to overlap
PLAN = RunPlan(runs=1, again=3, dump=True)  # every program: once, then 3 times on the used heap
STRESS_PLAN = RunPlan(runs=STRESS_RUNS, cpus=2, again=1, dump=True)  # two CPUs at once, then once more


@dataclass(frozen=True, slots=True)
class Observed:
    """One program's runs, on the running kernel or in the guest: the return values in order
    (each CPU's first run, then the run again), its counters per CPU, global variables by name,
    and its arena as its loader's process maps it (address, bytes)."""

    retvals: list[int]
    stats: list[dict[str, int]]
    globals: dict[str, bytes]
    arena: tuple[int, bytes] | None


GLOBALS = ("kept_head", "heap_user")  # what the list walk reads


def observe_on_the_running_kernel(obj: Path, program: str, plan: RunPlan, cpus: list[int]) -> Observed:
    from verifier_doctor.kernel.loader import open_program

    with open_program(obj, program) as loaded:
        if plan.cpus == 1:
            retvals = [loaded.test_run(repeat=plan.runs).retval]
        else:
            if len(cpus) < plan.cpus:
                pytest.skip(f"needs {plan.cpus} CPUs")
            start, returned = threading.Barrier(plan.cpus), {}

            def runner(cpu: int) -> None:
                os.sched_setaffinity(0, {cpu})  # this thread only
                start.wait()
                returned[cpu] = loaded.test_run(repeat=plan.runs).retval

            threads = [threading.Thread(target=runner, args=(cpu,)) for cpu in cpus[:plan.cpus]]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            retvals = [returned.get(cpu) for cpu in cpus[:plan.cpus]]
        if plan.again:
            retvals.append(loaded.test_run(repeat=plan.again).retval)
        return Observed(retvals, per_cpu_stats(loaded.read_global("static_stats")),
                        {name: loaded.read_global(name) for name in GLOBALS}, loaded.read_arena())


def observe_in_the_guest(run, obj: Path, program: str) -> Observed:
    """What the guest loader reported of `program` (qemu.RunPlan): the maps it dumped, with the
    global variables found in the object's own BTF."""
    from verifier_doctor.kernel.loader import global_variable

    assert not isinstance(run, Exception), f"{WHERE}: {run}"
    loads = {load.name: load for load in run.results[obj]}
    assert program in loads and loads[program].accepted, f"{WHERE}: {program} not accepted:\n" + (
        loads[program].log[-1500:] if program in loads else "not loaded")
    maps = run.maps.get((obj, program), {})
    found = {}
    for name in GLOBALS:
        where = global_variable(obj, name)
        section = next((m for m in maps if where and m.endswith(where[0])), None)
        if section is not None:
            found[name] = maps[section].data[where[1]:where[1] + where[2]]
    arena = next(((m.address, m.data) for m in maps.values() if m.type == 33), None)
    stats = [dict(zip(STATS_FIELDS, struct.unpack_from(f"<{len(STATS_FIELDS)}Q", value)))
             for value in (maps["static_stats"].per_cpu() if "static_stats" in maps else [])]
    return Observed([r.retval for r in run.run_series.get((obj, program), [])], stats, found, arena)


@pytest.fixture(scope="module")
def guest(objects, tmp_path_factory):
    """Where the running kernel has no arenas: every object of the checks below in one boot of
    WHERE, each with its plan; stress.o a second time as the two-CPU stress."""
    from verifier_doctor.kernel.qemu import load_in_guest

    if WHERE == RUNNING:
        return None
    out = tmp_path_factory.mktemp("arena-guest")
    stress = out / "stress_two_cpus.o"
    shutil.copy(objects[ARENA / "stress.bpf.c"], stress)
    plans = {obj: PLAN for obj in objects.values()} | {stress: STRESS_PLAN}
    linked = _linked(out)
    if linked is not None:
        plans[linked] = PLAN
    try:
        run = load_in_guest(WHERE, list(plans), plans=plans, timeout=1800)
    except KernelUnavailable as error:  # no QEMU, no kernel image: this machine can run them nowhere
        pytest.skip(f"the running kernel has no arenas, and Linux {WHERE} cannot be booted here: {error}")
    return run, stress, linked


def observe(guest, obj: Path, program: str, plan: RunPlan = PLAN, cpus: list[int] | None = None) -> Observed:
    """`program` of `obj` run as `plan` says, wherever WHERE is."""
    if guest is None:
        return observe_on_the_running_kernel(obj, program, plan, cpus or sorted(os.sched_getaffinity(0)))
    run, stress, linked = guest
    if plan == STRESS_PLAN:
        obj = stress
    return observe_in_the_guest(run, obj, program)


@needs_clang19
@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("plan, source, program", [
    (PLAN, "basic.bpf.c", "basic_malloc_free"),
    # basic_malloc_free is a one-CPU test (its heap check answers "busy" while the other CPU
    # holds the lock); stress_shared is the classic backend's program for two CPUs at once
    (RunPlan(runs=200, cpus=2, again=1), "stress.bpf.c", "stress_shared"),
], ids=["once-and-again", "two-cpus"])
def test_the_running_kernels_observer_runs_as_planned(tmp_path, one_cpu, plan, source, program):
    """The observer the checks use where the running kernel has arenas, tried on any kernel
    with programs of the classic backend (no arena): each CPU's run, then the run again, and
    the counters of every CPU that ran."""
    from verifier_doctor.kernel.build import compile_program

    if len(one_cpu) < plan.cpus:
        pytest.skip(f"needs {plan.cpus} CPUs")
    obj = compile_program(test_allocator.PROGS / source, tmp_path, CC)
    seen = observe(None, obj, program, plan, one_cpu)
    assert seen.retvals == [0] * (plan.cpus + 1)
    assert sum(1 for cpu in seen.stats if cpu["allocations"]) == plan.cpus
    assert seen.arena is None and seen.globals == dict.fromkeys(GLOBALS)


@needs_clang19
@on_arena_kernel
@pytest.mark.parametrize("expectation", EXPECTATIONS, ids=lambda e: f"{WHERE}:{e.source.stem}:{e.program}")
def test_arena_program(objects, guest, expectation):
    seen = observe(guest, objects[expectation.source], expectation.program)
    assert len(seen.retvals) == 2, seen.retvals
    assert seen.retvals[0] == expectation.retval, f"check {seen.retvals[0]} failed"
    assert seen.retvals[1] == expectation.retval, f"check {seen.retvals[1]} failed on a used heap"
    assert sum(cpu["allocations"] for cpu in seen.stats) > 0, "the counters did not move"


@needs_clang19
@on_arena_kernel
@pytest.mark.parametrize("where", [WHERE])
def test_user_space_walks_the_list_through_the_arena_mmap(objects, guest, where):
    """list_keep leaves a 50-node list in the heap; the loader's process follows it in libbpf's
    mapping of the arena (read as it is after the run: here, or in the guest, which sends the
    mapped pages back). Stored pointers are the kernel form (the lower 32 bits, see the
    header's ARENA BACKEND), so user space puts its mapping's upper 32 bits in front."""
    seen = observe(guest, objects[ARENA / "list.bpf.c"], "list_keep")
    assert seen.retvals[0] == 0
    (head,) = struct.unpack("<Q", seen.globals["kept_head"])
    (mapped,) = struct.unpack("<Q", seen.globals["heap_user"])
    assert head and head >> 32 == 0 and mapped >> 32, (hex(head), hex(mapped))
    assert seen.arena is not None, "no arena mapped"
    base, memory = seen.arena
    assert base >> 32 == mapped >> 32, (hex(base), hex(mapped))
    values, node = [], (mapped & ~0xFFFFFFFF) | head
    while node and len(values) <= 50:
        assert base <= node < base + len(memory) - 16, f"{node:#x} is outside the arena's mapping"
        value, following = struct.unpack_from("<QQ", memory, node - base)
        values.append(value)
        node = (mapped & ~0xFFFFFFFF) | following if following else 0
    assert values == list(range(50, 0, -1))


@needs_clang19
@on_arena_kernel
@pytest.mark.parametrize("where", [WHERE])
def test_stress_on_two_cpus_at_once(objects, guest, one_cpu, where):
    """Two CPUs share the heap (stress.bpf.c documents the workload). While one holds the
    heap's lock the other's mallocs wait it out and its frees are deferred (the header's
    CONTENTION): the heap always has room, so no malloc may fail, every block comes back,
    and a block handed out twice fails the run with a foreign tag."""
    seen = observe(guest, objects[ARENA / "stress.bpf.c"], "stress_shared", STRESS_PLAN, one_cpu)
    assert seen.retvals == [0, 0, 0], "a run failed (10+: a malloc returned NULL, 20+: a foreign tag)"
    total = {field: sum(cpu[field] for cpu in seen.stats) % 2**64 for field in STATS_FIELDS}
    runs = 2 * STRESS_RUNS + PLAN.runs * STRESS_PLAN.again  # both CPUs, then the run again
    assert total["failed_allocations"] == 0, f"a spurious out-of-memory: {total}"
    assert total["allocations"] == total["frees"] == runs * 16, total
    assert total["bytes_in_use"] == 0 and total["rejected_frees"] == 0, total
    assert sum(1 for cpu in seen.stats if cpu["allocations"]) == 2, "both CPUs ran"
    # `contended`: the frees deferred (and mallocs served without the lock). Not zero: the
    # CPUs did meet, so the above held under contention, not for want of it.
    assert total["contended"] > 0, total


def test_clang14_stops_with_the_arena_error(tmp_path):
    from verifier_doctor.kernel.build import compile_program

    if "clang-14" not in COMPILERS:
        pytest.skip("clang-14 is not installed")
    with pytest.raises(BuildFailed) as failed:
        compile_program(ARENA / "list.bpf.c", tmp_path, "clang-14")
    assert "STATIC_MALLOC_ARENA needs clang 19 or newer" in str(failed.value)


BAD_CONFIGURATIONS = {
    "#define STATIC_MALLOC_HEAP_SIZE 6000": "STATIC_MALLOC_HEAP_SIZE must be a multiple of 4096",
    "#define STATIC_MALLOC_HEAP_SIZE 4096": "STATIC_MALLOC_HEAP_SIZE must be between 8 KiB and 64 MiB",
    "#define STATIC_MALLOC_PERCPU": "STATIC_MALLOC_ARENA is a backend of its own",
}


@needs_clang19
@pytest.mark.parametrize("line", BAD_CONFIGURATIONS)
def test_a_bad_arena_configuration_is_a_compile_error(tmp_path, line):
    from verifier_doctor.kernel.build import compile_program

    source = tmp_path / "bad.bpf.c"
    source.write_text(f"#define STATIC_MALLOC_ARENA\n{line}\n#include \"static_malloc.h\"\n")
    with pytest.raises(BuildFailed) as failed:
        compile_program(source, tmp_path, CC)
    assert BAD_CONFIGURATIONS[line] in str(failed.value)


@pytest.fixture(scope="module")
def guest_runs(objects):
    """Every arena program in every kernel of the matrix: one boot per kernel."""
    from verifier_doctor.kernel.qemu import load_in_guests

    return load_in_guests(SUPPORTED, list(objects.values()), runs=1, timeout=1200)


@needs_clang19
@pytest.mark.qemu
@pytest.mark.allocator_matrix
@pytest.mark.parametrize("version", SUPPORTED)
def test_arena_on_every_kernel_of_the_matrix(objects, guest_runs, version):
    """6.12, 7.2 and 7.3 run every arena program; 5.10 and 6.1 refuse to create the arena."""
    run = guest_runs[version]
    assert not isinstance(run, Exception), f"{version}: {run}"
    failures = []
    for expectation in EXPECTATIONS:
        obj = objects[expectation.source]
        load = next((l for l in run.results[obj] if l.name == expectation.program), None)
        where = f"{version} {expectation.source.stem}:{expectation.program}"
        if expectation.needs_newer_than(version):
            if load is None or load.accepted or "map 'static_arena': failed to create" not in load.log:
                failures.append(f"{where}: not refused at the arena map" + (f":\n{load.log[-600:]}" if load else ""))
            continue
        if load is None or not load.accepted:
            failures.append(f"{where}: not accepted" + (f":\n{load.log[-1500:]}" if load else ""))
            continue
        result = run.runs.get((obj, expectation.program))
        if result is None or result.retval != expectation.retval:
            failures.append(f"{where}: returned {result.retval if result else None}")
    assert not failures, "\n".join(failures)


def _linked(out: Path) -> Path | None:
    """link_a.o (the heap) and link_b.o (STATIC_MALLOC_ARENA_EXTERN) linked into one object."""
    from verifier_doctor.kernel.build import compile_program

    if shutil.which("bpftool") is None:
        return None
    halves = [compile_program(ARENA / "link" / name, out, CC, include_dirs=[ARENA])
              for name in ("link_a.bpf.c", "link_b.bpf.c")]
    linked = out / "linked.o"
    done = subprocess.run(["bpftool", "gen", "object", str(linked), *map(str, halves)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return linked


@needs_clang19
@on_arena_kernel
@pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool links the objects")
@pytest.mark.parametrize("where", [WHERE])
def test_two_objects_linked_with_bpftool_share_one_heap(guest, tmp_path, where):
    """link_a.o holds the heap, link_b.o (STATIC_MALLOC_ARENA_EXTERN) uses it."""
    linked = guest[2] if guest is not None else _linked(tmp_path)
    seen = observe(guest, linked, "link_main")
    assert seen.retvals[0] == 0
    assert seen.retvals[1] == 0, "failed on a heap used before"
