"""The user's first program: it called malloc. `vdoctor fix` makes it valid, `vdoctor try`
runs it, and `--attach` puts it on an interface and takes it off again."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from verifier_doctor.kernel.kernels import SUPPORTED

from conftest import ROOT, kernel_loads_bpf
from netns_pair import send_udp, veth_between_namespaces

EXAMPLE = ROOT / "examples" / "hello_malloc.bpf.c"
needs_kernel = pytest.mark.skipif(not kernel_loads_bpf(), reason="the running kernel does not load BPF here")


@pytest.fixture
def fixed(vdoctor, tmp_path) -> Path:
    out = tmp_path / "hello_fixed.bpf.c"
    result = vdoctor("fix", EXAMPLE, "-o", out)
    assert result.status == 0 and out.is_file()
    text = out.read_text()
    assert '#include "static_malloc.h"' in text and "static_malloc(sizeof(vec2_t))" in text
    # Only the call changed: the rest of the user's file is as they wrote it.
    assert text.replace('#include "static_malloc.h"\n', "").replace("static_malloc(", "malloc(") == EXAMPLE.read_text()
    return out


def test_original_does_not_build(vdoctor):
    result = vdoctor("try", EXAMPLE)
    assert result.status == 2 and "could not compile" in result.stderr


@needs_kernel
@pytest.mark.kernel
def test_fixed_program_loads_runs_and_prints(vdoctor, fixed):
    result = vdoctor("try", fixed, "--run", "3", "--json")
    assert result.status == 0, result.stdout
    out = result.json()
    assert out["verdict"] == "accepted"
    run = out["runs"]["hello"]
    assert run["retval"] == 2  # XDP_PASS
    assert run["printed"] == ["Hello World 0", "Hello World 1", "Hello World 2"]


@needs_kernel
@pytest.mark.kernel
def test_fixed_program_on_an_interface_counts_packets_and_detaches(fixed, tmp_path):
    from pyroute2 import netns

    from verifier_doctor.kernel.attach import attached_xdp, attached_xdp_prog_id
    from verifier_doctor.kernel.build import compile_program
    from verifier_doctor.kernel.loader import open_program

    obj = compile_program(fixed, tmp_path)
    with veth_between_namespaces() as pair, open_program(obj, "hello") as prog:
        with attached_xdp(pair.xdp_if, prog.fd, netns=pair.xdp_ns):
            send_udp(pair.send_ns, 4)
            deadline = time.monotonic() + 5
            while int.from_bytes(prog.read_global("counter"), "little") < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert int.from_bytes(prog.read_global("counter"), "little") >= 4
        assert attached_xdp_prog_id(pair.xdp_if, netns=pair.xdp_ns) is None
    assert not {pair.xdp_ns, pair.send_ns} & set(netns.listnetns())


@needs_kernel
@pytest.mark.kernel
def test_try_attach_on_the_command_line_leaves_nothing_attached(fixed):
    """`vdoctor try --attach IFACE` run inside the namespace, as a user would run it."""
    from verifier_doctor.kernel.attach import attached_xdp_prog_id

    with veth_between_namespaces() as pair:
        command = ["ip", "netns", "exec", pair.xdp_ns, sys.executable, "-m", "verifier_doctor",
                   "try", str(fixed), "--attach", pair.xdp_if, "--attach-seconds", "3"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   cwd=ROOT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while attached_xdp_prog_id(pair.xdp_if, netns=pair.xdp_ns) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert attached_xdp_prog_id(pair.xdp_if, netns=pair.xdp_ns) is not None
        send_udp(pair.send_ns, 3)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert f"attached to {pair.xdp_if}" in out and f"detached from {pair.xdp_if}" in out
        assert attached_xdp_prog_id(pair.xdp_if, netns=pair.xdp_ns) is None


@pytest.fixture(scope="module")
def fixed_in_guests(tmp_path_factory):
    from verifier_doctor.kernel.build import compile_program
    from verifier_doctor.kernel.kernels import SUPPORTED
    from verifier_doctor.kernel.qemu import load_in_guests
    from verifier_doctor.fix import rewrite_malloc

    out = tmp_path_factory.mktemp("fixed")
    source = out / "hello_fixed.bpf.c"
    source.write_text(rewrite_malloc(EXAMPLE.read_text()).text)
    obj = compile_program(source, out)
    return obj, load_in_guests(SUPPORTED, [obj], runs=2)


@pytest.mark.qemu
@pytest.mark.parametrize("version", SUPPORTED)
def test_fixed_program_loads_and_runs_on_every_kernel(fixed_in_guests, version):
    obj, runs = fixed_in_guests
    run = runs[version]
    assert not isinstance(run, Exception), f"{version}: {run}"
    (load,) = run.results[obj]
    assert load.accepted, f"{version}: {load.log[-2000:]}"
    assert run.runs[(obj, "hello")].retval == 2, version
