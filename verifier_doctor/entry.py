"""The `vdoctor` command's entry point: `vdoctor explain` at once, everything else by typer.

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


def main() -> None:
    quick = quick_explain(sys.argv[1:])
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
