"""v7.3's diagnosis block ("Verification failed:", "Reason:", "At:", "Causal path:",
"Suggestion:") -> model.KernelDiagnosis. The block's lines are parsed with the diag_*
rules of grammars/verifier_log.lark."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..model import KernelDiagnosis, KernelPlace
from .grammar import parse_line
from .transformer import DiagLocation, DiagMarked, DiagNote


@dataclass(slots=True)
class Block:
    """One "Key: value" line of the block and the indented lines under it."""

    key: str
    value: str
    lines: list[str] = field(default_factory=list)


def _prose(block: Block | None) -> str:
    if block is None:
        return ""
    return " ".join(part for part in [block.value, *(line.strip() for line in block.lines)] if part)


def _places(block: Block | None) -> list[KernelPlace]:
    if block is None:
        return []
    places: list[KernelPlace] = []
    context = "source"
    noting = False
    for raw in block.lines:
        text = raw.strip()
        if not text:
            noting = False
            continue
        if text in ("Source context:", "Instruction context:"):
            context = "source" if text.startswith("Source") else "insn"
            noting = False
            continue
        parsed = None
        if text.startswith(">>>"):
            parsed = parse_line("diag_marked", text)
        elif text.startswith("|"):
            parsed = parse_line("diag_note", text)
        elif " @ " in text:
            parsed = parse_line("diag_location", text)
        if isinstance(parsed, DiagLocation):
            places.append(KernelPlace(parsed.function, parsed.file, parsed.line, parsed.column))
            context, noting = "source", False
        elif isinstance(parsed, DiagMarked) and places:
            if context == "source":
                places[-1] = replace(places[-1], source=parsed.text.strip())
            else:
                insn_text = parsed.text.partition(") ")[2] or parsed.text
                places[-1] = replace(places[-1], insn=parsed.number, insn_text=insn_text.strip())
        elif isinstance(parsed, DiagNote) and places:
            if parsed.text.startswith("^--"):
                note = parsed.text[3:].strip()
                # "update: R2 changed ...", "branch: taken", "acquired: ...": the kind before ':'.
                kind = note.partition(":")[0] if ":" in note.split(" ", 1)[0] else None
                places[-1] = replace(places[-1], note=note, note_kind=kind)
                noting = True
            elif noting and parsed.text:
                places[-1] = replace(places[-1], note=f"{places[-1].note} {parsed.text}")
    return places


def kernel_diagnosis(blocks: list[Block]) -> KernelDiagnosis | None:
    by_key = {block.key: block for block in blocks}
    failed = by_key.get("Verification failed")
    if failed is None:
        return None
    at = _places(by_key.get("At"))
    return KernelDiagnosis(
        verdict=failed.value,
        reason=_prose(by_key.get("Reason")),
        at=at[0] if at else None,
        causal_path=tuple(_places(by_key.get("Causal path"))),
        suggestion=_prose(by_key.get("Suggestion")),
    )
