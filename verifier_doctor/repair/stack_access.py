"""stack-access: an index the verifier could not bound (the rule of map_value_bounds.py: an
unsigned compare against the array's length), or a helper asked to copy more bytes than the
stack buffer it is given holds: the length becomes the buffer's size (`sizeof(buf)`)."""

from __future__ import annotations

from . import Candidate, Context
from .csource import Edit, Node, Tree
from .map_value_bounds import bound_candidates

RULE = "stack-access"


def _buffer(node: Node) -> Node | None:
    """The local variable an argument points at (`&buf`, or an array `buf`)."""
    while node.kind in ("UNEXPOSED_EXPR", "PAREN_EXPR", "CSTYLE_CAST_EXPR") and node.children:
        node = node.children[-1]
    if node.kind == "UNARY_OPERATOR" and node.children:
        node = node.children[0]
    ref = node.referenced()
    return node if ref is not None and ref.kind.name == "VAR_DECL" else None


def _literal(tree: Tree, node: Node) -> int | None:
    while node.kind in ("UNEXPOSED_EXPR", "PAREN_EXPR") and node.children:
        node = node.children[0]
    if node.kind != "INTEGER_LITERAL":
        return None
    try:
        return int(tree.text(node).rstrip("uUlL"), 0)
    except ValueError:
        return None


def _helper_sizes(tree: Tree, statement: Node) -> list[Candidate]:
    out = []
    for call in (n for n in statement.walk() if n.kind == "CALL_EXPR"):
        args = call.children[1:]
        for i, arg in enumerate(args):
            buffer = _buffer(arg)
            if buffer is None:
                continue
            size = buffer.referenced().type.get_size()
            for length in args[i + 1:]:
                value = _literal(tree, length)
                if value is not None and size > 0 and value > size:
                    name = buffer.spelling
                    out.append(Candidate(
                        f"{RULE}: copy at most sizeof({name}) into {name}",
                        (Edit(length.start, length.end, f"sizeof({name})"),),
                        f"{call.spelling}() was asked for {value} bytes into {name}, which holds {size}: "
                        f"it now copies sizeof({name}) bytes (the other {value - size} never had room)",
                        replaces_value=True))
    return out


def candidates(ctx: Context) -> list[Candidate]:
    out = bound_candidates(ctx, RULE)
    if ctx.site.error_line is not None:
        statement = ctx.tree.statement_at(ctx.site.error_line)
        if statement is not None:
            out += _helper_sizes(ctx.tree, statement)
    return out
