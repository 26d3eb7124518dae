"""`make fixtures`: build every reproducer in fixtures/programs/ and record its verifier logs.

For each kernel (the running one, and with --kernels the QEMU matrix) and each log level
(1 and 2), the text our loader captured for each program is written to
fixtures/logs/<kernel>/<program file stem>.L<level>.log, exactly as libbpf printed it.

    python scripts/record_fixtures.py                  # the running kernel
    python scripts/record_fixtures.py --kernels all    # plus every kernel of the matrix

A program whose expect file says "unprivileged": true is loaded on the running kernel by
a user without capabilities (nobody, through setpriv), with kernel.unprivileged_bpf_disabled
set to 0 for the load and restored after; it is not loaded in the QEMU guests, whose loader
runs as root (where the program is accepted).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verifier_doctor.errors import KernelUnavailable, VdoctorError  # noqa: E402
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


def expect_of(source: Path) -> dict:
    expect = source.with_name(source.name.removesuffix(".bpf.c") + ".expect.json")
    return json.loads(expect.read_text()) if expect.is_file() else {}


def levels_for(source: Path) -> tuple[int, ...]:
    """Level 1 only for a program whose expect file says its log is too large to keep:
    its level-2 log runs to hundreds of megabytes and minutes of loading."""
    return (1,) if expect_of(source).get("log_too_large") else LEVELS


def unprivileged(source: Path) -> bool:
    """A program whose rejection applies only to a user without CAP_BPF/CAP_PERFMON."""
    return bool(expect_of(source).get("unprivileged"))


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
            try:
                if unprivileged(source):
                    text = load_unprivileged(obj, level)
                else:
                    text = "".join(load.log for load in load_each_program(obj, level))
            except KernelUnavailable as error:
                print(f"skip {source.name} on host {label}: {error}", file=sys.stderr)
                break
            write_log(label, source, level, text)
            count += 1
    print(f"host {label}: {count} logs")
    return count


UNPRIVILEGED_SYSCTL = Path("/proc/sys/kernel/unprivileged_bpf_disabled")
# nobody, with no supplementary groups and no capabilities left in any set.
DROP_PRIVILEGES = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                   "--inh-caps=-all", "--bounding-set=-all")
_LOAD_AS_CHILD = ("import sys; from pathlib import Path; "
                  "from verifier_doctor.kernel.loader import load_each_program; "
                  "sys.stdout.write(''.join(load.log for load in load_each_program(Path(sys.argv[1]), int(sys.argv[2]))))")


def load_unprivileged(obj: Path, level: int) -> str:
    """The log of every program of `obj` loaded by nobody, without capabilities.

    Needs root (to set the sysctl and drop to nobody) and setpriv. The kernel then also
    refuses to load the object's BTF, so the log has no source lines. A sysctl at 1 cannot
    be lowered until reboot: the program is skipped.
    """
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        raise KernelUnavailable("loading as an unprivileged user needs root and setpriv.")
    before = UNPRIVILEGED_SYSCTL.read_text().strip()
    if before == "1":
        raise KernelUnavailable("kernel.unprivileged_bpf_disabled is 1, which only a reboot lowers.")
    with tempfile.TemporaryDirectory(prefix="vdoctor-unpriv-") as folder:
        os.chmod(folder, 0o755)  # nobody must read the object
        copy = Path(folder) / obj.name
        shutil.copyfile(obj, copy)
        os.chmod(copy, 0o644)
        UNPRIVILEGED_SYSCTL.write_text("0")
        try:
            done = subprocess.run([*DROP_PRIVILEGES, sys.executable, "-c", _LOAD_AS_CHILD, str(copy), str(level)],
                                  capture_output=True, text=True, cwd="/", env={**os.environ, "PYTHONPATH": str(ROOT)})
        finally:
            UNPRIVILEGED_SYSCTL.write_text(before)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise KernelUnavailable(f"the unprivileged load failed: {last}")
    return done.stdout


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
    from verifier_doctor.kernel.qemu import load_in_guests, reporting

    # Complexity-limit programs stay host-only: under TCG their logs take minutes each.
    # So do unprivileged ones: the guest loader runs as root, which they need not to be.
    by_object = {obj: source for source, obj in objects.items()
                 if levels_for(source) == LEVELS and not unprivileged(source)}
    count = 0
    for level in LEVELS:
        with reporting(lambda version, event: print(f"kernel {version} level {level}: {event}", flush=True)):
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
