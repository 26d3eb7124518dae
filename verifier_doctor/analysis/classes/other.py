"""other: a rejection verifier-doctor does not classify yet"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="other",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(),
    internal=True,
    lesson=Lesson(
        "other",
        "A rejection verifier-doctor does not classify yet",
        "The verifier rejected the program for a reason that is none of the classes above; its "
        "message is the kernel's own words. Typical ones: an instruction no path reaches "
        "('unreachable insn'), an instruction the program type may not use (BPF_LD_ABS in XDP).",
        (
            Fix("Look the message up in kernel/bpf/verifier.c or Documentation/bpf/verifier.rst, and "
                "rerun with log level 2 (bpftool -d) for the full register state.",
                "asm volatile(\"goto +1\\n\\t\"\n"
                "             \"r0 = 1\");     /* unreachable */",
                "asm volatile(\"r0 = 1\");"),
        ),
    ),
)
