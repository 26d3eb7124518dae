"""What the commands do, apart from reading their command line (cli.py, typer).

`explain` lives here whole, with what every command shares: the one error path (a
VdoctorError or an OSError is one sentence on stderr and the exit status of CLI.md), the
output formats, `-o FILE`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import EXIT_OUTPUT_CLOSED, NotAVerifierLog, VdoctorError

FORMATS = ("text", "json", "html", "sarif")  # --format's choices

if TYPE_CHECKING:
    from .analysis import Diagnosis
    from .render.screen import Screen


def say(sentence: str) -> None:
    """One line on stderr, whatever its encoding (LANG=C, PYTHONIOENCODING=ascii)."""
    stream = sys.stderr
    encoding = getattr(stream, "encoding", None) or "utf-8"
    stream.write(sentence.encode(encoding, errors="replace").decode(encoding) + "\n")
    stream.flush()


def _os_error_sentence(error: OSError) -> str:
    what = f" {error.filename}" if error.filename else ""
    reason = error.strerror or str(error)
    return f"Could not use{what}: {reason}."


def failure_status(error: Exception) -> int:
    """A command's failure said in one sentence on stderr; its exit status. A VdoctorError
    or an OSError has its own sentence; anything else is a fault of ours, said in one
    sentence too (status 2), never a traceback (VDOCTOR_DEBUG=1 re-raises it, for a bug
    report). Output whose reader went away (a pipe into `head`) ends quietly."""
    if isinstance(error, BrokenPipeError):
        _drop_stdout()
        return EXIT_OUTPUT_CLOSED
    if isinstance(error, OSError):
        error = VdoctorError(_os_error_sentence(error))
    elif not isinstance(error, VdoctorError):
        if os.environ.get("VDOCTOR_DEBUG"):
            raise error  # the traceback, for a report or a test
        detail = " ".join(str(error).split())[:200]
        error = VdoctorError(
            f"internal error ({type(error).__name__}: {detail}); please report the input that caused it.")
    say(f"vdoctor: {error}")
    return error.exit_status


def _drop_stdout() -> None:
    """Standard output to /dev/null, so that Python's last flush at exit finds no closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def screen() -> Screen:
    """Standard output for text (render.screen: no rich, so `explain` starts at once)."""
    from .render.screen import Screen
    from .render.text import output_stream

    return Screen(output_stream(sys.stdout))  # any encoding: LANG=C, PYTHONIOENCODING=ascii


def combined_json(diagnoses: list[Diagnosis], program_source: list[str] | None = None,
                  source_path: Path | None = None) -> dict[str, Any]:
    """One object as CLI.md shows it: the first rejected program's diagnosis (or the
    first program's); every program's object also under "programs" when there are several.
    Source lines say where they are in the program (json_out.with_program_lines)."""
    from .render.json_out import diagnosis_to_dict, with_program_lines

    chosen = next((d for d in diagnoses if d.verdict == "rejected"), diagnoses[0])
    out = diagnosis_to_dict(chosen)
    if len(diagnoses) > 1:
        out["programs"] = [diagnosis_to_dict(d) for d in diagnoses]
    return with_program_lines(out, program_source, source_path)


def json_text(obj: Any) -> str:
    import json

    return json.dumps(obj, indent=2) + "\n"


def output_format(fmt: str | None, as_json: bool) -> str:
    """The one format asked for: --json is --format json."""
    if as_json and fmt not in (None, "json"):
        raise VdoctorError(f"--json is --format json; it cannot be combined with --format {fmt}.")
    return "json" if as_json else (fmt or "text")


def checked_output(output: Path | None) -> Path | None:
    """-o's file, checked before any work is done: None for standard output (no -o, or
    `-o -`); a VdoctorError when the file cannot be written there."""
    if output is None or str(output) == "-":
        return None
    folder = output.parent
    if output.is_dir():
        raise VdoctorError(f"Cannot write {output}: it is a directory.")
    if not folder.is_dir():
        raise VdoctorError(f"Cannot write {output}: there is no directory {folder}.")
    if not os.access(folder, os.W_OK | os.X_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise VdoctorError(f"Cannot write {output}: permission denied.")
    return output


def not_a_log(path: Path) -> str | None:
    """Why `path` is a program rather than a log, pointing to `vdoctor try`; None if it is not one."""
    with open(path, "rb") as handle:
        elf = handle.read(4) == b"\x7fELF"  # as kernel.build.is_object_file, without importing the kernel side
    if elf:
        return (f"{path} is an object file (binary), not a verifier log: `vdoctor try {path}` loads a BPF "
                f"object and explains the verdict.")
    if path.suffix in (".c", ".h"):
        return f"{path} is C source, not a verifier log: `vdoctor try {path}` compiles and loads it."
    return None


def emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text)
    except OSError as error:
        raise VdoctorError(f"Could not write {output}: {error.strerror}.") from None


def formatted(fmt: str, shown: list, source_path: Path | None, program_source: list[str] | None,
              title: str, sources: dict | None = None) -> str:
    """The html or sarif text of (label, diagnosis, trace or None) triples; `sources` gives
    SARIF each label's own program file and text."""
    if fmt == "sarif":
        from .render.sarif import sarif_text

        return sarif_text(shown, source_path, program_source, sources)
    from .render.html import html_page

    return html_page(shown, program_source, title)


def stdout_to(output: Path | None, fmt: str):
    """-o FILE for text and JSON: standard output goes to the file (html and sarif write it
    themselves)."""
    import contextlib

    if output is None or fmt in ("html", "sarif"):
        return contextlib.nullcontext()
    try:
        stream = output.open("w")
    except OSError as error:
        raise VdoctorError(f"Could not write {output}: {error.strerror}.") from None
    stack = contextlib.ExitStack()
    stack.enter_context(stream)
    stack.enter_context(contextlib.redirect_stdout(stream))
    return stack


def read_source(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    from .render.text import read_program_source

    return read_program_source(path)


def profiled(diagnoses: list[Diagnosis], traces) -> list[Diagnosis]:
    """`--profile`: each diagnosis with the cost profile of its trace (a too-complex one has it already)."""
    from dataclasses import replace

    from .analysis.profile import profile

    return [d if d.profile is not None else replace(d, profile=profile(t)) for d, t in zip(diagnoses, traces)]


def try_profile(program: Path, workdir: Path, kernel: str, cc: str | None, flags: tuple, fmt: str) -> int:
    """`vdoctor try --profile`: every program loaded at log level 2 into each kernel asked
    for; per kernel a table of the verifier's cost (veristat's columns), then each program's
    verdict with where its budget went. The exit status is `try`'s."""
    from . import pipeline
    from .errors import EXIT_ACCEPTED, EXIT_REJECTED
    from .kernel.kernels import SUPPORTED

    targets = ["host"] if kernel == "host" else ["host", *SUPPORTED] if kernel == "all" else [kernel]
    builds = pipeline.build_for_kernels(program, workdir, targets, cc, *flags)
    failed = next((b for b in builds.values() if isinstance(b, VdoctorError)), None)
    if failed is not None:
        raise failed
    results = pipeline.profiled(builds["host"].object if kernel == "host" else
                                {label: built.object for label, built in builds.items()}, kernel)
    if fmt == "json":
        emit(json_text({"kernels": {label: combined_json(found) for label, found in results.items()}}), None)
    else:
        from .render.profile import render_table
        from .render.text import render_text

        out = screen()
        for label, found in results.items():
            render_table(label, found, out)
            for diagnosis in found:
                out.print()
                render_text(diagnosis, out, read_source(program))
            out.print()
    rejected = any(d.verdict != "accepted" for found in results.values() for d in found)
    return EXIT_REJECTED if rejected else EXIT_ACCEPTED


def explain(log: str, as_json: bool = False, source: Path | None = None, fmt: str | None = None,
            output: Path | None = None, profile: bool = False) -> None:
    """`vdoctor explain LOG`: every program of the log diagnosed, in the format asked for."""
    from .analysis import diagnose

    chosen = output_format(fmt, as_json)
    output = checked_output(output)
    document = _read_document(log)
    diagnoses = [diagnose(program) for program in document.programs]
    if profile:
        diagnoses = profiled(diagnoses, document.programs)
    program_source = read_source(source)
    if chosen == "json":
        emit(json_text(combined_json(diagnoses, program_source, source)), output)
        return
    if chosen != "text":
        shown = [(None, d, t) for d, t in zip(diagnoses, document.programs)]
        emit(formatted(chosen, shown, source, program_source, log if log != "-" else "standard input"), output)
        return
    from .render.batch import once_each, render_also
    from .render.text import render_text

    with stdout_to(output, chosen):
        out = screen()
        for number, (diagnosis, others) in enumerate(once_each(diagnoses)):
            if number:
                out.print()
            render_text(diagnosis, out, program_source, source)
            render_also(others, out)


def _read_document(log: str):
    """The log `log` names (a file, or - for standard input), read."""
    from .parsing.reader import read_log, read_log_file, read_text

    if log == "-":
        return read_log(read_text(sys.stdin.buffer.read()))
    if not Path(log).is_file():
        raise VdoctorError(f"There is no file {log} to read.")
    if not_a_log(Path(log)):
        raise NotAVerifierLog(not_a_log(Path(log)))
    return read_log_file(Path(log))  # streamed: logs run to hundreds of MB


LOG_SUFFIXES = (".log", ".txt")  # what a directory given to `explain` contributes
PROGRAM_SUFFIXES = (".c", ".o")  # ... and to `try`


def expand_inputs(words: list[str], suffixes: tuple[str, ...]) -> list[str]:
    """The inputs named: files and `-` as given, a directory as its files with these
    suffixes (hidden ones left out), sorted."""
    found: list[str] = []
    for word in words:
        folder = Path(word)
        if word == "-" or not folder.is_dir():
            found.append(word)
            continue
        found.extend(str(path) for path in sorted(folder.rglob("*"))
                     if path.suffix in suffixes and path.is_file()
                     and not any(part.startswith(".") for part in path.relative_to(folder).parts))
    if found.count("-") > 1:
        raise VdoctorError("Standard input (-) can be read once only.")
    if not found:
        raise VdoctorError(f"There is no {' or '.join(suffixes)} file in {', '.join(words)}.")
    return found


def is_single(words: list[str]) -> bool:
    """One input named, not a directory: the output of one input (CLI.md's)."""
    return len(words) == 1 and (words[0] == "-" or not Path(words[0]).is_dir())


def failed_row(name: str, error: Exception, seconds: float | None = None):
    """The row of an input that gave no diagnosis, with its one sentence."""
    from .render.batch import Examined

    if isinstance(error, OSError):
        error = VdoctorError(_os_error_sentence(error))
    return Examined(name, None, seconds=seconds, failure=str(error), status=getattr(error, "exit_status", 2))


def _examine_log(log: str, keep) -> list:
    """The rows of one log; `keep(diagnosis, trace)` is what the row keeps of its trace
    (the HTML page's path view), None to keep nothing."""
    import time

    from .analysis import diagnose
    from .render.batch import Examined

    started = time.perf_counter()
    try:
        document = _read_document(log)
        diagnoses = [diagnose(program) for program in document.programs]
    except (VdoctorError, OSError) as error:
        return [failed_row(log, error, time.perf_counter() - started)]
    seconds = time.perf_counter() - started
    return [Examined(log, diagnosis, keep and keep(diagnosis, trace), seconds if number == 0 else None)
            for number, (diagnosis, trace) in enumerate(zip(diagnoses, document.programs))]


def report_many(rows: list, fmt: str, jsonl: bool, output: Path | None, source: Path | None,
                program_sources: dict[str, tuple[Path | None, list[str] | None]], title: str) -> int:
    """Several inputs' rows in the format asked for; the worst row's exit status."""
    from .render.batch import batch_json, render_batch

    if fmt == "json":
        emit(batch_json(rows, jsonl, program_sources), output)
    elif fmt == "text":
        with stdout_to(output, fmt):
            render_batch(rows, screen(), program_sources)
    else:
        shown = [(row.input, row.diagnosis, row.trace) for row in rows if row.diagnosis is not None]
        emit(formatted(fmt, shown, source, read_source(source), title, program_sources), output)
        for row in rows:
            if row.failure is not None:
                say(f"vdoctor: {row.input}: {row.failure}")
    return max((row.status for row in rows), default=0)


def explain_many(logs: list[str], as_json: bool = False, source: Path | None = None, fmt: str | None = None,
                 output: Path | None = None, jsonl: bool = False) -> int:
    """`vdoctor explain LOG LOG...` (or a directory): every log read in this one process;
    the exit status is the worst input's (2 when one is not a log)."""
    chosen = "json" if jsonl and fmt in (None, "json") else output_format(fmt, as_json)
    if jsonl and chosen != "json":
        raise VdoctorError(f"--jsonl is JSON Lines; it cannot be combined with --format {chosen}.")
    output = checked_output(output)
    inputs = expand_inputs(logs, LOG_SUFFIXES)
    keep = None
    if chosen == "html":
        from .render.html import path_view as keep
    rows = [row for log in inputs for row in _examine_log(log, keep)]
    program_source = read_source(source)
    return report_many(rows, chosen, jsonl, output, source, dict.fromkeys(inputs, (source, program_source)),
                       f"{len(inputs)} logs")
