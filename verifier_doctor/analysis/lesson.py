"""A lesson: what the verifier proved, what it could not, and the fixes (data, per class).

Each error class's module (analysis/classes/) holds its lesson; the fix texts more than one
class gives are here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fix:
    """One way out: what to do, and the smallest code that shows it (before -> after)."""

    text: str
    before: str | None = None
    after: str | None = None
    # The messages (the catalogue's keys) this fix is for; empty: any message of its class.
    messages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Lesson:
    """Everything verifier-doctor teaches about one error class."""

    error_class: str
    title: str  # one line, for a list of classes
    explanation: str  # "{reg}" stands for the offending register
    fixes: tuple[Fix, ...]
    versions: tuple[str, ...] = ()  # where the rule or its wording changed, oldest first

    @property
    def before(self) -> str:
        """The snippet of the first fix that has one: the mistake."""
        return next(f.before for f in self.fixes if f.before)

    @property
    def after(self) -> str:
        """The same code, fixed."""
        return next(f.after for f in self.fixes if f.after)

    def fixes_for(self, message: str | None) -> tuple[Fix, ...]:
        """The fixes for a rejection with this message (its catalogue key, or None): those made
        for it first, then those for any message of the class."""
        made_for = tuple(fix for fix in self.fixes if message is not None and message in fix.messages)
        return made_for + tuple(fix for fix in self.fixes if not fix.messages)

    def explain(self, register: str | None = None) -> str:
        return self.explanation.format(reg=register or "the register")


MAP_POINTER_FIX = (
    "Store offsets, not pointers, in map memory: the verifier forgets that a value loaded from a map "
    "was a pointer. Keep `__u32 next_off` and turn it back into a pointer as `pool + next_off` after "
    "bounding it (`if (next_off > POOL_SIZE - sizeof(struct block)) return 0;`)."
)
ALLOCATOR_FIX = (
    "If you need malloc, use the allocator verifier-doctor ships: `#include \"static_malloc.h\"`, "
    "call static_malloc/static_free, and follow stored pointers with `n = static_ptr(n->next)` "
    "(or run `vdoctor fix prog.bpf.c`)."
)
