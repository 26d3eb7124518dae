"""iterator-misuse: an open-coded iterator used before _new, after _destroy, or not on the stack"""

from __future__ import annotations

from ...model import ProgramTrace
from ..finders import stack_object_culprit
from ..findings import Culprit, ErrorInfo
from ..lesson import Fix, Lesson
from ..provenance import Follow
from .base import ErrorClass


# The rejections of a _new given an iterator that is live already (the catalogue's keys:
# "expected uninitialized iter_num as arg #0" until 6.x, "... as R1" from 7.2).
_ALREADY_MADE = (
    "expected uninitialized iter_%s as arg #%d",
    "expected uninitialized iter_%s as %s",
)


def culprit(trace: ProgramTrace, error: ErrorInfo) -> Culprit | None:
    """The iterator's last call before this one (the _destroy before a _next); for a second
    _new, the call that made the iterator (its first on the path); or, when the iterator is
    not at a constant stack offset, where the offset came from."""
    if error.kernel is not None and error.kernel.format in _ALREADY_MADE:
        return stack_object_culprit(trace, "the iterator was made here, and is still live", first=True)
    return stack_object_culprit(trace, "the last call that was given this iterator")


CLASS = ErrorClass(
    name="iterator-misuse",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "iter_get_spi",
        "mark_stack_slots_iter",
        "process_iter_arg",
        "process_iter_next_call",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "css_task_iter is only allowed in bpf_lsm, bpf_iter and sleepable progs",
    ),
    follow=Follow.VALUE,
    culprit=culprit,
    lesson=Lesson(
        "iterator-misuse",
        "An open-coded iterator used before _new, after _destroy, or not on the stack",
        "Open-coded iterators (6.4+: bpf_iter_num, bpf_iter_task, bpf_for(), bpf_repeat()) live in stack "
        "slots the verifier tracks: bpf_iter_X_new() makes one, bpf_iter_X_next() may only be called on "
        "an initialised one, and bpf_iter_X_destroy() must end it on every path. It refused this call "
        "because the iterator is not initialised here (never created, or already destroyed), is created "
        "twice, or is not a plain local on the stack.",
        (
            Fix("Use the bpf_for()/bpf_repeat() macros, which pair new, next and destroy for you.",
                "struct bpf_iter_num it;\n"
                "int *v;\n"
                "while ((v = bpf_iter_num_next(&it)))   /* never created */\n"
                "        sum += *v;",
                "int i;\n"
                "bpf_for(i, 0, 100)\n"
                "        sum += i;"),
            Fix("When you call the kfuncs yourself, call _new before the loop, check nothing returns "
                "early between _new and _destroy, and call _destroy on every path."),
        ),
        ("6.4: open-coded numeric iterators.", "6.7: task, css and other kernel object iterators."),
    ),
)
