"""From a program's trace to a diagnosis: the error, its class, the culprit, the history."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import IncompleteLog
from ..model import KernelDiagnosis, LogFormat, Message, OpKind, ProgramTrace, Stats, Step
from .advice import advise
from .classes import class_of
from .classes import error_class as class_named
from .classes import takers_of
from .finders import culprit_of
from .findings import Culprit, ErrorInfo, FixSite, HistoryItem
from .where_to_fix import Judgement, judge
from .provenance import (
    Location,
    Origin,
    Provenance,
    trace_back,
    value_after,
    value_before,
)

_RANGE_CLASSES = {"unbounded-math", "map-value-bounds", "packet-bounds", "stack-access", "helper-unbounded"}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    program: str | None
    verdict: str  # "accepted" or "rejected"
    error: ErrorInfo | None
    culprit: Culprit | None
    history: tuple[HistoryItem, ...]
    explanation: str
    suggestions: tuple[str, ...]
    stats: Stats | None
    log_format: LogFormat
    log_level: int
    caveats: tuple[str, ...]
    unparsed: tuple[tuple[int, str], ...]
    kernel_diagnosis: KernelDiagnosis | None  # v7.3's own verdict, beside ours
    profile: object | None = None  # analysis/profile.Profile: where the budget went (too-complex, --profile)
    # Where the change goes (often not the culprit), how sure the culprit is, what kind of
    # mistake it is (CLI.md "Where to fix"); None for an accepted program.
    judgement: Judgement | None = None

    @property
    def fix_site(self) -> FixSite | None:
        return self.judgement.fix_site if self.judgement else None


def _error_messages(trace: ProgramTrace) -> tuple[list[Message], list[Message]]:
    """The verifier's words after the last instruction it looked at that can be its verdict,
    and those that cannot. Only a line of the message catalogue can be the error (issue 22):
    a line no kernel's source holds (a level-2 remark of a newer kernel) rejects nothing,
    unless libbpf says the load failed and the kernel said nothing the catalogue holds (its
    words are then the error, `other`: the verdict is libbpf's)."""
    last = trace.steps[-1].number if trace.steps else None
    after = [m for m in trace.messages if m.after_step == last]
    known = [m for m in after if m.kernel is not None]
    if known or trace.load_failed:
        return after, []
    return [], after


def _primary(messages: list[Message]) -> tuple[Message, str]:
    """The message that rejected the program, and its class: the first catalogued rejection
    (the verifier prints its verdict first, then the details), else the first catalogued
    message, else the first line (`other`: a message of no kernel of the catalogue)."""
    for wanted in (lambda k: k.rejection and k.whole, lambda k: k.rejection, lambda k: True):
        for message in messages:
            kernel = message.kernel
            if kernel is not None and wanted(kernel):
                found = class_of(kernel)
                if found is not None:
                    return message, found
    return messages[0], "other"


def _register_of(message: Message) -> str | None:
    return message.kernel.register if message.kernel is not None else None


def _insn_named(message: Message) -> int | None:
    """The instruction a message names ("back-edge from insn 12", "alloc_insn=7")."""
    kernel = message.kernel
    if kernel is None:
        return None
    for name in ("insn", "alloc_insn", "at"):
        value = kernel.number(name)
        if value is not None:
            return value
    return None


def diagnose(trace: ProgramTrace) -> Diagnosis:
    """The diagnosis of one program's log."""
    caveats: list[str] = []
    messages, unknown = _error_messages(trace)
    if trace.unparsed:
        caveats.append(f"{len(trace.unparsed)} line(s) of the log were not recognised and were skipped.")
    if unknown:
        caveats.append(f"{len(unknown)} line(s) after the last instruction are in no kernel's message catalogue "
                       f"(the first: {unknown[0].text!r}); only a catalogued message can reject a program.")
    if not messages and trace.steps and trace.stats is None:
        raise IncompleteLog(
            "The log stops before the verifier's verdict (no error and no 'processed N insns' line): "
            "it was cut off; load again with a larger log buffer and keep the whole output."
        )
    if not messages and not trace.load_failed:
        return _accepted(trace, caveats)
    error, provenance = _error(trace, messages, caveats)
    error, provenance = _taken_over(trace, error, provenance)
    culprit = _culprit(trace, error, provenance)
    history = _history(trace, error, provenance)
    explanation, suggestions = advise(error, provenance, trace)
    judgement = judge(trace, error, culprit, provenance, suggestions)
    if judgement.lowering is not None:
        explanation = f"{explanation} {judgement.lowering[0]}"
        suggestions = [judgement.lowering[1], *suggestions]
    caveats.extend(_what_the_log_cannot_show(trace, error, provenance))
    if provenance is not None and provenance.crossed_unknown_branch:
        caveats.append(
            "The value's history crosses a path the level-1 log starts without saying where it "
            "branched; rerun with log level 2 (bpftool -d, or log_level=2) for a certain history."
        )
    return Diagnosis(
        program=trace.name,
        verdict="rejected",
        error=error,
        culprit=culprit,
        history=history,
        explanation=explanation,
        suggestions=tuple(suggestions),
        stats=trace.stats,
        log_format=trace.format,
        log_level=trace.log_level,
        caveats=tuple(caveats),
        unparsed=trace.unparsed,
        kernel_diagnosis=trace.kernel_diagnosis,
        judgement=judgement,
        profile=_class_profile(trace, error),
    )


def _taken_over(trace: ProgramTrace, error: ErrorInfo,
                provenance: Provenance | None) -> tuple[ErrorInfo, Provenance | None]:
    """A class that finds in the trace what makes the rejection its own takes it (a packet
    pointer a helper invalidated is no plain scalar-deref), with the history it follows."""
    for taker in takers_of(error.error_class):
        claimed = taker.claim(trace, error, provenance)
        if claimed is not None:
            return replace(error, error_class=taker.name), claimed
    return error, provenance


def _class_profile(trace: ProgramTrace, error: ErrorInfo) -> object | None:
    found = class_named(error.error_class).profile
    return found(trace, error) if found is not None else None


def _what_the_log_cannot_show(trace: ProgramTrace, error: ErrorInfo, provenance: Provenance | None) -> list[str]:
    """Say so when the log stops short of the cause, and which log would show it."""
    if provenance is None:
        return []
    notes = []
    if provenance.origin is Origin.UNKNOWN and trace.steps and trace.steps[0].insn.index != 0:
        notes.append(
            f"The log starts at instruction {trace.steps[0].insn.index}, not at the program's start: its "
            f"beginning was cut (since v6.4 the kernel keeps the end of a log that overflows its buffer), and "
            f"{provenance.location} got its value before that. Load again with a larger log buffer."
        )
    elif provenance.origin is Origin.UNKNOWN:
        notes.append(
            f"The log does not show where {provenance.location} got its value: the path starts without its "
            "branch point. Rerun with log level 2, which prints 'from X to Y' for every path."
        )
    if provenance.origin is Origin.LOADED and provenance.base_value is None and trace.log_level == 1:
        step = provenance.origin_step
        notes.append(
            f"At log level 1 this kernel prints few register states, so the log does not say what instruction "
            f"{step.insn.index if step else '?'} loaded from; log level 2 prints the state after every instruction."
        )
    return notes


def _accepted(trace: ProgramTrace, caveats: list[str]) -> Diagnosis:
    return Diagnosis(
        program=trace.name, verdict="accepted", error=None, culprit=None, history=(),
        explanation="The verifier accepted the program.", suggestions=(), stats=trace.stats,
        log_format=trace.format, log_level=trace.log_level, caveats=tuple(caveats),
        unparsed=trace.unparsed, kernel_diagnosis=None,
    )


def _error(trace: ProgramTrace, messages: list[Message], caveats: list[str]) -> tuple[ErrorInfo, Provenance | None]:
    if not messages:
        # libbpf failed the load and the kernel said nothing: map creation, BTF, relocation.
        # The reader puts the line that says what failed first.
        lines = list(trace.load_errors) or list(trace.libbpf_lines) or ["the load failed"]
        return ErrorInfo(lines[0], "load-error", None, None, None, tuple(lines), None,
                         load_failure=trace.load_failure), None
    primary, error_class = _primary(messages)
    message = primary.text
    failing = trace.steps[-1] if trace.steps else None
    named = _insn_named(primary)
    if named is not None and primary.kernel.format in class_named(error_class).rejected_at_named:
        # "infinite loop detected at insn 8", "bpf_throw kfunc (insn 29) cannot be called from
        # callback subprog 1": at level 2 the log goes on past that insn.
        failing = _latest_step_at(trace, named) or failing
    insn_index = failing.insn.index if failing else named
    register = _register_of(primary) or next((r for r in map(_register_of, messages) if r), None)
    unnamed = class_named(error_class).register_when_unnamed
    if register is None and unnamed is not None and failing is not None:
        register = unnamed(trace, primary.kernel)
    source = failing.source if failing else (trace.source_of(insn_index) if insn_index is not None else None)
    if error_class == "uninit-register" and failing is not None and failing.insn.kind is OpKind.EXIT:
        error_class = "return-value"
    if register is None and failing is not None and len(failing.insn.srcs) == 2 \
            and failing.insn.kind is OpKind.ALU:
        # "math between map_value pointer and register with unbounded min value": the
        # message names no register; the number is the instruction's source operand.
        register = f"R{failing.insn.srcs[1]}"
    error = ErrorInfo(message, error_class, insn_index, register, source, tuple(m.text for m in messages),
                      failing.insn.text if failing else None, primary.kernel)
    follow = class_named(error_class).follow
    if failing is None or register is None or register == "R10" or follow is None:
        return error, None
    location = Location.reg(int(register[1:]), failing.frame)
    return error, trace_back(trace, failing, location, follow)


def _culprit(trace: ProgramTrace, error: ErrorInfo, provenance: Provenance | None) -> Culprit | None:
    found = class_named(error.error_class).culprit
    if found is not None:
        culprit = found(trace, error)
        if culprit is not None or provenance is None:
            return culprit
    if provenance is None or provenance.origin_step is None:
        return None
    if error.error_class in _RANGE_CLASSES and provenance.origin is Origin.CONSTANT:
        lost = _where_the_bound_was_lost(provenance)
        if lost is not None:
            return lost
    return culprit_of(provenance)


def _where_the_bound_was_lost(provenance: Provenance) -> Culprit | None:
    """A constant is never unbounded: the range was lost in the arithmetic after it.

    The first arithmetic step after which the log shows the value without bounds is the
    culprit; when the log prints no state there (level 1 on old kernels), the last
    arithmetic before the failure, which gave the value its final range."""
    arithmetic = [hop for hop in provenance.hops if hop.step.insn.kind is OpKind.ALU]
    if not arithmetic:
        return None
    chosen, note = arithmetic[0], "the last arithmetic before the failure; the log prints no state to say which lost the bound"
    for hop in reversed(arithmetic):  # oldest first (hops run newest first)
        value = value_after(hop.step, hop.location)
        if value is not None and value.is_scalar and value.const is None and not _bounded(value):
            chosen, note = hop, "its range was lost in this arithmetic"
            break
    step = chosen.step
    return Culprit(str(chosen.location), step.insn.index, step.insn.text, step.source, Origin.ARITHMETIC,
                   None, note)


def _bounded(value) -> bool:
    # umax below 2^63 and a known lower bound is what pointer arithmetic needs (v5.10+).
    umax, smin = value.attr("umax"), value.attr("smin")
    return isinstance(umax, int) and umax < 1 << 63 and (smin is None or smin >= 0)


def _latest_step_at(trace: ProgramTrace, index: int) -> Step | None:
    return trace.latest_step_at(index)


def _history(trace: ProgramTrace, error: ErrorInfo, provenance: Provenance | None) -> tuple[HistoryItem, ...]:
    if provenance is None or not trace.steps:
        return ()
    failing = trace.steps[-1]
    items = []
    for hop in reversed(provenance.hops):
        value = value_after(hop.step, hop.location) if hop.step.frame == hop.location.frame else None
        if value is None and hop.location.register is not None and hop.step.number + 1 < len(trace.steps):
            value = value_before(trace, trace.steps[hop.step.number + 1], hop.location.register)
        items.append(HistoryItem(hop.step.insn.index, hop.step.insn.text, hop.step.source,
                                 str(hop.location), str(value) if value else None, hop.note))
    register = error.register
    value = value_before(trace, failing, int(register[1:])) if register else None
    if provenance.origin in (Origin.INVALIDATED, Origin.RELEASED):
        value = None  # the last state printed is from before the call that invalidated it
    items.append(HistoryItem(failing.insn.index, failing.insn.text, failing.source, register or "",
                             str(value) if value else None, "rejected here"))
    return tuple(items)
