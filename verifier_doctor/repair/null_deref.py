"""null-deref: check the pointer right after the call that may return NULL.

The check leaves by the exit the function already uses on its other failure paths, with the
same return value (exits.failure_exits), never a made-up one. A pointer the function
received as a parameter (a global function's argument may be NULL) is checked first thing
in the function's body.
"""

from __future__ import annotations

from . import Candidate, Context
from .csource import Edit, Node, Tree, last_set_before, set_variables, var_refs
from .exits import early_return, failure_exits

RULE = "null-deref"


def _pointers(node: Node) -> list[Node]:
    """The variables of pointer type the statement uses, each once, in order."""
    seen: dict[str, Node] = {}
    for ref in var_refs(node):
        if ref.type.get_canonical().kind.name == "POINTER":
            seen.setdefault(ref.spelling, ref)
    return list(seen.values())


LOOPS = ("FOR_STMT", "WHILE_STMT", "DO_STMT")


def _check_after(tree: Tree, function: Node, name: str, statement: Node, why_input: str) -> list[Candidate]:
    out = []
    loop = next((a for a in statement.ancestors() if a.kind in LOOPS or a is function), None)
    if loop is not None and loop is not function:
        # inside a loop, the failure path skips this iteration (the loop's own exits go on)
        indent = tree.indent(statement.end_line)
        at = tree.after_line(statement.end_line)
        text = f"{indent}if (!{name})\n{indent}{tree.unit(indent)}continue;\n"
        out.append(Candidate(f"{RULE}: check {name} after it is set, in its loop", (Edit(at, at, text),),
                             f"{name} may be NULL ({why_input}); when it is, the loop on line {loop.line} "
                             "now goes on with its next iteration"))
    for value, how in failure_exits(tree, function):
        edit = early_return(tree, statement.end_line, f"!{name}", value, after=True)
        gives = f"returns {value}" if value else "returns"
        out.append(Candidate(f"{RULE}: check {name} after it is set", (edit,),
                             f"{name} may be NULL ({why_input}); when it is, {function.spelling}() now {gives}"
                             f" there, {how}"))
    return out


def _check_at_entry(tree: Tree, function: Node, name: str) -> list[Candidate]:
    body = tree.body(function)
    if body is None or not body.children:
        return []
    first = body.children[0]
    out = []
    for value, how in failure_exits(tree, function):
        edit = early_return(tree, first.line, f"!{name}", value)
        gives = f"returns {value}" if value else "returns"
        out.append(Candidate(f"{RULE}: check parameter {name} on entry", (edit,),
                             f"{name} may be NULL (any caller may pass NULL to a global function); "
                             f"when it is, {function.spelling}() now {gives} at once, {how}"))
    return out


def candidates(ctx: Context) -> list[Candidate]:
    tree, site = ctx.tree, ctx.site
    out: list[Candidate] = []
    # The value was made at the culprit (a lookup, a reserve, a socket lookup): check it there.
    found = tree.place(site.culprit_line)
    if found is not None:
        function, made = found
        what = f"{site.culprit_detail} returned NULL" if site.culprit_detail else "the call returned NULL"
        for var in set_variables(tree, made):
            if var.type.get_canonical().kind.name == "POINTER":
                out += _check_after(tree, function, var.spelling, made, what)
    found = tree.place(site.error_line)
    if found is None:
        return out
    function, used = found
    for ref in _pointers(used):
        decl = ref.referenced()
        if decl.kind.name == "PARM_DECL":
            out += _check_at_entry(tree, function, ref.spelling)
            continue
        setter = last_set_before(tree, function, ref.spelling, used.line)
        if setter is not None and all(c.edits[0].start != tree.after_line(setter.end_line) for c in out):
            out += _check_after(tree, function, ref.spelling, setter, "the call that set it can return NULL")
    return out
