"""`make bench`: how fast `vdoctor explain` reads a 50 MB level-2 log, and in how much memory.

The log is real: fixtures/programs/too_complex_nested_loops.bpf.c hits the verifier's
one-million-instruction limit, and we load it at log level 2 with a 50 MB log buffer of
our own. Since v6.4 the kernel keeps the END of the log when the buffer is too small (the
"rotating" log), so the buffer ends up holding the last 50 MB, error included, exactly as
a user with a 50 MB buffer would get it. The log is cached in build/bench/.

Each measurement runs in its own process pinned to one core (taskset -c 0): wall time,
CPU time, MB/s, and peak resident memory (ru_maxrss), against a plain read of the same file
line by line; the median of RUNS runs (issue 25: at most 3 s and 150 MB). Nothing here is a
test: the numbers are printed, not asserted.

Then the same log's cost profile (`explain --profile`, issue 24: targets 5 s and 200 MB).

First comes the cold start: `vdoctor explain` on the user's 3 KB log and `vdoctor --help`,
each run in turn with `python -c pass` of the same interpreter, COLD_RUNS pairs after one
run that fills the bytecode and vdoctor caches a user has: the medians of wall and CPU time
and of the ratio to `python -c pass` pair by pair, which holds when other work shares the
machine (target: 200 ms); and 75 small logs (the first 75 level-1 logs of
fixtures/logs/6.18) explained by one `vdoctor explain` of them all (target: 1.5 s) beside
one process per log.

vdoctor runs with a cache of its own (build/bench/cache): another checkout's vdoctor beside
it would otherwise rewrite the shared cache's parser and tables between runs (each
rewrite costs the next run ~45 ms). `--before REV` runs the cold start and the 50 MB rows
for the tree of git revision REV too (unpacked by `git archive`, its own cache), in turn
with this one.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH = ROOT / "build" / "bench"
LOG_BYTES = 50 * 1000 * 1000
PROGRAM = ROOT / "fixtures" / "programs" / "too_complex_nested_loops.bpf.c"
SMALL_LOG = ROOT / "fixtures" / "seed" / "linked_list_pool.verifier.log"
COLD_RUNS = 10
RUNS = 3  # runs of each command on the 50 MB log
BATCH = sorted((ROOT / "fixtures" / "logs" / "6.18").glob("*.L1.log"))[:75]


def record_log(target: Path) -> None:
    from verifier_doctor.kernel import libbpf
    from verifier_doctor.kernel.build import compile_program

    with tempfile.TemporaryDirectory() as scratch:
        obj = compile_program(PROGRAM, Path(scratch))
        handle = libbpf.lib()
        bpf_object = handle.bpf_object__open_file(os.fsencode(obj), None)
        prog = handle.bpf_object__next_program(bpf_object, None)
        buffer = ctypes.create_string_buffer(LOG_BYTES)
        handle.bpf_program__set_log_buf(prog, buffer, LOG_BYTES)
        handle.bpf_program__set_log_level(prog, 2 | 4)
        started = time.monotonic()
        err = handle.bpf_object__load(bpf_object)
        handle.bpf_object__close(bpf_object)
    text = buffer.value.decode("utf-8", errors="replace")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    print(f"recorded {len(text) / 1e6:.1f} MB of level-2 log in {time.monotonic() - started:.0f} s "
          f"(load returned {err})")


_MEASURE = """
import resource, subprocess, sys, time
started = time.monotonic()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.monotonic() - started
used = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.write(done.stderr)
print(done.returncode, seconds, used.ru_utime + used.ru_stime, used.ru_maxrss)
sys.stdout.write(done.stdout)
"""


def measure(argv: list[str], cwd: Path = ROOT) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak RSS in MB, and standard output of a command on one core.

    A fresh wrapper process runs the command, so its peak is that command's alone."""
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    done = subprocess.run([sys.executable, "-c", _MEASURE, *pin, *argv], capture_output=True, text=True,
                          cwd=cwd, env=vdoctor_env(cwd))
    head, _, out = done.stdout.partition("\n")
    status, seconds, cpu, peak_kb = head.split()
    if int(status) not in (0, 1):
        raise SystemExit(f"{argv} failed: {done.stderr}")
    return float(seconds), float(cpu), int(peak_kb) / 1024, out


def vdoctor_env(tree: Path) -> dict[str, str]:
    """The environment of a vdoctor run from `tree`: bytecode written as a user's install has
    it, and a cache of the tree's own (see the module's docstring)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["VDOCTOR_CACHE"] = str(BENCH / ("cache" if tree == ROOT else f"cache-{tree.name}"))
    return env


def _timed_run(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run of a short command, its output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=vdoctor_env(cwd))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def cold_start(argv: list[str], cwd: Path = ROOT) -> tuple[float, float, float]:
    """Medians of COLD_RUNS runs of a short command, each in turn with `python -c pass`:
    wall ms, CPU ms, and the ratio of the two walls pair by pair; after one unmeasured
    run that leaves the bytecode and vdoctor caches a user has."""
    bare = [sys.executable, "-c", "pass"]
    _timed_run(argv, cwd)
    walls, cpus, ratios = [], [], []
    for _ in range(COLD_RUNS):
        wall, cpu = _timed_run(argv, cwd)
        base, _ = _timed_run(bare, cwd)
        walls.append(wall)
        cpus.append(cpu)
        ratios.append(wall / base)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000, statistics.median(ratios)


def print_cold_starts(trees: list[tuple[str, Path]]) -> None:
    vdoctor = [sys.executable, "-m", "verifier_doctor"]
    rows = [
        ("vdoctor --help", [*vdoctor, "--help"]),
        ("vdoctor explain (3 KB log)", [*vdoctor, "explain", str(SMALL_LOG)]),
        ("vdoctor explain --json", [*vdoctor, "explain", "--json", str(SMALL_LOG)]),
    ]
    bare = [_timed_run([sys.executable, "-c", "pass"], ROOT)[0] for _ in range(COLD_RUNS)]
    print(f"cold start, median of {COLD_RUNS} runs, each beside python -c pass "
          f"(load average {os.getloadavg()[0]:.1f}):")
    print(f"  {'':36}{'wall ms':>8}{'CPU ms':>8}{'x pass':>8}")
    print(f"  {'python -c pass (the venv)':36}{statistics.median(bare) * 1000:8.0f}")
    for label, argv in rows:
        for tree_label, tree in trees:
            wall, cpu, ratio = cold_start(argv, tree)
            print(f"  {label + tree_label:36}{wall:8.0f}{cpu:8.0f}{ratio:8.1f}")
    print(f"target: vdoctor explain and --help at most 200 ms (load average now {os.getloadavg()[0]:.1f})")


def print_big_log(log: Path, trees: list[tuple[str, Path]]) -> None:
    """The 50 MB log explained RUNS times by each tree, in turn; the medians."""
    size_mb = log.stat().st_size / 1e6
    plain = [sys.executable, "-c",
             "import sys\nn=0\nfor line in open(sys.argv[1], errors='replace'): n += 1\nprint(n)", str(log)]
    explain = [sys.executable, "-m", "verifier_doctor", "explain", str(log), "--json"]
    runs: dict[str, list[tuple[float, float, float]]] = {}
    results = {}
    for _ in range(RUNS):
        for label, argv, tree in [("plain read, line by line", plain, ROOT),
                                  *((f"vdoctor explain --json{tree_label}", explain, tree) for tree_label, tree in trees)]:
            seconds, cpu, peak, out = measure(argv, tree)
            runs.setdefault(label, []).append((seconds, cpu, peak))
            results[label] = out
    lines = int(results["plain read, line by line"])
    print(f"log: {log.relative_to(ROOT)}, {size_mb:.1f} MB, {lines:,} lines, level 2; "
          f"median of {RUNS} runs in turn, load average {os.getloadavg()[0]:.1f}")
    print(f"{'':36}{'seconds':>9}{'CPU s':>9}{'MB/s':>9}{'peak MB':>9}")
    for label, measured in runs.items():
        seconds, cpu, peak = (statistics.median(column) for column in zip(*measured))
        print(f"{label:36}{seconds:9.2f}{cpu:9.2f}{size_mb / seconds:9.1f}{peak:9.0f}")
    result = json.loads(results["vdoctor explain --json"])
    print(f"diagnosis: {result['error']['class']}: {result['error']['message']}")
    print("targets: at most 3 s and 150 MB on one core")


def unpacked(revision: str) -> Path:
    """The tree of a git revision, unpacked into build/bench/ (kept for the next run)."""
    sha = subprocess.run(["git", "rev-parse", "--short", revision], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    tree = BENCH / f"tree-{sha}"
    if not tree.exists():
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def print_batch() -> None:
    """75 small logs: in one process, and one process per log (as a loop in a CI job does)."""
    vdoctor = [sys.executable, "-m", "verifier_doctor", "explain"]
    env = vdoctor_env(ROOT)
    subprocess.run([*vdoctor, *map(str, BATCH)], stdout=subprocess.DEVNULL, cwd=ROOT, env=env)  # caches filled
    started = time.perf_counter()
    subprocess.run([*vdoctor, *map(str, BATCH)], stdout=subprocess.DEVNULL, cwd=ROOT, env=env)
    together = time.perf_counter() - started
    started = time.perf_counter()
    for log in BATCH:
        subprocess.run([*vdoctor, str(log)], stdout=subprocess.DEVNULL, cwd=ROOT, env=env)
    apart = time.perf_counter() - started
    print(f"{len(BATCH)} small logs (fixtures/logs/6.18/*.L1.log), load average {os.getloadavg()[0]:.1f}:")
    print(f"  one vdoctor explain of them all  {together:6.2f} s")
    print(f"  one vdoctor explain per log      {apart:6.2f} s")
    print("target: one process, at most 1.5 s")


def main() -> int:
    parser = argparse.ArgumentParser(description="How fast vdoctor starts and reads a 50 MB log.")
    parser.add_argument("--before", metavar="REV", help="also time the tree of git revision REV, in turn")
    options = parser.parse_args()
    trees = [("", ROOT)]
    if options.before:
        trees.append((f" ({options.before})", unpacked(options.before)))
    print_cold_starts(trees)
    print_batch()
    log = BENCH / "too_complex_nested_loops.L2.50MB.log"
    if not log.exists():
        record_log(log)
    print_big_log(log, trees)
    print_profile_row(log, log.stat().st_size / 1e6)
    return 0


def print_profile_row(log: Path, size_mb: float) -> None:
    """Issue 24: the cost profile of the same log (`explain --profile`), in its own process
    after the rows above, so they are measured as before."""
    profiled = [sys.executable, "-m", "verifier_doctor", "explain", "--profile", str(log), "--json"]
    seconds, cpu, peak_mb, out = measure(profiled)
    loop = json.loads(out)["profile"]["loops"][0]
    print(f"{'vdoctor explain --profile --json':36}{seconds:9.2f}{cpu:9.2f}{size_mb / seconds:9.1f}{peak_mb:9.0f}")
    print(f"hot loop: {loop['source']['file']}:{loop['source']['line']}, "
          f"{loop['insns_per_iteration']:g} insns per trip, at most {loop['max_iterations']} trips ({loop['limit']})")
    print("targets: at most 5 s and 200 MB on one core")


if __name__ == "__main__":
    sys.exit(main())
