"""The grammar's parser as Lark's stand-alone module, kept compiled in the user's cache.

Importing lark and loading a parser from lark's own cache costs ~40 ms of every `vdoctor
explain`, more than the rest of reading a small log. Lark's stand-alone generator
(lark.tools.standalone) writes the same LALR parser, with its tables, as one module that
needs nothing of the lark package. We generate it from grammars/verifier_log.lark on first
use, compile it, and keep the code in the cache (cache.kept), keyed by the grammar, the
options below and the installed lark; lark itself is imported only to generate it.

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
    return compile(out.getvalue(), f"<lark stand-alone parser of {GRAMMAR}>", "exec")


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
    stamp = f"{grammar}|{OPTIONS}|{_lark_stamp()}"
    code = kept("parser", stamp, lambda: _generated_code(grammar))
    module = types.ModuleType(_MODULE, "Lark's stand-alone parser of grammars/verifier_log.lark")
    sys.modules[_MODULE] = module  # dataclasses look their module up while it runs
    exec(code, module.__dict__)  # noqa: S102 - our own grammar's generated parser
    return module


_runtime = runtime()
Token = _runtime.Token
Transformer = _runtime.Transformer
v_args = _runtime.v_args
LarkError = _runtime.LarkError
