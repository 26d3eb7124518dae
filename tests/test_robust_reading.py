"""Reading cannot crash: shapes newer kernels print, and tokens no number can be made of.

Each case changes one line of a recorded log (fixtures/logs/6.18) and checks what the
reader makes of it: parsed when it is a real shape, reported as unparsed when it is not,
never an exception."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT
from verifier_doctor.analysis import diagnose
from verifier_doctor.parsing import read_log
from verifier_doctor.parsing.grammar import parse_line
from verifier_doctor.parsing.reader import read_log_file, read_text

COUNTER = (ROOT / "fixtures" / "logs" / "6.18" / "accepted_counter.L2.log").read_text()
PARSE = (ROOT / "fixtures" / "logs" / "6.18" / "accepted_parse.L2.log").read_text()
STATE_LINE = "2: R1=0 R10=fp0 fp-8=0000????"


def _changed(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


# A slot no spill covers prints its eight marks; a narrow spill prints the marks of the bytes
# above it, then the spilled value (log.c's print_verifier_state: " fp%d=%s" with the marks
# cut at the first spilled byte, then print_reg_state): "????0" is four bytes never written
# above a 4-byte spill of the constant 0.
@pytest.mark.parametrize("slot, marks, spilled", [
    ("fp-8=00001", "0000", 1), ("fp-8=????0", "????", 0), ("fp-8=??????0", "??????", 0),
    ("fp-8=0000????", "0000????", None), ("fp[0]-8=mmmmmmmm", "mmmmmmmm", None),
])
def test_stack_slot_shapes_are_parsed(slot, marks, spilled):
    program = read_log(_changed(COUNTER, STATE_LINE, f"2: R1=0 R10=fp0 {slot}")).programs[0]
    assert program.unparsed == ()
    state = parse_line("bare_state_line", f"R1=0 R10=fp0 {slot}")
    assert state.slot(-8).marks == marks
    assert (state.slot(-8).value.const if state.slot(-8).value else None) == spilled
    assert diagnose(program).verdict == "accepted"


@pytest.mark.parametrize("slot, const", [("fp-8=0", 0), ("fp-8=42", 42), ("fp-8=-1", -1)])
def test_spilled_constants_stay_numbers(slot, const):
    assert parse_line("bare_state_line", f"R10=fp0 {slot}").slot(-8).value.const == const


def test_callee_values_are_not_marks():
    state = parse_line("bare_state_line", "R1=fp-16 fp-8=fp-24 fp-16=scalar(id=1)")
    assert state.slot(-8).value.kind == "fp" and state.slot(-16).value.kind == "scalar"


def test_linked_scalar_ids_are_parsed():
    line = "R1=scalar(id=2+3,smin=0,smax=7) R2=scalar(id=2)"
    state = parse_line("bare_state_line", line)
    assert dict(state.registers)[1].attr("id") == "2+3"
    assert dict(state.registers)[1].attr("smax") == 7


@pytest.mark.parametrize("note", ["(cb)", "(async_cb)", "(speculative execution)"])
def test_branch_lines_with_a_note_are_read(note):
    branch = PARSE.splitlines()[65]
    assert branch.startswith("from 23 to 25: ")
    program = read_log(_changed(PARSE, branch, branch.replace("to 25:", f"to 25 {note}:"))).programs[0]
    assert program.unparsed == ()
    assert parse_line("branch_line", f"from 12 to 20 {note}: R1=0").to_insn == 20


def test_message_glued_to_the_next_line_is_split():
    text = _changed(COUNTER, "verification time", "insn 12 cannot call exception cb directlyverification time")
    diagnosis = diagnose(read_log(text).programs[0])
    assert diagnosis.verdict == "rejected"
    assert diagnosis.error.message == "insn 12 cannot call exception cb directly"


@pytest.mark.parametrize("token", [
    "9" * 5000,            # past Python's 4300-digit int limit
    "\u00b2", "\u2460",    # pass str.isdigit(), refused by int()
    "00001x",
])
def test_numbers_that_do_not_convert_leave_the_line_unparsed(token):
    line = f"3: (07) r2 += {token}"
    program = read_log(_changed(COUNTER, "3: (07) r2 += -4                      ; R2=fp-4", line)).programs[0]
    assert [text for _, text in program.unparsed] == [line]


@pytest.mark.parametrize("index", ["\u00b2", "\u2460", "9" * 5000])
def test_odd_instruction_indexes_are_not_instructions(index):
    text = _changed(COUNTER, "3: (07) r2 += -4", f"{index}: (07) r2 += -4")
    diagnose(read_log(text).programs[0])  # read and diagnosed, no exception


@pytest.mark.parametrize("jump", ["goto pc+", "goto pc-", "goto pc+\u00b2"])
def test_jump_without_an_offset_is_unparsed(jump):
    line = f"7: (05) {jump}"
    program = read_log(_changed(COUNTER, "7: (15) if r0 == 0x0 goto pc+2        ; R0=map_value(map=pkt_total,ks=4,vs=8)",
                                line)).programs[0]
    assert [text for _, text in program.unparsed] == [line]


@pytest.mark.parametrize("tail, errno", [("-13", -13), ("--1", None), ("-\u00b2", None), ("", None)])
def test_errno_of_a_failed_load(tail, errno):
    text = f"libbpf: prog 'x': BPF program load failed: Permission denied\nlibbpf: prog 'x': failed to load: {tail}\n"
    assert read_log(text).programs[0].errno == errno


def test_blank_head_longer_than_a_block_is_read_like_stdin(tmp_path):
    text = " \n" * 3000 + COUNTER
    path = tmp_path / "padded.log"
    path.write_text(text)
    from_file = read_log_file(path).programs[0]
    from_stdin = read_log(read_text(text.encode())).programs[0]
    assert from_file.name == from_stdin.name == "count_packets"
    assert len(from_file.steps) == len(from_stdin.steps) > 0


def test_only_libbpf_lines_naming_a_program_is_a_log():
    text = "".join(line + "\n" for line in [
        "libbpf: loading object from counter.o",
        "libbpf: prog 'count_packets': found map 0 (pkt_total, sec 5, off 0) for insn #4",
        "libbpf: object 'counter': failed (-95) to create BPF token from '/sys/fs/bpf', skipping optional step...",
        "libbpf: map 'pkt_total': created successfully, fd=4",
        "libbpf: prog 'count_packets': pinned at '/sys/fs/bpf/x/count_packets'",
    ])
    (program,) = read_log(text).programs
    assert program.name == "count_packets"
    assert diagnose(program).verdict == "accepted"


def test_many_outputs_in_one_file_each_keep_their_own_libbpf_lines():
    """1,000 bpftool outputs one after the other: each program gets the lines around its
    own output, not every output's (which made reading quadratic)."""
    output = (ROOT / "fixtures" / "bpftool" / "linked_list_pool.log").read_text()
    single = read_log(output).programs[0]
    document = read_log(output * 1000)
    assert len(document.programs) == 1000
    assert max(len(p.libbpf_lines) for p in document.programs) <= 2 * len(single.libbpf_lines)
    assert {diagnose(p).error.error_class for p in document.programs[::97]} == {"scalar-deref"}


def test_log_text_is_never_markup(vdoctor, tmp_path):
    source = "; return x[/] [bold]; @ prog.bpf.c:21"
    path = tmp_path / "markup.log"
    path.write_text(_changed(COUNTER, "; return XDP_PASS; @ accepted_counter.bpf.c:21", source)
                    .replace("verification time", "R0 !read_ok [/]\nverification time"))
    result = vdoctor("explain", path)
    assert "[/]" in result.stdout and "[bold]" in result.stdout


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"LANG": "C", "LC_ALL": "C", "PYTHONIOENCODING": ""}])
def test_output_works_on_any_stdout_encoding(tmp_path, env):
    path = tmp_path / "unicode.log"
    path.write_text(_changed(COUNTER, "; return XDP_PASS; @ accepted_counter.bpf.c:21", "; return /* \u2192 \u00e9 */ 2;")
                    .replace("verification time", "R0 !read_ok \u2460\nverification time"))
    done = subprocess.run([sys.executable, "-m", "verifier_doctor", "explain", str(path)], capture_output=True,
                          cwd=ROOT, env={**os.environ, **env})
    assert b"Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0 and b"rejected" in done.stdout
