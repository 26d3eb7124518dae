"""exception-callback: bpf_throw and exception callbacks used against their rules"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="exception-callback",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "bpf_find_exception_callback_insn_off",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "%s programs cannot attach to exception callback",
        "bpf_throw kfunc (insn %d) cannot be called from callback subprog %d",
        "cannot tail call within exception cb",
        "exception cb cannot return void",
        "exception cb only supports single integer argument",
        "insn %d cannot call exception cb directly",
    ),
    # Both are found when the call is walked, and said after the exception callback was.
    rejected_at_named=(
        "bpf_throw kfunc (insn %d) cannot be called from callback subprog %d",
        "insn %d cannot call exception cb directly",
    ),
    lesson=Lesson(
        "exception-callback",
        "bpf_throw and exception callbacks used against their rules",
        "BPF exceptions (6.7+) let a program end itself with bpf_throw(cookie); the kernel then runs the "
        "program's exception callback, a global function tagged `__exception_cb(...)` that takes the "
        "cookie and returns the program's value. The verifier checks the callback once, on its own: it "
        "must be found in BTF, be global, take one integer and return one, and nothing may call it "
        "directly, tail-call from it, or throw from inside a callback of a helper (bpf_loop, "
        "timers).",
        (
            Fix("Let the kernel call the exception callback: declare it with `__exception_cb(name)` on the "
                "main program, make it a global function `int name(u64 cookie)`, and never call it yourself.",
                "int handler(u64 cookie) { return 0; }\n"
                'SEC("tc") __exception_cb(handler)\n'
                "int prog(struct __sk_buff *skb) { return handler(1); }  /* direct call */",
                "__noinline int handler(u64 cookie) { return cookie ? 2 : 0; }\n"
                'SEC("tc") __exception_cb(handler)\n'
                "int prog(struct __sk_buff *skb) { if (!skb->len) bpf_throw(1); return 0; }"),
            Fix("Throw from the main program or its static subprograms, not from a bpf_loop or timer "
                "callback; return an error code from the callback instead.",
                "static long step(__u64 i, void *ctx)\n"
                "{ if (bad(i)) bpf_throw(1); return 0; }  /* throw in bpf_loop's callback */",
                "static long step(__u64 i, void *ctx)\n"
                "{ if (bad(i)) { *(int *)ctx = 1; return 1; } return 0; }  /* stop, say why */\n"
                "bpf_loop(n, step, &failed, 0);\n"
                "if (failed) bpf_throw(1);",
                messages=("bpf_throw kfunc (insn %d) cannot be called from callback subprog %d",)),
        ),
        ("6.7: bpf_throw and exception callbacks.",),
    ),
)
