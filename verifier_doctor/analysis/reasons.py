"""Pieces of the specific reason an explanation gives, shared by several error classes."""

from __future__ import annotations

from .provenance import Origin, Provenance


def where(provenance: Provenance) -> str:
    """ " at instruction 25 (r2 = *(u64 *)(r2 +16)), `curr = curr->next;`", or ""."""
    step = provenance.origin_step
    if step is None:
        return ""
    text = f" at instruction {step.insn.index} ({step.insn.text})"
    if step.source is not None:
        text += f", `{step.source.text}`"
    return text


def offset_read_from_memory(provenance: Provenance, at: str) -> tuple[str, list[str]] | None:
    """An offset that was read from memory is any number: no check bounded it."""
    if provenance.origin is not Origin.LOADED:
        return None
    base = provenance.base_value
    source = "the packet" if base is not None and base.kind.startswith("pkt") else "memory"
    return (f"The offset was read from {source}{at}, so it can be any value; no check between "
            "there and the access bounds it.", [])
