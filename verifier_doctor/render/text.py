"""The diagnosis for a person: verdict, error, culprit, history, why, how to fix.

Everything quoted from a log or a program is printed as plain text (`_say`, rich Text),
never read as rich markup: a source line may hold "[/]".
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..analysis.diagnosis import Diagnosis
from ..model import SourceLine


def _source_text(source: SourceLine | None) -> str:
    if source is None:
        return "(no source line in the log)"
    where = f"  ({source.file}:{source.line})" if source.file and source.line else ""
    return source.text + where


def source_context(source: SourceLine | None, program_source: list[str] | None, around: int = 2) -> list[str]:
    """Lines of the user's file around a source line: by its number when the log gives
    one, else by finding the text (logs before v6.2 print no line numbers)."""
    if source is None or not program_source:
        return []
    index = None
    if source.line is not None and 0 < source.line <= len(program_source):
        index = source.line - 1
    else:
        wanted = source.text.strip()
        matches = [i for i, line in enumerate(program_source) if line.strip() == wanted]
        if not matches:
            matches = [i for i, line in enumerate(program_source) if wanted and wanted in line]
        index = matches[0] if len(matches) == 1 else None
    if index is None:
        return []
    low, high = max(0, index - around), min(len(program_source), index + around + 1)
    return [f"{'>' if i == index else ' '} {i + 1:4d} | {program_source[i]}" for i in range(low, high)]


def output_stream(stream):
    """`stream` as the text output writes to it: a character its encoding lacks (LANG=C,
    PYTHONIOENCODING=ascii, a log's non-ASCII bytes, rich's '…') becomes '?', not an error."""
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("_", "-")
    if encoding in ("utf-8", "utf8") or not isinstance(stream, io.TextIOWrapper):
        return stream
    try:
        stream.reconfigure(errors="replace")
    except (AttributeError, ValueError):
        pass
    return stream


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False)


def read_program_source(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    return path.read_text(errors="replace").splitlines()


def render_text(diagnosis: Diagnosis, console: Console, program_source: list[str] | None = None) -> None:
    name = diagnosis.program or "program"
    if diagnosis.verdict == "accepted":
        console.print(Text.assemble((f"{name}: ", "bold"), ("accepted", "bold green")))
        _stats(diagnosis, console)
        _log_info(diagnosis, console)
        return
    error = diagnosis.error
    assert error is not None
    console.print(Text.assemble((f"{name}: ", "bold"), ("rejected", "bold red"), f"  [{error.error_class}]"))
    console.print(Text.assemble(("  error    ", "bold"), error.message))
    for extra in error.details:
        if extra != error.message:
            _say(console, f"           {extra}")
    if error.insn is not None:
        _say(console, f"           at instruction {error.insn}: {error.insn_text or ''}")
        _say(console, f"           source: {_source_text(error.source)}")
        for line in source_context(error.source, program_source):
            _say(console, f"           {line}")
    culprit = diagnosis.culprit
    if culprit is not None:
        console.print(Text.assemble(("  culprit  ", "bold yellow"),
                                    f"instruction {culprit.insn}: {culprit.insn_text}  "
                                    f"({culprit.location} {culprit.note})"))
        _say(console, f"           source: {_source_text(culprit.source)}")
        for line in source_context(culprit.source, program_source):
            _say(console, f"           {line}")
    if diagnosis.history:
        console.print(Text(f"  history of {error.register or 'the value'}, oldest first:", style="bold"))
        table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
        for column in ("insn", "text", "value", "note", "source"):
            table.add_column(column, no_wrap=column != "source")
        for item in diagnosis.history:
            value = f"{item.location}={item.value}" if item.value else item.location
            source = f"; {item.source.text}" if item.source else ""
            table.add_row(*(Text(cell) for cell in (f"    {item.insn}:", item.text, value, item.note, source)))
        console.print(table)
    prose = Table.grid(padding=(0, 1))
    prose.add_column(width=9, style="bold", no_wrap=True)
    prose.add_column()
    prose.add_row("  why", Text(diagnosis.explanation))
    for number, suggestion in enumerate(diagnosis.suggestions, start=1):
        prose.add_row(Text("  fix" if number == 1 else "", style="bold green"), Text(f"{number}. {suggestion}"))
    for caveat in diagnosis.caveats:
        prose.add_row("  note", Text(caveat))
    console.print(prose)
    _stats(diagnosis, console)
    kernel = diagnosis.kernel_diagnosis
    if kernel is not None:
        table = Table.grid(padding=(0, 1))
        table.add_column(width=9, no_wrap=True)
        table.add_column()
        table.add_row(Text("  kernel", style="bold"), Text(f"the kernel's own diagnosis (v7.3+): {kernel.verdict}"))
        table.add_row("", Text(kernel.reason))
        for place in kernel.causal_path:
            if place.note:
                table.add_row("", Text(f"{place.file}:{place.line}: {place.note}"))
        if kernel.suggestion:
            table.add_row("", Text(f"suggests: {kernel.suggestion}"))
        console.print(table)
    _log_info(diagnosis, console)


def _stats(diagnosis: Diagnosis, console: Console) -> None:
    stats = diagnosis.stats
    if stats is None:
        return
    states = stats.counter("total_states")
    peak = stats.counter("peak_states")
    extra = f", {states} states (peak {peak})" if states is not None else ""
    _say(console, f"  stats    {stats.processed_insns} instructions processed (limit {stats.insn_limit}){extra}")


def _log_info(diagnosis: Diagnosis, console: Console) -> None:
    console.print(f"  log      level {diagnosis.log_level}, format {diagnosis.log_format.value}",
                  style="dim", highlight=False, markup=False)


def render_run(result, console: Console) -> None:
    """A BPF_PROG_TEST_RUN result (kernel.runner.RunResult)."""
    console.print(f"  run      {result.repeat} time(s): returned {result.retval}, "
                  f"{result.duration_ns} ns per run")
    for line in result.printed:
        _say(console, f"  printed  {line}")


def render_matrix(results: dict[str, list[Diagnosis]], console: Console,
                  unloaded: dict[str, str] | None = None) -> None:
    """Programs x kernels: accepted, or the class of the rejection and its instruction (@N).

    `unloaded` gives the cell of a kernel nothing was loaded into (the program did not build)."""
    programs: list[str] = []
    for diagnoses in results.values():
        for diagnosis in diagnoses:
            if diagnosis.program not in programs:
                programs.append(diagnosis.program or "?")
    table = Table(title="verdict per kernel")
    table.add_column("program")
    for version in results:
        table.add_column(version)
    for name in programs:
        row = [name]
        for version, diagnoses in results.items():
            found = next((d for d in diagnoses if d.program == name), None)
            if found is None:
                row.append((unloaded or {}).get(version, "-"))
            elif found.verdict == "accepted":
                row.append("accepted")
            elif found.error is None:
                row.append("rejected")
            elif found.error.insn is None:
                row.append(found.error.error_class)
            else:  # the class and the rejected instruction, as compact as a cell allows
                row.append(f"{found.error.error_class} @{found.error.insn}")
        table.add_row(*row)
    console.print(table)
