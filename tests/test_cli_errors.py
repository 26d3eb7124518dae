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
