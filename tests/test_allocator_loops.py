"""The allocator inside plain C loops (issue 21): tests/allocator/loops/, in the kernel.

lists*.bpf.c build, walk and free a list of LOOP_N nodes; heap4k*.bpf.c fill a small heap and
drain it twice, in loops of 64; tree*.bpf.c insert 256 keys into a binary search tree, look each
up, and free the tree, in loops. Each program is tagged `vdoctor-test: expect 0` like the
programs of test_allocator.py. They are built here with LOOP_N = 4000 for the running kernel;
test_allocator.py's QEMU matrix runs them with LOOP_N = 1000 in the same boot as its own
programs (build_loop_objects). loops.h holds one loop per operation and its .bss-array floor:
every one must load with LOOP_N = 4000 on the running kernel, with clang-14 and clang-19.

The arena variants (*_arena.bpf.c, clang-19) run where the kernel creates BPF arena maps:
`verifier_doctor.kernel.probe.map_type_available("arena")` decides for the running kernel, and
the QEMU matrix runs them on 6.12, 7.2 and 7.3 (5.10 and 6.1 must refuse them).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import kernel_loads_bpf

LOOPS = Path(__file__).resolve().parent / "allocator" / "loops"
COMPILERS = [cc for cc in ("clang-19", "clang-14") if shutil.which(cc)]
TAG = "vdoctor-test: expect 0"
HOST_N = 4000
MATRIX_N = 1000

needs_kernel = pytest.mark.skipif(not kernel_loads_bpf(), reason="the running kernel does not load BPF here")


def loop_sources() -> list[Path]:
    return sorted(LOOPS.glob("*.bpf.c"))


def is_arena(source: Path) -> bool:
    return source.name.endswith("_arena.bpf.c")


def tagged_programs(source: Path) -> list[str]:
    """The programs of a test file (its own text and the header it includes) tagged expect 0."""
    text = source.read_text()
    for included in re.findall(r'#include "([^"]+\.h)"', text):
        if (LOOPS / included).is_file():
            text += (LOOPS / included).read_text()
    lines = text.splitlines()
    names = []
    for number, line in enumerate(lines):
        if TAG in line:
            following = next(l for l in lines[number + 1:] if l.startswith("int "))
            names.append(following.split("(")[0].split()[-1])
    return names


def build_loop_object(source: Path, out: Path, cc: str, n: int) -> Path:
    """`source` compiled with LOOP_N = n (a wrapper file that defines it and includes the source)."""
    from verifier_doctor.kernel.build import compile_program

    out.mkdir(parents=True, exist_ok=True)
    wrapper = out / f"{source.stem.removesuffix('.bpf')}_n{n}.bpf.c"
    wrapper.write_text(f'#define LOOP_N {n}\n#include "{source}"\n')
    return compile_program(wrapper, out, cc, include_dirs=[LOOPS])


def build_loop_objects(out: Path, cc: str, n: int = MATRIX_N) -> dict[Path, Path]:
    """Every test file of tests/allocator/loops for one compiler (the arena ones need clang 19)."""
    return {source: build_loop_object(source, out, cc, n) for source in loop_sources()
            if not (is_arena(source) and cc != "clang-19")}


def arena_on_this_kernel() -> bool:
    from verifier_doctor.kernel.probe import map_type_available

    return map_type_available("arena")


def test_every_loop_file_is_tagged():
    for source in loop_sources():
        assert tagged_programs(source), f"{source.name} has no vdoctor-test tag"


CASES = [(cc, source, name) for cc in COMPILERS for source in loop_sources()
         if not (is_arena(source) and cc != "clang-19") for name in tagged_programs(source)]


@pytest.fixture(autouse=True)
def one_cpu():
    """Each program checks this CPU's bytes in use before and after: run on one CPU."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    yield
    os.sched_setaffinity(0, before)


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("cc, source, name", CASES, ids=[f"{cc}:{s.stem}:{n}" for cc, s, n in CASES])
def test_loops_on_the_running_kernel(tmp_path, cc, source, name):
    from verifier_doctor.kernel.loader import load_each_program, open_program

    if is_arena(source) and not arena_on_this_kernel():
        pytest.skip("the running kernel creates no BPF arena map (probe); the arena loops run in "
                    "the QEMU matrix on 6.12, 7.2 and 7.3 (pytest -m allocator_matrix tests/test_allocator.py)")
    obj = build_loop_object(source, tmp_path, cc, HOST_N)
    load = next(l for l in load_each_program(obj) if l.name == name)
    assert load.accepted, load.log[-2000:]
    with open_program(obj, name) as prog:
        assert prog.test_run().retval == 0
        assert prog.test_run(repeat=3).retval == 0, "failed on a heap used before"


OPERATIONS = ["op_push", "op_walk", "op_free", "op_pair", "op_mixed", "op_calloc", "op_realloc"]
# Operations whose loop loads only with fewer iterations than HOST_N (none since static_realloc
# became one global call, like the others).
LARGEST_N: dict[str, int] = {}


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("cc", COMPILERS)
@pytest.mark.parametrize("n", sorted({HOST_N, *LARGEST_N.values()}))
def test_each_operation_loads_in_a_loop(tmp_path, cc, n):
    """loops.h: one loop of HOST_N iterations per operation (LARGEST_N where less) and its
    array floor, all load."""
    from verifier_doctor.kernel.loader import load_each_program

    obj = build_loop_object(LOOPS / "loops.h", tmp_path, cc, n)
    loads = {l.name: l for l in load_each_program(obj)}
    for name in OPERATIONS + [op.replace("op_", "floor_") for op in OPERATIONS]:
        if LARGEST_N.get(name, HOST_N) == n or (name.startswith("floor_") and n == HOST_N):
            assert loads[name].accepted, f"{name}: {loads[name].log[-1500:]}"


def test_the_bench_asks_the_probe_before_the_arena_rows(monkeypatch):
    """`make bench` (scripts/bench_allocator.py) skips the arena rows, saying why, where libbpf's
    probe finds no arena map type, and runs them where it finds one; the probe's answer is faked
    both ways here."""
    import sys

    from verifier_doctor.kernel import probe

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import bench_allocator

    asked = []
    monkeypatch.setattr(probe, "map_type_available", lambda name: asked.append(name) or False)
    assert "no BPF arena map" in bench_allocator.arena_unavailable()
    monkeypatch.setattr(probe, "map_type_available", lambda name: asked.append(name) or True)
    assert bench_allocator.arena_unavailable() is None
    assert asked == ["arena", "arena"]


def test_the_bench_times_glibc_and_jemalloc_in_user_space():
    """`make bench`'s user-space rows: user_malloc.c built against glibc and linked with
    -ljemalloc, each binary saying which malloc it really calls (jemalloc exports mallctl), with
    a time per 64 B pair and per mixed-size pair (numbers are reported, never judged here)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import bench_allocator

    rows = bench_allocator.bench_user(repeat=100, trials=1)
    assert list(rows) == ["glibc", "jemalloc"]
    for name, row in rows.items():
        assert "skipped" not in row, f"{name}: {row.get('skipped')}"
        assert row["allocator"] == name and row["failures"] == 0
        assert row["pair64"] > 0 and row["mixed"] > 0 and row["empty"] >= 0
