"""`vdoctor fix` repairs rejected programs, and proves each repair by loading it.

Every reproducer in fixtures/programs/ whose class has a repair rule goes through the real
engine: built with clang, loaded into the running kernel, diagnosed, repaired, loaded
again. The repaired file must load, differ from the original by a few lines, and still
return what the original returned on inputs where the original was safe.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from conftest import ROOT, kernel_loads_bpf
from verifier_doctor.fix import rewrite_malloc
from verifier_doctor.repair import RULES_DOC, additive
from verifier_doctor.repair.csource import Edit, apply
from verifier_doctor.repair.engine import Repair, repair, unified_diff

PROGRAMS = ROOT / "fixtures" / "programs"
OURS = Path(__file__).resolve().parent / "fix_programs"

needs_kernel = pytest.mark.skipif(not kernel_loads_bpf(), reason="the running kernel does not load BPF here")


def _class_of(program: Path) -> str | None:
    expect = json.loads(program.with_name(program.name.replace(".bpf.c", ".expect.json")).read_text())
    return expect.get("class") if expect.get("verdict") == "rejected" else None


# Reproducers of a class with a rule that no source repair can fix, and why.
NOT_REPAIRABLE = {
    # the program's own inline asm exits without setting R0: no C return to change
    "return_value_r0_unset": "return-value",
    # the program type itself cannot hold a lock: no change of the code helps
    "lock_misuse_socket_filter": "lock-misuse",
    # inline asm writes below the 512-byte frame: no C statement to change
    "stack_access_out_of_frame": "stack-access",
    # pointers kept in map memory without the shipped allocator (the user's own pool, a saved
    # address, an integer cast): the fix is a design change, offsets or keys instead of pointers
    "linked_list_pool": "scalar-deref",
    "scalar_deref_map_ptr": "scalar-deref",
    "scalar_deref_spilled": "scalar-deref",
    "scalar_deref_int_cast": "scalar-deref",
    # two frames' stack together above 512 bytes: no loop to rewrite
    "too_complex_stack_depth": "too-complex",
    # nine nested calls, one frame too many: no loop to rewrite (the layers want inlining)
    "too_complex_call_chain": "too-complex",
    # helper-arg's rule is the NULL check; these pass a wrong kind of memory, map or size
    "helper_arg_ctx_as_buffer": "helper-arg",
    "helper_arg_packet_to_perf_output": "helper-arg",
    "helper_arg_perf_output_array": "helper-arg",
    "helper_arg_scalar_map": "helper-arg",
    "helper_arg_zero_size_read": "helper-arg",
    "helper_arg_ringbuf_output_array": "helper-arg",
}

REPAIRABLE = sorted(
    p.name.removesuffix(".bpf.c") for p in PROGRAMS.glob("*.bpf.c")
    if _class_of(p) in RULES_DOC and p.name.removesuffix(".bpf.c") not in NOT_REPAIRABLE
)


# our own reproducers of shapes the fixtures lack (tests/fix_programs/)
OUR_PROGRAMS = ["locked_allocator", "heap_list_head", "stale_packet_pointer", "malloc_list_walk",
                "submit_unchecked", "lookup_in_loop"]


@cache
def _repaired(name: str) -> Repair:
    import tempfile

    source = OURS / f"{name}.bpf.c" if (OURS / f"{name}.bpf.c").is_file() else PROGRAMS / f"{name}.bpf.c"
    with tempfile.TemporaryDirectory(prefix="vdoctor-test-fix-") as workdir:
        return repair(source, Path(workdir))


def _changed(result: Repair) -> int:
    """The lines the diff adds or removes."""
    return sum(1 for line in unified_diff(result, "x", with_why=False).splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---")))


def test_the_repairable_list_covers_the_classes_with_rules():
    classes = {_class_of(PROGRAMS / f"{name}.bpf.c") for name in REPAIRABLE}
    # the classes with the most reproducers have their rule
    assert {"null-deref", "packet-bounds", "map-value-bounds", "unbounded-math", "stack-access",
            "unreleased-reference", "return-value", "lock-misuse", "too-complex"} <= classes
    assert len(REPAIRABLE) >= 25


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("name", [*REPAIRABLE, *OUR_PROGRAMS])
def test_reproducer_is_repaired_into_a_program_that_loads(name):
    result = _repaired(name)
    assert result.loads, result.stopped
    assert result.rounds and result.rounds[-1].chosen is not None
    assert len(result.rounds) <= 2, [r.error_class for r in result.rounds]
    renamed = rewrite_malloc(result.original)
    allowed = 6 + (2 * renamed.replacements + 1 if renamed.changed else 0)  # the rename's own lines
    assert 1 <= _changed(result) <= allowed, unified_diff(result, name, with_why=True)


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(NOT_REPAIRABLE))
def test_a_program_no_rule_can_repair_says_so(name):
    result = _repaired(name)
    assert not result.loads
    assert result.stopped and NOT_REPAIRABLE[name] in result.stopped
    assert result.text == result.original


# ---- the user's locked allocator (issue 21, point 5) ------------------------------------


@needs_kernel
@pytest.mark.kernel
def test_allocator_calls_leave_the_users_lock():
    result = _repaired("locked_allocator")
    assert result.loads, result.stopped
    assert [r.error_class for r in result.rounds] == ["malloc", "lock-misuse"]
    text = result.text
    # both calls now come before their lock; the lock pairs themselves stay
    assert text.index("static_malloc(sizeof(*p))") < text.index("bpf_spin_lock(&g->lock)")
    assert text.count("bpf_spin_lock(&g->lock)") == 2 and text.count("bpf_spin_unlock(&g->lock)") == 2
    free_at = text.index("static_free(p)")
    assert text.index("bpf_spin_lock(&g->lock)", free_at) > free_at
    why = unified_diff(result, "locked_allocator.bpf.c", with_why=True)
    assert "thread-safe" in why


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize(("name", "rounds", "lines"), [
    # a heap pointer loaded from map memory goes through static_ptr
    ("heap_list_head", ["scalar-deref"], ["struct node *cur = static_ptr(head);"]),
    ("malloc_list_walk", ["malloc", "scalar-deref"], ["n = static_ptr(n->next);"]),
    # inside a loop the check skips the iteration; the loop is then too complex: bpf_for
    ("lookup_in_loop", ["null-deref", "too-complex"], ["if (!count)\n\t\t\tcontinue;", "bpf_for(i, 0, 4) {"]),
])
def test_our_reproducer_takes_these_rounds_and_gets_these_lines(name, rounds, lines):
    result = _repaired(name)
    assert result.loads, result.stopped
    assert [r.error_class for r in result.rounds] == rounds
    for line in lines:
        assert f"\t{line}\n" in result.text


# ---- the repaired program still does what the original did where it was safe -----------

def _packet(size: int) -> bytes:
    from verifier_doctor.kernel.runner import default_packet

    frame = default_packet()
    return frame[:size] if size <= len(frame) else frame + bytes(size - len(frame))


XDP_DROP, XDP_PASS, TC_ACT_OK = 1, 2, 0


def _mix_table() -> int:
    """What too_complex_nested_loops returns on a test run (rx_queue_index 0), computed from
    its C: the same two loops, in 32-bit arithmetic."""
    acc = 0
    for i in range(1024):
        for j in range(1024):
            acc = (acc * 31 + (i ^ j)) & 0xFFFFFFFF
    return XDP_PASS if acc & 1 else XDP_DROP


# (reproducer, program, packet size, what the original returns on that packet: read from its
# source, on the 64-byte IPv4/UDP frame of kernel/runner.py, where it is safe; or, for a
# packet on which the original was not safe, what the repair's why-line says it returns now)
BEHAVIOUR = [
    ("packet_no_bounds", "drop_udp", 64, XDP_DROP),  # a UDP packet: dropped, as before
    ("packet_no_bounds", "drop_udp", 20, XDP_PASS),  # too short for the IP header: now passes
    ("packet_bounds_tc", "block_dst", 64, TC_ACT_OK),  # 192.0.2.2 is not 10.0.0.1
    ("packet_bounds_var_offset", "drop_port_23", 64, XDP_PASS),  # port 9, not 23
    ("map_oob_index", "tos_histogram", 64, XDP_PASS),  # TOS 0: in range
    ("unreleased_reference_ringbuf", "sample_small", 64, XDP_PASS),
    ("unreleased_reference_ringbuf", "sample_small", 40, XDP_PASS),  # the discarded path
    ("lock_misuse_exit_locked", "spend_budget", 64, XDP_DROP),  # the budget is 0: dropped, now unlocked
    ("lock_misuse_helper_call", "stamp_locked", 64, TC_ACT_OK),
    ("locked_allocator", "count_points", 64, XDP_PASS),
    ("heap_list_head", "count_on_head", 64, XDP_PASS),
    ("too_complex_nested_loops", "mix_table", 64, _mix_table()),  # the loop said as bpf_for
    ("stale_packet_pointer", "trim_and_check", 64, XDP_PASS),  # IPv4: passes, after the reload
    ("malloc_list_walk", "sum_list", 64, XDP_PASS),  # the walk through static_ptr sums 1 + 2
    ("submit_unchecked", "note_arrival", 64, XDP_PASS),
    ("lookup_in_loop", "sum_counters", 64, XDP_PASS),  # four counters at 0: total 0
]


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize(("name", "program", "size", "expected"), BEHAVIOUR,
                         ids=[f"{b[0]}-{b[2]}" for b in BEHAVIOUR])
def test_repaired_program_returns_what_the_original_did(name, program, size, expected, tmp_path):
    from verifier_doctor import pipeline
    from verifier_doctor.kernel.loader import open_program

    result = _repaired(name)
    assert result.loads, result.stopped
    source = tmp_path / f"{name}.bpf.c"
    source.write_text(result.text)
    built = pipeline.build(source, tmp_path, None)
    with open_program(built.object, program) as loaded:
        assert loaded.test_run(repeat=1, data=_packet(size)).retval == expected


# ---- safety and C as C --------------------------------------------------------------------


def test_edits_change_only_their_ranges():
    source = b"int f(void)\n{\n\treturn 0;\t/* keep */\n}\n"
    out = apply(source, (Edit(14, 14, "\tint x = 1;\n"),))
    assert out == b"int f(void)\n{\n\tint x = 1;\n\treturn 0;\t/* keep */\n}\n"


def test_a_patch_that_deletes_logic_is_refused():
    source = b"\tcount += 1;\n\treturn 0;\n"
    assert additive(source, (Edit(0, 0, "\tif (!p)\n\t\treturn 0;\n"),))
    assert additive(source, (Edit(0, 13, ""), Edit(24, 24, "\tcount += 1;\n")))  # a move
    assert not additive(source, (Edit(0, 13, ""),))  # a deletion
    assert not additive(source, (Edit(1, 11, "count = 0"),))  # a rewrite


# ---- the command ----------------------------------------------------------------------------


@needs_kernel
@pytest.mark.kernel
def test_fix_command_writes_the_file_and_a_diff_with_why(vdoctor, tmp_path):
    out = tmp_path / "fixed.bpf.c"
    result = vdoctor("fix", PROGRAMS / "missing_null_check.bpf.c", "-o", out)
    assert result.status == 0, result.stderr
    assert "if (!hits)" in out.read_text()
    assert "why: hits may be NULL" in result.stderr and "@@ " in result.stderr
    assert result.stdout == ""


@needs_kernel
@pytest.mark.kernel
def test_fix_diff_and_json(vdoctor):
    diff = vdoctor("fix", PROGRAMS / "packet_no_bounds.bpf.c", "--diff")
    assert diff.status == 0
    assert diff.stdout.startswith("--- a/packet_no_bounds.bpf.c") and "why:" not in diff.stdout
    as_json = vdoctor("fix", PROGRAMS / "unreleased_reference_sk_lookup.bpf.c", "--json")
    out = as_json.json()
    assert out["loads"] is True
    verdicts = [c["verdict"] for r in out["rounds"] for c in r["candidates"]]
    assert "loads" in verdicts
    assert all(r["chosen"] is not None for r in out["rounds"])


@needs_kernel
@pytest.mark.kernel
def test_fix_exits_1_and_says_what_was_tried(vdoctor):
    result = vdoctor("fix", PROGRAMS / "return_value_r0_unset.bpf.c")
    assert result.status == 1
    assert "no candidate made it load" in result.stderr
    assert "same rejection" in result.stderr  # each candidate, and why it failed


def test_fix_of_a_program_that_does_not_compile_exits_2(vdoctor, tmp_path):
    broken = tmp_path / "broken.bpf.c"
    broken.write_text("int f(void) { return undeclared; }\n")
    result = vdoctor("fix", broken)
    assert result.status == 2
    assert "could not compile" in result.stderr


# ---- the same repairs in another kernel -------------------------------------------------------


@needs_kernel
@pytest.mark.kernel
@pytest.mark.qemu
def test_repairs_load_on_6_12_in_one_boot(tmp_path):
    """Every repair proved on the running kernel loads on 6.12 too: all of them in one boot."""
    from verifier_doctor import pipeline
    from verifier_doctor.kernel.qemu import load_in_guests

    names = [*REPAIRABLE, *OUR_PROGRAMS]
    objects = {}
    for name in names:
        result = _repaired(name)
        assert result.loads, result.stopped
        folder = tmp_path / name
        folder.mkdir()
        (folder / f"{name}.bpf.c").write_text(result.text)
        objects[name] = pipeline.build(folder / f"{name}.bpf.c", folder, None, kernel="6.12").object
    run = load_in_guests(["6.12"], list(objects.values()))["6.12"]
    assert not isinstance(run, Exception), run
    refused = {name: [(load.name, load.log[-300:]) for load in run.results.get(obj, [])
                      if load.section != ".text" and not load.accepted]
               for name, obj in objects.items()}
    assert all(run.results.get(obj) for obj in objects.values())
    assert not any(refused.values()), refused


# ---- teaching -------------------------------------------------------------------------------


def test_catalog_shows_the_rule_and_its_patch(vdoctor):
    result = vdoctor("catalog", "null-deref", "--json")
    assert result.status == 0, result.stderr
    repair = result.json()["repair"]
    assert repair["rule"] == RULES_DOC["null-deref"]
    assert repair["diff"].startswith(f"--- a/{repair['reproducer']}.bpf.c")
    assert "+\tif (!" in repair["diff"]
    text = vdoctor("catalog", "unreleased-reference")
    assert "repair (vdoctor fix)" in text.stdout and "bpf_ringbuf_discard" in text.stdout


def test_catalog_of_a_class_without_a_rule_has_no_repair(vdoctor):
    result = vdoctor("catalog", "helper-unavailable", "--json")
    assert result.status == 0 and result.json()["repair"] is None


@needs_kernel
@pytest.mark.kernel
def test_the_engine_refuses_a_candidate_that_deletes_code(monkeypatch, tmp_path):
    """A rule that proposed deleting the faulty statement (which would load) is refused
    before it is built; the check that only adds code is the one kept."""
    from verifier_doctor.repair import Candidate, engine, null_deref

    def rule(ctx):
        statement = ctx.tree.statement_at(ctx.site.error_line)
        end = ctx.tree.after_line(statement.end_line)
        deleting = Candidate("delete the access", (Edit(ctx.tree.line_start(statement.line), end, ""),), "gone")
        return [deleting, *null_deref.candidates(ctx)]

    monkeypatch.setattr(engine, "rule_for", lambda error_class: rule)
    result = repair(PROGRAMS / "missing_null_check.bpf.c", tmp_path)
    assert result.loads
    verdicts = {a.rule: a.verdict for a in result.rounds[-1].attempts}
    assert verdicts["delete the access"] == "deletes logic"
    assert "*hits += 1;" in result.text
