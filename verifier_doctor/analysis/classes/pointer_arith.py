"""pointer-arith: arithmetic on a pointer that the verifier does not allow"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="pointer-arith",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "adjust_ptr_min_max_vals",
        "adjust_reg_min_max_vals",
        "check_alu_op",
    ),
    lesson=Lesson(
        "pointer-arith",
        "Arithmetic on a pointer that the verifier does not allow",
        "The verifier proved that {reg} is a pointer, and pointers admit only a few operations: "
        "adding or subtracting a bounded number, and comparing. Multiplying, shifting, masking "
        "('bitwise operator ... on pointer'), 32-bit arithmetic on a pointer, subtracting a pointer "
        "from a number, or doing any of it on a pointer that may be NULL, would give a value it cannot "
        "type, so it refuses the instruction.",
        (
            Fix("Do integer work on numbers (offsets, keys, field values), then add the offset to the "
                "pointer once.",
                "__u64 h = (__u64)v * 31;          /* pointer *= */",
                "__u64 h = key * 31;               /* hash the key */"),
            Fix("To align or mask, work on an offset from the base, not on the pointer.",
                "p = (void *)((long)p & ~7);",
                "off &= ~7;            /* off bounded */\n"
                "p = base + off;"),
        ),
    ),
)
