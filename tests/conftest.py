"""Shared helpers: run the real `vdoctor` command, and know whether the kernel loads BPF."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


def run_vdoctor(*args: str, stdin: bytes | None = None, timeout: float = 600) -> Result:
    """The command as a user runs it, in a subprocess: exit status, output, no traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "verifier_doctor", *map(str, args)],
        input=stdin, capture_output=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, "COLUMNS": "120"},
    )
    result = Result(done.returncode, done.stdout.decode(), done.stderr.decode())
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture
def vdoctor():
    return run_vdoctor


def kernel_loads_bpf() -> bool:
    """True when the running kernel loads BPF for us. Only the environment saying no
    (KernelUnavailable: no permission, no bpf() syscall, no libbpf) is a reason to skip; a
    bug in the loader raises and fails the tests that asked."""
    from verifier_doctor.errors import KernelUnavailable
    from verifier_doctor.kernel.loader import _require_kernel

    try:
        _require_kernel()
        return True
    except KernelUnavailable:
        return False
