"""`vdoctor fix`: build and load, diagnose, try each rule's candidates, keep the smallest that
loads; again, for a bounded number of rounds, when the repaired program stops at the next
rejection.

Every candidate is proved the only way that counts: it is compiled with the program's own
flags and loaded into the kernel (the running one, or one under QEMU with every candidate of
a round in one boot). Its verdict is `loads`, `next rejection` (this rejection is gone and
another one stands: progress, kept when no candidate loads), `same rejection`, `does not
compile`, `deletes logic` (refused before building) or `could not be loaded` (libbpf
refused the object, or its log could not be read).
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis import Diagnosis
from ..errors import BuildFailed, KernelUnavailable, VdoctorError
from ..fix import rewrite_malloc
from . import Candidate, Context, additive, rule_for
from .csource import apply, parse, parse_args
from .site import fix_site

__all__ = ["Attempt", "Round", "Repair", "repair", "unified_diff"]

MAX_ROUNDS = 5
LOADS, NEXT, SAME, BUILD, DELETES = "loads", "next rejection", "same rejection", "does not compile", "deletes logic"
NOT_LOADED = "could not be loaded"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One candidate of a round and what the kernel said of it."""

    rule: str
    why: str
    changed_lines: int
    verdict: str
    detail: str  # the rejection that stands, or the compiler's first error


@dataclass(frozen=True, slots=True)
class Round:
    number: int
    program: str  # the rejected program this round repairs ("" for the malloc rename)
    error_class: str
    message: str
    line: int | None
    attempts: tuple[Attempt, ...]
    chosen: int | None  # index into attempts
    seconds: float


@dataclass(frozen=True, slots=True)
class Repair:
    original: str
    text: str
    loads: bool
    rounds: tuple[Round, ...]
    whys: tuple[tuple[str, str], ...]  # (the lines a round added, its why)
    seconds: float
    stopped: str | None = None  # why the repair stopped short, in one sentence


@dataclass(slots=True)
class _Loader:
    """Builds a text beside nothing of the user's (a work directory of its own, the source's
    folder on the include path) and loads it: on the host, or in one QEMU boot per batch."""

    program: Path
    workdir: Path
    kernel: str
    cc: str | None
    include_dirs: list[Path]
    defines: list[str]
    cflags: str | None
    count: int = 0
    command: tuple[str, ...] = field(default=())

    def build(self, text: str) -> Path:
        from .. import pipeline

        self.count += 1
        folder = self.workdir / f"c{self.count}"
        folder.mkdir(parents=True)
        source = folder / self.program.name
        source.write_text(text)
        built = pipeline.build(source, folder, self.cc, self.include_dirs, self.defines, self.cflags,
                               self.kernel)
        if not self.command and built.command:
            self.command = built.command
        return built.object

    def load(self, objects: Sequence[Path]) -> list[list[Diagnosis] | VdoctorError]:
        """Each object's diagnoses, or the error that kept it from being read (a candidate's
        own fault; the environment failing raises)."""
        from .. import pipeline

        if self.kernel == "host":
            return [_or_error(lambda: [o.diagnosis for o in pipeline.load_on_host(obj, 1)]) for obj in objects]
        from ..kernel.qemu import load_in_guests

        run = load_in_guests([self.kernel], list(objects), 1)[self.kernel]
        if isinstance(run, VdoctorError):
            raise run
        return [_or_error(lambda: [pipeline.diagnose_load(load.name, load.log, load.accepted)
                                   for load in run.results.get(obj, []) if load.section != ".text"])
                for obj in objects]


def _or_error(load):
    try:
        return load()
    except KernelUnavailable:
        raise
    except VdoctorError as error:
        return error


def _key(diagnosis: Diagnosis) -> tuple:
    error = diagnosis.error
    if diagnosis.verdict == "accepted" or error is None:
        return ("accepted",)
    culprit = diagnosis.culprit.source if diagnosis.culprit else None
    return (error.error_class, error.message, error.source.text.strip() if error.source and error.source.text else None,
            (culprit.line, culprit.text) if culprit else None)


def _rejected(diagnoses: list[Diagnosis]) -> list[Diagnosis]:
    return [d for d in diagnoses if d.verdict != "accepted"]


def _changed_lines(before: str, after: str) -> int:
    return sum(1 for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---")))


def _verdict(target: Diagnosis, before: list[Diagnosis], after: list[Diagnosis]) -> tuple[str, str]:
    if not _rejected(after):
        return LOADS, ""
    accepted_before = {d.program for d in before if d.verdict == "accepted"}
    now = {d.program: d for d in after}
    mine = now.get(target.program)
    worse = [d for d in _rejected(after) if d.program in accepted_before]
    first = (worse or _rejected(after))[0]
    detail = f"{first.program}: [{first.error.error_class}] {first.error.message}" if first.error else str(first.program)
    if mine is not None and _key(mine) != _key(target) and not worse:
        return NEXT, detail
    return SAME, detail


def _candidates(diagnosis: Diagnosis, text: str, loader: _Loader) -> list[Candidate]:
    site = fix_site(diagnosis, loader.program.name, text)
    rule = rule_for(site.error_class)
    if rule is None:
        return []
    tree = parse(text.encode(), loader.program.name, parse_args(loader.command))
    return rule(Context(tree, site))


def _round(number: int, diagnosis: Diagnosis, diagnoses: list[Diagnosis], text: str,
           loader: _Loader) -> tuple[Round, str | None, Candidate | None, list[Diagnosis]]:
    """Try every candidate for `diagnosis`; the round, and the text, candidate and diagnoses
    chosen (None when no candidate loads or makes progress)."""
    started = time.monotonic()
    source = text.encode()
    tried: list[tuple[Candidate, str]] = []
    attempts: list[Attempt] = []
    seen: set[str] = set()
    for candidate in _candidates(diagnosis, text, loader):
        new = apply(source, candidate.edits).decode(errors="replace")
        if new in seen or new == text:
            continue
        seen.add(new)
        tried.append((candidate, new))
    results: list[tuple[str, str, list[Diagnosis]]] = []
    objects: dict[int, Path] = {}
    for n, (candidate, new) in enumerate(tried):
        if not (candidate.replaces_value or candidate.rewrites_loop or additive(source, candidate.edits)):
            results.append((DELETES, "", []))
            continue
        try:
            objects[n] = loader.build(new)
            results.append(("", "", []))
        except BuildFailed as error:
            lines = str(error).splitlines()
            results.append((BUILD, next((x for x in lines if "error" in x), lines[0]), []))
    loaded = dict(zip(objects, loader.load(list(objects.values())))) if objects else {}
    for n, (candidate, new) in enumerate(tried):
        verdict, detail, _ = results[n]
        after = loaded.get(n, [])
        if isinstance(after, VdoctorError):
            verdict, detail, after = NOT_LOADED, str(after), []
        elif n in loaded:
            verdict, detail = _verdict(diagnosis, diagnoses, after)
        results[n] = (verdict, detail, after)
        attempts.append(Attempt(candidate.rule, candidate.why, _changed_lines(text, new), verdict, detail))
    chosen = None
    for wanted in (LOADS, NEXT):
        fits = [n for n, a in enumerate(attempts) if a.verdict == wanted]
        if fits:
            chosen = min(fits, key=lambda n: attempts[n].changed_lines)
            break
    error = diagnosis.error
    site_line = fix_site(diagnosis, loader.program.name, text).error_line
    record = Round(number, diagnosis.program or "", error.error_class if error else "other",
                   error.message if error else "", site_line, tuple(attempts), chosen,
                   time.monotonic() - started)
    if chosen is None:
        return record, None, None, diagnoses
    return record, tried[chosen][1], tried[chosen][0], results[chosen][2]


def _added(before: str, after: str) -> str:
    """The lines a round added or changed, for matching its why to the final diff's hunks."""
    return "\n".join(line[1:] for line in difflib.unified_diff(before.splitlines(), after.splitlines(),
                                                               lineterm="", n=0)
                     if line.startswith("+") and not line.startswith("+++"))


def repair(program: Path, workdir: Path, kernel: str = "host", cc: str | None = None,
           include_dirs: Sequence[Path] = (), defines: Sequence[str] = (), cflags: str | None = None,
           max_rounds: int = MAX_ROUNDS) -> Repair:
    """Repair `program` until every program in it loads, or no rule helps any more."""
    from ..kernel.build import compile_commands_flags

    started = time.monotonic()
    if not program.is_file():
        raise VdoctorError(f"There is no file {program} to fix.")
    original = program.read_text(errors="replace")
    recorded, _ = compile_commands_flags(program)
    dirs = [Path(p) for p in include_dirs] + [program.resolve().parent]
    dirs += [Path(recorded[i + 1]) for i, f in enumerate(recorded[:-1]) if f == "-I"]
    dirs += [Path(f[2:]) for f in recorded if f.startswith("-I") and len(f) > 2]
    defs = list(defines) + [f[2:] for f in recorded if f.startswith("-D") and len(f) > 2]
    loader = _Loader(program, workdir, kernel, cc, dirs, defs, cflags)

    rounds: list[Round] = []
    whys: list[tuple[str, str]] = []
    text = original
    renamed = rewrite_malloc(original)
    if renamed.changed:
        text = renamed.text
        why = (f"BPF has no malloc: {renamed.replacements} call(s) renamed to the shipped allocator "
               "(static_malloc.h), which is thread-safe by itself")
        rounds.append(Round(0, "", "malloc", "calls to malloc/calloc/realloc/free", None,
                            (Attempt("malloc: rename to static_*", why, _changed_lines(original, text), "applied", ""),),
                            0, 0.0))
        whys.append((_added(original, text), why))
    diagnoses = loader.load([loader.build(text)])[0]  # a build error of the program itself: exit 2
    if isinstance(diagnoses, VdoctorError):
        raise diagnoses
    stopped = None
    for number in range(1, max_rounds + 1):
        rejected = _rejected(diagnoses)
        if not rejected:
            break
        target = rejected[0]
        record, new, candidate, after = _round(number, target, diagnoses, text, loader)
        rounds.append(record)
        if new is None:
            cls = record.error_class
            stopped = (f"{target.program}: no candidate loaded for [{cls}] {record.message}"
                       if record.attempts else
                       f"{target.program}: [{cls}] {record.message}: "
                       + ("no repair rule applies at this place" if rule_for(cls) else f"no repair rule for {cls}"))
            break
        whys.append((_added(text, new), candidate.why))
        text, diagnoses = new, after
    else:
        if _rejected(diagnoses):
            stopped = f"still rejected after {max_rounds} rounds"
    return Repair(original, text, not _rejected(diagnoses), tuple(rounds), tuple(whys),
                  time.monotonic() - started, stopped)


def unified_diff(result: Repair, name: str, with_why: bool) -> str:
    """The diff from the original to the repaired text; with `with_why`, one `why:` line
    before each hunk, from the rounds whose added lines the hunk adds."""
    lines = list(difflib.unified_diff(result.original.splitlines(keepends=True),
                                      result.text.splitlines(keepends=True), f"a/{name}", f"b/{name}"))
    if not with_why:
        return "".join(lines)
    out: list[str] = []
    hunk: list[str] = []

    def flush() -> None:
        if not hunk:
            return
        added = {x[1:].strip() for x in hunk if x.startswith("+")}
        said = [why for lines, why in result.whys
                if any(part.strip() and part.strip() in added for part in lines.splitlines())]
        out.extend(f"why: {why}\n" for why in dict.fromkeys(said))
        out.extend(hunk)
        hunk.clear()

    for line in lines:
        if line.startswith("@@"):
            flush()
        (hunk if hunk or line.startswith("@@") else out).append(line)
    flush()
    return "".join(out)
