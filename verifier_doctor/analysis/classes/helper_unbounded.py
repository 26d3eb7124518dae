"""helper-unbounded: a size or offset given to a helper with no bound the verifier can see"""

from __future__ import annotations

from ...model import OpKind, ProgramTrace
from ..findings import ErrorInfo, FixSite
from ..lesson import Fix, Lesson
from ..provenance import Follow, Location, Provenance, trace_back, value_before
from .base import ErrorClass

# check_mem_size_reg(): the size argument of a helper has no bound (or may be negative).
_SIZE_MESSAGES = (
    "%s min value is negative, either use unsigned or 'var &= const'",
    "%s unbounded memory access, use 'var &= const' or 'if (var < const)'",
    "R%d min value is negative, either use unsigned or 'var &= const'",
    "R%d unbounded memory access, use 'var &= const' or 'if (var < const)'",
)


def _failing_call(trace: ProgramTrace):
    failing = trace.steps[-1] if trace.steps else None
    if failing is None or failing.insn.kind is not OpKind.CALL or failing.insn.calls_subprogram:
        return None
    return failing


def _value(trace: ProgramTrace, error: ErrorInfo):
    failing = _failing_call(trace)
    if failing is None or error.register is None:
        return None
    return value_before(trace, failing, int(error.register[1:]))


def claim(trace: ProgramTrace, error: ErrorInfo, provenance: Provenance | None) -> Provenance | None:
    """A memory argument of a helper call whose pointer has a variable offset the verifier
    cannot bound (map-value-bounds' "unbounded memory access" at a call, stack-access's
    variable-offset indirect access)."""
    value = _value(trace, error)
    if value is None or not value.is_pointer or not value.has_variable_offset:
        return None
    umax = value.attr("umax")
    if isinstance(umax, int) and umax < 1 << 29:
        return None  # bounded: the access is out of range, not unbounded
    failing = trace.steps[-1]
    return trace_back(trace, failing, Location.reg(int(error.register[1:]), failing.frame), Follow.OFFSET)


def _range(value) -> str:
    smin, umax = value.attr("smin"), value.attr("umax")
    low = smin if isinstance(smin, int) else value.attr("umin") if isinstance(value.attr("umin"), int) else None
    high = umax if isinstance(umax, int) else None
    shown_low = "?" if low is None else str(low)
    shown_high = "?" if high is None else (f"{high:#x}" if high > 0xffff else str(high))
    return f"[{shown_low}, {shown_high}]"


def _buffer_size(trace: ProgramTrace, register: int) -> int | None:
    """The size of the memory the argument before the size points to: a stack buffer's
    distance to the frame's top, a map value's `vs=`."""
    failing = trace.steps[-1]
    if register < 2:
        return None
    pointer = value_before(trace, failing, register - 1)
    if pointer is None:
        return None
    if pointer.kind == "fp" and pointer.const is not None and pointer.const < 0:
        return -pointer.const
    size = pointer.attr("vs")
    return size if isinstance(size, int) else None


def _unbounded_side(value) -> str:
    smin = value.attr("smin")
    if isinstance(smin, int) and smin < 0:
        return "it may be negative: no check bounds it from below"
    return "no check bounds it from above"


def reason_in_trace(trace: ProgramTrace, error: ErrorInfo) -> str | None:
    """The register and its range, as the log's state before the call gives them."""
    value = _value(trace, error)
    if value is None:
        return None
    callee = (trace.steps[-1].insn.callee or "").partition("#")[0]
    if value.is_pointer:
        return (f"{error.register} points into {value.kind} at a variable offset in {_range(value)} when "
                f"{callee} is called: {_unbounded_side(value)}.")
    return f"{error.register}, the size given to {callee}, is a number in {_range(value)}: {_unbounded_side(value)}."


def fix_site(trace: ProgramTrace, error: ErrorInfo, culprit, provenance: Provenance | None) -> FixSite | None:
    value = _value(trace, error)
    failing = _failing_call(trace)
    if failing is None:
        return None
    line = f" before line {error.source.line}" if error.source and error.source.line else " before the call"
    if value is None:
        # No state before the call in the log (5.10 at level 1): the size messages say it is the size.
        if error.kernel is None or error.kernel.format not in _SIZE_MESSAGES:
            return None
        return FixSite(failing.insn.index, error.source,
                       f"clamp the size in {error.register}{line}: `if (n > sizeof(buf)) n = sizeof(buf);`")
    if value.is_pointer:
        size = value.attr("vs")
        limit = f" (`if (off > {size} - N) return 0;` for N bytes)" if isinstance(size, int) else ""
        action = f"bound the offset added to {error.register}{line}{limit}"
    else:
        size = _buffer_size(trace, int(error.register[1:]))
        clamp = f"`if (n > {size}) n = {size};`" if size else "`if (n > sizeof(buf)) n = sizeof(buf);`"
        action = f"clamp the size in {error.register}{line}: {clamp}"
    return FixSite(failing.insn.index, error.source, action)


CLASS = ErrorClass(
    name="helper-unbounded",
    messages=_SIZE_MESSAGES,
    takes_over=("map-value-bounds", "stack-access"),
    claim=claim,
    follow=Follow.OFFSET,
    fix_site=fix_site,
    reason_in_trace=reason_in_trace,
    lesson=Lesson(
        "helper-unbounded",
        "A size or offset given to a helper with no bound the verifier can see",
        "A helper that reads or writes memory (bpf_probe_read_kernel, bpf_skb_load_bytes, "
        "bpf_perf_event_output...) gets a pointer and a size. The verifier checks, before the call, "
        "that every byte the helper may touch is the program's: it needs the largest size (and "
        "offset) the call can be given. {reg} has no upper bound it can see, so the helper could "
        "reach past the buffer.",
        (
            Fix("Clamp the size right before the call, on the variable you pass: `if (n > sizeof(buf)) "
                "n = sizeof(buf);`, or mask it when the buffer's size is a power of two (`n &= 63`).",
                "bpf_probe_read_kernel(buf, *n, src);",
                "__u32 len = *n;\n"
                "if (len > sizeof(buf))\n"
                "        len = sizeof(buf);\n"
                "bpf_probe_read_kernel(buf, len, src);"),
            Fix("Bound a variable offset before adding it to the pointer: `if (off > sizeof(v->buf) - 8) "
                "return 0;`. If the compiler drops the check (it tests a copy), keep it with "
                "`barrier_var(off);` (libbpf's bpf_helpers.h) or an `asm volatile` compare on the "
                "register that indexes.",
                "bpf_probe_read_kernel(v->buf + off, 8, src);",
                "if (off > sizeof(v->buf) - 8)\n"
                "        return 0;\n"
                "bpf_probe_read_kernel(v->buf + off, 8, src);"),
        ),
    ),
)
