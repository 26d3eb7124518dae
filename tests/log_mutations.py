"""Mutations of a log, for the property test (tests/test_fuzz.py) and a longer fuzz run
(scripts/fuzz_explain.py): each mutation is a small tuple of ints, applied by `mutate`,
so Hypothesis can draw and shrink them and a random generator can make them too."""

from __future__ import annotations

import random
import re

# Replacements for a number: the shapes that broke conversions (leading zeros, thousands
# of digits, Unicode digits int() refuses, signs without digits, hex without digits).
NUMBERS = (
    "", "0", "00001", "-", "--1", "+", "-0", "0x", "0xg", "9" * 5000, "1" * 4301, "-" + "9" * 4400,
    "\u00b2", "\u2460", "\u0663", "\uff11", "1\u00b2", "0x" + "f" * 40, "18446744073709551616",
    "-9223372036854775809", "1e5", "1_000",
)
# Replacements for a register or a label.
REGISTERS = ("R11", "R99", "R", "r", "w12", "R1_", "R1_wwww", "fp", "fp-", "fp[0]-8", "fp-8_w", "frame", "frame99999:")
# Text spliced into a line: state shapes of newer kernels, markup, odd punctuation.
SNIPPETS = (
    "[/]", "[bold]", "[/bold red]", "[link=x]", "\\[", " fp-8=00001", " fp-8=????0", " fp-8=??????0",
    " fp[0]-8=mmmmmmmm", " (cb)", " (async_cb)", " id=2+3", " R1=scalar(id=2+3)", "pc+", "pc-", " goto pc+",
    "failed to load: --1", "(", ")", ";", "=", "==", ":", "@", " @ x.c:", " @ x.c:\u00b2", "\t", "\x00",
    "\x1b[31m", "\u202e", "\ufffd", "\U0001f600", "verification time 59 usec", "processed ", " insns (limit ",
    "from 1 to ", "libbpf: prog 'x': ", "-- BEGIN PROG LOAD LOG --", "-- END PROG LOAD LOG --",
    "Verification failed: ", "  >>> ", "  | ", "Validating f() func#1...", "Func#1 ('f') is global and assumed valid.",
    "call pc+", "caller:", "callee:", "frame1: ", "refs=", "var_off=(", "; ", "R1=map_value(map=",
)
BYTES = (b"\xff", b"\xfe\xff", b"\xc3", b"\xe2\x82", b"\x80\x80", b"\r", b"\r\n", b"\x00", b"\x0c", b"\x85")

OPS = ("truncate", "drop", "duplicate", "splice", "number", "register", "snippet", "bytes", "crlf",
       "long_line", "glue", "swap")

_NUMBER = re.compile(rb"\d+")
_REGISTER = re.compile(rb"\b[Rrw]\d+(_[rwD]+)?|fp-\d+(_[rwD]+)?|frame\d+:")


def _pick(seq, n):
    return seq[n % len(seq)] if seq else None


def mutate(data: bytes, ops: list[tuple[int, int, int]], donors: list[bytes]) -> bytes:
    """`data` changed by each (operation, where, what) in turn; `donors` are other logs
    lines may be spliced from."""
    for op_number, where, what in ops:
        op = OPS[op_number % len(OPS)]
        lines = data.split(b"\n")
        at = where % (len(lines) or 1)
        if op == "truncate":
            data = data[: where % (len(data) + 1)]
        elif op == "drop" and lines:
            del lines[at]
            data = b"\n".join(lines)
        elif op == "duplicate" and lines:
            lines[at:at] = lines[at: at + 1 + what % 4]
            data = b"\n".join(lines)
        elif op == "splice" and donors:
            donor = donors[what % len(donors)].split(b"\n")
            start = (what // 7) % (len(donor) or 1)
            lines[at:at] = donor[start: start + 1 + what % 9]
            data = b"\n".join(lines)
        elif op == "number":
            found = list(_NUMBER.finditer(data))
            match = _pick(found, where)
            if match:
                data = data[: match.start()] + _pick(NUMBERS, what).encode() + data[match.end():]
        elif op == "register":
            found = list(_REGISTER.finditer(data))
            match = _pick(found, where)
            if match:
                data = data[: match.start()] + _pick(REGISTERS, what).encode() + data[match.end():]
        elif op == "snippet":
            at_byte = where % (len(data) + 1)
            data = data[:at_byte] + _pick(SNIPPETS, what).encode() + data[at_byte:]
        elif op == "bytes":
            at_byte = where % (len(data) + 1)
            data = data[:at_byte] + _pick(BYTES, what) + data[at_byte:]
        elif op == "crlf":
            data = data.replace(b"\n", b"\r\n")
        elif op == "long_line":
            unit = (b"R1=scalar(", b"9", b"(", b"a", b"fp-8=", b" ")[what % 6]
            lines.insert(at, lines[at] + unit * (20000 + what % 50000) if lines else unit)
            data = b"\n".join(lines)
        elif op == "glue" and len(lines) > 1:
            lines[at: at + 2] = [b"".join(lines[at: at + 2])]
            data = b"\n".join(lines)
        elif op == "swap" and len(lines) > 1:
            other = what % len(lines)
            lines[at], lines[other] = lines[other], lines[at]
            data = b"\n".join(lines)
    return data


def random_ops(rng: random.Random) -> list[tuple[int, int, int]]:
    return [(rng.randrange(len(OPS)), rng.randrange(1 << 20), rng.randrange(1 << 20))
            for _ in range(rng.randint(1, 6))]
