"""scalar-deref: a pointer the verifier no longer trusts is a number to it.

A packet pointer used after a helper that may move the packet: stale_packet.py reloads it.

In a program that uses the shipped allocator, the pointer is a heap address: the value is
wrapped in `static_ptr(...)` where it is loaded (the culprit), which turns it back into a
pointer the verifier accepts (bounded to the heap). In other programs the fix is a design
change (offsets or keys instead of pointers), which no patch makes.
"""

from __future__ import annotations

from . import Candidate, Context, stale_packet
from .csource import Edit, assignments

RULE = "scalar-deref"
ALLOCATOR = "static_malloc.h"


def candidates(ctx: Context) -> list[Candidate]:
    return stale_packet.candidates(ctx) + _static_ptr(ctx)


def _static_ptr(ctx: Context) -> list[Candidate]:
    tree, site = ctx.tree, ctx.site
    found = tree.place(site.culprit_line)
    if found is None or ALLOCATOR not in tree.includes:
        return []
    out = []
    for variable, value in assignments(tree, found[1]):
        if value is None or variable.type.get_canonical().kind.name != "POINTER":
            continue
        text = tree.text(value)
        out.append(Candidate(
            f"{RULE}: static_ptr() where {variable.spelling} is loaded",
            (Edit(value.start, value.start, "static_ptr("), Edit(value.end, value.end, ")")),
            f"{variable.spelling} is loaded from map memory ({text}), where the verifier sees a number: "
            f"static_ptr() turns the heap address back into a pointer (NULL stays NULL)"))
    return out
