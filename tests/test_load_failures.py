"""Loads refused before the verifier, in libbpf's words, typed (issue 22, point 5).

Each reproducer of ours whose expect file names a `load_failure` (fixtures/programs/
load_error_*.expect.json) is checked twice: its recorded logs are read into that typed
failure, with libbpf's or the kernel's own line as the error, and `vdoctor try` of it on the
running kernel gives the same failure with exit status 2 (a refusal before the verifier).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import kernel_loads_bpf
from verifier_doctor.analysis import diagnose
from verifier_doctor.kernel.loader import may_load_bpf
from verifier_doctor.parsing import read_log
from verifier_doctor.pipeline import exit_status

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "fixtures" / "programs"
TYPED = {path.name.removesuffix(".expect.json"): json.loads(path.read_text())
         for path in sorted(PROGRAMS.glob("load_error_*.expect.json"))
         if "load_failure" in json.loads(path.read_text())}
LOGS = [log for stem in TYPED for log in sorted((ROOT / "fixtures" / "logs").glob(f"*/{stem}.L*.log"))]

# What the explanation must say of each kind: the cause in the words of the fix.
SAID = {
    "unknown-section": ("names no type it knows", 'SEC("tc")'),
    "map-type-unavailable": ("does not have arena maps", "--kernel all"),
    "map-zero-entries": ("max_entries 0", "__uint(max_entries, 1024);"),
    "attach-target-missing": ("attach target", "bpftool btf dump"),
}


def test_every_typed_reproducer_is_recorded():
    assert set(SAID) <= {expect["load_failure"]["kind"] for expect in TYPED.values()}
    assert {log.name.split(".")[0] for log in LOGS} == set(TYPED)


def _diagnosis(text: str, program: str):
    (trace,) = [t for t in read_log(text).programs if t.name == program] or read_log(text).programs
    return diagnose(trace)


@pytest.mark.parametrize("log", LOGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_recorded_refusal_is_typed(log):
    expect = TYPED[log.name.split(".")[0]]
    text = log.read_text()
    diagnosis = _diagnosis(text, expect["program"])
    error = diagnosis.error
    # libbpf's (or the kernel's) own line, verbatim, is the error.
    assert f"libbpf: {error.message}\n" in text, error.message
    assert expect["message"] in error.message
    failure = {key: value for key, value in vars_of(error.load_failure).items() if key in expect["load_failure"]}
    assert failure == expect["load_failure"]
    cause, fix = SAID[expect["load_failure"]["kind"]]
    assert cause in diagnosis.explanation
    assert any(fix in suggestion for suggestion in diagnosis.suggestions), diagnosis.suggestions
    assert exit_status([diagnosis]) == 2, "a refusal before the verifier"


def vars_of(failure) -> dict:
    from dataclasses import asdict

    assert failure is not None, "the failure is not typed"
    return asdict(failure)


@pytest.mark.parametrize("stem, status", [
    ("load_error_missing_kfunc", 2),  # libbpf stops before the kernel
    ("load_error_license", 1),  # the verifier's own refusal
    ("load_error_missing_func_info", 1),  # the kernel's check inside bpf_check
    ("missing_null_check", 1),
    ("accepted_counter", 0),
])
def test_exit_status_tells_a_refusal_before_the_verifier(stem, status):
    assert exit_status([_recorded(stem)]) == status


def _recorded(stem: str):
    expect = json.loads((PROGRAMS / f"{stem}.expect.json").read_text())
    log = ROOT / "fixtures" / "logs" / "6.18" / f"{stem}.L1.log"
    return _diagnosis(log.read_text(), expect["program"])


def test_libbpf_s_btf_load_log_is_libbpf_s_lines():
    """The kernel refused the object's BTF (a naked function's unnamed parameter), libbpf dumped
    the kernel's BTF log, a hundred lines of types without its prefix, and went on without BTF;
    the map then failed. As libbpf alone prints it (no `vdoctor:` line; a selftest runner, any
    libbpf loader), that is a loader's output, not prose: the map's failure is the error."""
    stem = "load_error_naked_btf_map"
    text = (ROOT / "fixtures" / "logs" / "6.18" / f"{stem}.L1.log").read_text()
    assert "-- BEGIN BTF LOAD LOG ---" in text and "BTF is optional, ignoring." in text
    libbpf_alone = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("vdoctor:"))
    assert len(libbpf_alone.splitlines()) > 80
    error = _diagnosis(libbpf_alone, TYPED[stem]["program"]).error
    assert error.error_class == "load-error"
    assert error.message.startswith("map 'packets': failed to create")


def test_a_verifier_rejection_beside_a_refusal_is_a_rejection():
    """One object, one program refused before the verifier and one it rejected: status 1,
    the program the verifier read is what the user fixes first; refusals alone give 2."""
    refused, rejected, accepted = (_recorded(s) for s in ("load_error_unknown_section", "missing_null_check",
                                                          "accepted_counter"))
    assert exit_status([refused, rejected, accepted]) == 1
    assert exit_status([refused, accepted]) == 2


@pytest.mark.kernel
@pytest.mark.skipif(not kernel_loads_bpf(), reason="the running kernel does not load BPF here")
@pytest.mark.parametrize("stem", sorted(TYPED))
def test_try_gives_the_typed_refusal_and_exit_2(vdoctor, stem):
    expect = TYPED[stem]
    result = vdoctor("try", PROGRAMS / f"{stem}.bpf.c", "--json")
    assert result.status == 2, (result.stdout[-2000:], result.stderr)
    error = result.json()["error"]
    assert expect["message"] in error["message"]
    typed = {key: value for key, value in error["load_failure"].items() if key in expect["load_failure"]}
    assert typed == expect["load_failure"]
    assert "for this user" not in result.stderr


CAP_BPF, CAP_SYS_ADMIN = 1 << 39, 1 << 21


@pytest.mark.parametrize("effective, may", [
    (0, False), (CAP_BPF, True), (CAP_SYS_ADMIN, True), (0x1FFFFFFFFFF & ~CAP_BPF & ~CAP_SYS_ADMIN, False),
])
def test_permission_is_read_from_the_effective_capabilities(tmp_path, effective, may):
    status = tmp_path / "status"
    status.write_text(f"Name:\tvdoctor\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n"
                      f"CapEff:\t{effective:016x}\nCapBnd:\t000001ffffffffff\n")
    assert may_load_bpf(status) is may


def test_this_process_is_read_as_it_is():
    effective = next(int(line.split()[1], 16) for line in Path("/proc/self/status").read_text().splitlines()
                     if line.startswith("CapEff:"))
    assert may_load_bpf() is bool(effective & (CAP_BPF | CAP_SYS_ADMIN))
