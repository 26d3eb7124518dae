"""unbounded-math: adding a number with no proven bounds to a pointer"""

from __future__ import annotations

from ...model import KernelMessage
from ..lesson import Fix, Lesson
from ..provenance import Follow
from ..reasons import offset_read_from_memory
from .base import ErrorClass

_INT_MIN = -(1 << 31)


def describe(message: KernelMessage) -> str | None:
    """ "value -2147483648 makes map_value pointer be out of bounds" in words."""
    value, pointer = message.number("value"), message.field("makes") or message.field("between")
    if value is None:
        return None
    text = (f"The number added to the {pointer or 'pointer'} pointer can be as low as {value}, and a "
            "pointer moved that far could point anywhere.")
    if value == _INT_MIN:
        text += (f" {value} is the lowest 32-bit `int`: the index is a signed 32-bit value that was "
                 "sign-extended to 64 bits (`(int)`, or an `int` variable used as an array index), so "
                 "the verifier must allow for every negative int. Make the index unsigned (`__u32`), or "
                 "check `if (idx < 0 || idx >= N) return 0;` right before the access.")
    return text


CLASS = ErrorClass(
    name="unbounded-math",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "check_reg_sane_offset",
        "check_reg_sane_offset_ptr",
        "check_reg_sane_offset_scalar",
    ),
    follow=Follow.VALUE,
    describe=describe,
    reason=offset_read_from_memory,
    lesson=Lesson(
        "unbounded-math",
        "Adding a number with no proven bounds to a pointer",
        "The verifier proved that {reg} is a number and that the other operand is a pointer (a map "
        "value), but it could not prove any lower bound for the number: as far as it knows it can be "
        "as low as -2^63 (or -2^31 for a signed int), and the sum could point anywhere. It refuses "
        "the arithmetic itself, before any access.",
        (
            Fix("Bound the number before adding it to the pointer, using an unsigned type so one "
                "comparison bounds both ends: `__u32 off = ...; if (off >= SIZE) return 0;`.",
                "int off = skb->mark;\n"
                "if (off < 64)            /* no lower bound */\n"
                "        p = &val->b[off];",
                "__u32 off = skb->mark;\n"
                "if (off < 64)            /* 0 <= off < 64 */\n"
                "        p = &val->b[off];"),
            Fix("Do the bounds check after the last change to the number: a check on a value that is "
                "then shifted, added to, or sign-extended no longer holds.",
                "if (off >= 64) return 0;\n"
                "off = off * 8 + hdr;     /* unbounded again */\n"
                "p = (void *)val + off;",
                "off = off * 8 + hdr;\n"
                "if (off >= sizeof(*val) - 8) return 0;\n"
                "p = (void *)val + off;"),
        ),
    ),
)
