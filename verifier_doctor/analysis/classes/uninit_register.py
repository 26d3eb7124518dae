"""uninit-register: reading a register that holds no value on this path"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from ..provenance import Follow, Origin, Provenance
from .base import ErrorClass


def reason(provenance: Provenance, at: str) -> tuple[str, list[str]] | None:
    if provenance.origin is Origin.CLOBBERED:
        return (f"The call to {provenance.detail}{at} destroyed it: R1-R5 do not survive calls.", [])
    return None


CLASS = ErrorClass(
    name="uninit-register",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "__check_reg_arg",
        "check_reg_arg",
    ),
    follow=Follow.VALUE,
    reason=reason,
    lesson=Lesson(
        "uninit-register",
        "Reading a register that holds no value on this path",
        "The verifier knows which registers were written on each path. It proved that {reg} was never "
        "written here ('!read_ok'): at entry only R1 (the context) and R10 (the frame pointer) hold "
        "values, and every call destroys R1-R5, so a value kept in them across a call is gone. clang "
        "never emits this for ordinary C; it comes from inline assembly or hand-written bytecode.",
        (
            Fix("Write the register before reading it on every path; keep values that must survive a "
                "call in R6-R9 (callee-saved).",
                "asm volatile(\"call %[rand]\\n\\t\"\n"
                "             \"r0 += r1\"   /* R1 died in the call */\n"
                "             :: [rand] \"i\"(BPF_FUNC_get_prandom_u32));",
                "asm volatile(\"r6 = r1\\n\\t\"  /* keep it in R6 */\n"
                "             \"call %[rand]\\n\\t\"\n"
                "             \"r0 += r6\"\n"
                "             :: [rand] \"i\"(BPF_FUNC_get_prandom_u32) : \"r6\");"),
            Fix("In C, give every variable a value before use: the compiler may otherwise read a "
                "register nothing wrote.",
                "long v;\n"
                "asm volatile(\"%0 = r3\" : \"=r\"(v));   /* r3 unset */",
                "long v = ctx->rx_queue_index;"),
        ),
    ),
)
