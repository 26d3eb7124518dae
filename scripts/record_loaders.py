"""`make fixtures`, second part: every loader's output for our reproducers, from the loaders
themselves, on the running kernel, into fixtures/loaders/<loader>/<name>.log.

    python scripts/record_loaders.py [--only bpftool,libbpf,cilium,bcc,bpftrace]

The loaders (scripts/install-deps.sh --loaders installs them): bpftool with and without
-d; libbpf with its debug log on (tests/loaders/libbpf_debug.c); cilium/ebpf, the Go
library (tests/loaders/cilium: its VerifierError with %+v; with %-20v, which cuts the log
to its last lines after "(N line(s) omitted)"; and with %v, one line, as log.Fatal(err)
prints it); BCC's Python front end; bpftrace -v.
bpftool, libbpf and cilium load fixtures/programs/; BCC and bpftrace take their own
languages, so they load the BCC and bpftrace versions of the same cases (BCC_PROGRAMS,
BPFTRACE_PROGRAMS). tests/test_loader_outputs.py reads the recorded files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verifier_doctor.kernel.build import compile_program, find_compiler  # noqa: E402

PROGRAMS = ROOT / "fixtures" / "programs"
OUT = ROOT / "fixtures" / "loaders"
LOADERS = ROOT / "tests" / "loaders"
# Accepted and rejected reproducers: a map lookup, packet parsing, a NULL map value, a
# pointer loaded from a map, NULL in a subprogram, an off-by-one bound, a map libbpf
# cannot create (no verifier log at all).
STEMS = ("accepted_counter", "accepted_parse", "missing_null_check", "linked_list_pool",
         "null_deref_in_subprog", "map_value_bounds_off_by_one", "load_error_map_key_size")
TIMEOUT = 300

# BCC's C dialect: the same two cases as accepted_counter/missing_null_check.
BCC_PROGRAMS = {
    "bcc_counter": ("accepted", r'''
BPF_ARRAY(hits, u64, 64);
int count_queue(struct xdp_md *ctx) {
    u32 queue = ctx->rx_queue_index;
    u64 *n = hits.lookup(&queue);
    if (n)
        *n += 1;
    return XDP_PASS;
}
'''),
    "bcc_missing_null_check": ("rejected", r'''
BPF_ARRAY(hits, u64, 64);
int count_queue(struct xdp_md *ctx) {
    u32 queue = ctx->rx_queue_index;
    u64 *n = hits.lookup(&queue);
    *n += 1;
    return XDP_PASS;
}
'''),
}
# A user's BCC script: compile, load as XDP; on rejection BCC prints the verifier log and
# raises (the traceback is part of what a user sees). debug=0x10 (DEBUG_BPF_REGISTER_STATE)
# prints the log of an accepted program too.
BCC_SCRIPT = r'''
import sys
from bcc import BPF
b = BPF(text=sys.stdin.read(), debug=int(sys.argv[1]))
b.load_func("count_queue", BPF.XDP)
'''
# bpftrace: a map counter (accepted), and a loop the verifier walks past its 1,000,000
# instructions (rejected: "BPF program is too large"), with a log buffer too small to hold it.
BPFTRACE_PROGRAMS = {
    "bpftrace_counter": ('BEGIN { @n = count(); exit(); }', {}),
    "bpftrace_too_large": ('BEGIN { $i = 0; while ($i < 2000000) { @a[$i] = $i; $i++; } exit(); }',
                           {"BPFTRACE_LOG_SIZE": "65536"}),
}


# Loads that fail before the verifier runs, as libbpf (through bpftool) words them: an
# fentry program whose target the kernel's BTF does not have (-ESRCH), and a user without
# CAP_BPF (libbpf's probe of a trivial program gets -EPERM).
FENTRY_MISSING_TARGET = r'''
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
SEC("fentry/vdoctor_no_such_function")
int trace_missing(void *ctx) { return 0; }
'''


def run(argv: list[str], **kwargs) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, errors="replace", **kwargs)
    return done.stdout + done.stderr


def write(loader: str, name: str, text: str, scratch: Path) -> None:
    # The scratch directory is the only text that changes from run to run.
    path = OUT / loader / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace(str(scratch) + "/", ""))
    print(f"{path.relative_to(ROOT)}: {len(text)} bytes")


def record_bpftool(objects: dict[str, Path], scratch: Path) -> None:
    for stem, obj in objects.items():
        for loader, flags in (("bpftool", []), ("bpftool-d", ["-d"])):
            pin = Path("/sys/fs/bpf") / f"vdoctor-loaders-{stem}"
            text = run(["bpftool", *flags, "prog", "loadall", str(obj), str(pin)])
            subprocess.run(["rm", "-rf", str(pin)], check=False)
            write(loader, stem, text, scratch)


def record_libbpf(objects: dict[str, Path], scratch: Path) -> None:
    binary = scratch / "libbpf-debug"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(LOADERS / "libbpf_debug.c"), "-lbpf"], check=True)
    for stem, obj in objects.items():
        for level in (1, 2):
            write("libbpf-debug", f"{stem}.L{level}", run([str(binary), str(obj), str(level)]), scratch)


def record_cilium(objects: dict[str, Path], scratch: Path) -> None:
    # Offline, from Debian's golang-github-cilium-ebpf-dev in /usr/share/gocode.
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOCACHE": str(scratch / "gocache"),
           "GOFLAGS": ""}
    binary = scratch / "cilium-loader"
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=LOADERS / "cilium", env=env, check=True)
    for stem, obj in objects.items():
        write("cilium", f"{stem}.full", run([str(binary), str(obj), "1", "full"]), scratch)
        write("cilium", f"{stem}.tail", run([str(binary), str(obj), "2", "tail"]), scratch)
        write("cilium", f"{stem}.summary", run([str(binary), str(obj), "1", "summary"]), scratch)


def _kernel_headers(scratch: Path) -> Path | None:
    """BCC compiles against kernel headers; Debian's come as an arch and a common tree."""
    release = os.uname().release
    if (Path("/lib/modules") / release / "build").is_dir():
        return None
    trees = sorted(Path("/usr/src").glob("linux-headers-*-common"))
    if not trees:
        raise SystemExit("bcc: no kernel headers (scripts/install-deps.sh --loaders installs them)")
    common = trees[-1]
    arch = Path(str(common).removesuffix("-common") + "-amd64")
    merged = scratch / "kernel-headers"
    subprocess.run(["cp", "-as", str(common), str(merged)], check=True)
    subprocess.run(["cp", "-asf", f"{arch}/.", str(merged)], check=True)
    return merged


def record_bcc(scratch: Path) -> None:
    headers = _kernel_headers(scratch)
    env = {**os.environ, **({"BCC_KERNEL_SOURCE": str(headers)} if headers else {})}
    for name, (verdict, text) in BCC_PROGRAMS.items():
        debug = "16" if verdict == "accepted" else "0"
        out = run(["/usr/bin/python3", "-c", BCC_SCRIPT, debug], input=text, env=env)
        # "modprobe: not found" and the headers warning depend on this machine, not on BCC.
        lines = [line for line in out.splitlines(keepends=True)
                 if "modprobe" not in line and "Unable to find kernel headers" not in line]
        write("bcc", name, "".join(lines), scratch)


def record_bpftrace(scratch: Path) -> None:
    for name, (program, env) in BPFTRACE_PROGRAMS.items():
        out = run(["bpftrace", "-v", "-e", program], env={**os.environ, **env})
        write("bpftrace", name, out, scratch)


def record_failures(objects: dict[str, Path], scratch: Path) -> None:
    source = scratch / "fentry_missing_target.bpf.c"
    source.write_text(FENTRY_MISSING_TARGET)
    obj = compile_program(source, scratch, find_compiler(None))
    pin = Path("/sys/fs/bpf") / "vdoctor-loaders-failure"
    write("failures", "fentry_missing_target", run(["bpftool", "prog", "loadall", str(obj), str(pin)]), scratch)
    subprocess.run(["rm", "-rf", str(pin)], check=False)
    if shutil.which("setpriv") and os.geteuid() == 0:
        unprivileged = scratch / "accepted_counter.o"
        shutil.copy(objects["accepted_counter"], unprivileged)
        scratch.chmod(0o755)
        unprivileged.chmod(0o644)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        write("failures", "no_capability", run([*as_nobody, "bpftool", "prog", "loadall", str(unprivileged), str(pin)]),
              scratch)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="bpftool,libbpf,cilium,bcc,bpftrace,failures")
    args = parser.parse_args()
    wanted = args.only.split(",")
    needs = {"bpftool": "bpftool", "libbpf": "gcc", "cilium": "go", "bcc": "/usr/bin/python3", "bpftrace": "bpftrace",
             "failures": "bpftool"}
    OUT.mkdir(parents=True, exist_ok=True)
    # The kernel the outputs come from: the tests compare them with its fixtures/logs/.
    (OUT / "kernel.txt").write_text(".".join(os.uname().release.split(".")[:2]) + "\n")
    with tempfile.TemporaryDirectory(prefix="vdoctor-loaders-") as workdir:
        scratch = Path(workdir)
        compiler = find_compiler(None)
        objects = {stem: compile_program(PROGRAMS / f"{stem}.bpf.c", scratch, compiler) for stem in STEMS}
        for loader in wanted:
            if shutil.which(needs[loader]) is None:
                print(f"skip {loader}: no {needs[loader]} (scripts/install-deps.sh --loaders)", file=sys.stderr)
                continue
            if loader == "bpftool":
                record_bpftool(objects, scratch)
            elif loader == "libbpf":
                record_libbpf(objects, scratch)
            elif loader == "cilium":
                record_cilium(objects, scratch)
            elif loader == "bcc":
                record_bcc(scratch)
            elif loader == "bpftrace":
                record_bpftrace(scratch)
            elif loader == "failures":
                record_failures(objects, scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
