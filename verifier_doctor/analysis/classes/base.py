"""What an error class module declares: the messages it owns, how its value is followed, its lesson."""

from __future__ import annotations

from dataclasses import dataclass

from ..lesson import Lesson
from ..provenance import Follow


@dataclass(frozen=True)
class ErrorClass:
    """One error class of CLI.md.

    A rejection belongs to the class that names its message (the kernel's format string, the
    catalogue's key), else to the class that owns the kernel function printing it: a new
    wording of a message in a function a class owns needs no change here."""

    name: str
    lesson: Lesson
    functions: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    # Messages this class owns when the register type they name may be NULL (the same
    # words serve 'scalar' and 'map_value_or_null').
    nullable_messages: tuple[str, ...] = ()
    follow: Follow | None = None  # how the offending value is followed back (None: it is not)
    internal: bool = False  # owns the catalogue's internal verifier errors (`other`)
