"""The `vdoctor` command as typer reads it: help, version, and the parser and message
caches it leaves in the user's cache (one entry per kind)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from verifier_doctor import cache

ROOT = Path(__file__).resolve().parent.parent
SMALL_LOG = ROOT / "fixtures" / "seed" / "linked_list_pool.verifier.log"


def test_the_console_script_is_the_typer_app():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"vdoctor": "verifier_doctor.cli:main"}


@pytest.mark.parametrize("argv", [["-h"], ["--help"], ["explain", "-h"], ["try", "-h"], ["catalog", "--help"]])
def test_short_and_long_help(vdoctor, argv):
    helped = vdoctor(*argv)
    assert helped.status == 0, helped.stderr
    assert helped.stdout.startswith("Usage: vdoctor"), helped.stdout
    assert "-h, --help" in helped.stdout


def test_version(vdoctor):
    from importlib.metadata import version

    said = vdoctor("--version")
    assert (said.status, said.stdout) == (0, f"vdoctor {version('verifier-doctor')}\n")


def test_no_command_is_a_usage_error_that_shows_the_commands(vdoctor):
    bare = vdoctor()
    assert bare.status == 2
    assert "Usage: vdoctor" in bare.stdout + bare.stderr
    assert "explain" in bare.stdout + bare.stderr


def test_explain_leaves_the_kernel_side_and_rich_unimported():
    """Lazy imports: `explain` loads no kernel code, no rich (its text is render.screen's)."""
    probe = ("import sys, runpy; sys.argv = ['vdoctor', 'explain', sys.argv[1], '--json']\n"
             "try:\n    runpy.run_module('verifier_doctor', run_name='__main__')\n"
             "except SystemExit as done:\n    assert done.code == 0, done.code\n"
             "unused = {'rich', 'verifier_doctor.kernel', 'verifier_doctor.render.html'} & set(sys.modules)\n"
             "assert not unused, unused\n")
    done = subprocess.run([sys.executable, "-c", probe, str(SMALL_LOG)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"class": "scalar-deref"' in done.stdout


def test_the_cache_holds_one_entry_per_kind(tmp_path):
    """Lark keeps the analysed grammar in one file; a message table made from other files
    (an older vdoctor's) is removed when the new one is stored."""
    stale = tmp_path / "messages-00000000.marshal"
    stale.write_bytes(b"\x00")
    env = {**os.environ, "VDOCTOR_CACHE": str(tmp_path)}
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "verifier_doctor", "explain", str(SMALL_LOG), "--json"],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
    names = sorted(path.name for path in tmp_path.iterdir())
    kinds = [name.split("-")[0] for name in names]
    assert "parser.lark" in names and "messages" in kinds, names
    assert len(kinds) == len(set(kinds)) and not stale.exists(), names


def test_storing_an_entry_removes_the_older_ones_of_its_kind(tmp_path, monkeypatch):
    monkeypatch.setenv("VDOCTOR_CACHE", str(tmp_path))
    cache.store("table", "one", [1])
    cache.store("other", "x", [0])
    cache.store("table", "two", [2])
    assert cache.load("table", "two") == [2]
    assert cache.load("table", "one") is None
    assert cache.load("other", "x") == [0]
    assert len(list(tmp_path.iterdir())) == 2


def test_an_unwritable_cache_still_explains(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    env = {**os.environ, "VDOCTOR_CACHE": str(blocked / "cache")}
    done = subprocess.run([sys.executable, "-m", "verifier_doctor", "explain", str(SMALL_LOG), "--json"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"class": "scalar-deref"' in done.stdout
