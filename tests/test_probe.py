"""kernel/probe.py: the running kernel's map types, asked of libbpf's own probe."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from conftest import kernel_loads_bpf
from verifier_doctor.errors import KernelUnavailable
from verifier_doctor.kernel import probe

# enum bpf_map_type (include/uapi/linux/bpf.h): numbers only ever appended.
UAPI = {"hash": 1, "array": 2, "percpu_array": 6, "ringbuf": 27, "arena": 33}


@pytest.mark.parametrize("name", UAPI)
def test_libbpf_names_the_uapi_map_types(name):
    assert probe.map_type_number(name) == UAPI[name]


def test_a_map_type_libbpf_does_not_know_is_one_sentence():
    with pytest.raises(KernelUnavailable, match="does not know the map type 'no_such_map'"):
        probe.map_type_number("no_such_map")


def _bpftool_says() -> dict[str, bool]:
    done = subprocess.run(["bpftool", "feature", "probe", "kernel"], capture_output=True, text=True)
    return {m.group(1): m.group(2) == "is" for m in
            re.finditer(r"^eBPF map_type (\w+) (is|is NOT) available$", done.stdout, re.M)}


@pytest.mark.kernel
@pytest.mark.skipif(not kernel_loads_bpf(), reason="the running kernel does not load BPF here")
@pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool's probe is the reference")
@pytest.mark.parametrize("name", UAPI)
def test_the_probe_agrees_with_bpftool(name):
    """The same question bpftool asks, with the same answer, whichever it is on this kernel
    (this machine's 6.18: every type but arena)."""
    said = _bpftool_says()
    assert name in said, sorted(said)
    assert probe.map_type_available(name) is said[name]


def test_a_probe_that_fails_is_one_sentence(monkeypatch):
    """libbpf answers a negative errno when it cannot probe (no BPF for this user)."""
    probe.map_type_available.cache_clear()
    handle = probe._probe_lib()
    monkeypatch.setattr(probe, "_probe_lib", lambda: _Refusing(handle))
    try:
        with pytest.raises(KernelUnavailable, match="Probing the running kernel for the 'hash' map type failed"):
            probe.map_type_available("hash")
    finally:
        probe.map_type_available.cache_clear()


class _Refusing:
    """libbpf, except that its map probe answers -EPERM."""

    def __init__(self, handle):
        self._handle = handle

    def __getattr__(self, name):
        return getattr(self._handle, name)

    @staticmethod
    def libbpf_probe_bpf_map_type(number, opts):
        return -1
