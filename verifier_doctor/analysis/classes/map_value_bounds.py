"""map-value-bounds: an access that may fall outside the map value"""

from __future__ import annotations

from ...model import KernelMessage
from ..lesson import Fix, Lesson
from ..provenance import Follow
from ..reasons import offset_read_from_memory
from .base import ErrorClass


def describe(message: KernelMessage) -> str | None:
    """ "invalid access to map value, value_size=12 off=20 size=4" in words."""
    off, size = message.number("off"), message.number("size")
    for field, what in (("value_size", "map value"), ("key_size", "map key"), ("mem_size", "memory region"),
                        ("ctx_size", "context")):
        total = message.number(field)
        if total is not None and off is not None and size is not None:
            where = "before its start" if off < 0 else f"ending at byte {off + size}, past its end"
            return (f"Here the verifier saw a {size}-byte access at offset {off} of a {total}-byte "
                    f"{what}: {where}.")
    return None


CLASS = ErrorClass(
    name="map-value-bounds",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "__check_buffer_access",
        "__check_mem_access",
        "check_map_access",
        "check_map_mem_read",
        "check_mem_region_access",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "invalid access to map value pointer, value_size=%u off=%u",
    ),
    follow=Follow.OFFSET,
    describe=describe,
    reason=offset_read_from_memory,
    lesson=Lesson(
        "map-value-bounds",
        "An access that may fall outside the map value",
        "The verifier proved that {reg} points into a map value of a known size, and it tracks the "
        "smallest and largest offset the pointer can have. It could not prove that every byte of "
        "this access lies inside the value: the offset's proven minimum is negative, or its maximum "
        "plus the access size goes past the end. A check on a different variable, or one off by one, "
        "leaves the range too wide.",
        (
            Fix("Bound the index right before the access, on the same variable the access uses, with "
                "`>=` against the number of elements: `if (i >= MAX) return 0;`, or mask it with "
                "`i &= MAX - 1;` when MAX is a power of two.",
                "if (i > MAX)             /* allows i == MAX */\n"
                "        return 0;\n"
                "val->slot[i] = 1;        /* slot has MAX elements */",
                "if (i >= MAX)\n"
                "        return 0;\n"
                "val->slot[i] = 1;"),
            Fix("Use an unsigned type for indexes: then a single upper check bounds both ends, and the "
                "verifier never sees a negative minimum ('min value is negative').",
                "int i = ctx_field;\n"
                "if (i >= MAX) return 0;  /* i may still be < 0 */\n"
                "val->slot[i] = 1;",
                "__u32 i = ctx_field;\n"
                "if (i >= MAX) return 0;\n"
                "val->slot[i] = 1;"),
        ),
        ("5.7: the verifier tracks 32-bit bounds separately, so a check on a 32-bit (w) register "
         "bounds it without casts.",),
    ),
)
