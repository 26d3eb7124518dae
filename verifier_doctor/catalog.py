"""The catalogue: every error class, taught from the repository's own reproducers.

For a class it gathers the reproducer programs of that class (fixtures/programs/
*.expect.json), and for each the logs recorded from real kernels (fixtures/logs/
<kernel>/<name>.L1.log): each log goes through the real parser and diagnosis, and
the entry keeps the verdict, the kernel's error line, and the few log lines around
the failing instruction, found by the log-line numbers the parser records (no text
is re-parsed here). The explanation and fixes are the lesson of analysis/advice.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from . import resources
from .analysis import diagnose
from .analysis.advice import Lesson, lesson
from .analysis.classes import CLASSES
from .errors import VdoctorError
from .model import ProgramTrace
from .parsing import read_log
from .parsing.reader import LineKind, classify

# Steps shown before the failing instruction, and the most lines an excerpt keeps.
EXCERPT_STEPS = 3
EXCERPT_MAX_LINES = 14
# What an excerpt shows of the log; precision back-tracking, liveness and statistics are
# the verifier's bookkeeping, left out (an elided run becomes one "...").
_EXCERPT_KINDS = frozenset({
    LineKind.SOURCE, LineKind.INSN, LineKind.STATE, LineKind.BARE_STATE, LineKind.BRANCH,
    LineKind.PRUNED, LineKind.MESSAGE,
})
ELLIPSIS = "..."


@cache
def fixtures_dir() -> Path:
    """The reproducers and their recorded logs: inside the package when installed from a
    wheel, beside it in a checkout or an editable install (resources.py finds them)."""
    found = resources.fixtures_dir()
    if found is not None:
        return found
    raise VdoctorError(
        "The catalogue needs the reproducers in fixtures/ (a checkout of verifier-doctor), "
        "and this installation has none."
    )


@dataclass(frozen=True, slots=True)
class KernelRun:
    """One reproducer's recorded log on one kernel, diagnosed."""

    kernel: str
    log: str  # the log file, relative to the repository
    verdict: str  # "rejected", "accepted", or "unreadable" when the parser refused the log
    error_class: str | None
    message: str | None  # the kernel's error line
    wording: str | None  # which of the expect file's wordings the error line carries
    worded_differently: bool  # another wording than the newest kernel's
    classified_differently: bool  # another class than the reproducer's
    excerpt: tuple[str, ...]
    error_source: str | None
    culprit_source: str | None
    culprit_note: str | None
    register: str | None


@dataclass(frozen=True, slots=True)
class Reproducer:
    name: str
    program: str  # the BPF program's name (its function)
    path: str  # the .bpf.c file, relative to the repository
    source: str
    error_class: str
    runs: tuple[KernelRun, ...]  # oldest kernel first
    note: str | None  # why the expect file has no log, when it says

    @property
    def lines(self) -> int:
        return len(self.source.splitlines())

    def run(self, kernel: str) -> KernelRun | None:
        return next((r for r in self.runs if r.kernel == kernel), None)


@dataclass(frozen=True, slots=True)
class Entry:
    """What the catalogue teaches about one class."""

    error_class: str
    lesson: Lesson
    reproducers: tuple[Reproducer, ...]  # the minimal one first

    @property
    def minimal(self) -> Reproducer | None:
        return self.reproducers[0] if self.reproducers else None

    @property
    def explanation(self) -> str:
        """The lesson's explanation, naming the register of the minimal reproducer."""
        register = None
        if self.minimal is not None and self.minimal.runs:
            register = self.minimal.runs[-1].register
        return self.lesson.explain(register)


@dataclass(frozen=True, slots=True)
class ClassSummary:
    error_class: str
    title: str
    reproducers: int
    kernels: tuple[str, ...]  # kernels with a recorded log of one of its reproducers


def _version_key(kernel: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in kernel.split("."))


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(fixtures_dir().parent))
    except ValueError:
        return str(path)


@cache
def _expectations() -> tuple[tuple[str, dict], ...]:
    """(name, expect file) of every reproducer, by name."""
    programs = fixtures_dir() / "programs"
    found = []
    for path in sorted(programs.glob("*.expect.json")):
        name = path.name.removesuffix(".expect.json")
        if (programs / f"{name}.bpf.c").is_file():
            found.append((name, json.loads(path.read_text())))
    return tuple(found)


def _kernels() -> tuple[str, ...]:
    logs = fixtures_dir() / "logs"
    if not logs.is_dir():
        return ()
    return tuple(sorted((p.name for p in logs.iterdir() if p.is_dir()), key=_version_key))


def _log_of(name: str, kernel: str) -> Path | None:
    """The level-1 log (short), else the level-2 one."""
    for level in ("L1", "L2"):
        path = fixtures_dir() / "logs" / kernel / f"{name}.{level}.log"
        if path.is_file():
            return path
    return None


def _check_class(error_class: str) -> None:
    if error_class not in CLASSES:
        raise VdoctorError(f"There is no error class '{error_class}'; the classes are: {', '.join(CLASSES)}.")


def summaries() -> list[ClassSummary]:
    """Every class of CLI.md with its title, number of reproducers and kernels with logs
    (from the file names only: nothing is parsed)."""
    kernels = _kernels()
    out = []
    for error_class in CLASSES:
        names = [name for name, expect in _expectations() if expect.get("class") == error_class]
        with_logs = tuple(k for k in kernels if any(_log_of(name, k) for name in names))
        out.append(ClassSummary(error_class, lesson(error_class).title, len(names), with_logs))
    return out


def entry(error_class: str) -> Entry:
    """The full teaching entry of a class; VdoctorError for a class CLI.md does not have."""
    _check_class(error_class)
    reproducers = [
        _reproducer(name, expect) for name, expect in _expectations() if expect.get("class") == error_class
    ]
    # The minimal reproducer: the shortest program that has recorded logs.
    reproducers.sort(key=lambda r: (not r.runs, r.lines, r.name))
    return Entry(error_class, lesson(error_class), tuple(reproducers))


_LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)"', re.MULTILINE)


def write_program(error_class: str, folder: Path) -> list[Path]:
    """The class's minimal reproducer written into `folder` (with the headers of its own
    folder it includes), for `vdoctor try`; the files written. An existing file is never
    overwritten: VdoctorError instead, before anything is written."""
    minimal = entry(error_class).minimal
    if minimal is None:
        raise VdoctorError(f"The class {error_class} has no reproducer to write.")
    source = fixtures_dir() / "programs" / f"{minimal.name}.bpf.c"
    headers = [source.parent / name for name in _LOCAL_INCLUDE.findall(minimal.source)
               if (source.parent / name).is_file()]
    targets = [(folder / path.name, path) for path in (source, *headers)]
    taken = [str(target) for target, _ in targets if target.exists()]
    if taken:
        raise VdoctorError(f"{', '.join(taken)} already exists; vdoctor does not overwrite it.")
    for target, path in targets:
        target.write_text(path.read_text())
    return [target for target, _ in targets]


def repair_of(item: Entry):
    """What `vdoctor fix` does for this class (repair/teach.py): its rule, and the patch the
    rule proposes for the first reproducer it fits, read from its recorded log; None for a
    class without a rule, or where the C parser is missing."""
    from .repair.teach import TAUGHT_KERNEL, proposal

    found = [(r.name, fixtures_dir() / "programs" / f"{r.name}.bpf.c", _log_of(r.name, TAUGHT_KERNEL))
             for r in item.reproducers]
    try:
        return proposal(item.error_class, found)
    except VdoctorError:
        return None


def _reproducer(name: str, expect: dict) -> Reproducer:
    path = fixtures_dir() / "programs" / f"{name}.bpf.c"
    runs = []
    for kernel in _kernels():
        log = _log_of(name, kernel)
        if log is not None:
            runs.append(_run(kernel, log, expect))
    newest = next((r.wording for r in reversed(runs) if r.wording is not None), None)
    runs = [
        replace(run, worded_differently=run.wording is not None and newest is not None and run.wording != newest)
        for run in runs
    ]
    note = None
    if not runs:
        note = ("Its logs are too large to keep in the repository (a benchmark input)."
                if expect.get("log_too_large") else "No log of it was recorded.")
    return Reproducer(name, expect.get("program", name), _relative(path), path.read_text(),
                      expect["class"], tuple(runs), note)


def _wordings(expect: dict) -> list[str]:
    message = expect.get("message")
    if message is None:
        return []
    return list(message) if isinstance(message, list) else [message]


def _run(kernel: str, log: Path, expect: dict) -> KernelRun:
    expected = {**expect, **expect.get("kernels", {}).get(kernel, {})}
    text = log.read_text(errors="replace")
    try:
        document = read_log(text)
        traces = [t for t in document.programs if t.name == expect.get("program")] or list(document.programs)
        trace = traces[0]
        diagnosis = diagnose(trace)
    except VdoctorError as error:
        return KernelRun(kernel, _relative(log), "unreadable", None, str(error), None, False, False, (),
                         None, None, None, None)
    error = diagnosis.error
    culprit = diagnosis.culprit
    error_class = error.error_class if error else None
    said = "\n".join((*error.details, *trace.libbpf_lines)) if error else ""
    wording = next((w for w in _wordings(expected) if w in said), None)
    return KernelRun(
        kernel=kernel,
        log=_relative(log),
        verdict=diagnosis.verdict,
        error_class=error_class,
        message=error.message if error else None,
        wording=wording,
        worded_differently=False,
        classified_differently=error_class is not None and error_class != expect.get("class"),
        excerpt=excerpt(text, trace, error.message if error else None),
        error_source=error.source.text if error and error.source else None,
        culprit_source=culprit.source.text if culprit and culprit.source else None,
        culprit_note=culprit.note if culprit else None,
        register=error.register if error else None,
    )


def _offset(lines: list[str], trace: ProgramTrace) -> int | None:
    """Where this program's log starts in the file: the parser numbers each program's own
    lines from 1 (`log_line`), without the libbpf wrapper around them. The offset is the
    one at which the error lines and the failing instruction the parser recorded sit in
    the file, exactly."""
    anchors = [(m.log_line, m.text.strip()) for m in trace.messages[-3:]]
    if not anchors:
        return None
    last = trace.steps[-1] if trace.steps else None
    first_line, first_text = anchors[0]
    for number, line in enumerate(lines, start=1):
        if line.strip() != first_text:
            continue
        offset = number - first_line
        fits = all(0 < n + offset <= len(lines) and lines[n + offset - 1].strip() == t for n, t in anchors)
        if fits and last is not None:
            at = last.log_line + offset
            fits = 0 < at <= len(lines) and lines[at - 1].lstrip().startswith(f"{last.insn.index}:")
        if fits:
            return offset
    return None


def excerpt(text: str, trace: ProgramTrace, message: str | None = None) -> tuple[str, ...]:
    """The few lines of the log around the failing instruction: the last steps before it,
    the failing instruction, and the block of error lines right after it (`message`, the
    diagnosis's error, among them). A load that failed before the verifier ran has no
    such lines; its excerpt is libbpf's message."""
    if not trace.steps and not trace.messages:
        return tuple(trace.libbpf_lines[:EXCERPT_MAX_LINES])
    last = trace.steps[-1] if trace.steps else None
    errors = [m for m in trace.messages if last is None or m.after_step == last.number]
    if not errors:
        errors = list(trace.messages[-1:])
    lines = text.splitlines()
    offset = _offset(lines, trace)
    if offset is None or not errors:
        # Not found in the file as the parser numbered it: the error lines alone.
        return tuple(m.text for m in errors[:3]) or tuple(trace.libbpf_lines[:EXCERPT_MAX_LINES])
    # The error block: the first error line and the ones that follow it directly (v7.3
    # then prints its own diagnosis after a blank line: left out).
    numbered = {m.log_line for m in errors}
    first_error = min(numbered)
    wanted = next((m.log_line for m in errors if m.text == message), first_error)
    end = first_error
    while end + 1 in numbered and end - first_error < 2:
        end += 1
    end = max(end, wanted) + offset
    if last is not None:
        start = trace.steps[max(0, last.number - EXCERPT_STEPS)].log_line + offset
        while start > 1 and classify(lines[start - 2]) is LineKind.SOURCE:
            start -= 1  # the source line the kernel prints above the instruction
    else:
        start = first_error + offset
    kept: list[str] = []
    previous: LineKind | None = None
    for number in range(start, end + 1):
        line = lines[number - 1]
        kind = classify(line)
        # A bare state line belongs to the instruction above it (5.10); inside precision
        # back-tracking it is bookkeeping.
        if kind in _EXCERPT_KINDS and (kind is not LineKind.BARE_STATE or previous is LineKind.INSN):
            kept.append(line.rstrip())
        elif kept and kept[-1] != ELLIPSIS:
            kept.append(ELLIPSIS)
        previous = kind
    if len(kept) > EXCERPT_MAX_LINES:
        kept = [ELLIPSIS, *kept[-(EXCERPT_MAX_LINES - 1):]]
    return tuple(kept)


def _repair_dict(item: Entry) -> dict | None:
    found = repair_of(item)
    if found is None:
        return None
    return {"rule": found.rule, "reproducer": found.reproducer, "why": found.why, "diff": found.diff}


def entry_to_dict(item: Entry) -> dict:
    """The JSON object of `vdoctor catalog CLASS --json`."""
    taught = item.lesson
    return {
        "class": item.error_class,
        "title": taught.title,
        "explanation": item.explanation,
        "fixes": [{"text": f.text, "before": f.before, "after": f.after} for f in taught.fixes],
        "before": taught.before,
        "after": taught.after,
        "versions": list(taught.versions),
        "repair": _repair_dict(item),
        "minimal": item.minimal.name if item.minimal else None,
        "reproducers": [
            {
                "name": r.name,
                "program": r.program,
                "path": r.path,
                "lines": r.lines,
                "source": r.source,
                "note": r.note,
                "kernels": {
                    run.kernel: {
                        "log": run.log,
                        "verdict": run.verdict,
                        "class": run.error_class,
                        "message": run.message,
                        "wording": run.wording,
                        "worded_differently": run.worded_differently,
                        "classified_differently": run.classified_differently,
                        "excerpt": list(run.excerpt),
                        "error_source": run.error_source,
                        "culprit_source": run.culprit_source,
                        "culprit_note": run.culprit_note,
                    }
                    for run in r.runs
                },
            }
            for r in item.reproducers
        ],
    }


def summaries_to_dict(items: list[ClassSummary]) -> dict:
    """The JSON object of `vdoctor catalog --json`."""
    return {
        "classes": [
            {"class": s.error_class, "title": s.title, "reproducers": s.reproducers, "kernels": list(s.kernels)}
            for s in items
        ]
    }


# --- coverage: the verifier's rejection messages against our classes --------------------

@dataclass(frozen=True, slots=True)
class KernelCoverage:
    """One kernel's rejection messages (from its own source) and what we do with them."""

    kernel: str
    messages: int  # rejection messages this kernel's verifier can print
    classed: int  # of them, in a class other than `other`
    internal: int  # the kernel's own errors, by the catalogue's mark (`verifier-bug`)
    taught: int  # classed into a class that has a lesson and a reproducer
    reproduced: int  # printed by one of our reproducers' recorded logs on this kernel
    unclassed: tuple[str, ...]  # formats in no class (a gap to close)


@dataclass(frozen=True, slots=True)
class Coverage:
    kernels: tuple[KernelCoverage, ...]
    internal_messages: tuple[str, ...]  # every format the catalogue marks internal


def coverage() -> Coverage:
    """Per kernel of the catalogue: its rejection messages, how many we class, teach and
    reproduce. Reproduced means a recorded log of ours prints that very message."""
    from .analysis.classes import class_of
    from .parsing.messages import catalogue_entries, parse_message

    entries = [e for e in catalogue_entries() if e.rejection and e.file != "libbpf"]  # the kernel's own
    summaries_by_class = {s.error_class: s for s in summaries()}
    seen: dict[str, set[str]] = {}
    for kernel in _kernels():
        formats: set[str] = set()
        for name, _ in _expectations():
            log = _log_of(name, kernel)
            if log is None:
                continue
            for line in log.read_text(errors="replace").splitlines():
                message = parse_message(line) if not line[:1].isdigit() else None
                if message is not None and message.rejection:
                    formats.add(message.format)
        seen[kernel] = formats
    rows = []
    from .kernel.kernels import SUPPORTED

    kernels = SUPPORTED  # the kernels whose sources the catalogue was made from
    for kernel in kernels:
        mine = [e for e in entries if kernel in e.kernels]
        classed = internal = taught = reproduced = 0
        unclassed = []
        for item in mine:
            message = _as_message(item)
            cls = class_of(message)
            if cls is None:
                unclassed.append(message.format)
            elif message.internal:
                internal += 1
            else:
                classed += 1
                if summaries_by_class[cls].reproducers:
                    taught += 1
            if message.format in seen.get(kernel, ()):
                reproduced += 1
        rows.append(KernelCoverage(kernel, len(mine), classed, internal, taught, reproduced, tuple(unclassed)))
    internal_formats = tuple(sorted({e.format.strip() for e in entries if e.internal}))
    return Coverage(tuple(rows), internal_formats)


def _as_message(entry):
    """A catalogue entry as the message a log line of it reads as (no fields)."""
    from .model import KernelMessage

    return KernelMessage(text=entry.format.strip(), format=entry.format.strip(), function=entry.function,
                         file=entry.file, fields=(), rejection=entry.rejection, internal=entry.internal,
                         kernels=entry.kernels)


def coverage_to_dict(item: Coverage) -> dict:
    """The JSON object of `vdoctor catalog --coverage --json`."""
    return {
        "kernels": [
            {"kernel": k.kernel, "messages": k.messages, "classed": k.classed, "internal": k.internal,
             "taught": k.taught, "reproduced": k.reproduced, "unclassed": list(k.unclassed)}
            for k in item.kernels
        ],
        "internal_messages": list(item.internal_messages),
    }
