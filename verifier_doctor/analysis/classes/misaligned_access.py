"""misaligned-access: a load or store at an address not aligned to its size"""

from __future__ import annotations

from ...model import KernelMessage
from ..lesson import Fix, Lesson
from ..provenance import Follow
from .base import ErrorClass


def describe(message: KernelMessage) -> str | None:
    """ "misaligned stack access off 0+-16+4 size 8": the known offset, the instruction's, the size."""
    size = message.number("size")
    if size is None:
        return None
    parts = [message.number(name) for name in ("off", "field2", "field3")]
    known = [p for p in parts if p is not None]
    if not known:
        return None
    total = sum(known)
    return (f"Here the {size}-byte access lands at offset {total} ({' + '.join(map(str, known))}), "
            f"which is not a multiple of {size}.")


CLASS = ErrorClass(
    name="misaligned-access",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "check_generic_ptr_alignment",
        "check_pkt_ptr_alignment",
        "check_ptr_alignment",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "%s access misaligned expected=%u off=%llu",
        "kptr access misaligned expected=%u off=%llu",
    ),
    follow=Follow.OFFSET,
    describe=describe,
    lesson=Lesson(
        "misaligned-access",
        "A load or store at an address not aligned to its size",
        "Where alignment is enforced (strict alignment: the BPF_F_STRICT_ALIGNMENT load flag, "
        "architectures without efficient unaligned access, and always for the stack, for pointer spills "
        "and for some packet accesses), an N-byte access must be at an address that is a multiple of N. "
        "The verifier adds the pointer's known offset, its variable part and the instruction's offset: "
        "their sum here is not a multiple of the access size, or the variable part is not known to be "
        "aligned.",
        (
            Fix("Read unaligned fields byte by byte or with a copy into an aligned local "
                "(__builtin_memcpy), or align the structure (`__attribute__((aligned(8)))`).",
                "char buf[16];\n"
                "__u64 v = *(__u64 *)(buf + 4);   /* 8-byte read at offset 4 */",
                "char buf[16];\n"
                "__u64 v;\n"
                "__builtin_memcpy(&v, buf + 4, sizeof(v));"),
            Fix("Keep variable offsets multiples of the access size (`off &= ~7` before an 8-byte access)."),
        ),
    ),
)
