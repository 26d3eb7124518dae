"""The `vdoctor` command: wires parsing, analysis, the kernel side and the renderers.

Every error meant for a person is a VdoctorError, caught here once and printed as one
sentence with the exit status of CLI.md (0 accepted, 1 rejected, 2 usage/build/not a log,
3 the environment cannot load BPF).
"""

from __future__ import annotations

import json
import sys
import tempfile
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
from .render.text import read_program_source, render_matrix, render_run, render_text

app = typer.Typer(
    help="verifier-doctor: explains why the eBPF verifier rejected a program, and how to fix it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

KERNEL_CHOICES = ("host", "5.10", "6.1", "6.12", "7.2", "7.3", "all")


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
    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(highlight=False, width=120, file=_TrimmedLines(sys.stdout))


def _fail(error: VdoctorError) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"vdoctor: {error}", markup=False)
    return typer.Exit(error.exit_status)


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
def explain(
    log: Annotated[str, typer.Argument(help="The verifier log: a file, or - for standard input.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (CLI.md).")] = False,
    source: Annotated[Optional[Path], typer.Option("--source", help="The program's C file, to quote more of it.")] = None,
) -> None:
    """Explain a verifier log (bpftool/libbpf output or the bare log, kernel 5.10 and newer).

    Example: vdoctor explain load.log --source prog.bpf.c
    """
    try:
        if log == "-":
            document = read_log(read_text(sys.stdin.buffer.read()))
        elif not Path(log).is_file():
            raise VdoctorError(f"There is no file {log} to read.")
        else:
            document = read_log_file(Path(log))  # streamed: logs run to hundreds of MB
        diagnoses = [diagnose(program) for program in document.programs]
        program_source = read_program_source(source) if source else None
    except VdoctorError as error:
        raise _fail(error) from None
    except OSError as error:
        raise _fail(VdoctorError(f"Could not read {error.filename}: {error.strerror}.")) from None
    if as_json:
        _print_json(_combined_json(diagnoses))
        return
    console = _console()
    for number, diagnosis in enumerate(diagnoses):
        if number:
            console.print()
        render_text(diagnosis, console, program_source)


@app.command("try")
def try_program(
    program: Annotated[Path, typer.Argument(help="The BPF C file (prog.bpf.c), or an object (prog.bpf.o) to load as it is.")],
    kernel: Annotated[str, typer.Option("--kernel", help="host, 5.10, 6.1, 6.12, 7.2, 7.3 or all.")] = "host",
    cc: Annotated[Optional[str], typer.Option("--cc", help="The compiler (default: the newest clang).")] = None,
    include_dirs: Annotated[Optional[list[Path]], typer.Option(
        "-I", "--include", help="Add DIR to the include path (repeatable).", metavar="DIR")] = None,
    defines: Annotated[Optional[list[str]], typer.Option(
        "-D", "--define", help="Define NAME[=VALUE] (repeatable).", metavar="NAME[=VALUE]")] = None,
    cflags: Annotated[Optional[str], typer.Option(
        "--cflags", help="Compiler flags replacing the defaults -O2 -g (also $VDOCTOR_CFLAGS).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    run: Annotated[int, typer.Option("--run", help="Run accepted programs N times (BPF_PROG_TEST_RUN).")] = 0,
    attach: Annotated[Optional[str], typer.Option("--attach", help="Attach an accepted XDP program to IFACE.")] = None,
    log_level: Annotated[int, typer.Option("--log-level", help="Verifier log level: 1 or 2.")] = 1,
    attach_seconds: Annotated[Optional[float], typer.Option(hidden=True)] = None,
) -> None:
    """Compile a BPF program, load it, and explain the verdict.

    Example: vdoctor try prog.bpf.c -I include -D DEBUG=1 --run 3
    """
    try:
        if kernel not in KERNEL_CHOICES:
            raise VdoctorError(f"--kernel takes one of {', '.join(KERNEL_CHOICES)}, not {kernel}.")
        if log_level not in (1, 2):
            raise VdoctorError("--log-level takes 1 or 2.")
        with tempfile.TemporaryDirectory(prefix="vdoctor-") as workdir:
            if kernel == "host":
                built = pipeline.build(program, Path(workdir), cc, include_dirs or (), defines or (), cflags)
                if not as_json:
                    _say_build(built, program)
                status = _try_host(built, as_json, run, attach, log_level, attach_seconds, program)
            else:
                from .kernel.kernels import SUPPORTED

                targets = ["host", *SUPPORTED] if kernel == "all" else [kernel]
                builds = pipeline.build_for_kernels(program, Path(workdir), targets, cc,
                                                    include_dirs or (), defines or (), cflags)
                if not as_json:
                    for label, built in pipeline.distinct_builds(builds).items():
                        if not isinstance(built, VdoctorError):
                            _say_build(built, program, label)
                status = _try_kernels(builds, kernel, as_json, log_level, program, run)
    except VdoctorError as error:
        raise _fail(error) from None
    raise typer.Exit(status)


def _say_build(built, program: Path, label: str | None = None) -> None:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for line in pipeline.build_notes(built, program, label):
        err.print(f"vdoctor: {line}", markup=False)


def _try_host(built, as_json: bool, run: int, attach: str | None, log_level: int,
              attach_seconds: float | None, program: Path) -> int:
    obj = built.object
    outcomes = pipeline.load_on_host(obj, log_level)
    diagnoses = [o.diagnosis for o in outcomes]
    runs: dict[str, Any] = {}
    if run > 0:
        for outcome in outcomes:
            if outcome.diagnosis.verdict == "accepted":
                try:  # a type BPF_PROG_TEST_RUN cannot run must not hide the other runs
                    runs[outcome.name] = pipeline.run_program(obj, outcome.name, run)
                except VdoctorError as error:
                    runs[outcome.name] = str(error)
    status = EXIT_ACCEPTED if all(d.verdict == "accepted" for d in diagnoses) else EXIT_REJECTED
    if as_json:
        out = _combined_json(diagnoses)
        done = {n: r for n, r in runs.items() if not isinstance(r, str)}
        if done:
            out["runs"] = {name: run_to_dict(result) for name, result in done.items()}
        if len(done) < len(runs):
            out["run_errors"] = {n: r for n, r in runs.items() if isinstance(r, str)}
        out["build"] = pipeline.build_to_dict(built)
        _print_json(out)
    else:
        console = _console()
        _render_diagnoses(diagnoses, runs, console, read_program_source(program), blank_between=True)
    if attach:
        pipeline.attach_until_interrupted(obj, diagnoses, attach, attach_seconds, _console())
    return status


def _try_kernels(builds: dict, kernel: str, as_json: bool, log_level: int, program: Path,
                 run: int = 0) -> int:
    # With --run, each kernel's runs map a program to its RunResult or to why it was not run.
    objects = {label: built.object for label, built in builds.items() if not isinstance(built, VdoctorError)}
    unbuilt = {label: error for label, error in builds.items() if isinstance(error, VdoctorError)}
    results, ran = pipeline.run_on_kernels(objects, kernel, log_level, run)
    rejected = bool(unbuilt) or any(d.verdict != "accepted" for diagnoses in results.values() for d in diagnoses)
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
        for label, error in unbuilt.items():
            kernels[label] = {"verdict": "build-error", "error": {"message": str(error), "class": "build-error"}}
        _print_json({"kernels": kernels, "build": pipeline.builds_to_dict(builds)})
    else:
        console = _console()
        source = read_program_source(program)
        render_matrix({label: results.get(label, []) for label in builds if label in results or label in unbuilt},
                      console, dict.fromkeys(unbuilt, "build-error"))
        for label, error in unbuilt.items():
            console.print()
            console.print(f"== does not compile for {label} (against its vmlinux.h) ==", style="bold", markup=False)
            console.print(str(error), markup=False, highlight=False)
        for (name, error_class, _), (diagnosis, versions) in pipeline.distinct_failures(results).items():
            console.print()
            console.print(f"== {name}: {error_class} on {', '.join(versions)} ==", style="bold", markup=False)
            render_text(diagnosis, console, source)
        for version, programs in ran.items():
            if programs:
                console.print()
                console.print(f"== test runs on kernel {version} ==", style="bold")
                for name, result in programs.items():
                    if isinstance(result, str):
                        console.print(f"  run      {name}: not run: {result}", markup=False, highlight=False)
                    else:
                        console.print(f"  {name}:", markup=False, highlight=False)
                        render_run(result, console)
    return EXIT_REJECTED if rejected else EXIT_ACCEPTED


def _render_diagnoses(diagnoses: list[Diagnosis], runs: dict[str, Any], console: Console,
                      source: list[str] | None, blank_between: bool) -> None:
    """Each diagnosis as text, then its program's run: a RunResult, or why it was not run."""
    for number, diagnosis in enumerate(diagnoses):
        if number and blank_between:
            console.print()
        render_text(diagnosis, console, source)
        if diagnosis.verdict == "accepted":  # render_text shows notes of rejections only
            for caveat in diagnosis.caveats:
                console.print(f"  note     {caveat}", markup=False, highlight=False)
        result = runs.get(diagnosis.program or "")
        if isinstance(result, str):
            console.print(f"  run      not run: {result}", markup=False, highlight=False)
        elif result is not None:
            render_run(result, console)


@app.command()
def fix(
    program: Annotated[Path, typer.Argument(help="The BPF C file that calls malloc/calloc/realloc/free.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write here instead of printing.")] = None,
) -> None:
    """Rewrite malloc/calloc/realloc/free into the shipped allocator (static_malloc.h).

    Example: vdoctor fix hello.bpf.c -o hello_fixed.bpf.c
    """
    from .fix import rewrite_malloc

    try:
        if not program.is_file():
            raise VdoctorError(f"There is no file {program} to fix.")
        result = rewrite_malloc(program.read_text())
    except VdoctorError as error:
        raise _fail(error) from None
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if not result.changed:
        err.print(f"vdoctor: {program} calls no malloc, calloc, realloc or free; nothing to change.")
        if output is None:
            sys.stdout.write(result.text)
        else:
            output.write_text(result.text)
        return
    if output is None:
        sys.stdout.write(result.text)
    else:
        output.write_text(result.text)
        err.print(f"vdoctor: wrote {output} ({result.replacements} call(s) renamed, static_malloc.h included).")


@app.command()
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

    try:
        if error_class is None:
            summaries = teaching.summaries()
            if as_json:
                _print_json(teaching.summaries_to_dict(summaries))
            else:
                render_catalog_list(summaries, _console())
            return
        entry = teaching.entry(error_class)
    except VdoctorError as error:
        raise _fail(error) from None
    if as_json:
        _print_json(teaching.entry_to_dict(entry))
    else:
        render_catalog_entry(entry, _console())


def main() -> None:  # pragma: no cover - the console script calls app()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
