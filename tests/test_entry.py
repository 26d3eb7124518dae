"""The entry point runs plain `vdoctor explain` invocations without typer (entry.py): for
every command line it takes, typer must give the command exactly the same arguments, and
everything it leaves alone must still reach typer."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from verifier_doctor import cli, commands
from verifier_doctor.entry import quick_explain

WORDS = ["explain", "log.txt", "-", "other.log", "--json", "--source", "prog.bpf.c", "--format", "json",
         "html", "text", "sarif", "JSON", "-o", "--output", "out.txt", "--output=o.txt", "--format=sarif",
         "--source=s.c", "-o=x", "-oout", "--", "--help", "-h", "--jso", "--source=", "try"]


def _typer_arguments(argv: list[str]) -> dict | None:
    """What typer passes to commands.explain for argv, or None when it refuses the line."""
    seen: list[dict] = []

    def record(log, as_json=False, source=None, fmt=None, output=None, profile=False):
        assert not profile  # --profile is typer's alone (entry.py leaves it to typer)
        seen.append({"log": log, "as_json": as_json, "source": source, "fmt": fmt, "output": output})

    original = commands.explain
    commands.explain = record
    try:
        result = CliRunner().invoke(cli.app, argv)
    finally:
        commands.explain = original
    return seen[0] if result.exit_code == 0 and seen else None


def _with_defaults(quick: dict) -> dict:
    return {"as_json": False, "source": None, "fmt": None, "output": None, **quick}


@pytest.mark.parametrize("argv", [
    ["explain", "log.txt"],
    ["explain", "-", "--json"],
    ["explain", "--format", "html", "-o", "page.html", "log.txt"],
    ["explain", "log.txt", "--source=prog.bpf.c", "--output=out.txt", "--format=sarif"],
])
def test_plain_invocations_are_quick_and_mean_what_typer_means(argv):
    quick = quick_explain(argv)
    assert quick is not None
    assert _with_defaults(quick) == _typer_arguments(argv)


@pytest.mark.parametrize("argv", [
    [], ["--help"], ["explain", "--help"], ["explain"], ["explain", "a", "b"], ["explain", "--format", "JSON", "a"],
    ["explain", "a", "--json", "--json"], ["explain", "a", "-oout"], ["explain", "a", "--", "b"], ["try", "p.c"],
    ["explain", "a", "--source"], ["explain", "a", "--jso"],
])
def test_everything_else_goes_to_typer(argv):
    assert quick_explain(argv) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=7).map(lambda words: ["explain", *words]))
def test_any_line_the_entry_takes_typer_reads_alike(argv):
    quick = quick_explain(argv)
    if quick is not None:
        assert _with_defaults(quick) == _typer_arguments(argv), argv


def test_the_quick_path_has_the_one_error_path(vdoctor, tmp_path):
    missing = tmp_path / "nope.log"
    quick = vdoctor("explain", missing)
    slow = vdoctor("explain", missing, "--source", tmp_path / "x.c", "--json", "--format", "json", "-o",
                   tmp_path / "o.json", "--source", tmp_path / "y.c")  # --source twice: typer reads it
    assert quick.status == slow.status == 2
    assert quick.stderr == f"vdoctor: There is no file {missing} to read.\n" == slow.stderr


def test_explain_runs_without_typer(tmp_path):
    import subprocess
    import sys

    probe = ("import sys, runpy; sys.argv = ['vdoctor', 'explain', sys.argv[1], '--json'];\n"
             "try:\n    runpy.run_module('verifier_doctor', run_name='__main__')\n"
             "except SystemExit as done:\n    assert done.code == 0, done.code\n"
             "unused = {'typer', 'rich', 'lark', 'logging', 'pickle', 'shutil'} & set(sys.modules)\n"
             "assert not unused, unused\n")
    log = Path(__file__).resolve().parent.parent / "fixtures" / "seed" / "linked_list_pool.verifier.log"
    done = subprocess.run([sys.executable, "-c", probe, str(log)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"class": "scalar-deref"' in done.stdout


HELP_REQUESTS = [[], ["--help"], ["explain", "--help"], ["try", "--help"], ["fix", "--help"],
                 ["catalog", "--help"], ["nosuchcommand", "--help"]]


def test_help_from_the_cache_is_what_typer_prints(tmp_path):
    """Every help request at each width, answered twice from the entry (the first run asks
    typer and keeps the answer, the second prints the kept one without importing typer),
    equals typer's own answer at that width; one cache holds them all."""
    import os

    for width in ("50", "120", "64"):
        _help_agrees({**os.environ, "VDOCTOR_CACHE": str(tmp_path), "COLUMNS": width})


def _help_agrees(env: dict) -> None:
    import subprocess
    import sys

    by_typer = "import sys; from verifier_doctor.cli import app; app(prog_name='vdoctor', args=sys.argv[1:])"
    by_entry = ("import os, sys; sys.argv[0] = 'vdoctor'\n"
                "try:\n    from verifier_doctor.entry import main; main()\n"
                "finally:\n    assert not (os.environ.get('KEPT') and 'typer' in sys.modules), 'typer imported'\n")
    for argv in HELP_REQUESTS:
        typer_says = subprocess.run([sys.executable, "-c", by_typer, *argv], capture_output=True, text=True, env=env)
        assert typer_says.stdout or typer_says.stderr
        for run in ("", "kept"):
            ours = subprocess.run([sys.executable, "-c", by_entry, *argv], capture_output=True, text=True,
                                  env={**env, "KEPT": run})
            assert (ours.stdout, ours.stderr, ours.returncode) == (
                typer_says.stdout, typer_says.stderr, typer_says.returncode), (argv, run)
