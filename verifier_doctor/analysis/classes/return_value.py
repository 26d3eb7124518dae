"""return-value: a return value the program type does not allow"""

from __future__ import annotations

from ...model import KernelMessage, ProgramTrace
from ..lesson import Fix, Lesson
from ..provenance import Follow, Provenance
from .base import ErrorClass


def exit_register(trace: ProgramTrace, message: KernelMessage | None) -> str | None:
    """The program's return value is R0."""
    return "R0"



def reason(provenance: Provenance, at: str) -> tuple[str, list[str]] | None:
    if provenance.origin_step is not None:
        return (f"R0 got its value{at}.", [])
    return None


CLASS = ErrorClass(
    name="return-value",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "check_global_subprog_return_code",
        "check_return_code",
        "prepare_func_exit",
        "verbose_invalid_scalar",
    ),
    follow=Follow.LAST_WRITE,
    reason=reason,
    register_when_unnamed=exit_register,
    lesson=Lesson(
        "return-value",
        "A return value the program type does not allow",
        "Some program types accept only a range of return values (cgroup_skb ingress and cgroup "
        "socket programs: 0 or 1), and every program must set R0 before it exits. The verifier proved the value R0 can hold at exit and "
        "could not prove it lies in that range, or it proved R0 was never written on some path "
        "('R0 !read_ok' at exit).",
        (
            Fix("Return only the values the program type defines, on every path.",
                "SEC(\"cgroup_skb/ingress\")\n"
                "int f(struct __sk_buff *skb) { return XDP_PASS; }  /* 2 */",
                "SEC(\"cgroup_skb/ingress\")\n"
                "int f(struct __sk_buff *skb) { return 1; }  /* allow */"),
            Fix("In inline assembly, set r0 before every exit.",
                "asm volatile(\"if r2 == 0 goto +1\\n\\t\"\n"
                "             \"exit\");      /* r0 unset */",
                "asm volatile(\"r0 = 2\\n\\t\"\n"
                "             \"if r2 == 0 goto +1\\n\\t\"\n"
                "             \"exit\");"),
        ),
        ("Up to 6.1 the log prints tnums ('has value (0x2; 0x0) should have been in (0x0; 0x1)'); the "
         "recorded 6.12 and newer logs print bounds ('has smin=2 smax=2 should have been in [0, 1]').",),
    ),
)
