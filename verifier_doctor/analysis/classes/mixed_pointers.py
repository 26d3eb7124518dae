"""mixed-pointers: one instruction that reads through different kinds of pointer on different paths"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="mixed-pointers",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "save_aux_ptr_type",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "same insn cannot be used with and without arena pointer",
    ),
    lesson=Lesson(
        "mixed-pointers",
        "One instruction that reads through different kinds of pointer on different paths",
        "The verifier rewrites some loads and stores after checking them (a context field becomes the "
        "kernel structure's real field, an arena access becomes a probing one), once per instruction. So "
        "one instruction must always see the same kind of pointer: here it saw, say, the context on one "
        "path and the stack or a map value on another, usually because the compiler merged two accesses "
        "into one after an if/else.",
        (
            Fix("Read the context into locals first, then branch on the copies; or keep the two accesses "
                "apart so the compiler cannot merge them (a barrier such as `asm volatile(\"\" ::: \"memory\")`).",
                "__u32 *p = cond ? &skb->mark : &local;\n"
                "v = *p;     /* ctx on one path, stack on the other */",
                "__u32 mark = skb->mark;\n"
                "v = cond ? mark : local;"),
        ),
    ),
)
