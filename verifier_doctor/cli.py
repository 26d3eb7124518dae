"""The `vdoctor` command: wires parsing, analysis, the kernel side and the renderers.

Every error meant for a person is a VdoctorError, caught here once and printed as one
sentence with the exit status of CLI.md (0 accepted, 1 rejected, 2 usage/build/not a log,
3 the environment cannot load BPF).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from . import pipeline
from .analysis import Diagnosis, diagnose
from .errors import EXIT_ACCEPTED, EXIT_REJECTED, VdoctorError
from .parsing import read_log
from .parsing.reader import read_log_file, read_text
from .render.json_out import diagnosis_to_dict, run_to_dict
from .render.text import output_stream, read_program_source, render_matrix, render_run, render_text

app = typer.Typer(
    help="verifier-doctor: explains why the eBPF verifier rejected a program, and how to fix it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

KERNEL_CHOICES = ("host", "5.10", "6.1", "6.12", "7.2", "7.3", "all")
Kernel = Enum("Kernel", {label: label for label in KERNEL_CHOICES}, type=str)  # --kernel's choices


class _TrimmedLines:
    """Standard output without the blanks rich pads table cells with (for pipes and files)."""

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


def _console() -> Console:
    # Plain text when the output is not a terminal (rich decides), wide enough for a
    # history table in a pipe or a CI log.
    stdout = output_stream(sys.stdout)  # any encoding: LANG=C, PYTHONIOENCODING=ascii
    if stdout.isatty():
        return Console(highlight=False, file=stdout)
    return Console(highlight=False, width=120, file=_TrimmedLines(stdout))


def _fail(error: VdoctorError) -> typer.Exit:
    _say(f"vdoctor: {error}")
    return typer.Exit(error.exit_status)


def _say(sentence: str) -> None:
    """One line on stderr, whatever its encoding (LANG=C, PYTHONIOENCODING=ascii)."""
    stream = sys.stderr
    encoding = getattr(stream, "encoding", None) or "utf-8"
    stream.write(sentence.encode(encoding, errors="replace").decode(encoding) + "\n")
    stream.flush()


def _os_error_sentence(error: OSError) -> str:
    what = f" {error.filename}" if error.filename else ""
    reason = error.strerror or str(error)
    return f"Could not use{what}: {reason}."


def one_error_path(command):
    """Every command's failures, caught here once: a VdoctorError or an OSError is one
    sentence on stderr and the exit status of CLI.md; anything else is a fault of ours,
    said in one sentence too (status 2), never a traceback (VDOCTOR_DEBUG=1 lets it raise,
    for a bug report)."""

    @functools.wraps(command)
    def guarded(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except VdoctorError as error:
            raise _fail(error) from None
        except OSError as error:
            raise _fail(VdoctorError(_os_error_sentence(error))) from None
        except Exception as error:  # noqa: BLE001 - the one place every fault ends up
            if os.environ.get("VDOCTOR_DEBUG"):
                raise  # the traceback, for a report or a test
            detail = " ".join(str(error).split())[:200]
            raise _fail(VdoctorError(
                f"internal error ({type(error).__name__}: {detail}); please report the input that caused it."
            )) from None

    return guarded


def _combined_json(diagnoses: list[Diagnosis]) -> dict[str, Any]:
    """One object as CLI.md shows it: the first rejected program's diagnosis (or the
    first program's); every program's object also under "programs" when there are several."""
    chosen = next((d for d in diagnoses if d.verdict == "rejected"), diagnoses[0])
    out = diagnosis_to_dict(chosen)
    if len(diagnoses) > 1:
        out["programs"] = [diagnosis_to_dict(d) for d in diagnoses]
    return out


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


@app.command()
@one_error_path
def explain(
    log: Annotated[str, typer.Argument(help="The verifier log: a file, or - for standard input.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (CLI.md).")] = False,
    source: Annotated[Optional[Path], typer.Option("--source", help="The program's C file, to quote more of it.")] = None,
) -> None:
    """Explain a verifier log (bpftool/libbpf output or the bare log, kernel 5.10 and newer).

    Example: vdoctor explain load.log --source prog.bpf.c
    """
    if log == "-":
        document = read_log(read_text(sys.stdin.buffer.read()))
    elif not Path(log).is_file():
        raise VdoctorError(f"There is no file {log} to read.")
    else:
        document = read_log_file(Path(log))  # streamed: logs run to hundreds of MB
    diagnoses = [diagnose(program) for program in document.programs]
    program_source = read_program_source(source) if source else None
    if as_json:
        _print_json(_combined_json(diagnoses))
        return
    console = _console()
    for number, diagnosis in enumerate(diagnoses):
        if number:
            console.print()
        render_text(diagnosis, console, program_source)


@app.command("try")
@one_error_path
def try_program(
    program: Annotated[Path, typer.Argument(help="The BPF C file (prog.bpf.c).")],
    kernel: Annotated[Kernel, typer.Option("--kernel", help="host, 5.10, 6.1, 6.12, 7.2, 7.3 or all.")] = Kernel.host,
    cc: Annotated[Optional[str], typer.Option("--cc", help="The compiler (default: the newest clang).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    run: Annotated[int, typer.Option("--run", min=0, help="Run accepted programs N times (BPF_PROG_TEST_RUN).")] = 0,
    attach: Annotated[Optional[str], typer.Option("--attach", help="Attach an accepted XDP program to IFACE.")] = None,
    log_level: Annotated[int, typer.Option("--log-level", min=1, max=2, help="Verifier log level: 1 or 2.")] = 1,
    attach_seconds: Annotated[Optional[float], typer.Option(hidden=True)] = None,
) -> None:
    """Compile a BPF program, load it, and explain the verdict.

    Example: vdoctor try prog.bpf.c --run 3
    """
    kernel = kernel.value
    with tempfile.TemporaryDirectory(prefix="vdoctor-") as workdir:
        obj = pipeline.build(program, Path(workdir), cc)
        if kernel == "host":
            status = _try_host(obj, as_json, run, attach, log_level, attach_seconds, program)
        else:
            status = _try_kernels(obj, kernel, as_json, log_level, program, run)
    raise typer.Exit(status)


def _try_host(obj: Path, as_json: bool, run: int, attach: str | None, log_level: int,
              attach_seconds: float | None, program: Path) -> int:
    outcomes = pipeline.load_on_host(obj, log_level)
    diagnoses = [o.diagnosis for o in outcomes]
    runs: dict[str, Any] = {}
    if run > 0:
        for outcome in outcomes:
            if outcome.diagnosis.verdict == "accepted":
                runs[outcome.name] = pipeline.run_program(obj, outcome.name, run)
    status = EXIT_ACCEPTED if all(d.verdict == "accepted" for d in diagnoses) else EXIT_REJECTED
    if as_json:
        out = _combined_json(diagnoses)
        if runs:
            out["runs"] = {name: run_to_dict(result) for name, result in runs.items()}
        _print_json(out)
    else:
        console = _console()
        _render_diagnoses(diagnoses, runs, console, read_program_source(program), blank_between=True)
    if attach:
        pipeline.attach_until_interrupted(obj, diagnoses, attach, attach_seconds, _console())
    return status


def _try_kernels(obj: Path, kernel: str, as_json: bool, log_level: int, program: Path,
                 run: int = 0) -> int:
    # With --run, each kernel's runs map a program to its RunResult or to why it was not run.
    results, ran = pipeline.run_on_kernels(obj, kernel, log_level, run)
    rejected = any(d.verdict != "accepted" for diagnoses in results.values() for d in diagnoses)
    if as_json:
        kernels: dict[str, Any] = {}
        for version, diagnoses in results.items():
            out = kernels[version] = _combined_json(diagnoses)
            done = {n: r for n, r in ran.get(version, {}).items() if not isinstance(r, str)}
            failed = {n: r for n, r in ran.get(version, {}).items() if isinstance(r, str)}
            if done:
                out["runs"] = {name: run_to_dict(result) for name, result in done.items()}
            if failed:
                out["run_errors"] = failed
        _print_json({"kernels": kernels})
    else:
        console = _console()
        source = read_program_source(program)
        for version, diagnoses in results.items():
            console.print(f"== kernel {version} ==", style="bold")
            _render_diagnoses(diagnoses, ran.get(version, {}), console, source, blank_between=False)
        render_matrix(results, console)
    return EXIT_REJECTED if rejected else EXIT_ACCEPTED


def _render_diagnoses(diagnoses: list[Diagnosis], runs: dict[str, Any], console: Console,
                      source: list[str] | None, blank_between: bool) -> None:
    """Each diagnosis as text, then its program's run: a RunResult, or why it was not run."""
    for number, diagnosis in enumerate(diagnoses):
        if number and blank_between:
            console.print()
        render_text(diagnosis, console, source)
        result = runs.get(diagnosis.program or "")
        if isinstance(result, str):
            console.print(f"  run      not run: {result}", markup=False, highlight=False)
        elif result is not None:
            render_run(result, console)


@app.command()
@one_error_path
def fix(
    program: Annotated[Path, typer.Argument(help="The BPF C file that calls malloc/calloc/realloc/free.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write here instead of printing.")] = None,
) -> None:
    """Rewrite malloc/calloc/realloc/free into the shipped allocator (static_malloc.h).

    Example: vdoctor fix hello.bpf.c -o hello_fixed.bpf.c
    """
    from .fix import rewrite_malloc

    if not program.is_file():
        raise VdoctorError(f"There is no file {program} to fix.")
    result = rewrite_malloc(program.read_text(errors="replace"))
    if output is not None and not output.parent.is_dir():
        raise VdoctorError(f"Cannot write {output}: there is no directory {output.parent}.")
    if not result.changed:
        _say(f"vdoctor: {program} calls no malloc, calloc, realloc or free; nothing to change.")
    if output is None:
        sys.stdout.write(result.text)
        return
    output.write_text(result.text)
    if result.changed:
        _say(f"vdoctor: wrote {output} ({result.replacements} call(s) renamed, static_malloc.h included).")


@app.command()
@one_error_path
def catalog(
    error_class: Annotated[Optional[str], typer.Argument(
        metavar="CLASS", show_default=False,
        help="An error class of CLI.md (scalar-deref, null-deref, ...); without it, the list of classes.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Teach an error class: its minimal reproducer, its log on each kernel, why, and the fix.

    Example: vdoctor catalog scalar-deref
    """
    from . import catalog as teaching
    from .render.catalog_text import render_catalog_entry, render_catalog_list

    if error_class is None:
        summaries = teaching.summaries()
        if as_json:
            _print_json(teaching.summaries_to_dict(summaries))
        else:
            render_catalog_list(summaries, _console())
        return
    entry = teaching.entry(error_class)
    if as_json:
        _print_json(teaching.entry_to_dict(entry))
    else:
        render_catalog_entry(entry, _console())


def main() -> None:  # pragma: no cover - the console script calls app()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
