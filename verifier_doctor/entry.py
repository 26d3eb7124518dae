"""The `vdoctor` command's entry point: `vdoctor explain` and help at once, the rest by typer.

The command line is defined once, with typer (cli.py). Importing typer and building its
commands costs ~25 ms, a fifth of explaining a small log, and `explain` is run in an
edit-load loop. So the plain invocations of `explain` (one LOG, and --json, --format,
--source, -o/--output, each at most once, spelled out) run straight from here; anything
else (--help, a bad option or value, an abbreviation, `--`) goes to typer, which parses it
and says what is wrong. tests/test_entry.py checks that for every invocation `quick_explain`
accepts, typer gives the command the same arguments.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .commands import FORMATS

_VALUED = {"--source": "source", "--format": "fmt", "-o": "output", "--output": "output"}


def quick_explain(argv: list[str]) -> dict | None:
    """commands.explain's arguments for `argv` (what follows `vdoctor`), or None when typer
    should read it."""
    if not argv or argv[0] != "explain":
        return None
    found: dict = {}
    logs = []
    words = iter(argv[1:])
    for word in words:
        if word == "--json":
            if "as_json" in found:
                return None
            found["as_json"] = True
            continue
        name, eq, attached = word.partition("=")
        if name in _VALUED and (eq or name == word):
            if eq and name == "-o":
                return None  # `-o=F` means the file "=F" to click: leave it to typer
            value = attached if eq else next(words, None)
            key = _VALUED[name]
            if not value or key in found or (not eq and value.startswith("-")):
                return None
            found[key] = value
            continue
        if word.startswith("-") and word != "-":
            return None  # --help, an unknown option, -oFILE, --: typer's
        logs.append(word)
    if len(logs) != 1:
        return None
    if found.get("fmt", "text") not in FORMATS:
        return None
    for key in ("source", "output"):
        if key in found:
            found[key] = Path(found[key])
    return {"log": logs[0], **found}


def help_request(argv: list[str]) -> bool:
    """`vdoctor`, `vdoctor --help` or `vdoctor WORD --help`: a help page (or typer's
    sentence about an unknown WORD) that depends only on the code and the width."""
    return argv in ([], ["--help"]) or (
        len(argv) == 2 and argv[1] == "--help" and argv[0].isalpha() and len(argv[0]) <= 20)


def _help_columns() -> int:
    """The columns click formats help in: those of the real standard output, 80 when not
    known (shutil.get_terminal_size's fallback), at most 80 (click's)."""
    from .render.screen import terminal_columns

    return min(terminal_columns(sys.__stdout__) or 80, 80)


def _typer_says(argv: list[str]) -> tuple[str, str, int]:
    """What typer prints on stdout and stderr for argv, and its exit status."""
    import contextlib
    import io

    from .cli import app

    out, err = io.StringIO(), io.StringIO()
    status = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            app(prog_name="vdoctor", args=argv)
        except SystemExit as done:
            status = done.code if isinstance(done.code, int) else int(done.code is not None)
    return out.getvalue(), err.getvalue(), status


def cached_help(argv: list[str]) -> tuple[str, str, int]:
    """typer's answer to a help request, kept in the cache (cache.kept) by the request, the
    width and the files help is made of: importing typer costs ~40 ms, printing it once kept
    ~1 ms. tests/test_entry.py checks the two agree."""
    from importlib.util import find_spec

    from .cache import files_stamp, kept

    here = Path(__file__).resolve().parent
    typer = find_spec("typer")
    typer_files = [Path(folder) / "__init__.py" for folder in (typer.submodule_search_locations or [])] if typer else []
    stamp = f"{argv}|{_help_columns()}|{files_stamp([here / 'cli.py', here / 'commands.py', *typer_files])}"
    return tuple(kept("help", stamp, lambda: _typer_says(argv)))


def main() -> None:
    argv = sys.argv[1:]
    if help_request(argv):
        out, err, status = cached_help(argv)
        sys.stdout.write(out)
        sys.stderr.write(err)
        sys.exit(status)
    quick = quick_explain(argv)
    if quick is None:
        from .cli import app

        app(prog_name="vdoctor")
        return
    from .commands import explain, failure_status

    try:
        explain(**quick)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - the one error path, as cli.one_error_path
        sys.exit(failure_status(error))
    sys.exit(0)
