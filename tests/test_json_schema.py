"""The JSON schema of the explain object ships in the package (verifier_doctor/data/
explain.schema.json) and every fixture log's JSON, read in one run, validates against it
(issue 25, point 6)."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from conftest import ROOT

LOGS = ROOT / "fixtures" / "logs"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(resources.files("verifier_doctor").joinpath("data/explain.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _problems(validator, obj) -> list[str]:
    return [f"{obj.get('input')}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(obj)]


def test_every_fixture_logs_object_follows_the_schema(vdoctor, validator):
    logs = sorted(LOGS.glob("*/*.log"))
    objects = vdoctor("explain", "--json", *logs).json()
    assert len({o["input"] for o in objects}) == len(logs)
    problems = [p for obj in objects for p in _problems(validator, obj)]
    assert not problems, problems[:10]


def test_the_single_object_and_a_failed_input_follow_it_too(vdoctor, validator, tmp_path):
    one = vdoctor("explain", "--json", ROOT / "fixtures" / "seed" / "linked_list_pool.verifier.log").json()
    assert not _problems(validator, one)
    prose = tmp_path / "notes.txt"
    prose.write_text("hello\n")
    failed = vdoctor("explain", "--json", prose, LOGS / "6.18" / "accepted_counter.L1.log").json()
    assert failed[0]["verdict"] == "error" and not _problems(validator, failed[0])


def test_the_schema_refuses_what_breaks_the_contract(validator):
    """The schema can fail: an object without "culprit", or with a line of 0, is refused."""
    good = {"verdict": "accepted", "program": "p", "error": None, "culprit": None,
            "stats": {"processed_insns": 1, "total_states": 0, "peak_states": 0}}
    assert not _problems(validator, good)
    assert _problems(validator, {k: v for k, v in good.items() if k != "culprit"})
    bad_line = {**good, "verdict": "rejected", "error": {"message": "m", "source": {"file": None, "line": 0, "text": "x"}}}
    assert _problems(validator, bad_line)
