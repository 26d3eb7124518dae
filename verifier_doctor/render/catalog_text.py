"""The catalogue for a person: the list of classes, or one class taught from its reproducers."""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..catalog import ClassSummary, Coverage, Entry, KernelRun, Reproducer

_INDENT = "    "


def render_catalog_list(items: list[ClassSummary], console: Console) -> None:
    """`vdoctor catalog`: every class, its title, its reproducers and the kernels with logs."""
    table = Table(box=None, padding=(0, 2), pad_edge=False, show_edge=False)
    table.add_column("class", style="bold", no_wrap=True)
    table.add_column("what goes wrong")
    table.add_column("reproducers", justify="right", no_wrap=True)
    table.add_column("kernels with logs", no_wrap=True)
    for item in items:
        table.add_row(Text(item.error_class), Text(item.title), str(item.reproducers),
                      " ".join(item.kernels) or "-")
    console.print(table)
    console.print(Text("vdoctor catalog CLASS shows a class's minimal reproducer, its log on each kernel, "
                       "and how to fix it.", style="dim"))


def render_catalog_entry(entry: Entry, console: Console) -> None:
    """`vdoctor catalog CLASS`: the minimal reproducer, its log on each kernel, why, the fix."""
    taught = entry.lesson
    console.print(Text.assemble((entry.error_class, "bold"), ": ", taught.title))
    kernels = sorted({run.kernel for r in entry.reproducers for run in r.runs},
                     key=lambda k: tuple(int(p) for p in k.split(".") if p.isdigit()))
    console.print(f"  {len(entry.reproducers)} reproducer(s) in fixtures/programs; "
                  f"logs from {', '.join(kernels) or 'no kernel'}", highlight=False)
    minimal = entry.minimal
    if minimal is not None:
        _reproducer(minimal, console)
    _section(console, "why")
    _prose(console, entry.explanation)
    for number, fix in enumerate(taught.fixes, start=1):
        _section(console, f"fix {number}" if len(taught.fixes) > 1 else "fix")
        _prose(console, fix.text)
        if fix.before and fix.after:
            _code(console, "before", fix.before, "red")
            _code(console, "after", fix.after, "green")
    _repair(entry, console)
    if taught.versions:
        _section(console, "across kernel versions")
        for note in taught.versions:
            _prose(console, f"- {note}")
    others = entry.reproducers[1:]
    if others:
        _section(console, "other reproducers")
        for other in others:
            console.print(f"{_INDENT}{other.name}  ({other.path}, {other.lines} lines)", markup=False,
                          highlight=False)
            for line in _summary(other):
                _prose(console, line, len(_INDENT) + 2)


def _repair(entry: Entry, console: Console) -> None:
    """`vdoctor fix`'s rule for the class, and its patch for a reproducer."""
    from ..catalog import repair_of

    found = repair_of(entry)
    if found is None:
        return
    _section(console, "repair (vdoctor fix)")
    _prose(console, f"The rule: {found.rule}. vdoctor fix builds and loads each candidate and keeps "
                    "the smallest that loads.")
    if found.diff:
        _prose(console, f"Its first candidate for {found.reproducer}: {found.why}.")
        _code(console, "diff", found.diff.rstrip("\n"), "green")


def _prose(console: Console, text: str, indent: int = len(_INDENT)) -> None:
    """A paragraph wrapped under its own indentation, never inside `a->b` or a word."""
    width = max(40, (console.width or 100) - 1)
    pad = " " * indent
    console.print(textwrap.fill(text, width, initial_indent=pad, subsequent_indent=pad,
                                break_on_hyphens=False, break_long_words=False),
                  markup=False, highlight=False)


def _section(console: Console, title: str) -> None:
    console.print()
    console.print(Text(f"  {title}", style="bold"))


def _code(console: Console, label: str, code: str, style: str) -> None:
    console.print(Text(f"{_INDENT}{label}:", style=style))
    for line in code.splitlines():
        console.print(f"{_INDENT}  | {line}", markup=False, highlight=False, soft_wrap=True)


def _reproducer(reproducer: Reproducer, console: Console) -> None:
    _section(console, f"minimal reproducer: {reproducer.name}  ({reproducer.path}, {reproducer.lines} lines)")
    for number, line in enumerate(reproducer.source.splitlines(), start=1):
        console.print(f"{_INDENT}{number:3d} | {line}", markup=False, highlight=False, soft_wrap=True)
    if not reproducer.runs:
        _prose(console, reproducer.note or "No log of it was recorded.")
        return
    _section(console, "on each kernel")
    table = Table(box=None, show_header=True, padding=(0, 2), pad_edge=False, show_edge=False)
    for column in (f"{_INDENT}kernel", "verdict", "error line", ""):
        table.add_column(column, no_wrap=column != "error line")
    for run in reproducer.runs:
        table.add_row(Text(f"{_INDENT}{run.kernel}"), Text(_verdict(run)), Text(run.message or "-"),
                      Text(_mark(run), style="yellow"))
    console.print(table)
    for kernels, run in _grouped(reproducer.runs):
        mark = _mark(run)
        head = f"{_INDENT}== {', '.join(kernels)}: {run.log}" + (f"  ({mark})" if mark else "") + " =="
        console.print(Text(head, style="dim" if not mark else "yellow"), soft_wrap=True)
        for line in run.excerpt:
            console.print(f"{_INDENT}  {line}", markup=False, highlight=False, soft_wrap=True)
    culprit = reproducer.runs[-1]
    if culprit.culprit_source:
        _prose(console, f"the value went wrong at `{culprit.culprit_source.strip()}` ({culprit.culprit_note}), "
                        f"as the diagnosis of the {culprit.kernel} log traces it")


def _verdict(run: KernelRun) -> str:
    if run.verdict == "rejected" and run.error_class:
        return f"rejected [{run.error_class}]"
    return run.verdict


def _mark(run: KernelRun) -> str:
    marks = []
    if run.classified_differently:
        marks.append(f"classified {run.error_class} on this kernel")
    if run.worded_differently:
        marks.append("worded differently")
    return "; ".join(marks)


def _grouped(runs: tuple[KernelRun, ...]) -> list[tuple[list[str], KernelRun]]:
    """Consecutive kernels whose excerpts are the same line for line, shown once."""
    groups: list[tuple[list[str], KernelRun]] = []
    for run in runs:
        if groups and groups[-1][1].excerpt == run.excerpt and _mark(groups[-1][1]) == _mark(run):
            groups[-1][0].append(run.kernel)
        else:
            groups.append(([run.kernel], run))
    return groups


def _summary(reproducer: Reproducer) -> list[str]:
    """What the newest kernel's log says of it: the error, where, and the culprit."""
    if not reproducer.runs:
        return [reproducer.note or "No log of it was recorded."]
    run = reproducer.runs[-1]
    lines = [f"{run.kernel}: {run.message or run.verdict}"]
    if run.error_source:
        lines.append(f"rejected at `{run.error_source.strip()}`")
    if run.culprit_source:
        lines.append(f"the value went wrong at `{run.culprit_source.strip()}` ({run.culprit_note})")
    return lines


def render_coverage(item: Coverage, console: Console) -> None:
    """Per kernel: the verifier's rejection messages, and how many we class, teach, reproduce."""
    table = Table(box=None, pad_edge=False, show_edge=False)
    for title in ("kernel", "rejection messages", "classed", "internal", "taught", "reproduced"):
        table.add_column(title, justify="left" if title == "kernel" else "right")
    for k in item.kernels:
        table.add_row(k.kernel, str(k.messages), str(k.classed), str(k.internal), str(k.taught), str(k.reproduced))
    console.print(table)
    console.print("classed: in a class, not by the catalogue's internal mark; internal: the kernel's own "
                  "errors the catalogue marks (`verifier-bug`, or a class that names one); taught: in a class with a lesson and a reproducer; reproduced: "
                  "printed by one of our recorded logs on that kernel.", markup=False, highlight=False)
    gaps = sorted({f for k in item.kernels for f in k.unclassed})
    if gaps:
        console.print(f"{len(gaps)} message(s) in no class:", markup=False)
        for fmt in gaps:
            console.print(f"  {fmt}", markup=False, highlight=False)
