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


def combined_json(diagnoses: list[Diagnosis]) -> dict[str, Any]:
    """One object as CLI.md shows it: the first rejected program's diagnosis (or the
    first program's); every program's object also under "programs" when there are several."""
    from .render.json_out import diagnosis_to_dict

    chosen = next((d for d in diagnoses if d.verdict == "rejected"), diagnoses[0])
    out = diagnosis_to_dict(chosen)
    if len(diagnoses) > 1:
        out["programs"] = [diagnosis_to_dict(d) for d in diagnoses]
    return out


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
              title: str) -> str:
    """The html or sarif text of (label, diagnosis, trace or None) triples."""
    if fmt == "sarif":
        from .render.sarif import sarif_text

        return sarif_text(shown, source_path, program_source)
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


def explain(log: str, as_json: bool = False, source: Path | None = None, fmt: str | None = None,
            output: Path | None = None) -> None:
    """`vdoctor explain LOG`: every program of the log diagnosed, in the format asked for."""
    from .analysis import diagnose
    from .parsing.reader import read_log, read_log_file, read_text

    chosen = output_format(fmt, as_json)
    output = checked_output(output)
    if log == "-":
        document = read_log(read_text(sys.stdin.buffer.read()))
    elif not Path(log).is_file():
        raise VdoctorError(f"There is no file {log} to read.")
    elif not_a_log(Path(log)):
        raise NotAVerifierLog(not_a_log(Path(log)))
    else:
        document = read_log_file(Path(log))  # streamed: logs run to hundreds of MB
    diagnoses = [diagnose(program) for program in document.programs]
    program_source = read_source(source)
    if chosen == "json":
        emit(json_text(combined_json(diagnoses)), output)
        return
    if chosen != "text":
        shown = [(None, d, t) for d, t in zip(diagnoses, document.programs)]
        emit(formatted(chosen, shown, source, program_source, log if log != "-" else "standard input"), output)
        return
    from .render.text import render_text

    with stdout_to(output, chosen):
        out = screen()
        for number, diagnosis in enumerate(diagnoses):
            if number:
                out.print()
            render_text(diagnosis, out, program_source)
