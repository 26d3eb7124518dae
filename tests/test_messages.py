"""The message catalogue (verifier_doctor/data/verifier_messages.json, `make messages`):
every rejection the kernels of the matrix can print is read into a typed message and
classed; `other` holds only what the catalogue marks as the verifier's own bugs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from verifier_doctor import catalog
from verifier_doctor.analysis.classes import CLASSES, CLASSES_BY_NAME, class_of
from verifier_doctor.kernel.kernels import SUPPORTED
from verifier_doctor.parsing.messages import CATALOGUE, catalogue_entries, parse_message

ROOT = Path(__file__).resolve().parent.parent


def _script(name: str):
    """A script of scripts/ as a module (registered, so one script may import another)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _extractor():
    return _script("extract_messages")


def test_the_catalogue_covers_every_kernel_of_the_matrix():
    data = json.loads(CATALOGUE.read_text())
    assert set(data["sources"]) == set(SUPPORTED)
    for version in SUPPORTED:
        assert sum(version in m["kernels"] and m["rejection"] for m in data["messages"]) > 300, version


@pytest.mark.parametrize("kernel", SUPPORTED)
def test_every_rejection_message_is_classed(kernel):
    measured = {k.kernel: k for k in catalog.coverage().kernels}[kernel]
    assert measured.unclassed == (), f"messages of {kernel} in no class: {measured.unclassed}"
    assert measured.classed + measured.internal == measured.messages


# Internal errors whose cause is the program's: a class names them (issue 22).
NAMED_INTERNAL = {"kernel subsystem misconfigured verifier": "map-incompatible"}


def test_verifier_bug_holds_the_internal_messages_and_other_none():
    for entry in catalogue_entries():
        if not entry.rejection:
            continue
        cls = class_of(catalog._as_message(entry))
        assert cls != "other", entry.format
        if entry.format.strip() in NAMED_INTERNAL:
            assert cls == NAMED_INTERNAL[entry.format.strip()]
            continue
        assert (cls == "verifier-bug") == entry.internal, entry.format


def test_no_class_names_a_message_the_catalogue_does_not_have():
    formats = {e.format.strip() for e in catalogue_entries()}
    functions = {e.function for e in catalogue_entries()}
    for cls in CLASSES_BY_NAME.values():
        fixes_for = [fmt for fix in cls.lesson.fixes for fmt in fix.messages]
        for fmt in (*cls.messages, *cls.nullable_messages, *cls.rejected_at_named, *fixes_for):
            assert fmt in formats, f"{cls.name}: {fmt!r} is in no kernel's source"
        owned = [f for f in cls.functions if f in functions]
        assert owned or not cls.functions or cls.internal, f"{cls.name}: none of its functions prints a message"


# Messages real programs are rejected with (issue 9), as the kernel prints them, and their class.
QUOTED = [
    ("value -2147483648 makes map_value pointer be out of bounds", "unbounded-math"),
    ("value -2147483648 makes fp pointer be out of bounds", "unbounded-math"),
    ("invalid unbounded variable-offset read from stack R2", "stack-access"),
    ("invalid unbounded variable-offset write to stack R2", "stack-access"),
    ("misaligned stack access off 0+-16+4 size 8", "misaligned-access"),
    ("misaligned access off (0x0; 0xffffffffffffffff)+0+4 size 4", "misaligned-access"),
    ("R4 invalid zero-sized read: u64=[0,31]", "helper-arg"),
    ("only read from bpf_array is supported", "btf-access"),
    ("same insn cannot be used with different pointers", "mixed-pointers"),
    ("the prog does not allow writes to packet data", "dynptr-slice-rdwr"),  # only bpf_dynptr_slice_rdwr's
    ("bpf_dynptr_slice_rdwr() is not allowed", "dynptr-slice-rdwr"),  # 6.18 (verifier_messages_extra.json)
    ("helper access to the packet is not allowed", "helper-arg"),
    ("cannot pass map_type 2 into func bpf_perf_event_output#25", "helper-arg"),
    ("Expected an initialized dynptr as arg #0", "dynptr-misuse"),
    ("cannot overwrite referenced dynptr", "dynptr-misuse"),
    ("potential write to dynptr at off=-16 disallowed", "dynptr-misuse"),
    ("dynptr has to be at a constant offset", "dynptr-misuse"),
    ("expected an initialized iter_num as arg #0", "iterator-misuse"),
    ("cannot restore irq state out of order, expected id=3 acquired at insn_idx=5", "irq-flag-misuse"),
    ("BPF_EXIT instruction in main prog cannot be used inside bpf_local_irq_save-ed region", "irq-flag-misuse"),
    ("arg 1 is an unacquired reference", "untrusted-pointer"),
    ("R1 must be a rcu pointer", "untrusted-pointer"),
    ("R1 must be referenced or trusted", "untrusted-pointer"),
    ("global functions that may sleep are not allowed in non-sleepable context", "sleepable-context"),
    ("insn 12 cannot call exception cb directly", "exception-callback"),
    ("missing btf func_info", "load-error"),
    ("R2 invalid mem access 'scalar'", "scalar-deref"),
    ("R2 invalid mem access 'inv'", "scalar-deref"),
    ("R0 invalid mem access 'map_value_or_null'", "null-deref"),
    ("insn 7 cannot be patched due to 16-bit range", "verifier-bug"),
    ("verifier bug: backtracking idx 3", "verifier-bug"),
    ("kernel subsystem misconfigured verifier", "map-incompatible"),
    ("expected prog array map for tail call", "map-incompatible"),
    ("R2 unbounded memory access, use 'var &= const' or 'if (var < const)'", "helper-unbounded"),
]


@pytest.mark.parametrize("line,expected", QUOTED, ids=[q[0][:40] for q in QUOTED])
def test_quoted_messages_are_read_and_classed(line, expected):
    message = parse_message(line)
    assert message is not None, f"no catalogued message reads {line!r}"
    assert class_of(message) == expected, (message.function, message.format)


def test_fields_are_typed_from_the_format():
    message = parse_message("invalid access to map value, value_size=12 off=20 size=4")
    assert (message.number("value_size"), message.number("off"), message.number("size")) == (12, 20, 4)
    message = parse_message("value -2147483648 makes map_value pointer be out of bounds")
    assert message.number("value") == -2147483648
    assert parse_message("R7 invalid mem access 'scalar'").register == "R7"
    # A number no real log prints (thousands of digits) stays text, never an exception.
    message = parse_message("invalid access to map value, value_size=" + "9" * 5000 + " off=0 size=4")
    assert message.number("value_size") is None and message.number("off") == 0


def test_the_most_specific_message_wins():
    # "R%d invalid mem access '%s'" would match a longer line too; the whole format wins.
    message = parse_message("R1 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value")
    assert message.format == "R%d type=%s expected=%s" and message.whole


def test_every_class_but_other_has_a_lesson_and_is_in_the_contract_names():
    assert CLASSES[-1] == "other" and len(set(CLASSES)) == len(CLASSES)
    for name in CLASSES:
        assert CLASSES_BY_NAME[name].lesson.error_class == name


# --- the extractor (scripts/extract_messages.py), on C of our own -------------------------

SOURCE = r'''
#define MAX(a) (a)
BTF_SET_START(deny)
BTF_SET_END(deny)

static int check_thing(struct bpf_verifier_env *env, int regno,
                       void (*cb)(int))
{
	if (regno > 3) {
		verbose(env, "R%d is too "
			"big\n", regno);  /* a comment: verbose(env, "not this") */
		return -EACCES;
	}
	verbose(env, "func#%d @%d\n", 1, 2);
	switch (regno) {
	case 1:
		verbose(env, "one is odd\n");
		break;
	default:
		return 0;
	}
	return -EINVAL;
}

static void print_thing(struct bpf_verifier_env *env)
{
	verbose(env, "thing printed\n");
	return;
}

static int other(struct bpf_verifier_env *env)
{
	verifier_bug(env, "bad state %d", 3);
	return -EFAULT;
}
'''


def test_extractor_finds_formats_functions_and_rejections():
    found = {m.format: m for m in _extractor().messages_of(SOURCE, "x.c")}
    assert set(found) == {"R%d is too big\n", "func#%d @%d\n", "one is odd\n", "thing printed\n",
                          "verifier bug: bad state %d"}
    assert found["R%d is too big\n"].function == "check_thing"
    assert found["R%d is too big\n"].rejection and found["R%d is too big\n"].errno == "EACCES"
    assert found["one is odd\n"].rejection  # break out of the switch, then return -EINVAL
    assert not found["func#%d @%d\n"].rejection  # a remark
    assert not found["thing printed\n"].rejection
    bug = found["verifier bug: bad state %d"]
    assert bug.function == "other" and bug.internal and bug.rejection


# --- fields in the words of the explanation, on our recorded logs -------------------------

def _recorded(pattern: str):
    from verifier_doctor.analysis import diagnose
    from verifier_doctor.parsing import read_log

    for log in sorted((ROOT / "fixtures" / "logs").glob(pattern)):
        for trace in read_log(log.read_text()).programs:
            diagnosis = diagnose(trace)
            if diagnosis.error is not None and diagnosis.error.kernel is not None:
                yield log, diagnosis


def test_map_value_sizes_are_said_in_words():
    said = 0
    for log, diagnosis in _recorded("*/map_*.L1.log"):
        kernel = diagnosis.error.kernel
        if kernel.number("value_size") is None:
            continue
        words = (f"a {kernel.number('size')}-byte access at offset {kernel.number('off')} "
                 f"of a {kernel.number('value_size')}-byte map value")
        assert words in diagnosis.explanation, log
        said += 1
    assert said >= 6  # every kernel's log of the off-by-one reproducer


# --- loads that fail before the verifier, said right (recorded by scripts/record_loaders.py) --

@pytest.mark.parametrize("name,kind,words", [
    ("fentry_missing_target", "attach-target-missing", "`vdoctor_no_such_function` in the running kernel's BTF"),
    ("no_capability", "no-permission", "lockdown"),
])
def test_load_failures_name_what_is_missing(name, kind, words):
    from verifier_doctor.analysis import diagnose
    from verifier_doctor.parsing import read_log

    (trace,) = read_log((ROOT / "fixtures" / "loaders" / "failures" / f"{name}.log").read_text()).programs
    assert trace.load_failure is not None and trace.load_failure.kind == kind
    diagnosis = diagnose(trace)
    assert diagnosis.error.error_class == "load-error" and words in diagnosis.explanation
    assert "run as root or with CAP_BPF" not in diagnosis.explanation or kind == "no-permission"


def test_the_table_is_cached_and_a_broken_cache_is_rebuilt(tmp_path, monkeypatch):
    from verifier_doctor.parsing import messages

    monkeypatch.setenv("VDOCTOR_CACHE", str(tmp_path))
    messages._entries.cache_clear()
    try:
        built = messages._entries()
        (cached,) = tmp_path.glob("messages-*.marshal")
        messages._entries.cache_clear()
        assert messages._entries() == built  # read back from the cache
        cached.write_bytes(b"not marshal data")
        messages._entries.cache_clear()
        assert messages._entries() == built  # rebuilt from the catalogue
    finally:
        messages._entries.cache_clear()


# --- map and program types by name (data/bpf_uapi.json, scripts/extract_uapi_enums.py) ------

@pytest.mark.parametrize("line,said", [
    ("cannot pass map_type 2 into func bpf_ringbuf_output#130",
     "map type 2 is BPF_MAP_TYPE_ARRAY; bpf_ringbuf_output takes BPF_MAP_TYPE_RINGBUF."),
    ("map_ptr access not supported for map type 27", "map type 27 is BPF_MAP_TYPE_RINGBUF."),
    ("func bpf_get_func_ip#173 not supported for program type 1",
     "program type 1 is BPF_PROG_TYPE_SOCKET_FILTER."),
])
def test_types_are_named_from_the_kernels_uapi(line, said):
    from verifier_doctor.analysis.advice import _described
    from verifier_doctor.analysis.findings import ErrorInfo

    message = parse_message(line)
    error = ErrorInfo(line, class_of(message), None, None, None, (line,), None, message)
    assert _described(error) == said


def test_uapi_extractor_numbers_enums_with_aliases():
    _extractor()  # the script imports it
    module = _script("extract_uapi_enums")
    header = """enum bpf_map_type {
        BPF_MAP_TYPE_UNSPEC,
        BPF_MAP_TYPE_HASH, /* a comment, with a comma */
        BPF_MAP_TYPE_OLD,
        BPF_MAP_TYPE_NEW = BPF_MAP_TYPE_OLD,
        BPF_MAP_TYPE_NEXT,
        __MAX_BPF_MAP_TYPE
    };"""
    assert module.enum_members(header, "bpf_map_type", "BPF_MAP_TYPE_") == {
        0: "BPF_MAP_TYPE_UNSPEC", 1: "BPF_MAP_TYPE_HASH", 2: "BPF_MAP_TYPE_OLD", 3: "BPF_MAP_TYPE_NEXT"}
    verifier = """static int check_map_func_compatibility(struct x *env)
{
	switch (map->map_type) {
	case BPF_MAP_TYPE_PROG_ARRAY:
		break;
	}
	switch (func_id) {
	case BPF_FUNC_tail_call:
		if (map->map_type != BPF_MAP_TYPE_PROG_ARRAY)
			goto error;
		break;
	case BPF_FUNC_map_peek_elem:
	case BPF_FUNC_map_push_elem:
		if (map->map_type != BPF_MAP_TYPE_QUEUE &&
		    map->map_type != BPF_MAP_TYPE_STACK)
			goto error;
		break;
	}
	return 0;
}
"""
    assert module.helper_map_types(verifier) == {
        "bpf_tail_call": ["BPF_MAP_TYPE_PROG_ARRAY"],
        "bpf_map_peek_elem": ["BPF_MAP_TYPE_QUEUE", "BPF_MAP_TYPE_STACK"],
        "bpf_map_push_elem": ["BPF_MAP_TYPE_QUEUE", "BPF_MAP_TYPE_STACK"]}
