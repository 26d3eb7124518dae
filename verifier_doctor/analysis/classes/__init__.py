"""The error classes, one module each: a new class is one new file here, listed below.

`class_of` gives a catalogued message's class: the class naming its format, else the class
owning the kernel function that prints it, else `other` for the catalogue's internal
verifier errors. A message that is in no class is a gap the coverage test reports.

A diagnosis needs one class, so a class's module is imported when its class is first
asked for. Which class owns which message and function is read from every module once and
kept in the user's cache (cache.kept) until a module here changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import import_module

from ...cache import files_stamp, kept
from ...model import KernelMessage
from .base import ErrorClass

MODULES = (
    "scalar_deref", "null_deref", "map_value_bounds", "unbounded_math", "packet_bounds", "stack_access",
    "uninit_register", "context_access", "helper_arg", "helper_unavailable", "too_complex", "infinite_loop",
    "unreleased_reference", "lock_misuse", "pointer_arith", "return_value", "load_error",
    # Added with the message catalogue (2026-12).
    "dynptr_misuse", "iterator_misuse", "irq_flag_misuse", "untrusted_pointer", "misaligned_access",
    "sleepable_context", "exception_callback", "btf_access", "read_only", "mixed_pointers", "unprivileged",
    "map_incompatible", "attach_target", "invalid_insn", "global_function",
    # Issue 22: classes that take over another's rejection from what the trace shows.
    "packet_invalidated", "use_after_release", "helper_unbounded", "verifier_bug", "dynptr_slice_rdwr",
    "other",
)


def _read_index() -> dict:
    """Every module's class: its name, and what it owns (messages, functions, the
    messages it takes when the pointer may be NULL)."""
    by_message: dict[str, str] = {}
    by_function: dict[str, str] = {}
    when_nullable: dict[str, str] = {}
    takers: dict[str, list[str]] = {}
    modules: dict[str, str] = {}
    internal = None
    for module in MODULES:
        cls: ErrorClass = import_module(f"{__name__}.{module}").CLASS
        modules[cls.name] = module
        for fmt in cls.nullable_messages:
            when_nullable[fmt] = cls.name
        for fmt in cls.messages:
            assert fmt not in by_message, f"{fmt!r} is named by two classes"
            by_message[fmt] = cls.name
        for function in cls.functions:
            assert function not in by_function, f"{function} is owned by two classes"
            by_function[function] = cls.name
        for taken in cls.takes_over:
            takers.setdefault(taken, []).append(cls.name)
        if cls.internal:
            internal = cls.name
    return {"modules": modules, "by_message": by_message, "by_function": by_function,
            "when_nullable": when_nullable, "internal": internal, "takers": takers}


@cache
def _index() -> dict:
    folder = os.path.dirname(__file__)
    return kept("classes", files_stamp(os.path.join(folder, f"{name}.py") for name in ("base", *MODULES)),
                _read_index)


class _Classes(Mapping):
    """Class name -> ErrorClass, in MODULES' order; a module is imported on first use."""

    def __getitem__(self, name: str) -> ErrorClass:
        module = _index()["modules"][name]  # KeyError: no such class
        return import_module(f"{__name__}.{module}").CLASS

    def __iter__(self) -> Iterator[str]:
        return iter(_index()["modules"])

    def __len__(self) -> int:
        return len(_index()["modules"])


CLASSES_BY_NAME: Mapping[str, ErrorClass] = _Classes()


def __getattr__(name: str):
    # CLASSES and INTERNAL_CLASS are read from the index when first asked for.
    if name == "CLASSES":
        return tuple(_index()["modules"])
    if name == "INTERNAL_CLASS":
        return _index()["internal"]
    raise AttributeError(name)


def class_of(message: KernelMessage) -> str | None:
    """The class of a catalogued message: the class naming its format, else `verifier-bug`
    for the catalogue's internal errors, else the class owning the function printing it."""
    index = _index()
    if message.may_be_null and message.format in index["when_nullable"]:
        return index["when_nullable"][message.format]
    if message.format in index["by_message"]:
        # A class may name an internal message whose cause is the program's (a tail call
        # through a map that is not a prog array: "kernel subsystem misconfigured verifier").
        return index["by_message"][message.format]
    if message.internal:
        return index["internal"]
    return index["by_function"].get(message.function)


def takers_of(name: str) -> tuple[ErrorClass, ...]:
    """The classes that may take over a rejection of class `name` (ErrorClass.takes_over)."""
    return tuple(CLASSES_BY_NAME[taker] for taker in _index()["takers"].get(name, ()))


FALLBACK = "other"  # a message of no kernel the catalogue was made from


def error_class(name: str) -> ErrorClass:
    """A class by name (`other`'s for a name no class has)."""
    return CLASSES_BY_NAME.get(name) or CLASSES_BY_NAME[FALLBACK]
