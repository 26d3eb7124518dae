"""map-value-bounds: bound the index on the register that indexes, against the array's length.

For `a[i]` where `a` has N elements: `if ((__u64)i >= N)` (an unsigned compare, which also
bounds a signed index from below) before the access, leaving by the function's failure exit;
or, guarding only the access, `if ((__u64)i < N)` put in front of the statement, which changes
nothing on the inputs where the program was safe; or the check right after the index is set.
The smallest that loads is kept (engine.py).
"""

from __future__ import annotations

from . import Candidate, Context
from .csource import Edit, Node, Tree, last_set_before
from .exits import early_return, failure_exits

RULE = "map-value-bounds"


def indexings(tree: Tree, statement: Node) -> list[tuple[str, str, int]]:
    """(index variable, array text, length) of each `a[i]` in the statement whose array has a
    constant length and whose index is a plain variable."""
    out = []
    for n in statement.walk():
        if n.kind != "ARRAY_SUBSCRIPT_EXPR" or len(n.children) != 2:
            continue
        base, index = n.children
        while base.kind == "UNEXPOSED_EXPR" and base.children:
            base = base.children[0]
        while index.kind in ("UNEXPOSED_EXPR", "PAREN_EXPR") and index.children:
            index = index.children[0]
        length = base.type.get_array_size() if base.type.kind.name == "CONSTANTARRAY" else -1
        if length > 0 and index.kind == "DECL_REF_EXPR":
            out.append((index.spelling, tree.text(base), length))
    return out


def bound_candidates(ctx: Context, rule: str) -> list[Candidate]:
    tree, site = ctx.tree, ctx.site
    found = tree.place(site.error_line)
    if found is None:
        return []
    function, block = found
    inner = next((s for s in tree.statements_starting(site.error_line)[::-1]), block)
    out: list[Candidate] = []
    for name, array, length in indexings(tree, inner):
        out_of_range = f"(__u64){name} >= {length}"
        # 1. guard the access alone: nothing changes where the index was in range
        if inner.line == site.error_line and inner.kind not in ("DECL_STMT", "IF_STMT"):
            guard = Edit(inner.start, inner.start, f"if ((__u64){name} < {length}) ")
            out.append(Candidate(f"{rule}: guard the access to {array}[{name}]", (guard,),
                                 f"{name} was not proved below {length}, the length of {array}: when it is "
                                 f"not (or negative), the access is now skipped"))
        for value, how in failure_exits(tree, function):
            # 2. an early return before the statement
            edit = early_return(tree, block.line, out_of_range, value)
            out.append(Candidate(f"{rule}: bound {name} before the access", (edit,),
                                 f"{name} was not proved below {length}, the length of {array}: when it is "
                                 f"not (or negative), {function.spelling}() now returns {value or 'early'} there, {how}"))
            # 3. where the index is last set
            setter = last_set_before(tree, function, name, block.line)
            if setter is not None:
                edit = early_return(tree, setter.end_line, out_of_range, value, after=True)
                out.append(Candidate(f"{rule}: bound {name} where it is set", (edit,),
                                     f"{name} was not proved below {length}, the length of {array}: when it "
                                     f"is not (or negative), {function.spelling}() now returns "
                                     f"{value or 'early'} right after setting it, {how}"))
    return out


def candidates(ctx: Context) -> list[Candidate]:
    return bound_candidates(ctx, RULE)
