"""The cost profile (analysis/profile.py) as text and as the "profile" part of the JSON."""

from __future__ import annotations

from typing import Any

from ..analysis.profile import Loop, Profile
from ..model import SourceLine, Stats
from .screen import Screen

TOP_LINES = 10  # source lines shown in text (JSON has them all)
TOP_LOOPS = 3
HOT_SHARE = 0.05  # loops shown in text: those with at least this share of the steps (JSON: all)
_LIMIT_WORDS = {"insns": "1M processed instructions", "jumps": "8192 pending branches"}


def _where(source: SourceLine | None) -> str:
    if source is None:
        return "?"
    if source.file is not None:
        return f"{source.file}:{source.line}"
    return source.text.strip()[:40]


def _source(source: SourceLine | None) -> dict[str, Any] | None:
    if source is None:
        return None
    return {"file": source.file, "line": source.line, "text": source.text}


def loop_to_dict(loop: Loop) -> dict[str, Any]:
    return {
        "source": _source(loop.source),
        "head_insn": loop.head,
        "latch_insns": list(loop.latches or (loop.latch,)),
        "visits": loop.visits,
        "insns": loop.insns,
        "insns_per_iteration": loop.insns_per_iteration,
        "pending_branches_per_iteration": loop.pending_branches_per_iteration,
        "max_iterations": loop.max_iterations,
        "limit": loop.limit,
        "not_pruned_because": [
            {"location": d.location, "kind": d.kind, "values": list(d.values), "insn": d.insn,
             "insn_text": d.insn_text, "source": _source(d.source), "words": d.words}
            for d in loop.differences],
        "header_calls": [
            {"call_site": _source(c.call_site), "file": c.file, "insns_per_iteration": c.insns_per_iteration}
            for c in loop.header_calls],
        "fixes": list(loop.fixes),
    }


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    return {
        "processed_insns": profile.processed_insns,
        "steps_in_log": profile.steps,
        "whole_walk": profile.complete,
        "paths_from_stack": profile.paths,
        "lines": [{"source": _source(line.source), "insns": line.insns, "states": line.states,
                   "inlined_insns": line.inlined, "header": line.is_header} for line in profile.lines],
        "files": [{"file": f.file, "insns": f.insns} for f in profile.files],
        "loops": [loop_to_dict(loop) for loop in profile.loops],
    }


def render_profile(profile: Profile, screen: Screen) -> None:
    """Where the budget went: the hot lines, then the loops, each with why its states did
    not prune and what to do."""
    kept = "" if profile.steps >= profile.processed_insns else f" ({profile.steps:,} in the log, the rest pruned)" \
        if profile.complete else (
        f" (the log holds the last {profile.steps:,} of them: the kernel kept its end)")
    screen.print(("  profile  ", "bold"), f"{profile.processed_insns:,} instructions processed{kept}")
    rows = [("           insns", "inlined", "states", "line")]
    for line in profile.lines[:TOP_LINES]:
        rows.append((f"           {line.insns:5,}", f"{line.inlined:,}" if line.inlined else "",
                     f"{line.states:,}" if line.states else "",
                     f"{_where(line.source)}  {line.source.text.strip()}"))
    screen.columns(rows)
    for loop in [loop for loop in profile.loops if loop.insns >= profile.steps * HOT_SHARE][:TOP_LOOPS]:
        screen.print(("  loop     ", "bold"),
                     f"{_where(loop.source)}: {loop.insns_per_iteration:,.0f} insns and "
                     f"{loop.pending_branches_per_iteration:g} undecided branches per trip, head visited "
                     f"{loop.visits:,} times; at most {loop.max_iterations:,} trips fit "
                     f"({_LIMIT_WORDS[loop.limit]})")
        # Paths taken from the stack: the trips at the log's end are those paths, without the
        # first pass down the loop that left them pending, before the log's start.
        rows = [] if profile.complete or not profile.paths else [
            ("", "the log holds only the end of the walk: the trips it shows lack their first pass down the "
                 "loop, so each costs more and fewer fit than said here")]
        rows += [("", f"not pruned: {d.words}") for d in loop.differences]
        rows += [("", f"{c.insns_per_iteration:,.0f} insns per trip are {c.file} code inlined from "
                      f"{_where(c.call_site)} (`{c.call_site.text.strip()}`)") for c in loop.header_calls[:2]]
        rows += [(("  fix" if number == 1 else ""), f"{number}. {fix}") for number, fix in enumerate(loop.fixes, 1)]
        screen.labelled(rows, label_style="bold")


def render_table(kernel: str, diagnoses: list, screen: Screen) -> None:
    """`try --profile`'s table for one kernel: each program's verdict and cost."""
    screen.print(f"== kernel {kernel} ==", style="bold")
    rows = [TABLE_HEAD]
    for diagnosis in diagnoses:
        verdict = diagnosis.verdict if diagnosis.error is None else f"{diagnosis.verdict} [{diagnosis.error.error_class}]"
        rows.append(table_row(diagnosis.program or "?", verdict, diagnosis.stats))
    screen.columns(rows)


def table_row(name: str, verdict: str, stats: Stats | None) -> tuple[str, ...]:
    """One program's row of `try --profile`'s table (veristat's columns)."""
    def counter(key: str) -> str:
        value = stats.counter(key) if stats is not None else None
        return "-" if value is None else f"{value:,}"

    insns = f"{stats.processed_insns:,}" if stats is not None else "-"
    return (name, verdict, insns, counter("total_states"), counter("peak_states"),
            counter("verification_time_usec"), counter("stack_depth"))


TABLE_HEAD = ("program", "verdict", "insns", "states", "peak", "time us", "stack")
