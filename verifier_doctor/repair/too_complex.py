"""too-complex: a counted loop becomes `bpf_for`, an open-coded iterator the verifier checks
once instead of once per iteration (kernels 6.4+; libbpf's bpf_helpers.h defines it).

`for (i = A; i < B; i++) body` and `bpf_for(i, A, B) body` run the body for the same values
of i, when the body does not assign i and B fits an int. Each counted loop of the rejected
program is a candidate alone (innermost first), and all of them together; the kernel decides
which loads. The loop header is rewritten, not removed: the same bounds, in the iterator's
words.
"""

from __future__ import annotations

from . import Candidate, Context
from .csource import Edit, Node, Tree, assignments, operator

RULE = "too-complex"
INT_MAX = 2**31 - 1


def _strip(node: Node) -> Node:
    while node.kind in ("UNEXPOSED_EXPR", "PAREN_EXPR") and node.children:
        node = node.children[0]
    return node


def _counted(tree: Tree, loop: Node) -> tuple[str, str, str] | None:
    """(i, A, B) of `for (i = A; i < B; i++)` (or `++i`, `i += 1`, `T i = A`), else None."""
    if len(loop.children) != 4:
        return None
    init, cond, step, body = loop.children
    set_here = assignments(tree, init)
    if len(set_here) != 1 or set_here[0][1] is None:
        return None
    variable, start = set_here[0]
    name = variable.spelling
    cond = _strip(cond)
    if cond.kind != "BINARY_OPERATOR" or operator(tree, cond) != "<" or \
            _strip(cond.children[0]).spelling != name or _strip(cond.children[0]).kind != "DECL_REF_EXPR":
        return None
    step = _strip(step)
    op = operator(tree, step)
    if not (step.kind == "UNARY_OPERATOR" and op == "++" or
            step.kind == "COMPOUND_ASSIGNMENT_OPERATOR" and op == "+=" and tree.text(step.children[1]).strip() == "1"):
        return None
    if _strip(step.children[0]).spelling != name:
        return None
    if any(v.spelling == name for stmt in body.walk() for v, _ in assignments(tree, stmt)) or \
            any(n.kind == "UNARY_OPERATOR" and operator(tree, n) in ("++", "--") and
                _strip(n.children[0]).spelling == name for n in body.walk()):
        return None
    end = tree.text(cond.children[1])
    try:
        if int(end.rstrip("uUlL"), 0) > INT_MAX:
            return None
    except ValueError:
        pass
    return name, tree.text(start), end


def _rewrite(tree: Tree, loop: Node, counted: tuple[str, str, str]) -> Edit:
    name, start, end = counted
    body = loop.children[3]
    head_end = tree.source.rindex(b")", loop.start, body.start) + 1
    return Edit(loop.start, head_end, f"bpf_for({name}, {start}, {end})")


def candidates(ctx: Context) -> list[Candidate]:
    tree, site = ctx.tree, ctx.site
    function = tree.function_named(site.program) if site.program else None
    if function is None:
        return []
    loops = [(n, c) for n in function.walk() if n.kind == "FOR_STMT" for c in [_counted(tree, n)] if c]
    loops.sort(key=lambda lc: -lc[0].line)  # innermost (last) first
    out = []
    for loop, counted in loops:
        name, start, end = counted
        out.append(Candidate(f"{RULE}: bpf_for for the loop on line {loop.line}", (_rewrite(tree, loop, counted),),
                             f"the loop on line {loop.line} was verified once per iteration ({end} times); "
                             f"bpf_for({name}, {start}, {end}) runs the same iterations and is verified once "
                             "(kernel 6.4+)", rewrites_loop=True))
    if len(loops) > 1:
        out.append(Candidate(f"{RULE}: bpf_for for every counted loop",
                             tuple(_rewrite(tree, loop, counted) for loop, counted in loops),
                             "each counted loop was verified once per iteration; bpf_for runs the same "
                             "iterations and is verified once (kernel 6.4+)", rewrites_loop=True))
    return out
