"""The error classes, one module each: a new class is one new file here, listed below.

`class_of` gives a catalogued message's class: the class naming its format, else the class
owning the kernel function that prints it, else `other` for the catalogue's internal
verifier errors. A message that is in no class is a gap the coverage test reports.
"""

from __future__ import annotations

from ...model import KernelMessage
from . import (
    attach_target,
    btf_access,
    context_access,
    dynptr_misuse,
    exception_callback,
    global_function,
    helper_arg,
    helper_unavailable,
    infinite_loop,
    invalid_insn,
    irq_flag_misuse,
    iterator_misuse,
    load_error,
    lock_misuse,
    map_incompatible,
    map_value_bounds,
    misaligned_access,
    mixed_pointers,
    null_deref,
    other,
    packet_bounds,
    pointer_arith,
    read_only,
    return_value,
    scalar_deref,
    sleepable_context,
    stack_access,
    too_complex,
    unbounded_math,
    uninit_register,
    unprivileged,
    unreleased_reference,
    untrusted_pointer,
)
from .base import ErrorClass

_MODULES = (
    scalar_deref, null_deref, map_value_bounds, unbounded_math, packet_bounds, stack_access,
    uninit_register, context_access, helper_arg, helper_unavailable, too_complex, infinite_loop,
    unreleased_reference, lock_misuse, pointer_arith, return_value, load_error,
    # Added with the message catalogue (2026-12).
    dynptr_misuse, iterator_misuse, irq_flag_misuse, untrusted_pointer, misaligned_access,
    sleepable_context, exception_callback, btf_access, read_only, mixed_pointers, unprivileged,
    map_incompatible, attach_target, invalid_insn, global_function,
    other,
)
CLASSES_BY_NAME: dict[str, ErrorClass] = {m.CLASS.name: m.CLASS for m in _MODULES}
CLASSES: tuple[str, ...] = tuple(CLASSES_BY_NAME)

_BY_MESSAGE: dict[str, str] = {}
_BY_FUNCTION: dict[str, str] = {}
_WHEN_NULLABLE: dict[str, str] = {}
for _cls in CLASSES_BY_NAME.values():
    for _format in _cls.nullable_messages:
        _WHEN_NULLABLE[_format] = _cls.name
    for _format in _cls.messages:
        assert _format not in _BY_MESSAGE, f"{_format!r} is named by two classes"
        _BY_MESSAGE[_format] = _cls.name
    for _function in _cls.functions:
        assert _function not in _BY_FUNCTION, f"{_function} is owned by two classes"
        _BY_FUNCTION[_function] = _cls.name
INTERNAL_CLASS = next(c.name for c in CLASSES_BY_NAME.values() if c.internal)


def class_of(message: KernelMessage) -> str | None:
    """The class of a catalogued message (`other` for the catalogue's verifier bugs)."""
    if message.internal:
        return INTERNAL_CLASS
    if message.may_be_null and message.format in _WHEN_NULLABLE:
        return _WHEN_NULLABLE[message.format]
    return _BY_MESSAGE.get(message.format) or _BY_FUNCTION.get(message.function)


def error_class(name: str) -> ErrorClass:
    return CLASSES_BY_NAME.get(name, CLASSES_BY_NAME[INTERNAL_CLASS])
