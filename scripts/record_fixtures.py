"""`make fixtures`: build every reproducer in fixtures/programs/ and record its verifier logs.

For each kernel (the running one, and with --kernels the QEMU matrix) and each log level
(1 and 2), the text our loader captured for each program is written to
fixtures/logs/<kernel>/<program file stem>.L<level>.log, exactly as libbpf printed it.

    python scripts/record_fixtures.py                  # the running kernel
    python scripts/record_fixtures.py --kernels all    # plus every kernel of the matrix
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verifier_doctor.errors import VdoctorError  # noqa: E402
from verifier_doctor.kernel.build import compile_program, find_compiler  # noqa: E402

PROGRAMS = ROOT / "fixtures" / "programs"
LOGS = ROOT / "fixtures" / "logs"
LEVELS = (1, 2)
# A program that hits the complexity limit writes tens of megabytes at level 1 and
# hundreds at level 2: such logs are benchmark inputs (build/big-logs/), not fixtures.
MAX_FIXTURE_BYTES = 2 * 1024 * 1024
BIG_LOGS = ROOT / "build" / "big-logs"


def host_label() -> str:
    """The running kernel as "major.minor" (6.18.44-... -> 6.18)."""
    return ".".join(platform.release().split(".")[:2])


def build_all(sources: list[Path], workdir: Path, cc: str | None) -> dict[Path, Path]:
    compiler = find_compiler(cc)
    objects = {}
    for source in sources:
        try:
            objects[source] = compile_program(source, workdir, compiler)
        except VdoctorError as error:
            print(f"skip {source.name}: {error}", file=sys.stderr)
    return objects


def levels_for(source: Path) -> tuple[int, ...]:
    """Level 1 only for a program whose expect file says its log is too large to keep:
    its level-2 log runs to hundreds of megabytes and minutes of loading."""
    expect = source.with_name(source.name.removesuffix(".bpf.c") + ".expect.json")
    if expect.is_file() and json.loads(expect.read_text()).get("log_too_large"):
        return (1,)
    return LEVELS


def write_log(kernel: str, source: Path, level: int, text: str) -> Path:
    stem = source.name.removesuffix(".bpf.c")
    path = LOGS / kernel / f"{stem}.L{level}.log"
    if len(text) > MAX_FIXTURE_BYTES:
        path.unlink(missing_ok=True)
        path = BIG_LOGS / kernel / path.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def record_host(objects: dict[Path, Path]) -> int:
    from verifier_doctor.kernel.loader import load_each_program

    count = 0
    label = host_label()
    for source, obj in objects.items():
        for level in levels_for(source):
            loads = load_each_program(obj, level)
            write_log(label, source, level, "".join(load.log for load in loads))
            count += 1
    print(f"host {label}: {count} logs")
    return count


BPFTOOL = ROOT / "fixtures" / "bpftool"
# Objects whose whole bpftool output (several programs, libbpf's debug lines) is kept too.
BPFTOOL_OBJECTS = ("two_programs", "linked_list_pool", "global_spin_lock")


def record_bpftool(objects: dict[Path, Path]) -> int:
    """`bpftool -d prog loadall` on the running kernel: the output users paste."""
    import shutil
    import subprocess

    if shutil.which("bpftool") is None:
        print("skip bpftool outputs: no bpftool", file=sys.stderr)
        return 0
    count = 0
    for source, obj in objects.items():
        stem = source.name.removesuffix(".bpf.c")
        if stem not in BPFTOOL_OBJECTS:
            continue
        pin = Path("/sys/fs/bpf") / f"vdoctor-fixture-{stem}"
        done = subprocess.run(["bpftool", "-d", "prog", "loadall", str(obj), str(pin)],
                              capture_output=True, text=True)
        subprocess.run(["rm", "-rf", str(pin)], check=False)
        BPFTOOL.mkdir(parents=True, exist_ok=True)
        # The object's temporary path is the only line that changes from run to run.
        text = (done.stdout + done.stderr).replace(str(obj.parent) + "/", "")
        (BPFTOOL / f"{stem}.log").write_text(text)
        count += 1
    print(f"bpftool: {count} outputs")
    return count


def record_guests(objects: dict[Path, Path], versions: list[str]) -> int:
    from verifier_doctor.kernel.qemu import load_in_guests

    # Complexity-limit programs stay host-only: under TCG their logs take minutes each.
    by_object = {obj: source for source, obj in objects.items() if levels_for(source) == LEVELS}
    count = 0
    for level in LEVELS:
        runs = load_in_guests(versions, list(by_object), level)
        for version, run in runs.items():
            if isinstance(run, VdoctorError):
                print(f"kernel {version}: {run}", file=sys.stderr)
                continue
            for obj, loads in run.results.items():
                write_log(version, by_object[obj], level, "".join(load.log for load in loads))
                count += 1
            print(f"kernel {version} ({run.release}) level {level}: {len(run.results)} logs, {run.seconds:.1f} s")
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", default="host", help="host, all, or a comma-separated list of matrix labels")
    parser.add_argument("--cc", default=None, help="the compiler (default: the newest clang)")
    parser.add_argument("names", nargs="*", help="only these programs (file stems)")
    args = parser.parse_args()
    sources = sorted(PROGRAMS.glob("*.bpf.c"))
    if args.names:
        sources = [s for s in sources if s.name.removesuffix(".bpf.c") in args.names]
    with tempfile.TemporaryDirectory(prefix="vdoctor-fixtures-") as scratch:
        objects = build_all(sources, Path(scratch), args.cc)
        record_host(objects)
        record_bpftool(objects)
        if args.kernels != "host":
            from verifier_doctor.kernel.kernels import SUPPORTED

            versions = list(SUPPORTED) if args.kernels == "all" else args.kernels.split(",")
            record_guests(objects, versions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
