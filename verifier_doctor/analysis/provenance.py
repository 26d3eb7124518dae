"""Follows a value backwards through the trace to where it got its type or range.

The walk goes back along the path the verifier took to the failing instruction: inside
a path segment by log order, across a branch to the step the path branched from. It
follows the value through register moves, stack spills and fills, bpf-to-bpf calls
(arguments in R1-R5, the result in R0) and stops where the value was made: a load from
memory, a helper's result, a constant, the program's entry, or a call that destroyed it
(R1-R5 are caller-saved: the verifier marks them unreadable after every call).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from ..model import OpKind, ProgramTrace, RegValue, SegmentKind, Step

FRAME_POINTER = 10
CALLER_SAVED = (1, 2, 3, 4, 5)


@dataclass(frozen=True, slots=True)
class Location:
    """A register (`slot` None) or an 8-byte stack slot (`slot` its fp offset), in a frame."""

    register: int | None
    slot: int | None = None
    frame: int = 0

    @staticmethod
    def reg(number: int, frame: int = 0) -> "Location":
        return Location(number, None, frame)

    @staticmethod
    def stack(offset: int, frame: int = 0) -> "Location":
        return Location(None, offset, frame)

    def __str__(self) -> str:
        return f"R{self.register}" if self.register is not None else f"fp{self.slot}"


class Origin(Enum):
    LOADED = "loaded from memory"
    HELPER_RESULT = "returned by a helper or kfunc"
    SUBPROGRAM_RESULT = "returned by a subprogram verified separately"
    CONSTANT = "a constant"
    ADDRESS = "the address of a map or global"
    PROGRAM_ENTRY = "set by the kernel at program entry"
    CLOBBERED = "destroyed by a call"
    NEVER_WRITTEN = "never written"
    ARITHMETIC = "computed"
    GLOBAL_ARGUMENT = "an argument of a global function, verified for any caller"
    LOCK_TAKEN = "the lock was taken here"
    REFERENCE_ACQUIRED = "the reference was acquired here"
    RANGE_CHECKED = "the last bounds check before the access"
    INVALIDATED = "a call that may move the packet invalidated it"
    RELEASED = "released by this call"
    UNKNOWN = "not in the log"


class Follow(Enum):
    VALUE = "value"  # through arithmetic, keep following the destination register
    OFFSET = "offset"  # at "ptr += reg", follow the scalar added to the pointer
    LAST_WRITE = "last write"  # stop at the arithmetic that gave the value its range


@dataclass(frozen=True, slots=True)
class Hop:
    """A step where the tracked value moved or changed, newest first."""

    step: Step
    location: Location  # what was tracked after this step
    note: str


@dataclass(frozen=True, slots=True)
class Provenance:
    origin: Origin
    origin_step: Step | None
    location: Location  # what the value was where it was made
    hops: tuple[Hop, ...]
    crossed_unknown_branch: bool  # went through a path whose branch point the log does not show
    base_value: RegValue | None = None  # for loads: what the pointer it was loaded through was
    detail: str | None = None  # e.g. the helper's name


def previous_step(trace: ProgramTrace, step: Step) -> tuple[Step | None, bool]:
    """The step before `step` on its path, and whether the link is a guess."""
    if step.number > 0:
        before = trace.steps[step.number - 1]
        if before.segment == step.segment:
            return before, False
    segment = trace.segments[step.segment]
    if segment.parent_step is None:
        return None, False
    guessed = segment.kind is SegmentKind.POPPED
    return trace.steps[segment.parent_step], guessed


def value_before(trace: ProgramTrace, step: Step, register: int, limit: int = 4096) -> RegValue | None:
    """What the verifier knew of a register just before `step`, from the nearest state."""
    if step.state_before is not None and step.state_before.reg(register) is not None:
        return step.state_before.reg(register)
    if step.insn.dst != register and step.state_after is not None and step.state_after.reg(register) is not None:
        # The instruction did not write the register: what it printed after holds before.
        return step.state_after.reg(register)
    current, _ = previous_step(trace, step)
    while current is not None and limit > 0:
        limit -= 1
        for state in (current.state_after, current.state_before):
            if state is not None and state.reg(register) is not None:
                return state.reg(register)
        if current.insn.dst == register and current.state_after is None:
            return None  # written, but the log did not print what became of it
        current, _ = previous_step(trace, current)
    segment_state = trace.segments[step.segment].state
    return segment_state.reg(register) if segment_state else None


def value_after(step: Step, location: Location) -> RegValue | None:
    state = step.state_after
    if state is None:
        return None
    if location.register is not None:
        return state.reg(location.register)
    slot = state.slot(location.slot) if location.slot is not None else None
    return slot.value if slot else None


def _stack_offset(trace: ProgramTrace, step: Step, base: int, offset: int) -> int | None:
    """The fp offset a memory operand addresses, if its base points into the stack."""
    if base == FRAME_POINTER:
        return offset
    value = value_before(trace, step, base)
    if value is not None and value.kind == "fp" and value.const is not None:
        return value.const + offset
    return None


def trace_back(
    trace: ProgramTrace, failing: Step, location: Location, follow: Follow = Follow.VALUE
) -> Provenance:
    """Where the value in `location` at `failing` was made."""
    hops: list[Hop] = []
    guessed = False
    step: Step | None = failing
    while True:
        last_visited = step
        step, link_guessed = previous_step(trace, step)
        guessed = guessed or link_guessed
        if step is None:
            return _at_entry(trace, last_visited, location, hops, guessed)
        insn = step.insn
        # Frames: steps of a callee that ran and returned are skipped, except its exit
        # when the caller's R0 is followed; a callee's argument leads to its call site.
        if step.frame > location.frame:
            if location.register == 0 and insn.kind is OpKind.EXIT and step.frame == location.frame + 1:
                location = replace(location, frame=step.frame)
                hops.append(Hop(step, location, "returned by the subprogram"))
            continue
        if step.frame < location.frame:
            if insn.calls_subprogram and location.register in CALLER_SAVED:
                location = replace(location, frame=step.frame)
                hops.append(Hop(step, location, f"passed as argument {location} to the subprogram"))
                continue
            return Provenance(Origin.NEVER_WRITTEN, step, location, tuple(hops), guessed)
        outcome = _step_back(trace, step, location, follow)
        if outcome is None:
            continue
        if isinstance(outcome, Location):
            location = outcome
            hops.append(Hop(step, location, _move_note(step, location)))
            continue
        origin, detail, base = outcome
        hops.append(Hop(step, location, _origin_note(origin, detail, base)))
        return Provenance(origin, step, location, tuple(hops), guessed, base, detail)


def find_on_path(trace: ProgramTrace, failing: Step, predicate) -> Step | None:
    """The latest step before `failing`, on its path, for which `predicate(step)` holds."""
    step, _ = previous_step(trace, failing)
    while step is not None:
        if predicate(step):
            return step
        step, _ = previous_step(trace, step)
    return None


def _origin_note(origin: Origin, detail: str | None, base: RegValue | None) -> str:
    if origin is Origin.LOADED and base is not None:
        return f"loaded from {base.kind} memory"
    if origin in (Origin.HELPER_RESULT, Origin.CLOBBERED) and detail:
        return f"{origin.value}: {detail}"
    return origin.value


def _move_note(step: Step, location: Location) -> str:
    kind = step.insn.kind
    if kind is OpKind.LOAD:
        return f"filled from stack slot {location}"
    if kind is OpKind.STORE:
        return f"spilled to the stack from {location}"
    if kind is OpKind.ALU:
        return f"changed by arithmetic ({step.insn.text})"
    return f"copied from {location}"


def _step_back(trace: ProgramTrace, step: Step, location: Location, follow: Follow):
    """None if `step` leaves `location` alone; a Location to follow next; or the origin."""
    insn = step.insn
    if location.slot is not None:
        return _slot_back(trace, step, location)
    reg = location.register
    if insn.kind is OpKind.CALL:
        if reg == 0:
            if insn.calls_subprogram:
                return (Origin.SUBPROGRAM_RESULT, insn.callee, None)
            return (Origin.HELPER_RESULT, _helper_name(insn.callee), None)
        if reg in CALLER_SAVED and not insn.calls_subprogram:
            return (Origin.CLOBBERED, _helper_name(insn.callee), None)
        return None
    if insn.dst != reg:
        return None
    if insn.kind is OpKind.MOVE:
        if insn.srcs:
            return replace(location, register=insn.srcs[0])
        return (Origin.CONSTANT, str(insn.imm), None)
    if insn.kind is OpKind.LD_IMM64:
        if insn.callee is not None or value_after(step, location) is not None and value_after(step, location).is_pointer:
            return (Origin.ADDRESS, insn.callee, None)
        return (Origin.CONSTANT, str(insn.imm), None)
    if insn.kind is OpKind.LOAD and insn.mem is not None:
        offset = _stack_offset(trace, step, insn.mem.base, insn.mem.offset)
        if offset is not None and insn.mem.size == 8:
            return Location.stack(offset, location.frame)
        return (Origin.LOADED, None, value_before(trace, step, insn.mem.base))
    if insn.kind in (OpKind.LD_ABS, OpKind.ATOMIC):
        return (Origin.LOADED, None, None)
    if insn.kind is OpKind.ALU:
        if follow is Follow.OFFSET and insn.op in ("+=", "-=") and len(insn.srcs) == 2:
            added = insn.srcs[1]
            added_value = value_before(trace, step, added)
            if added_value is None or added_value.is_scalar:
                return replace(location, register=added)
        if follow is Follow.LAST_WRITE:
            return (Origin.ARITHMETIC, insn.text, None)
        return location  # the same register, changed: a step of its history
    return None


def _slot_back(trace: ProgramTrace, step: Step, location: Location):
    insn = step.insn
    if insn.kind not in (OpKind.STORE, OpKind.ATOMIC) or insn.mem is None:
        return None
    offset = _stack_offset(trace, step, insn.mem.base, insn.mem.offset)
    if offset is None or not (offset <= location.slot < offset + insn.mem.size or
                              location.slot <= offset < location.slot + 8):
        return None
    if insn.kind is OpKind.ATOMIC:
        return (Origin.ARITHMETIC, insn.op, None)
    if insn.srcs and insn.mem.size == 8:
        return Location.reg(insn.srcs[0], location.frame)
    if insn.srcs:
        return (Origin.ARITHMETIC, "a partial register store", None)
    return (Origin.CONSTANT, str(insn.imm), None)


def _at_entry(trace: ProgramTrace, earliest: Step, location: Location, hops: list[Hop],
              guessed: bool) -> Provenance:
    """The walk ran out of steps: the program's entry, or a path whose start is not logged."""
    segment = trace.segments[earliest.segment]
    if segment.kind is SegmentKind.SUBPROGRAM and location.register in CALLER_SAVED:
        # A global function is verified once, for any caller: its arguments are what its
        # BTF types allow (a pointer argument may be NULL), not what this program passes.
        return Provenance(Origin.GLOBAL_ARGUMENT, None, location, tuple(hops), guessed,
                          detail=segment.function)
    if segment.kind is SegmentKind.SUBPROGRAM and location.register == FRAME_POINTER:
        origin = Origin.PROGRAM_ENTRY
    elif segment.kind is not SegmentKind.ENTRY or earliest.insn.index != 0:
        # A path whose branch point the log does not show, or a log whose beginning was
        # cut (since v6.4 the kernel keeps the end of a log that overflows its buffer).
        origin = Origin.UNKNOWN
    elif location.frame == 0 and location.register in (1, FRAME_POINTER):
        origin = Origin.PROGRAM_ENTRY  # R1 holds the context, R10 the frame pointer
    else:
        origin = Origin.NEVER_WRITTEN
    return Provenance(origin, None, location, tuple(hops), guessed)


def _helper_name(callee: str | None) -> str | None:
    # "bpf_map_lookup_elem#1" -> "bpf_map_lookup_elem"
    return callee.partition("#")[0] if callee else None
