"""The arena backend of the shipped allocator (`#define STATIC_MALLOC_ARENA`), in the kernel.

The programs of tests/allocator/arena/ are tagged as those of tests/allocator/progs/ are
(`/* vdoctor-test: expect N since 6.9 */`) and collected by test_allocator.py's own reader.
The arena needs kernel 6.9 and clang 19 (__BPF_FEATURE_ADDR_SPACE_CAST): clang 14 must stop
with the header's #error, and the kernels of the matrix older than 6.9 must refuse the object.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import struct
import threading
from pathlib import Path

import pytest

import test_allocator
from test_allocator import COMPILERS, STATS_FIELDS, needs_kernel, one_cpu, per_cpu_stats  # noqa: F401 (a fixture)
from verifier_doctor.errors import BuildFailed
from verifier_doctor.kernel.kernels import SUPPORTED

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


@needs_clang19
@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("expectation", EXPECTATIONS, ids=lambda e: f"{e.source.stem}:{e.program}")
def test_arena_program_on_the_running_kernel(objects, expectation):
    from verifier_doctor.kernel.loader import open_program

    with open_program(objects[expectation.source], expectation.program) as loaded:
        first = loaded.test_run(repeat=1)
        assert first.retval == expectation.retval, f"check {first.retval} failed"
        again = loaded.test_run(repeat=3)
        assert again.retval == expectation.retval, f"check {again.retval} failed on a used heap"
        stats = per_cpu_stats(loaded.read_global("static_stats"))
    assert sum(cpu["allocations"] for cpu in stats) > 0, "the counters did not move"


@needs_clang19
@needs_kernel
@pytest.mark.kernel
def test_user_space_walks_the_list_through_the_arena_mmap(objects):
    """list_keep leaves a 50-node list in the heap; this process follows it in libbpf's
    mapping of the arena. Stored pointers are the kernel form (the lower 32 bits, see the
    header's ARENA BACKEND), so user space puts its mapping's upper 32 bits in front."""
    from verifier_doctor.kernel.loader import open_program

    with open_program(objects[ARENA / "list.bpf.c"], "list_keep") as loaded:
        assert loaded.test_run().retval == 0
        (head,) = struct.unpack("<Q", loaded.read_global("kept_head"))
        (mapped,) = struct.unpack("<Q", loaded.read_global("heap_user"))
        assert head and head >> 32 == 0 and mapped >> 32, (hex(head), hex(mapped))
        values, node = [], (mapped & ~0xFFFFFFFF) | head
        while node and len(values) <= 50:
            value, following = struct.unpack("<QQ", ctypes.string_at(node, 16))
            values.append(value)
            node = (mapped & ~0xFFFFFFFF) | following if following else 0
    assert values == list(range(50, 0, -1))


STRESS_RUNS = 100000  # runs of stress_shared per CPU (16 allocations each, ~0.5 s): long enough to overlap


@needs_clang19
@needs_kernel
@pytest.mark.kernel
def test_stress_on_two_cpus_at_once(objects, one_cpu):
    """Two CPUs share the heap (stress.bpf.c documents the workload); a block handed out
    twice fails the run with a foreign tag."""
    from verifier_doctor.kernel.loader import open_program

    if len(one_cpu) < 2:
        pytest.skip("needs two CPUs")
    cpus = one_cpu[:2]
    with open_program(objects[ARENA / "stress.bpf.c"], "stress_shared") as prog:
        start, returned = threading.Barrier(len(cpus)), {}

        def runner(cpu: int) -> None:
            os.sched_setaffinity(0, {cpu})  # this thread only
            start.wait()
            returned[cpu] = prog.test_run(repeat=STRESS_RUNS).retval

        threads = [threading.Thread(target=runner, args=(cpu,)) for cpu in cpus]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert prog.test_run(data=None).retval == 0
        stats = per_cpu_stats(prog.read_global("static_stats"))
    assert returned == {cpu: 0 for cpu in cpus}, "a run failed (10+: allocation, 20+: foreign tag)"
    total = {field: sum(cpu[field] for cpu in stats) % 2**64 for field in STATS_FIELDS}
    # An operation that finds the heap busy for STATIC_MALLOC_SPIN_TRIES (its holder's vCPU
    # taken away) counts in `contended`: a malloc that fails, or a free that is dropped (the
    # arena backend leaks that block, as its manual says). Nothing else may fail or go missing.
    dropped_frees = total["contended"] - total["failed_allocations"]
    assert dropped_frees >= 0, total
    assert total["allocations"] - total["frees"] == dropped_frees, total
    assert total["frees"] >= len(cpus) * STRESS_RUNS * 16 * 9 // 10, total
    # A dropped free may also count as rejected; no other free may be.
    assert (total["bytes_in_use"] == 0) == (dropped_frees == 0), total
    assert total["rejected_frees"] <= dropped_frees, total
    assert sum(1 for cpu in stats if cpu["allocations"]) == len(cpus)


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


@needs_clang19
@needs_kernel
@pytest.mark.kernel
@pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool links the objects")
def test_two_objects_linked_with_bpftool_share_one_heap(tmp_path):
    """link_a.o holds the heap, link_b.o (STATIC_MALLOC_ARENA_EXTERN) uses it."""
    from verifier_doctor.kernel.build import compile_program
    from verifier_doctor.kernel.loader import open_program

    halves = [compile_program(ARENA / "link" / name, tmp_path, CC, include_dirs=[ARENA])
              for name in ("link_a.bpf.c", "link_b.bpf.c")]
    linked = tmp_path / "linked.o"
    done = subprocess.run(["bpftool", "gen", "object", str(linked), *map(str, halves)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open_program(linked, "link_main") as prog:
        assert prog.test_run().retval == 0
        assert prog.test_run(repeat=3).retval == 0, "failed on a heap used before"
