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
from .classes import CLASSES_BY_NAME, error_class
from .kernel_types import types_in
from .lesson import Lesson
from .provenance import Origin, Provenance
from .reasons import where

if TYPE_CHECKING:
    from .findings import ErrorInfo


def lesson(name: str) -> Lesson:
    """The lesson of an error class (`other`'s for a class it does not know)."""
    return error_class(name).lesson


def advise(error: "ErrorInfo", provenance: Provenance | None, trace: ProgramTrace) -> tuple[str, list[str]]:
    taught = lesson(error.error_class)
    text = taught.explain(error.register)
    described = _described(error)
    if described:
        text = f"{text} {described}"
    in_trace = error_class(error.error_class).reason_in_trace
    seen = in_trace(trace, error) if in_trace is not None else None
    if seen:
        text = f"{text} {seen}"
    suggestions = [fix.text for fix in taught.fixes_for(error.kernel.format if error.kernel else None)]
    specific = _specific(error, provenance)
    typed = _load_failure(error) if specific is None else None
    if specific is not None:
        reason, extra = specific
        text = f"{text} {reason}"
        suggestions = extra + [s for s in suggestions if s not in extra]
    elif typed is not None:  # a load failure of a known kind: its own fix, not the class's general list
        reason, extra = typed
        text = f"{text} {reason}"
        suggestions = extra or suggestions
    return text, suggestions


def _load_failure(error: "ErrorInfo") -> tuple[str, list[str]] | None:
    cls = CLASSES_BY_NAME.get(error.error_class)
    if cls is None or cls.failure_words is None or error.load_failure is None:
        return None
    return cls.failure_words(error.load_failure)


def _described(error: "ErrorInfo") -> str | None:
    """The class's reading of the message's own fields, if it has one."""
    cls = CLASSES_BY_NAME.get(error.error_class)
    if error.kernel is None:
        return None
    if cls is not None and cls.describe is not None:
        said = cls.describe(error.kernel)
        if said:
            return said
    return types_in(error.kernel)


def _specific(error: "ErrorInfo", provenance: Provenance | None) -> tuple[str, list[str]] | None:
    """What the provenance found, said for this error: the class's own reading first, then
    what holds for any class (a global function's argument)."""
    if provenance is None:
        return None
    cls = CLASSES_BY_NAME.get(error.error_class)
    if cls is not None and cls.reason is not None:
        found = cls.reason(provenance, where(provenance))
        if found is not None:
            return found
    if provenance.origin is Origin.GLOBAL_ARGUMENT:
        function = provenance.detail or "the function"
        return (f"{provenance.location} is an argument of the global function {function}(). Since v5.6 the "
                "verifier checks a global (non-static) function once, on its own, for any caller: a pointer "
                "argument may be NULL there, whatever this program passes.",
                [f"Check the argument inside {function}() before using it (`if (!arg) return 0;`), or make "
                 f"{function}() static so it is verified with each call."])
    return None
