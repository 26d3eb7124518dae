"""The parser for verifier log lines: grammars/verifier_log.lark read by Lark (LALR, the
contextual lexer), built once per process and kept in the user's cache as Lark keeps it."""

from __future__ import annotations

from functools import cache

from lark import Lark, LarkError

from ..resources import grammar_dir
from .transformer import Unconvertible, VerifierLogTransformer

# One start rule per kind of line; the reader picks the rule from the line's first characters.
LINE_RULES = (
    "insn_line", "state_line", "bare_state_line", "branch_line", "source_line", "stats_line", "libbpf_line",
    "diag_location", "diag_marked", "diag_note",
)
GRAMMAR = "verifier_log.lark"


def cache_file() -> str | None:
    """Where Lark keeps the analysed grammar: one file, which Lark itself checks against the
    grammar, the options and its own version, and rewrites when they changed (so a stale
    parser never piles up beside it). None (no cache) when the cache cannot be made."""
    from ..cache import cache_root

    folder = cache_root()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return str(folder / "parser.lark")


@cache
def _parser() -> Lark:
    # LALR with the contextual lexer: linear time, no ambiguity. The transformer runs inside
    # the parser, so no intermediate tree is kept.
    return Lark((grammar_dir() / GRAMMAR).read_text(), parser="lalr", lexer="contextual",
                start=list(LINE_RULES), cache=cache_file() or False, transformer=VerifierLogTransformer())


def parse_line(rule: str, text: str):
    """The model object for one line, or None when the rule does not fit the line or a
    token of it does not convert (the transformer runs inside the parser)."""
    try:
        return _parser().parse(text, start=rule)
    except (LarkError, Unconvertible):
        return None
