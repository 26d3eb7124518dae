"""global-function: a global (non-static) function whose signature the verifier cannot check on its own"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="global-function",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "btf_check_subprog_arg_match",
        "btf_check_subprog_call",
        "btf_get_prog_ctx_type",
        "btf_is_prog_ctx_type",
        "btf_prepare_func_args",
        "btf_scan_decl_tags",
        "btf_scan_type_tags",
        "btf_validate_prog_ctx_type",
        "subprog_returns_void",
    ),
    # Messages of this class printed by functions whose other messages are another's:
    # check_btf_func refuses a subprogram with BPF_LD_ABS whose BTF prototype returns no
    # scalar (an LD_ABS past the packet's end returns 0 from the whole program, out of
    # whatever function it is in), before the walk.
    messages=(
        "LD_ABS is only allowed in functions that return 'int'.",
    ),
    lesson=Lesson(
        "global-function",
        "A global (non-static) function whose signature the verifier cannot check on its own",
        "The verifier checks a global function once, by itself, from its BTF prototype (v5.6+), not "
        "with each call: so its arguments and return value must be of kinds it can describe from the "
        "types alone: scalars, a pointer to the program's context, pointers to fixed-size memory (which "
        "may be NULL), and, with tags, a few others. This function's prototype uses something else (a "
        "struct by value, a pointer to a type of unknown size, more than five arguments, a non-scalar "
        "return), or its BTF is missing.",
        (
            Fix("Make the helper function `static` (with `__always_inline` if you like): static functions "
                "are verified with each call and may take any argument.",
                "int sum(struct pair p) { return p.a + p.b; }   /* struct by value */",
                "static __always_inline int sum(struct pair p) { return p.a + p.b; }"),
            Fix("Keep a global function's arguments to scalars, the context, and pointers to sized types; "
                "return a scalar; check pointer arguments for NULL inside it."),
        ),
        ("5.6: global functions verified on their own.", "6.8: argument tags (__arg_ctx, __arg_nonnull, __arg_trusted)."),
    ),
)
