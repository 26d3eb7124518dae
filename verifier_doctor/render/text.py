"""The diagnosis for a person: verdict, error, culprit, history, why, how to fix.

Everything quoted from a log or a program is printed as plain text (render.screen never
reads markup): a source line may hold "[/]".
"""

from __future__ import annotations

import io
from pathlib import Path

from ..analysis.diagnosis import Diagnosis
from ..model import LogFormat, SourceLine
from .screen import Screen


def _source_text(source: SourceLine | None) -> str:
    if source is None:
        return "(no source line in the log)"
    where = f"  ({source.file}:{source.line})" if source.file and source.line else ""
    return source.text + where


def line_in_source(source: SourceLine | None, program_source: list[str] | None) -> int | None:
    """The 1-based line of a source line in the program's text: the log's number when it
    has one, else the one line whose text it is (None when absent or ambiguous; logs before
    v6.2 print no line numbers)."""
    if source is None:
        return None
    if source.line is not None:
        return source.line
    if not program_source:
        return None
    wanted = source.text.strip()
    for same in (lambda line: line.strip() == wanted, lambda line: bool(wanted) and wanted in line):
        found = [number for number, line in enumerate(program_source, 1) if same(line)]
        if found:
            return found[0] if len(found) == 1 else None
    return None


def source_context(source: SourceLine | None, program_source: list[str] | None, around: int = 2) -> list[str]:
    """Lines of the user's file around a source line (line_in_source finds it)."""
    if source is None or not program_source:
        return []
    number = line_in_source(source, program_source)
    if number is None or not 0 < number <= len(program_source):
        return []
    index = number - 1
    low, high = max(0, index - around), min(len(program_source), index + around + 1)
    return [f"{'>' if i == index else ' '} {i + 1:4d} | {program_source[i]}" for i in range(low, high)]


def source_file(source: SourceLine | None, source_path: Path | None) -> str | None:
    """The program's file as the user named it (the log names only its base name), else
    the log's name for it."""
    if source_path is not None and (source is None or source.file is None
                                    or Path(source.file).name == source_path.name):
        return str(source_path)
    return source.file if source is not None else None


def head_line(diagnosis: Diagnosis, program_source: list[str] | None, source_path: Path | None) -> str | None:
    """`file:line:col: error[class]: message`, as compilers print it (editors and CI
    problem matchers read it), when the rejected line's file and number are known; the
    column is the kernel's (v7.3+), else where the line's code starts (1 without the
    program's text)."""
    error = diagnosis.error
    if error is None or error.source is None:
        return None
    line = line_in_source(error.source, program_source)
    name = source_file(error.source, source_path)
    if line is None or name is None:
        return None
    column = 1
    at = diagnosis.kernel_diagnosis.at if diagnosis.kernel_diagnosis is not None else None
    if at is not None and at.line == line and at.column > 0:
        column = at.column  # v7.3 prints the column of the rejected expression
    elif program_source and 0 < line <= len(program_source):
        text = program_source[line - 1]
        column = len(text) - len(text.lstrip()) + 1
    return f"{name}:{line}:{column}: error[{error.error_class}]: {error.message}"


def output_stream(stream):
    """`stream` as the text output writes to it: a character its encoding lacks (LANG=C,
    PYTHONIOENCODING=ascii, a log's non-ASCII bytes, a source line's) becomes '?', not an error."""
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("_", "-")
    if encoding in ("utf-8", "utf8") or not isinstance(stream, io.TextIOWrapper):
        return stream
    try:
        stream.reconfigure(errors="replace")
    except (AttributeError, ValueError):
        pass
    return stream


def read_program_source(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    return path.read_text(errors="replace").splitlines()


def _profile(diagnosis: Diagnosis, screen: Screen) -> None:
    if diagnosis.profile is not None:
        from .profile import render_profile

        render_profile(diagnosis.profile, screen)


def render_text(diagnosis: Diagnosis, screen: Screen, program_source: list[str] | None = None,
                source_path: Path | None = None) -> None:
    name = diagnosis.program or "program"
    head = head_line(diagnosis, program_source, source_path) if diagnosis.verdict == "rejected" else None
    if head is not None:
        screen.print(head, style="bold")
    if diagnosis.verdict == "accepted":
        screen.print((f"{name}: ", "bold"), ("accepted", "bold green"))
        _stats(diagnosis, screen)
        _profile(diagnosis, screen)
        _log_info(diagnosis, screen)
        return
    error = diagnosis.error
    assert error is not None
    screen.print((f"{name}: ", "bold"), ("rejected", "bold red"), f"  [{error.error_class}]")
    # Every field is wrapped to the width, its further lines under its first.
    rows: list[tuple] = [(("  error", "bold"), error.message)]
    rows.extend(("", extra) for extra in error.details if extra != error.message)
    if error.insn is not None:
        shown = f": {error.insn_text}" if error.insn_text else " (the log does not show it)"
        rows.append(("", f"at instruction {error.insn}{shown}"))
        rows.append(("", f"source: {_source_text(error.source)}"))
        rows.extend(("", line) for line in source_context(error.source, program_source))
    culprit = diagnosis.culprit
    if culprit is not None:
        rows.append((("  culprit", "bold yellow"),
                     f"instruction {culprit.insn}: {culprit.insn_text}  ({culprit.location} {culprit.note})"))
        rows.append(("", f"source: {_source_text(culprit.source)}"))
        rows.extend(("", line) for line in source_context(culprit.source, program_source))
    screen.labelled(rows, label_width=10)
    _fix_site(diagnosis, screen, program_source)
    if diagnosis.history:
        screen.print(f"  history of {error.register or 'the value'}, oldest first:", style="bold")
        rows = []
        for item in diagnosis.history:
            value = f"{item.location}={item.value}" if item.value else item.location
            source = f"; {item.source.text}" if item.source else ""
            rows.append((f"    {item.insn}:", item.text, value, item.note, source))
        screen.columns(rows)
    prose: list[tuple] = [("  why", diagnosis.explanation)]
    for number, suggestion in enumerate(diagnosis.suggestions, start=1):
        prose.append(((("  fix", "bold green") if number == 1 else ""), f"{number}. {suggestion}"))
    prose.extend(("  note", caveat) for caveat in diagnosis.caveats)
    screen.labelled(prose, label_style="bold")
    _stats(diagnosis, screen)
    _profile(diagnosis, screen)
    kernel = diagnosis.kernel_diagnosis
    if kernel is not None:
        rows = [(("  kernel", "bold"), f"the kernel's own diagnosis (v7.3+): {kernel.verdict}"), ("", kernel.reason)]
        rows.extend(("", f"{place.file}:{place.line}: {place.note}") for place in kernel.causal_path if place.note)
        if kernel.suggestion:
            rows.append(("", f"suggests: {kernel.suggestion}"))
        screen.labelled(rows)
    _log_info(diagnosis, screen)


def _fix_site(diagnosis: Diagnosis, screen: Screen, program_source: list[str] | None) -> None:
    """Where the change goes, and how sure and what kind of mistake, one word each."""
    judgement = diagnosis.judgement
    if judgement is None:
        return
    site = judgement.fix_site
    if site is not None:
        at = f"instruction {site.insn}: " if site.insn is not None else ""
        rows = [(("  fix at", "bold green"), f"{at}{site.action}")]
        if site.source is not None:
            rows.append(("", f"source: {_source_text(site.source)}"))
        screen.labelled(rows, label_width=10)
    screen.labelled([(("  found", "bold"), f"{judgement.confidence}, {judgement.kind}")], label_width=10)


def _stats(diagnosis: Diagnosis, screen: Screen) -> None:
    stats = diagnosis.stats
    if stats is None:
        return
    states = stats.counter("total_states")
    peak = stats.counter("peak_states")
    extra = f", {states} states (peak {peak})" if states is not None else ""
    screen.labelled([("  stats", f"{stats.processed_insns} instructions processed (limit {stats.insn_limit}){extra}")],
                    label_width=10)


def _log_info(diagnosis: Diagnosis, screen: Screen) -> None:
    # A short log (most accepted ones) cannot tell its format: nothing worth a line's words.
    known = diagnosis.log_format is not LogFormat.UNKNOWN
    told = f", format {diagnosis.log_format.value}" if known else ""
    screen.labelled([("  log", f"level {diagnosis.log_level}{told}")],
                    label_width=10, label_style="dim", text_style="dim")


def render_run(result, screen: Screen) -> None:
    """A BPF_PROG_TEST_RUN result (kernel.runner.RunResult)."""
    screen.print(f"  run      {result.repeat} time(s): returned {result.retval}, {result.duration_ns} ns per run")
    for line in result.printed:
        screen.print(f"  printed  {line}")


class _TrimmedLines:
    """A stream without the blanks rich pads table cells with (for pipes and files)."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._stream.write(line.rstrip() + "\n")
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def rich_console(screen: Screen):
    """A rich Console writing where `screen` writes, as wide, styled alike: for the boxed
    tables of `try --kernel all` and the catalogue."""
    from rich.console import Console

    class OurConsole(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError  # rich would exit with 1; the command's error path says 141

    if screen.color:  # FORCE_COLOR styles a pipe too
        return OurConsole(highlight=False, file=screen.stream, width=screen.width, force_terminal=True)
    return OurConsole(highlight=False, width=screen.width, file=_TrimmedLines(screen.stream), no_color=True)


def render_matrix(results: dict[str, list[Diagnosis]], screen: Screen,
                  unloaded: dict[str, str] | None = None) -> None:
    """Programs x kernels: accepted, or the class of the rejection and its instruction (@N).

    `unloaded` gives the cell of a kernel nothing was loaded into (the program did not build)."""
    programs: list[str] = []
    for diagnoses in results.values():
        for diagnosis in diagnoses:
            if diagnosis.program not in programs:
                programs.append(diagnosis.program or "?")
    from rich.table import Table

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
    rich_console(screen).print(table)
