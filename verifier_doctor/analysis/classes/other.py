"""other: a message no kernel of the catalogue prints."""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="other",
    # No functions and no messages: `other` holds the lines that are in no kernel's source
    # the catalogue was made from (the kernel's internal errors are `verifier-bug`).
    functions=(),
    kind="environment",
    lesson=Lesson(
        "other",
        "A message of a kernel verifier-doctor has not read",
        "The message is in none of the kernels whose sources verifier-doctor reads (5.10, 6.1, 6.12, "
        "7.2, 7.3), so it cannot say which rule the program broke; the kernel's own words above are "
        "all there is.",
        (
            Fix("Look the message up in that kernel's kernel/bpf/verifier.c, and rerun with log level 2 "
                "(bpftool -d) for the full register state.",
                "bpftool prog load prog.bpf.o /sys/fs/bpf/p",
                "bpftool -d prog load prog.bpf.o /sys/fs/bpf/p"),
            Fix("Load the program into a kernel of the matrix (`vdoctor try prog.bpf.c --kernel all`), "
                "whose messages verifier-doctor reads."),
        ),
    ),
)
