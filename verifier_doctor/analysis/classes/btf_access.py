"""btf-access: a read or write through a BTF-typed kernel pointer that the kernel's types do not allow"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from ..provenance import Follow
from .base import ErrorClass

CLASS = ErrorClass(
    name="btf-access",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "btf_struct_access",
        "btf_struct_walk",
        "check_ptr_to_map_access",
        "mark_btf_ld_reg",
    ),
    follow=Follow.OFFSET,
    lesson=Lesson(
        "btf-access",
        "A read or write through a BTF-typed kernel pointer that the kernel's types do not allow",
        "A pointer the verifier knows by its kernel type (a `struct task_struct *` in a tp_btf or fentry "
        "program, a map's own `struct bpf_map`) may be dereferenced directly, but only where the kernel's "
        "BTF says a field lies, and mostly only for reading: the verifier walks the type to the offset "
        "and size of the access. It could not find a field there (beyond the struct, between members, "
        "into a member of another size), or the access writes where only reads are allowed.",
        (
            Fix("Read fields through the typed pointer, at their real offsets: use the kernel's struct "
                "definition (vmlinux.h) and BPF_CORE_READ(), never a hand-made struct or a raw offset.",
                "struct my_task { int pad[300]; int pid; };  /* guessed layout */\n"
                "pid = ((struct my_task *)task)->pid;",
                '#include "vmlinux.h"\n'
                "pid = BPF_CORE_READ(task, pid);"),
            Fix("Do not write through pointers to kernel objects or to a map's own struct; keep your data "
                "in a map value and change it there."),
        ),
        ("5.5: BTF-typed pointers in tracing programs.", "5.17: reads of a map's struct through its map pointer."),
    ),
)
