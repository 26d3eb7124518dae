"""`vdoctor try` on the running kernel: compile, load every program, explain, run."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import kernel_loads_bpf

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "fixtures" / "programs"

needs_kernel = pytest.mark.skipif(not kernel_loads_bpf(), reason="the running kernel does not load BPF here")


def test_c_file_that_does_not_compile_is_a_build_error(vdoctor, tmp_path):
    broken = tmp_path / "broken.bpf.c"
    broken.write_text('#include <linux/bpf.h>\nint f(void) { return undeclared_thing; }\n')
    result = vdoctor("try", broken)
    assert result.status == 2
    assert "could not compile" in result.stderr
    assert "undeclared_thing" in result.stderr  # the compiler's own message is shown


def test_missing_program_file_is_a_usage_error(vdoctor, tmp_path):
    result = vdoctor("try", tmp_path / "absent.bpf.c")
    assert result.status == 2 and "no file" in result.stderr


def test_unknown_kernel_label_is_a_usage_error(vdoctor):
    result = vdoctor("try", PROGRAMS / "accepted_counter.bpf.c", "--kernel", "4.19")
    assert result.status == 2 and "--kernel" in result.stderr


@needs_kernel
@pytest.mark.kernel
def test_linked_list_allocator_is_rejected_and_explained(vdoctor):
    result = vdoctor("try", PROGRAMS / "linked_list_pool.bpf.c", "--json")
    assert result.status == 1
    out = result.json()
    assert out["verdict"] == "rejected"
    assert out["error"]["class"] == "scalar-deref"
    assert "curr->free" in out["error"]["source"]["text"]
    assert "curr = curr->next" in out["culprit"]["source"]["text"]
    assert out["culprit"]["source"]["file"] == "linked_list_pool.bpf.c"  # v6.2+ print "@ file:line"
    assert isinstance(out["culprit"]["source"]["line"], int)


@needs_kernel
@pytest.mark.kernel
def test_accepted_program_reports_statistics_and_runs(vdoctor):
    result = vdoctor("try", PROGRAMS / "accepted_counter.bpf.c", "--run", "3", "--json")
    assert result.status == 0
    out = result.json()
    assert out["verdict"] == "accepted" and out["error"] is None and out["culprit"] is None
    assert out["stats"]["processed_insns"] > 0
    run = out["runs"]["count_packets"]
    assert run["retval"] == 2 and run["repeat"] == 3  # XDP_PASS, three times


@needs_kernel
@pytest.mark.kernel
def test_text_output_for_a_rejection_names_culprit(vdoctor):
    result = vdoctor("try", PROGRAMS / "missing_null_check.bpf.c")
    assert result.status == 1
    assert "null-deref" in result.stdout
    assert "bpf_map_lookup_elem" in result.stdout


@needs_kernel
@pytest.mark.kernel
def test_global_spin_lock_fails_as_current_libbpf_fails(vdoctor):
    result = vdoctor("try", PROGRAMS / "global_spin_lock.bpf.c", "--json")
    assert result.status == 1
    out = result.json()
    assert out["error"]["class"] == "load-error"
    assert "-524" in out["error"]["message"]


@pytest.mark.qemu
def test_try_in_other_kernels_gives_one_object_per_kernel(vdoctor):
    """Does my program load on 5.10? The same diagnosis in a kernel booted under QEMU."""
    result = vdoctor("try", PROGRAMS / "linked_list_pool.bpf.c", "--kernel", "5.10", "--json")
    assert result.status == 1
    kernels = result.json()["kernels"]
    assert list(kernels) == ["5.10"]
    old = kernels["5.10"]
    assert old["error"]["class"] == "scalar-deref"
    assert old["error"]["message"].endswith("invalid mem access 'inv'")  # 5.10's word for scalar
    assert "curr = curr->next" in old["culprit"]["source"]["text"]
    assert old["log"]["format"].startswith("5.10")
