"""`make selftest-check`: vdoctor on logs nobody here wrote, the kernel's own BPF selftests.

1. The newest `linux-source-X.Y` of the matrix's Debian suites (the private apt of
   kernel/kernels.py) gives tools/testing/selftests/bpf, tools/lib/bpf and tools/include,
   unpacked once into the cache.
2. vmlinux.h comes from the running kernel's BTF (bpftool), bpf_helper_defs.h from the
   source's own scripts/bpf_doc.py; each progs/*.c that tags a program `__failure` or
   `__success` is compiled with clang -O2 --target=bpf -g and the selftests' include dirs.
   A file that does not compile is counted and skipped.
3. Every `__failure` program, and N `__success` ones spread over the list, is loaded on
   its own on the running kernel by the project's loader (libbpf through ctypes), at log
   level 1 and 2, each program in a child process with a timeout. The logs are libbpf's
   output as a user sees it (the lines our loader adds for `vdoctor try` are left out); they
   go to the scratch directory, never into the repository.
4. One `vdoctor explain --jsonl` over every log, compared with what libbpf said:
   (a) logs with unparsed lines, by family, a sample line each; (b) wrong verdicts;
   (c) rejections left class `other`, by message; then a summary table.

    python scripts/selftest_check.py [--work /var/tmp/selftest-logs] [--success 100]
                                     [--timeout 60] [--stage all|sources|build|load|check]

Exit status: 0 when nothing was found, 1 when (a), (b) or (c) found something, 2 when
a step could not run (no source package, no clang, no kernel BTF).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from verifier_doctor.errors import VdoctorError  # noqa: E402

WORK = Path("/var/tmp/selftest-logs")
SELFTESTS = "tools/testing/selftests/bpf"
MEMBERS = (f"{SELFTESTS}/*", "tools/lib/bpf/*", "tools/include/*", "scripts/bpf_doc.py", "include/uapi/linux/*")
COMPILE_TIMEOUT = 120
BTF_KIND_FUNC, BTF_KIND_DECL_TAG = 12, 17
# bpf_misc.h's `__failure` / `__success`: "comment:test_expect_failure", numbered since 7.x
# ("comment:1:test_expect_failure"); the _unpriv variants are about unprivileged loads.
EXPECT_TAG = re.compile(r"comment:(?:\d+:)?test_expect_(failure|success)")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- 1. sources ---------------------------------------------------------------------------

def newest_source() -> tuple[str, Path, str]:
    """The newest linux-source-X.Y in the matrix's suites: (X.Y, unpacked tree, package version)."""
    from extract_messages import fetch_sources

    from verifier_doctor.kernel.kernels import SUITES, _release_key, private_apt

    offered = []
    for version, suite in SUITES.items():
        apt = private_apt(suite)
        try:
            apt.update()
            if apt.field(f"linux-source-{version}", "Version") is not None:
                offered.append(version)
        except VdoctorError as error:
            say(f"{suite}: {error}")
    if not offered:
        raise VdoctorError("No Debian suite of the matrix offers a linux-source package.")
    version = max(offered, key=_release_key)
    tree, package_version = fetch_sources(version, MEMBERS, folder="selftest-sources")
    return version, tree, package_version


# -- 2. build -----------------------------------------------------------------------------

def clang() -> str:
    found = next((c for c in ("clang", "clang-19", "clang-18", "clang-17", "clang-16") if shutil.which(c)), None)
    if found is None:
        raise VdoctorError("clang is not installed (scripts/install-deps.sh installs it).")
    return found


def system_includes(compiler: str) -> list[str]:
    """The compiler's own search path as -idirafter, as the selftests' Makefile adds it."""
    out = subprocess.run([compiler, "-v", "-E", "-"], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True).stderr
    block = out.split("#include <...> search starts here:")[-1].split("End of search list.")[0]
    return [arg for line in block.split() for arg in ("-idirafter", line)]


def prepare_includes(tree: Path, work: Path) -> Path:
    """work/include with vmlinux.h of the running kernel and libbpf's headers of the source."""
    include = work / "include"
    (include / "bpf").mkdir(parents=True, exist_ok=True)
    vmlinux = subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"],
                             capture_output=True, text=True)
    if vmlinux.returncode != 0:
        raise VdoctorError(f"bpftool could not dump the running kernel's BTF: {vmlinux.stderr.strip()}")
    (include / "vmlinux.h").write_text(vmlinux.stdout)
    for header in (tree / "tools/lib/bpf").glob("*.h"):
        shutil.copy(header, include / "bpf" / header.name)
    defs = subprocess.run([sys.executable, str(tree / "scripts/bpf_doc.py"), "--header", "--file",
                           str(tree / "include/uapi/linux/bpf.h")], capture_output=True, text=True)
    if defs.returncode != 0:
        raise VdoctorError(f"bpf_doc.py could not write bpf_helper_defs.h: {defs.stderr.strip()}")
    (include / "bpf" / "bpf_helper_defs.h").write_text(defs.stdout)
    return include


def build(tree: Path, work: Path) -> dict:
    """Compile the tagged progs/*.c into work/obj; what compiled, failed or was left out."""
    compiler = clang()
    include = prepare_includes(tree, work)
    selftests = tree / SELFTESTS
    flags = ["-g", "-O2", "--target=bpfel", "-mcpu=v3", "-D__TARGET_ARCH_x86", "-DENABLE_ATOMICS_TESTS",
             "-mlittle-endian", f"-I{include}", f"-I{selftests}", f"-I{tree / 'tools/include/uapi'}",
             f"-I{tree / 'tools/include'}", f"-I{selftests / 'libarena/include'}", "-std=gnu11",
             "-fno-strict-aliasing", "-fms-extensions", "-Wno-compare-distinct-pointer-types",
             "-Wno-initializer-overrides", *system_includes(compiler)]
    objects = work / "obj"
    objects.mkdir(exist_ok=True)
    report = {"compiled": [], "failed": {}, "untagged": 0}
    for source in sorted((selftests / "progs").glob("*.c")):
        text = source.read_text(errors="replace")
        if "__failure" not in text and "__success" not in text:
            report["untagged"] += 1
            continue
        target = objects / f"{source.stem}.bpf.o"
        if not target.is_file() or target.stat().st_mtime < source.stat().st_mtime:
            try:
                done = subprocess.run(["nice", "-n", "10", compiler, *flags, "-c", str(source), "-o", str(target)],
                                      capture_output=True, text=True, timeout=COMPILE_TIMEOUT)
                error = None if done.returncode == 0 else next(
                    (line for line in done.stderr.splitlines() if "error:" in line), "no error line")
            except subprocess.TimeoutExpired:
                error = f"compile timed out after {COMPILE_TIMEOUT} s"
            if error is not None:
                target.unlink(missing_ok=True)
                report["failed"][source.name] = error
                continue
        report["compiled"].append(source.name)
    (work / "build.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


# -- 3. load ------------------------------------------------------------------------------

def tagged_programs(obj: Path) -> list[tuple[str, str]]:
    """(program, "failure"|"success") for each program of `obj` with a selftests tag, read from
    the BTF decl tags `__failure` / `__success` put on the program's function."""
    from verifier_doctor.kernel import libbpf

    handle = libbpf.lib()
    with libbpf.capture_prints():
        opened = handle.bpf_object__open_file(os.fsencode(obj), None)
    if not opened:
        return []
    try:
        btf = handle.bpf_object__btf(opened)
        names = set()
        prog = None
        while prog := handle.bpf_object__next_program(opened, prog):
            if handle.bpf_program__section_name(prog).decode() != ".text":
                names.add(handle.bpf_program__name(prog).decode())
        tags: dict[str, str] = {}
        for type_id in range(1, handle.btf__type_cnt(btf) if btf else 0):
            kind = (handle.btf__type_by_id(btf, type_id).contents.info >> 24) & 0x1F
            if kind != BTF_KIND_DECL_TAG:
                continue
            tag = handle.btf__type_by_id(btf, type_id).contents
            target = handle.btf__type_by_id(btf, tag.size).contents  # the type a tag points to
            if (target.info >> 24) & 0x1F != BTF_KIND_FUNC:
                continue
            name = handle.btf__name_by_offset(btf, target.name_off).decode()
            text = handle.btf__name_by_offset(btf, tag.name_off).decode()
            expect = EXPECT_TAG.fullmatch(text)
            if name in names and expect and tags.get(name) != "failure":  # both tags: a failure
                tags[name] = expect.group(1)
        return sorted(tags.items())
    finally:
        handle.bpf_object__close(opened)


def choose(work: Path, successes: int) -> list[tuple[str, str, str]]:
    """Every `__failure` program and `successes` `__success` ones spread over the list."""
    failing, passing = [], []
    for obj in sorted((work / "obj").glob("*.bpf.o")):
        for name, tag in tagged_programs(obj):
            (failing if tag == "failure" else passing).append((obj.name, name, tag))
    step = max(1, len(passing) // successes) if successes else 0
    picked = passing[::step][:successes] if successes else []
    return failing + picked


def load_one(obj: Path, name: str, logs: Path) -> None:
    """The child: load `name` of `obj` at level 1 and 2; the logs to files, verdicts on stdout."""
    from verifier_doctor.kernel.loader import load_program

    for level in (1, 2):
        result = load_program(obj, name, level)
        # libbpf's output as a user sees it: without the lines our loader adds for `try`.
        log = "".join(line for line in result.log.splitlines(keepends=True) if not line.startswith("vdoctor: "))
        (logs / f"{obj.stem}.{name}.L{level}.log").write_text(log)
        print(json.dumps({"level": level, "accepted": result.accepted, "errno": result.error}), flush=True)


def load(work: Path, successes: int, timeout: float) -> list[dict]:
    logs = work / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    chosen = choose(work, successes)
    say(f"loading {len(chosen)} programs at log levels 1 and 2")
    manifest = []
    for count, (obj, name, tag) in enumerate(chosen, 1):
        if count % 50 == 0:
            say(f"  {count}/{len(chosen)}")
        row = {"object": obj, "program": name, "tag": tag, "timed_out": False, "loads": []}
        try:
            done = subprocess.run(["nice", "-n", "10", sys.executable, __file__, "--load-one",
                                   str(work / "obj" / obj), name, str(logs)],
                                  capture_output=True, text=True, timeout=timeout)
            row["loads"] = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode != 0:
                row["crash"] = (done.stderr.strip().splitlines() or ["no message"])[-1]
        except subprocess.TimeoutExpired as expired:  # level 1 may have finished
            row["timed_out"] = True
            out = expired.stdout.decode() if isinstance(expired.stdout, bytes) else expired.stdout or ""
            row["loads"] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        manifest.append(row)
    (work / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


# -- 4. check -----------------------------------------------------------------------------

# Families of unparsed lines, the first that matches names a line (the list, then
# whatever shape is new); a line no family fits is grouped by its shape with numbers folded.
FAMILIES = (
    ("callback frame ` cb` / ` async_cb`", r"\b(?:async_)?cb$|\bcb\b"),
    ("state line starting `frameN:`", r"^\d+: frame\d+:|^frame\d+:"),
    ("instruction and branch target's state on one line", r"^\d+: \(\w\w\) .*\b\d+: (?:frame\d+: )?R\d"),
    ("pointer into another frame's stack `fp[N]-M`", r"fp\[\d+\]"),
    ("`refs=N` after registers", r"\brefs=\d"),
    ("`R1=fp0x...`", r"=fp0x"),
    ("legacy packet load `skb[...]`", r"\bskb\["),
    ("`r10`+ register `r15`/`w15`", r"\b[rw]1[1-5]\b"),
    ("`load_acquire` / `store_release`", r"load_acquire|store_release"),
    ("partly written stack slot `fp-8=??mm`", r"fp-?\d+=[?m0a-z]*[m?][m?0]"),
    ("linked id with an offset `id=1-1`", r"id=\d+-\d+"),
    ("`<invalid kfunc call>`", r"<invalid kfunc call>"),
)


def family(line: str) -> str:
    for name, pattern in FAMILIES:
        if re.search(pattern, line):
            return name
    shape = re.sub(r"0x[0-9a-f]+|\d+", "N", line.strip())
    return "new shape: " + " ".join(shape.split()[:4])


def libbpf_cause(log: Path) -> str:
    """libbpf's line that says why a load failed before the verifier (the last failing step)."""
    lines = [line for line in log.read_text(errors="replace").splitlines()
             if line.startswith("libbpf: ") and "failed" in line and "failed to load object" not in line]
    return re.sub(r"'[^']*'", "'X'", lines[-1]) if lines else "no libbpf line says why"


def explain_all(work: Path) -> dict[str, dict]:
    """`vdoctor explain --jsonl` over every log, in one process: the objects by log path."""
    vdoctor = Path(sys.executable).with_name("vdoctor")
    command = [str(vdoctor) if vdoctor.exists() else "vdoctor", "explain", "--jsonl", str(work / "logs")]
    done = subprocess.run(["nice", "-n", "10", *command], capture_output=True, text=True)
    (work / "explain.jsonl").write_text(done.stdout)
    if done.returncode not in (0, 1, 2):
        raise VdoctorError(f"vdoctor explain failed with status {done.returncode}: {done.stderr.strip()[-500:]}")
    objects: dict[str, dict] = {}
    for line in done.stdout.splitlines():
        obj = json.loads(line)
        objects.setdefault(Path(obj["input"]).name, obj)
    return objects


def check(work: Path) -> int:
    manifest = json.loads((work / "manifest.json").read_text())
    built = json.loads((work / "build.json").read_text())
    explained = explain_all(work)

    unparsed: dict[str, list[tuple[str, str]]] = defaultdict(list)  # family -> (log, line)
    logs_unparsed, others, bugs, missing = set(), defaultdict(list), [], []
    wrong: dict[tuple, list[str]] = defaultdict(list)  # (libbpf, vdoctor, message) -> logs
    loaded = Counter()
    for row in manifest:
        loaded["timed out" if row["timed_out"] else "crashed" if row.get("crash") else "loaded"] += 1
        for load in row["loads"]:
            log = f"{Path(row['object']).stem}.{row['program']}.L{load['level']}.log"
            loaded["accepted" if load["accepted"] else "rejected"] += 1
            obj = explained.get(log)
            if obj is None:
                missing.append(log)
                continue
            for item in (obj.get("log") or {}).get("unparsed_lines", []):
                unparsed[family(item["text"])].append((log, item["text"]))
                logs_unparsed.add(log)
            said = "accepted" if load["accepted"] else "rejected"
            if obj["verdict"] != said:
                message = (obj.get("error") or {}).get("message") or ""
                if obj["verdict"] == "error":  # not read as a log: what libbpf said instead
                    message += " | " + libbpf_cause(work / "logs" / log)
                wrong[(said, obj["verdict"], re.sub(r"\d+", "N", message))].append(log)
            error = obj.get("error") or {}
            if obj["verdict"] == "rejected" and error.get("class") == "other":
                others[re.sub(r"\d+", "N", error.get("message") or "")].append(log)
            if obj["verdict"] == "rejected" and error.get("class") == "verifier-bug":
                bugs.append(log)

    out = []
    out.append("== (a) logs with unparsed lines, by family ==")
    for name, hits in sorted(unparsed.items(), key=lambda kv: -len({log for log, _ in kv[1]})):
        log, line = hits[0]
        out.append(f"{len({h[0] for h in hits}):5} logs {len(hits):6} lines  {name}")
        out.append(f"      e.g. {log}: {line}")
    out.append("== (b) wrong verdicts (libbpf said / vdoctor said: its message), numbers folded ==")
    for (said, verdict, message), hits in sorted(wrong.items(), key=lambda kv: -len(kv[1])):
        out.append(f"{len(hits):5}  {said} / {verdict}: {message}")
        out.append(f"      e.g. {hits[0]}")
    out.append("== (c) rejections left `other`, by message ==")
    for message, hits in sorted(others.items(), key=lambda kv: -len(kv[1])):
        out.append(f"{len(hits):5}  {message}")
        out.append(f"      e.g. {hits[0]}")
    if missing:
        out.append(f"== logs vdoctor gave no object for: {len(missing)}, e.g. {missing[0]} ==")
    tags = Counter(row["tag"] for row in manifest)
    table = [
        ("source files tagged __failure/__success", len(built["compiled"]) + len(built["failed"])),
        ("  compiled", len(built["compiled"])),
        ("  did not compile (skipped)", len(built["failed"])),
        ("  untagged (not built)", built["untagged"]),
        ("programs chosen: __failure", tags["failure"]),
        ("programs chosen: __success", tags["success"]),
        ("  timed out", loaded["timed out"]),
        ("  loader crashed", loaded["crashed"]),
        ("logs (levels 1 and 2)", loaded["accepted"] + loaded["rejected"]),
        ("  libbpf: accepted", loaded["accepted"]),
        ("  libbpf: rejected", loaded["rejected"]),
        ("(a) logs with unparsed lines", len(logs_unparsed)),
        ("    unparsed families", len(unparsed)),
        ("(b) wrong verdicts", sum(map(len, wrong.values()))),
        ("    of which rejections read as no log", sum(len(v) for k, v in wrong.items() if k[1] == "error")),
        ("(c) rejections left `other`", sum(map(len, others.values()))),
        ("    rejections in `verifier-bug`", len(bugs)),
    ]
    out.append("== summary ==")
    out.extend(f"  {label:<42} {value:>6}" for label, value in table)
    text = "\n".join(out) + "\n"
    (work / "summary.txt").write_text(text)
    print(text, end="")
    return 1 if unparsed or wrong or others else 0


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--load-one":
        load_one(Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=WORK, help="scratch directory (objects, logs, results)")
    parser.add_argument("--success", type=int, default=100, help="how many __success programs to load")
    parser.add_argument("--timeout", type=float, default=60, help="seconds for one program's two loads")
    parser.add_argument("--stage", choices=("all", "sources", "build", "load", "check"), default="all")
    args = parser.parse_args()
    work = args.work.resolve()
    if ROOT in (work, *work.parents):
        say("The scratch directory must lie outside the repository: the selftests are not our programs.")
        return 2
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.stage in ("all", "sources", "build"):
            version, tree, package_version = newest_source()
            say(f"linux-source-{version} {package_version}: {tree}")
            if args.stage != "sources":
                report = build(tree, work)
                say(f"compiled {len(report['compiled'])}, failed {len(report['failed'])}")
        if args.stage in ("all", "load"):
            load(work, args.success, args.timeout)
        if args.stage in ("all", "check"):
            return check(work)
    except VdoctorError as error:
        say(str(error))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
