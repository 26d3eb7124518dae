"""Culprit finders that several error classes share: the call that opened the region the
program was rejected in, and the last call before the rejection that worked on the same
stack object (a dynptr, an iterator, an irq flag live in stack slots the verifier tracks)."""

from __future__ import annotations

from ..model import OpKind, ProgramTrace, Step
from .findings import Culprit
from .provenance import CALLER_SAVED, Location, Origin, Provenance, find_on_path, value_before


def _culprit_at(step: Step, location: str, origin: Origin, note: str) -> Culprit:
    return Culprit(location, step.insn.index, step.insn.text, step.source, origin, None, note)


def region_opener(trace: ProgramTrace, callees: tuple[str, ...], note: str) -> Culprit | None:
    """The latest call, on the path to the rejection, to one of `callees` (name prefixes):
    the bpf_spin_lock, bpf_rcu_read_lock or bpf_local_irq_save still in force there."""
    if not trace.steps:
        return None
    taken = find_on_path(trace, trace.steps[-1], lambda s: (s.insn.callee or "").startswith(callees))
    return None if taken is None else _culprit_at(taken, "R1", Origin.LOCK_TAKEN, note)


def at_instruction(trace: ProgramTrace, insn: int | None, origin: Origin, note: str) -> Culprit | None:
    """The step at an instruction the message names ("acquired at insn_idx=12")."""
    if insn is None:
        return None
    step = trace.latest_step_at(insn)
    source = step.source if step else trace.source_of(insn)
    return Culprit("R1", insn, step.insn.text if step else None, source, origin, None, note)


def _stack_arguments(trace: ProgramTrace, step: Step) -> list[tuple[int, int | None]]:
    """(register, fp offset) of the call's arguments that point to the stack; offset None
    when the pointer's offset is not a constant."""
    found = []
    for register in CALLER_SAVED:
        value = value_before(trace, step, register)
        if value is not None and value.kind == "fp":
            found.append((register, None if value.has_variable_offset else value.const or 0))
    return found


def stack_object_call(trace: ProgramTrace, note: str, first: bool = False) -> Culprit | None:
    """The last call before the rejected one that was handed the same stack object (the
    _destroy before an iterator's _next), or with `first` the earliest on the path: the call
    that made it (the bpf_ringbuf_reserve_dynptr of a dynptr then overwritten, the
    bpf_dynptr_from_mem of one then submitted as a ringbuf dynptr)."""
    if not trace.steps:
        return None
    failing = trace.steps[-1]
    slots = {offset for _, offset in _stack_arguments(trace, failing) if offset is not None}
    if failing.insn.kind is not OpKind.CALL or not slots:
        return None

    def same_object(step: Step) -> bool:
        return step.insn.kind is OpKind.CALL and step.frame == failing.frame and any(
            offset in slots for _, offset in _stack_arguments(trace, step))

    before = find_on_path(trace, failing, same_object)
    while first and before is not None:
        earlier = find_on_path(trace, before, same_object)
        if earlier is None:
            break
        before = earlier
    return None if before is None else _culprit_at(before, "R1", Origin.HELPER_RESULT, note)


def variable_stack_argument(trace: ProgramTrace) -> Culprit | None:
    """The call's stack argument whose offset is not constant, followed back to where its
    offset came from ("dynptr has to be at a constant offset")."""
    from .provenance import Follow, trace_back

    if not trace.steps:
        return None
    failing = trace.steps[-1]
    for register, offset in _stack_arguments(trace, failing):
        if offset is None:
            found = trace_back(trace, failing, Location.reg(register, failing.frame), Follow.OFFSET)
            return culprit_of(found)
    return None


def stack_object_culprit(trace: ProgramTrace, note: str, first: bool = False) -> Culprit | None:
    """A stack object's culprit: its call (`stack_object_call`), or, when the object is not
    at a constant stack offset, where the offset came from."""
    return stack_object_call(trace, note, first) or variable_stack_argument(trace)


def culprit_of(provenance: Provenance | None) -> Culprit | None:
    """The culprit where following the value back stopped: the step that made it."""
    if provenance is None or provenance.origin_step is None:
        return None
    step = provenance.origin_step
    note = provenance.hops[-1].note if provenance.hops else provenance.origin.value
    return Culprit(str(provenance.location), step.insn.index, step.insn.text, step.source,
                   provenance.origin, provenance.detail, note)
