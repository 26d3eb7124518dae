"""null-deref: using a pointer that may be NULL without checking it"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from ..provenance import Follow, Origin, Provenance
from .base import ErrorClass


def reason(provenance: Provenance, at: str) -> tuple[str, list[str]] | None:
    if provenance.origin is Origin.HELPER_RESULT:
        return (f"The pointer comes from {provenance.detail}{at}, which returns NULL when it finds "
                "nothing.", [])
    return None


CLASS = ErrorClass(
    name="null-deref",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "%s is expected to be non-NULL",
        "Possibly NULL pointer passed to helper %s",
        "Possibly NULL pointer passed to helper arg%d",
        "Possibly NULL pointer passed to trusted %s",
        "Possibly NULL pointer passed to trusted arg%d",
        "R%d pointer arithmetic on %s prohibited, null-check it first",
        "arg#%d is expected to be non-NULL",
    ),
    nullable_messages=(
        "R%d invalid mem access '%s'",
        "%s invalid mem access '%s'",
        "R%d pointer arithmetic on %s prohibited",
    ),
    follow=Follow.VALUE,
    reason=reason,
    lesson=Lesson(
        "null-deref",
        "Using a pointer that may be NULL without checking it",
        "The verifier proved that {reg} is a pointer of the right kind, but one that may be NULL: it "
        "comes from a helper that returns NULL on failure (bpf_map_lookup_elem, bpf_ringbuf_reserve, "
        "bpf_sk_lookup_tcp...), and its type says so ('map_value_or_null', 'ptr_or_null_'). It could "
        "not prove the pointer is non-NULL on this path, because no comparison with 0 happened "
        "between the call and the use.",
        (
            Fix("Check the pointer right after you get it: `if (!p) return 0;`, and use it only where "
                "the check holds. The check marks the register non-NULL in the branch that follows.",
                "__u64 *v = bpf_map_lookup_elem(&counts, &key);\n"
                "*v += 1;         /* 'map_value_or_null' */",
                "__u64 *v = bpf_map_lookup_elem(&counts, &key);\n"
                "if (!v)\n"
                "        return 0;\n"
                "*v += 1;"),
            Fix("Check the same variable you then use: a check on a copy made before the call, or on "
                "another lookup's result, proves nothing about this one.",
                "e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);\n"
                "e->pid = pid;",
                "e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);\n"
                "if (!e)\n"
                "        return 0;\n"
                "e->pid = pid;\n"
                "bpf_ringbuf_submit(e, 0);"),
        ),
    ),
)
