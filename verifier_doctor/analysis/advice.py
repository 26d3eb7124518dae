"""Why, in plain words, and how to fix it: one lesson per error class.

A `Lesson` is data: what the verifier proved and what it could not prove (for a
newcomer), the fixes, each with a small before/after C snippet, and the kernel
versions where the rule or its wording changed. `advise` turns it into the
diagnosis's explanation and suggestions, adding the specific reason the provenance
found (a load from map memory, a helper's result...); `lesson` gives the whole
entry to whoever wants the snippets (the catalogue, a renderer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import ProgramTrace
from .classes import CLASSES_BY_NAME
from .lesson import ALLOCATOR_FIX, MAP_POINTER_FIX, Lesson
from .provenance import Origin, Provenance

if TYPE_CHECKING:
    from .diagnosis import ErrorInfo


LESSONS: dict[str, Lesson] = {name: cls.lesson for name, cls in CLASSES_BY_NAME.items()}


def lesson(error_class: str) -> Lesson:
    """The lesson of an error class (`other`'s for a class it does not know)."""
    return LESSONS.get(error_class, LESSONS["other"])


def advise(error: "ErrorInfo", provenance: Provenance | None, trace: ProgramTrace) -> tuple[str, list[str]]:
    taught = lesson(error.error_class)
    text = taught.explain(error.register)
    suggestions = [fix.text for fix in taught.fixes]
    specific = _specific(error, provenance)
    if specific is not None:
        reason, extra = specific
        text = f"{text} {reason}"
        suggestions = extra + [s for s in suggestions if s not in extra]
    return text, suggestions


def _where(provenance: Provenance) -> str:
    step = provenance.origin_step
    if step is None:
        return ""
    where = f" at instruction {step.insn.index} ({step.insn.text})"
    if step.source is not None:
        where += f", `{step.source.text}`"
    return where


def _specific(error: "ErrorInfo", provenance: Provenance | None) -> tuple[str, list[str]] | None:
    if provenance is None:
        return None
    where = _where(provenance)
    cls = error.error_class
    origin = provenance.origin
    base = provenance.base_value
    if cls == "scalar-deref" and origin is Origin.LOADED:
        if base is not None and base.kind.startswith("map_value"):
            return (
                f"It became a number{where}: that instruction loads 8 bytes from map memory, and the "
                "verifier treats anything loaded from a map value as a scalar, even if the program "
                "stored a pointer there. A linked structure in a map (an allocator's free list, a "
                "list's next field) hits this on the first pointer it follows.",
                [MAP_POINTER_FIX, ALLOCATOR_FIX],
            )
        if base is not None and base.kind == "ctx":
            return (f"It was read from the context{where}; that field is a number, not a pointer the "
                    "verifier tracks.",
                    ["Read kernel memory with bpf_probe_read_kernel() or use BTF-typed access (tp_btf, fentry)."])
        return (f"It was loaded from memory{where}; the verifier does not keep pointer types for values "
                "loaded from memory it does not track.", [MAP_POINTER_FIX])
    if origin is Origin.GLOBAL_ARGUMENT:
        function = provenance.detail or "the function"
        return (f"{provenance.location} is an argument of the global function {function}(). Since v5.6 the "
                "verifier checks a global (non-static) function once, on its own, for any caller: a pointer "
                "argument may be NULL there, whatever this program passes.",
                [f"Check the argument inside {function}() before using it (`if (!arg) return 0;`), or make "
                 f"{function}() static so it is verified with each call."])
    if cls == "scalar-deref" and origin is Origin.HELPER_RESULT:
        return (f"It is the result of {provenance.detail}{where}, which returns a number, not a pointer.",
                ["Read through such addresses with bpf_probe_read_kernel(), or use the BTF-typed variant of "
                 "the helper (e.g. bpf_get_current_task_btf)."])
    if cls == "scalar-deref" and origin is Origin.CONSTANT:
        return (f"It was set to the constant {provenance.detail}{where}; a number is never a valid pointer.", [])
    if cls == "null-deref" and origin is Origin.HELPER_RESULT:
        return (f"The pointer comes from {provenance.detail}{where}, which returns NULL when it finds "
                "nothing.", [])
    if cls in ("map-value-bounds", "packet-bounds", "unbounded-math") and origin is Origin.LOADED:
        source = "the packet" if base is not None and base.kind.startswith("pkt") else "memory"
        return (f"The offset was read from {source}{where}, so it can be any value; no check between "
                "there and the access bounds it.", [])
    if cls == "uninit-register" and origin is Origin.CLOBBERED:
        return (f"The call to {provenance.detail}{where} destroyed it: R1-R5 do not survive calls.", [])
    if cls == "return-value" and provenance.origin_step is not None:
        return (f"R0 got its value{where}.", [])
    return None
