"""return-value: return a value in the allowed range on the offending path.

The offending return is the one on the rejected line (the exit instruction's line). A fixed
value is replaced by 1, then 0 (for the hooks whose range is [0, 1], 1 lets the packet or
the operation through); an expression is narrowed to 0 or 1 (`!!(e)`). The kernel decides
which loads.
"""

from __future__ import annotations

from . import Candidate, Context
from .csource import Edit
from .exits import value_refs

RULE = "return-value"


def candidates(ctx: Context) -> list[Candidate]:
    tree, site = ctx.tree, ctx.site
    if site.error_line is None:
        return []
    returns = [n for n in tree.statements_starting(site.error_line) if n.kind == "RETURN_STMT" and n.children]
    if not returns:
        function = tree.function_at(site.error_line)
        returns = [n for n in function.walk() if n.kind == "RETURN_STMT" and n.children] if function else []
    out = []
    for ret in returns:
        value = ret.children[0]
        text = tree.text(value)
        if value_refs(value):
            choices = [(f"!!({text})", f"returns 1 where {text} was not 0, 0 where it was")]
        else:
            choices = [(v, f"returns {v} where it returned {text}") for v in ("1", "0")]
        for new, what in choices:
            out.append(Candidate(f"{RULE}: return {new} on line {ret.line}",
                                 (Edit(value.start, value.end, new),),
                                 f"{text} is outside the values this program type may return; the program now "
                                 f"{what}", replaces_value=True))
    return out
