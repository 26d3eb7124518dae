"""`make bench`: static_malloc against a bump pointer and the kernel's bpf_obj_new, in the kernel.

XDP programs (tests/allocator/bench/loop_*.bpf.c) run the same loop of K = 64 iterations
per run: nothing (bench_empty), a 64-byte bump-pointer allocation from a map value plus one
write (bench_bump), static_malloc(64) + write + static_free (bench_static), and
bpf_obj_new(64-byte struct) + write + bpf_obj_drop (bench_obj_new); for comparison,
static_malloc built with STATIC_MALLOC_INLINE, NO_LOCK, PERCPU and ARENA (the arena with
mixed sizes too; loop_static_*.bpf.c, one loop in loop_static.h). Two floors sit beside the
bump pointer: bench_percpu_slot looks up this CPU's map value, takes the block parked in its
one slot, writes into it, looks the value up again and parks the block back, checking
nothing; bench_shared_slot does the same with the slot in .bss (no lookup). They show what a
per-CPU allocator cannot go below. Each is run with
BPF_PROG_TEST_RUN and `repeat` R, so the kernel times R runs and reports the mean time of
one; we take the median of several trials, interleaved across the programs, with this
process pinned to one CPU. The cost of one operation (pair) is

    (ns per run of the program - ns per run of bench_empty) / K

Then the verifier's price of a call site: tests/allocator/bench/sites.bpf.c has programs
with 0, 1 and 2 call sites of static_malloc + static_free, of static_malloc alone, and of
static_free alone; the differences of their "processed N insns" lines are printed for
clang-19 and clang-14, and again with STATIC_MALLOC_INLINE (sites_inline.bpf.c). The first site of a function also pays for verifying the global
function behind it (once per program), so 0 -> 1 and 1 -> 2 are shown apart.

A mixed-size row (bench_static_mixed) asks for 16, 64, 200 and 512 bytes in turn. The
user's hello program (examples/hello_malloc.bpf.c, rewritten as `vdoctor fix` does) is
loaded too, for its total of processed insns.

Before and after in one run: every static_malloc program, call-site count and loop slope is
also built against the header of an earlier commit (--before, default BEFORE_REV: the
header before issue 21's loop rule), read with `git show`, and shown beside the current
one. --before '' (or no git) leaves the "before" columns out.

The loop budget (issue 21) comes first: tests/allocator/loops/loops.h has one plain C loop
per operation (malloc and push, walk with static_ptr, static_ptr + static_free, pairs of
64 B and of mixed sizes, calloc, realloc) and the same loop over a .bss array of nodes with
__u32 indices and a free list (the floor). For clang-19 and clang-14 on the running kernel:
processed insns per iteration (the slope between two LOOP_N), the branches the verifier
could not decide per iteration (states pushed, from level-2 logs at two LOOP_N), and the
largest LOOP_N that loads (clang-19: doubling from 1000, then bisected; --no-bisect skips it).

The arena rows need a kernel that creates BPF arena maps: libbpf's probe
(verifier_doctor.kernel.probe) decides, and where it says no the rows say why they are
skipped on this kernel and are timed instead, beside the classic backend's, in one boot of a
Linux 6.12 guest under QEMU (--no-guest skips it). QEMU emulates the CPU (TCG): the guest's
numbers compare only with each other (arena / classic), never with this machine's.

User space, in the same run (issue 21): tests/allocator/bench/user_malloc.c, the same loop
(malloc + one 8-byte write + free, 64 B or 16/64/200/512 B in turn, K per run, minus the
empty loop), built with gcc -O2 against glibc's malloc and against jemalloc (-ljemalloc,
libjemalloc-dev), run on the CPU this process is pinned to, timed with the thread's CPU
clock, median of the same number of trials.

Targets (issue 21, point 3): the 64 B pair and the mixed-size pair each no slower than the
best of glibc and jemalloc; the 64 B pair at least 30x faster than bpf_obj_new +
bpf_obj_drop; the arena backend's pairs at most 2x the classic backend's (on this kernel, or
in the guest). The verifier's: first call site at most 3,000 processed insns, each further
one at most 150, the hello program at most 3,000. They are printed as met / not met, never
asserted: this is a benchmark, not a test. `--json` prints the same numbers as one JSON
object instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SOURCES = ROOT / "tests" / "allocator" / "bench"
BUILD = ROOT / "build" / "bench" / "allocator"
K = 64  # iterations per run, BENCH_K in every loop_*.bpf.c
BLOCK = 64  # bytes per allocation
XDP_PASS = 2
TIMING_CC = "clang-19"
SITE_CCS = ("clang-19", "clang-14")

# (program, object source, label)
LOOPS = [
    ("bench_empty", "loop_baseline.bpf.c", "empty loop"),
    ("bench_bump", "loop_baseline.bpf.c", "bump pointer"),
    # Floors, not allocators (one slot, nothing checked): what a per-CPU design pays at least.
    ("bench_percpu_slot", "loop_baseline.bpf.c", "  floor: per-CPU slot"),
    ("bench_shared_slot", "loop_baseline.bpf.c", "  floor: .bss slot"),
    ("bench_static", "loop_static.bpf.c", "static_malloc + static_free"),
    ("bench_static_mixed", "loop_static.bpf.c", "  same, sizes 16/64/200/512"),
    ("bench_obj_new", "loop_obj_new.bpf.c", "bpf_obj_new + bpf_obj_drop"),
    # For comparison: the fast paths inline at the call site, and the lock-free modes.
    ("bench_static_inline", "loop_static_inline.bpf.c", "  same, STATIC_MALLOC_INLINE"),
    ("bench_static_nolock", "loop_static_nolock.bpf.c", "  same, STATIC_MALLOC_NO_LOCK"),
    ("bench_static_percpu", "loop_static_percpu.bpf.c", "  same, STATIC_MALLOC_PERCPU"),
    ("bench_static_arena", "loop_static_arena.bpf.c", "  same, STATIC_MALLOC_ARENA"),
    ("bench_static_arena_mixed", "loop_static_arena.bpf.c", "  arena, sizes 16/64/200/512"),
]

# What each call-site row subtracts: (label, [programs with 0, 1, 2 sites]).
SITES = [
    ("static_malloc + static_free", ["sites_none", "sites_pair1", "sites_pair2"]),
    ("static_malloc alone", ["sites_none", "sites_malloc1", "sites_malloc2"]),
    ("static_free alone", ["sites_malloc1", "sites_free1", "sites_free2"]),
]

BEFORE_REV = "713245c"  # the header before issue 21 (call sites with branches the verifier cannot decide)
HELLO = ROOT / "examples" / "hello_malloc.bpf.c"
TARGET_FIRST_SITE = 3000
TARGET_NEXT_SITE = 150
TARGET_HELLO = 3000
TARGET_USER_RATIO = 1.0  # pair <= the best of glibc and jemalloc in user space (issue 21)
TARGET_OBJ_NEW_SPEEDUP = 30.0  # pair >= 30x faster than bpf_obj_new
TARGET_ARENA_RATIO = 2.0  # arena pair <= 2x the classic pair

_PROCESSED = re.compile(r"processed (\d+) insns")
STATS_FIELDS = ("bytes_in_use", "peak_bytes", "allocations", "frees", "failed_allocations", "rejected_frees", "contended")


def summed_stats(raw: bytes) -> dict[str, int]:
    """The counters at the start of each CPU's value of `static_stats`, summed over the CPUs."""
    from verifier_doctor.kernel.loader import per_cpu_values

    rows = [struct.unpack_from(f"<{len(STATS_FIELDS)}Q", value) for value in per_cpu_values(raw)]
    return {field: sum(row[j] for row in rows) % 2**64 for j, field in enumerate(STATS_FIELDS)}


def processed(log: str) -> int | None:
    found = _PROCESSED.findall(log)
    return int(found[-1]) if found else None


def verifier_reason(log: str, lines: int = 3) -> str:
    """The last lines of the verifier's log before its statistics: why it said no."""
    body = log.split("-- BEGIN PROG LOAD LOG --")[-1].split("-- END PROG LOAD LOG --")[0]
    kept = [l for l in body.splitlines() if l.strip() and not l.startswith(("processed ", "verification time", "stack depth"))]
    tail = kept[-lines:] if kept else [l for l in log.splitlines() if l.strip()][-lines:]
    return " | ".join(l.strip() for l in tail)


def pin_to_one_cpu() -> int | None:
    """Pin this process (BPF_PROG_TEST_RUN runs the program on the caller's CPU) to one CPU."""
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return cpu
    except (AttributeError, OSError):
        return None


def prog_sizes(fd: int) -> dict:
    """Translated and JIT-ed size of a loaded program, from bpftool (empty if it is missing)."""
    if shutil.which("bpftool") is None:
        return {}
    try:
        prog_id = int(re.search(r"^prog_id:\s*(\d+)", Path(f"/proc/self/fdinfo/{fd}").read_text(), re.M).group(1))
        out = subprocess.run(["bpftool", "-j", "prog", "show", "id", str(prog_id)], capture_output=True, text=True, timeout=30)
        info = json.loads(out.stdout)
    except (AttributeError, OSError, ValueError, subprocess.SubprocessError):
        return {}
    return {"prog_id": prog_id, "xlated_insns": info.get("bytes_xlated", 0) // 8, "jited_bytes": info.get("bytes_jited")}


def build(source: str | Path, cc: str, header: Path | None = None) -> Path:
    """Compile a bench source; with `header`, against the static_malloc.h in that folder."""
    from verifier_doctor.kernel.build import compile_program

    path = source if isinstance(source, Path) else SOURCES / source
    if header is None:
        return compile_program(path, BUILD / cc, cc=cc)
    return compile_program(path, BUILD / f"{cc}-before", cc=cc, include_dirs=[header])


def before_header(rev: str) -> Path | None:
    """static_malloc.h of commit `rev`, in a folder of its own; None without git or that commit."""
    if not rev or shutil.which("git") is None:
        return None
    out = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:allocator_c/static_malloc.h"],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return None
    folder = BUILD / "before-header"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "static_malloc.h").write_text(out.stdout)
    return folder


def hello_source() -> Path:
    """The user's hello program as `vdoctor fix` rewrites it."""
    from verifier_doctor.fix import rewrite_malloc

    out = BUILD / "hello_fixed.bpf.c"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(rewrite_malloc(HELLO.read_text()).text)
    return out


def arena_unavailable() -> str | None:
    """Why the arena rows cannot run on this kernel (None: they can): the probe decides."""
    from verifier_doctor.kernel.probe import map_type_available

    if map_type_available("arena"):
        return None
    return "the running kernel creates no BPF arena map (libbpf's probe): the arena rows are skipped here"


USER_SOURCE = SOURCES / "user_malloc.c"
# (row, extra gcc arguments): the same loops in user space, against each allocator
USER_ALLOCATORS = [("glibc", []), ("jemalloc", ["-ljemalloc"])]


def bench_user(repeat: int, trials: int) -> dict:
    """User space (tests/allocator/bench/user_malloc.c, gcc -O2, this process's one CPU, thread
    CPU time): ns per 64 B pair and per mixed-size pair for glibc and jemalloc, or why not."""
    out = {}
    for name, extra in USER_ALLOCATORS:
        binary = BUILD / f"user_malloc_{name}"
        binary.parent.mkdir(parents=True, exist_ok=True)
        if shutil.which("gcc") is None:
            out[name] = {"skipped": "gcc is not installed (make deps)"}
            continue
        built = subprocess.run(["gcc", "-O2", "-o", str(binary), str(USER_SOURCE), *extra],
                               capture_output=True, text=True, timeout=120)
        if built.returncode != 0:
            why = next((l for l in built.stderr.splitlines() if "error" in l), built.stderr.strip()[:200])
            out[name] = {"skipped": f"does not build (make deps installs libjemalloc-dev): {why.strip()}"}
            continue
        ran = subprocess.run([str(binary), str(repeat), str(trials)], capture_output=True, text=True, timeout=600)
        try:
            row = json.loads(ran.stdout)
        except ValueError:
            out[name] = {"skipped": f"did not run: {ran.stderr.strip()[:200]}"}
            continue
        if row["allocator"] != name:  # the link did not give us the allocator we asked for
            out[name] = {"skipped": f"the binary linked with {extra} uses {row['allocator']}'s malloc"}
            continue
        row["pair_ns"] = (row["pair64"] - row["empty"]) / K
        row["mixed_ns"] = (row["mixed"] - row["empty"]) / K
        out[name] = row
    return out


GUEST_KERNEL = "6.12"  # the first kernel of the matrix with arenas
GUEST_REPEAT = 2000  # runs per BPF_PROG_TEST_RUN in the guest (TCG is ~10-50x slower)
# (program, object source) timed in the guest: the empty loop, the classic and the arena backend
GUEST_ROWS = [("bench_empty", "loop_baseline.bpf.c"), ("bench_static", "loop_static.bpf.c"),
              ("bench_static_mixed", "loop_static.bpf.c"), ("bench_static_arena", "loop_static_arena.bpf.c"),
              ("bench_static_arena_mixed", "loop_static_arena.bpf.c")]


def bench_guest(repeat: int, trials: int) -> dict:
    """Where the running kernel has no arenas: the classic and the arena rows in one boot of a
    QEMU kernel that has them. TCG emulates the CPU, so only ratios within the guest mean
    anything. Each object is loaded `trials` times (copies), each program run `repeat` times."""
    from verifier_doctor.errors import VdoctorError
    from verifier_doctor.kernel.qemu import RunPlan, load_in_guest

    try:
        built = {source: build(source, TIMING_CC) for source in dict.fromkeys(s for _n, s in GUEST_ROWS)}
        copies = {}
        for source, obj in built.items():
            for t in range(trials):
                copy = BUILD / "guest" / f"t{t}_{obj.name}"
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(obj, copy)
                copies[copy] = source
        plan = RunPlan(runs=repeat, again=repeat)
        run = load_in_guest(GUEST_KERNEL, list(copies), plans=dict.fromkeys(copies, plan), timeout=1800)
    except VdoctorError as error:
        return {"kernel": GUEST_KERNEL, "skipped": str(error).splitlines()[0]}
    samples: dict[str, list[int]] = {name: [] for name, _s in GUEST_ROWS}
    insns: dict[str, int | None] = {}
    for copy, source in copies.items():
        for load in run.results[copy]:
            if load.name not in samples:
                continue
            insns[load.name] = processed(load.log) if load.accepted else None
            series = run.run_series.get((copy, load.name), [])
            samples[load.name] += [r.duration_ns for r in series[1:] if r.retval == XDP_PASS]  # warm runs
    programs = {name: {"ns_per_run": statistics.median(v), "ns_per_run_trials": v, "verifier_insns": insns.get(name)}
                for name, v in samples.items() if v}
    empty = programs.get("bench_empty", {}).get("ns_per_run")
    for entry in programs.values():
        entry["ns_per_op"] = None if empty is None else (entry["ns_per_run"] - empty) / K
    return {"kernel": GUEST_KERNEL, "release": run.release, "repeat": repeat, "trials": trials,
            "programs": programs, "missing": [name for name in samples if name not in programs]}


def bench_speed(repeat: int, trials: int, header: Path | None, skip_arena: str | None = None) -> dict:
    from verifier_doctor.errors import VdoctorError
    from verifier_doctor.kernel.loader import load_each_program, open_program

    cpu = pin_to_one_cpu()
    loaded, skipped = {}, {}
    builds = [(name, source, None) for name, source, _label in LOOPS]
    if header is not None:  # the static_malloc programs again, against the earlier header
        builds += [(name, source, header) for name, source, _label in LOOPS if name.startswith("bench_static")]
    try:
        for name, source, hdr in builds:
            key = name if hdr is None else f"{name}@before"
            if skip_arena and "arena" in source:
                skipped[key] = skip_arena
                continue
            try:
                obj = build(source, TIMING_CC, hdr)
            except VdoctorError as error:
                lines = str(error).splitlines()
                why = next((l for l in lines if "error:" in l), lines[-1] if lines else "")
                skipped[key] = f"does not compile: {why.strip()}"
                continue
            try:
                loaded[key] = open_program(obj, name)
            except VdoctorError as error:
                load = next((l for l in load_each_program(obj) if l.name == name), None)
                skipped[key] = f"{error} Verifier: {verifier_reason(load.log) if load else '(no log)'}"
        if "bench_empty" not in loaded:
            raise SystemExit(f"the empty loop does not load, nothing to compare with: {skipped.get('bench_empty')}")

        samples: dict[str, list[int]] = {name: [] for name in loaded}
        for prog in loaded.values():
            prog.test_run(repeat=max(1, repeat // 10))  # warm up caches, the heap and bpf_mem_alloc
        for _ in range(trials):  # interleaved, so that a slow moment hits every program alike
            for name, prog in loaded.items():
                run = prog.test_run(repeat=repeat)
                if run.retval != XDP_PASS:
                    skipped.setdefault(name, f"returned {run.retval}, not XDP_PASS")
                samples[name].append(run.duration_ns)

        results = {}
        for name, prog in loaded.items():
            failures = prog.read_global("failures")
            entry = {
                "ns_per_run": statistics.median(samples[name]),
                "ns_per_run_trials": samples[name],
                "failed_allocations": struct.unpack("<Q", failures)[0] if failures else None,
                "verifier_insns": processed(prog.load.log),
                **prog_sizes(prog.fd),
            }
            if name.startswith("bench_static"):
                raw = prog.read_global("static_stats")  # per-CPU values come one after the other: sum them
                if raw:
                    entry["static_stats"] = summed_stats(raw)
            results[name] = entry
    finally:
        for prog in loaded.values():
            prog.close()

    loop = results["bench_empty"]["ns_per_run"] / K
    for name, entry in results.items():
        entry["ns_per_iteration"] = entry["ns_per_run"] / K
        entry["ns_per_op"] = None if name == "bench_empty" else (entry["ns_per_run"] - results["bench_empty"]["ns_per_run"]) / K
    return {"cpu": cpu, "repeat": repeat, "trials": trials, "k": K, "block_bytes": BLOCK,
            "loop_ns_per_iteration": loop, "programs": results, "skipped": skipped}


def bench_sites(cc: str, source: str, header: Path | None = None) -> dict:
    from verifier_doctor.errors import VdoctorError
    from verifier_doctor.kernel.loader import load_each_program

    try:
        obj = build(source, cc, header)
    except VdoctorError as error:
        return {"error": str(error).splitlines()[0]}
    counts, errors = {}, {}
    for load in load_each_program(obj):
        counts[load.name] = processed(load.log) if load.accepted else None
        if not load.accepted:
            errors[load.name] = verifier_reason(load.log)
    rows = {}
    for label, (p0, p1, p2) in SITES:
        c0, c1, c2 = counts.get(p0), counts.get(p1), counts.get(p2)
        rows[label] = {
            "programs": [p0, p1, p2],
            "processed": [c0, c1, c2],
            "first_site": None if None in (c0, c1) else c1 - c0,
            "next_site": None if None in (c1, c2) else c2 - c1,
        }
    return {"rows": rows, "processed": counts, "errors": errors}


def bench_hello(cc: str, header: Path | None = None) -> int | str:
    """Processed insns of the user's hello program after `vdoctor fix`, or why it did not load."""
    from verifier_doctor.errors import VdoctorError
    from verifier_doctor.kernel.loader import load_each_program

    try:
        obj = build(hello_source(), cc, header)
    except VdoctorError as error:
        return str(error).splitlines()[0]
    loads = list(load_each_program(obj))
    if not loads or not loads[0].accepted:
        return "rejected: " + (verifier_reason(loads[0].log) if loads else "no program")
    return processed(loads[0].log)


LOOPS_H = ROOT / "tests" / "allocator" / "loops" / "loops.h"
# (operation, its floor over a plain .bss array of nodes with __u32 indices and a free list)
LOOP_OPS = [
    ("malloc + push", "op_push", "floor_push"),
    ("walk, n = static_ptr(n->next)", "op_walk", "floor_walk"),
    ("static_ptr + static_free", "op_free", "floor_free"),
    ("pair, 64 B", "op_pair", "floor_pair"),
    ("pair, 16/64/200/512 B", "op_mixed", "floor_mixed"),
    ("static_calloc + free", "op_calloc", "floor_calloc"),
    ("malloc 16, realloc 64, free", "op_realloc", "floor_realloc"),
]
SLOPE_N = (100, 200)  # two trip counts: the slope between them is the cost of one iteration
BRANCH_N = (10, 20)  # level-2 logs at two trip counts: pushed branches per iteration
MAX_N = 65536  # the bisection of the largest N that loads stops here
BISECT_CC = "clang-19"  # the largest N is bisected for this compiler (minutes each)
_PUSHED = re.compile(r"^from \d+ to \d+:", re.M)


def loops_object(cc: str, n: int, header: Path | None = None) -> Path:
    """loops.h built with LOOP_N = n (against an earlier header's folder if given)."""
    from verifier_doctor.kernel.build import compile_program

    folder = BUILD / "loops" / (f"{cc}-before" if header else cc)
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / f"loops_n{n}.bpf.c"
    wrapper.write_text(f'#define LOOP_N {n}\n#include "{LOOPS_H}"\n')
    return compile_program(wrapper, folder, cc, include_dirs=[header] if header else [])


def _loads(cc: str, n: int, header: Path | None, cache: dict) -> dict:
    """{program: ProgramLoad} of loops.h with LOOP_N = n, loaded once per (cc, n, header)."""
    from verifier_doctor.errors import VdoctorError
    from verifier_doctor.kernel.loader import load_each_program

    key = (cc, n, header)
    if key not in cache:
        try:
            cache[key] = {l.name: l for l in load_each_program(loops_object(cc, n, header))}
        except VdoctorError as error:
            cache[key] = {"error": str(error).splitlines()[0]}
    return cache[key]


def _pushed(cc: str, name: str, n: int, header: Path | None) -> int | None:
    """Branches the verifier could not decide (each pushes a state: 'from A to B' in the level-2 log)."""
    from verifier_doctor.errors import VdoctorError
    from verifier_doctor.kernel.loader import reload_at_level_2

    try:
        load = reload_at_level_2(loops_object(cc, n, header), name, log_bytes=1 << 26)
    except VdoctorError:
        return None
    return len(_PUSHED.findall(load.log)) if load.accepted else None


def _largest_n(cc: str, name: str, header: Path | None) -> tuple[int, bool]:
    """The largest LOOP_N whose program loads: doubling from 1000, then bisecting to 5 %
    (each try builds loops.h and loads that one program)."""
    from verifier_doctor.errors import VdoctorError
    from verifier_doctor.kernel.loader import open_program

    def ok(n: int) -> bool:
        try:
            with open_program(loops_object(cc, n, header), name):
                return True
        except VdoctorError:
            return False

    lo, hi = 0, 1000
    while hi <= MAX_N and ok(hi):
        lo, hi = hi, hi * 2
    if hi > MAX_N:
        return lo, True
    while hi - lo > max(1, lo // 20):
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo, False


def bench_loops(ccs: tuple[str, ...], header: Path | None, bisect: bool) -> dict:
    """Per compiler and operation: processed insns per iteration (slope), pushed branches per
    iteration, the largest N that loads; the same for the floor."""
    cache: dict = {}
    out: dict = {}
    for cc in ccs:
        rows = {}
        for label, op, floor in LOOP_OPS:
            row = {}
            for which, name in (("op", op), ("floor", floor)):
                counts = []
                for n in SLOPE_N:
                    load = _loads(cc, n, header, cache).get(name)
                    counts.append(processed(load.log) if load is not None and not isinstance(load, str)
                                  and load.accepted else None)
                slope = None if None in counts else (counts[1] - counts[0]) / (SLOPE_N[1] - SLOPE_N[0])
                pushes = [_pushed(cc, name, n, header) for n in BRANCH_N]
                branches = None if None in pushes else (pushes[1] - pushes[0]) / (BRANCH_N[1] - BRANCH_N[0])
                largest = _largest_n(cc, name, header) if bisect and cc == BISECT_CC else None
                row[which] = {"program": name, "processed": counts, "per_iteration": slope,
                              "branches_per_iteration": branches, "largest_n": largest}
            f, o = row["floor"]["per_iteration"], row["op"]["per_iteration"]
            row["over_floor"] = None if not f or o is None else o / f
            rows[label] = row
        out[cc] = rows
    return out


def print_loops(loops: dict, before: dict | None, kernel: str) -> None:
    print(f"loop budget, the running kernel ({kernel}): tests/allocator/loops/loops.h, one plain C loop per operation")
    print(f"  /iter: processed insns per iteration, the slope between LOOP_N = {SLOPE_N[0]} and {SLOPE_N[1]};")
    print(f"  br/iter: branches the verifier could not decide per iteration (level-2 log, LOOP_N {BRANCH_N[0]} -> {BRANCH_N[1]});")
    print(f"  largest N: the largest LOOP_N that loads ({BISECT_CC}; bisected to 5 %, '>' at the cap {MAX_N});")
    print("  floor: the same loop over a .bss array of nodes with __u32 indices and a free list; target: /iter <= 2x floor")
    header = (f"{'operation':30}{'compiler':>10}{'/iter':>8}{'br/iter':>8}{'largest N':>11}{'| floor':>8}"
              f"{'br/iter':>8}{'largest N':>11}{'| x floor':>10}")
    if before:
        header += f"{'| before /iter':>15}{'x floor':>8}"
    print(header)
    print("-" * len(header))

    def big(entry):
        if entry["largest_n"] is None:
            return "-"
        n, capped = entry["largest_n"]
        return (">" if capped else "") + str(n)

    for cc, rows in loops.items():
        for label, row in rows.items():
            o, f = row["op"], row["floor"]
            line = (f"{label:30}{cc:>10}{_num(o['per_iteration'], '8.1f'):>8}{_num(o['branches_per_iteration'], '8.1f'):>8}"
                    f"{big(o):>11}{'|':>3}{_num(f['per_iteration'], '5.1f'):>5}{_num(f['branches_per_iteration'], '8.1f'):>8}"
                    f"{big(f):>11}{'|':>3}{_num(row['over_floor'], '7.1f'):>7}")
            old = (before or {}).get(cc, {}).get(label)
            if old:
                line += f"{'|':>3}{_num(old['op']['per_iteration'], '12.1f'):>12}{_num(old['over_floor'], '8.1f'):>8}"
            print(line)
    print()


def _ratio(a, b):
    return None if a is None or b is None or b <= 0 else a / b


def summarize(speed: dict, sites: dict[str, dict], hello: dict[str, dict], user: dict, guest: dict | None) -> dict:
    progs = speed["programs"]
    op = {name: progs[name]["ns_per_op"] for name in progs if name != "bench_empty"}
    pair, bump, obj_new = op.get("bench_static"), op.get("bench_bump"), op.get("bench_obj_new")
    mixed, floor = op.get("bench_static_mixed"), op.get("bench_percpu_slot")
    users = {name: row for name, row in user.items() if "skipped" not in row}
    best_pair = min((row["pair_ns"] for row in users.values()), default=None)
    best_mixed = min((row["mixed_ns"] for row in users.values()), default=None)
    # the arena against the classic backend: on this kernel if it has arenas, else in the guest
    arena_where, arena_progs = "this kernel", op
    if "bench_static_arena" not in op and guest and guest.get("programs"):
        arena_where = f"Linux {guest['kernel']} guest, TCG"
        arena_progs = {name: e["ns_per_op"] for name, e in guest["programs"].items()}
    out = {"static_pair_ns": pair, "static_mixed_ns": mixed, "bump_ns": bump, "obj_new_pair_ns": obj_new,
           "percpu_floor_ns": floor, "best_user_pair_ns": best_pair, "best_user_mixed_ns": best_mixed,
           "static_over_bump": _ratio(pair, bump), "mixed_over_bump": _ratio(mixed, bump),
           "floor_over_bump": _ratio(floor, bump), "obj_new_over_static": _ratio(obj_new, pair),
           "pair_over_user": _ratio(pair, best_pair), "mixed_over_user": _ratio(mixed, best_mixed),
           "arena_where": arena_where,
           "arena_over_classic": _ratio(arena_progs.get("bench_static_arena"), arena_progs.get("bench_static")),
           "arena_mixed_over_classic": _ratio(arena_progs.get("bench_static_arena_mixed"),
                                              arena_progs.get("bench_static_mixed"))}

    def met(value, ok):
        return None if value is None else ok(value)

    out["targets"] = []  # the verifier's (below); the speed targets are apart, for print_speed
    out["speed_targets"] = [
        ("64 B pair <= best of glibc/jemalloc", met(out["pair_over_user"], lambda r: r <= TARGET_USER_RATIO)),
        ("mixed pair <= best of glibc/jemalloc", met(out["mixed_over_user"], lambda r: r <= TARGET_USER_RATIO)),
        (f"64 B pair >= {TARGET_OBJ_NEW_SPEEDUP:g}x faster than bpf_obj_new",
         met(out["obj_new_over_static"], lambda r: r >= TARGET_OBJ_NEW_SPEEDUP)),
        (f"arena 64 B pair <= {TARGET_ARENA_RATIO:g}x classic ({arena_where})",
         met(out["arena_over_classic"], lambda r: r <= TARGET_ARENA_RATIO)),
        (f"arena mixed pair <= {TARGET_ARENA_RATIO:g}x classic ({arena_where})",
         met(out["arena_mixed_over_classic"], lambda r: r <= TARGET_ARENA_RATIO)),
    ]
    for cc in SITE_CCS:
        row = sites.get(cc, {}).get("rows", {}).get("static_malloc + static_free", {})
        out["targets"].append((f"{cc}: first call site <= {TARGET_FIRST_SITE} insns",
                               met(row.get("first_site"), lambda n: n <= TARGET_FIRST_SITE)))
        out["targets"].append((f"{cc}: each further site <= {TARGET_NEXT_SITE} insns",
                               met(row.get("next_site"), lambda n: n <= TARGET_NEXT_SITE)))
        value = hello.get(cc, {}).get("now")
        out["targets"].append((f"{cc}: hello program <= {TARGET_HELLO} insns",
                               met(value if isinstance(value, int) else None, lambda n: n <= TARGET_HELLO)))
    return out


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "NOT met")


def _num(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def print_speed(speed: dict, summary: dict, user: dict, guest: dict | None) -> None:
    """The speed targets of issue 21 in one table: ns per malloc+free pair (+ one write)."""
    progs = speed["programs"]

    def ns(entry: dict | None, key: str = "ns_per_op") -> str:
        return _num(None if entry is None else entry.get(key), ".2f")

    print(f"speed, ns per malloc + 8-byte write + free, one run (BPF: BPF_PROG_TEST_RUN on CPU {speed['cpu']}, "
          f"{TIMING_CC}; user space: gcc -O2, the same CPU, thread CPU time; both minus the empty loop, / K={K})")
    header = f"{'allocator':42}{'64 B pair':>11}{'mixed 16/64/200/512':>21}"
    print(header)
    print("-" * len(header))
    rows = [("BPF static_malloc, classic backend", progs.get("bench_static"), progs.get("bench_static_mixed")),
            ("BPF static_malloc, arena backend", progs.get("bench_static_arena"), progs.get("bench_static_arena_mixed"))]
    for label, one, mixed in rows:
        if one is None and mixed is None:
            key = "bench_static_arena" if "arena" in label else "bench_static"
            print(f"{label:42}  skipped: {speed['skipped'].get(key, 'not loaded')}")
            continue
        print(f"{label:42}{ns(one):>11}{ns(mixed):>21}")
    print(f"{'BPF bpf_obj_new + bpf_obj_drop':42}{ns(progs.get('bench_obj_new')):>11}{'-':>21}")
    for name, row in user.items():
        label = f"user space, {name} malloc/free"
        if "skipped" in row:
            print(f"{label:42}  skipped: {row['skipped']}")
        else:
            print(f"{label:42}{ns(row, 'pair_ns'):>11}{ns(row, 'mixed_ns'):>21}")
    if guest is not None:
        if "skipped" in guest:
            print(f"guest Linux {guest['kernel']}: skipped: {guest['skipped']}")
        else:
            g = guest["programs"]
            print(f"in a Linux {guest['release']} guest under QEMU (TCG emulation: not comparable with the rows "
                  f"above, only with each other; repeat={guest['repeat']}, median of {guest['trials']}):")
            print(f"{'  guest: classic backend':42}{ns(g.get('bench_static')):>11}{ns(g.get('bench_static_mixed')):>21}")
            print(f"{'  guest: arena backend':42}{ns(g.get('bench_static_arena')):>11}"
                  f"{ns(g.get('bench_static_arena_mixed')):>21}")
    print(f"64 B pair / best user space: {_num(summary['pair_over_user'], '.2f')}x; "
          f"mixed / best user space: {_num(summary['mixed_over_user'], '.2f')}x; "
          f"bpf_obj_new / 64 B pair: {_num(summary['obj_new_over_static'], '.1f')}x; "
          f"arena / classic ({summary['arena_where']}): {_num(summary['arena_over_classic'], '.2f')}x, "
          f"mixed {_num(summary['arena_mixed_over_classic'], '.2f')}x")
    for target, met in summary["speed_targets"]:
        print(f"target: {target:60} {_verdict(met)}")
    print()


def print_table(speed: dict, summary: dict, sites: dict[str, dict], hello: dict[str, dict], before: str) -> None:
    progs = speed["programs"]
    bump = summary["bump_ns"]
    has_before = any(name.endswith("@before") for name in progs)
    print(f"BPF_PROG_TEST_RUN, XDP, K={speed['k']} iterations per run, repeat={speed['repeat']}, "
          f"median of {speed['trials']} trials, CPU {speed['cpu']}, {TIMING_CC}, {speed['block_bytes']}-byte blocks")
    print(f"empty loop: {speed['loop_ns_per_iteration']:.2f} ns per iteration (subtracted below)")
    if has_before:
        print(f"before: the same program built against static_malloc.h of commit {before}")
    print()
    header = f"{'program':30}{'ns/run':>9}{'ns/op':>9}{'x bump':>9}{'verifier':>10}{'xlated':>8}{'jited B':>9}"
    if has_before:
        header += f"{'| before':>10}{'ns/op':>8}{'verifier':>10}"
    print(header)
    print("-" * len(header))
    for name, _source, label in LOOPS:
        if name not in progs:
            print(f"{label:30}  skipped: {speed['skipped'].get(name, 'not loaded')}")
            continue
        e = progs[name]
        ratio = None if e["ns_per_op"] is None or not bump or bump <= 0 else e["ns_per_op"] / bump
        line = (f"{label:30}{e['ns_per_run']:9.0f}{_num(e['ns_per_op'], '9.2f'):>9}{_num(ratio, '9.1f'):>9}"
                f"{_num(e['verifier_insns'], 'd'):>10}{_num(e.get('xlated_insns'), 'd'):>8}{_num(e.get('jited_bytes'), 'd'):>9}")
        old = progs.get(f"{name}@before")
        if has_before and old:
            line += f"{'|':>4}{_num(old['ns_per_op'], '14.2f'):>14}{_num(old['verifier_insns'], 'd'):>10}"
        elif has_before and f"{name}@before" in speed["skipped"]:
            line += "   | (skipped, see below)"
        print(line)
    print("  ns/op: (ns/run - empty loop's ns/run) / K; an op is one allocation (+ write, + free)")
    print("  verifier: processed insns of the whole 64-iteration program; xlated: insns after the verifier")
    print("  targets are about the default heap; the indented rows are for comparison")
    for name, why in speed["skipped"].items():
        print(f"  note: {name} {why}" if name in progs else f"  skipped: {name}: {why}")
    for name, e in progs.items():
        if e.get("failed_allocations"):
            print(f"  note: {name} failed {e['failed_allocations']} allocations")
    for name, e in progs.items():
        stats = e.get("static_stats")
        if stats and (stats["allocations"] != stats["frees"] or stats["bytes_in_use"] or stats["failed_allocations"]
                      or stats["rejected_frees"] or stats["contended"]):
            print(f"  note: {name} static_stats after the runs: {stats}")
    print()
    print(f"static_malloc+free pair: {_num(summary['static_pair_ns'], '.2f')} ns = "
          f"{_num(summary['static_over_bump'], '.1f')}x the bump pointer; mixed sizes: "
          f"{_num(summary['static_mixed_ns'], '.2f')} ns = {_num(summary['mixed_over_bump'], '.1f')}x; "
          f"bpf_obj_new+drop / static pair = {_num(summary['obj_new_over_static'], '.1f')}x")
    print(f"per-CPU floor (one slot, no checks): {_num(summary['percpu_floor_ns'], '.2f')} ns = "
          f"{_num(summary['floor_over_bump'], '.1f')}x the bump pointer")
    print()
    print("verifier cost of a call site (difference of 'processed N insns'):")
    header = f"{'call site':30}{'compiler':>17}{'0 sites':>9}{'1 site':>9}{'2 sites':>9}{'1st site':>10}{'next site':>11}"
    if has_before:
        header += f"{'| before 1st':>13}{'next':>7}"
    print(header)
    print("-" * len(header))
    for label, _programs in SITES:
        for cc, result in sites.items():
            if cc.endswith("@before"):
                continue
            if "error" in result:
                print(f"{label:30}{cc:>17}  {result['error']}")
                continue
            row = result["rows"][label]
            c = row["processed"]
            line = (f"{label:30}{cc:>17}{_num(c[0], 'd'):>9}{_num(c[1], 'd'):>9}{_num(c[2], 'd'):>9}"
                    f"{_num(row['first_site'], '+d'):>10}{_num(row['next_site'], '+d'):>11}")
            old = sites.get(f"{cc}@before", {}).get("rows", {}).get(label)
            if has_before and old:
                line += f"{'|':>3}{_num(old['first_site'], '+d'):>10}{_num(old['next_site'], '+d'):>7}"
            print(line)
    for cc, result in sites.items():
        for name, why in result.get("errors", {}).items():
            print(f"  {cc}: {name} rejected: {why}")
    print("  1st site includes verifying the global function(s) behind it, once per program;")
    print("  next site is what every further call site adds. static_free alone is counted on top of one static_malloc.")
    print("  +inline: built with STATIC_MALLOC_INLINE (the per-CPU cache's fast paths at every call site).")
    print()
    print(f"the user's hello program ({HELLO.relative_to(ROOT)} after `vdoctor fix`), processed insns:")
    for cc, result in hello.items():
        print(f"  {cc:10} now {result['now']}" + (f", before {result['before']}" if "before" in result else ""))
    print()
    for target, met in summary["targets"]:
        print(f"target: {target:50} {_verdict(met)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20000, help="runs per BPF_PROG_TEST_RUN (default 20000)")
    parser.add_argument("--trials", type=int, default=7, help="test runs per program; the median is kept (default 7)")
    parser.add_argument("--before", default=BEFORE_REV, metavar="REV",
                        help=f"commit whose static_malloc.h the 'before' columns use (default {BEFORE_REV}; '' for none)")
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object instead of tables")
    parser.add_argument("--no-bisect", action="store_true", help="skip the bisection of the largest N that loads (minutes)")
    parser.add_argument("--no-guest", action="store_true",
                        help=f"where this kernel has no arenas, do not time them in a Linux {GUEST_KERNEL} guest")
    args = parser.parse_args()

    header = before_header(args.before)
    arena_note = arena_unavailable()
    speed = bench_speed(max(1, args.repeat), max(1, args.trials), header, skip_arena=arena_note)
    user = bench_user(max(1, args.repeat), max(1, args.trials))  # this process is pinned: so are they
    guest = None if arena_note is None or args.no_guest else bench_guest(GUEST_REPEAT, max(1, args.trials))
    ccs = tuple(cc for cc in SITE_CCS if shutil.which(cc))
    loops = bench_loops(ccs, None, not args.no_bisect)
    loops_before = bench_loops(ccs, header, False) if header is not None else None
    sites, hello = {}, {}
    for cc in SITE_CCS:
        if shutil.which(cc) is None:
            sites[cc] = {"error": f"{cc} is not on PATH"}
            continue
        for suffix, source in (("", "sites.bpf.c"), ("+inline", "sites_inline.bpf.c")):
            sites[cc + suffix] = bench_sites(cc, source)
            if header is not None:
                sites[cc + suffix + "@before"] = bench_sites(cc, source, header)
        hello[cc] = {"now": bench_hello(cc)}
        if header is not None:
            hello[cc]["before"] = bench_hello(cc, header)
    summary = summarize(speed, sites, hello, user, guest)
    if args.json:
        print(json.dumps({"speed": speed, "user_space": user, "guest": guest, "summary": summary,
                          "call_sites": sites, "hello": hello,
                          "loops": loops, "loops_before": loops_before}, indent=2, default=str))
    else:
        print_loops(loops, loops_before, os.uname().release)
        print_speed(speed, summary, user, guest)
        print_table(speed, summary, sites, hello, args.before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
