"""Error classes (CLI.md) from the verifier's and libbpf's words.

One table, checked in order: the first rule whose phrase occurs in an error line wins.
The phrases are the kernel's own (kernel/bpf/verifier.c), stable from 5.10 to now
unless a comment says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASSES = (
    "scalar-deref", "null-deref", "map-value-bounds", "unbounded-math", "packet-bounds",
    "stack-access", "uninit-register", "context-access", "helper-arg", "helper-unavailable",
    "too-complex", "infinite-loop", "unreleased-reference", "lock-misuse", "pointer-arith",
    "return-value", "load-error", "other",
)


@dataclass(frozen=True)
class Rule:
    error_class: str
    phrases: tuple[str, ...]


# Order matters: a nullable pointer used in arithmetic is a missing NULL check, not
# pointer arithmetic; "R0 !read_ok" at exit is a return value, not any uninit register.
RULES: tuple[Rule, ...] = (
    # The verifier checks the license at the call, but CLI.md counts it a load error.
    Rule("load-error", ("cannot call GPL-restricted function",)),
    Rule("null-deref", (
        "_or_null'",  # invalid mem access 'map_value_or_null' / 'ptr_or_null_' / 'mem_or_null'
        "null-check it first",  # pointer arithmetic on map_value_or_null prohibited, null-check it first
        "Possibly NULL pointer passed",  # v5.13+ kfunc/helper args
        "_or_null prohibited",
    )),
    # 'inv' until v5.17, 'scalar' from v5.18.
    Rule("scalar-deref", ("invalid mem access 'scalar'", "invalid mem access 'inv'")),
    Rule("unbounded-math", (
        "unbounded min value is not allowed",
        "math between",  # math between map_value pointer and register with unbounded min value
    )),
    Rule("return-value", ("At program exit the register R0", "R0 !read_ok")),
    Rule("packet-bounds", ("invalid access to packet", "offset is outside of the packet")),
    Rule("map-value-bounds", (
        "invalid access to map value",
        "outside of the allowed memory range",
        "min value is negative",
        "unbounded memory access",
        "invalid access to memory",
    )),
    Rule("stack-access", (
        "invalid stack off",
        "invalid indirect read from stack",
        "invalid read from stack",
        "invalid write to stack",
        "variable stack access",
        "invalid variable-offset",
        "invalid indirect access to stack",
        "invalid size of register fill",
    )),
    Rule("uninit-register", ("!read_ok",)),
    Rule("context-access", ("invalid bpf_context access", "dereference of modified ctx ptr", "modified ctx ptr")),
    Rule("lock-misuse", (
        "while holding a lock",
        "bpf_spin_lock",
        "bpf_spin_unlock",
        "spin_lock",
        "held lock",
    )),
    Rule("helper-unavailable", (
        "unknown func",
        "program of this type cannot use helper",
        "helper call is not allowed",
        "calling kernel function",
        "is not allowed in this program",
    )),
    Rule("helper-arg", (" expected=", "arg#", "type=", "invalid map_ptr", "Unsupported arg")),
    Rule("too-complex", (
        "BPF program is too large",
        "is too complex",
        "combined stack size",
        "too many states",
        "exceeds maximum",
        "stack depth",
    )),
    Rule("infinite-loop", ("infinite loop detected", "back-edge from insn", "loop detected")),
    Rule("unreleased-reference", ("Unreleased reference", "reference leak")),
    Rule("pointer-arith", (
        "pointer arithmetic",
        "tried to subtract pointer",
        "bitwise operator",
        "pointer comparison prohibited",
        "arithmetic on",
        "prohibited",
    )),
)

# libbpf's words for a failure before or outside the verifier (map creation, BTF,
# relocations, a missing kfunc, the license); its other lines are progress reports.
LOAD_ERROR_PHRASES = (
    "fail",
    "error",
    "Error",
    "not found",
    "invalid",
    "cannot",
    "unsupported",
    "not supported",
    "refuse",
)
# Lines with those words that are no error: optional steps libbpf skips.
LOAD_NOISE_PHRASES = ("skipping optional step", "BPF token")


def classify_message(text: str) -> str | None:
    """The class whose phrase occurs in `text`, or None."""
    for rule in RULES:
        if any(phrase in text for phrase in rule.phrases):
            return rule.error_class
    return None


def register_in(text: str) -> str | None:
    """The register an error line is about: "R2 invalid mem access" or "..., R2(id=0,..." ."""
    for word in text.replace("(", " ").replace(",", " ").split():
        if len(word) >= 2 and word[0] == "R" and word[1:].isdigit() and int(word[1:]) <= 10:
            return word
    return None


def insn_in(text: str) -> int | None:
    """The instruction an early error names: "back-edge from insn 12 to 5", "at insn 7"."""
    words = text.replace(",", " ").split()
    for before, word in zip(words, words[1:]):
        if before in ("insn", "alloc_insn") and word.isdigit():
            return int(word)
        if word.startswith("alloc_insn=") and word[11:].isdigit():
            return int(word[11:])
    return None
