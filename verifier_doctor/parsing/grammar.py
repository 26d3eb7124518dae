"""The parser for verifier log lines: grammars/verifier_log.lark as Lark's stand-alone LALR
parser (parsing.lark_runtime), built once per process."""

from __future__ import annotations

from functools import cache

from .lark_runtime import LarkError, runtime
from .transformer import Unconvertible, VerifierLogTransformer


@cache
def _parser():
    # The transformer runs inside the parser, so no intermediate tree is kept.
    return runtime().Lark_StandAlone(transformer=VerifierLogTransformer())


def parse_line(rule: str, text: str):
    """The model object for one line, or None when the rule does not fit the line or a
    token of it does not convert (the transformer runs inside the parser)."""
    try:
        return _parser().parse(text, start=rule)
    except (LarkError, Unconvertible):
        return None
