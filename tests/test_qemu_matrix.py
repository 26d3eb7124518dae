"""The QEMU matrix: every Debian kernel in SUPPORTED boots once, loads and test-runs small objects.

tests/qemu_progs/accept.bpf.c has one program every kernel accepts; reject.bpf.c has one that
dereferences a scalar (rejected: "invalid mem access") beside one that is accepted, so a
rejection is seen not to hide its neighbour. run_packet.bpf.c (XDP and tc programs returning
values computed from the test packet), run_raw_tp.bpf.c (a raw_tp program returning a constant,
and a kprobe program, which cannot be test-run) and run_syscall.bpf.c (Linux 5.14+) check the
test runs inside the guests. All objects go into one boot per kernel, two kernels at a time,
every accepted program run RUNS times. Run alone with `pytest -m qemu -s` to see the timings.
"""

from __future__ import annotations

import base64
import errno
import re
import struct
import time
import zlib
from pathlib import Path

import pytest

from verifier_doctor.errors import KernelUnavailable
from verifier_doctor.kernel.build import compile_program
from verifier_doctor.kernel.kernels import SUPPORTED
from verifier_doctor.kernel.guest import SOURCE as GUEST_SOURCE
from verifier_doctor.kernel.qemu import GuestRun, _parse, _parse_output, load_in_guests
from verifier_doctor.kernel.runner import RunResult, default_packet

PROGS = Path(__file__).parent / "qemu_progs"
OBJECTS = ("accept", "reject", "run_packet", "run_raw_tp", "run_syscall")
RUNS = 3


@pytest.fixture(scope="module")
def objects(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("qemu_objs")
    return {name: compile_program(PROGS / f"{name}.bpf.c", out) for name in OBJECTS}


@pytest.fixture(scope="module")
def matrix(objects) -> dict[str, GuestRun]:
    started = time.monotonic()
    runs = load_in_guests(SUPPORTED, list(objects.values()), log_level=1, timeout=300, jobs=2,
                          runs=RUNS)
    wall = time.monotonic() - started
    for version, run in runs.items():
        if isinstance(run, GuestRun):
            print(f"\nqemu {version}: {run.release}, boot+load {run.seconds:.1f} s", end="")
    print(f"\nqemu matrix: {len(runs)} kernels in {wall:.1f} s wall time")
    return runs


def _run(matrix: dict, version: str) -> GuestRun:
    run = matrix[version]
    if not isinstance(run, GuestRun):
        pytest.fail(f"Linux {version}: {run}")
    return run


@pytest.mark.qemu
@pytest.mark.parametrize("version", SUPPORTED)
def test_release_is_the_label(matrix, version):
    run = _run(matrix, version)
    # "6.1" must not be satisfied by "6.12...": the label is followed by a non-digit.
    assert re.match(rf"{re.escape(version)}(?!\d)", run.release), run.release


@pytest.mark.qemu
@pytest.mark.parametrize("version", SUPPORTED)
def test_accepted_program_has_statistics(matrix, objects, version):
    loads = _run(matrix, version).results[objects["accept"]]
    assert [(p.name, p.section) for p in loads] == [("accept_sum", "xdp")]
    (load,) = loads
    assert load.accepted and load.error is None, load.log
    assert "libbpf: prog 'accept_sum': -- BEGIN PROG LOAD LOG --" in load.log
    assert "processed " in load.log


@pytest.mark.qemu
@pytest.mark.parametrize("version", SUPPORTED)
def test_scalar_dereference_is_rejected_alone(matrix, objects, version):
    loads = {p.name: p for p in _run(matrix, version).results[objects["reject"]]}
    assert sorted(loads) == ["accept_pass", "reject_scalar_deref"]
    bad, good = loads["reject_scalar_deref"], loads["accept_pass"]
    assert not bad.accepted and bad.error == -errno.EACCES
    assert "invalid mem access" in bad.log  # 'scalar', or 'inv' before 5.18
    assert "-- END PROG LOAD LOG --" in bad.log
    assert good.accepted and good.error is None and "processed " in good.log


def _version(release: str) -> tuple[int, int]:
    major, minor = re.match(r"(\d+)\.(\d+)", release).groups()
    return int(major), int(minor)


@pytest.mark.qemu
@pytest.mark.parametrize("version", SUPPORTED)
def test_packet_programs_run_on_the_test_packet(matrix, objects, version):
    run = _run(matrix, version)
    obj = objects["run_packet"]
    loads = {p.name: p for p in run.results[obj]}
    assert sorted(loads) == ["run_tc_len", "run_xdp_ethertype", "run_xdp_length"]
    assert all(p.accepted for p in loads.values()), [p.log for p in loads.values()]
    expected = {"run_xdp_ethertype": 2 + 0x08, "run_xdp_length": 64 + 17, "run_tc_len": 64}
    for name, retval in expected.items():
        result = run.runs[(obj, name)]
        assert (result.retval, result.repeat, result.printed) == (retval, RUNS, []), name
        assert result.duration_ns >= 0
    # The first two objects' accepted programs ran too; the rejected one did not.
    assert run.runs[(objects["accept"], "accept_sum")].retval in (1, 2)
    assert run.runs[(objects["reject"], "accept_pass")].retval == 2
    assert (objects["reject"], "reject_scalar_deref") not in run.runs
    assert (objects["reject"], "reject_scalar_deref") not in run.run_errors


@pytest.mark.qemu
@pytest.mark.parametrize("version", SUPPORTED)
def test_context_programs_run_once_per_repetition(matrix, objects, version):
    run = _run(matrix, version)
    raw_tp = objects["run_raw_tp"]
    result = run.runs[(raw_tp, "run_raw_tp_const")]
    assert (result.retval, result.repeat, result.printed) == (42, RUNS, [])
    assert result.duration_ns > 0  # the guest's wall clock around the runs
    # A kprobe program is accepted but cannot be test-run: said in the host runner's words.
    assert (raw_tp, "run_kprobe_not_runnable") not in run.runs
    assert "kprobe cannot be test-run" in run.run_errors[(raw_tp, "run_kprobe_not_runnable")]

    syscall = objects["run_syscall"]
    (load,) = run.results[syscall]
    if _version(run.release) < (5, 14):  # BPF_PROG_TYPE_SYSCALL came in 5.14
        assert not load.accepted and (syscall, "run_syscall_const") not in run.runs
    else:
        assert load.accepted, load.log
        result = run.runs[(syscall, "run_syscall_const")]
        assert (result.retval, result.repeat, result.printed) == (7, RUNS, [])


def test_guest_packet_is_the_host_runners():
    """The guest loader's copy of default_packet() must not drift from the host runner's."""
    source = GUEST_SOURCE.read_text()
    array = re.search(r"default_packet\[64\] = \{(.*?)\};", source, re.S).group(1)
    assert bytes(int(byte, 16) for byte in re.findall(r"0x([0-9a-f]{2})", array)) == default_packet()


def _block(header: str, text: str, ok: int, err: int, crc_delta: int = 0, raw: bytes | None = None) -> list[str]:
    raw = text.encode() if raw is None else raw
    body = base64.b64encode(zlib.compress(raw)).decode()
    crc = (zlib.crc32(raw) + crc_delta) & 0xFFFFFFFF
    return [f"@@VDOCTOR {header}", *[body[i : i + 76] for i in range(0, len(body), 76)],
            f"@@VDOCTOR END {ok} {err} {len(raw)} {crc:08x}"]


def test_guest_output_is_decoded(tmp_path):
    objs = [tmp_path / "a b.o", tmp_path / "c.o"]
    lines = ["@@VDOCTOR UNAME 6.1.0-40-amd64", "[    1.0] a kernel line in between"]
    lines += _block("OPEN /objs/0/a%20b.o", "", 1, 0)
    lines += _block("PROGRAM /objs/0/a%20b.o p1 xdp", "libbpf: ok\r\n", 1, 0)
    lines += _block("PROGRAM /objs/0/a%20b.o p2 tc/ingress", "R1 invalid mem access\n", 0, 13)
    lines += _block("OPEN /objs/1/c.o", "libbpf: elf: bad\n", 0, 22)
    lines += ["@@VDOCTOR DONE"]
    release, results = _parse("\r\n".join(lines), objs, "@@VDOCTOR BOOTED", "6.1")
    assert release == "6.1.0-40-amd64"
    p1, p2 = results[objs[0]]
    assert (p1.name, p1.section, p1.accepted, p1.error, p1.log) == ("p1", "xdp", True, None, "libbpf: ok\r\n")
    assert (p2.section, p2.accepted, p2.error) == ("tc/ingress", False, -13)
    (failed,) = results[objs[1]]
    assert (failed.name, failed.accepted, failed.error, failed.log) == ("c.o", False, -22, "libbpf: elf: bad\n")


def test_damaged_or_unfinished_output_is_an_error(tmp_path):
    objs = [tmp_path / "a.o"]
    damaged = ["@@VDOCTOR UNAME 6.1.0-40-amd64", *_block("PROGRAM /objs/0/a.o p xdp", "x", 1, 0, 1),
               "@@VDOCTOR DONE"]
    with pytest.raises(KernelUnavailable, match="damaged"):
        _parse("\n".join(damaged), objs, "@@VDOCTOR BOOTED", "6.1")
    with pytest.raises(KernelUnavailable, match="before the loader finished"):
        _parse("@@VDOCTOR UNAME 6.1.0-40-amd64\n", objs, "@@VDOCTOR BOOTED", "6.1")


def test_run_records_are_decoded(tmp_path):
    objs = [tmp_path / "a.o"]
    lines = ["@@VDOCTOR UNAME 6.1.0-40-amd64"]
    lines += _block("OPEN /objs/0/a.o", "", 1, 0)
    lines += _block("PROGRAM /objs/0/a.o good xdp", "ok\n", 1, 0)
    lines += ["@@VDOCTOR RUN 4294967295 1234 3 0 xdp"]
    lines += _block("PROGRAM /objs/0/a.o probe kprobe/x", "ok\n", 1, 0)
    lines += ["@@VDOCTOR RUN 0 0 0 95 kprobe"]
    lines += _block("PROGRAM /objs/0/a.o busy raw_tp/x", "ok\n", 1, 0)
    lines += ["@@VDOCTOR RUN 0 0 2 16 raw_tracepoint a-later-field"]
    lines += _block("PROGRAM /objs/0/a.o bad xdp", "R1 invalid mem access\n", 0, 13)
    lines += ["@@VDOCTOR RUN 1 1 1 0 xdp"]  # after a rejection: not about any program
    lines += _block("PROGRAM /objs/0/a.o old xdp", "ok\n", 1, 0)  # a loader without --runs
    lines += ["@@VDOCTOR DONE"]
    parsed = _parse_output("\r\n".join(lines), objs, "@@VDOCTOR BOOTED", "6.1")
    assert parsed.runs == {(objs[0], "good"): RunResult(4294967295, 1234, 3, [])}
    assert parsed.run_errors == {
        (objs[0], "probe"): "Programs of type kprobe cannot be test-run; only packet,"
                            " raw_tracepoint and syscall programs can.",
        (objs[0], "busy"): "BPF_PROG_TEST_RUN of the raw_tracepoint program failed:"
                           " Device or resource busy.",
    }
    assert [p.name for p in parsed.results[objs[0]]] == ["good", "probe", "busy", "bad", "old"]
    damaged = lines[:5] + ["@@VDOCTOR RUN 4294967295 12x4 3 0 xdp"] + ["@@VDOCTOR DONE"]
    with pytest.raises(KernelUnavailable, match="damaged"):
        _parse_output("\n".join(damaged), objs, "@@VDOCTOR BOOTED", "6.1")


@pytest.mark.qemu
def test_try_runs_in_a_guest_kernel(vdoctor):
    """`try --kernel 6.1 --run 2 --json`: each kernel's object carries its runs, as on the host."""
    result = vdoctor("try", PROGS / "run_packet.bpf.c", "--kernel", "6.1", "--run", "2", "--json")
    assert result.status == 0, result.stderr
    kernel = result.json()["kernels"]["6.1"]
    assert kernel["verdict"] == "accepted"
    runs = kernel["runs"]
    assert sorted(runs) == ["run_tc_len", "run_xdp_ethertype", "run_xdp_length"]
    assert runs["run_xdp_ethertype"]["retval"] == 10 and runs["run_xdp_length"]["retval"] == 81
    assert runs["run_tc_len"]["retval"] == 64
    for run in runs.values():
        assert run["repeat"] == 2 and run["printed"] == [] and run["duration_ns"] >= 0
    assert "run_errors" not in kernel

    text = vdoctor("try", PROGS / "run_raw_tp.bpf.c", "--kernel", "6.1", "--run", "2")
    assert text.status == 0, text.stderr
    assert "run      2 time(s): returned 42," in text.stdout
    assert "not run: Programs of type kprobe cannot be test-run" in text.stdout


def test_a_plans_runs_and_maps_are_decoded(tmp_path):
    """RunPlan(runs, cpus=2, again, dump): one RUN line per CPU, then the run again, then the
    maps (bytes, not text) with their type, value size and the guest's mapping of an arena."""
    objs = [tmp_path / "a.o"]
    stats = struct.pack("<2Q", 5, 7) + struct.pack("<2Q", 9, 0xFF)  # a per-CPU value on 2 CPUs
    lines = ["@@VDOCTOR UNAME 6.12.0-1-amd64"]
    lines += _block("OPEN /objs/0/a.o", "", 1, 0)
    lines += _block("PROGRAM /objs/0/a.o p xdp", "ok\n", 1, 0)
    lines += ["@@VDOCTOR RUN 0 10 100 0 xdp", "@@VDOCTOR RUN 3 11 100 0 xdp", "@@VDOCTOR RUN 0 9 1 0 xdp"]
    lines += _block("MAP static_stats 6 16 0", stats.decode("latin-1"), 1, 0, raw=stats)
    lines += _block("MAP static_arena 33 0 10000000", "\x80\x00", 1, 0, raw=b"\x80\x00")
    lines += ["@@VDOCTOR DONE"]
    parsed = _parse_output("\n".join(lines), objs, "@@VDOCTOR BOOTED", "6.12")
    key = (objs[0], "p")
    assert [r.retval for r in parsed.run_series[key]] == [0, 3, 0]
    assert parsed.runs[key].retval == 0, "the first run stays the run"
    maps = parsed.maps[key]
    assert maps["static_stats"].per_cpu() == [stats[:16], stats[16:]]
    assert (maps["static_arena"].type, maps["static_arena"].address, maps["static_arena"].data) == (
        33, 0x10000000, b"\x80\x00")
