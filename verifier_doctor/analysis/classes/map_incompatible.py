"""map-incompatible: a map this program type may not use"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="map-incompatible",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "check_map_prog_compatibility",
    ),
    lesson=Lesson(
        "map-incompatible",
        "A map this program type may not use",
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
        ),
    ),
)
