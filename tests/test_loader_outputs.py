"""Every loader's output, as each loader printed it (scripts/record_loaders.py, run by
`make fixtures`), reads to the verdict, class, program and rejected instruction that the
reproducer's expect file and its libbpf log of the same kernel (fixtures/logs/) give.

Loaders: bpftool with and without -d, libbpf with its debug log on, cilium/ebpf's
VerifierError (%+v; %-20v with its "(N line(s) omitted)" cut; %v, one line), BCC's Python
front end, bpftrace -v."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import ROOT
from verifier_doctor.analysis import diagnose
from verifier_doctor.errors import NotAVerifierLog
from verifier_doctor.parsing import read_log
from verifier_doctor.parsing.reader import read_text

LOADERS = ROOT / "fixtures" / "loaders"
PROGRAMS = ROOT / "fixtures" / "programs"
KERNEL = (LOADERS / "kernel.txt").read_text().strip()
REFERENCE_LOGS = ROOT / "fixtures" / "logs" / KERNEL
FROM_PROGRAMS = ("bpftool", "bpftool-d", "libbpf-debug", "cilium")
OUTPUTS = sorted(p for loader in FROM_PROGRAMS for p in (LOADERS / loader).glob("*.log"))

# BCC and bpftrace load their own languages' versions of the cases (record_loaders.py).
OWN_LANGUAGE = {
    "bcc/bcc_counter.log": ("accepted", None, None),
    "bcc/bcc_missing_null_check.log": ("rejected", "null-deref", "r1 = *(u64 *)(r0 +0)"),
    "bpftrace/bpftrace_counter.log": ("accepted", None, None),
    "bpftrace/bpftrace_too_large.log": ("rejected", "too-complex", None),
}


def _diagnoses(text: str):
    return [diagnose(program) for program in read_log(read_text(text.encode())).programs]


def _reference(stem: str):
    """The diagnosis of the same program's libbpf log on the same kernel (test_fixture_logs
    checks it against the expect file)."""
    expect = json.loads((PROGRAMS / f"{stem}.expect.json").read_text())
    (diagnosis,) = [d for d in _diagnoses((REFERENCE_LOGS / f"{stem}.L1.log").read_text())
                    if d.program in (expect["program"], None)]
    return expect, diagnosis


def test_every_loader_was_recorded():
    assert {p.parent.name for p in OUTPUTS} == set(FROM_PROGRAMS)
    assert set(OWN_LANGUAGE) <= {f"{p.parent.name}/{p.name}" for p in LOADERS.glob("*/*.log")}


@pytest.mark.parametrize("output", OUTPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_loader_output_reads_as_the_kernel_said(output: Path):
    stem = output.name.split(".")[0]
    expect, reference = _reference(stem)
    text = output.read_text()
    if not text.strip():
        # bpftool without -d prints nothing for a program the kernel accepted.
        assert output.parent.name == "bpftool" and expect["verdict"] == "accepted"
        with pytest.raises(NotAVerifierLog, match="empty"):
            read_text(text.encode())
        return
    diagnoses = _diagnoses(text)
    assert len(diagnoses) == 1
    (diagnosis,) = diagnoses
    assert diagnosis.verdict == expect["verdict"]
    assert diagnosis.unparsed == ()
    # Every output names the program, but for cilium's accepted program (the library gives
    # the log alone) and a map that could not be created (bpftool and cilium name the map).
    unnamed = (output.parent.name == "cilium" and expect["verdict"] == "accepted"
               or output.parent.name in ("bpftool", "cilium") and expect["class"] == "load-error")
    assert diagnosis.program == (None if unnamed else expect["program"])
    if expect["verdict"] == "accepted":
        assert diagnosis.error is None
        return
    assert diagnosis.error.error_class == expect["class"], diagnosis.error.message
    if output.name.endswith(".summary.log") and not re.search(r": [0-9]+: \([0-9a-f]{2}\) ", text):
        # cilium's one line keeps the log's last line or two: the instruction only when
        # the error's line is about a register ("R0 invalid mem access").
        assert diagnosis.error.insn is None
        return
    assert diagnosis.error.insn == reference.error.insn
    assert diagnosis.error.insn_text == reference.error.insn_text


def test_cilium_cut_log_is_read_from_where_it_starts():
    text = (LOADERS / "cilium" / "linked_list_pool.tail.log").read_text()
    assert " line(s) omitted)" in text.splitlines()[1]
    (program,) = read_log(text).programs
    assert program.name == "pool_user" and program.unparsed == ()


@pytest.mark.parametrize("name", sorted(OWN_LANGUAGE))
def test_bcc_and_bpftrace_outputs(name):
    verdict, error_class, insn_text = OWN_LANGUAGE[name]
    (diagnosis,) = _diagnoses((LOADERS / name).read_text())
    assert diagnosis.verdict == verdict
    if verdict == "accepted":
        assert diagnosis.stats is not None and diagnosis.stats.processed_insns > 0
        return
    assert diagnosis.error.error_class == error_class
    if insn_text:
        assert diagnosis.error.insn_text == insn_text


@pytest.mark.parametrize("name, program, errno, says", [
    # fentry to a function the kernel's BTF lacks: -ESRCH, and libbpf names the target.
    ("fentry_missing_target", "trace_missing", -3, "failed to find kernel BTF type ID of 'vdoctor_no_such_function'"),
    # A user without CAP_BPF: libbpf's probe of a trivial program gets -EPERM.
    ("no_capability", None, -1, "Couldn't load trivial BPF program"),
])
def test_load_failures_before_the_verifier(name, program, errno, says):
    (trace,) = read_log((LOADERS / "failures" / f"{name}.log").read_text()).programs
    assert trace.name == program and trace.errno == errno and trace.load_failed
    assert not trace.has_verifier_log and any(says in line for line in trace.libbpf_lines)
    diagnosis = diagnose(trace)
    assert diagnosis.verdict == "rejected" and diagnosis.error.error_class == "load-error"
