"""What a diagnosis is made of: the error as the kernel reported it, the culprit, the history.

Kept apart from diagnosis.py so that the error class modules (analysis/classes/), which
find some culprits themselves, can build them without importing the diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import KernelMessage, LoadFailure, SourceLine
from .provenance import Origin


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    message: str
    error_class: str
    insn: int | None
    register: str | None
    source: SourceLine | None
    details: tuple[str, ...]
    insn_text: str | None
    kernel: KernelMessage | None = None  # the catalogued message, with its fields
    load_failure: LoadFailure | None = None  # what stopped a load before the verifier


@dataclass(frozen=True, slots=True)
class Culprit:
    location: str  # "R2", "fp-8"
    insn: int | None
    insn_text: str | None
    source: SourceLine | None
    origin: Origin
    detail: str | None
    note: str  # how the value was made, in words ("loaded from map_value memory")


@dataclass(frozen=True, slots=True)
class HistoryItem:
    insn: int
    text: str
    source: SourceLine | None
    location: str
    value: str | None  # the tracked value after the instruction, as the verifier printed it
    note: str


@dataclass(frozen=True, slots=True)
class FixSite:
    """Where the change goes (CLI.md "Where to fix"): often not the culprit. A missing NULL or
    bounds check goes before the use; a reload goes after the call that invalidated."""

    insn: int | None
    source: SourceLine | None
    action: str  # "check `v` for NULL before line 47"
