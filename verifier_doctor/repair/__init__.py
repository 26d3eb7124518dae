"""Repair rules: one module per error class, each turning a diagnosis into candidate patches.

A rule reads the program's syntax tree (csource.py, clang's parser) at the place the
diagnosis names (site.py) and proposes small edits: a check, a release, an initialisation,
a reload, a narrower type, a call moved out of a locked region. It never deletes logic
(`additive` checks it). engine.py builds and loads every candidate and keeps the smallest
that loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .csource import Edit, Tree
from .site import Site

__all__ = ["Candidate", "Context", "RULES", "rule_for", "additive"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One patch: what it does (`rule`), its edits, and one line of why for the diff."""

    rule: str
    edits: tuple[Edit, ...]
    why: str
    replaces_value: bool = False  # replaces one value by another (a return value, a copy length)
    rewrites_loop: bool = False  # a counted loop's header said as bpf_for (the same iterations)


@dataclass(frozen=True, slots=True)
class Context:
    tree: Tree
    site: Site


Rule = Callable[[Context], list[Candidate]]


def _rules() -> dict[str, Rule]:
    from . import (helper_arg, lock_misuse, map_value_bounds, null_deref, packet_bounds, return_value,
                   scalar_deref, stack_access, stale_packet, too_complex, unbounded_math,
                   unreleased_reference)

    return {
        "null-deref": null_deref.candidates,
        "packet-bounds": packet_bounds.candidates,
        "map-value-bounds": map_value_bounds.candidates,
        "unbounded-math": unbounded_math.candidates,
        "stack-access": stack_access.candidates,
        "unreleased-reference": unreleased_reference.candidates,
        "return-value": return_value.candidates,
        "lock-misuse": lock_misuse.candidates,
        "scalar-deref": scalar_deref.candidates,
        "packet-invalidated": stale_packet.candidates,
        "too-complex": too_complex.candidates,
        "helper-arg": helper_arg.candidates,
    }


RULES_DOC = {
    "null-deref": "check the pointer right after the call that may return NULL, leaving by the exit "
                  "the function already uses on its other failure paths",
    "packet-bounds": "check `if ((void *)(p + 1) > data_end)` before the access, leaving by the "
                     "function's failure exit",
    "map-value-bounds": "bound the index with an unsigned compare against the array's length, at the "
                        "access or where the index is set",
    "unbounded-math": "bound the index with an unsigned compare against the array's length (a signed "
                      "index is compared as unsigned, which bounds both sides)",
    "stack-access": "bound the index of a stack array with an unsigned compare against its length, or "
                    "copy at most sizeof(buf) into a stack buffer",
    "unreleased-reference": "release the reference (discard, sk_release, ...) before the return that leaks it",
    "return-value": "return a value in the allowed range on the offending path",
    "scalar-deref": "wrap a heap pointer loaded from map memory in the allocator's static_ptr()",
    "packet-invalidated": "after the helper that may move the packet, set every packet pointer again "
                          "as before and repeat its bounds check",
    "helper-arg": "check a pointer that may be NULL before a helper is given it",
    "too-complex": "say a counted loop as bpf_for (an open-coded iterator, verified once; kernel 6.4+)",
    "lock-misuse": "move the call out of the locked region (static_* allocator calls need no lock), "
                   "or unlock before the early return",
}


def rule_for(error_class: str) -> Rule | None:
    return _rules().get(error_class)


def additive(source: bytes, edits: tuple[Edit, ...]) -> bool:
    """A patch may insert text, wrap it, or move it; every byte it replaces or removes must
    come back inside the text it inserts (nothing of the program's logic is deleted)."""
    inserted = "".join(e.text for e in edits)
    return all(source[e.start:e.end].decode(errors="replace").strip() in inserted for e in edits)
