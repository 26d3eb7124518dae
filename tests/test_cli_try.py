"""`vdoctor try` on the running kernel: compile, load every program, explain, run."""

from __future__ import annotations

import re
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


# --- what a BPF build takes: -I, -D, --cflags, $VDOCTOR_CFLAGS, objects, vmlinux.h ----------

KERNEL_PROGS = ROOT / "tests" / "kernel_progs"
SELFTEST = KERNEL_PROGS / "selftest_style"
EXAMPLE = ROOT / "examples" / "bootstrap"


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A cache of our own, so vmlinux.h is really made from the kernel's BTF in this test."""
    monkeypatch.setenv("VDOCTOR_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _by_name(out: dict) -> dict[str, dict]:
    return {p["program"]: p for p in out.get("programs", [out])}


def test_program_without_sec_holds_no_program(vdoctor, tmp_path):
    source = tmp_path / "only_a_function.bpf.c"
    source.write_text('#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n'
                      'int add_one(int x) { return x + 1; }\nchar LICENSE[] SEC("license") = "GPL";\n')
    result = vdoctor("try", source)
    assert result.status == 2, result.stdout
    assert "holds no BPF program" in result.stderr
    assert result.stdout == ""


def test_missing_include_dir_is_one_sentence(vdoctor):
    result = vdoctor("try", SELFTEST / "progs" / "task_kfuncs.bpf.c", "-I", "/nonexistent/include")
    assert result.status == 2
    assert "include directory /nonexistent/include (-I) does not exist" in result.stderr


def test_without_its_include_dir_a_selftest_program_does_not_compile(vdoctor, own_cache):
    result = vdoctor("try", SELFTEST / "progs" / "task_kfuncs.bpf.c", "-D", "EXPECTED_RET=7")
    assert result.status == 2
    assert "could not compile task_kfuncs.bpf.c" in result.stderr
    assert "'bpf_misc.h' file not found" in result.stderr  # the compiler's own words follow


@needs_kernel
@pytest.mark.kernel
def test_selftest_style_program_with_include_dir_define_kfuncs_and_optional_section(vdoctor, own_cache):
    result = vdoctor("try", SELFTEST / "progs" / "task_kfuncs.bpf.c", "-I", SELFTEST / "include",
                     "-D", "EXPECTED_RET=7", "--run", "1", "--json")
    assert result.status == 1, result.stderr  # the '?' program leaks its task reference
    out = result.json()
    command = out["build"]["command"]
    assert "-DEXPECTED_RET=7" in command
    assert command[command.index("-I") + 1] == str(SELFTEST / "include")
    # vmlinux.h is on no include path: it was made from the running kernel's BTF, in our cache.
    made = Path(out["build"]["vmlinux_h"])
    assert made.is_file() and own_cache in made.parents
    assert "struct task_struct {" in made.read_text()
    programs = _by_name(out)
    assert programs["task_acquire_release"]["verdict"] == "accepted"  # kfuncs declared __ksym
    leak = programs["task_acquire_leak"]
    assert leak["verdict"] == "rejected" and leak["error"]["class"] == "unreleased-reference"
    assert any("starts with '?'" in note and "loaded it on its own" in note for note in leak["caveats"])
    assert programs["expected_ret"]["verdict"] == "accepted"
    assert out["runs"]["expected_ret"]["retval"] == 7  # the -D value reached the program
    assert "task_acquire_release" in out["run_errors"]  # tracing cannot be test-run; said, not fatal


@needs_kernel
@pytest.mark.kernel
def test_compile_command_is_printed_and_cflags_replace_the_defaults(vdoctor, monkeypatch):
    source = PROGRAMS / "missing_null_check.bpf.c"
    default = vdoctor("try", source, "--json").json()
    assert default["build"]["command"][1:5] == ["-target", "bpf", "-O2", "-g"]
    assert default["error"]["source"]["text"]  # -g: the log quotes the source line
    text = vdoctor("try", source)
    assert "vdoctor: built with: clang" in text.stderr and " -O2 -g " in text.stderr
    assert "vdoctor: built with" not in text.stdout

    # Without -g there is no BTF: BTF-defined maps cannot be made, which libbpf says.
    no_btf = vdoctor("try", source, "--cflags", "-O2")
    assert no_btf.status == 2
    assert "BTF is required" in no_btf.stderr and "-g" in no_btf.stderr

    mapless = PROGRAMS / "packet_no_bounds.bpf.c"
    assert vdoctor("try", mapless, "--json").json()["error"]["source"]["text"]
    plain = vdoctor("try", mapless, "--cflags", "-O2", "--json")
    assert plain.status == 1
    out = plain.json()
    assert "-g" not in out["build"]["command"]
    assert out["error"]["class"] == "packet-bounds"
    assert out["error"]["source"] is None  # no -g, no BTF line info: the log quotes no source

    # -O0, as some projects build: the program the kernel sees is another one.
    unoptimised = vdoctor("try", source, "--cflags", "-O0 -g", "--json").json()
    assert unoptimised["build"]["command"][3:5] == ["-O0", "-g"]
    assert unoptimised["error"]["class"] == "null-deref"
    assert unoptimised["error"]["insn"] != default["error"]["insn"]

    monkeypatch.setenv("VDOCTOR_CFLAGS", "-O2")
    from_env = vdoctor("try", mapless, "--json").json()
    assert "-g" not in from_env["build"]["command"] and from_env["error"]["source"] is None


@needs_kernel
@pytest.mark.kernel
def test_vmlinux_h_included_by_a_project_header_is_made_too(vdoctor, tmp_path, own_cache):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "common.h").write_text('#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n')
    source = tmp_path / "prog.bpf.c"
    source.write_text('#include "common.h"\nchar LICENSE[] SEC("license") = "GPL";\n'
                      'SEC("xdp")\nint pass(struct xdp_md *ctx) { return XDP_PASS; }\n')
    result = vdoctor("try", source, "-I", tmp_path / "inc", "--json")
    assert result.status == 0, result.stderr
    assert own_cache in Path(result.json()["build"]["vmlinux_h"]).parents


@needs_kernel
@pytest.mark.kernel
def test_compile_commands_json_beside_the_source_gives_its_flags(vdoctor, tmp_path, own_cache):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    source = project / "src" / "task_kfuncs.bpf.c"
    source.write_text((SELFTEST / "progs" / "task_kfuncs.bpf.c").read_text())
    entry = {"directory": str(project), "file": "src/task_kfuncs.bpf.c",
             "arguments": ["clang", "-target", "bpf", "-I" + str(SELFTEST / "include"),
                           "-D", "EXPECTED_RET=3", "-c", "src/task_kfuncs.bpf.c", "-o", "x.o"]}
    (project / "compile_commands.json").write_text(__import__("json").dumps([entry]))
    result = vdoctor("try", source, "--run", "1", "--json")
    assert result.status == 1, result.stderr
    out = result.json()
    assert "EXPECTED_RET=3" in out["build"]["command"]
    assert out["runs"]["expected_ret"]["retval"] == 3


@needs_kernel
@pytest.mark.kernel
def test_object_file_is_loaded_as_it_is(vdoctor, tmp_path):
    from verifier_doctor.kernel.build import compile_program

    obj = compile_program(PROGRAMS / "missing_null_check.bpf.c", tmp_path)
    result = vdoctor("try", obj, "--json")
    assert result.status == 1, result.stderr
    out = result.json()
    assert out["build"] == {"command": None, "object_given": True, "vmlinux_h": None}
    assert out["error"]["class"] == "null-deref"
    assert "is an object file; loading it as it is" in vdoctor("try", obj).stderr


@needs_kernel
@pytest.mark.kernel
def test_fentry_and_friends_load_or_say_what_the_kernel_lacks(vdoctor):
    """fentry/fexit/fmod_ret/lsm need a BPF trampoline; tp_btf and iter do not."""
    result = vdoctor("try", KERNEL_PROGS / "btf_types.bpf.c", "--json")
    programs = _by_name(result.json())
    assert programs["on_switch"]["verdict"] == "accepted"  # tp_btf
    assert programs["each_task"]["verdict"] == "accepted"  # iter/task
    for name in ("on_unlink", "after_unlink", "sleepable_exec", "on_file_open", "ret_unlink"):
        program = programs[name]
        if program["verdict"] == "accepted":
            continue  # a kernel that allows trampolines loads them
        assert program["error"]["class"] == "load-error"
        assert "does not allow BPF trampolines" in program["error"]["message"], program["error"]
    assert any("starts with '?'" in note for note in programs["sleepable_exec"]["caveats"])


@needs_kernel
@pytest.mark.kernel
def test_struct_ops_load_and_freplace_gets_its_target(vdoctor, own_cache):
    programs = _by_name(vdoctor("try", KERNEL_PROGS / "btf_types.bpf.c", "--json").json())
    for name in ("vd_init", "vd_ssthresh", "vd_undo_cwnd", "vd_cong_avoid", "calls_target"):
        assert programs[name]["verdict"] == "accepted", programs[name]["error"]
    replacing = programs["replaces_target"]
    # Loaded against calls_target (libbpf alone says "attach program FD is not set"): accepted,
    # or refused by a kernel without trampolines, in those words.
    if replacing["verdict"] != "accepted":
        assert "does not allow BPF trampolines" in replacing["error"]["message"], replacing["error"]

    alone = vdoctor("try", KERNEL_PROGS / "freplace_no_target.bpf.c", "--json").json()
    assert alone["verdict"] == "rejected" and alone["error"]["class"] == "load-error"
    assert "cannot be loaded without a target" in alone["error"]["message"]
    assert "global function target_fn" in alone["error"]["message"]


@needs_kernel
@pytest.mark.kernel
def test_level_1_log_without_the_states_is_loaded_again_at_level_2(vdoctor):
    result = vdoctor("try", PROGRAMS / "pointer_arith_multiply.bpf.c", "--json")
    assert result.status == 1
    out = result.json()
    assert out["error"]["class"] == "pointer-arith"
    assert out["log"]["level"] == 2  # the diagnosis is the level-2 load's
    assert any("loaded the program again at log level 2" in note for note in out["caveats"])
    # asked for level 2, nothing is loaded again
    asked = vdoctor("try", PROGRAMS / "pointer_arith_multiply.bpf.c", "--log-level", "2", "--json").json()
    assert not any("level 2" in note for note in asked["caveats"])


@needs_kernel
@pytest.mark.kernel
def test_example_project_builds_with_its_include_dir_and_is_explained(vdoctor, own_cache):
    result = vdoctor("try", EXAMPLE / "bootstrap.bpf.c", "-I", EXAMPLE / "include", "--json")
    programs = _by_name(result.json())
    assert programs["handle_exec"]["verdict"] == "accepted"  # CO-RE, ring buffer
    assert programs["count_protocols"]["verdict"] == "accepted"
    unlink = programs["handle_unlink"]  # fentry
    assert unlink["verdict"] == "accepted" or "BPF trampolines" in unlink["error"]["message"]
    broken = vdoctor("try", EXAMPLE / "bootstrap.bpf.c", "-I", EXAMPLE / "include",
                     "-D", "BOOTSTRAP_SKIP_BOUNDS_CHECK", "--json")
    assert broken.status == 1
    xdp = _by_name(broken.json())["count_protocols"]
    assert xdp["error"]["class"] == "packet-bounds"
    assert "eth->h_proto" in xdp["error"]["source"]["text"]


@pytest.mark.qemu
def test_example_project_and_selftest_program_in_a_qemu_kernel(vdoctor):
    """6.12 under QEMU: vmlinux.h from the BTF inside its image, fentry and kfuncs load there."""
    result = vdoctor("try", EXAMPLE / "bootstrap.bpf.c", "-I", EXAMPLE / "include", "--kernel", "6.12", "--json")
    assert result.status == 0, result.stderr
    out = result.json()
    assert "6.12" in out["build"]["vmlinux_h"]  # made from that kernel's BTF, not the host's
    programs = _by_name(out["kernels"]["6.12"])
    assert {name: p["verdict"] for name, p in programs.items()} == {
        "handle_exec": "accepted", "handle_unlink": "accepted", "count_protocols": "accepted"}

    result = vdoctor("try", SELFTEST / "progs" / "task_kfuncs.bpf.c", "-I", SELFTEST / "include",
                     "-D", "EXPECTED_RET=5", "--kernel", "6.12", "--run", "1", "--json")
    assert result.status == 1, result.stderr
    kernel = result.json()["kernels"]["6.12"]
    programs = _by_name(kernel)
    assert programs["task_acquire_release"]["verdict"] == "accepted"
    assert programs["task_acquire_leak"]["error"]["class"] == "unreleased-reference"
    assert any("starts with '?'" in note for note in programs["task_acquire_leak"]["caveats"])
    assert kernel["runs"]["expected_ret"]["retval"] == 5

    # Trampoline types load in a kernel that allows them (the host here may not), struct_ops
    # too, and freplace finds its target in the guest as on the host.
    result = vdoctor("try", KERNEL_PROGS / "btf_types.bpf.c", "--kernel", "6.12", "--json")
    programs = _by_name(result.json()["kernels"]["6.12"])
    assert {name: p["verdict"] for name, p in programs.items()} == dict.fromkeys(
        ("on_switch", "each_task", "on_unlink", "after_unlink", "sleepable_exec", "ret_unlink",
         "on_file_open", "vd_init", "vd_ssthresh", "vd_undo_cwnd", "vd_cong_avoid", "calls_target",
         "replaces_target"), "accepted"), {n: p["error"] for n, p in programs.items()}


@pytest.mark.qemu
def test_every_kernel_gives_one_table_and_each_distinct_failure_once(vdoctor):
    result = vdoctor("try", EXAMPLE / "bootstrap.bpf.c", "-I", EXAMPLE / "include", "--kernel", "all")
    assert result.status == 1, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "program" in line and "host" in line)
    assert [cell.strip() for cell in header.strip("┃│ ").split("┃")] == [
        "program", "host", "5.10", "6.1", "6.12", "7.2", "7.3"]
    rows = {cells[0]: cells[1:] for cells in (
        [c.strip() for c in line.strip("│ ").split("│")] for line in lines if line.startswith("│"))}
    assert rows["handle_exec"] == ["accepted"] * 6
    assert rows["count_protocols"] == ["accepted"] * 6
    host, v5_10, v6_1, v6_12, v7_2, v7_3 = rows["handle_unlink"]
    assert v6_1 == v6_12 == "accepted"  # the fentry program, in kernels that let it attach
    assert v5_10 == "helper-unavailable @1"  # bpf_get_current_task_btf (5.11+) at instruction 1
    assert host == "accepted" or host == "load-error"  # a host that refuses trampolines says so
    # 7.2 and 7.3 have no do_unlinkat to attach to: one failure, shown once for both kernels.
    assert v7_2 == v7_3 == "load-error"
    assert result.stdout.count("== handle_unlink: load-error on 7.2, 7.3 ==") == 1
    assert result.stdout.count("handle_unlink: rejected") == len(
        [line for line in lines if line.startswith("== handle_unlink:")])
    assert "vdoctor: built for 7.3 with:" in result.stderr
    # Each guest's progress, as plain lines in a pipe (two boots at a time).
    for version in ("5.10", "6.1", "6.12", "7.2", "7.3"):
        assert f"vdoctor: {version}: booting " in result.stderr, result.stderr
        assert re.search(rf"vdoctor: {re.escape(version)}: done in \d+ s", result.stderr), result.stderr


@pytest.mark.qemu
def test_level_1_log_without_the_states_is_loaded_again_at_level_2_in_a_qemu_kernel(vdoctor):
    result = vdoctor("try", PROGRAMS / "pointer_arith_multiply.bpf.c", "--kernel", "6.12", "--json")
    assert result.status == 1, result.stderr
    out = result.json()["kernels"]["6.12"]
    assert out["error"]["class"] == "pointer-arith"
    assert out["log"]["level"] == 2  # from a second boot, at level 2 with our own log buffer
    assert any("loaded the program again at log level 2" in note for note in out["caveats"])
    # the second boot is said before it starts (issue 25, point 5)
    said = result.stderr.splitlines()
    announced = said.index("vdoctor: level-1 logs that do not show the cause (6.12: hash_slot_addr); loading them "
                           "again at level 2, one more boot of each of those kernels (--no-rerun skips this)")
    boots = [number for number, line in enumerate(said) if line.startswith("vdoctor: 6.12: booting ")]
    assert len(boots) == 2 and boots[0] < announced < boots[1], said


@needs_kernel
@pytest.mark.kernel
def test_try_points_to_fix_when_a_repair_rule_applies(vdoctor):
    """A rejection whose class has a repair rule names `vdoctor fix` (issue 23, point 5); an
    accepted program, or a class without a rule, gets no such line."""
    rejected = vdoctor("try", PROGRAMS / "missing_null_check.bpf.c")
    assert f"`vdoctor fix {PROGRAMS / 'missing_null_check.bpf.c'}` has a repair rule for null-deref" in rejected.stderr
    accepted = vdoctor("try", PROGRAMS / "accepted_counter.bpf.c")
    assert accepted.status == 0 and "vdoctor fix" not in accepted.stderr
    no_rule = vdoctor("try", PROGRAMS / "context_access_bad_field.bpf.c")
    assert no_rule.status == 1 and "vdoctor fix" not in no_rule.stderr
