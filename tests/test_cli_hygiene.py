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


def test_prose_that_quotes_loader_lines_is_not_a_log(vdoctor):
    """The README quotes `vdoctor:` and libbpf lines in its examples; it is still prose, not
    a load error made of its sentences (before: exit 0, "rejected [load-error]")."""
    result = vdoctor("explain", ROOT / "README.md")
    assert result.status == 2 and result.stdout == ""
    assert result.stderr.startswith("vdoctor: This is not a verifier log")


@needs_kernel
@pytest.mark.kernel
def test_the_level_2_reload_is_announced_and_no_rerun_skips_it(vdoctor):
    """The reload is said on stderr before it starts, and when it ends with its time
    (issue 25, point 5); --no-rerun keeps the level-1 diagnosis and says why."""
    program = PROGRAMS / "pointer_arith_multiply.bpf.c"
    result = vdoctor("try", program, "--json")
    said = [line for line in result.stderr.splitlines() if "level 2" in line or "level-2" in line]
    assert said[0].startswith("vdoctor: the level-1 log of ") and "loading it again at level 2" in said[0]
    assert re.fullmatch(r"vdoctor: level-2 load of \w+ done in \d+\.\d s", said[1]), said
    assert result.json()["log"]["level"] == 2
    skipped = vdoctor("try", program, "--json", "--no-rerun")
    assert skipped.status == 1
    out = skipped.json()
    assert out["log"]["level"] == 1 and out["error"]["class"] == "pointer-arith"
    assert any("without --no-rerun" in note for note in out["caveats"])
    assert "level 2" not in skipped.stderr


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command names."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            name = fields[0].split("(", 1)[1]
            if int(fields[1].split()[1]) == pid:
                found[int(stat.parent.name)] = name
        except (OSError, IndexError, ValueError):
            continue
    return found


@pytest.mark.qemu
def test_ctrl_c_stops_the_guests_at_once(tmp_path):
    """SIGINT while a guest boots: vdoctor ends well before the boot would (tens of seconds
    under TCG), and its QEMU processes are gone (before: it waited ~20 s for them)."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "verifier_doctor", "try", PROGRAMS / "accepted_counter.bpf.c",
                             "--kernel", "6.1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    guests: dict[int, str] = {}
    deadline = time.monotonic() + 120
    while not guests and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        guests = {pid: name for pid, name in _children(proc.pid).items() if name.startswith("qemu")}
    assert guests, "no QEMU process started"
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=15)  # a boot runs for tens of seconds: it was not waited for
    assert proc.returncode != 0
    time.sleep(0.5)
    assert not [pid for pid in guests if Path(f"/proc/{pid}").exists()], "a QEMU guest outlived vdoctor"


def test_an_accepted_short_log_does_not_say_its_format_is_unknown(vdoctor):
    text = vdoctor("explain", ROOT / "fixtures" / "logs" / "6.18" / "accepted_counter.L1.log").stdout
    assert text.splitlines()[-1] == "  log      level 1"
    assert "too few states" not in text
