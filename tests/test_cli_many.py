"""Many inputs in one run (issue 25, point 1) and the head line editors read (point 3):
`explain LOG...`, `try PROG...`, a table then each distinct diagnosis once; JSON, JSON
Lines, SARIF and HTML of them all; the worst exit status."""

from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT, kernel_loads_bpf

LOGS = ROOT / "fixtures" / "logs"
PROGRAMS = ROOT / "fixtures" / "programs"
L1 = LOGS / "6.18" / "linked_list_pool.L1.log"
L2 = LOGS / "6.18" / "linked_list_pool.L2.log"
ACCEPTED = LOGS / "6.18" / "accepted_counter.L1.log"
OLD = LOGS / "5.10" / "linked_list_pool.L1.log"  # 5.10 prints no line numbers
needs_kernel = pytest.mark.skipif(not kernel_loads_bpf(), reason="the running kernel does not load BPF here")


def _table(stdout: str) -> list[list[str]]:
    lines = stdout.split("\n\n")[0].splitlines()
    assert lines[0].split() == ["program", "verdict", "class", "file:line", "insns", "states", "time"]
    return [line.split() for line in lines[1:]]


def test_several_logs_give_a_table_and_each_diagnosis_once(vdoctor):
    result = vdoctor("explain", L1, L2, ACCEPTED)
    assert result.status == 0, result.stderr
    rows = _table(result.stdout)
    assert [row[:5] for row in rows] == [
        [f"{L1}:pool_user", "rejected", "scalar-deref", "linked_list_pool.bpf.c:43", rows[0][4]],
        [f"{L2}:pool_user", "rejected", "scalar-deref", "linked_list_pool.bpf.c:43", rows[1][4]],
        [f"{ACCEPTED}:count_packets", "accepted", "-", "-", rows[2][4]],
    ]
    # L1 and L2 of one program are one diagnosis, printed once with both names.
    assert result.stdout.count("pool_user: rejected  [scalar-deref]") == 1
    assert f"== {L1}:pool_user, {L2}:pool_user ==" in result.stdout


def test_a_directory_is_its_logs(vdoctor):
    folder = LOGS / "6.18"
    result = vdoctor("explain", folder, "--jsonl")
    assert result.status == 0, result.stderr
    inputs = {json.loads(line)["input"] for line in result.stdout.splitlines()}
    assert inputs == {str(path) for path in folder.glob("*.log")}


def test_one_input_that_is_no_log_makes_the_status_2_and_the_rest_is_explained(vdoctor, tmp_path):
    prose = tmp_path / "notes.txt"
    prose.write_text("hello world\nthis is a README\n")
    result = vdoctor("explain", L1, prose)
    assert result.status == 2
    rows = _table(result.stdout)
    assert rows[0][1] == "rejected" and rows[1][:2] == [str(prose), "error"]
    assert "This is not a verifier log" in result.stdout


def test_json_is_an_array_and_jsonl_one_object_a_line(vdoctor):
    array = vdoctor("explain", L1, ACCEPTED, "--json").json()
    assert [(o["input"], o["verdict"], o["program"]) for o in array] == [
        (str(L1), "rejected", "pool_user"), (str(ACCEPTED), "accepted", "count_packets")]
    assert array[0]["error"]["class"] == "scalar-deref"
    lines = vdoctor("explain", L1, ACCEPTED, "--jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == array


def test_sarif_is_one_run_with_every_rejection(vdoctor):
    log = json.loads(vdoctor("explain", L1, OLD, ACCEPTED, "--format", "sarif").stdout)
    assert len(log["runs"]) == 1
    results = log["runs"][0]["results"]
    assert [(r["properties"]["input"], r["properties"]["program"]) for r in results] == [
        (str(L1), "pool_user"), (str(OLD), "pool_user")]


def test_html_is_one_page_with_every_program(vdoctor):
    page = vdoctor("explain", L1, ACCEPTED, "--format", "html").stdout
    assert page.count("<!DOCTYPE html>") == 1
    assert str(L1) in page and str(ACCEPTED) in page and "pool_user" in page and "count_packets" in page


def test_standard_input_twice_is_a_usage_error(vdoctor):
    result = vdoctor("explain", "-", "-", stdin=b"")
    assert result.status == 2 and result.stderr == "vdoctor: Standard input (-) can be read once only.\n"


def test_the_head_line_is_what_compilers_print(vdoctor):
    """file:line:col: error[class]: message first, when the log names the line (6.2+) or
    the program's text has it (--source); not for a log that names neither."""
    by_log = vdoctor("explain", L1).stdout.splitlines()[0]
    assert by_log == "linked_list_pool.bpf.c:43:1: error[scalar-deref]: R2 invalid mem access 'scalar'"
    source = PROGRAMS / "linked_list_pool.bpf.c"
    found = vdoctor("explain", OLD, "--source", source).stdout.splitlines()[0]
    assert re.fullmatch(rf"{re.escape(str(source))}:43:\d+: error\[scalar-deref\]: R2 invalid mem access 'inv'", found)
    column = int(found.split(":")[2])
    assert source.read_text().splitlines()[42][column - 1:].startswith("if (curr->free")
    assert vdoctor("explain", OLD).stdout.startswith("pool_user: rejected")
    kernels = vdoctor("explain", LOGS / "7.3" / "linked_list_pool.L1.log").stdout.splitlines()[0]
    assert kernels.startswith("linked_list_pool.bpf.c:43:13: error[scalar-deref]")  # 7.3 gives the column


def test_json_carries_the_lines_text_shows(vdoctor):
    """A 5.10 log prints no line numbers; with --source, text finds lines 43 and 47 and
    JSON says so too (program_line), "line" staying the log's null (CLI.md)."""
    source = PROGRAMS / "linked_list_pool.bpf.c"
    out = vdoctor("explain", OLD, "--source", source, "--json").json()
    assert out["error"]["source"]["line"] is None
    assert (out["error"]["source"]["program_file"], out["error"]["source"]["program_line"]) == (str(source), 43)
    assert out["culprit"]["source"]["program_line"] == 47
    text = vdoctor("explain", OLD, "--source", source).stdout
    assert ">   47 |" in text and ">   43 |" in text


@needs_kernel
@pytest.mark.kernel
def test_try_of_several_programs_is_one_table_and_the_worst_status(vdoctor, tmp_path):
    broken = tmp_path / "broken.bpf.c"
    broken.write_text("int f(void) { return undeclared_thing; }\n")
    accepted, rejected = PROGRAMS / "accepted_counter.bpf.c", PROGRAMS / "linked_list_pool.bpf.c"
    result = vdoctor("try", accepted, rejected)
    assert result.status == 1, result.stderr
    rows = _table(result.stdout)
    assert [row[:3] for row in rows] == [[f"{accepted}:count_packets", "accepted", "-"],
                                         [f"{rejected}:pool_user", "rejected", "scalar-deref"]]
    assert result.stdout.count(f"{rejected}:43:") == 1  # the head line, with the path given
    sarif = json.loads(vdoctor("try", accepted, rejected, "--format", "sarif").stdout)
    (found,) = sarif["runs"][0]["results"]
    where = found["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == rejected.relative_to(ROOT).as_posix()  # its own file, not the log's name
    assert where["region"]["startLine"] == 43
    worst = vdoctor("try", accepted, broken, "--json")
    assert worst.status == 2
    assert [o["verdict"] for o in worst.json()] == ["accepted", "error"]


@needs_kernel
@pytest.mark.kernel
def test_programs_with_one_bug_get_one_diagnosis(vdoctor):
    """Three programs of one object rejected alike: the diagnosis once, the other two named
    under it (before, three identical diagnoses)."""
    result = vdoctor("try", ROOT / "tests" / "kernel_progs" / "same_bug_three_programs.bpf.c")
    assert result.status == 1
    assert result.stdout.count("rejected  [scalar-deref]") == 1
    assert "  also     the same diagnosis for peek_second, peek_third" in result.stdout
