"""The catalogue's view of a repair: a class's rule, and the patch its rule proposes for the
class's reproducer, read from that reproducer's recorded log (no kernel needed; `vdoctor
fix` loads every candidate before it keeps one)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from . import RULES_DOC, Context, rule_for
from .csource import apply, parse
from .site import fix_site

__all__ = ["Proposal", "proposal"]

TAUGHT_KERNEL = "6.18"  # the logs that name source lines


@dataclass(frozen=True, slots=True)
class Proposal:
    rule: str  # the class's repair rule, in words
    reproducer: str | None  # the reproducer the diff repairs
    why: str | None
    diff: str | None


def _parse_args() -> list[str]:
    from ..kernel.build import _multiarch_include, find_compiler
    from ..resources import allocator_dir
    from .csource import parse_args

    compiler = find_compiler(None)
    command = [compiler, "-target", "bpf", "-I", str(allocator_dir())]
    multiarch = _multiarch_include(compiler)
    return parse_args(command + (["-I", str(multiarch)] if multiarch else []))


def proposal(error_class: str, reproducers: list[tuple[str, Path, Path | None]]) -> Proposal | None:
    """The rule of `error_class` and its first candidate on the first of `reproducers`
    ((name, source, recorded log)) for which it has one; None for a class without a rule."""
    from ..errors import VdoctorError
    from ..pipeline import diagnose_load

    rule = rule_for(error_class)
    if rule is None:
        return None
    for name, source, log in reproducers:
        if log is None:
            continue
        try:
            diagnosis = diagnose_load(name, log.read_text(errors="replace"), False)
            text = source.read_text()
            tree = parse(text.encode(), source.name, _parse_args())
        except (VdoctorError, OSError):
            continue
        if diagnosis.verdict == "accepted":
            continue
        found = rule(Context(tree, fix_site(diagnosis, source.name, text)))
        if found:
            new = apply(text.encode(), found[0].edits).decode()
            diff = "".join(difflib.unified_diff(text.splitlines(keepends=True), new.splitlines(keepends=True),
                                                f"a/{source.name}", f"b/{source.name}"))
            return Proposal(RULES_DOC[error_class], name, found[0].why, diff)
    return Proposal(RULES_DOC[error_class], None, None, None)
