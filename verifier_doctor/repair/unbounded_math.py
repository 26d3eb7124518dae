"""unbounded-math: an index the verifier could not bound; the rule of map_value_bounds.py (an unsigned
compare against the array's length, which also bounds a signed index from below)."""

from __future__ import annotations

from . import Candidate, Context
from .map_value_bounds import bound_candidates


def candidates(ctx: Context) -> list[Candidate]:
    return bound_candidates(ctx, "unbounded-math")
