"""Culprit finders that several error classes share: the call that opened the region the
program was rejected in, and the last call before the rejection that worked on the same
stack object (a dynptr, an iterator, an irq flag live in stack slots the verifier tracks)."""

from __future__ import annotations

from ..model import OpKind, ProgramTrace, Step
from .findings import Culprit
from .provenance import (
    CALLER_SAVED,
    Hop,
    Location,
    Origin,
    Provenance,
    find_on_path,
    previous_step,
    value_before,
)


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


def _held_before(trace: ProgramTrace, step: Step, location: Location):
    """What the verifier knew of a register or stack slot just before `step`."""
    if location.register is not None:
        return value_before(trace, step, location.register)
    current: Step | None = step
    limit = 4096
    while current is not None and limit > 0:
        limit -= 1
        for state in (current.state_before, current.state_after if current is not step else None):
            slot = state.slot(location.slot) if state is not None else None
            if slot is not None:
                return slot.value
        current, _ = previous_step(trace, current)
    return None


def pointer_lost_at_call(trace: ProgramTrace, location: Location,
                         provenance: Provenance | None) -> tuple[Step, Location, object] | None:
    """The helper or kfunc call, on the path to the rejection, before which the rejected value
    was still a pointer (the log's state says so) and after which it is a number: the call
    that invalidated it (a packet-moving helper, a release). The value is followed back through
    the moves, spills and fills `provenance` found, up to where it was made.

    Returns (the call, where the value was at the call, what it was before the call)."""
    if not trace.steps:
        return None
    hops = {hop.step.number: hop.location for hop in provenance.hops} if provenance is not None else {}
    stop = provenance.origin_step.number if provenance is not None and provenance.origin_step else -1
    candidate: tuple[Step, Location] | None = None  # the latest call, when the log shows no state there
    step, _ = previous_step(trace, trace.steps[-1])
    budget = 4096  # steps looked at, back from the rejection (a 50 MB log has a million)
    while step is not None and step.number != stop and budget > 0:
        budget -= 1
        if step.number in hops:
            location = hops[step.number]
        else:
            is_call = step.insn.kind is OpKind.CALL and not step.insn.calls_subprogram \
                and step.frame == location.frame
            held = _held_before(trace, step, location) if is_call or candidate is not None else None
            if held is not None:
                # The latest state the log printed of the value, before the call (or at it).
                if not held.is_pointer or held.kind in ("fp", "ctx"):
                    return None  # a number already, or a pointer no call invalidates
                call, where = candidate if candidate is not None else (step, location)
                return call, where, held
            if is_call and candidate is None:
                candidate = (step, location)
        step, _ = previous_step(trace, step)
    return None


def rerooted(provenance: Provenance | None, call: Step, location: Location, origin: Origin,
             note: str) -> Provenance:
    """`provenance` cut at the call that invalidated the value: the call is its origin."""
    newer = tuple(hop for hop in (provenance.hops if provenance else ()) if hop.step.number > call.number)
    detail = (call.insn.callee or "").partition("#")[0] or None
    return Provenance(origin, call, location, (*newer, Hop(call, location, note)),
                      provenance.crossed_unknown_branch if provenance else False, None, detail)


def claim_lost_pointer(trace: ProgramTrace, register: str | None, provenance: Provenance | None,
                       packet: bool, origin: Origin) -> Provenance | None:
    """The history of a rejected number that was a packet pointer (`packet`) or another
    referenced pointer until a call, rooted at that call (`origin`): None when it was not."""
    if register is None or not trace.steps:
        return None
    location = Location.reg(int(register[1:]), trace.steps[-1].frame)
    found = pointer_lost_at_call(trace, location, provenance)
    if found is None or found[2].kind.startswith("pkt") != packet:
        return None
    call, where, _ = found
    return rerooted(provenance, call, where, origin, origin.value)


def call_and_use(provenance: Provenance | None, origin: Origin, source) -> tuple[Step, str, str] | None:
    """For a history rooted at a call (`origin`): the call, " (line N)" of it, and the use's
    "line M" (or "the access")."""
    if provenance is None or provenance.origin is not origin:
        return None
    call = provenance.origin_step
    line = f" (line {call.source.line})" if call.source and call.source.line else ""
    use = f"line {source.line}" if source and source.line else "the access"
    return call, line, use
