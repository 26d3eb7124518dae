"""`make bench`: how fast `vdoctor explain` reads a 50 MB level-2 log, and in how much memory.

The log is real: fixtures/programs/too_complex_nested_loops.bpf.c hits the verifier's
one-million-instruction limit, and we load it at log level 2 with a 50 MB log buffer of
our own. Since v6.4 the kernel keeps the END of the log when the buffer is too small (the
"rotating" log), so the buffer ends up holding the last 50 MB, error included, exactly as
a user with a 50 MB buffer would get it. The log is cached in build/bench/.

Each measurement runs in its own process pinned to one core (taskset -c 0): wall time,
MB/s, and peak resident memory (ru_maxrss), against a plain read of the same file line by
line. Targets (issue 3): under 10 s and under 300 MB. Nothing here is a test: the numbers
are printed, not asserted.

Then the same log's cost profile (`explain --profile`, issue 24: targets 5 s and 200 MB).

Then the cold start: the median wall time of 10 runs of `vdoctor explain` on the user's 3 KB
log and of `vdoctor --help`, beside `python3 -c pass` (target: 200 ms); and 75 small logs
(the first 75 level-1 logs of fixtures/logs/6.18) explained by one `vdoctor explain` of them
all (target: 1.5 s) beside one process per log.
"""

from __future__ import annotations

import ctypes
import json
import os
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
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.write(done.stderr)
print(done.returncode, seconds, peak_kb)
sys.stdout.write(done.stdout)
"""


def measure(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB, and standard output of a command on one core.

    A fresh wrapper process runs the command, so its peak is that command's alone."""
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    done = subprocess.run([sys.executable, "-c", _MEASURE, *pin, *argv], capture_output=True, text=True)
    head, _, out = done.stdout.partition("\n")
    status, seconds, peak_kb = head.split()
    if int(status) not in (0, 1):
        raise SystemExit(f"{argv} failed: {done.stderr}")
    return float(seconds), int(peak_kb) / 1024, out


def cold_start(argv: list[str]) -> float:
    """The median wall seconds of COLD_RUNS runs of a short command (its output discarded),
    after one unmeasured run that leaves the bytecode and grammar caches a user has."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    times = []
    for _ in range(COLD_RUNS):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def print_cold_starts() -> None:
    vdoctor = [sys.executable, "-m", "verifier_doctor"]
    rows = [
        ("python3 -c pass", ["python3", "-c", "pass"]),
        ("python -c pass (the venv)", [sys.executable, "-c", "pass"]),
        ("vdoctor --help", [*vdoctor, "--help"]),
        ("vdoctor explain (3 KB log)", [*vdoctor, "explain", str(SMALL_LOG)]),
        ("vdoctor explain --json", [*vdoctor, "explain", "--json", str(SMALL_LOG)]),
    ]
    print(f"cold start, median of {COLD_RUNS} (load average {os.getloadavg()[0]:.1f}):")
    for label, argv in rows:
        print(f"  {label:28}{cold_start(argv) * 1000:6.0f} ms")
    print("target: vdoctor explain and --help at most 200 ms")


def print_batch() -> None:
    """75 small logs: in one process, and one process per log (as a loop in a CI job does)."""
    vdoctor = [sys.executable, "-m", "verifier_doctor", "explain"]
    subprocess.run([*vdoctor, *map(str, BATCH)], stdout=subprocess.DEVNULL, cwd=ROOT)  # caches filled
    started = time.perf_counter()
    subprocess.run([*vdoctor, *map(str, BATCH)], stdout=subprocess.DEVNULL, cwd=ROOT)
    together = time.perf_counter() - started
    started = time.perf_counter()
    for log in BATCH:
        subprocess.run([*vdoctor, str(log)], stdout=subprocess.DEVNULL, cwd=ROOT)
    apart = time.perf_counter() - started
    print(f"{len(BATCH)} small logs (fixtures/logs/6.18/*.L1.log), load average {os.getloadavg()[0]:.1f}:")
    print(f"  one vdoctor explain of them all  {together:6.2f} s")
    print(f"  one vdoctor explain per log      {apart:6.2f} s")
    print("target: one process, at most 1.5 s")


def main() -> int:
    print_cold_starts()
    print_batch()
    log = BENCH / "too_complex_nested_loops.L2.50MB.log"
    if not log.exists():
        record_log(log)
    size_mb = log.stat().st_size / 1e6
    plain = [sys.executable, "-c",
             "import sys\nn=0\nfor line in open(sys.argv[1], errors='replace'): n += 1\nprint(n)", str(log)]
    explain = [sys.executable, "-m", "verifier_doctor", "explain", str(log), "--json"]
    read_s, read_mb, lines = measure(plain)
    explain_s, explain_mb, out = measure(explain)
    result = json.loads(out)
    print(f"log: {log.relative_to(ROOT)}, {size_mb:.1f} MB, {int(lines):,} lines, level 2")
    print(f"{'':24}{'seconds':>9}{'MB/s':>9}{'peak MB':>9}")
    print(f"{'plain read, line by line':24}{read_s:9.2f}{size_mb / read_s:9.1f}{read_mb:9.0f}")
    print(f"{'vdoctor explain --json':24}{explain_s:9.2f}{size_mb / explain_s:9.1f}{explain_mb:9.0f}")
    print(f"diagnosis: {result['error']['class']}: {result['error']['message']}")
    print("targets: at most 3 s and 150 MB on one core")
    print_profile_row(log, size_mb)
    return 0


def print_profile_row(log: Path, size_mb: float) -> None:
    """Issue 24: the cost profile of the same log (`explain --profile`), in its own process
    after the rows above, so they are measured as before."""
    profiled = [sys.executable, "-m", "verifier_doctor", "explain", "--profile", str(log), "--json"]
    seconds, peak_mb, out = measure(profiled)
    loop = json.loads(out)["profile"]["loops"][0]
    print(f"{'explain --profile --json':24}{seconds:9.2f}{size_mb / seconds:9.1f}{peak_mb:9.0f}")
    print(f"hot loop: {loop['source']['file']}:{loop['source']['line']}, "
          f"{loop['insns_per_iteration']:g} insns per trip, at most {loop['max_iterations']} trips ({loop['limit']})")
    print("targets: at most 5 s and 200 MB on one core")


if __name__ == "__main__":
    sys.exit(main())
