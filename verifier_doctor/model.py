"""The typed trace model: what a verifier log says, independent of the kernel that printed it.

Parsing builds these objects; analysis reads them and never looks at log text again.
Every kernel format from 5.10 on maps to the same model (5.10's `inv` becomes `scalar`,
`umax_value` becomes `umax`, merged bounds `smin=smin32=0` become two bounds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Callable


@dataclass(frozen=True, slots=True)
class Tnum:
    """A tracked number: the bits in `mask` are unknown, the others equal `value`."""

    value: int
    mask: int

    def __str__(self) -> str:
        return f"({self.value:#x}; {self.mask:#x})"


AttrValue = int | str | Tnum


@dataclass(frozen=True, slots=True)
class RegValue:
    """What the verifier knows about one register or spilled stack slot."""

    kind: str  # "scalar", "map_value", "map_value_or_null", "ctx", "fp", "pkt", "ptr_task_struct", ...
    const: int | None = None  # a known constant (scalars), or the offset of an "fp" pointer
    precise: bool = False
    attrs: tuple[tuple[str, AttrValue], ...] = ()  # a flag with no value ("non_own_ref") is (name, True)
    frame: int | None = None  # "fp" into another frame's stack ("fp[0]-16"): that frame

    def attr(self, name: str) -> AttrValue | None:
        for key, value in self.attrs:
            if key == name:
                return value
        return None

    @property
    def is_scalar(self) -> bool:
        return self.kind == "scalar"

    @property
    def is_pointer(self) -> bool:
        return self.kind != "scalar"

    @property
    def maybe_null(self) -> bool:
        # The verifier names nullable pointers "..._or_null" (v5.10 to now).
        return "or_null" in self.kind

    @property
    def has_variable_offset(self) -> bool:
        return any(key in _BOUND_NAMES or key == "var_off" for key, _ in self.attrs)

    def __str__(self) -> str:
        prefix = "P" if self.precise else ""
        if self.kind == "fp" and (self.const is not None or not self.attrs):
            return f"fp{'' if self.frame is None else f'[{self.frame}]'}{self.const or 0}"
        if self.kind == "scalar" and self.const is not None:
            return f"{prefix}{self.const}"
        inner = ",".join(key if value is True else f"{key}={value}" for key, value in self.attrs)
        frame = "" if self.frame is None else f"[{self.frame}]"
        return f"{prefix}{self.kind}{frame}({inner})"


_BOUND_NAMES = frozenset(
    {"umin", "umax", "smin", "smax", "umin32", "umax32", "smin32", "smax32"}
)


@dataclass(frozen=True, slots=True)
class StackSlot:
    """One 8-byte stack slot: `marks` per byte (m misc, 0 zero, ? invalid, ...) or a spilled value."""

    offset: int  # negative, relative to the frame pointer R10
    written: bool
    marks: str | None = None
    value: RegValue | None = None


@dataclass(frozen=True, slots=True)
class State:
    """Register and stack state as printed on one line (all of it, or only what changed)."""

    frame: int = 0
    registers: tuple[tuple[int, RegValue], ...] = ()
    written: frozenset[int] = frozenset()
    stack: tuple[StackSlot, ...] = ()
    refs: tuple[int, ...] = ()
    callback: str | None = None  # "cb" inside a callback (bpf_loop...), "async_cb" inside a timer's

    def reg(self, number: int) -> RegValue | None:
        for regno, value in self.registers:
            if regno == number:
                return value
        return None

    def slot(self, offset: int) -> StackSlot | None:
        for slot in self.stack:
            if slot.offset == offset:
                return slot
        return None


class OpKind(Enum):
    ALU = "alu"
    MOVE = "move"
    LOAD = "load"  # from memory through a pointer register
    STORE = "store"
    ATOMIC = "atomic"
    JUMP = "jump"
    COND_JUMP = "cond_jump"
    CALL = "call"
    EXIT = "exit"
    LD_IMM64 = "ld_imm64"
    LD_ABS = "ld_abs"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class MemRef:
    base: int  # register number
    offset: int
    size: int  # bytes
    signed: bool = False


@dataclass(frozen=True, slots=True)
class Instruction:
    """One BPF instruction as the verifier's disassembler printed it."""

    index: int
    opcode: int
    text: str
    kind: OpKind
    dst: int | None = None  # the register the instruction writes
    srcs: tuple[int, ...] = ()  # registers it reads (besides `mem.base`)
    mem: MemRef | None = None
    imm: int | None = None
    op: str | None = None  # "=", "+=", "<<=", "==", ...
    target: int | None = None  # jump destination (index + off + 1)
    callee: str | None = None  # helper, kfunc, or "pc+N" for a bpf-to-bpf call
    wide: bool = True  # r (64-bit) rather than w (32-bit) registers

    @property
    def calls_subprogram(self) -> bool:
        return self.kind is OpKind.CALL and self.callee is not None and self.callee.startswith("pc")


@dataclass(frozen=True, slots=True)
class SourceLine:
    text: str
    file: str | None = None
    line: int | None = None


class SegmentKind(Enum):
    ENTRY = "entry"  # the program's first instruction
    CONTINUED = "continued"  # the state printed after a jump on the same path
    BRANCH = "branch"  # "from X to Y:" (level 2): a path popped from the verifier's stack
    POPPED = "popped"  # "N: state" after an exit or a pruned path (level 1): origin unknown
    SUBPROGRAM = "subprogram"  # a global function verified on its own


class Deferred:
    """A value parsed from its log text on first use.

    A 50 MB log holds a million instructions and states and the analysis reads a few
    hundred of them, so the reader keeps their text and the parsing function it chose;
    the model never imports the parser.
    """

    __slots__ = ("_make", "_text", "_value")
    _UNSET = object()

    def __init__(self, make: Callable[[str], object], text: str) -> None:
        self._make = make
        self._text = text
        self._value = Deferred._UNSET

    @property
    def text(self) -> str:
        return self._text

    def get(self):
        if self._value is Deferred._UNSET:
            self._value = self._make(self._text)
        return self._value


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of instructions the verifier walked without jumping back to another path."""

    number: int
    kind: SegmentKind
    start_insn: int | None
    from_insn: int | None = None
    parent_step: int | None = None  # the step whose path this one branched from, when known
    deferred_state: Deferred | None = None  # the full state printed at its start, if any
    function: str | None = None  # for SUBPROGRAM: the global function verified on its own

    @property
    def state(self) -> State | None:
        return None if self.deferred_state is None else self.deferred_state.get()


class Step:
    """One visit of the verifier to an instruction, in log order.

    The instruction and the states are parsed from the log on first use (see Deferred).
    """

    __slots__ = ("number", "segment", "frame", "log_line", "source", "index", "_line", "_before", "_after")

    def __init__(self, number: int, segment: int, frame: int, log_line: int, source: SourceLine | None,
                 line: Deferred, before: Deferred | None = None, after: Deferred | None = None,
                 index: int | None = None) -> None:
        self.number = number  # position among the steps
        # The instruction's index, as the reader saw it without parsing the line (the cost
        # profile counts a million steps by index; `insn.index` parses the line).
        self.index = index
        self.segment = segment
        self.frame = frame  # call depth: 0 in the main program, 1 inside a bpf-to-bpf callee, ...
        self.log_line = log_line  # 1-based line in the program's log
        self.source = source
        self._line = line  # the instruction line: (Instruction, inline State | None)
        self._before = before  # a full state printed before it (v5.10 style, pending)
        self._after = after  # its touched registers printed on a line of their own

    @property
    def insn(self) -> Instruction:
        return self._line.get()[0]

    @property
    def state_before(self) -> State | None:
        return None if self._before is None else self._before.get()

    @property
    def state_after(self) -> State | None:
        """The registers the instruction touched: inline after ';' (v5.17+), or on a line
        of their own ("N: ..." after other lines, or v5.10's indented state)."""
        inline = self._line.get()[1]
        if inline is not None:
            return inline
        return None if self._after is None else self._after.get()

    @property
    def has_state_after(self) -> bool:
        return self._after is not None or self._line.get()[1] is not None

    def with_state_after(self, after: Deferred) -> None:
        self._after = after

    def __repr__(self) -> str:
        return f"Step({self.number}, {self._line.text.strip()!r})"


@dataclass(frozen=True, slots=True)
class KernelMessage:
    """An error line read as the catalogued message it is (parsing/messages.py).

    `format` is the kernel's own format string, the message's identity across kernels;
    `function` is the kernel function that prints it; `fields` are the values the line
    gives for the format's conversions, named after the words before them ("off", "size",
    "value_size", "register"), in order."""

    text: str
    format: str
    function: str
    file: str
    fields: tuple[tuple[str, str], ...]
    numeric: tuple[str, ...] = ()  # names of the fields that are numbers
    rejection: bool = True  # the kernel fails the load after printing it
    internal: bool = False  # an error of the verifier itself ("verifier bug: ...")
    may_be_null: bool = False  # a register type it names may be NULL ('map_value_or_null')
    kernels: tuple[str, ...] = ()
    whole: bool = True  # the line is this message whole (not a message continued by others)

    def field(self, name: str) -> str | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None

    def number(self, name: str) -> int | None:
        """A numeric field as an int, or None (absent, or too long to be a real number)."""
        value = self.field(name)
        if value is None or name not in self.numeric or len(value) > 40:
            return None
        try:
            return int(value, 16) if value.lower().startswith(("0x", "-0x")) else int(value)
        except ValueError:
            return None

    @property
    def register(self) -> str | None:
        """The register the message is about ("R2"), when it names one."""
        for key, value in self.fields:
            if key.startswith("register") or _is_register(value):
                return value if _is_register(value) else None
        return None


def _is_register(text: str) -> bool:
    return len(text) in (2, 3) and text[0] == "R" and text[1:].isascii() and text[1:].isdigit() \
        and int(text[1:]) <= 10


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """What a load that failed before or outside the verifier says was wrong, read from
    libbpf's words and the errno (parsing/messages.py)."""

    kind: str  # "attach-target-missing", "no-permission", "not-permitted", "no-kernel-btf", "kfunc-missing",
    #            "map-create", "map-type-unavailable", "map-zero-entries", "unknown-section",
    #            "too-large", "not-supported"
    subject: str | None = None  # the function, kfunc, map or ELF section it names
    # A map the kernel refused: its type, entries and errno as the loader and libbpf said them,
    # and libbpf's probe of the running kernel for that type (None: not asked).
    map_type: str | None = None
    max_entries: int | None = None
    errno_text: str | None = None  # libbpf's words for the errno: "Operation not permitted(-1)"
    type_available: bool | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A line that is none of the structural kinds: errors and the verifier's remarks."""

    text: str
    log_line: int
    after_step: int | None  # the step printed just before it
    kernel: KernelMessage | None = None  # the catalogued message it is, if any


@dataclass(frozen=True, slots=True)
class Stats:
    processed_insns: int
    insn_limit: int
    counters: tuple[tuple[str, int], ...] = ()

    def counter(self, name: str) -> int | None:
        for key, value in self.counters:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class KernelPlace:
    """A place v7.3's diagnosis points at, with the note it prints under the source line."""

    function: str
    file: str
    line: int
    column: int
    source: str | None = None  # the marked source line
    insn: int | None = None  # the marked instruction
    insn_text: str | None = None
    note: str | None = None  # "update: R2 changed from map value ... to integer scalar ..."
    note_kind: str | None = None  # the note's kind: "update", "branch", "acquired"


@dataclass(frozen=True, slots=True)
class KernelDiagnosis:
    """The kernel's own verdict block, printed after the error from v7.3."""

    verdict: str  # "Register Type Safety: Invalid dereference"
    reason: str
    at: KernelPlace | None
    causal_path: tuple[KernelPlace, ...]
    suggestion: str


class LogFormat(Enum):
    """The families of log formats, told apart by what they print (see grammars/)."""

    STATE_LINES = "5.10-5.16: state on its own line, scalars as 'inv'"
    INLINE_INV = "5.17: state inline after ';', scalars as 'inv'"
    INLINE_SCALAR = "5.18-6.1: state inline, scalars as 'scalar'"
    MODERN = "6.2 and newer: 'map=NAME', merged bounds, '@ file.c:N'"
    UNKNOWN = "too few states to tell the kernel version"


@dataclass(frozen=True, slots=True)
class ProgramTrace:
    """Everything one program's load printed."""

    name: str | None
    steps: tuple[Step, ...]
    segments: tuple[Segment, ...]
    messages: tuple[Message, ...]
    stats: Stats | None
    format: LogFormat
    log_level: int  # 1, or 2 when branch states or precision lines appear
    libbpf_lines: tuple[str, ...] = ()
    load_errors: tuple[str, ...] = ()  # the libbpf lines that report a failure
    load_failure: LoadFailure | None = None  # what they say was wrong, when they say it
    load_failed: bool = False  # libbpf or bpftool said the load failed
    errno: int | None = None
    unparsed: tuple[tuple[int, str], ...] = ()  # (log line, text) of lines no rule fits
    kernel_diagnosis: KernelDiagnosis | None = None
    has_verifier_log: bool = True
    sources: tuple[tuple[int, SourceLine], ...] = field(default=())  # insn index -> line info
    # insn index -> number of its latest step, as the reader kept it while reading.
    latest_at: dict[int, int] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def latest_step_at(self, insn_index: int) -> Step | None:
        """The latest step at an instruction (its last visit in log order), or None."""
        number = self.latest_at.get(insn_index)
        return None if number is None else self.steps[number]

    def source_of(self, insn_index: int) -> SourceLine | None:
        """The source line of an instruction: the line-info entry covering it."""
        best: SourceLine | None = None
        best_start = -1
        for start, line in self.sources:
            if best_start < start <= insn_index:
                best, best_start = line, start
        return best


@dataclass(frozen=True, slots=True)
class LogDocument:
    programs: tuple[ProgramTrace, ...]
