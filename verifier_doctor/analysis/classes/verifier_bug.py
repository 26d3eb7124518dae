"""verifier-bug: the kernel's own internal errors ("verifier bug: ...", "verifier internal error")."""

from __future__ import annotations

from ...model import KernelMessage, ProgramTrace
from ..findings import ErrorInfo, FixSite
from ..lesson import Fix, Lesson
from .base import ErrorClass

# bpf_patch_insn_data (5.10 to 7.3): after verification the kernel rewrites an instruction
# into several (an inlined helper call, a context access), and a jump over it no longer fits
# BPF's 16-bit offset. The kernel marks it internal; the program's shape is what trips it.
_PATCH_RANGE = "insn %d cannot be patched due to 16-bit range"


def describe(message: KernelMessage) -> str | None:
    if message.format != _PATCH_RANGE:
        return None
    return (f"Here the kernel rewrote instruction {message.number('insn')} after verification into several "
            "(an inlined helper call or a context access), and a jump over it no longer fits BPF's 16-bit "
            "offset (at most 32,767 instructions): no other kernel lifts that limit.")


def fix_site(trace: ProgramTrace, error: ErrorInfo, culprit, provenance) -> FixSite | None:
    if error.kernel is None or error.kernel.format != _PATCH_RANGE:
        return None
    return FixSite(error.insn, error.source,
                   f"shorten the jump over instruction {error.kernel.number('insn')}: move the code it skips "
                   "into a function (a bpf-to-bpf call) or a loop, so it stays under 32,767 instructions")


def kind_of(error: ErrorInfo) -> str | None:
    return "verifier-limit" if error.kernel is not None and error.kernel.format == _PATCH_RANGE else None


CLASS = ErrorClass(
    name="verifier-bug",
    # No functions: the class owns exactly the messages the catalogue marks internal (the
    # kernel's `verifier_bug()` and "verifier internal error" lines, "insn %d cannot be
    # patched due to 16-bit range", "REG INVARIANTS VIOLATION"), unless a class names one.
    functions=(),
    internal=True,
    kind="environment",
    describe=describe,
    fix_site=fix_site,
    kind_of=kind_of,
    lesson=Lesson(
        "verifier-bug",
        "The verifier's own bookkeeping failed: an error of the kernel, not a rule the program broke",
        "The kernel printed a message that its own source marks as an internal error: the verifier "
        "reached a state its authors hold impossible (a register it cannot type, a rewrite that does "
        "not fit, a jump history it cannot follow) and stopped to stay safe. The program may be "
        "valid, and the message names no rule it broke.",
        (
            Fix("Load the same program into another kernel (`vdoctor try prog.bpf.c --kernel all`): a "
                "verifier bug is usually fixed in a later release, or absent from an earlier one."),
            Fix("Build with another compiler (clang 14 and 19 lower the same source differently), or "
                "change the code around the instruction the message names (split a long function, "
                "move a branch, make a helper static) to take the verifier down another path.",
                "/* one function with thousands of instructions */\n"
                "int prog(void *ctx) { ... }",
                "static __noinline int part1(void *ctx) { ... }\n"
                "int prog(void *ctx) { return part1(ctx) ?: part2(ctx); }"),
            Fix("Report it to the kernel's BPF list (bpf@vger.kernel.org) with the log, the kernel "
                "version (`uname -r`) and the object file: it is a bug of the kernel."),
        ),
    ),
)
