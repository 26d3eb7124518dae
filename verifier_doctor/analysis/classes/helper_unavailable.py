"""helper-unavailable: calling a helper this kernel or program type does not provide"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="helper-unavailable",
    kind="environment",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "__find_kfunc_desc_btf",
        "add_kfunc_call",
        "bpf_add_kfunc_call",
        "bpf_dev_bound_kfunc_check",
        "bpf_fixup_call_args",
        "bpf_fixup_kfunc_call",
        "bpf_jit_subprogs",
        "check_get_func_ip",
        "check_helper_call",
        "check_kfunc_call",
        "check_ld_abs",
        "fetch_kfunc_meta",
        "find_kfunc_desc",
        "find_kfunc_desc_btf",
        "find_kfunc_impl_proto",
        "fixup_call_args",
        "fixup_kfunc_call",
        "jit_subprogs",
        "set_kfunc_desc_imm",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "JIT does not support arena arguments",
        "JIT does not support fsession",
        "JIT does not support function %s() with %d args",
        "JIT does not support kfunc %s() with %d args",
        "JIT does not support kfunc %s() with arena pointer arguments",
        "JIT doesn't support arena",
        "JIT is required to use arena",
        "addr_space_cast insn can only be used in a program that has an associated arena",
        "cannot tail call within callback",
        "cannot use BPF_LD_[ABS|IND] within callback",
        "mixing of tail_calls and bpf-to-bpf calls is not supported",
        "program with __ref argument cannot tail call",
        "tail_calls are not allowed in programs with stack args",
        "tail_calls are not allowed when call stack of previous frames is %d bytes. Too large",
    ),
    lesson=Lesson(
        "helper-unavailable",
        "Calling a helper this kernel or program type does not provide",
        "Each program type has its own list of helpers, and newer helpers do not exist on older "
        "kernels. The verifier proved which helper the program calls ('unknown func', or 'program "
        "of this type cannot use helper'), and that this kernel does not offer it to this kind of "
        "program.",
        (
            Fix("Use the helper meant for the program type: XDP reads packets directly (or with "
                "bpf_xdp_load_bytes, 5.18+), TC and socket filters use bpf_skb_load_bytes.",
                "SEC(\"xdp\")\n"
                "...\n"
                "bpf_skb_load_bytes(ctx, 0, &word, 4);",
                "SEC(\"xdp\")\n"
                "...\n"
                "if (data + 4 > data_end) return XDP_PASS;\n"
                "word = *(__u32 *)data;"),
            Fix("Check what the target kernel offers with `bpftool feature probe`, and guard optional "
                "calls with `bpf_core_enum_value_exists()` or `bpf_ksym_exists()` (kfuncs).",
                "bpf_get_current_task_btf();   /* 5.11+ */",
                "if (bpf_core_enum_value_exists(enum bpf_func_id,\n"
                "                               BPF_FUNC_get_current_task_btf))\n"
                "        t = bpf_get_current_task_btf();"),
        ),
    ),
)
