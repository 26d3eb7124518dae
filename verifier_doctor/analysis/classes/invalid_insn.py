"""invalid-insn: an instruction or jump the verifier cannot accept as BPF at all"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="invalid-insn",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "bpf_check_cfg",
        "bpf_prune_dead_branches",
        "check_alu_fields",
        "check_and_resolve_insns",
        "check_atomic",
        "check_atomic_load",
        "check_atomic_rmw",
        "check_cfg",
        "check_cond_jmp_op",
        "check_indirect_jump",
        "check_insn_fields",
        "check_jmp_fields",
        "check_ld_imm",
        "check_mem_access",
        "check_subprogs",
        "check_xadd",
        "create_jt",
        "do_check_common",
        "indirect_jump_min_max_index",
        "jt_from_subprog",
        "resolve_pseudo_ldimm64",
        "visit_gotox_insn",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "call to invalid destination",
        "div by zero",
        "invalid insn idx %d insn_cnt %d",
        "invalid shift %d",
        "jump out of range from insn %d to %d",
    ),
    lesson=Lesson(
        "invalid-insn",
        "An instruction or jump the verifier cannot accept as BPF at all",
        "Before it follows any path, the verifier checks the program's shape: every instruction must be "
        "a valid BPF opcode with its unused fields zero, every jump must land on an instruction of the "
        "same function (not into the middle of a 16-byte load), every instruction must be reachable, and "
        "the last one must be an exit or a jump. This program breaks one of those rules, most often "
        "through inline assembly, a hand-written instruction, or a compiler newer than the kernel "
        "(an instruction the kernel does not know yet).",
        (
            Fix("Build for the kernel you load into: `-mcpu=v3` (5.1+) or `-mcpu=v2` for older kernels; "
                "clang's default v4 (clang 19) emits sign-extending and 32-bit jump forms that kernels "
                "before 6.6 refuse.",
                "clang -O2 -g -target bpf -c prog.bpf.c      /* cpu v4 by default */",
                "clang -O2 -g -target bpf -mcpu=v3 -c prog.bpf.c"),
            Fix("In inline asm, jump only to labels that exist in the same block and end every path with "
                "exit; remove code no path reaches."),
        ),
        ("5.10: unreachable instructions refused (CFG check).", "6.6: cpu v4 instructions (sign extension, gotol, bswap).",
         "6.9: may_goto; addr_space_cast for arenas.", "6.17: indirect jumps (gotox)."),
    ),
)
