"""What an error class module declares: the messages it owns, how its value is followed, its lesson."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...model import KernelMessage, LoadFailure, ProgramTrace
from ..lesson import Lesson
from ..provenance import Follow, Provenance

if TYPE_CHECKING:
    from ..findings import Culprit, ErrorInfo, FixSite

# What a rejection of a class usually is (CLI.md "Where to fix"): a mistake in the source, a
# compiler lowering the verifier cannot follow, a limit of the verifier, the environment.
KINDS = ("source-bug", "lowering", "verifier-limit", "environment")


@dataclass(frozen=True, slots=True)
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
    internal: bool = False  # owns the catalogue's internal verifier errors (`verifier-bug`)
    # What this rejection's message says, in words, from its fields ("a 4-byte read at
    # offset 20 of a 12-byte map value"); None when the message gives nothing to say.
    describe: Callable[[KernelMessage], str | None] | None = None
    # Where the class finds its culprit itself, before (or instead of) following the value
    # back: the instruction that took a lock, acquired a reference, checked the packet.
    culprit: "Callable[[ProgramTrace, ErrorInfo], Culprit | None] | None" = None
    # What stopped a load before the verifier ran, in words, with the fixes that fit it.
    failure_words: Callable[[LoadFailure], tuple[str, list[str]]] | None = None
    # The register the rejection is about when its message names none ("R0" at exit, the
    # helper argument that holds a packet pointer), from the trace and the message.
    register_when_unnamed: Callable[[ProgramTrace, KernelMessage | None], str | None] | None = None
    # The specific reason, from what following the value back found (and where, in words):
    # (text added to the explanation, fixes put first), or None.
    reason: Callable[[Provenance, str], tuple[str, list[str]] | None] | None = None
    # What the trace says of this rejection beyond the message (a register's range before the
    # call, the map type a helper needs), in words: added to the explanation.
    reason_in_trace: "Callable[[ProgramTrace, ErrorInfo], str | None] | None" = None
    # What the rejection usually is (one of KINDS); a diagnosis may find otherwise (lowering).
    kind: str = "source-bug"
    # The kind of one rejection when its message says otherwise than the class's usual kind
    # (verifier-bug's jump that no longer fits after the kernel's rewrite: a verifier limit).
    kind_of: "Callable[[ErrorInfo], str | None] | None" = None
    # Classes whose rejections this class takes when `claim` finds, in the trace, what makes
    # them this class (a packet pointer the call before the access invalidated): the value's
    # history, rooted where this class finds its culprit.
    takes_over: tuple[str, ...] = ()
    claim: "Callable[[ProgramTrace, ErrorInfo, Provenance | None], Provenance | None] | None" = None
    # Where the change goes, when the class knows better than the rejected instruction.
    fix_site: "Callable[[ProgramTrace, ErrorInfo, Culprit | None, Provenance | None], FixSite | None] | None" = None
    # What the class adds from the whole walk (too-complex: where the verifier's budget went,
    # analysis/profile.py), shown beside the diagnosis; None when it has nothing to add.
    profile: "Callable[[ProgramTrace, ErrorInfo], object | None] | None" = None
    # Messages whose instruction ("insn %d") is the rejected one, though the verifier walked on
    # past it before saying so (a loop found on a later visit; a throw in a callback, reported
    # after the whole program and its exception callback were walked).
    rejected_at_named: tuple[str, ...] = ()
