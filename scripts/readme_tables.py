"""Prints the README's coverage table and class table from the code (`vdoctor catalog --coverage`
and the class modules), so the README's numbers come from a run: paste its output."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from verifier_doctor import catalog  # noqa: E402
from verifier_doctor.analysis.classes import CLASSES, CLASSES_BY_NAME  # noqa: E402
from verifier_doctor.render.catalog_text import render_coverage  # noqa: E402


def main() -> None:
    out = io.StringIO()
    render_coverage(catalog.coverage(), Console(file=out, width=200, highlight=False))
    print("\n".join(line.rstrip() for line in out.getvalue().splitlines()[:6]))
    print()
    messages: dict[str, str] = {}
    for path in sorted((ROOT / "fixtures" / "programs").glob("*.expect.json")):
        expect = json.loads(path.read_text())
        if expect["verdict"] == "rejected":
            message = expect["message"]
            messages.setdefault(expect["class"], message[0] if isinstance(message, list) else message)
    for name in CLASSES:
        shown = messages.get(name, "").replace("|", "\\|")
        print(f"| `{name}` | {CLASSES_BY_NAME[name].lesson.title} | {f'`{shown}`' if shown else '(none: see above)'} |")


if __name__ == "__main__":
    main()
