"""Every recorded log of every reproducer is diagnosed as its expect file says.

The logs come from real kernels (`make fixtures`); a new program in fixtures/programs/
with its .expect.json is a new test, with no code. An expect file may override fields
per kernel under "kernels": {"5.10": {...}} where an older kernel words things otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifier_doctor.analysis import diagnose
from verifier_doctor.analysis.compare import relation_to_kernel
from verifier_doctor.model import LogFormat
from verifier_doctor.parsing import read_log

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "fixtures" / "programs"
LOGS = sorted((ROOT / "fixtures" / "logs").glob("*/*.log"))


def expectation(log: Path) -> dict:
    stem = log.name.rsplit(".", 2)[0]
    expect = json.loads((PROGRAMS / f"{stem}.expect.json").read_text())
    override = expect.get("kernels", {}).get(log.parent.name, {})
    return {**expect, **override}


def diagnosis_of(log: Path, program: str):
    document = read_log(log.read_text())
    traces = [t for t in document.programs if t.name == program] or list(document.programs)
    assert len(traces) == 1, f"{log}: expected one program named {program}"
    return diagnose(traces[0]), traces[0]


def test_every_program_has_logs():
    stems = {p.name.removesuffix(".bpf.c") for p in PROGRAMS.glob("*.bpf.c")}
    recorded = {log.name.rsplit(".", 2)[0] for log in LOGS}
    # Complexity-limit programs write logs too large to keep; they are benchmark inputs.
    big = {s for s in stems if json.loads((PROGRAMS / f"{s}.expect.json").read_text()).get("log_too_large")}
    assert stems - big <= recorded, f"no recorded log for {sorted(stems - big - recorded)}: run make fixtures"


@pytest.mark.parametrize("log", LOGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_log_is_diagnosed_as_expected(log: Path):
    expect = expectation(log)
    diagnosis, trace = diagnosis_of(log, expect["program"])
    assert diagnosis.verdict == expect["verdict"]
    if expect["verdict"] == "accepted":
        assert diagnosis.error is None and diagnosis.culprit is None
        assert diagnosis.stats is not None and diagnosis.stats.processed_insns > 0
        return
    error = diagnosis.error
    assert error.error_class == expect["class"], error.message
    said = "\n".join((*error.details, *trace.libbpf_lines))
    # One wording, or the wordings of different kernels ("'inv'" until v5.17, "'scalar'" after).
    wordings = expect["message"] if isinstance(expect["message"], list) else [expect["message"]]
    assert any(wording in said for wording in wordings), said
    if expect.get("error_source"):
        assert error.source is not None, "no source line for the rejected instruction"
        assert expect["error_source"] in error.source.text
    if expect.get("error_insn_text"):
        assert error.insn_text == expect["error_insn_text"]
    if expect.get("error_insn") is not None:  # the instruction a message names, not the last walked
        assert error.insn == expect["error_insn"], error.insn_text
    if expect.get("culprit_source"):
        assert diagnosis.culprit is not None, f"no culprit found; history: {diagnosis.history}"
        assert diagnosis.culprit.source is not None
        assert expect["culprit_source"] in diagnosis.culprit.source.text
    if expect.get("culprit_register") and diagnosis.culprit is not None:
        assert diagnosis.culprit.location == expect["culprit_register"] or expect.get("culprit_register_varies")
    # Where to fix (issue 22): every rejection says where the change goes, how sure, what kind.
    judgement = diagnosis.judgement
    assert judgement is not None and judgement.fix_site is not None and judgement.fix_site.action
    assert judgement.confidence in ("followed", "inferred")
    assert judgement.kind in ("source-bug", "lowering", "verifier-limit", "environment")
    if expect.get("fix_site_source"):
        assert judgement.fix_site.source is not None and expect["fix_site_source"] in judgement.fix_site.source.text
    if expect.get("fix_site_action"):
        assert expect["fix_site_action"] in judgement.fix_site.action, judgement.fix_site.action
    if expect.get("kind"):
        assert judgement.kind == expect["kind"], diagnosis.explanation
    for words in expect.get("explanation_says", ()):
        assert words in diagnosis.explanation, diagnosis.explanation


@pytest.mark.parametrize("log", [log for log in LOGS if log.parent.name == "7.3"],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_beside_the_kernels_own_diagnosis(log: Path):
    """v7.3 prints its own diagnosis: we point at the same rejected instruction, and the
    expect file records whether our culprit agrees with its causal path or says more."""
    expect = expectation(log)
    diagnosis, _ = diagnosis_of(log, expect["program"])
    kernel = diagnosis.kernel_diagnosis
    if kernel is None:
        assert "relation_to_kernel" not in expect
        return
    assert kernel.verdict and kernel.reason
    if kernel.at is not None and kernel.at.insn is not None:
        assert diagnosis.error.insn == kernel.at.insn
    assert relation_to_kernel(diagnosis) == expect["relation_to_kernel"]


@pytest.mark.parametrize("log", LOGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_log_level_and_format_are_recognised(log: Path):
    expect = expectation(log)
    _, trace = diagnosis_of(log, expect["program"])
    if trace.steps or trace.stats is not None and expect["verdict"] == "rejected":
        assert trace.log_level == int(log.name.rsplit(".", 2)[1][1])
    formats = {"5.10": "5.10", "6.1": "5.18", "6.12": "6.2", "6.18": "6.2", "7.2": "6.2", "7.3": "6.2"}
    states = sum(1 for step in trace.steps if step.state_before or step.state_after)
    if trace.format is LogFormat.UNKNOWN:
        assert states <= 1, "states were printed, but no kernel format was recognised"
    else:
        assert trace.format.value.startswith(formats[log.parent.name])


def test_expect_files_state_the_culprit():
    """A reproducer of a class that finds culprits names the culprit's source line, or says why
    there is none (`no_culprit`): a culprit the analysis stops finding then fails a test."""
    from verifier_doctor.analysis.classes import error_class

    for path in sorted(PROGRAMS.glob("*.expect.json")):
        expect = json.loads(path.read_text())
        if expect["verdict"] != "rejected":
            continue
        cls = error_class(expect["class"])
        if cls.follow is None and cls.culprit is None:
            continue
        assert expect.get("culprit_source") or expect.get("no_culprit"), \
            f"{path.name}: name the culprit_source, or say in no_culprit why there is none"


def test_recorded_logs_are_read_whole():
    """Every line of every recorded log is read by a rule (the 6.12+ partial spills
    'fp-8=????scalar()', v7.2+'s liveness listings, v7.2+'s jump followed on its line by the
    next instruction's source line before 'infinite loop detected')."""
    unread = {}
    for log in LOGS:
        count = sum(len(trace.unparsed) for trace in read_log(log.read_text()).programs)
        if count:
            unread[f"{log.parent.name}/{log.name}"] = count
    assert unread == {}
