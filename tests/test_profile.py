"""The cost profile (analysis/profile.py) of real level-2 logs of our own programs.

The logs are the running kernel's, recorded by scripts/record_profile_fixtures.py into
fixtures/profile/logs/ (xz): the shipped allocator's free loop built against static_malloc.h
at that script's HEADER_REVISION, and fixtures/programs/too_complex_nested_loops.bpf.c. The
tests marked `kernel` load the same programs again: the slope of processed instructions
between two trip counts is what one trip costs, and the fix the profile names must load.
"""

from __future__ import annotations

import lzma
import math
import sys
from pathlib import Path

import pytest

from verifier_doctor.analysis import diagnose
from verifier_doctor.analysis.profile import Loop, Profile, profile
from verifier_doctor.parsing import read_log

from conftest import kernel_loads_bpf, run_vdoctor

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "fixtures" / "profile"
LOGS = PROFILE / "logs" / "6.18"
NESTED = ROOT / "fixtures" / "programs" / "too_complex_nested_loops.bpf.c"
sys.path.insert(0, str(ROOT / "scripts"))

import record_profile_fixtures as recording  # noqa: E402


def _log(name: str) -> str:
    return lzma.decompress((LOGS / name).read_bytes()).decode()


def _profile(name: str) -> Profile:
    [trace] = read_log(_log(name)).programs
    return profile(trace)


def _line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _loop_at(found: Profile, file: str, line: int) -> Loop:
    return next(loop for loop in found.loops if loop.source is not None
                and (loop.source.file, loop.source.line) == (file, line))


FREE_LOOP_LINE = _line_of(PROFILE / "free_loop.bpf.c", "for (i = 0; i < FREE_BOUND && n; i++)")
OUTER_LINE = _line_of(NESTED, "for (i = 0; i < ROWS; i++)")
INNER_LINE = _line_of(NESTED, "for (j = 0; j < 1024; j++)")


def test_the_free_loop_is_the_hot_loop_its_counter_stops_pruning_and_the_header_is_the_cost():
    [trace] = read_log(_log("free_loop.32.L2.log.xz")).programs
    # 6.18 prints "frame 0: propagating r1" (precision) after the last instruction: no error.
    assert diagnose(trace).verdict == "accepted"
    found = profile(trace)
    loop = found.loops[0]
    assert (loop.source.file, loop.source.line) == ("free_loop.bpf.c", FREE_LOOP_LINE)
    [counter] = [d for d in loop.differences if d.kind == "counter"]
    assert counter.location == "R9" and counter.insn_text == "r9 += 1"
    assert loop.limit == "insns" and 0 < loop.max_iterations < 1100
    assert loop.header_calls[0].file == "static_malloc.h"
    assert loop.header_calls[0].insns_per_iteration > loop.insns_per_iteration / 2
    assert "global function" in loop.fixes[0] and "bpf_for" in loop.fixes[1]
    # Every processed instruction is counted at a source line once; header lines also at
    # their user call site.
    assert sum(line.insns for line in found.lines) == found.steps
    assert any(line.inlined and line.source.file == "free_loop.bpf.c" for line in found.lines)


def test_a_refused_walk_carries_its_profile_in_the_too_complex_diagnosis():
    [trace] = read_log(_log("free_loop.L2.tail.log.xz")).programs
    diagnosis = diagnose(trace)
    assert diagnosis.error.error_class == "too-complex"
    assert diagnosis.profile is not None and not diagnosis.profile.complete
    loop = diagnosis.profile.loops[0]
    assert (loop.source.file, loop.source.line) == ("free_loop.bpf.c", FREE_LOOP_LINE)
    assert [d.location for d in loop.differences if d.kind == "counter"] == ["R9"]


def test_nested_loops_each_have_their_counter_and_the_outer_one_hits_the_limit():
    found = _profile("too_complex_nested_loops.8.L2.log.xz")
    outer = _loop_at(found, NESTED.name, OUTER_LINE)
    inner = _loop_at(found, NESTED.name, INNER_LINE)
    assert [d.insn_text for d in outer.differences if d.kind == "counter"] == ["r2 += 1"]
    assert [d.insn_text for d in inner.differences if d.kind == "counter"] == ["r4 += 1"]
    assert 9 <= inner.insns_per_iteration <= 11  # ten instructions, walked once per j
    assert outer.max_iterations < 1024 and outer.limit == "insns"  # so ROWS=1024 is refused
    assert any("bpf_for" in fix for fix in outer.fixes)


def test_explain_profile_json_has_lines_and_loops(tmp_path):
    log = tmp_path / "free.log"
    log.write_text(_log("free_loop.32.L2.log.xz"))
    result = run_vdoctor("explain", "--profile", "--json", log)
    assert result.status == 0, result.stderr
    out = result.json()["profile"]
    loop = out["loops"][0]
    assert loop["source"]["line"] == FREE_LOOP_LINE and loop["limit"] in ("insns", "jumps")
    assert {"visits", "insns_per_iteration", "pending_branches_per_iteration", "max_iterations"} <= loop.keys()
    assert out["lines"][0]["insns"] + out["lines"][0]["inlined_insns"] > 0
    text = run_vdoctor("explain", "--profile", log).stdout
    assert f"free_loop.bpf.c:{FREE_LOOP_LINE}" in text and "not pruned: R9" in text


def test_the_html_page_has_a_cost_column_beside_the_source(tmp_path):
    log = tmp_path / "free.log"
    log.write_text(_log("free_loop.32.L2.log.xz"))
    page = tmp_path / "page.html"
    source = PROFILE / "free_loop.bpf.c"
    result = run_vdoctor("explain", "--profile", log, "--source", source, "--format", "html", "-o", page)
    assert result.status == 0, result.stderr
    found = profile(read_log(log.read_text()).programs[0])
    line = next(l for l in found.lines if l.source.line == FREE_LOOP_LINE + 1 and not l.is_header)
    row = f'data-line="{FREE_LOOP_LINE + 1}"><td class="n">{FREE_LOOP_LINE + 1}</td><td class="cost">'
    assert f"{row}{line.insns + line.inlined:,}</td>" in page.read_text()


@pytest.mark.parametrize("kernel", sorted(p.name for p in (ROOT / "fixtures" / "logs").iterdir()))
def test_every_recorded_log_has_a_profile_that_accounts_for_its_steps(kernel):
    """Level 1 and 2, every reproducer and kernel: the profile reads any log, and every
    step of it is counted once at a source line (or at none, when the log has no line info)."""
    from io import StringIO

    from verifier_doctor.parsing.reader import read_log_file
    from verifier_doctor.render.profile import profile_to_dict, render_profile
    from verifier_doctor.render.screen import Screen

    for log in sorted((ROOT / "fixtures" / "logs" / kernel).glob("*.log")):
        for trace in read_log_file(log).programs:
            found = profile(trace)
            assert sum(line.insns for line in found.lines) <= found.steps == len(trace.steps), log
            with_line = sum(1 for step in trace.steps if step.source is not None)
            assert sum(line.insns for line in found.lines) == with_line, log
            profile_to_dict(found)
            render_profile(found, Screen(StringIO()))


# --- against the running kernel -------------------------------------------------------

def _load(source: Path, program: str, workdir: Path, define: str | None = None):
    from verifier_doctor.kernel.loader import load_each_program
    from verifier_doctor.pipeline import diagnose_load

    obj = recording.build(source, workdir, (define,) if define else ())
    [load] = [each for each in load_each_program(obj) if each.name == program]
    return diagnose_load(load.name, load.log, load.accepted)


def _slope(source: Path, program: str, name: str, low: int, high: int, workdir: Path) -> float:
    counts = [_load(source, program, workdir, f"{name}={n}").stats.processed_insns for n in (low, high)]
    return (counts[1] - counts[0]) / (high - low)


@pytest.mark.parametrize("fixture, source, program, name, low, line", [
    ("free_loop.32.L2.log.xz", PROFILE / "free_loop.bpf.c", "free_list", "FREE_BOUND", 32, FREE_LOOP_LINE),
    ("too_complex_nested_loops.8.L2.log.xz", NESTED, "mix_table", "ROWS", 8, OUTER_LINE),
], ids=["free-loop", "nested-outer"])
@pytest.mark.kernel
def test_cost_per_trip_is_the_slope_between_two_trip_counts(fixture, source, program, name, low, line, tmp_path):
    if not kernel_loads_bpf():
        pytest.skip("the running kernel does not load BPF for us")
    loop = _loop_at(_profile(fixture), source.name, line)
    slope = _slope(source, program, name, low, 2 * low, tmp_path)
    assert abs(loop.insns_per_iteration - slope) <= 0.10 * slope, (loop.insns_per_iteration, slope)


@pytest.mark.kernel
def test_the_largest_trip_count_the_profile_gives_is_where_the_kernel_stops(tmp_path):
    if not kernel_loads_bpf():
        pytest.skip("the running kernel does not load BPF for us")
    most = _profile("free_loop.32.L2.log.xz").loops[0].max_iterations
    source = PROFILE / "free_loop.bpf.c"
    assert _load(source, "free_list", tmp_path, f"FREE_BOUND={math.floor(most * 0.95)}").verdict == "accepted"
    refused = _load(source, "free_list", tmp_path, f"FREE_BOUND={math.ceil(most * 1.05)}")
    assert refused.verdict == "rejected" and refused.error.error_class == "too-complex"


@pytest.mark.kernel
@pytest.mark.parametrize("broken, fixed, program", [
    (PROFILE / "free_loop.bpf.c", PROFILE / "free_loop_fixed.bpf.c", "free_list"),
    (NESTED, PROFILE / "nested_loops_fixed.bpf.c", "mix_table"),
], ids=["free-loop-global-function", "nested-bpf-for"])
def test_the_fix_the_profile_names_loads(broken, fixed, program, tmp_path):
    if not kernel_loads_bpf():
        pytest.skip("the running kernel does not load BPF for us")
    before = _load(broken, program, tmp_path)
    assert before.verdict == "rejected" and before.error.error_class == "too-complex"
    assert _load(fixed, program, tmp_path).verdict == "accepted"


@pytest.mark.kernel
def test_try_profile_tables_every_program_accepted_or_not():
    if not kernel_loads_bpf():
        pytest.skip("the running kernel does not load BPF for us")
    program = ROOT / "fixtures" / "programs" / "two_programs.bpf.c"
    result = run_vdoctor("try", "--profile", "--json", program)
    assert result.status == 1, result.stderr  # `bad` is rejected
    host = result.json()["kernels"]["host"]
    by_name = {p["program"]: p for p in host["programs"]}
    assert by_name["good"]["verdict"] == "accepted" and by_name["good"]["profile"]["lines"]
    assert by_name["good"]["stats"]["verification_time_usec"] >= 0
    assert by_name["bad"]["profile"]["processed_insns"] == by_name["bad"]["stats"]["processed_insns"]
    text = run_vdoctor("try", "--profile", program).stdout
    assert "program  verdict" in text and "good     accepted" in text


@pytest.mark.kernel
def test_try_reloads_a_too_complex_program_at_level_2_for_its_profile():
    if not kernel_loads_bpf():
        pytest.skip("the running kernel does not load BPF for us")
    result = run_vdoctor("try", "--json", NESTED)
    assert result.status == 1, result.stderr
    out = result.json()
    assert out["error"]["class"] == "too-complex" and out["log"]["level"] == 2
    lines = {loop["source"]["line"] for loop in out["profile"]["loops"]}
    assert {OUTER_LINE, INNER_LINE} <= lines
