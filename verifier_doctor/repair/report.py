"""What `vdoctor fix` says: the JSON of each round and candidate, and the sentences on stderr."""

from __future__ import annotations

from typing import Any

from .engine import Repair, unified_diff

__all__ = ["to_dict", "summary"]


def to_dict(result: Repair, program: str, kernel: str) -> dict[str, Any]:
    return {
        "program": program,
        "kernel": kernel,
        "loads": result.loads,
        "seconds": round(result.seconds, 3),
        "stopped": result.stopped,
        "rounds": [{
            "round": r.number,
            "program": r.program or None,
            "class": r.error_class,
            "message": r.message,
            "line": r.line,
            "seconds": round(r.seconds, 3),
            "chosen": r.chosen,
            "candidates": [{"rule": a.rule, "why": a.why, "changed_lines": a.changed_lines,
                            "verdict": a.verdict, "detail": a.detail or None} for a in r.attempts],
        } for r in result.rounds],
        "diff": unified_diff(result, program, with_why=False),
    }


def summary(result: Repair) -> list[str]:
    """The closing sentences: how the repair ended and, when it failed, what was tried."""
    rounds = [r for r in result.rounds if r.number > 0]
    if result.loads:
        if not result.rounds:
            return ["the program loads as it is; nothing to change."]
        if not rounds:
            return [f"the program loads once malloc and friends are renamed ({result.seconds:.1f} s)."]
        return [f"the repaired program loads ({len(rounds)} round(s) of repair, "
                f"{result.seconds:.1f} s)."]
    lines = [f"no candidate made it load: {result.stopped}."]
    for r in result.rounds:
        for a in r.attempts:
            lines.append(f"  round {r.number}: {a.rule}: {a.verdict}" + (f" ({a.detail})" if a.detail else ""))
    return lines
