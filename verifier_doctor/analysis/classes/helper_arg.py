"""helper-arg: a helper or kfunc called with an argument of the wrong kind"""

from __future__ import annotations

from ...model import KernelMessage, OpKind, ProgramTrace
from ..findings import ErrorInfo, FixSite
from ..kernel_types import map_type_action, map_type_name, map_types_of_helper, types_in
from ..lesson import Fix, Lesson
from ..provenance import CALLER_SAVED, Follow, value_before
from .base import ErrorClass

_PACKET_ARGUMENT = "helper access to the packet is not allowed"
_ZERO_SIZE = "invalid zero-sized read"  # v5.10-6.1: no register named (later "R%d invalid zero-sized read")


def unnamed_argument(trace: ProgramTrace, message: KernelMessage | None) -> str | None:
    """Messages that name no register: "helper access to the packet is not allowed" (the
    argument that holds a packet pointer), "invalid zero-sized read" (the size argument)."""
    if message is None or message.format not in (_PACKET_ARGUMENT, _ZERO_SIZE) or not trace.steps:
        return None
    failing = trace.steps[-1]
    if failing.insn.kind is not OpKind.CALL:
        return None
    values = [(register, value_before(trace, failing, register)) for register in CALLER_SAVED]
    if message.format == _ZERO_SIZE:
        # The size argument: the last argument that is a number the verifier does not know.
        sizes = [r for r, v in values if v is not None and v.is_scalar and v.const is None]
        return f"R{sizes[-1]}" if sizes else None
    for register, value in values:
        if value is not None and value.kind.startswith("pkt") and value.kind != "pkt_end":
            return f"R{register}"
    return None


def describe(message: KernelMessage) -> str | None:
    """"cannot pass map_type 2 into func bpf_ringbuf_output#130": the types by name, and the
    type the helper takes."""
    given = types_in(message)
    if given is None or message.format != "cannot pass map_type %d into func %s#%d":
        return given
    helper = message.field("func")
    wanted = map_types_of_helper(helper)
    return f"{given[:-1]}; {helper} takes {' or '.join(wanted)}." if wanted else given


def fix_site(trace: ProgramTrace, error: ErrorInfo, culprit, provenance) -> FixSite | None:
    """A map of the wrong type ("cannot pass map_type 2 into func bpf_ringbuf_output#130"):
    the change is the map's type, said at the call."""
    message = error.kernel
    if message is None or message.format != "cannot pass map_type %d into func %s#%d":
        return None
    action = map_type_action(message.field("func"), map_type_name(message.number("map_type")))
    return None if action is None else FixSite(error.insn, error.source, action)


CLASS = ErrorClass(
    name="helper-arg",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "__check_func_arg_reg_off",
        "__check_func_call",
        "__process_kf_arg_ptr_to_graph_node",
        "__process_kf_arg_ptr_to_graph_root",
        "btf_attach_func_proto",
        "btf_check_func_arg_match",
        "btf_check_kfunc_arg_match",
        "btf_get_ptr_to_btf_id",
        "check_arg_const_str",
        "check_bpf_snprintf_call",
        "check_func_arg",
        "check_func_arg_reg_off",
        "check_helper_mem_access",
        "check_kfunc_args",
        "check_kfunc_is_graph_node_api",
        "check_kfunc_is_graph_root_api",
        "check_map_field_pointer",
        "check_map_func_compatibility",
        "check_mem_reg",
        "check_mem_size_reg",
        "check_outgoing_stack_args",
        "check_reg_arg_type",
        "check_reg_const_str",
        "check_reg_type",
        "check_special_kfunc",
        "gen_kfunc_arg_proto",
        "get_kfunc_arg_type",
        "get_kfunc_ptr_arg_type",
        "may_update_sockmap",
        "process_bpf_exit_full",
        "process_const_alloc_mem_size",
        "process_const_arg",
        "process_kf_arg_ptr_to_btf_id",
        "process_map_ptr_arg",
        "process_task_work_func",
        "process_timer_func",
        "process_wq_func",
        "push_callback_call",
        "record_func_key",
        "resolve_map_arg_type",
        "set_map_elem_callback_state",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "invalid zero-sized read",
        "Caller passes invalid args into func#%d ('%s')",
        "at the time of BPF_LD_ABS|IND R6 != pointer to skb",
        "callback function cannot be the main program",
        "callback function not static",
        "get_local_storage() doesn't support non-zero flags",
    ),
    follow=Follow.VALUE,
    register_when_unnamed=unnamed_argument,
    describe=describe,
    fix_site=fix_site,
    lesson=Lesson(
        "helper-arg",
        "A helper or kfunc called with an argument of the wrong kind",
        "Every helper and kfunc has a prototype the verifier checks argument by argument: a map, a "
        "pointer to initialised memory of some size, the context, a referenced object. It proved the "
        "kind of {reg} (for example a scalar) and could not match it with the kind the prototype "
        "expects.",
        (
            Fix("Pass exactly what the prototype asks for: `&my_map` for a map, a stack buffer or "
                "checked pointer for memory, `ctx` itself for the context.",
                "void *map = (void *)(long)ctx->rx_queue_index;\n"
                "v = bpf_map_lookup_elem(map, &key);",
                "v = bpf_map_lookup_elem(&counts, &key);"),
            Fix("To choose a map at run time, use a map of maps (BPF_MAP_TYPE_ARRAY_OF_MAPS) and look "
                "the inner map up first.",
                "v = bpf_map_lookup_elem(maps[i], &key);",
                "void *inner = bpf_map_lookup_elem(&outer, &i);\n"
                "if (!inner) return 0;\n"
                "v = bpf_map_lookup_elem(inner, &key);"),
        ),
        ("5.18: the wording 'type=inv' became 'type=scalar'.",),
    ),
)
