"""A longer mutation fuzz of `vdoctor explain` than the suite's property test runs.

    python scripts/fuzz_explain.py --seconds 600 [--seed 1] [--save tests/regressions]

Mutates the fixture logs (tests/log_mutations.py), reads each through the same steps as
`explain` in every format (reader, diagnosis, the JSON object, the text output on an ASCII
stream, the HTML page and the SARIF log), in-process, and groups the exceptions by class:
their type and the line of ours they came from. With --save, the smallest input of each class is written there.
Prints the inputs tried and the classes found.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from log_mutations import mutate, random_ops  # noqa: E402
from verifier_doctor.analysis import diagnose  # noqa: E402
from verifier_doctor.commands import formatted  # noqa: E402
from verifier_doctor.errors import VdoctorError  # noqa: E402
from verifier_doctor.parsing import read_log  # noqa: E402
from verifier_doctor.parsing.reader import read_text  # noqa: E402
from verifier_doctor.render.json_out import diagnosis_to_dict  # noqa: E402
from verifier_doctor.render import text as text_output  # noqa: E402
from verifier_doctor.render.screen import Screen  # noqa: E402
from verifier_doctor.render.text import render_text  # noqa: E402

# Before verifier-doctor set its stdout up, the stream was used as it came.
output_stream = getattr(text_output, "output_stream", lambda stream: stream)


def fixture_logs() -> list[Path]:
    return sorted(p for p in (ROOT / "fixtures").rglob("*.log") if p.stat().st_size < 1 << 20)


def explain_everything(data: bytes) -> None:
    """What `explain` and `explain --json` do to an input; raises what they would."""
    try:
        document = read_log(read_text(data))
        diagnoses = [diagnose(program) for program in document.programs]
    except VdoctorError:
        return
    for diagnosis in diagnoses:
        json.dumps(diagnosis_to_dict(diagnosis))
        # The text on a stdout that is not UTF-8 (LANG=C), set up as the CLI sets it up.
        stream = output_stream(io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict"))
        render_text(diagnosis, Screen(stream))  # as `explain` writes text (commands.screen)
        stream.flush()
    shown = [(None, d, t) for d, t in zip(diagnoses, document.programs)]
    for fmt in ("html", "sarif"):  # as `explain --format html|sarif` writes them
        formatted(fmt, shown, None, None, "standard input")


def crash_class(error: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "verifier_doctor" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(error).__name__} at {where}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", type=Path, default=None)
    args = parser.parse_args()
    logs = [p.read_bytes() for p in fixture_logs()]
    rng = random.Random(args.seed)
    classes: dict[str, tuple[int, bytes, str]] = {}
    tried = 0
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        data = mutate(rng.choice(logs), random_ops(rng), logs)
        tried += 1
        try:
            explain_everything(data)
        except RecursionError as error:
            classes.setdefault(crash_class(error), (0, data, repr(error)[:200]))
        except Exception as error:  # noqa: BLE001 - every exception is a finding
            name = crash_class(error)
            count, smallest, message = classes.get(name, (0, data, repr(error)[:200]))
            if len(data) < len(smallest):
                smallest, message = data, repr(error)[:200]
            classes[name] = (count + 1, smallest, message)
    print(f"inputs tried: {tried} in {args.seconds:.0f} s (seed {args.seed})")
    print(f"crash classes: {len(classes)}")
    for number, (name, (count, smallest, message)) in enumerate(sorted(classes.items())):
        print(f"  {count:6d}  {name}: {message}")
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / f"fuzz-{args.seed}-{number:02d}.log").write_bytes(smallest)


if __name__ == "__main__":
    main()
