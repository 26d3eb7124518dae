"""The `vdoctor` command: wires parsing, analysis, the kernel side and the renderers.

Every error meant for a person is a VdoctorError, caught here once (`one_error_path`) and
printed as one sentence with the exit status of CLI.md (0 accepted, 1 rejected, 2
usage/build/not a log, 3 the environment cannot load BPF).

No `from __future__ import annotations` here: typer reads every command's parameters at
start-up, and string annotations would be compiled and evaluated each time (~8 ms); the
few names known only to type checkers are quoted instead.
"""

import functools
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from . import commands
from .commands import FORMATS
from .commands import combined_json as _combined_json
from .commands import emit as _emit
from .commands import formatted as _formatted
from .commands import json_text as _json_text
from .commands import read_source as _read_source
from .commands import say as _say
from .commands import screen as _screen
from .commands import stdout_to as _stdout_to
from .errors import EXIT_ACCEPTED, EXIT_REJECTED, VdoctorError

# A command imports only what it uses (cold start: `explain` of a small log in well under
# 200 ms): the parser and analysis inside `explain`, the kernel side only inside `try`.
if TYPE_CHECKING:
    from rich.console import Console

    from .analysis import Diagnosis
    from .render.screen import Screen

app = typer.Typer(
    help="verifier-doctor: explains why the eBPF verifier rejected a program, and how to fix it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    # Help and usage errors as plain text: rich's help formatter alone costs ~40 ms of
    # start-up, and `vdoctor --help` should answer at once.
    rich_markup_mode=None,
)


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("verifier-doctor")
        except PackageNotFoundError:  # run from a checkout that was never installed
            number = "unknown"
        sys.stdout.write(f"vdoctor {number}\n")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version, help="Print the version and exit.")] = False,
) -> None:
    """verifier-doctor: explains why the eBPF verifier rejected a program, and how to fix it."""


def main() -> None:
    """The `vdoctor` command (the console script and `python -m verifier_doctor`)."""
    app(prog_name="vdoctor")

KERNEL_CHOICES = ("host", "5.10", "6.1", "6.12", "7.2", "7.3", "all")
Kernel = Enum("Kernel", {label: label for label in KERNEL_CHOICES}, type=str)  # --kernel's choices
Format = Enum("Format", {name: name for name in FORMATS}, type=str)  # --format's choices
_FORMAT_HELP = "text, json, html (one self-contained page) or sarif (SARIF 2.1.0, for CI)."
_OUTPUT_HELP = "Write the output to FILE instead of standard output (- is standard output)."

def one_error_path(command):
    """Every command's failures, caught here once (commands.failure_status): one sentence
    on stderr and the exit status of CLI.md, never a traceback."""

    @functools.wraps(command)
    def guarded(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as error:  # noqa: BLE001 - the one place every fault ends up
            raise typer.Exit(commands.failure_status(error)) from None

    return guarded


def _print_json(obj: Any) -> None:
    sys.stdout.write(_json_text(obj))


def _output_format(fmt: "Format | None", as_json: bool) -> str:
    return commands.output_format(fmt.value if fmt is not None else None, as_json)


def _console() -> "Console":
    """Standard output through rich, for the catalogue's tables."""
    from .render.text import rich_console

    return rich_console(_screen())


@app.command()
@one_error_path
def explain(
    logs: Annotated[list[str], typer.Argument(
        metavar="LOG...", help="Verifier logs: files, directories (their .log and .txt files), - for standard input.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (--format json): one object, an array for several logs.")] = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Print one JSON object per program and line (JSON Lines).")] = False,
    source: Annotated[Optional[Path], typer.Option("--source", help="The program's C file, to quote more of it.")] = None,
    fmt: Annotated[Optional[Format], typer.Option("--format", metavar="FORMAT", help=_FORMAT_HELP)] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", metavar="FILE", help=_OUTPUT_HELP)] = None,
    profile: Annotated[bool, typer.Option(
        "--profile", help="Where the verifier's budget went, by source line and loop (a level-2 log).")] = False,
) -> None:
    """Explain verifier logs (bpftool/libbpf output or the bare log, kernel 5.10 and newer).

    Several logs give a table of every program, then each distinct diagnosis once.

    Example: vdoctor explain load.log --source prog.bpf.c
    """
    chosen = fmt.value if fmt is not None else None
    if commands.is_single(logs) and not jsonl:
        commands.explain(logs[0], as_json, source, chosen, output, profile=profile)
        return
    if profile:
        raise VdoctorError("--profile explains one log at a time; give one log.")
    raise typer.Exit(commands.explain_many(logs, as_json, source, chosen, output, jsonl))


# The build options `try` and `fix` share.
CompilerOption = Annotated[Optional[str], typer.Option("--cc", help="The compiler (default: the newest clang).")]
IncludeOption = Annotated[Optional[list[Path]], typer.Option(
    "-I", "--include", help="Add DIR to the include path (repeatable).", metavar="DIR")]
DefineOption = Annotated[Optional[list[str]], typer.Option(
    "-D", "--define", help="Define NAME[=VALUE] (repeatable).", metavar="NAME[=VALUE]")]
CflagsOption = Annotated[Optional[str], typer.Option(
    "--cflags", help="Compiler flags replacing the defaults -O2 -g (also $VDOCTOR_CFLAGS).")]


@app.command("try")
@one_error_path
def try_program(
    programs: Annotated[list[Path], typer.Argument(
        metavar="PROGRAM...", help="BPF C files (prog.bpf.c), objects (prog.bpf.o) to load as they are, "
        "or directories (their .c and .o files).")],
    kernel: Annotated[Kernel, typer.Option("--kernel", help="host, 5.10, 6.1, 6.12, 7.2, 7.3 or all.")] = Kernel.host,
    cc: CompilerOption = None,
    include_dirs: IncludeOption = None,
    defines: DefineOption = None,
    cflags: CflagsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text (an array for several programs).")] = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Print one JSON object per program and line (JSON Lines).")] = False,
    run: Annotated[int, typer.Option("--run", min=0, help="Run accepted programs N times (BPF_PROG_TEST_RUN).")] = 0,
    attach: Annotated[Optional[str], typer.Option("--attach", help="Attach an accepted XDP program to IFACE.")] = None,
    log_level: Annotated[int, typer.Option("--log-level", min=1, max=2, help="Verifier log level: 1 or 2.")] = 1,
    no_rerun: Annotated[bool, typer.Option(
        "--no-rerun", help="Do not load a program again at level 2 when its level-1 log cannot show the cause.")] = False,
    attach_seconds: Annotated[Optional[float], typer.Option(hidden=True)] = None,
    fmt: Annotated[Optional[Format], typer.Option("--format", metavar="FORMAT", help=_FORMAT_HELP)] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", metavar="FILE", help=_OUTPUT_HELP)] = None,
    profile: Annotated[bool, typer.Option(
        "--profile", help="Load at log level 2 and show where the verifier's budget went, accepted or not.")] = False,
) -> None:
    """Compile BPF programs, load them, and explain the verdicts.

    Several programs give a table of every program, then each distinct diagnosis once.

    Example: vdoctor try prog.bpf.c -I include -D DEBUG=1 --run 3
    """
    import tempfile

    from . import pipeline

    kernel = kernel.value
    chosen = _output_format(fmt, as_json)
    output = commands.checked_output(output)
    # A level-2 reload is said before it starts and when it ends (it can take minutes).
    policy = pipeline.Reruns(not no_rerun, lambda sentence: _say(f"vdoctor: {sentence}"))
    with pipeline.reruns(policy):
        flags = (include_dirs or (), defines or (), cflags)
        if not commands.is_single([str(p) for p in programs]) or jsonl:
            if kernel != "host" or run or attach or profile:
                raise VdoctorError("Several programs are tried on the running kernel only, without --kernel, "
                                   "--run, --attach or --profile; give one program for those.")
            raise typer.Exit(_try_many(programs, chosen, jsonl, output, log_level, cc, flags))
        program = programs[0]
        _require_program(program)
        as_json = chosen == "json"
        if chosen in ("html", "sarif") and (run or attach):
            raise VdoctorError(f"--run and --attach report as text or JSON, not with --format {chosen}.")
        with tempfile.TemporaryDirectory(prefix="vdoctor-") as workdir, _stdout_to(output, chosen):
            if profile:
                status = commands.try_profile(program, Path(workdir), kernel, cc, flags, chosen)
            elif kernel == "host":
                built = pipeline.build(program, Path(workdir), cc, *flags)
                if chosen == "text":
                    _say_build(built, program)
                if chosen in ("html", "sarif"):
                    status = _try_formatted(built.object, kernel, chosen, log_level, program, output)
                else:
                    status = _try_host(built, as_json, run, attach, log_level, attach_seconds, program)
            else:
                from .kernel.kernels import SUPPORTED

                targets = ["host", *SUPPORTED] if kernel == "all" else [kernel]
                builds = pipeline.build_for_kernels(program, Path(workdir), targets, cc, *flags)
                if chosen == "text":
                    for label, built in pipeline.distinct_builds(builds).items():
                        if not isinstance(built, VdoctorError):
                            _say_build(built, program, label)
                if chosen in ("html", "sarif"):
                    status = _try_formatted(builds, kernel, chosen, log_level, program, output)
                else:
                    status = _try_kernels(builds, kernel, as_json, log_level, program, run)
        raise typer.Exit(status)


def _try_many(programs: list[Path], fmt: str, jsonl: bool, output: Path | None, log_level: int,
              cc: str | None, flags: tuple) -> int:
    """`try` of several programs on the running kernel: each built and loaded in turn, then
    one report (commands.report_many); the worst program's exit status."""
    import tempfile
    import time

    from . import pipeline
    from .errors import EXIT_ACCEPTED, EXIT_REJECTED
    from .render.batch import Examined

    if jsonl and fmt != "json":
        raise VdoctorError(f"--jsonl is JSON Lines; it cannot be combined with --format {fmt}.")
    keep = None
    if fmt == "html":
        from .render.html import path_view as keep
    inputs = commands.expand_inputs([str(p) for p in programs], commands.PROGRAM_SUFFIXES)
    rows: list[Examined] = []
    sources: dict[str, tuple[Path | None, list[str] | None]] = {}
    with tempfile.TemporaryDirectory(prefix="vdoctor-") as workdir:
        for number, name in enumerate(inputs):
            program = Path(name)
            started = time.perf_counter()
            try:
                _require_program(program)
                built = pipeline.build(program, Path(workdir) / str(number), cc, *flags)
                if fmt == "text":
                    _say_build(built, program)
                outcomes = pipeline.load_on_host(built.object, log_level, keep)
            except (VdoctorError, OSError) as error:
                rows.append(commands.failed_row(name, error, time.perf_counter() - started))
                continue
            seconds = time.perf_counter() - started
            sources[name] = (_source_path(program), _program_source(program))
            rows.extend(Examined(name, o.diagnosis, o.kept, seconds if n == 0 else None,
                                 status=EXIT_ACCEPTED if o.diagnosis.verdict == "accepted" else EXIT_REJECTED)
                        for n, o in enumerate(outcomes))
    return commands.report_many(rows, fmt, jsonl, output, None, sources, f"{len(inputs)} programs")


def _require_program(program: Path) -> None:
    """A log given to `try` points to `explain` (before anything is compiled)."""
    from .kernel.build import is_object_file

    if program.is_file() and not is_object_file(program) and program.suffix in (".log", ".txt"):
        raise VdoctorError(f"{program} looks like a verifier log, not a program: "
                           f"`vdoctor explain {program}` explains it.")


def _source_path(program: Path) -> Path | None:
    """The program's C file; none for an object (its bytes are no source)."""
    from .kernel.build import is_object_file

    return None if is_object_file(program) else program


def _program_source(program: Path) -> list[str] | None:
    """The program's C lines to quote; none for an object."""
    return _read_source(_source_path(program))


def _say_build(built, program: Path, label: str | None = None) -> None:
    from . import pipeline

    for line in pipeline.build_notes(built, program, label):
        _say(f"vdoctor: {line}")


def _try_formatted(obj, kernel: str, fmt: str, log_level: int, program: Path,
                   output: Path | None) -> int:
    """`try --format html|sarif`: every kernel's diagnoses on one page or in one SARIF log
    (`obj`: the object, on the host; the builds per kernel, under QEMU). The page draws the
    path of every kernel's rejections, the host's and the guests' alike: each load keeps its
    path view (bounded, however long the log), not its trace."""
    from . import pipeline

    keep = None
    if fmt == "html":
        from .render.html import path_view as keep
    if kernel == "host":
        shown = [(None, o.diagnosis, o.kept) for o in pipeline.load_on_host(obj, log_level, keep)]
    else:
        objects = {label: b.object for label, b in obj.items() if not isinstance(b, VdoctorError)}
        results = pipeline.outcomes_on_kernels(objects, kernel, log_level, 0, keep)[0]
        shown = [(f"kernel {version}", o.diagnosis, o.kept) for version, outcomes in results.items()
                 for o in outcomes]
    source = _source_path(program)  # an object's bytes are no source: the log's lines are
    _emit(_formatted(fmt, shown, source, _read_source(source), str(program)), output)
    return pipeline.exit_status([d for _, d, _ in shown])


def _try_host(built, as_json: bool, run: int, attach: str | None, log_level: int,
              attach_seconds: float | None, program: Path) -> int:
    from . import pipeline
    from .render.json_out import run_to_dict

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
    status = pipeline.exit_status(diagnoses)
    if as_json:
        out = _combined_json(diagnoses, _program_source(program), _source_path(program))
        done = {n: r for n, r in runs.items() if not isinstance(r, str)}
        if done:
            out["runs"] = {name: run_to_dict(result) for name, result in done.items()}
        if len(done) < len(runs):
            out["run_errors"] = {n: r for n, r in runs.items() if isinstance(r, str)}
        out["build"] = pipeline.build_to_dict(built)
        _print_json(out)
    else:
        _render_diagnoses(diagnoses, runs, _screen(), _program_source(program), blank_between=True,
                          source_path=_source_path(program))
        _suggest_fix(diagnoses, program)
    if attach:
        pipeline.attach_until_interrupted(obj, diagnoses, attach, attach_seconds, _screen())
    return status


def _suggest_fix(diagnoses: list, program: Path) -> None:
    """Point to `vdoctor fix` when a rejection's class has a repair rule (a C source only)."""
    from .repair import RULES_DOC

    classes = dict.fromkeys(d.error.error_class for d in diagnoses
                            if d.verdict == "rejected" and d.error is not None and d.error.error_class in RULES_DOC)
    if classes and program.suffix == ".c":
        _say(f"vdoctor: `vdoctor fix {program}` has a repair rule for {', '.join(classes)}: it builds and "
             f"loads each candidate patch and keeps the smallest that loads.")


def _try_kernels(builds: dict, kernel: str, as_json: bool, log_level: int, program: Path,
                 run: int = 0) -> int:
    from . import pipeline
    from .render.json_out import run_to_dict
    from .render.text import render_matrix, render_run, render_text

    # With --run, each kernel's runs map a program to its RunResult or to why it was not run.
    objects = {label: built.object for label, built in builds.items() if not isinstance(built, VdoctorError)}
    unbuilt = {label: error for label, error in builds.items() if isinstance(error, VdoctorError)}
    from .kernel.qemu import reporting

    with reporting(_progress_printer()):
        results, ran = pipeline.run_on_kernels(objects, kernel, log_level, run)
    status = pipeline.exit_status([d for diagnoses in results.values() for d in diagnoses])
    if unbuilt and status == EXIT_ACCEPTED:
        status = EXIT_REJECTED
    if as_json:
        kernels: dict[str, Any] = {}
        for version, diagnoses in results.items():
            out = kernels[version] = _combined_json(diagnoses, _program_source(program), _source_path(program))
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
        screen = _screen()
        source, source_path = _program_source(program), _source_path(program)
        render_matrix({label: results.get(label, []) for label in builds if label in results or label in unbuilt},
                      screen, dict.fromkeys(unbuilt, "build-error"))
        for label, error in unbuilt.items():
            screen.print()
            screen.print(f"== does not compile for {label} (against its vmlinux.h) ==", style="bold")
            screen.print(str(error))
        for (name, error_class, _), (diagnosis, versions) in pipeline.distinct_failures(results).items():
            screen.print()
            screen.print(f"== {name}: {error_class} on {', '.join(versions)} ==", style="bold")
            render_text(diagnosis, screen, source, source_path)
        for version, programs in ran.items():
            if programs:
                screen.print()
                screen.print(f"== test runs on kernel {version} ==", style="bold")
                for name, result in programs.items():
                    if isinstance(result, str):
                        screen.print(f"  run      {name}: not run: {result}")
                    else:
                        screen.print(f"  {name}:")
                        render_run(result, screen)
    return status


def _progress_printer():
    """Each guest kernel's progress on stderr: styled by rich on a terminal, plain lines
    ("vdoctor: 6.1: done in 41 s") in a pipe; boots run two at a time, hence the lock."""
    import threading

    lock = threading.Lock()
    console = None
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.markup import escape

        console = Console(stderr=True, highlight=False)

    def heard(version: str, event: str) -> None:
        with lock:
            if console is not None:
                console.print(f"[bold]{escape(version)}[/bold] [dim]{escape(event)}[/dim]", markup=True)
            else:
                _say(f"vdoctor: {version}: {event}")

    return heard


def _render_diagnoses(diagnoses: "list[Diagnosis]", runs: dict[str, Any], screen: "Screen",
                      source: list[str] | None, blank_between: bool, source_path: Path | None = None) -> None:
    """Each diagnosis as text (a rejection the same as an earlier one only named under it),
    then its program's run: a RunResult, or why it was not run."""
    from .render.batch import once_each, render_also
    from .render.text import render_run, render_text

    for number, (diagnosis, others) in enumerate(once_each(diagnoses)):
        if number and blank_between:
            screen.print()
        render_text(diagnosis, screen, source, source_path)
        render_also(others, screen)
        if diagnosis.verdict == "accepted":  # render_text shows notes of rejections only
            for caveat in diagnosis.caveats:
                screen.print(f"  note     {caveat}")
        result = runs.get(diagnosis.program or "")
        if isinstance(result, str):
            screen.print(f"  run      not run: {result}")
        elif result is not None:
            render_run(result, screen)


@app.command()
@one_error_path
def fix(
    program: Annotated[Path, typer.Argument(metavar="PROGRAM", help="The BPF C file to repair.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write here instead of printing.")] = None,
    kernel: Annotated[Kernel, typer.Option("--kernel", help="Prove each repair on: host, 5.10, 6.1, 6.12, 7.2, 7.3.")] = Kernel.host,
    as_diff: Annotated[bool, typer.Option("--diff", help="Print only the diff (with -o, the file is written too).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print each round and candidate as JSON.")] = False,
    cc: CompilerOption = None,
    include_dirs: IncludeOption = None,
    defines: DefineOption = None,
    cflags: CflagsOption = None,
) -> None:
    """Repair a rejected program: malloc renamed to the shipped allocator, then each rejection's
    repair rule, every candidate built and loaded, the smallest that loads kept.

    Example: vdoctor fix prog.bpf.c -o prog_fixed.bpf.c
    """
    import tempfile

    from .repair.engine import repair, unified_diff
    from .repair.report import summary, to_dict

    if kernel.value == "all":
        raise VdoctorError("vdoctor fix proves its repair on one kernel: host, 5.10, 6.1, 6.12, 7.2 or 7.3.")
    if not program.is_file():
        raise VdoctorError(f"There is no file {program} to fix.")
    if output is not None and output.is_dir():
        raise VdoctorError(f"Cannot write {output}: it is a directory.")
    if output is not None and not output.parent.is_dir():
        raise VdoctorError(f"Cannot write {output}: there is no directory {output.parent}.")
    with tempfile.TemporaryDirectory(prefix="vdoctor-fix-") as workdir:
        result = repair(program, Path(workdir), kernel.value, cc, include_dirs or (), defines or (), cflags)
    if output is not None:
        output.write_text(result.text)
    if as_json:
        _print_json(to_dict(result, program.name, kernel.value))
    elif as_diff:
        sys.stdout.write(unified_diff(result, program.name, with_why=False))
    else:
        sys.stderr.write(unified_diff(result, program.name, with_why=True))
        if output is None:
            sys.stdout.write(result.text)
    if not as_json:
        for line in summary(result):
            _say(f"vdoctor: {line}" if not line.startswith(" ") else line)
        if output is not None and result.text != result.original:
            _say(f"vdoctor: wrote {output}.")
    raise typer.Exit(EXIT_ACCEPTED if result.loads else EXIT_REJECTED)


@app.command()
@one_error_path
def catalog(
    error_class: Annotated[Optional[str], typer.Argument(
        metavar="CLASS", show_default=False,
        help="An error class (scalar-deref, null-deref, ...; the list: vdoctor catalog); without it, the list of classes.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    coverage: Annotated[bool, typer.Option(
        "--coverage", help="Per kernel: the verifier's rejection messages, and how many are classed.")] = False,
    program: Annotated[bool, typer.Option(
        "--program", help="Write the class's smallest reproducer to the current directory, to try.")] = False,
) -> None:
    """Teach an error class: its minimal reproducer, its log on each kernel, why, and the fix.

    Example: vdoctor catalog scalar-deref --program
    """
    from . import catalog as teaching
    from .render.catalog_text import render_catalog_entry, render_catalog_list, render_coverage

    if program:
        if error_class is None:
            raise VdoctorError("--program writes one class's reproducer: name the class (vdoctor catalog lists them).")
        written = teaching.write_program(error_class, Path.cwd())
        _say(f"vdoctor: wrote {', '.join(p.name for p in written)}; `vdoctor try {written[0].name}` shows the rejection.")
        return

    if coverage:
        measured = teaching.coverage()
        if as_json:
            _print_json(teaching.coverage_to_dict(measured))
        else:
            render_coverage(measured, _console())
        return
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
