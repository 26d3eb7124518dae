"""scalar-deref: dereferencing a number the verifier does not know to be a pointer"""

from __future__ import annotations

from ..lesson import ALLOCATOR_FIX, MAP_POINTER_FIX, Fix, Lesson
from ..provenance import Follow, Origin, Provenance
from .base import ErrorClass


def reason(provenance: Provenance, at: str) -> tuple[str, list[str]] | None:
    """Where the number came from: map memory (a stored pointer), the context, a helper, a constant."""
    origin, base = provenance.origin, provenance.base_value
    if origin is Origin.LOADED:
        if base is not None and base.kind.startswith("map_value"):
            return (
                f"It became a number{at}: that instruction loads 8 bytes from map memory, and the "
                "verifier treats anything loaded from a map value as a scalar, even if the program "
                "stored a pointer there. A linked structure in a map (an allocator's free list, a "
                "list's next field) hits this on the first pointer it follows.",
                [MAP_POINTER_FIX, ALLOCATOR_FIX],
            )
        if base is not None and base.kind == "ctx":
            return (f"It was read from the context{at}; that field is a number, not a pointer the "
                    "verifier tracks.",
                    ["Read kernel memory with bpf_probe_read_kernel() or use BTF-typed access (tp_btf, fentry)."])
        return (f"It was loaded from memory{at}; the verifier does not keep pointer types for values "
                "loaded from memory it does not track.", [MAP_POINTER_FIX])
    if origin is Origin.HELPER_RESULT:
        return (f"It is the result of {provenance.detail}{at}, which returns a number, not a pointer.",
                ["Read through such addresses with bpf_probe_read_kernel(), or use the BTF-typed variant of "
                 "the helper (e.g. bpf_get_current_task_btf)."])
    if origin is Origin.CONSTANT:
        return (f"It was set to the constant {provenance.detail}{at}; a number is never a valid pointer.", [])
    return None


CLASS = ErrorClass(
    name="scalar-deref",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "%s invalid mem access '%s'",
        "R%d invalid mem access '%s'",
    ),
    follow=Follow.VALUE,
    reason=reason,
    lesson=Lesson(
        "scalar-deref",
        "Dereferencing a number the verifier does not know to be a pointer",
        "The verifier tracks a type for every register. It proved that {reg} holds a plain number "
        "(a 'scalar'), and it could not prove that this number points anywhere the program may "
        "touch, so it refuses to read or write memory through it. Only pointers the verifier made "
        "itself can be dereferenced: the stack (R10), the context (R1 at entry), a map value from a "
        "lookup, the packet after a bounds check. A pointer that went through memory the verifier "
        "does not type (a map value, global data, a cast from an integer) comes back as a number.",
        (
            Fix(MAP_POINTER_FIX,
                "struct node { __u64 val; struct node *next; };\n"
                "n = n->next;      /* loaded from map memory: a scalar */\n"
                "sum += n->val;    /* invalid mem access 'scalar' */",
                "struct node { __u64 val; __u32 next; };  /* an index */\n"
                "__u32 i = n->next;\n"
                "if (i >= NODES) return 0;\n"
                "n = &pool[i];     /* a map_value pointer again */\n"
                "sum += n->val;"),
            Fix(ALLOCATOR_FIX,
                "n = n->next;\n"
                "n->val = 1;",
                "#include \"static_malloc.h\"\n"
                "n = static_ptr(n->next);  /* NULL outside the heap */\n"
                "if (n) n->val = 1;"),
            Fix("To read kernel memory at an address you hold as a number, copy it with "
                "bpf_probe_read_kernel(), or use program types with BTF-typed pointers (tp_btf, fentry; "
                "5.5+) that the verifier lets you dereference directly.",
                "struct task_struct *t = (void *)bpf_get_current_task();\n"
                "pid = t->pid;    /* a scalar: refused */",
                "struct task_struct *t = (void *)bpf_get_current_task();\n"
                "bpf_probe_read_kernel(&pid, sizeof(pid), &t->pid);"),
        ),
        ("5.5: BTF-typed pointers (tp_btf, fentry) may be dereferenced directly.",
         "5.18: the log calls a scalar 'scalar'; 5.17 and older print 'inv' (invalid mem access 'inv').",
         "5.19: kptrs (bpf_kptr_xchg) let a map value hold a typed kernel pointer.",
         "6.9: BPF arena maps let a program and user space share memory with real pointers in it."),
    ),
)
