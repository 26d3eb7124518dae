"""other: an error of the verifier itself, or a message no kernel of the catalogue prints."""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="other",
    # No functions: `other` owns exactly the messages the catalogue marks internal
    # ("verifier bug: ...", "insn %d cannot be patched due to 16-bit range"), and lines that
    # are in no kernel's source the catalogue was made from.
    functions=(),
    internal=True,
    lesson=Lesson(
        "other",
        "An error of the verifier itself, or a message of a kernel verifier-doctor has not read",
        "The kernel printed a message that its own source marks as an internal error (a 'verifier "
        "bug', a rewrite that does not fit, 'insn cannot be patched'): the verifier's bookkeeping "
        "failed, not a rule your program broke; or the message is in none of the kernels whose "
        "sources verifier-doctor reads (5.10, 6.1, 6.12, 7.2, 7.3), so it cannot say which rule it is.",
        (
            Fix("For a verifier bug: try the same program on a newer kernel (`vdoctor try prog.bpf.c "
                "--kernel all`) and report it to bpf@vger.kernel.org with the log; change the code "
                "around the instruction it names (split a long function, move a branch) to get past it.",
                "/* one function with thousands of instructions */\n"
                "int prog(void *ctx) { ... }",
                "static __noinline int part1(void *ctx) { ... }\n"
                "int prog(void *ctx) { return part1(ctx) ?: part2(ctx); }"),
            Fix("For a message of another kernel: look it up in that kernel's kernel/bpf/verifier.c, "
                "and rerun with log level 2 (bpftool -d) for the full register state."),
        ),
    ),
)
