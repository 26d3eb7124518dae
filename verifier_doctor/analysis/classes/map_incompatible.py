"""map-incompatible: a map this program type may not use"""

from __future__ import annotations

from ...model import OpKind, ProgramTrace
from ..findings import ErrorInfo, FixSite
from ..kernel_types import map_type_action, map_types_of_helper
from ..lesson import Fix, Lesson
from .base import ErrorClass


def called_helper(trace: ProgramTrace) -> str | None:
    """The helper the rejected call calls ("bpf_tail_call"), if the rejection is at a call."""
    failing = trace.steps[-1] if trace.steps else None
    if failing is None or failing.insn.kind is not OpKind.CALL or failing.insn.calls_subprogram:
        return None
    return (failing.insn.callee or "").partition("#")[0] or None


def map_of_wrong_type(trace: ProgramTrace, error: ErrorInfo) -> str | None:
    """A tail call through a map that is not a prog array: 5.10 to 6.12 say only "kernel
    subsystem misconfigured verifier" (record_func_map finds no prog array behind the call)."""
    helper = called_helper(trace)
    wanted = map_types_of_helper(helper)
    if helper is None or not wanted:
        return None
    return (f"The rejected instruction calls {helper}, which takes a map of type {' or '.join(wanted)}; the "
            "map this call is given is of another type.")

def fix_site(trace: ProgramTrace, error: ErrorInfo, culprit, provenance) -> FixSite | None:
    action = map_type_action(called_helper(trace))
    return None if action is None else FixSite(error.insn, error.source, action)


CLASS = ErrorClass(
    name="map-incompatible",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "check_map_prog_compatibility",
    ),
    # A tail call through a map that is not a BPF_MAP_TYPE_PROG_ARRAY: 7.2+ say so; 5.10 to
    # 6.12 print an error the catalogue marks internal (record_func_map), named here.
    messages=(
        "expected prog array map for tail call",
        "kernel subsystem misconfigured verifier",
    ),
    reason_in_trace=map_of_wrong_type,
    fix_site=fix_site,
    lesson=Lesson(
        "map-incompatible",
        "A map this program type, or this helper, may not use",
        "When a program is loaded the verifier checks every map it refers to against the program's type: "
        "tracing programs (kprobe, tracepoint, perf_event) may run in any context, so they may only use "
        "preallocated hash maps; some map types need BPF_F_NO_PREALLOC off, an arena needs the JIT, "
        "struct_ops maps cannot be used by ordinary programs, and a program has at most one cgroup "
        "storage of each kind. This program names a map its type may not use.",
        (
            Fix("Use a preallocated hash map (drop BPF_F_NO_PREALLOC) in tracing programs, or an LRU hash.",
                "struct {\n"
                "        __uint(type, BPF_MAP_TYPE_HASH);\n"
                "        __uint(map_flags, BPF_F_NO_PREALLOC);\n"
                "} seen SEC(\".maps\");",
                "struct {\n"
                "        __uint(type, BPF_MAP_TYPE_HASH);\n"
                "        __uint(max_entries, 10240);\n"
                "} seen SEC(\".maps\");"),
            Fix("Keep maps the program type cannot use out of its object, or split the object by program type."),
            Fix("Give each helper the map type it takes: bpf_tail_call a BPF_MAP_TYPE_PROG_ARRAY, "
                "bpf_ringbuf_output a BPF_MAP_TYPE_RINGBUF, bpf_perf_event_output a BPF_MAP_TYPE_PERF_EVENT_ARRAY.",
                "__uint(type, BPF_MAP_TYPE_HASH);   /* jumps */\n"
                "bpf_tail_call(ctx, &jumps, 0);",
                "__uint(type, BPF_MAP_TYPE_PROG_ARRAY);\n"
                "bpf_tail_call(ctx, &jumps, 0);"),
        ),
    ),
)
