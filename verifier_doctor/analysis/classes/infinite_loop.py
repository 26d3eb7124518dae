"""infinite-loop: a loop the verifier cannot prove ends"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="infinite-loop",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "bpf_is_state_visited",
        "is_state_visited",
        "push_insn",
        "sort_subprogs_topo",
    ),
    rejected_at_named=("infinite loop detected at insn %d",),
    lesson=Lesson(
        "infinite-loop",
        "A loop the verifier cannot prove ends",
        "Since 5.3 the verifier accepts loops by walking them: each iteration must change its state "
        "(a counter towards a bound). It found a loop whose state repeats exactly ('infinite loop "
        "detected'), so the program could run forever, or, before 5.3 and for unprivileged "
        "programs, a jump backwards at all ('back-edge from insn').",
        (
            Fix("Give every loop a constant upper bound the verifier can see, and never wait for "
                "something to change: test once and return.",
                "while (!cfg->ready)\n"
                "        ;                 /* nothing changes */",
                "if (!cfg->ready)\n"
                "        return XDP_PASS;  /* try again next packet */"),
            Fix("For long loops use bpf_loop() (5.17+), bpf_for() (6.4+), or may_goto / can_loop "
                "(6.9+), which bound the iterations for you.",
                "for (i = 0; i < n; i++)   /* n unknown */\n"
                "        work(i);",
                "bpf_for(i, 0, n)          /* open-coded iterator */\n"
                "        work(i);"),
        ),
        ("5.3: bounded loops; earlier kernels refuse every back-edge.",
         "5.17: bpf_loop().", "6.4: open-coded iterators.", "6.9: may_goto (can_loop)."),
    ),
)
