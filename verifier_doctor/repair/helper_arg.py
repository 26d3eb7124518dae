"""helper-arg: a helper given a pointer that may be NULL (a reservation or a lookup not
checked, a function that returns NULL on failure): the null-deref rule's check, right after
the pointer is set. Other helper-arg rejections (a wrong type, a size) have no rule; their
candidates are none, or fail to load and are reported."""

from __future__ import annotations

from . import Candidate, Context
from .null_deref import candidates as null_checks


def candidates(ctx: Context) -> list[Candidate]:
    return [c for c in null_checks(ctx) if c.rule.startswith("null-deref: check") and "parameter" not in c.rule]
