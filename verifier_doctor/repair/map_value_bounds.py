"""map-value-bounds: bound the index on the register that indexes, against the array's length.

For `a[i]` where `a` has N elements: `if ((__u64)i >= N)` (an unsigned compare, which also
bounds a signed index from below) before the access, leaving by the function's failure exit;
or, guarding only the access, `if ((__u64)i < N)` put in front of the statement, which changes
nothing on the inputs where the program was safe; or the check right after the index is set.
The smallest that loads is kept (engine.py).
"""

from __future__ import annotations

from . import Candidate, Context
from .csource import Edit, Node, Tree, last_set_before, operator
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
        # 0. the program's own check on the index, compared as unsigned (a signed index made
        # unsigned: `if (idx < 16)` also lets -8 through, `if ((__u64)idx < 16)` does not)
        guard = inner.parent
        if guard is not None and guard.kind == "IF_STMT" and inner is guard.children[1]:
            cond = guard.children[0]
            while cond.kind in ("PAREN_EXPR", "UNEXPOSED_EXPR") and cond.children:
                cond = cond.children[0]
            left = cond.children[0] if cond.kind == "BINARY_OPERATOR" else None
            while left is not None and left.kind == "UNEXPOSED_EXPR" and left.children:
                left = left.children[0]
            if left is not None and left.kind == "DECL_REF_EXPR" and left.spelling == name \
                    and operator(tree, cond) in ("<", "<=") and left.type.get_canonical().spelling.startswith(
                        ("int", "long", "short", "signed", "char")):
                out.append(Candidate(f"{rule}: compare {name} as unsigned in its check", (
                    Edit(left.start, left.start, "(__u64)"),),
                    f"{name} is signed: the check on it let negative values through to {array}[{name}]; "
                    f"compared as unsigned, a negative {name} now skips the access too"))
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
