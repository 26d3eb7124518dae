"""unprivileged: a check that applies because the program was loaded without enough privilege"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="unprivileged",
    kind="environment",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "add_subprogs",
        "check_stack_access_for_ptr_arithmetic",
        "sanitize_check_bounds",
        "sanitize_err",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "%s access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN",
        "%s is allowed only to CAP_PERFMON and CAP_SYS_ADMIN",
        "%s variable offset stack access prohibited for !root, var_off=%s",
        "'struct %s' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN",
        "CAP_BPF and CAP_PERFMON are required to use arena",
        "R%d leaks addr as return value",
        "R%d leaks addr into ctx",
        "R%d leaks addr into flow keys",
        "R%d leaks addr into helper function",
        "R%d leaks addr into map",
        "R%d leaks addr into mem",
        "R%d leaks addr into packet",
        "R%d pointer comparison prohibited",
        "R%d%s variable offset stack access prohibited for !root, var_off=%s",
        "R0 leaks addr as return value",
        "destructive kfunc calls require CAP_SYS_BOOT capabilities",
        "destructive kfunc calls require CAP_SYS_BOOT capability",
        "function calls to other bpf functions are allowed for CAP_BPF and CAP_SYS_ADMIN",
        "leaking pointer from stack off %d",
        "uninit stack in range of var-offset write prohibited for !root; insn %d, off: %d",
    ),
    lesson=Lesson(
        "unprivileged",
        "A check that applies because the program was loaded without enough privilege",
        "Without CAP_BPF and CAP_PERFMON (or root), the verifier is stricter: a program may not leak "
        "kernel addresses (store a pointer into a map, return one, pass one to a helper as a number), "
        "compare pointers, do arithmetic on pointers beyond what Spectre-safe masking allows, use "
        "variable stack offsets, call bpf-to-bpf functions or kfuncs on older kernels. This rejection is "
        "one of those rules: the same program may load with the capabilities.",
        (
            Fix("Load with CAP_BPF and CAP_PERFMON (5.8+) or as root, e.g. through a privileged loader "
                "service, or grant them with `setcap cap_bpf,cap_perfmon+ep ./loader`.",
                "$ ./loader            # unprivileged: R1 leaks addr into map",
                "$ sudo setcap cap_bpf,cap_perfmon+ep ./loader\n"
                "$ ./loader"),
            Fix("If it must run unprivileged, store offsets or ids in maps instead of pointers, and keep "
                "pointer arithmetic constant and in bounds."),
        ),
        ("5.8: CAP_BPF and CAP_PERFMON split from CAP_SYS_ADMIN.",
         "5.16+: unprivileged BPF disabled by default on most distributions (kernel.unprivileged_bpf_disabled)."),
    ),
)
