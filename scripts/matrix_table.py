"""A table of the recorded fixture logs: per reproducer and kernel, the class we diagnose,
and whether it matches the expect file (class, rejected line, culprit line).

    python scripts/matrix_table.py            # Markdown on standard output
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from test_fixture_logs import LOGS, diagnosis_of, expectation  # noqa: E402

KERNELS = ["5.10", "6.1", "6.12", "6.18", "7.2", "7.3"]


def right(log: Path) -> tuple[str, bool]:
    expect = expectation(log)
    diagnosis, trace = diagnosis_of(log, expect["program"])
    got = diagnosis.error.error_class if diagnosis.error else "accepted"
    want = expect["class"] or "accepted"
    ok = got == want
    if ok and expect.get("error_source"):
        ok = diagnosis.error.source is not None and expect["error_source"] in diagnosis.error.source.text
    if ok and expect.get("culprit_source"):
        ok = (diagnosis.culprit is not None and diagnosis.culprit.source is not None
              and expect["culprit_source"] in diagnosis.culprit.source.text)
    return got, ok


def main() -> int:
    cells: dict[str, dict[str, list[tuple[str, bool]]]] = defaultdict(lambda: defaultdict(list))
    by_class: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for log in LOGS:
        stem = log.name.rsplit(".", 2)[0]
        got, ok = right(log)
        cells[stem][log.parent.name].append((got, ok))
        want = expectation(log)["class"] or "accepted"
        by_class[want][log.parent.name].append(ok)
    print("| program | " + " | ".join(KERNELS) + " |")
    print("|---|" + "---|" * len(KERNELS))
    for stem in sorted(cells):
        row = []
        for kernel in KERNELS:
            results = cells[stem].get(kernel, [])
            if not results:
                row.append("-")
                continue
            got = results[0][0]
            row.append(got + ("" if all(ok for _, ok in results) else " (wrong)"))
        print(f"| {stem} | " + " | ".join(row) + " |")
    print()
    print("| class | " + " | ".join(KERNELS) + " |")
    print("|---|" + "---|" * len(KERNELS))
    for cls in sorted(by_class):
        row = []
        for kernel in KERNELS:
            results = by_class[cls].get(kernel, [])
            row.append(f"{sum(results)}/{len(results)}" if results else "-")
        print(f"| {cls} | " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
