"""`vdoctor try`: build -> load (host or QEMU) -> the log each load printed -> diagnosis.

The kernel side returns libbpf's text for each program; that text goes through the same
parser and analysis as `vdoctor explain`, so `try` and `explain` can never disagree.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .analysis import Diagnosis, diagnose
from .analysis.classes.too_complex import BUDGET_MESSAGES
from .errors import EXIT_ACCEPTED, EXIT_REJECTED, EXIT_USAGE, BuildFailed, IncompleteLog, NotAVerifierLog, VdoctorError
from .kernel.build import Built, build_object
from .model import ProgramTrace
from .parsing import read_log
from .render.screen import Screen

# What a caller keeps of a load's trace beside its diagnosis (`try --format html`: the path
# view of render/html.py, at most its last 1000 steps however long the log): the trace itself
# is dropped as soon as it is read, so a 64 MiB level-2 log is not held until the page is written.
Keep = Callable[[Diagnosis, ProgramTrace], Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    diagnosis: Diagnosis
    kept: Any = None  # what `keep` made of the trace the diagnosis was read from, if asked


def build(program: Path, workdir: Path, cc: str | None, include_dirs: Sequence[Path] = (),
          defines: Sequence[str] = (), cflags: str | None = None, kernel: str = "host") -> Built:
    """The object to load: `program` compiled with the user's flags, or as it is if it is one."""
    if not program.is_file():
        raise VdoctorError(f"There is no file {program} to compile.")
    return build_object(program, workdir, cc, include_dirs, defines, cflags, kernel)


def build_for_kernels(program: Path, workdir: Path, kernels: Sequence[str], cc: str | None,
                      include_dirs: Sequence[Path] = (), defines: Sequence[str] = (),
                      cflags: str | None = None) -> dict[str, Built | BuildFailed]:
    """One build per kernel when the program needs a vmlinux.h made from each kernel's BTF;
    otherwise one build that every kernel loads.

    The first kernel's build failing raises; another kernel's maps to its BuildFailed (the
    program does not compile against that kernel's types, e.g. a field it renamed)."""
    first = build(program, workdir / kernels[0], cc, include_dirs, defines, cflags, kernels[0])
    if first.vmlinux_h is None:
        return dict.fromkeys(kernels, first)
    builds: dict[str, Built | BuildFailed] = {kernels[0]: first}
    for kernel in kernels[1:]:
        try:
            builds[kernel] = build(program, workdir / kernel, cc, include_dirs, defines, cflags, kernel)
        except BuildFailed as error:
            builds[kernel] = error
    return builds


def build_notes(built: Built, program: Path, label: str | None = None) -> list[str]:
    """What `try` says about a build (on stderr in text mode): the compile command it ran, or
    that the object is loaded as it is, and the vmlinux.h it made."""
    import shlex

    target = f" for {label}" if label else ""
    if built.command is None:
        notes = [f"{program} is an object file; loading it as it is."]
    else:
        notes = [f"built{target} with: {shlex.join(built.command)}"]
    if built.vmlinux_h is not None:
        notes.append(f"vmlinux.h made from the kernel's BTF{target}: {built.vmlinux_h}")
    return notes


def distinct_builds(builds: dict[str, Built | BuildFailed]) -> dict[str | None, Built | BuildFailed]:
    """The builds by kernel label; one, labelled None, when every kernel loads the same object.
    A kernel the program does not compile for maps to its BuildFailed."""
    if len({id(b) for b in builds.values()}) == 1:
        return {None: next(iter(builds.values()))}
    return dict(builds)


def build_to_dict(built: Built | BuildFailed) -> dict:
    """The "build" object of `try --json`."""
    if isinstance(built, VdoctorError):
        return {"error": str(built)}
    return {"command": list(built.command) if built.command else None,
            "object_given": built.command is None,
            "vmlinux_h": str(built.vmlinux_h) if built.vmlinux_h else None}


def builds_to_dict(builds: dict[str, Built | BuildFailed]) -> dict:
    distinct = distinct_builds(builds)
    if None in distinct:
        return build_to_dict(distinct[None])
    return {"per_kernel": {label: build_to_dict(built) for label, built in distinct.items()}}


def distinct_failures(results: dict[str, list[Diagnosis]]) -> dict[tuple, tuple[Diagnosis, list[str]]]:
    """Each distinct rejection once, with the kernels that gave it: the same program, class and
    rejected source line (or instruction text) is one failure, whatever each kernel's wording.
    The diagnosis kept is the first kernel's (the running kernel's with --kernel all)."""
    failures: dict[tuple, tuple[Diagnosis, list[str]]] = {}
    for version, diagnoses in results.items():
        for diagnosis in diagnoses:
            if diagnosis.verdict == "accepted" or diagnosis.error is None:
                continue
            error = diagnosis.error
            where = (error.source.text if error.source and error.source.text else error.insn_text) or error.message
            key = (diagnosis.program or "?", error.error_class, where)
            failures.setdefault(key, (diagnosis, []))[1].append(version)
    return failures


def no_program(obj: Path) -> VdoctorError:
    return VdoctorError(f"{obj.name} holds no BPF program (no function in a SEC(\"...\") section).")


OPTIONAL_NOTE = ("SEC(\"?{section}\") starts with '?': libbpf does not load this program unless "
                 "asked (bpf_program__set_autoload); vdoctor loaded it on its own.")
RERUN_NOTE = ("The level-1 log did not show the cause ({why}); vdoctor loaded the program again at "
              "log level 2 by itself, with a {mib} MiB log buffer keeping the end of a longer log, "
              "and this is that log's diagnosis.")
NO_RERUN_NOTE = ("The level-1 log does not show the cause ({why}); without --no-rerun vdoctor would load "
                 "the program again at log level 2 to find it.")


@dataclass(frozen=True, slots=True)
class Reruns:
    """Whether a rejection whose level-1 log cannot show the cause is loaded again at level 2
    (`try --no-rerun` says no), and who hears of it before it starts and when it is done."""

    enabled: bool = True
    announce: Callable[[str], None] | None = None

    def say(self, sentence: str) -> None:
        if self.announce is not None:
            self.announce(sentence)


_reruns = Reruns()


@contextmanager
def reruns(policy: Reruns) -> Iterator[None]:
    """`policy` for the level-2 reloads of the loads inside the block."""
    global _reruns
    previous, _reruns = _reruns, policy
    try:
        yield
    finally:
        _reruns = previous


def _without_rerun(diagnosis: Diagnosis | None, name: str, why: str) -> Diagnosis:
    """The level-1 diagnosis when --no-rerun keeps the level-2 load from being made."""
    if diagnosis is None:
        raise IncompleteLog(f"The log of {name} is cut off; without --no-rerun vdoctor would load it again "
                            "at level 2.")
    return _with_notes(diagnosis, NO_RERUN_NOTE.format(why=why))


def _with_notes(diagnosis: Diagnosis, *notes: str) -> Diagnosis:
    return replace(diagnosis, caveats=(*notes, *diagnosis.caveats)) if notes else diagnosis


def _rerun_reason(diagnosis: Diagnosis | None, load, log_level: int) -> str | None:
    """Why a rejected level-1 load should be loaded again at level 2, or None."""
    if load.accepted or log_level != 1:
        return None
    if diagnosis is None:
        return "the log is cut off"
    error = diagnosis.error
    if error is None:
        return None
    if error.error_class == "load-error" and load.error == -errno.E2BIG:
        return "libbpf says only 'Argument list too long'"
    if error.register and diagnosis.culprit is None and not diagnosis.history:
        return f"it names {error.register} but shows none of the states that made it"
    if error.error_class == "too-complex" and error.kernel is not None and error.kernel.format in BUDGET_MESSAGES:
        return "it does not say where the verifier's budget went"
    return None


def refused_before_the_verifier(diagnosis: Diagnosis) -> bool:
    """libbpf or the kernel refused the program before the verifier read it: a load error
    with no verifier message, no instruction and no verifier statistics."""
    error = diagnosis.error
    return (diagnosis.verdict == "rejected" and error is not None and error.error_class == "load-error"
            and error.kernel is None and error.insn is None and diagnosis.stats is None)


def exit_status(diagnoses: Sequence[Diagnosis]) -> int:
    """`try`'s exit status (README, CLI.md): 0 every program accepted, 1 one rejected by the
    verifier, else 2 when programs were refused before the verifier ran."""
    failed = [d for d in diagnoses if d.verdict != "accepted"]
    if not failed:
        return EXIT_ACCEPTED
    return EXIT_USAGE if all(refused_before_the_verifier(d) for d in failed) else EXIT_REJECTED


def _libbpf_refusal(name: str, log: str) -> VdoctorError:
    """libbpf refused the object before any program reached the kernel (no BTF, bad ELF)."""
    said = "; ".join(line.removeprefix("libbpf: ").strip() for line in log.splitlines() if line.strip()).rstrip(".")
    hint = " (an object built without -g has no BTF)" if "BTF is required" in log else ""
    return VdoctorError(f"libbpf could not load {name}: {said}{hint}.")


def diagnose_load(name: str, log: str, accepted: bool) -> Diagnosis:
    """The diagnosis of one program's load, from the text libbpf printed for it."""
    return _read_load(name, log, accepted)[0]


def _read_load(name: str, log: str, accepted: bool) -> tuple[Diagnosis, ProgramTrace]:
    """The diagnosis of one program's load and the trace it was read from."""
    if not accepted and log.strip() and "-- BEGIN PROG LOAD LOG --" not in log:
        try:
            read_log(log)
        except NotAVerifierLog:
            raise _libbpf_refusal(name, log) from None
    document = read_log(log) if log.strip() else None
    if document is None:
        raise VdoctorError(f"Loading {name} printed nothing to explain.")
    trace = next((p for p in document.programs if p.name == name), document.programs[0])
    diagnosis = diagnose(trace)
    if diagnosis.program is None:
        diagnosis = replace(diagnosis, program=name)
    if accepted and diagnosis.verdict != "accepted":
        # The kernel's answer is the truth; a log that reads otherwise is our parser's fault.
        raise VdoctorError(f"{name} was accepted, but its log reads as a rejection: please report this log.")
    return diagnosis, trace


def _look(load, keep: Keep | None) -> tuple[Diagnosis, Any]:
    """A load's diagnosis and what `keep` makes of its trace (the trace is not kept)."""
    diagnosis, trace = _read_load(load.name, load.log, load.accepted)
    return diagnosis, keep(diagnosis, trace) if keep is not None else None


def _first_look(load, log_level: int, keep: Keep | None) -> tuple[Diagnosis | None, Any, str | None]:
    """The diagnosis of a load (None for a cut log), what is kept of its trace, and why to
    load it again at level 2."""
    try:
        diagnosis, kept = _look(load, keep)
    except (IncompleteLog, NotAVerifierLog):
        if load.accepted or "-- BEGIN PROG LOAD LOG --" not in load.log:
            raise
        diagnosis, kept = None, None
    return diagnosis, kept, _rerun_reason(diagnosis, load, log_level)


def _second_look(again, why: str, first: Diagnosis | None, first_kept: Any,
                 keep: Keep | None) -> tuple[Diagnosis, Any]:
    """The level-2 load's diagnosis (and kept trace); the level-1 one if the level-2 log
    cannot be read either (a kernel before 6.4 keeps the start of a log longer than the
    buffer, not its end)."""
    from .kernel.loader import RERUN_LOG_BYTES

    try:
        diagnosis, kept = _look(again, keep)
    except (IncompleteLog, NotAVerifierLog):
        if first is None:
            raise
        return first, first_kept
    return _with_notes(diagnosis, RERUN_NOTE.format(why=why, mib=RERUN_LOG_BYTES >> 20)), kept


def _host_outcome(obj: Path, load, log_level: int, keep: Keep | None) -> Outcome:
    """The outcome of one host load; at level 2 again when level 1 cannot show the cause."""
    from .kernel.loader import reload_at_level_2

    diagnosis, kept, why = _first_look(load, log_level, keep)
    if why is not None and not _reruns.enabled:
        diagnosis = _without_rerun(diagnosis, load.name, why)
    elif why is not None:
        _reruns.say(f"the level-1 log of {load.name} does not show the cause ({why}); loading it again at "
                    "level 2 (--no-rerun skips this)")
        started = time.monotonic()
        again = reload_at_level_2(obj, load.name)
        _reruns.say(f"level-2 load of {load.name} done in {time.monotonic() - started:.1f} s")
        diagnosis, kept = _second_look(again, why, diagnosis, kept, keep)
    assert diagnosis is not None
    if load.optional:
        diagnosis = _with_notes(diagnosis, OPTIONAL_NOTE.format(section=load.section))
    return Outcome(load.name, diagnosis, kept)


def load_on_host(obj: Path, log_level: int, keep: Keep | None = None) -> list[Outcome]:
    """Each program's outcome on the running kernel; with `keep`, what it makes of each trace."""
    from .kernel.loader import load_each_program

    loads = load_each_program(obj, log_level)
    if not loads:
        raise no_program(obj)
    return [_host_outcome(obj, load, log_level, keep) for load in loads]


def profiled(obj: Path | dict[str, Path], kernel: str) -> dict[str, list[Diagnosis]]:
    """`try --profile`: each kernel's diagnoses of a level-2 load, each with the cost
    profile of its walk (`kernel`: "host", a label, or "all")."""
    from .analysis.profile import profile

    def keep(diagnosis: Diagnosis, trace: ProgramTrace):
        return diagnosis.profile or profile(trace)

    if kernel == "host":
        found = {"host": load_on_host(obj, 2, keep)}
    else:
        found = outcomes_on_kernels(obj, kernel, 2, 0, keep)[0]
    return {label: [replace(o.diagnosis, profile=o.kept) for o in outcomes] for label, outcomes in found.items()}


def run_program(obj: Path, name: str, repeat: int):
    from .kernel.loader import open_program

    with open_program(obj, name) as loaded:
        return loaded.test_run(repeat=repeat)


def load_on_kernels(obj: Path, kernel: str, log_level: int) -> dict[str, list[Diagnosis]]:
    """Each kernel's diagnoses; `kernel` is one label, "host", or "all"."""
    return run_on_kernels(obj, kernel, log_level, 0)[0]


def _boot_guests(objects: dict[str, Path], log_level: int, runs: int, log_bytes: int = 0) -> dict:
    """Each kernel's GuestRun (or error): one boot per kernel, two at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from .kernel.qemu import load_in_guests

    if len(set(objects.values())) == 1:
        return load_in_guests(list(objects), [next(iter(objects.values()))], log_level, runs=runs,
                              log_bytes=log_bytes)
    # A vmlinux.h per kernel made one object per kernel: each boot loads its own.
    from .kernel.qemu import stopped_on_interrupt

    with ThreadPoolExecutor(max_workers=2) as pool, stopped_on_interrupt():
        done = pool.map(lambda v: load_in_guests([v], [objects[v]], log_level, runs=runs, jobs=1,
                                                 log_bytes=log_bytes)[v], objects)
        return dict(zip(objects, done))


def _guest_outcomes(guests: dict, objects: dict[str, Path], log_level: int,
                    keep: Keep | None) -> dict[str, list[Outcome]]:
    """Each kernel's outcomes; the loads whose level-1 log cannot show the cause are loaded
    again at level 2, in one more boot of each kernel that has any (with a big log buffer)."""
    from .kernel.loader import RERUN_LOG_BYTES, optional_programs

    first: dict[str, list] = {}
    again: dict[str, dict[str, str]] = {}  # kernel -> program -> why
    for version, run in guests.items():
        if isinstance(run, VdoctorError):
            raise run
        loads = [load for load in run.results.get(objects[version], []) if load.section != ".text"]
        if not loads:
            raise no_program(objects[version])
        first[version] = [(load, *_first_look(load, log_level, keep)) for load in loads]
        again[version] = {load.name: why for load, _, _, why in first[version] if why}
    second = {}
    if any(again.values()) and _reruns.enabled:
        named = "; ".join(f"{v}: {', '.join(names)}" for v, names in again.items() if names)
        _reruns.say(f"level-1 logs that do not show the cause ({named}); loading them again at level 2, "
                    "one more boot of each of those kernels (--no-rerun skips this)")
        second = _boot_guests({v: objects[v] for v in again if again[v]}, 2, 0, RERUN_LOG_BYTES)
    results: dict[str, list[Outcome]] = {}
    for version, looks in first.items():
        optional = optional_programs(objects[version])
        rerun = second.get(version)
        if isinstance(rerun, VdoctorError):
            raise rerun
        reloads = {load.name: load for load in rerun.results.get(objects[version], [])} if rerun else {}
        results[version] = []
        for load, diagnosis, kept, why in looks:
            if why is not None and not _reruns.enabled:
                diagnosis = _without_rerun(diagnosis, load.name, why)
            elif why is not None and load.name in reloads:
                diagnosis, kept = _second_look(reloads[load.name], why, diagnosis, kept, keep)
            if diagnosis is None:
                raise IncompleteLog(f"The log of {load.name} from Linux {version} is cut off.")
            if load.name in optional:
                diagnosis = _with_notes(diagnosis, OPTIONAL_NOTE.format(section=load.section))
            results[version].append(Outcome(load.name, diagnosis, kept))
    return results


def run_on_kernels(obj: Path | dict[str, Path], kernel: str, log_level: int, runs: int):
    """Each kernel's diagnoses and, with `runs` > 0, the test runs of its accepted programs
    (outcomes_on_kernels, without what is kept of the traces)."""
    outcomes, ran = outcomes_on_kernels(obj, kernel, log_level, runs)
    return {version: [o.diagnosis for o in found] for version, found in outcomes.items()}, ran


def outcomes_on_kernels(obj: Path | dict[str, Path], kernel: str, log_level: int, runs: int,
                        keep: Keep | None = None):
    """Each kernel's outcomes and, with `runs` > 0, the test runs of its accepted programs.

    `obj` is the object every kernel loads, or one object per kernel label (and "host").
    Returns (outcomes per kernel, runs per kernel): an outcome holds a program's diagnosis
    and, with `keep`, what it made of the trace (the host's and every guest's alike, so
    `try --format html` draws the same path for each kernel). The runs of a kernel map a program's name
    to its kernel.runner.RunResult, or to a sentence saying why it could not be run (a type
    BPF_PROG_TEST_RUN does not run, or a run the kernel refused). Runs under QEMU print
    nothing (`printed` is empty); on the host ("all" includes it) they are as `--run` gives.
    """
    from .kernel.kernels import SUPPORTED

    objects = obj if isinstance(obj, dict) else {v: obj for v in ["host", *SUPPORTED]}
    # Kernels the program was not built for (it does not compile against their vmlinux.h).
    versions = [v for v in (SUPPORTED if kernel == "all" else [kernel]) if v in objects]
    results: dict[str, list[Outcome]] = {}
    ran: dict[str, dict] = {}
    if kernel == "all" and "host" in objects:
        host_obj = objects["host"]
        results["host"] = load_on_host(host_obj, log_level, keep)
        ran["host"] = {}
        for diagnosis in [o.diagnosis for o in results["host"]] if runs > 0 else []:
            if diagnosis.verdict == "accepted" and diagnosis.program:
                try:
                    ran["host"][diagnosis.program] = run_program(host_obj, diagnosis.program, runs)
                except VdoctorError as error:
                    ran["host"][diagnosis.program] = str(error)
    guests = _boot_guests({v: objects[v] for v in versions}, log_level, max(0, runs)) if versions else {}
    results.update(_guest_outcomes(guests, objects, log_level, keep))
    for version in versions:
        run, guest_obj = guests[version], objects[version]
        ran[version] = {}
        for outcome in results[version]:
            name = outcome.diagnosis.program or ""
            if (guest_obj, name) in run.runs:
                ran[version][name] = run.runs[(guest_obj, name)]
            elif (guest_obj, name) in run.run_errors:
                ran[version][name] = run.run_errors[(guest_obj, name)]
    return results, ran


def attach_until_interrupted(obj: Path, diagnoses: list[Diagnosis], ifname: str,
                             seconds: float | None, console: Screen) -> None:
    """Attach the first accepted XDP program to `ifname` until Ctrl-C (or `seconds`)."""
    from .kernel.attach import attached_xdp
    from .kernel.loader import open_program

    name = next((d.program for d in diagnoses if d.verdict == "accepted"), None)
    if name is None:
        raise VdoctorError("No program was accepted, so there is nothing to attach.")
    with open_program(obj, name) as loaded:
        if not loaded.section.startswith("xdp"):
            raise VdoctorError(f"--attach takes an XDP program; {name} is a {loaded.section} program.")
        with attached_xdp(ifname, loaded.fd):
            console.print(f"{name} is attached to {ifname} (XDP, generic mode); Ctrl-C detaches it.")
            try:
                if seconds is not None:
                    time.sleep(seconds)
                else:
                    while True:
                        time.sleep(3600)
            except KeyboardInterrupt:
                pass
        console.print(f"{name} detached from {ifname}.")
