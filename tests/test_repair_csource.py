"""The repair rules' C machinery, on small sources parsed by clang (no kernel): where a check
goes, which exit it takes, how a statement is put before a return."""

from __future__ import annotations

from verifier_doctor.repair.csource import apply, parse
from verifier_doctor.repair.exits import (GUARD, LAST, NULL_EXIT, OTHER, before_return, early_return,
                                          failure_exits)

SOURCE = b"""int g(int *p, int n)
{
    int x = n * 2;

    if (!p)
        return -1;
    if (n > 9) return 7;
    if (x) {
        return 3;
    }
    return n ? 5 : 6;
}
"""


def _tree(source: bytes = SOURCE):
    tree = parse(source, "t.c", ["-x", "c"])
    assert not tree.diagnostics
    return tree


def test_failure_exits_come_first_and_values_that_read_variables_never():
    tree = _tree()
    exits = failure_exits(tree, tree.function_named("g"))
    assert exits[0] == ("-1", GUARD)  # the NULL check's exit
    assert ("7", OTHER) in exits and ("3", OTHER) in exits and ("5", OTHER) in exits
    assert all(value != "n ? 5 : 6" for value, _ in exits)  # it reads n: no fixed value
    assert LAST not in {how for _, how in exits}


def test_early_return_is_indented_as_the_line_it_precedes():
    tree = _tree()
    edit = early_return(tree, 3, "!q", "0")
    out = apply(SOURCE, (edit,)).decode().splitlines()
    assert out[2:5] == ["    if (!q)", "        return 0;", "    int x = n * 2;"]


def _returns(tree):
    return [n for n in tree.function_named("g").walk() if n.kind == "RETURN_STMT"]


def test_before_return_adds_braces_to_a_branch_on_its_own_line():
    tree = _tree()
    first = _returns(tree)[0]
    out = apply(SOURCE, before_return(tree, first, "undo();")).decode().splitlines()
    assert out[4:8] == ["    if (!p) {", "        undo();", "        return -1;", "    }"]


def test_before_return_on_the_if_line_stays_on_it():
    tree = _tree()
    second = _returns(tree)[1]
    out = apply(SOURCE, before_return(tree, second, "undo();")).decode().splitlines()
    assert out[6] == "    if (n > 9) { undo(); return 7; }"


def test_before_return_in_a_block_is_a_line_before_it():
    tree = _tree()
    third = _returns(tree)[2]
    out = apply(SOURCE, before_return(tree, third, "undo();")).decode().splitlines()
    assert out[7:11] == ["    if (x) {", "        undo();", "        return 3;", "    }"]


def test_place_is_the_innermost_block_statement():
    tree = _tree()
    function, statement = tree.place(9)
    assert function.spelling == "g" and tree.text(statement) == "return 3"
    assert tree.place(1) is None  # the signature: no statement
    assert tree.place(100) is None


def test_before_return_in_a_one_line_block_stays_on_that_line():
    source = b"int h(int n)\n{\n    if (n) { return 8; }\n    return 0;\n}\n"
    tree = _tree(source)
    first = [n for n in tree.function_named("h").walk() if n.kind == "RETURN_STMT"][0]
    out = apply(source, before_return(tree, first, "undo();")).decode().splitlines()
    assert out[2] == "    if (n) { undo(); return 8; }"


def test_a_function_returning_a_pointer_fails_with_null_when_it_has_no_fixed_exit():
    source = b"#define NULL ((void *)0)\nint *pick(int *p)\n{\n    int *e = p + 1;\n\n    return e;\n}\n"
    tree = _tree(source)
    assert failure_exits(tree, tree.function_named("pick")) == [("NULL", NULL_EXIT)]
