"""The grammar's stand-alone parser (parsing/lark_runtime.py) as this installation builds it."""

from __future__ import annotations

import io

from lark import Lark
from lark.tools.standalone import gen_standalone

from verifier_doctor.parsing import lark_runtime
from verifier_doctor.resources import grammar_dir


def _lark_output() -> str:
    out = io.StringIO()
    grammar = (grammar_dir() / lark_runtime.GRAMMAR).read_text()
    gen_standalone(Lark(grammar, **lark_runtime.OPTIONS), out=out)
    return out.getvalue()


def test_the_installed_lark_writes_every_line_the_parser_leaves_out():
    """If lark changes what its stand-alone module imports, this fails (the parser still
    works, as lark wrote it, only slower to start)."""
    source = _lark_output()
    for old, _ in lark_runtime.LIGHTER:
        assert source.count(old) == 1, old
    lighter = lark_runtime.lighter(source)
    assert "\nimport logging" not in lighter and "\nimport pickle" not in lighter
    compile(lighter, "<lighter>", "exec")


def test_a_module_lark_wrote_otherwise_is_kept_as_it_is():
    source = _lark_output().replace("import logging\n", "import logging as _logging\nlogging = _logging\n")
    assert lark_runtime.lighter(source) == source


def test_the_parser_in_use_is_the_lighter_one():
    module = lark_runtime.runtime()
    assert type(module.logging).__name__ == "_Quiet"
    text = module.TextSlice("abc", -2, None)
    assert (text.start, text.end) == (1, 3)
