"""`vdoctor fix`: rewrite calls to the C malloc family into the shipped allocator.

BPF has no `malloc`. The shipped header `static_malloc.h` provides
`static_malloc`, `static_calloc`, `static_realloc` and `static_free`; this
module renames the *calls* and adds the include, and changes nothing else.

It works on tokens, not on text: clang's own lexer (libclang), which knows
comments, string and character literals, so `"malloc("` in a string, `malloc` in a
comment, `my_malloc(...)`, `obj.free(...)`, `obj->free(...)` and a member
declared `bool free;` are all left alone. A declaration such as
`void *malloc(size_t n);` is left alone too (it is not a call).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

__all__ = ["FixResult", "rewrite_malloc", "ALLOCATOR_INCLUDE", "RENAMES"]

ALLOCATOR_INCLUDE = '#include "static_malloc.h"'
RENAMES = {
    "malloc": "static_malloc",
    "calloc": "static_calloc",
    "realloc": "static_realloc",
    "free": "static_free",
}

# A name right before `malloc(` that makes it a declaration, not a call:
# `void *malloc(...)` has a type before it; `return malloc(...)` does not.
_NOT_A_TYPE = frozenset({"return", "else", "do", "case", "sizeof", "typeof", "__typeof__", "goto"})


@dataclass(frozen=True, slots=True)
class FixResult:
    """The rewritten source; `changed` is False (and `text` the input) when
    there was no call to rewrite."""

    text: str
    changed: bool
    replacements: int


class Kind(Enum):
    IDENT = auto()  # identifiers and keywords
    NUMBER = auto()
    STRING = auto()
    CHAR = auto()
    COMMENT = auto()
    PUNCT = auto()


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    start: int  # byte offsets into the UTF-8 source
    end: int
    text: str


def _kind(clang_kind: str, text: str) -> Kind:
    if clang_kind in ("IDENTIFIER", "KEYWORD"):
        return Kind.IDENT
    if clang_kind == "COMMENT":
        return Kind.COMMENT
    if clang_kind == "LITERAL":
        if text.endswith('"') or text.startswith('"') or '"' in text[:3]:
            return Kind.STRING
        return Kind.CHAR if "'" in text[:3] else Kind.NUMBER
    return Kind.PUNCT


def tokenize(src: str) -> list[Token]:
    """C's tokens, comments included, from clang's own lexer (libclang): never fails; an
    unterminated comment or literal is one token to the end of its line or of the input."""
    from .repair.csource import lex

    return [Token(_kind(kind, text), start, end, text) for kind, start, end, text in lex(src.encode(), "prog.c")]


def _significant(tokens: list[Token]) -> list[int]:
    """Indices of the tokens that are not comments."""
    return [k for k, t in enumerate(tokens) if t.kind is not Kind.COMMENT]


def _is_call(sig: list[Token], k: int) -> bool:
    """sig[k] is a malloc-family name: is it called here (and not declared,
    nor a member reached with `.` or `->`)?"""
    if k + 1 >= len(sig) or sig[k + 1].text != "(":
        return False
    if k == 0:
        return True
    prev = sig[k - 1]
    if prev.text in (".", "->"):
        return False
    if prev.kind is Kind.IDENT and prev.text not in _NOT_A_TYPE:
        return False  # `void malloc(`, `size_t free(` : a declaration
    if prev.text == "*" and k >= 2:
        before = sig[k - 2]
        if before.kind is Kind.IDENT and before.text not in _NOT_A_TYPE:
            return False  # `void *malloc(`
        if before.text == "*":
            return False  # `void **malloc(`
    return True


def _has_allocator_include(sig: list[Token]) -> bool:
    for k, t in enumerate(sig):
        if t.text == "#" and k + 2 < len(sig) and sig[k + 1].text == "include":
            target = sig[k + 2]
            if target.kind is Kind.STRING and target.text == '"static_malloc.h"':
                return True
            if (
                target.text == "<"
                and k + 5 < len(sig)
                and "".join(x.text for x in sig[k + 3 : k + 6]) == "static_malloc.h"
            ):
                return True
    return False


def _include_position(tokens: list[Token]) -> int:
    """Where the include goes: after the comments and blank lines that open
    the file, at the start of a line, before any code."""
    pos = 0
    for t in tokens:
        if t.kind is not Kind.COMMENT:
            break
        pos = t.end
    return pos


def rewrite_malloc(source: str) -> FixResult:
    """Rename calls to malloc/calloc/realloc/free into the static_* allocator
    and add `#include "static_malloc.h"` when it is missing."""
    data = source.encode()
    tokens = tokenize(source)
    sig_idx = _significant(tokens)
    sig = [tokens[k] for k in sig_idx]

    edits: list[tuple[int, int, str]] = []
    for k, t in enumerate(sig):
        if t.kind is Kind.IDENT and t.text in RENAMES and _is_call(sig, k):
            edits.append((t.start, t.end, RENAMES[t.text]))

    if not edits:
        return FixResult(text=source, changed=False, replacements=0)

    from .repair.csource import Edit, apply

    text = apply(data, [Edit(start, end, new) for start, end, new in edits]).decode()

    if not _has_allocator_include(sig):
        # edits only rename identifiers after the leading comments, so the
        # position computed on the original holds for the new text
        pos = len(data[:_include_position(tokens)].decode())
        head, tail = text[:pos], text[pos:]
        if head and not head.endswith("\n"):
            # keep the rest of the comment's line (usually just the newline)
            newline = tail.find("\n")
            if newline >= 0 and not tail[:newline].strip():
                head, tail = head + tail[: newline + 1], tail[newline + 1 :]
            else:
                head += "\n"
        text = f"{head}{ALLOCATOR_INCLUDE}\n{tail}"

    return FixResult(text=text, changed=True, replacements=len(edits))
