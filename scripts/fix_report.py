"""`vdoctor fix` on every reproducer whose class has a repair rule: per class, the reproducers
repaired, the rounds each needed, the lines its diff changes, the seconds each repair took.

    .venv/bin/python scripts/fix_report.py [--kernel host|6.12|...]

Reproducers: fixtures/programs/*.bpf.c (the class from the .expect.json beside each) and
tests/fix_programs/*.bpf.c (ours, for shapes the fixtures lack). Each is repaired by the
real engine: built with clang, loaded into the kernel, every candidate proved by loading.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verifier_doctor.repair import RULES_DOC  # noqa: E402
from verifier_doctor.repair.engine import repair, unified_diff  # noqa: E402


def reproducers() -> list[tuple[str, Path]]:
    found = []
    for program in sorted((ROOT / "fixtures" / "programs").glob("*.bpf.c")):
        expect = json.loads(program.with_name(program.name.replace(".bpf.c", ".expect.json")).read_text())
        if expect.get("verdict") == "rejected" and expect.get("class") in RULES_DOC:
            found.append((expect["class"], program))
    found += [("(ours)", p) for p in sorted((ROOT / "tests" / "fix_programs").glob("*.bpf.c"))]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", default="host")
    args = parser.parse_args()
    rows: dict[str, list[tuple[str, bool, int, int, float]]] = defaultdict(list)
    for error_class, program in reproducers():
        with tempfile.TemporaryDirectory(prefix="vdoctor-fix-report-") as workdir:
            result = repair(program, Path(workdir), args.kernel)
        changed = sum(1 for line in unified_diff(result, program.name, False).splitlines()
                      if line[:1] in "+-" and not line.startswith(("+++", "---")))
        rounds = sum(1 for r in result.rounds if r.number > 0)
        name = program.name.removesuffix(".bpf.c")
        rows[error_class].append((name, result.loads, rounds, changed, result.seconds))
        print(f"{error_class:22} {name}: {'loads' if result.loads else 'not repaired'}, {rounds} round(s), "
              f"{changed} lines changed, {result.seconds:.1f} s", file=sys.stderr)
    print(f"| class | repaired | rounds | lines changed | seconds per repair | not repaired (kernel {args.kernel}) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for error_class, found in rows.items():
        done = [row for row in found if row[1]]
        spread = (lambda values, fmt: f"{fmt(min(values))}-{fmt(max(values))}" if values else "-")
        print(f"| {error_class} | {len(done)}/{len(found)} | {spread([r[2] for r in done], str)} | "
              f"{spread([r[3] for r in done], str)} | {spread([r[4] for r in done], lambda v: f'{v:.1f}')} | "
              f"{', '.join(r[0] for r in found if not r[1]) or '-'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
