"""The verifier's error lines, read through the catalogue of what the kernels can print.

verifier_doctor/data/verifier_messages.json (made by `make messages` from the kernels' own
sources) holds every format string the verifier writes to its log, with the kernel function
that prints it. Each format is compiled here into a pattern whose conversions become typed
fields (`R%d` a register, `off=%d` a number named `off`, `'%s'` a word), so that an error
line becomes a `KernelMessage`: which message it is, and what it says. This module and the
grammar are the only places that know how the kernel words things.

Patterns are compiled on first use, and only for formats whose longest literal piece
occurs in the line, so reading a log costs nothing for the catalogue until an error line
is met.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

from ..cache import files_stamp, kept
from ..model import KernelMessage, LoadFailure
from ..resources import grammar_dir

CATALOGUE = Path(__file__).resolve().parent.parent / "data" / "verifier_messages.json"
EXTRA_NAME = "verifier_messages_extra.json"  # in grammars/: wordings apt's sources lack, by hand

# printf conversions as the kernel's vsnprintf takes them (kernel/bpf/log.c -> lib/vsprintf.c).
_CONVERSION = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\d+|\*)?(?:\.\d+)?"
                         r"(?P<length>hh|h|ll|l|z|j|t|L)?(?P<type>[diouxXcsp%])(?P<ext>[a-zA-Z]*)")
_PATTERNS = {
    "d": r"[-+]?\d+", "i": r"[-+]?\d+", "u": r"\d+", "o": r"[0-7]+",
    "x": r"(?:0x)?[0-9a-fA-F]+", "X": r"(?:0x)?[0-9a-fA-F]+",
    "c": r".", "s": r".*?", "p": r"\S+",
}
_NUMERIC = set("diuoxX")
_SPLIT = re.compile(r"%[-+ #0-9.*]*(?:hh|h|ll|l|z|j|t|L)?[diouxXcsp%][a-zA-Z]*")  # the same, to split on
_WORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)[^A-Za-z0-9_]*\Z")
# A register type as reg_type_str() prints it that may be NULL: 'map_value_or_null',
# 'ptr_or_null_task_struct', 'trusted_ptr_or_null_', 'mem_or_null' (v5.10: the same names).
_NULLABLE_TYPE = re.compile(r"\A[a-z_]*_or_null(_\w*)?\Z")


@dataclass(frozen=True, slots=True)
class _Entry:
    format: str
    file: str
    function: str
    rejection: bool
    internal: bool
    kernels: tuple[str, ...]
    key: str  # the longest literal piece: a line without it cannot be this message
    literal_length: int


@dataclass(frozen=True, slots=True)
class _Compiled:
    entry: _Entry
    pattern: re.Pattern
    names: tuple[str, ...]
    numeric: tuple[bool, ...]
    complete: bool  # the format ends its line (a "\n"): the whole line must match
    # A format of several lines ("... holding a lock,\nuse static function instead\n", 6.x):
    # its first line alone, which a log line holds whole.
    head: re.Pattern | None = None


def _text_of(fmt: str) -> str:
    return fmt.strip()


@lru_cache(maxsize=1)
def _entries() -> tuple[_Entry, ...]:
    """The catalogue's messages with their keys, read once per process; the table is kept
    in the user's cache (marshal, a few ms to load) until one of its files changes."""
    extra = grammar_dir() / EXTRA_NAME
    sources = [path for path in (CATALOGUE, extra) if path.is_file()]
    # This module's own file is in the stamp: it decides what the table holds.
    rows = kept("messages", files_stamp([*sources, Path(__file__)]), lambda: [tuple(getattr(e, f.name) for f in fields(e)) for e in _build_entries(sources)])
    return tuple(_Entry(*row) for row in rows)


def _build_entries(sources: list[Path]) -> tuple[_Entry, ...]:
    import json

    items = []
    for path in sources:
        items += json.loads(path.read_text())["messages"]
    entries = []
    for item in items:
        text = _text_of(item["format"])
        literal = _SPLIT.split(text)
        # From the first line: a log line may hold only that line of a message of several.
        key = max((p.strip() for p in _SPLIT.split(text.split("\n")[0])), key=len, default="")
        if len(key) < 3:  # a bare "%s" or "%d:": no message of its own
            continue
        entries.append(_Entry(item["format"], item["file"], item["function"], item["rejection"],
                              item.get("internal", False), tuple(item["kernels"]), key, sum(len(p) for p in literal)))
    return tuple(entries)


def catalogue_entries() -> tuple[_Entry, ...]:
    """Every message of the catalogue (for coverage and the teaching aid)."""
    return _entries()


def _names_a_register(before: str) -> bool:
    """Whether a conversion after the literal text `before` is a register number: "R%d"."""
    return before.endswith("R") and (len(before) == 1 or not before[-2].isalnum())


def _field_name(before: str, index: int, taken: set[str]) -> str:
    """A field's name from the words before it: "off=%d" -> off, "R%d" -> register."""
    if _names_a_register(before):
        name = "register"
    else:
        match = _WORD.search(before[-40:]) if before else None
        name = match.group(1).lower() if match else f"field{index}"
    base, n = name, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


@lru_cache(maxsize=None)
def _compile(entry: _Entry) -> _Compiled:
    text = _text_of(entry.format)
    parts, names, numeric, taken = [], [], [], set()
    position = 0
    for index, match in enumerate(_CONVERSION.finditer(text)):
        literal = text[position:match.start()]
        parts.append(re.escape(literal))
        position = match.end()
        kind = match.group("type")
        if kind == "%":
            parts.append("%")
            continue
        names.append(_field_name(literal, index, taken))
        numeric.append(kind in _NUMERIC)
        pattern = _PATTERNS[kind]
        if _names_a_register(literal):
            parts[-1] = re.escape(literal[:-1])
            pattern = r"R\d+"
        parts.append(f"({pattern})")
    parts.append(re.escape(text[position:]))
    source = "".join(parts).replace(r"\ ", r"\s+")
    complete = entry.format.endswith("\n")
    newline = re.escape("\n")
    head = re.compile(source.split(newline, 1)[0]) if newline in source else None
    source = source.replace(newline, r"\s*").replace(r"\n", r"\s*")
    return _Compiled(entry, re.compile(source), tuple(names), tuple(numeric), complete, head)


def parse_message(line: str) -> KernelMessage | None:
    """The catalogue's message that `line` is, with its fields; None if it is none of them.

    A line matches a format whole (a message that ends its line) or from its start (a
    format the kernel continues with further calls: "R1 type=scalar expected=" + the
    types); the most specific match wins: whole before partial, then the most literal text.
    """
    text = line.strip()
    if not text:
        return None
    best: tuple[tuple[int, int, int], _Compiled, re.Match] | None = None
    for entry in _entries():
        if entry.key not in text:
            continue
        compiled = _compile(entry)
        match = compiled.pattern.fullmatch(text)
        if match is None and compiled.head is not None:
            match = compiled.head.fullmatch(text)  # the first line of a message of several
        whole = match is not None
        if match is None:
            match = compiled.pattern.match(text)
            if match is None:
                continue
        rank = (int(whole), int(entry.rejection), entry.literal_length)
        if best is None or rank > best[0]:
            best = (rank, compiled, match)
    if best is None:
        return None
    _, compiled, match = best
    fields = tuple(zip(compiled.names, match.groups()))
    entry = compiled.entry
    return KernelMessage(
        text=text, format=_text_of(entry.format), function=entry.function, file=entry.file,
        fields=fields, numeric=tuple(n for n, is_number in zip(compiled.names, compiled.numeric) if is_number),
        rejection=entry.rejection, internal=entry.internal, kernels=entry.kernels, whole=best[0][0] == 1,
        may_be_null=any(_NULLABLE_TYPE.match(value) for _, value in fields),
    )


# libbpf's words for a failure before or outside the verifier (map creation, BTF,
# relocations, a missing kfunc, the license); its other lines are progress reports.
_LOAD_ERROR_WORDS = ("fail", "error", "Error", "not found", "invalid", "cannot", "unsupported",
                     "not supported", "refuse", "missing BPF prog type")
# Lines with those words that are no error: optional steps libbpf skips.
_LOAD_NOISE_WORDS = ("skipping optional step", "BPF token")
# libbpf loads the object's BTF into the kernel first; when the kernel refuses it and no
# program needs it, libbpf goes on without it and says so (bpf_object__sanitize_and_load_btf):
# "Error loading .BTF into kernel: -22. BTF is optional, ignoring." (libbpf 1.4, ours; newer
# libbpf names the errno, "-EINVAL"). The lines of that same step before it are no failure
# either: "BTF loading error: -22" (libbpf 1.4's btf_load_into_kernel) and, from older
# libbpf, "Error loading BTF: Invalid argument(22)".
_BTF_OPTIONAL = "BTF is optional, ignoring"
_BTF_STEP_WORDS = ("BTF loading error", "Error loading BTF", "Error loading .BTF")


def optional_step(libbpf_lines: tuple[str, ...] | list[str]) -> frozenset[int]:
    """The positions of libbpf's lines about an optional step it skipped: never a failure."""
    btf_optional = any(_BTF_OPTIONAL in line for line in libbpf_lines)
    return frozenset(
        i for i, line in enumerate(libbpf_lines)
        if any(w in line for w in _LOAD_NOISE_WORDS)
        or btf_optional and any(w in line for w in _BTF_STEP_WORDS)
    )


# The line that says what failed, when there is one: a map libbpf could not create, or a
# line of libbpf's "Error: ..." form; the others are its consequences.
_TELLING_WORDS = ("failed to create", "Error")


def load_error_lines(libbpf_lines: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The libbpf lines that report a failure, the one that says what failed first."""
    optional = optional_step(libbpf_lines)
    lines = [line for i, line in enumerate(libbpf_lines)
             if any(w in line for w in _LOAD_ERROR_WORDS) and i not in optional]
    telling = next((i for i, line in enumerate(lines) if any(p.search(line) for p, _ in _LOAD_FAILURES)),
                   next((i for i, line in enumerate(lines) if any(w in line for w in _TELLING_WORDS)), 0))
    return tuple(lines[telling:telling + 1] + lines[:telling] + lines[telling + 1:])


# libbpf's words (src/libbpf.c, 1.x) for what stopped a load before the verifier ran.
_LOAD_FAILURES = (
    (re.compile(r"failed to find kernel BTF type ID of '([^']+)'"), "attach-target-missing"),
    (re.compile(r"extern \(func ksym\) '([^']+)': not found in kernel"), "kfunc-missing"),
    (re.compile(r"kfunc '([^']+)' is referenced but wasn't resolved"), "kfunc-missing"),
    (re.compile(r"Couldn't load trivial BPF program"), "no-permission"),
    (re.compile(r"kernel BTF is missing|failed to find valid kernel BTF|vmlinux BTF is not found"), "no-kernel-btf"),
    (re.compile(r"map '([^']+)': failed to create"), "map-create"),
    # libbpf 1.0+ (bpf_object_load_prog): SEC() names no program type it knows; bpftool's
    # own wording of the same is "failed to guess program type from ELF section '%s'".
    (re.compile(r"prog '[^']+': missing BPF prog type, check ELF section name '([^']*)'"), "unknown-section"),
    (re.compile(r"failed to guess program type from ELF section '([^']*)'"), "unknown-section"),
)
# libbpf 1.x: "map 'heap': failed to create: Operation not permitted(-1)" (1.5+: "-EPERM").
_MAP_ERRNO = re.compile(r"map '([^']+)': failed to create: (.+)$")
# verifier-doctor's loader (kernel/loader.py), after a load that failed before the verifier,
# one line per map: "map 'heap' is of type arena (max_entries 2); libbpf's probe of this
# kernel: arena maps not available".
_MAP_FACTS = re.compile(r"map '([^']+)' is of type (\S+(?: \d+)?) \(max_entries (\d+)\); libbpf's probe of this "
                        r"kernel: \S+(?: \d+)? maps (available|not available|unknown)$")
# Map types whose max_entries 0 libbpf fills in itself (the number of CPUs).
_ENTRIES_FILLED_BY_LIBBPF = ("perf_event_array",)
_EPERM, _EACCES, _E2BIG, _ENOTSUPP = 1, 13, 7, 524


def _map_failure(name: str, libbpf_lines: tuple[str, ...] | list[str]) -> LoadFailure:
    """A map the kernel refused, with what the loader said of it and libbpf's errno."""
    errno_text = next((m.group(2) for m in map(_MAP_ERRNO.search, libbpf_lines) if m and m.group(1) == name), None)
    facts = next((m for m in map(_MAP_FACTS.search, libbpf_lines) if m and m.group(1) == name), None)
    if facts is None:
        return LoadFailure("map-create", name, errno_text=errno_text)
    map_type, entries, verdict = facts.group(2), int(facts.group(3)), facts.group(4)
    available = None if verdict == "unknown" else verdict == "available"
    kind = "map-create"
    if available is False:
        kind = "map-type-unavailable"
    elif entries == 0 and map_type not in _ENTRIES_FILLED_BY_LIBBPF:
        kind = "map-zero-entries"
    return LoadFailure(kind, name, map_type, entries, errno_text, available)


def load_failure(libbpf_lines: tuple[str, ...] | list[str], errno: int | None) -> LoadFailure | None:
    """What libbpf's lines (else the errno) say stopped the load, typed."""
    for line in libbpf_lines:
        for pattern, kind in _LOAD_FAILURES:
            match = pattern.search(line)
            if match and kind == "map-create":
                return _map_failure(match.group(1), libbpf_lines)
            if match:
                return LoadFailure(kind, match.group(1) if match.groups() else None)
    code = -errno if errno is not None and errno < 0 else errno
    if code in (_EPERM, _EACCES):
        return LoadFailure("not-permitted")  # this program refused; others may load
    if code == _E2BIG:
        return LoadFailure("too-large")
    if code == _ENOTSUPP:
        return LoadFailure("not-supported")
    return None
