"""packet-bounds: `if ((void *)(p + 1) > data_end)` before the access, sized to the pointer's type.

The check goes before the statement that reads through `p`, and leaves by the function's
failure exit (the value its other bounds and NULL checks return). It compares against the
function's own `data_end` variable when it has one, else against the context's field.
"""

from __future__ import annotations

from . import Candidate, Context
from .csource import Node, Tree, operator, var_refs
from .exits import early_return, failure_exits

RULE = "packet-bounds"


def _dereferenced(tree: Tree, statement: Node) -> list[str]:
    """The pointer variables the statement reads or writes through (`p->f`, `*p`, `p[i]`)."""
    names: dict[str, None] = {}
    for ref in var_refs(statement):
        if ref.type.get_canonical().kind.name != "POINTER" or ref.referenced().kind.name == "PARM_DECL":
            continue
        for up in ref.ancestors():
            if up.kind == "MEMBER_REF_EXPR" or up.kind == "ARRAY_SUBSCRIPT_EXPR" or (
                    up.kind == "UNARY_OPERATOR" and operator(tree, up) == "*"):
                names[ref.spelling] = None
                break
            if up.kind not in ("UNEXPOSED_EXPR", "PAREN_EXPR"):
                break
    return list(names)


def data_end_of(tree: Tree, function: Node) -> str | None:
    """The name of the function's variable holding data_end, or `(void *)(long)ctx->data_end`."""
    for n in function.walk():
        if n.kind == "VAR_DECL" and any(m.kind == "MEMBER_REF_EXPR" and m.spelling == "data_end" for m in n.walk()):
            return n.spelling
    params = [c for c in function.children if c.kind == "PARM_DECL"]
    if not params:
        return None
    return f"(void *)(long){params[0].spelling}->data_end"


def candidates(ctx: Context) -> list[Candidate]:
    tree, site = ctx.tree, ctx.site
    found = tree.place(site.error_line)
    if found is None:
        return []
    function, statement = found
    end = data_end_of(tree, function)
    if end is None:
        return []
    out = []
    for name in _dereferenced(tree, statement):
        for value, how in failure_exits(tree, function):
            edit = early_return(tree, statement.line, f"(void *)({name} + 1) > {end}", value)
            out.append(Candidate(
                f"{RULE}: check {name} against data_end", (edit,),
                f"a packet too short to hold *{name} was read past its end; "
                f"now {function.spelling}() returns {value or 'early'} for it, {how}"))
    return out
