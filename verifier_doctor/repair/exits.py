"""What the new checks share: the exits a function already uses, and an early return in the
file's own style."""

from __future__ import annotations

from .csource import Edit, Node, Tree, operator

__all__ = ["failure_exits", "early_return", "guard_of", "value_refs"]


def value_refs(node: Node) -> bool:
    """Whether the expression reads a variable or a parameter (then it is no fixed exit value)."""
    for n in node.walk():
        ref = n.referenced()
        if ref is not None and ref.kind.name in ("VAR_DECL", "PARM_DECL"):
            return True
        if n.kind == "CALL_EXPR":
            return True
    return False


def guard_of(ret: Node) -> Node | None:
    """The if whose only branch is this return (`if (...) return X;` or `{ return X; }`), or None."""
    parent = ret.parent
    if parent is not None and parent.kind == "COMPOUND_STMT" and len(parent.children) == 1:
        parent = parent.parent
    if parent is not None and parent.kind == "IF_STMT" and len(parent.children) == 2:
        return parent
    return None


def _strip(node: Node) -> Node:
    while node.kind in ("PAREN_EXPR", "UNEXPOSED_EXPR", "CSTYLE_CAST_EXPR") and node.children:
        node = node.children[-1]
    return node


def _is_pointer(node: Node) -> bool:
    return node.type.get_canonical().kind.name == "POINTER"


def is_failure_test(tree: Tree, condition: Node) -> bool:
    """A condition that tests for a failure: a pointer for NULL (`!p`, `p == NULL`), a pointer
    against a bound (`(void *)(p + 1) > data_end`), or a call's result below zero."""
    condition = _strip(condition)
    op = operator(tree, condition)
    kids = condition.children
    if condition.kind == "UNARY_OPERATOR" and op == "!":
        return _is_pointer(kids[0]) or _is_pointer(_strip(kids[0]))
    if condition.kind == "BINARY_OPERATOR" and len(kids) == 2:
        left, right = _strip(kids[0]), _strip(kids[1])
        if op in (">", ">=", "<", "<=", "==", "!=") and (_is_pointer(kids[0]) or _is_pointer(left)):
            return True
        if op in ("<", "!=") and left.kind == "CALL_EXPR" and right.kind == "INTEGER_LITERAL":
            return True
        if op == "||":
            return is_failure_test(tree, kids[0]) or is_failure_test(tree, kids[1])
    return False


GUARD, LAST, OTHER = "as on its other failure paths", "as its last return does", "a value it already returns"
NULL_EXIT = "as a function returning a pointer says it failed"


def failure_exits(tree: Tree, function: Node) -> list[tuple[str, str]]:
    """The values a new early return may give, best first, each with where it comes from:
    those of the function's failure returns (`if (!p) return X;`: the exits of its other
    failure paths), then the value of its last return, then its other fixed return values
    (a conditional's two branches). A void function gives [("", ...)]; a function returning a
    pointer, when it has no fixed value, NULL. Never a made-up value."""
    if function.cursor.result_type.spelling == "void":
        return [("", GUARD)]
    returns = [n for n in function.walk() if n.kind == "RETURN_STMT" and n.children]
    found: list[tuple[str, str]] = []
    other: list[tuple[str, str]] = []
    for ret in returns:
        value = _strip_parens(ret.children[0])
        if value.kind == "CONDITIONAL_OPERATOR":
            other += [(tree.text(v), OTHER) for v in value.children[1:] if not value_refs(v)]
        elif not value_refs(value):
            guard = guard_of(ret)
            if guard is not None and is_failure_test(tree, guard.children[0]):
                found.append((tree.text(value), GUARD))
            else:
                other.append((tree.text(value), OTHER))
    if returns and not value_refs(returns[-1].children[0]):
        found.append((tree.text(returns[-1].children[0]), LAST))
    values: dict[str, str] = {}
    for value, how in found + other:
        values.setdefault(value, how)
    if not values and function.cursor.result_type.get_canonical().kind.name == "POINTER":
        values["NULL"] = NULL_EXIT
    return list(values.items())


def _strip_parens(node: Node) -> Node:
    while node.kind in ("PAREN_EXPR", "UNEXPOSED_EXPR") and len(node.children) == 1:
        node = node.children[0]
    return node


def early_return(tree: Tree, line: int, condition: str, value: str, after: bool = False) -> Edit:
    """`if (condition) return value;` on its own lines, before `line` (or after it), indented
    as that line."""
    indent = tree.indent(line)
    ret = f"return {value};" if value else "return;"
    text = f"{indent}if ({condition})\n{indent}{tree.unit(indent)}{ret}\n"
    at = tree.after_line(line) if after else tree.line_start(line)
    return Edit(at, at, text)


def before_return(tree: Tree, ret: Node, code: str) -> tuple[Edit, ...]:
    """Edits that run `code` (one statement) just before the return statement `ret`: a line
    before it in a block, or braces added around an if's branch (`if (c) {` ... `}`)."""
    indent = tree.indent(ret.line)
    if ret.parent is not None and ret.parent.kind == "COMPOUND_STMT":
        at = tree.line_start(ret.line)
        if tree.source[at:ret.start].strip():
            return (Edit(ret.start, ret.start, f"{code} "),)
        return (Edit(at, at, f"{indent}{code}\n"),)
    semicolon = tree.source.index(b";", ret.end) + 1
    branch_of = ret.parent
    if branch_of is not None and branch_of.kind == "IF_STMT" and ret is branch_of.children[1] \
            and branch_of.children[0].end_line < ret.line:
        opened = tree.source.index(b")", branch_of.children[0].end) + 1
        outer = tree.indent(branch_of.line)
        return (Edit(opened, opened, " {"),
                Edit(tree.line_start(ret.line), tree.line_start(ret.line), f"{indent}{code}\n"),
                Edit(tree.after_line(ret.end_line), tree.after_line(ret.end_line), f"{outer}}}\n"))
    return (Edit(ret.start, ret.start, f"{{ {code} "), Edit(semicolon, semicolon, " }"))
