"""The QEMU matrix: every Debian kernel in SUPPORTED boots once and loads two small objects.

tests/qemu_progs/accept.bpf.c has one program every kernel accepts; reject.bpf.c has one that
dereferences a scalar (rejected: "invalid mem access") beside one that is accepted, so a
rejection is seen not to hide its neighbour. All objects go into one boot per kernel, two
kernels at a time. Run alone with `pytest -m qemu -s` to see the timings.
"""

from __future__ import annotations

import base64
import errno
import re
import time
import zlib
from pathlib import Path

import pytest

from verifier_doctor.errors import KernelUnavailable
from verifier_doctor.kernel.build import compile_program
from verifier_doctor.kernel.kernels import SUPPORTED
from verifier_doctor.kernel.qemu import GuestRun, _parse, load_in_guests

PROGS = Path(__file__).parent / "qemu_progs"


@pytest.fixture(scope="module")
def objects(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("qemu_objs")
    return {name: compile_program(PROGS / f"{name}.bpf.c", out) for name in ("accept", "reject")}


@pytest.fixture(scope="module")
def matrix(objects) -> dict[str, GuestRun]:
    started = time.monotonic()
    runs = load_in_guests(SUPPORTED, list(objects.values()), log_level=1, timeout=300, jobs=2)
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


def _block(header: str, text: str, ok: int, err: int, crc_delta: int = 0) -> list[str]:
    raw = text.encode()
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
