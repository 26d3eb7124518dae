"""One error path for every command: one sentence on stderr, the status of CLI.md, no traceback."""

from __future__ import annotations

import pytest

from conftest import ROOT

EXAMPLE = ROOT / "examples" / "hello_malloc.bpf.c"


def test_fix_into_a_missing_directory_is_one_sentence_and_status_2(vdoctor, tmp_path):
    target = tmp_path / "nonexistent" / "dir" / "x.c"
    result = vdoctor("fix", EXAMPLE, "-o", target)
    assert result.status == 2
    assert result.stderr.count("\n") == 1 and "no directory" in result.stderr
    assert not target.exists()


def test_fix_onto_a_directory_is_one_sentence_and_status_2(vdoctor, tmp_path):
    result = vdoctor("fix", EXAMPLE, "-o", tmp_path)
    assert result.status == 2
    assert result.stderr.startswith("vdoctor: ") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("option", [["--run", "-1"], ["--kernel", "9.9"], ["--log-level", "3"], ["--log-level", "0"]])
def test_try_options_are_validated_by_typer(vdoctor, option):
    result = vdoctor("try", EXAMPLE, *option)
    assert result.status == 2
    assert option[0] in result.stderr  # typer names the option it refused
    assert result.stdout == ""


@pytest.mark.parametrize("argv", [
    ["explain", str(ROOT / "fixtures" / "seed" / "linked_list_pool.verifier.log")],  # the quick path
    ["explain", str(ROOT / "fixtures" / "seed" / "linked_list_pool.verifier.log"), "--js"],  # typer says no
    ["catalog", "null-deref"],  # typer and rich
])
def test_output_whose_reader_left_ends_quietly_with_141(argv):
    """`vdoctor ... | head`: the pipe's reader has gone before vdoctor writes; no sentence
    about a broken pipe, no traceback, status 141 (errors.py)."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "verifier_doctor", *argv], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    if argv[-1] == "--js":  # a usage error goes to stderr, which is open: typer's sentence
        assert done.returncode == 2 and "No such option" in done.stderr
        return
    assert (done.returncode, done.stderr) == (141, "")
