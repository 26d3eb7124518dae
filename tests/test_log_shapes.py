"""The shapes of log lines the kernels print that a first grammar missed (issue 22), each read
from a log of one of our programs (fixtures/programs/shapes_*, verdict_*,
stack_access_in_callback) on the running kernel (6.18) and on 6.12 and 7.3 under QEMU, and the verdict: libbpf's optional steps and the verifier's
level-2 bookkeeping are never the error.

Every test reads a recorded log whole (no line left unparsed, which the diagnosis would
report as "N line(s) of the log were not recognised") and checks the registers and states
the rule gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier_doctor.analysis import diagnose
from verifier_doctor.model import OpKind, ProgramTrace, RegValue, SourceLine, State, Step
from verifier_doctor.parsing import read_log
from verifier_doctor.parsing.grammar import parse_line

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "logs"
KERNELS = ("6.12", "6.18", "7.3")


def trace_of(kernel: str, name: str) -> ProgramTrace:
    (trace,) = read_log((LOGS / kernel / name).read_text()).programs
    assert trace.unparsed == (), trace.unparsed
    return trace


def steps_at(trace: ProgramTrace, index: int) -> list[Step]:
    return [step for step in trace.steps if step.insn.index == index]


def states(trace: ProgramTrace) -> list[State]:
    found = []
    for step in trace.steps:
        found += [s for s in (step.state_before, step.state_after) if s is not None]
    found += [segment.state for segment in trace.segments if segment.state is not None]
    return found


# --- callbacks, frames, references ------------------------------------------------------

@pytest.mark.parametrize("kernel", KERNELS)
def test_helper_call_line_carries_the_callbacks_first_state(kernel):
    """Level 1: "16: (85) call bpf_loop#181 22: frame1: R1=scalar() R2=fp[0]-40 R10=fp0 cb":
    the walk goes on at 22, in frame 1, inside a callback, with a pointer into frame 0's stack."""
    trace = trace_of(kernel, "stack_access_in_callback.L1.log")
    (call,) = steps_at(trace, 16)
    assert call.insn.kind is OpKind.CALL and call.insn.callee == "bpf_loop#181"
    assert call.insn.text == "call bpf_loop#181"
    (entry,) = steps_at(trace, 22)
    assert entry.segment == call.segment and entry.frame == 1
    state = entry.state_before
    assert (state.frame, state.callback) == (1, "cb")
    assert state.reg(2) == RegValue("fp", const=-40, frame=0)
    # "R3=fp[0](off=-40,smin=0,...)": a pointer into frame 0's stack at a variable offset
    # (7.3 folds the fixed part into the range: "fp[0](smin=-40,...)").
    (add,) = steps_at(trace, 26)
    pointer = add.state_after.reg(3)
    assert (pointer.kind, pointer.frame) == ("fp", 0)
    assert (pointer.attr("off"), pointer.attr("smin")) == ((None, -40) if kernel == "7.3" else (-40, 0))
    diagnosis = diagnose(trace)
    assert (diagnosis.error.error_class, diagnosis.error.insn) == ("stack-access", 27)


@pytest.mark.parametrize("kernel", KERNELS)
def test_callback_states_end_in_refs_and_cb(kernel):
    """Level 2: "25: frame1: R1=scalar() R2=fp[0]-16 R10=fp0 refs=3 cb", the caller's ring
    buffer record held across bpf_loop, in the lines that start with "frameN:" too."""
    trace = trace_of(kernel, "shapes_bpf_loop_callback.L2.log")
    in_callback = [s for s in states(trace) if s.callback == "cb"]
    refs = in_callback[0].refs if in_callback else ()
    assert refs and all(s.frame == 1 and s.refs == refs for s in in_callback)
    assert any(s.reg(2) == RegValue("fp", const=-16, frame=0) for s in in_callback)
    assert diagnose(trace).verdict == "accepted"


@pytest.mark.parametrize("kernel", KERNELS)
def test_timer_callback_states_end_in_async_cb(kernel):
    trace = trace_of(kernel, "shapes_timer_callback.L2.log")
    async_states = [s for s in states(trace) if s.callback == "async_cb"]
    assert async_states and all(s.frame == 0 for s in async_states)
    (load,) = steps_at(trace, 24)
    assert load.state_after.callback == "async_cb" and load.state_after.reg(1).kind == "scalar"


@pytest.mark.parametrize("kernel", KERNELS)
def test_refs_after_a_callees_registers(kernel):
    """" frame1: R1=fp[0]-8 R2=scalar(...) R10=fp0 refs=3": a static function given a pointer
    to its caller's stack while the caller holds a reference."""
    trace = trace_of(kernel, "shapes_subprog_stack_arg.L2.log")
    callee = [s for s in states(trace) if s.frame == 1 and s.reg(1) is not None]
    assert callee and all(s.refs and s.refs == callee[0].refs and s.callback is None for s in callee)
    assert callee[0].reg(1) == RegValue("fp", const=-8, frame=0)
    assert str(callee[0].reg(1)) == "fp[0]-8"


def test_a_callees_state_line_read_without_its_leading_space():
    """" frame1: R1=fp[0]-8 ..." after "callee:", as a loader that strips lines prints it."""
    text = (LOGS / "6.18" / "shapes_subprog_stack_arg.L2.log").read_text()
    indented = [line for line in text.splitlines() if line.startswith(" frame1: ")]
    assert indented
    (trace,) = read_log(text.replace("\n frame1: ", "\nframe1: ")).programs
    assert trace.unparsed == () and diagnose(trace).verdict == "accepted"
    assert not [m for m in trace.messages if m.text.startswith("frame1:")]


@pytest.mark.parametrize("kernel", ("6.12", "6.18", "7.2", "7.3"))
def test_a_kfuncs_inline_state_of_the_same_frame_is_no_callback(kernel):
    """Level 1: "8: (85) call bpf_iter_num_next#33004 9: R0_w=rdonly_mem(...) ... refs=1": the
    state bpf_iter_num_next leaves for instruction 9, in the same frame (no "frame1:"), not a
    callback's entry: the walk goes on at 9 in frame 0, and the rejected _new is in frame 0."""
    trace = trace_of(kernel, "iterator_new_twice.L1.log")
    (call,) = steps_at(trace, 8)
    assert call.insn.callee.startswith("bpf_iter_num_next#") and call.insn.text == f"call {call.insn.callee}"
    assert [step.frame for step in trace.steps] == [0] * len(trace.steps)
    (after,) = steps_at(trace, 9)
    assert after.state_before is not None and after.state_before.reg(0).kind == "rdonly_mem"

# --- instructions -------------------------------------------------------------------------

@pytest.mark.parametrize("kernel", KERNELS)
def test_negative_legacy_packet_offset(kernel):
    trace = trace_of(kernel, "shapes_ld_ind_negative.L2.log")
    (load,) = steps_at(trace, 2)
    assert load.insn.kind is OpKind.LD_ABS and load.insn.srcs == (6, 7) and load.insn.imm == 4
    assert load.insn.text == "r0 = *(u32 *)skb[r7 + -2097152]"
    assert load.state_after.reg(7).const == 0


@pytest.mark.parametrize("kernel", ["6.12", "6.18"])  # 7.3 checks registers before the walk
def test_register_fifteen_is_an_instruction_then_rejected(kernel):
    trace = trace_of(kernel, "shapes_register_15.L1.log")
    (move,) = steps_at(trace, 0)
    assert (move.insn.kind, move.insn.dst, move.insn.srcs) == (OpKind.MOVE, 15, (1,))
    error = diagnose(trace).error
    assert (error.message, error.insn, error.insn_text) == ("R15 is invalid", 0, "r15 = r1")


@pytest.mark.parametrize("kernel", ["6.18", "7.3"])
def test_load_acquire_and_store_release(kernel):
    trace = trace_of(kernel, "shapes_acquire_release.L2.log")
    (store,) = steps_at(trace, 1)
    (load,) = steps_at(trace, 2)
    assert (store.insn.kind, store.insn.op, store.insn.srcs, store.insn.mem.base) == (OpKind.STORE, "store_release", (1,), 10)
    assert (load.insn.kind, load.insn.op, load.insn.dst, load.insn.mem.offset) == (OpKind.LOAD, "load_acquire", 0, -8)


def test_an_opcode_the_disassembler_lacks_is_the_rejected_instruction():
    """6.12 predates store-release: "1: BUG_db", then "BPF_ATOMIC uses invalid atomic opcode
    110". The rejected instruction is 1 (it was read as a message, the error put at 0)."""
    trace = trace_of("6.12", "shapes_acquire_release.L1.log")
    last = trace.steps[-1]
    assert (last.insn.index, last.insn.opcode, last.insn.kind, last.insn.text) == (1, 0xDB, OpKind.OTHER, "BUG_db")
    error = diagnose(trace).error
    assert (error.insn, error.insn_text, error.error_class) == (1, "BUG_db", "invalid-insn")


def test_invalid_kfunc_call_is_the_rejected_instruction():
    """libbpf's "6: <invalid kfunc call>" is instruction 6, the one rejected (it was read as a
    message, and the error put at instruction 5)."""
    trace = trace_of("6.1", "iterator_reuse_destroyed.L1.log")
    last = trace.steps[-1]
    assert (last.insn.index, last.insn.kind, last.insn.text) == (6, OpKind.CALL, "<invalid kfunc call>")
    error = diagnose(trace).error
    assert (error.insn, error.insn_text) == (6, "<invalid kfunc call>")
    assert error.message == "kfunc 'bpf_iter_num_new' is referenced but wasn't resolved"


@pytest.mark.parametrize("kernel", ["7.2", "7.3"])
def test_a_jump_followed_on_its_line_by_the_next_source_line(kernel):
    """v7.2+ level 1, before "infinite loop detected": "9: (15) if r1 == 0x0 goto pc-2 ; while
    (...) @ infinite_loop_wait_flag.bpf.c:28", the jump's newline lost to the log's rewind at a
    popped path. The jump is the jump (no state inline), the rest the source line it is, read as
    if it were on a line of its own: the trace and the diagnosis are those of the two lines."""
    text = (LOGS / kernel / "infinite_loop_wait_flag.L1.log").read_text()
    joined = next(line for line in text.splitlines() if line.startswith("9: "))
    parsed = parse_line("insn_line", joined)
    assert parsed.next_source == SourceLine("while (!*(volatile __u32 *)&cfg->ready)",
                                            "infinite_loop_wait_flag.bpf.c", 28)
    assert parsed.inline_state is None and parsed.pending is None
    trace = trace_of(kernel, "infinite_loop_wait_flag.L1.log")
    (jump,) = steps_at(trace, 9)
    assert (jump.insn.kind, jump.insn.text, jump.insn.target) == (OpKind.COND_JUMP, "if r1 == 0x0 goto pc-2", 8)
    assert jump.state_after is None and jump.source.line == 28
    (split,) = read_log(text.replace(" goto pc-2 ; while", " goto pc-2\n; while")).programs
    assert split.unparsed == ()
    assert [(s.insn, s.source, s.state_before, s.state_after) for s in split.steps] == \
        [(s.insn, s.source, s.state_before, s.state_after) for s in trace.steps]
    assert split.sources == trace.sources
    assert diagnose(split) == diagnose(trace)
    assert diagnose(trace).error.error_class == "infinite-loop"


# --- register and stack values ------------------------------------------------------------

@pytest.mark.parametrize("kernel", KERNELS)
def test_partly_written_slots_linked_ids_and_far_stack_pointers(kernel):
    trace = trace_of(kernel, "shapes_stack_slots.L2.log")
    (half,) = steps_at(trace, 1)  # *(u16 *)(r10 -4) = r0
    assert half.state_after.slot(-8).marks == "??mm????" and half.state_after.slot(-8).value is None
    (spill,) = steps_at(trace, 6)  # *(u16 *)(r10 -16) = r6, over zeroed and written bytes
    slot = spill.state_after.slot(-16)
    assert slot.marks == "00mm??" and slot.value.kind == "scalar" and slot.value.attr("umax") == 255
    (minus_one,) = steps_at(trace, 8)  # r1 += -1: linked to r6 with a delta of -1 (not on 6.12)
    assert minus_one.state_after.reg(1).attr("id") == (None if kernel == "6.12" else "2-1")
    (far,) = steps_at(trace, 10)  # r2 += 536870911
    assert far.state_after.reg(2) == RegValue("fp", const=0x1FFFFFFF)


@pytest.mark.parametrize("kernel", KERNELS)
def test_non_owning_reference_flag(kernel):
    """A node bpf_rbtree_add() took stays usable until the unlock: "R6=ptr_node_data(non_own_ref)",
    and in the comparison callback "R1=ptr_node_data(non_own_ref,off=8) ... refs=2 cb"; the
    flag has no value (log.c's print_reg_state: verbose_a("%s", "non_own_ref"))."""
    trace = trace_of(kernel, "shapes_rbtree_non_owning.L2.log")
    (add,) = steps_at(trace, 20)
    node = add.state_after.reg(6)
    assert (node.kind, node.attrs) == ("ptr_node_data", (("non_own_ref", True),))
    assert str(node) == "ptr_node_data(non_own_ref)"
    in_less = [s for s in states(trace) if s.callback == "cb" and s.reg(1) is not None]
    # 7.3 prints a pointer's fixed offset as "imm=8".
    assert in_less and in_less[0].reg(1).attrs == (("non_own_ref", True), ("imm" if kernel == "7.3" else "off", 8))
    assert diagnose(trace).verdict == "accepted"


def test_a_spilled_scalar_with_nothing_after_the_equals_sign_on_6_1():
    """6.1 prints a spilled scalar that is no constant as "fp-8_w=" (its range unprinted),
    also at the end of a branch state, "fp-32= fp-40=": a written slot holding a scalar."""
    trace = trace_of("6.1", "helper_arg_ringbuf_output_array.L1.log")
    (spill,) = steps_at(trace, 5)  # *(u64 *)(r10 -8) = r1
    slot = spill.state_after.slot(-8)
    assert slot.written and slot.marks is None and slot.value == RegValue("scalar")
    locked = trace_of("6.1", "lock_misuse_allocator_in_lock.L2.log")
    empty = [s for s in states(locked) if s.slot(-32) is not None and s.slot(-40) is not None
             and s.slot(-16) is not None and s.slot(-16).value is not None]
    assert empty and all(s.slot(-40).value == RegValue("scalar") for s in empty)
    assert empty[0].slot(-16).value.kind == "map_value"
    assert parse_line("bare_state_line", "R10=fp0 fp-8=P").slot(-8).value == RegValue("scalar", precise=True)


def test_negative_stack_offset_printed_in_hex_keeps_its_sign():
    state = parse_line("bare_state_line", "R2=fp0xffffffffe0000001")
    assert state.reg(2).const == -0x1FFFFFFF


# --- the verdict ----------------------------------------------------------------------------

@pytest.mark.parametrize("kernel", KERNELS)
def test_level2_bookkeeping_after_the_last_instruction_is_no_error(kernel):
    """The log ends with "SCC backedge (1)" (not 6.12), "from 20 to 8: safe", "SCC exit (1)",
    "frame 0: propagating r1,r4" and precision lines after the last instruction: accepted (it
    was "rejected [other]: frame 0: propagating r1,r4")."""
    text = (LOGS / kernel / "verdict_level2_bookkeeping.L2.log").read_text()
    tail = text[text.rfind("\n20: (95) exit"):]
    assert "frame 0: propagating r1,r4" in tail and ("SCC backedge (1)" in tail) == (kernel != "6.12")
    trace = trace_of(kernel, "verdict_level2_bookkeeping.L2.log")
    assert diagnose(trace).verdict == "accepted"
    assert not [m.text for m in trace.messages if m.after_step == trace.steps[-1].number]


def test_a_line_the_catalogue_says_never_rejects_is_no_error():
    """A whole line of a catalogued message that is not a rejection (btf_ctx_access's
    "marking pointer arg%d as scalar as it may encode error") after the last instruction
    leaves the program accepted; a rejection's line there still rejects it."""
    text = (LOGS / "6.18" / "accepted_counter.L2.log").read_text()
    stats = text[text.index("verification time"):]
    remark = text.replace(stats, "marking pointer arg0 as scalar as it may encode error\n" + stats, 1)
    assert diagnose(read_log(remark).programs[0]).verdict == "accepted"
    error = text.replace(stats, "R0 !read_ok\n" + stats, 1)
    assert diagnose(read_log(error).programs[0]).verdict == "rejected"


def test_a_line_of_no_catalogue_after_the_last_instruction_is_no_error():
    """Only a catalogued message can be the error: a line no kernel's source holds after the
    last instruction of an accepted program (a newer kernel's remark) leaves it accepted, with
    a caveat naming it (it was "rejected [other]"). When libbpf says the load failed and the
    kernel's words are none of the catalogue's, they are the error, `other`."""
    text = (LOGS / "6.18" / "accepted_counter.L2.log").read_text()
    stats = text[text.index("verification time"):]
    remark = text.replace(stats, "widget state pruned twice (3)\n" + stats, 1)
    diagnosis = diagnose(read_log(remark).programs[0])
    assert diagnosis.verdict == "accepted" and diagnosis.error is None
    assert any("widget state pruned twice (3)" in caveat for caveat in diagnosis.caveats)
    rejected = (LOGS / "6.18" / "missing_null_check.L1.log").read_text()
    (trace,) = read_log(rejected).programs
    known = diagnose(trace).error.message
    (renamed,) = read_log(rejected.replace(known, "widget state pruned twice (3)")).programs
    assert renamed.load_failed
    error = diagnose(renamed).error
    assert (error.error_class, error.message) == ("other", "widget state pruned twice (3)")


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("level", [1, 2])
def test_optional_btf_is_no_failure(kernel, level):
    """libbpf: "Error loading .BTF into kernel: -22. BTF is optional, ignoring." after the kernel
    refused the object's BTF (a 600-character struct name): the program loads, accepted."""
    text = (LOGS / kernel / f"verdict_btf_optional.L{level}.log").read_text()
    assert "libbpf: Error loading .BTF into kernel: -22. BTF is optional, ignoring." in text
    trace = trace_of(kernel, f"verdict_btf_optional.L{level}.log")
    assert not trace.load_failed and trace.load_errors == ()
    assert diagnose(trace).verdict == "accepted"


def test_optional_btf_does_not_hide_a_real_failure():
    btf = (LOGS / "6.18" / "verdict_btf_optional.L1.log").read_text()
    before_prog = btf[: btf.index("libbpf: prog ")]
    rejected = (LOGS / "6.18" / "missing_null_check.L1.log").read_text()
    (trace,) = read_log(before_prog + rejected).programs
    diagnosis = diagnose(trace)
    assert trace.load_failed and diagnosis.verdict == "rejected"
    assert diagnosis.error.error_class == "null-deref"
    assert not any("BTF" in line for line in trace.load_errors)
