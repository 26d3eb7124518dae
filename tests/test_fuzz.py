"""No input makes `explain` crash: mutations of every fixture log (tests/log_mutations.py),
explained as text and as JSON, in-process, give exit status 0, 1 or 2, one sentence on
stderr at most, no traceback and no internal error; under --json, one valid JSON object.
Derandomized and bounded by examples, so every run tries the same inputs.
Every input a fuzz run found a crash with is kept in tests/regressions/ and replayed."""

from __future__ import annotations

import json
import random
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from log_mutations import mutate, random_ops
from verifier_doctor.cli import app

ROOT = Path(__file__).resolve().parent.parent
LOGS = sorted(p for p in (ROOT / "fixtures").rglob("*.log") if p.stat().st_size < 256 * 1024)
DONORS = [p.read_bytes() for p in LOGS[::7]]
REGRESSIONS = sorted((ROOT / "tests" / "regressions").glob("*.log"))

# The text output goes to an ASCII stdout (as under LANG=C), the JSON to a UTF-8 one.
_runners = {"ascii": CliRunner(charset="ascii"), "utf-8": CliRunner()}


def explain(data: bytes, tmp: Path, *options: str, stdin: bool = False):
    """`vdoctor explain` on `data`, in-process, as a file or on standard input."""
    runner = _runners["utf-8" if "--json" in options else "ascii"]
    env = {"VDOCTOR_DEBUG": "1"}  # a fault of ours raises, with its traceback, instead of a sentence
    if stdin:
        return runner.invoke(app, ["explain", "-", *options], input=data, env=env)
    path = tmp / "input.log"
    path.write_bytes(data)
    return runner.invoke(app, ["explain", str(path), *options], env=env)


def assert_no_crash(result, as_json: bool, note: str = "") -> None:
    # An exception that escaped the CLI is in result.exception (typer.Exit is a SystemExit).
    error = result.exception
    if error is not None and not isinstance(error, SystemExit):
        raise AssertionError(f"{note}: " + "".join(traceback.format_exception(error)))
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr, note)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, (result.stderr, note)
    if result.exit_code == 2:
        assert result.stderr.startswith("vdoctor: ") and result.stderr.count("\n") == 1, (result.stderr, note)
        assert result.stdout == ""
    elif as_json:
        assert isinstance(json.loads(result.stdout), dict), note


@settings(max_examples=400, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, (1 << 64) - 1), stdin=st.booleans())
def test_mutated_logs_never_crash_explain(tmp_path, seed, stdin):
    # Hypothesis draws the seed (derandomized: the same seeds every run); the log and its
    # mutations come from it as scripts/fuzz_explain.py makes them, uniformly over the
    # fixtures and the operations (Hypothesis's own integers lean to 0 and the ends).
    rng = random.Random(seed)
    log = rng.choice(LOGS)
    ops = random_ops(rng)
    data = mutate(log.read_bytes(), ops, DONORS)
    note = f"{log.name} mutated by {ops}"
    assert_no_crash(explain(data, tmp_path, "--json", stdin=stdin), as_json=True, note=note)
    assert_no_crash(explain(data, tmp_path, stdin=stdin), as_json=False, note=note)


@pytest.mark.parametrize("case", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_crash_found_once_stays_fixed(tmp_path, case):
    data = case.read_bytes()
    assert_no_crash(explain(data, tmp_path, "--json"), as_json=True)
    assert_no_crash(explain(data, tmp_path), as_json=False)
