"""Where the change goes, how the culprit was found, and what kind of mistake it is.

The culprit is where the offending value went wrong (a lookup, `data = ctx->data`); the fix
often goes elsewhere: a missing NULL or bounds check goes before the use, a reload after the
call that invalidated the packet. `judge` gives, for a rejection (CLI.md "Where to fix"):

- `fix_site`: the instruction and source line to change, and what to do there;
- `confidence`: `followed` when the culprit was found by following the value through the
  states the log printed (or the log names the instruction), `inferred` when a step of that
  was a guess (a path whose branch point the log does not show, no state to read, no culprit);
- `kind`: `source-bug`, `lowering` (the source checked a bound the compiler's code does not
  apply to the register the access uses), `verifier-limit`, or `environment`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import OpKind, ProgramTrace, SourceLine, Step
from .classes import error_class
from .findings import Culprit, ErrorInfo, FixSite
from .provenance import Follow, Location, Origin, Provenance, previous_step, trace_back, value_after, value_before

CONFIDENCES = ("followed", "inferred")
# Classes whose rejection says a range is not proven: where a compiler's lowering can lose a
# bound the source checked.
_RANGE_CLASSES = frozenset({"map-value-bounds", "unbounded-math", "packet-bounds", "stack-access",
                            "helper-unbounded"})
_WALK_LIMIT = 4096  # steps looked at, back from the rejection
_ORDER_TESTS = frozenset({"<", ">", "<=", ">=", "s<", "s>", "s<=", "s>="})
# A C declaration or assignment: the variable the line gives a value to (`__u64 *v = ...`).
_ASSIGNED = re.compile(r"(\w+)\s*(?:\[[^\]]*\])?\s*=(?!=)")
# The end of a fix's first sentence (not "e.g." or "i.e.").
_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)\.\s+(?=[A-Z`])|:\s")


@dataclass(frozen=True, slots=True)
class Judgement:
    fix_site: FixSite | None
    confidence: str  # one of CONFIDENCES
    kind: str  # one of classes.base.KINDS
    # When the compiler's lowering lost the bound: (what happened, in words; the fix).
    lowering: tuple[str, str] | None = None


def _line(source: SourceLine | None) -> str:
    """"line 47", or the line's text where the log numbers no lines (before v6.2)."""
    if source is not None and source.line:
        return f"line {source.line}"
    return f"`{source.text.strip()}`" if source is not None and source.text.strip() else "the rejected instruction"


def _variable(source: SourceLine | None) -> str | None:
    """The variable a source line assigns (`e = bpf_ringbuf_reserve(...)` -> e), if it does."""
    if source is None:
        return None
    found = _ASSIGNED.search(source.text)
    return found.group(1) if found else None


def _variable_offset(trace: ProgramTrace, error: ErrorInfo) -> bool:
    """The rejected register holds a value the verifier knows only as a range (not a constant)."""
    if error.register is None or not trace.steps:
        return False
    value = value_before(trace, trace.steps[-1], int(error.register[1:]))
    return value is not None and (value.has_variable_offset or value.is_scalar and value.const is None)


def _first_sentence(text: str) -> str:
    # An end outside code spans: `asm volatile("" ::: "memory")` goes on past its colons.
    end = next((m.start() for m in _SENTENCE_END.finditer(text) if text.count("`", 0, m.start()) % 2 == 0), None)
    sentence = text[:end].rstrip(".")
    keep = len(sentence) > 1 and sentence[1].isupper()  # "GPL-only ...", "BPF_..."
    return sentence if keep else sentence[:1].lower() + sentence[1:]


def _default_action(trace: ProgramTrace, error: ErrorInfo, culprit: Culprit | None, suggestions: list[str]) -> str:
    at = _line(error.source)
    name = error.error_class
    kernel = error.kernel
    if name == "null-deref":
        variable = _variable(culprit.source if culprit else None)
        what = f"`{variable}`" if variable else f"the pointer in {error.register or 'the register'}"
        return f"check {what} for NULL before {at}"
    if name == "packet-bounds" and kernel is not None and kernel.number("off") is not None \
            and kernel.number("size") is not None:
        end = kernel.number("off") + kernel.number("size")
        return f"compare `data + {end}` with data_end before {at}"
    if name in ("map-value-bounds", "unbounded-math") and kernel is not None \
            and kernel.number("value_size") is not None and kernel.number("size") is not None:
        limit = kernel.number("value_size") - kernel.number("size")
        return f"test the offset `<= {limit}` (value_size {kernel.number('value_size')}) before {at}"
    if name in _RANGE_CLASSES and _variable_offset(trace, error):
        return f"bound the index or offset in {error.register} before {at}"
    if name == "unreleased-reference" and culprit is not None:
        return f"release the reference acquired at {_line(culprit.source)} on the path that reaches {at}"
    if name == "lock-misuse" and culprit is not None and trace.steps and trace.steps[-1].insn.kind is OpKind.EXIT:
        return f"call bpf_spin_unlock before the exit at {at} (the lock taken at {_line(culprit.source)} is still held)"
    if name == "lock-misuse" and culprit is not None:
        return f"move {at} out of the region the lock taken at {_line(culprit.source)} holds"
    sentence = _first_sentence(suggestions[0] if suggestions else "Change the code")
    return sentence + (f" ({at})" if error.source and error.source.line else "")


def _confidence(error: ErrorInfo, culprit: Culprit | None, provenance: Provenance | None) -> str:
    if culprit is None:
        return "inferred"
    if provenance is not None and (provenance.crossed_unknown_branch or provenance.origin is Origin.UNKNOWN):
        return "inferred"
    return "followed"


def _lowering(trace: ProgramTrace, error: ErrorInfo, provenance: Provenance | None) -> tuple[str, str] | None:
    """A bound the program tested on another register, or on a 32-bit copy, than the one
    the rejected access uses: the source checked, the compiled code checks something else.

    Along the path from where the value was made to the rejection, an order test against a
    constant (`if w2 > 7`, `if r3 < 8`) on a register that holds the same value (followed back
    to the same instruction) but is not where the value was at that step, or a 32-bit test of
    the register that holds it."""
    if error.error_class not in _RANGE_CLASSES or provenance is None or provenance.origin_step is None \
            or error.register is None or not trace.steps:
        return None
    failing = trace.steps[-1]
    origin = provenance.origin_step.number
    hops = {hop.step.number: hop.location for hop in provenance.hops}
    location = Location.reg(int(error.register[1:]), failing.frame)
    step, _ = previous_step(trace, failing)
    budget = _WALK_LIMIT  # a long path: the tests nearest the access are the ones that matter
    while step is not None and step.number > origin and budget > 0:
        budget -= 1
        insn = step.insn
        if insn.kind is OpKind.COND_JUMP and insn.op in _ORDER_TESTS and insn.imm is not None \
                and len(insn.srcs) == 1 and step.frame == location.frame:
            tested = insn.srcs[0]
            if tested == location.register and not insn.wide:
                return _said(step, error, f"a 32-bit copy (w{tested})", location)
            if tested != location.register:
                other = trace_back(trace, step, Location.reg(tested, step.frame), Follow.VALUE)
                if other.origin_step is not None and other.origin_step.number == origin:
                    if location.slot is not None:
                        dropped = _spill_dropped(trace, provenance, location)
                        if dropped is not None:
                            return _spill_said(step, error, tested, location, dropped)
                    return _said(step, error, f"R{tested}, another register", location)
        if step.number in hops:
            location = hops[step.number]
        step, _ = previous_step(trace, step)
    return None


def _spill_dropped(trace: ProgramTrace, provenance: Provenance, slot: Location) -> tuple[Step, str] | None:
    """The fill from `slot` that gave the access its value, and what the states say of it, when
    they show the range dropped: the register after the fill is a number with no upper bound, or
    (a log that prints no state there, 5.10 at level 1) the slot before the fill holds bytes of
    no known value ("fp-16=mmmmmmmm"): the bound the program tested on an earlier fill did not
    reach the slot (a spill that drops the range)."""
    for hop in provenance.hops:  # newest first: the last fill before the access
        insn = hop.step.insn
        if hop.location != slot or insn.kind is not OpKind.LOAD or insn.dst is None:
            continue
        fill = hop.step
        value = value_after(fill, Location.reg(insn.dst, fill.frame))
        if value is None and fill.number + 1 < len(trace.steps):  # 5.10: the state on the next line
            value = value_before(trace, trace.steps[fill.number + 1], insn.dst)
        if value is not None:
            umax = value.attr("umax")
            if value.is_scalar and value.const is None and not (isinstance(umax, int) and umax < 1 << 63):
                return fill, f"the state after it is R{insn.dst}={value}, with no bound"
            return None
        held = _slot_before(trace, fill, slot)
        if held is not None and held.value is None and held.marks and set(held.marks) == {"m"}:
            return fill, f"the state before it shows {slot}={held.marks}, bytes of no known value"
        return None
    return None


def _slot_before(trace: ProgramTrace, step: Step, slot: Location):
    """The stack slot as the nearest state before `step` on its path prints it."""
    current, _ = previous_step(trace, step)
    budget = _WALK_LIMIT
    while current is not None and budget > 0:
        budget -= 1
        for state in (current.state_after, current.state_before):
            found = state.slot(slot.slot) if state is not None and state.frame == slot.frame else None
            if found is not None:
                return found
        current, _ = previous_step(trace, current)
    return None


def _where(step: Step) -> str:
    """" (line 47: `code`)", or " (`code`)" where the log numbers no lines (before v6.2)."""
    if step.source is None:
        return ""
    code = f"`{step.source.text.strip()}`"
    return f" ({_line(step.source)}: {code})" if step.source.line else f" ({code})"


def _spill_said(step: Step, error: ErrorInfo, tested: int, slot: Location,
                dropped: tuple[Step, str]) -> tuple[str, str]:
    fill, shown = dropped
    return (f"The program does test a bound, at instruction {step.insn.index} ({step.insn.text}){_where(step)}, "
            f"on R{tested} filled from the stack slot {slot}; the access at {_line(error.source)} fills {slot} "
            f"again, at instruction {fill.insn.index} ({fill.insn.text}), and {shown}: the value was spilled "
            f"to {slot} and this kernel did not carry "
            "the bound tested on one fill to the slot or to the next fill (a spill that drops the range: the "
            "compiler's lowering kept the value on the stack, the source tested it once).",
            "Test the register the access uses, after its last fill: put the test right next to the access, "
            "with `barrier_var(idx);` (libbpf's bpf_helpers.h) before it so the compiler tests the register it "
            "then indexes with (`barrier_var(idx); if (idx >= N) return 0; v[idx] ...`, an unsigned compare on "
            "that variable, in its own type); or bound that register in `asm volatile`.")


def _said(step: Step, error: ErrorInfo, tested: str, location: Location) -> tuple[str, str]:
    where = _where(step)
    return (f"The program does test a bound, at instruction {step.insn.index} ({step.insn.text}){where}, but "
            f"on {tested}, not on {location} that the access at {_line(error.source)} uses: the bound holds "
            "for a copy the verifier does not link to the register that indexes (the source tested a 32-bit "
            "copy, or the compiler's lowering made one), so it cannot carry the bound across.",
            f"Make the test apply to the register that indexes: `barrier_var(idx);` (libbpf's bpf_helpers.h) "
            f"right before the test keeps the compiler from testing a copy; or test, with an unsigned compare, "
            f"the very variable the access indexes with, in its own type (`if (idx >= N) return 0;` next to the "
            f"access, no cast); or write the test in `asm volatile` on that register.")


def judge(trace: ProgramTrace, error: ErrorInfo, culprit: Culprit | None, provenance: Provenance | None,
          suggestions: list[str] | None = None) -> Judgement:
    cls = error_class(error.error_class)
    site = cls.fix_site(trace, error, culprit, provenance) if cls.fix_site is not None else None
    if site is None and error.error_class == "scalar-deref" and culprit is not None \
            and culprit.origin is Origin.LOADED:
        # The number was loaded where the pointer was lost: the change goes there.
        site = FixSite(culprit.insn, culprit.source,
                       f"turn the value loaded at {_line(culprit.source)} back into a pointer the verifier "
                       "tracks: `n = static_ptr(n->next)` with the shipped allocator, or store an offset and "
                       "add it to the map value's address after bounding it")
    if site is None:
        site = FixSite(error.insn, error.source, _default_action(trace, error, culprit, suggestions or []))
    lowering = _lowering(trace, error, provenance)
    kind = "lowering" if lowering is not None else (cls.kind_of and cls.kind_of(error)) or cls.kind
    if error.error_class == "load-error" and error.insn is None:
        kind = "environment"  # refused before the verifier: the kernel, libbpf or the user's rights
    confidence = "inferred" if lowering is not None else _confidence(error, culprit, provenance)
    return Judgement(site, confidence, kind, lowering)
