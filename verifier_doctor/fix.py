"""`vdoctor fix`: rewrite calls to the C malloc family into the shipped allocator.

BPF has no `malloc`. The shipped header `static_malloc.h` provides
`static_malloc`, `static_calloc`, `static_realloc` and `static_free`; this
module renames the *calls* and adds the include, and changes nothing else.

It works on tokens, not on text: a small C tokenizer that knows comments,
string and character literals, so `"malloc("` in a string, `malloc` in a
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
    IDENT = auto()
    NUMBER = auto()
    STRING = auto()
    CHAR = auto()
    COMMENT = auto()
    SPACE = auto()
    PUNCT = auto()


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    start: int
    end: int
    text: str


def _is_ident_start(c: str) -> bool:
    return c.isalpha() or c == "_"


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def tokenize(src: str) -> list[Token]:
    """Split C source into tokens. Never fails: an unterminated comment or
    literal runs to the end of the input (or line, for literals)."""
    tokens: list[Token] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        start = i
        if c.isspace():
            while i < n and src[i].isspace():
                i += 1
            kind = Kind.SPACE
        elif src.startswith("//", i):
            while i < n and src[i] != "\n":
                # a backslash-newline continues a // comment in C
                i += 2 if src.startswith("\\\n", i) else 1
            kind = Kind.COMMENT
        elif src.startswith("/*", i):
            end = src.find("*/", i + 2)
            i = n if end < 0 else end + 2
            kind = Kind.COMMENT
        elif c in "\"'":
            i += 1
            while i < n and src[i] != c and src[i] != "\n":
                i += 2 if src[i] == "\\" else 1
            i = min(i + 1, n) if i < n and src[i] == c else i
            kind = Kind.STRING if c == '"' else Kind.CHAR
        elif _is_ident_start(c):
            while i < n and _is_ident_char(src[i]):
                i += 1
            kind = Kind.IDENT
            # an encoding prefix glued to a literal (L"x", u8"x") belongs to it
            if i < n and src[i] in "\"'" and src[start:i] in ("L", "u", "U", "u8"):
                tokens.append(Token(Kind.IDENT, start, i, src[start:i]))
                continue
        elif c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            while i < n and (_is_ident_char(src[i]) or src[i] == "."):
                i += 1
            kind = Kind.NUMBER
        elif src.startswith("->", i):
            i += 2
            kind = Kind.PUNCT
        else:
            i += 1
            kind = Kind.PUNCT
        tokens.append(Token(kind, start, i, src[start:i]))
    return tokens


def _significant(tokens: list[Token]) -> list[int]:
    """Indices of the tokens that are neither space nor comment."""
    return [k for k, t in enumerate(tokens) if t.kind not in (Kind.SPACE, Kind.COMMENT)]


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
        if t.kind is Kind.COMMENT:
            pos = t.end
        elif t.kind is Kind.SPACE:
            continue
        else:
            break
    return pos


def rewrite_malloc(source: str) -> FixResult:
    """Rename calls to malloc/calloc/realloc/free into the static_* allocator
    and add `#include "static_malloc.h"` when it is missing."""
    tokens = tokenize(source)
    sig_idx = _significant(tokens)
    sig = [tokens[k] for k in sig_idx]

    edits: list[tuple[int, int, str]] = []
    for k, t in enumerate(sig):
        if t.kind is Kind.IDENT and t.text in RENAMES and _is_call(sig, k):
            edits.append((t.start, t.end, RENAMES[t.text]))

    if not edits:
        return FixResult(text=source, changed=False, replacements=0)

    out: list[str] = []
    last = 0
    for start, end, new in edits:
        out.append(source[last:start])
        out.append(new)
        last = end
    out.append(source[last:])
    text = "".join(out)

    if not _has_allocator_include(sig):
        # edits only rename identifiers after the leading comments, so the
        # position computed on the original holds for the new text
        pos = _include_position(tokens)
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
