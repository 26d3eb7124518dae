"""The built wheel is complete: installed into a fresh venv, every command works from a
directory that is not a checkout (the grammar, the allocator header and the catalogue's
reproducers and logs come from inside the package).

The wheel is built offline (pip with --no-build-isolation and the test venv's hatchling).
The fresh venv gets the wheel; its dependencies (typer, rich, lark, pyroute2) are read from
the test venv's site-packages through a .pth line, so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, kernel_loads_bpf

SEED_LOG = ROOT / "fixtures" / "seed" / "linked_list_pool.verifier.log"
REJECTED = ROOT / "tests" / "kernel_progs" / "reject_scalar.bpf.c"
MALLOC_PROGRAM = """\
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int prog(struct xdp_md *ctx)
{
    int *p = malloc(sizeof(int));
    if (!p)
        return XDP_PASS;
    free(p);
    return XDP_PASS;
}
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the fresh venv's vdoctor, a scratch directory outside the checkout, the wheel)."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist),
         str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = dist.glob("verifier_doctor-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # The dependencies, from the test venv (appended after the new venv's own packages).
    (site / "vdoctor_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    work = base / "elsewhere"
    work.mkdir()
    return venv / "bin" / "vdoctor", work, wheel


def _run(installed, *args: str) -> subprocess.CompletedProcess:
    vdoctor, work, _ = installed
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(vdoctor), *args], cwd=work, capture_output=True, text=True, timeout=300,
                          env={**env, "COLUMNS": "120"})
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_wheel_carries_what_the_commands_read(installed):
    names = zipfile.ZipFile(installed[2]).namelist()
    shipped = "verifier_doctor/_shipped/"
    assert f"{shipped}grammars/verifier_log.lark" in names
    assert f"{shipped}allocator_c/static_malloc.h" in names
    assert "verifier_doctor/data/explain.schema.json" in names  # the JSON schema of `explain --json`
    assert any(n.startswith(f"{shipped}fixtures/programs/") and n.endswith(".bpf.c") for n in names)
    logs = {n for n in names if n.startswith(f"{shipped}fixtures/logs/")}
    assert f"{shipped}fixtures/logs/7.3/linked_list_pool.L1.log" in logs
    # Compact: a level-2 log only where the catalogue has no level-1 log to show.
    assert not [n for n in logs if n.endswith(".L2.log") and n.replace(".L2.", ".L1.") in logs]


def test_installed_package_is_the_wheel(installed):
    vdoctor = installed[0]
    where = subprocess.run([vdoctor.parent / "python", "-c", "import verifier_doctor; print(verifier_doctor.__file__)"],
                           cwd=installed[1], capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(vdoctor.parent.parent)), where


def test_the_console_script_is_typers(installed):
    from importlib.metadata import version

    said = _run(installed, "--version")
    assert (said.returncode, said.stdout) == (0, f"vdoctor {version('verifier-doctor')}\n")
    assert _run(installed, "-h").stdout.startswith("Usage: vdoctor")


def test_explain_outside_the_checkout(installed):
    log = installed[1] / "user.log"
    shutil.copy(SEED_LOG, log)
    text = _run(installed, "explain", "user.log")
    assert text.returncode == 0, text.stderr
    assert "scalar-deref" in text.stdout
    as_json = _run(installed, "explain", "--json", "user.log")
    assert json.loads(as_json.stdout)["error"]["class"] == "scalar-deref"


def test_catalog_outside_the_checkout(installed):
    listing = _run(installed, "catalog")
    assert listing.returncode == 0, listing.stderr
    assert "null-deref" in listing.stdout
    entry = _run(installed, "catalog", "null-deref", "--json")
    assert entry.returncode == 0, entry.stderr
    reproducers = json.loads(entry.stdout)["reproducers"]
    assert reproducers and any(r["kernels"] for r in reproducers)
    assert _run(installed, "catalog", "null-deref").returncode == 0


def test_fix_and_try_help_outside_the_checkout(installed):
    program = installed[1] / "hello.bpf.c"
    program.write_text(MALLOC_PROGRAM)
    fixed = _run(installed, "fix", "hello.bpf.c")
    assert fixed.returncode == 0, fixed.stderr
    assert '#include "static_malloc.h"' in fixed.stdout and "static_malloc(" in fixed.stdout
    helped = _run(installed, "try", "--help")
    assert helped.returncode == 0 and "--kernel" in helped.stdout


@pytest.mark.kernel
@pytest.mark.skipif(not kernel_loads_bpf(), reason="the running kernel cannot load BPF here")
def test_try_outside_the_checkout(installed):
    """`try` compiles with the shipped allocator on the include path and loads."""
    program = installed[1] / "hello.bpf.c"
    program.write_text(MALLOC_PROGRAM)
    fixed = installed[1] / "hello_fixed.bpf.c"
    assert _run(installed, "fix", "hello.bpf.c", "-o", "hello_fixed.bpf.c").returncode == 0
    assert fixed.is_file()
    accepted = _run(installed, "try", "--json", "hello_fixed.bpf.c")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    shutil.copy(REJECTED, installed[1] / "reject.bpf.c")
    rejected = _run(installed, "try", "--json", "reject.bpf.c")
    assert rejected.returncode == 1, rejected.stderr
    assert json.loads(rejected.stdout)["verdict"] == "rejected"
