"""What users expect of a command line: -o checked first and `-o -` as standard output,
each command pointing to the other when given the other's input, a failed compile showing
its command, no object bytes printed as source (issue 25, point 4)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, kernel_loads_bpf

SEED_LOG = ROOT / "fixtures" / "seed" / "linked_list_pool.verifier.log"
PROGRAMS = ROOT / "fixtures" / "programs"
needs_kernel = pytest.mark.skipif(not kernel_loads_bpf(), reason="the running kernel does not load BPF here")


def _run_in(folder: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verifier_doctor", *map(str, args)], capture_output=True,
                          text=True, cwd=folder, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "html"])
def test_dash_output_is_standard_output(tmp_path, fmt):
    done = _run_in(tmp_path, "explain", SEED_LOG, "--format", fmt, "-o", "-")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and not (tmp_path / "-").exists()


@pytest.mark.parametrize("command", [["explain", SEED_LOG], ["try", PROGRAMS / "accepted_counter.bpf.c"]])
def test_an_unwritable_output_is_said_before_any_work(vdoctor, tmp_path, command):
    result = vdoctor(*command, "--format", "sarif", "-o", tmp_path / "nonexistent" / "x.sarif")
    assert result.status == 2
    assert result.stderr == f"vdoctor: Cannot write {tmp_path / 'nonexistent' / 'x.sarif'}: there is no directory " \
                            f"{tmp_path / 'nonexistent'}.\n"  # one sentence, and nothing compiled before it


def test_explain_of_an_object_points_to_try(vdoctor, tmp_path):
    obj = tmp_path / "prog.bpf.o"
    obj.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(200))
    result = vdoctor("explain", obj)
    assert result.status == 2 and f"`vdoctor try {obj}`" in result.stderr
    assert result.stderr.count("\n") == 1


def test_explain_of_c_source_points_to_try(vdoctor):
    source = PROGRAMS / "accepted_counter.bpf.c"
    result = vdoctor("explain", source)
    assert result.status == 2
    assert result.stderr == (f"vdoctor: {source} is C source, not a verifier log: `vdoctor try {source}` "
                             "compiles and loads it.\n")


def test_try_of_a_log_points_to_explain(vdoctor):
    result = vdoctor("try", SEED_LOG)
    assert result.status == 2
    assert result.stderr == (f"vdoctor: {SEED_LOG} looks like a verifier log, not a program: "
                             f"`vdoctor explain {SEED_LOG}` explains it.\n")


def test_a_failed_compile_shows_its_command(vdoctor, tmp_path):
    broken = tmp_path / "broken.bpf.c"
    broken.write_text("int f(void) { return undeclared_thing; }\n")
    result = vdoctor("try", broken)
    assert result.status == 2
    last = result.stderr.rstrip("\n").splitlines()[-1]
    assert last.startswith("The command was: ") and "-target bpf" in last and f"-c {broken}" in last


def test_help_names_nothing_a_user_does_not_have(vdoctor):
    for command in ("explain", "try", "fix", "catalog"):
        assert "CLI.md" not in vdoctor(command, "--help").stdout


@needs_kernel
@pytest.mark.kernel
def test_try_of_an_object_prints_no_bytes_of_it(vdoctor, tmp_path):
    """The object's bytes are no source: quoted lines come from the log, and nothing
    written is a control character (before, `>  3 | ELF...` lines reached the terminal)."""
    from verifier_doctor.kernel.build import compile_program

    obj = compile_program(PROGRAMS / "linked_list_pool.bpf.c", tmp_path)
    result = vdoctor("try", obj)
    assert result.status == 1
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", result.stdout), result.stdout
    assert not re.search(r"^\s+[> ] +\d+ \|", result.stdout, re.MULTILINE)
