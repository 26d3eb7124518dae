"""The Lark parser for verifier log lines, built once from grammars/verifier_log.lark."""

from __future__ import annotations

from functools import cache

from lark import Lark
from lark.exceptions import LarkError

from ..resources import grammar_dir
from .transformer import Unconvertible, VerifierLogTransformer

# One start rule per kind of line; the reader picks the rule from the line's first characters.
LINE_RULES = (
    "insn_line", "state_line", "bare_state_line", "branch_line", "source_line", "stats_line", "libbpf_line",
    "diag_location", "diag_marked", "diag_note",
)


@cache
def _parser() -> Lark:
    # LALR with the contextual lexer: linear time, no ambiguity; the transformer runs
    # inside the parser so no intermediate tree is kept.
    return Lark.open(
        str(grammar_dir() / "verifier_log.lark"),
        parser="lalr",
        lexer="contextual",
        start=list(LINE_RULES),
        transformer=VerifierLogTransformer(),
        cache=True,
    )


def parse_line(rule: str, text: str):
    """The model object for one line, or None when the rule does not fit the line or a
    token of it does not convert (the transformer runs inside the parser)."""
    try:
        return _parser().parse(text, start=rule)
    except (LarkError, Unconvertible):
        return None
