"""The kernel side against the running kernel: real compiles, loads, test runs and attaches.

Every test here needs root and a kernel that loads BPF; without them the whole
module is skipped with the reason. The programs are in tests/kernel_progs/,
each with a comment saying what must happen to it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from verifier_doctor.errors import BuildFailed, KernelUnavailable, VdoctorError
from verifier_doctor.kernel import build, loader, tracing
from verifier_doctor.kernel.attach import attached_xdp, attached_xdp_prog_id

from netns_pair import send_udp as _send_udp, veth_between_namespaces

PROGS = Path(__file__).resolve().parent / "kernel_progs"
REPO = Path(__file__).resolve().parent.parent
XDP_PASS = 2
EACCES, EINVAL = 13, 22


def _why_no_bpf() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    try:
        loader._require_kernel()
    except KernelUnavailable as error:
        return str(error)
    return None


_SKIP = _why_no_bpf()
pytestmark = [pytest.mark.kernel, pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")]


@pytest.fixture(scope="module")
def obj(tmp_path_factory):
    """Compile a program of tests/kernel_progs/ once per module: obj("xdp_pass") -> .o path."""
    out = tmp_path_factory.mktemp("objs")
    built: dict[str, Path] = {}

    def compiled(name: str) -> Path:
        if name not in built:
            built[name] = build.compile_program(PROGS / f"{name}.bpf.c", out)
        return built[name]

    return compiled


def _verifier_log(result: loader.ProgramLoad) -> str:
    begin = f"libbpf: prog '{result.name}': -- BEGIN PROG LOAD LOG --\n"
    assert begin in result.log, result.log
    return result.log.split(begin, 1)[1].split("-- END PROG LOAD LOG --", 1)[0]


def _u64(raw: bytes | None) -> int:
    assert raw is not None and len(raw) == 8, raw
    return struct.unpack("<Q", raw)[0]  # BPF globals are in the host's byte order


# --- build -----------------------------------------------------------------


def test_compile_error_raises_build_failed_with_clang_message(tmp_path):
    source = tmp_path / "broken.bpf.c"
    source.write_text("int broken(void) { return undeclared_thing; }\n")
    with pytest.raises(BuildFailed) as caught:
        build.compile_program(source, tmp_path)
    first, _, stderr = str(caught.value).partition("\n")
    assert first.endswith("could not compile broken.bpf.c:")
    assert "use of undeclared identifier 'undeclared_thing'" in stderr


def test_missing_source_raises_build_failed(tmp_path):
    with pytest.raises(BuildFailed, match="does not exist"):
        build.compile_program(tmp_path / "absent.bpf.c", tmp_path)


def test_preferred_compiler_must_be_on_path():
    with pytest.raises(BuildFailed, match="not on PATH"):
        build.find_compiler("clang-does-not-exist")
    assert shutil.which(build.find_compiler()) is not None


# --- load ------------------------------------------------------------------


def test_accepted_program_reports_statistics(obj):
    [result] = loader.load_each_program(obj("xdp_pass"))
    assert (result.name, result.section, result.accepted, result.error) == ("xdp_pass", "xdp", True, None)
    assert "processed " in _verifier_log(result)


def test_rejected_program_carries_the_verifier_message(obj):
    [result] = loader.load_each_program(obj("reject_scalar"))
    assert not result.accepted
    assert result.error == -EACCES
    assert "R1 invalid mem access 'scalar'" in _verifier_log(result)
    assert "libbpf: prog 'reject_scalar': BPF program load failed" in result.log


def test_each_program_of_an_object_gets_its_own_verdict(obj):
    results = {r.name: r for r in loader.load_each_program(obj("two_progs"))}
    assert {name: r.accepted for name, r in results.items()} == {"good": True, "bad": False}
    assert "R3 !read_ok" in _verifier_log(results["bad"])
    assert "processed " in _verifier_log(results["good"])
    assert "R3 !read_ok" not in results["good"].log


def test_failure_before_the_verifier_keeps_libbpf_lines(obj):
    [result] = loader.load_each_program(obj("map_create_fails"))
    assert not result.accepted
    assert result.error == -EINVAL
    assert "libbpf: map 'empty': failed to create" in result.log
    assert "BEGIN PROG LOAD LOG" not in result.log


def test_higher_log_level_gives_instruction_states(obj):
    [result] = loader.load_each_program(obj("xdp_count"), log_level=2)
    assert result.accepted
    log = _verifier_log(result)
    assert "processed " in log
    assert "R1=ctx()" in log  # level 2 prints register states on success too


def test_a_level_2_log_longer_than_the_buffer_keeps_its_end_in_one_pass(tmp_path):
    """`try --log-level 2` of a program that reaches the instruction limit: the log goes to
    our buffer (loader.RERUN_LOG_BYTES), whose end the kernel keeps with the verdict, so the
    program is verified once (libbpf's own buffer doubled five times: 116 s and 2.2 GB)."""
    from verifier_doctor.pipeline import diagnose_load

    program = REPO / "fixtures" / "programs" / "too_complex_nested_loops.bpf.c"
    [result] = loader.load_each_program(build.compile_program(program, tmp_path), log_level=2)
    log = _verifier_log(result)
    assert not result.accepted
    assert len(log) < loader.RERUN_LOG_BYTES <= len(log) + 4096  # the buffer filled, not more
    assert diagnose_load(result.name, result.log, False).error.error_class == "too-complex"


def test_open_program_refuses_a_rejected_or_unknown_program(obj):
    with pytest.raises(VdoctorError, match="did not accept"):
        loader.open_program(obj("two_progs"), "bad")
    with pytest.raises(VdoctorError, match="no program named"):
        loader.open_program(obj("two_progs"), "missing")


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_process_without_capabilities_gets_kernel_unavailable(obj):
    # A real unprivileged process: setpriv drops every capability (CAP_BPF,
    # CAP_SYS_ADMIN) from the child before it starts. With
    # kernel.unprivileged_bpf_disabled = 0 the probe may pass, and the XDP load's
    # EPERM must then give the same error.
    script = textwrap.dedent(f"""
        from verifier_doctor.errors import KernelUnavailable
        from verifier_doctor.kernel.loader import load_each_program
        try:
            print(load_each_program({str(obj("xdp_pass"))!r}))
        except KernelUnavailable as error:
            print("KernelUnavailable:", error)
    """)
    done = subprocess.run(
        ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", sys.executable, "-c", script],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert done.stdout.startswith("KernelUnavailable: "), done.stdout + done.stderr
    assert "CAP_BPF" in done.stdout


# --- test run --------------------------------------------------------------


def test_run_returns_the_programs_value(obj):
    with loader.open_program(obj("xdp_pass"), "xdp_pass") as prog:
        result = prog.test_run()
    assert (result.retval, result.repeat) == (XDP_PASS, 1)
    assert result.duration_ns >= 0


def test_run_gives_the_program_a_packet(obj):
    with loader.open_program(obj("xdp_len"), "xdp_len") as prog:
        assert prog.test_run().retval == 64  # the default Ethernet + IPv4 + UDP frame
        assert prog.test_run(data=bytes(100)).retval == 100


@pytest.mark.skipif(tracing.tracefs_root() is None, reason="tracefs is not available")
def test_run_collects_what_the_program_printed(obj):
    with loader.open_program(obj("xdp_pass"), "xdp_pass") as prog:
        assert prog.test_run().printed == ["vdoctor-pass 42"]
        assert prog.test_run(repeat=3).printed == ["vdoctor-pass 42"] * 3


def test_read_global_counts_the_runs(obj):
    with loader.open_program(obj("xdp_pass"), "xdp_pass") as prog:
        assert _u64(prog.read_global("runs")) == 0
        prog.test_run(repeat=5)
        assert _u64(prog.read_global("runs")) == 5
        assert prog.read_global(".bss") == prog.read_global("runs")  # the section map, key 0
        assert prog.read_global("no_such_global") is None


def test_run_context_program_types(obj):
    with loader.open_program(obj("ctx_types"), "raw_tp_seven") as prog:
        assert (prog.test_run(repeat=3).retval, prog.test_run(repeat=3).repeat) == (7, 3)
    with loader.open_program(obj("ctx_types"), "syscall_five") as prog:
        assert prog.test_run().retval == 5
    with loader.open_program(obj("ctx_types"), "tracepoint_zero") as prog:
        with pytest.raises(VdoctorError, match="type tracepoint cannot be test-run"):
            prog.test_run()


# --- attach ----------------------------------------------------------------

def test_attach_counts_packets_and_always_detaches(obj):
    from pyroute2 import netns

    sent = 5
    with veth_between_namespaces() as pair, loader.open_program(obj("xdp_count"), "xdp_count") as prog:
        with attached_xdp(pair.xdp_if, prog.fd, netns=pair.xdp_ns):
            assert attached_xdp_prog_id(pair.xdp_if, netns=pair.xdp_ns) is not None
            _send_udp(pair.send_ns, sent)
            deadline = time.monotonic() + 5  # veth hands packets to the peer's backlog, run a bit later
            while _u64(prog.read_global("udp_packets")) < sent and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _u64(prog.read_global("udp_packets")) == sent
        assert attached_xdp_prog_id(pair.xdp_if, netns=pair.xdp_ns) is None
    assert not {pair.xdp_ns, pair.send_ns} & set(netns.listnetns())


def test_attach_detaches_when_the_block_raises(obj):
    from pyroute2 import netns

    with veth_between_namespaces() as pair, loader.open_program(obj("xdp_pass"), "xdp_pass") as prog:
        with pytest.raises(RuntimeError, match="inside"):
            with attached_xdp(pair.xdp_if, prog.fd, netns=pair.xdp_ns):
                raise RuntimeError("failure inside the block")
        assert attached_xdp_prog_id(pair.xdp_if, netns=pair.xdp_ns) is None
    assert not {pair.xdp_ns, pair.send_ns} & set(netns.listnetns())


def test_attach_to_a_missing_interface_says_so(obj):
    with loader.open_program(obj("xdp_pass"), "xdp_pass") as prog:
        with pytest.raises(VdoctorError, match="no network interface named vd-missing0"):
            with attached_xdp("vd-missing0", prog.fd):
                pass
