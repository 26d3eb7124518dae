"""The grammar's parser as Lark's stand-alone module, kept compiled in the user's cache.

Importing lark and loading a parser from lark's own cache costs ~40 ms of every `vdoctor
explain`, more than the rest of reading a small log. Lark's stand-alone generator
(lark.tools.standalone) writes the same LALR parser, with its tables, as one module that
needs nothing of the lark package. We generate it from grammars/verifier_log.lark on first
use, compile it, and keep the code in the cache (cache.kept), keyed by the grammar, the
options and lines below and the installed lark; lark itself is imported only to generate it.

The transformer subclasses this module's Transformer and checks its Token, and the parser
raises its LarkError: the same classes as lark's, from the module that parses.
"""

from __future__ import annotations

import os
import sys
import types
from functools import cache
from importlib.util import find_spec

from ..cache import files_stamp, kept
from ..resources import grammar_dir

# One start rule per kind of line; the reader picks the rule from the line's first characters.
LINE_RULES = (
    "insn_line", "state_line", "bare_state_line", "branch_line", "source_line", "stats_line", "libbpf_line",
    "diag_location", "diag_marked", "diag_note",
)
# LALR with the contextual lexer: linear time, no ambiguity.
OPTIONS = {"parser": "lalr", "lexer": "contextual", "start": list(LINE_RULES)}
GRAMMAR = "verifier_log.lark"
_MODULE = __name__ + "._standalone"


def _generated_code(grammar: str) -> types.CodeType:
    import io

    from lark import Lark
    from lark.tools.standalone import gen_standalone

    out = io.StringIO()
    gen_standalone(Lark(grammar, **OPTIONS), out=out)
    return compile(lighter(out.getvalue()), f"<lark stand-alone parser of {GRAMMAR}>", "exec")


# What the stand-alone module imports and this parser never uses (~5 ms of start-up): lark's
# logger is set to CRITICAL and logs nothing at that level, pickle serves only lark's own
# cache files.
# Each line must occur once in lark's output; if one does not, lark has changed and the
# module is kept as lark wrote it (tests/test_grammar_runtime.py checks that they apply).
_QUIET = """
class _Quiet:  # stands in for logging and lark's logger: they would log nothing here
    CRITICAL = 50
    def __getattr__(self, name):
        return lambda *args, **kwargs: self
logging = _Quiet()
"""
_LAZY_PICKLE = """
class _LazyPickle:  # imports pickle when lark's cache files would need it
    def __getattr__(self, name):
        import pickle
        return getattr(pickle, name)
pickle = _LazyPickle()
import zlib, base64
"""
LIGHTER = (
    ("import logging\n", _QUIET),
    ("import pickle, zlib, base64\n", _LAZY_PICKLE),
)


def lighter(source: str) -> str:
    """lark's stand-alone module without the imports in LIGHTER, or as it is if one of them
    is not found exactly once."""
    if any(source.count(old) != 1 for old, _ in LIGHTER):
        return source
    for old, new in LIGHTER:
        source = source.replace(old, new)
    return source


def _lark_stamp() -> str:
    """The installed lark, without importing it: its files' sizes and times."""
    spec = find_spec("lark")
    folders = (spec.submodule_search_locations or []) if spec else []
    names = ("__init__.py", "lark.py", "lexer.py", "parsers/lalr_parser.py", "tools/standalone.py")
    return files_stamp(os.path.join(folder, name) for folder in folders for name in names) or "no lark"


@cache
def runtime() -> types.ModuleType:
    """The stand-alone module: `Lark_StandAlone(transformer=...)`, Transformer, Token,
    v_args, LarkError."""
    grammar = (grammar_dir() / GRAMMAR).read_text()
    stamp = f"{grammar}|{OPTIONS}|{LIGHTER}|{_lark_stamp()}"
    code = kept("parser", stamp, lambda: _generated_code(grammar))
    module = types.ModuleType(_MODULE, "Lark's stand-alone parser of grammars/verifier_log.lark")
    sys.modules[_MODULE] = module  # registered before it runs, as an import registers a module
    exec(code, module.__dict__)  # noqa: S102 - our own grammar's generated parser
    return module


_runtime = runtime()
Token = _runtime.Token
Transformer = _runtime.Transformer
v_args = _runtime.v_args
LarkError = _runtime.LarkError
