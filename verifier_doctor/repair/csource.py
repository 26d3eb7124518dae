"""C as C: a program's syntax tree from clang's own parser (libclang), and edits by byte range.

Every repair finds its statements, declarations and return paths here, and changes the
source only by inserting or replacing text at ranges clang reports, so the rest of the file
stays byte for byte. Nothing in the repair package reads C with patterns of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from ..errors import VdoctorError

__all__ = ["Edit", "Node", "Tree", "apply", "parse"]


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace source bytes [start, end) with `text` (start == end: an insertion)."""

    start: int
    end: int
    text: str


def apply(source: bytes, edits: Sequence[Edit]) -> bytes:
    """`source` with `edits` made (ranges of the original; they must not overlap)."""
    out, last = [], 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < last:
            raise ValueError("overlapping edits")
        out += [source[last:edit.start], edit.text.encode()]
        last = edit.end
    out.append(source[last:])
    return b"".join(out)


def _index():
    """clang's bindings and a fresh index (one per parse: an index kept for the life of the
    process would be disposed of after the bindings, at exit, and say so on stderr)."""
    try:
        from clang import cindex
    except ImportError:
        raise VdoctorError("vdoctor fix needs clang's Python bindings (the libclang package).") from None
    return cindex, cindex.Index.create()


@dataclass(eq=False, slots=True)
class Node:
    """One cursor of the main file, with its parent: libclang's cursors do not know it."""

    cursor: object
    parent: Node | None
    children: list[Node]

    @property
    def kind(self) -> str:
        return self.cursor.kind.name

    @property
    def start(self) -> int:
        return self.cursor.extent.start.offset

    @property
    def end(self) -> int:
        return self.cursor.extent.end.offset

    @property
    def line(self) -> int:
        return self.cursor.extent.start.line

    @property
    def end_line(self) -> int:
        return self.cursor.extent.end.line

    @property
    def spelling(self) -> str:
        return self.cursor.spelling

    @property
    def type(self):
        return self.cursor.type

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def ancestors(self) -> Iterator[Node]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def referenced(self):
        """The declaration a DECL_REF_EXPR names (a cursor), or None."""
        return self.cursor.referenced if self.kind == "DECL_REF_EXPR" else None

    def is_statement(self) -> bool:
        return self.parent is not None and self.parent.kind == "COMPOUND_STMT"


class Tree:
    """The parsed main file: its functions, and questions about lines and statements."""

    def __init__(self, source: bytes, name: str, tu) -> None:
        self.source = source
        self.name = name
        self.lines = source.split(b"\n")
        self.diagnostics = [d for d in tu.diagnostics if d.severity >= 3]
        self.functions: list[Node] = []
        for cursor in tu.cursor.get_children():
            if cursor.location.file is None or cursor.location.file.name != name:
                continue
            if cursor.kind.name == "FUNCTION_DECL" and cursor.is_definition():
                self.functions.append(_build(cursor, None))
        self.identifiers = {t.spelling for t in tu.cursor.get_tokens() if t.kind.name == "IDENTIFIER"}
        self.includes = {PurePath(i.include.name).name for i in tu.get_includes()}

    def text(self, node: Node) -> str:
        return self.source[node.start:node.end].decode(errors="replace")

    def function_at(self, line: int) -> Node | None:
        return next((f for f in self.functions if f.line <= line <= f.end_line), None)

    def place(self, line: int | None) -> tuple[Node, Node] | None:
        """The function and the innermost block statement at `line`, or None."""
        function = None if line is None else self.function_at(line)
        statement = None if function is None else self.statement_at(line)
        return None if statement is None else (function, statement)

    def function_named(self, name: str) -> Node | None:
        return next((f for f in self.functions if f.spelling == name), None)

    def body(self, function: Node) -> Node | None:
        return next((c for c in function.children if c.kind == "COMPOUND_STMT"), None)

    def statement_at(self, line: int) -> Node | None:
        """The innermost statement of a block whose text covers `line`."""
        function = self.function_at(line)
        if function is None:
            return None
        found = [n for n in function.walk() if n.is_statement() and n.line <= line <= n.end_line]
        return min(found, key=lambda n: n.end - n.start, default=None)

    def statements_starting(self, line: int) -> list[Node]:
        """Every statement (of a block or an if's branch) that begins on `line`, outermost first."""
        function = self.function_at(line)
        if function is None:
            return []
        found = [n for n in function.walk() if n.line == line and _is_stmt(n)]
        return sorted(found, key=lambda n: n.start - n.end)

    def line_start(self, line: int) -> int:
        return sum(len(text) + 1 for text in self.lines[: line - 1])

    def after_line(self, line: int) -> int:
        """The offset just past the newline that ends `line`."""
        return min(self.line_start(line + 1), len(self.source))

    def indent(self, line: int) -> str:
        text = self.lines[line - 1].decode(errors="replace")
        return text[: len(text) - len(text.lstrip())]

    def unit(self, indent: str) -> str:
        """One more level of indentation, in the file's own style."""
        return "\t" if not indent or indent.startswith("\t") else " " * max(2, min(8, len(indent)))

    def fresh_name(self, base: str) -> str:
        name, n = base, 2
        while name in self.identifiers:
            name, n = f"{base}{n}", n + 1
        return name


def _is_stmt(node: Node) -> bool:
    """A statement of a block, or an if's or loop's branch written without braces."""
    parent = node.parent
    if parent is None:
        return False
    if parent.kind == "COMPOUND_STMT":
        return True
    if parent.kind == "IF_STMT":
        return node is not parent.children[0]
    return parent.kind in ("FOR_STMT", "WHILE_STMT", "DO_STMT") and node is parent.children[-1]


def _build(cursor, parent: Node | None) -> Node:
    node = Node(cursor, parent, [])
    node.children = [_build(child, node) for child in cursor.get_children()]
    return node


def lex(source: bytes, name: str) -> list[tuple[str, int, int, str]]:
    """The tokens of `source`, comments included, as clang's lexer sees them (no
    preprocessing, no parsing): (kind, start byte, end byte, spelling)."""
    cindex, index = _index()
    tu = index.parse(name, args=["-x", "c"], unsaved_files=[(name, source)],
                     options=cindex.TranslationUnit.PARSE_INCOMPLETE)
    extent = tu.get_extent(name, (0, len(source)))
    return [(t.kind.name, t.extent.start.offset, t.extent.end.offset, t.spelling)
            for t in tu.get_tokens(extent=extent)]


def parse(source: bytes, name: str, args: Sequence[str]) -> Tree:
    """The tree of `source`, parsed as file `name` with the compiler's flags `args`."""
    cindex, index = _index()
    tu = index.parse(name, args=list(args), unsaved_files=[(name, source)],
                     options=cindex.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD)
    return Tree(source, name, tu)


@functools.cache
def _builtin_headers(compiler: str) -> tuple[str, ...]:
    """The compiler's own headers (stddef.h, stdbool.h): the libclang wheel ships none."""
    import subprocess

    try:
        found = subprocess.run([compiler, "-print-resource-dir"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    folder = found.stdout.strip()
    return ("-isystem", f"{folder}/include") if found.returncode == 0 and folder else ()


def parse_args(command: Sequence[str]) -> list[str]:
    """The flags of a compile command that matter to parsing (the target, -D, -I, -isystem),
    and the compiler's own header folder."""
    if not command:
        return []
    args: list[str] = list(_builtin_headers(command[0]))
    skip = False
    for i, flag in enumerate(command[1:], start=1):
        if skip:
            skip = False
            continue
        if flag in ("-c", "-o"):
            skip = flag == "-o"
            continue
        if flag in ("-target", "-I", "-isystem", "-D", "-include"):
            args += [flag, command[i + 1]]
            skip = True
        elif flag.startswith(("-D", "-I", "-U", "-std")):
            args.append(flag)
    return args


def operator(tree: Tree, node: Node) -> str:
    """The operator of a binary, compound-assignment or unary expression: the token between
    its operands' ranges (libclang's Python bindings do not expose the operator kind)."""
    kids = node.children
    if node.kind in ("BINARY_OPERATOR", "COMPOUND_ASSIGNMENT_OPERATOR") and len(kids) == 2:
        return tree.source[kids[0].end:kids[1].start].decode(errors="replace").strip()
    if node.kind == "UNARY_OPERATOR" and len(kids) == 1:
        before = tree.source[node.start:kids[0].start].decode(errors="replace").strip()
        return before or tree.source[kids[0].end:node.end].decode(errors="replace").strip()
    return ""


def var_refs(node: Node) -> list[Node]:
    """The DECL_REF_EXPRs under `node` that name a variable or a parameter."""
    return [n for n in node.walk() if n.referenced() is not None
            and n.referenced().kind.name in ("VAR_DECL", "PARM_DECL")]


def sets(tree: Tree, statement: Node, name: str) -> bool:
    """Whether `statement` declares or assigns the variable `name`."""
    for n in statement.walk():
        if n.kind == "VAR_DECL" and n.spelling == name:
            return True
        if n.kind in ("BINARY_OPERATOR", "COMPOUND_ASSIGNMENT_OPERATOR") and operator(tree, n).endswith("=") \
                and operator(tree, n) not in ("==", "!=", "<=", ">="):
            target = n.children[0]
            while target.kind == "UNEXPOSED_EXPR" and target.children:
                target = target.children[0]
            if target.kind == "DECL_REF_EXPR" and target.spelling == name:
                return True
    return False


def last_set_before(tree: Tree, function: Node, name: str, line: int) -> Node | None:
    """The last statement of a block, before `line`, that declares or assigns `name`."""
    found = [n for n in function.walk() if n.is_statement() and n.end_line < line and sets(tree, n, name)
             and n.kind in ("DECL_STMT", "BINARY_OPERATOR", "COMPOUND_ASSIGNMENT_OPERATOR")]
    return max(found, key=lambda n: n.start, default=None)


def assignments(tree: Tree, statement: Node) -> list[tuple[Node, Node | None]]:
    """(the variable, the value given to it) of each declaration or `x = value` in `statement`:
    the VAR_DECL or the assigned DECL_REF_EXPR, and the value's node (None: no initializer)."""
    out = []
    for n in statement.walk():
        if n.kind == "VAR_DECL":
            value = next((c for c in n.children if c.kind not in ("TYPE_REF", "UNEXPOSED_ATTR")), None)
            out.append((n, value))
        elif n.kind == "BINARY_OPERATOR" and operator(tree, n) == "=":
            target = n.children[0]
            while target.kind == "UNEXPOSED_EXPR" and target.children:
                target = target.children[0]
            if target.kind == "DECL_REF_EXPR":
                out.append((target, n.children[1]))
    return out


def set_variables(tree: Tree, statement: Node) -> list[Node]:
    """The variables `statement` declares or assigns (see `assignments`)."""
    return [variable for variable, _ in assignments(tree, statement)]
