"""load-error: the load failed before or outside the verifier"""

from __future__ import annotations

from ...model import LoadFailure
from ..lesson import Fix, Lesson
from .base import ErrorClass


def failure_words(failure: LoadFailure) -> tuple[str, list[str]]:
    """What really is missing, for each way a load fails before the verifier."""
    subject = failure.subject
    if failure.kind == "attach-target-missing":
        return (f"libbpf looked for the attach target `{subject}` in the running kernel's BTF and it is "
                "not there: the function does not exist in this kernel, is inlined or static, or lives "
                "in a module that is not loaded.",
                [f"Check the target: `bpftool btf dump file /sys/kernel/btf/vmlinux | grep \"'{subject}'\"`; "
                 "trace another function, or use a kprobe, which needs no BTF entry."])
    if failure.kind == "kfunc-missing":
        return (f"The kernel function `{subject}` the program calls is not in this kernel (it is newer, or "
                "its module is not loaded), so libbpf could not resolve the call.",
                [f"Declare `{subject}` `__weak` and guard the call with `if (bpf_ksym_exists({subject}))`, "
                 "or require a kernel that has it."])
    if failure.kind == "no-permission":
        return ("The kernel refused to load even a trivial program for this process: it lacks the "
                "capabilities (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN; tracing programs need "
                "CAP_PERFMON too), unprivileged BPF is disabled (kernel.unprivileged_bpf_disabled), or "
                "the kernel is in lockdown (`cat /sys/kernel/security/lockdown`: 'confidentiality' refuses "
                "most tracing).",
                ["Run the loader as root, or grant it `cap_bpf,cap_perfmon` (`setcap`); in lockdown, boot "
                 "without it or sign and allow the program as the distribution documents."])
    if failure.kind == "not-permitted":
        return ("The kernel refused this program with EPERM before verifying it, while it may load others: "
                "the program type or attach point needs a capability this process lacks (CAP_PERFMON for "
                "tracing, CAP_NET_ADMIN for some network types, CAP_SYS_ADMIN for others), or the kernel's "
                "lockdown (`cat /sys/kernel/security/lockdown`) or a security module forbids it (fentry, "
                "fexit and lsm programs need BPF trampolines).",
                ["Run as root or with the capabilities the type needs; where lockdown or a policy forbids "
                 "the type, try the program in another kernel (`vdoctor try prog.bpf.c --kernel all`)."])
    if failure.kind == "no-kernel-btf":
        return ("The running kernel has no BTF (/sys/kernel/btf/vmlinux), which CO-RE relocations, "
                "fentry/fexit/lsm/tp_btf programs and kfuncs need.",
                ["Use a kernel built with CONFIG_DEBUG_INFO_BTF=y, or give libbpf a BTF file "
                 "(btf_custom_path) made for this kernel."])
    if failure.kind == "unknown-section":
        return (f"libbpf takes a program's type from the name of its ELF section, and `SEC(\"{subject}\")` "
                "names no type it knows, so it asked the kernel for nothing: the program was never verified.",
                [f"Rename the section after the program's type: `SEC(\"tc\")` for a tc classifier, "
                 "`SEC(\"xdp\")`, `SEC(\"kprobe/<function>\")`, `SEC(\"tracepoint/<category>/<name>\")`; "
                 f"`bpftool prog load` of the object lists every name libbpf knows. A loader of your own may "
                 "instead set the type with bpf_program__set_type() before loading."])
    refused = _refused_map(failure)
    if failure.kind == "map-type-unavailable":
        return (f"The kernel refused to create the map `{subject}`{refused}, and libbpf's probe of this kernel "
                f"(creating a small {failure.map_type} map) fails too: this kernel does not have {failure.map_type} "
                "maps at all (built without them, or older than the type), whatever the map's definition says.",
                [f"Load the program in a kernel that creates {failure.map_type} maps (`vdoctor try prog.bpf.c "
                 "--kernel all`; `bpftool feature probe | grep map_type` lists this kernel's), or build a variant "
                 f"without the {failure.map_type} map for kernels that lack it."])
    if failure.kind == "map-zero-entries":
        return (f"The kernel refused to create the map `{subject}`{refused}: it is declared with max_entries 0, and "
                f"the kernel makes no {failure.map_type} map without entries.",
                [f"Give `{subject}` its size: `__uint(max_entries, 1024);` (for a ring buffer, a power of two "
                 "bytes that is a multiple of the page size)."])
    if failure.kind == "map-create":
        probed = ""
        if failure.type_available:
            probed = (f" libbpf's probe says this kernel creates {failure.map_type} maps, so it is this map's "
                      "definition the kernel refuses:")
        return (f"The kernel refused to create the map `{subject}`{refused}.{probed} its key or value size, flags "
                "or number of entries are not allowed for its type here.",
                ["Check the map's definition against what this kernel supports (`bpftool feature`), and "
                 "the memory limit (RLIMIT_MEMLOCK before 5.11)."])
    if failure.kind == "too-large":
        return ("The kernel answered E2BIG: the program has more instructions than it accepts (the "
                "verifier's 1,000,000 processed instructions, or 4,096 instructions unprivileged).",
                ["Split the program into bpf-to-bpf functions or tail calls, bound loops tighter, or use "
                 "bpf_loop() (5.17+) instead of unrolled loops."])
    if failure.kind != "not-supported":
        return ("libbpf stopped the load before the verifier ran; its first line above says why.", [])
    return ("The kernel answered ENOTSUPP (-524): it does not support what the program asks for here (a "
            "helper or kfunc for this program type or attach point, a map feature, mmap of a map "
            "holding a bpf_spin_lock).",
            ["Check `bpftool feature probe` for what this kernel supports, and load on a newer kernel "
             "(`vdoctor try --kernel all`)."])


def _refused_map(failure: LoadFailure) -> str:
    """", of type hash with max_entries 0 (Invalid argument(-22))": what is known of a refused map."""
    said = f", of type {failure.map_type} with max_entries {failure.max_entries}" if failure.map_type else ""
    return f"{said} ({failure.errno_text})" if failure.errno_text else said


CLASS = ErrorClass(
    name="load-error",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "__add_used_btf",
        "__add_used_map",
        "__btf_verifier_log_type",
        "__check_pseudo_btf_id",
        "add_fd_from_fd_array",
        "add_used_map",
        "bpf_check",
        "bpf_check_core_relo",
        "bpf_core_apply",
        "bpf_prog_verify_signature",
        "btf_add_type",
        "libbpf_fixup_log",  # libbpf's words for a call it poisoned (grammars/verifier_messages_extra.json)
        "btf_array_check_member",
        "btf_array_check_meta",
        "btf_array_resolve",
        "btf_check_all_metas",
        "btf_check_all_types",
        "btf_check_iter_kfuncs",
        "btf_check_meta",
        "btf_check_modifier_chain_length",
        "btf_check_sec_info",
        "btf_check_type_match",
        "btf_check_type_tags",
        "btf_datasec_check_member",
        "btf_datasec_check_meta",
        "btf_datasec_resolve",
        "btf_decl_tag_check_meta",
        "btf_enum_check_kflag_member",
        "btf_enum_check_member",
        "btf_enum_check_meta",
        "btf_float_check_member",
        "btf_float_check_meta",
        "btf_func_check_meta",
        "btf_func_proto_check",
        "btf_func_proto_check_meta",
        "btf_fwd_check_meta",
        "btf_generic_check_kflag_member",
        "btf_int_check_kflag_member",
        "btf_int_check_member",
        "btf_int_check_meta",
        "btf_modifier_check_member",
        "btf_modifier_resolve",
        "btf_parse",
        "btf_parse_hdr",
        "btf_parse_layout_sec",
        "btf_parse_str_sec",
        "btf_parse_type_sec",
        "btf_ptr_check_member",
        "btf_ptr_resolve",
        "btf_ref_type_check_meta",
        "btf_resolve",
        "btf_sec_info_cmp",
        "btf_struct_check_member",
        "btf_struct_check_meta",
        "btf_struct_resolve",
        "btf_var_check_member",
        "btf_var_check_meta",
        "btf_var_resolve",
        "btf_vmlinux_map_ids_init",
        "check_abnormal_return",
        "check_btf_func",
        "check_btf_line",
        "check_pseudo_btf_id",
        "fd_array_get_btf",
        "fd_array_get_btf_continuous",
        "fd_array_get_map_idx",
        "fd_array_get_map_idx_continuous",
        "map_create_alloc",
        "prepare_btf_func",
        "process_fd_array",
        "process_fd_array_continuous",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "Cannot access kernel 'struct %s' from non-GPL compatible program",
        "LSM programs must have a GPL compatible license",
        "calling kernel function is not supported without CONFIG_DEBUG_INFO_BTF",
        "cannot call GPL-restricted function from non-GPL compatible program",
        "cannot call kernel function from non-GPL compatible program",
        "map_ptr access not supported without CONFIG_DEBUG_INFO_BTF",
        "missing btf func_info",
        "struct ops programs must have a GPL compatible license",
    ),
    failure_words=failure_words,
    lesson=Lesson(
        "load-error",
        "The load failed before or outside the verifier",
        "Not every refusal comes from walking the program: libbpf and the kernel also check the maps "
        "(key and value sizes, a bpf_spin_lock in global data), the BTF, the relocations, the kfuncs "
        "the program declares, and whether a GPL-only helper is called from a program whose license "
        "is not GPL-compatible. The verifier proved nothing about the program's logic; one of these "
        "checks failed first, and libbpf's own lines say which.",
        (
            Fix("GPL-only helpers (bpf_trace_printk behind bpf_printk, bpf_probe_read_kernel...) need a "
                "GPL-compatible license string.",
                "char LICENSE[] SEC(\"license\") = \"Proprietary\";",
                "char LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";"),
            Fix("Declare optional kfuncs `__weak` and test `bpf_ksym_exists()` before calling them; "
                "libbpf refuses a missing strong __ksym before the verifier runs.",
                "extern int bpf_foo(void *) __ksym;\n"
                "bpf_foo(ctx);",
                "extern int bpf_foo(void *) __ksym __weak;\n"
                "if (bpf_ksym_exists(bpf_foo))\n"
                "        bpf_foo(ctx);"),
            Fix("Give maps the sizes their type requires (a queue or stack map has key size 0; a "
                "bpf_spin_lock belongs in an array or hash map value, not in global data)."),
        ),
    ),
)
