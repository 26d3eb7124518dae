"""irq-flag-misuse: interrupts disabled with bpf_local_irq_save and not restored in order"""

from __future__ import annotations

from ...model import ProgramTrace
from ..finders import at_instruction, region_opener
from ..findings import Culprit, ErrorInfo
from ..lesson import Fix, Lesson
from ..provenance import Follow, Origin
from .base import ErrorClass


def culprit(trace: ProgramTrace, error: ErrorInfo) -> Culprit | None:
    """The save the verifier expected to be restored first ("acquired at insn_idx=12"), else the
    bpf_local_irq_save still in force where the program exits or calls what it may not."""
    named = error.kernel.number("insn_idx") if error.kernel is not None else None
    return (at_instruction(trace, named, Origin.LOCK_TAKEN, "interrupts were disabled here, and must be restored first")
            or region_opener(trace, ("bpf_local_irq_save",), "interrupts were disabled here"))


CLASS = ErrorClass(
    name="irq-flag-misuse",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "mark_stack_slot_irq_flag",
        "process_irq_flag",
        "unmark_stack_slot_irq_flag",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "%s cannot be used inside bpf_local_irq_save-ed region",
        "%s doesn't point to an irq flag on stack",
    ),
    follow=Follow.VALUE,
    culprit=culprit,
    lesson=Lesson(
        "irq-flag-misuse",
        "Interrupts disabled with bpf_local_irq_save and not restored in order",
        "bpf_local_irq_save(&flags) and bpf_local_irq_restore(&flags) (6.14+) disable and re-enable "
        "interrupts on this CPU; the verifier tracks each saved flag in its stack slot and insists that "
        "they nest: the last flag saved is the first restored, every save is restored before the program "
        "exits, the flag lives on the stack, and nothing that may sleep or exit runs in between.",
        (
            Fix("Restore in the reverse order of saving, on every path, before returning.",
                "unsigned long a, b;\n"
                "bpf_local_irq_save(&a);\n"
                "bpf_local_irq_save(&b);\n"
                "bpf_local_irq_restore(&a);   /* out of order */\n"
                "bpf_local_irq_restore(&b);",
                "unsigned long a, b;\n"
                "bpf_local_irq_save(&a);\n"
                "bpf_local_irq_save(&b);\n"
                "bpf_local_irq_restore(&b);\n"
                "bpf_local_irq_restore(&a);"),
            Fix("Keep the region short: no return, tail call or sleeping call between save and restore."),
        ),
        ("6.14: bpf_local_irq_save/restore kfuncs.",),
    ),
)
