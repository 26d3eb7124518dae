"""Reads a whole log: unwraps libbpf/bpftool output, classifies lines, builds the traces.

The flow is one pass over the lines. A cheap classifier looks at each line's first
characters and hands it to the grammar rule that fits (grammars/verifier_log.lark);
the builder turns what the grammar returns into steps, path segments and messages.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum

from ..errors import NotAVerifierLog
from ..model import (
    Instruction,
    LogDocument,
    LogFormat,
    Message,
    OpKind,
    ProgramTrace,
    Segment,
    SegmentKind,
    SourceLine,
    State,
    Stats,
    Step,
)
from .diagnostics import Block, kernel_diagnosis
from .grammar import parse_line
from .transformer import BranchLine, InsnLine

_LIBBPF_PREFIX = "libbpf: "
# verifier-doctor's own loader reports what libbpf 1.4 does not check (see kernel/loader.py).
_VDOCTOR_PREFIX = "vdoctor: "
# libbpf >= 0.7 wraps each program's log in these markers; older libbpf said "DUMP LOG".
_BEGIN_MARKERS = ("-- BEGIN PROG LOAD LOG --", "-- BEGIN DUMP LOG ---")
_END_MARKERS = ("-- END PROG LOAD LOG --", "-- END LOG --")

# Lines the verifier prints about its own bookkeeping: kept out of the error messages.
_PRECISION_PREFIXES = ("mark_precise:", "last_idx ", "regs=", "parent didn't have", "parent already had", "propagating ")
_STRUCTURE_PREFIXES = (
    "caller:", "callee:", "returning from callee:", "to caller at", "Func#", "func#", "Validating ",
    "verification time", "stack depth", "Global function", "Live regs before insn", "safe",
    "(speculative execution)", "subprog ",  # v7.3: "subprog 0 (name) main insns_self 11 ..."
    "insns processed ",  # v7.2
    "cur state:", "old state:",  # after "infinite loop detected" (v6.x)
)
# v7.3 prints its own diagnosis after the error; these keys open its lines.
_DIAGNOSTIC_KEYS = ("Verification failed", "Reason", "At", "Causal path", "Suggestion")


class LineKind(Enum):
    BLANK = "blank"
    SOURCE = "source"
    INSN = "insn"
    STATE = "state"
    BARE_STATE = "bare_state"
    PRUNED = "pruned"
    BRANCH = "branch"
    STATS = "stats"
    PRECISION = "precision"
    STRUCTURE = "structure"
    DIAGNOSTIC = "diagnostic"
    MESSAGE = "message"


def classify(line: str) -> LineKind:
    """The kind of a verifier log line, from its first characters only (cheap)."""
    text = line.strip()
    if not text:
        return LineKind.BLANK
    first = text[0]
    if first == ";":
        return LineKind.SOURCE
    if first.isdigit():
        head, colon, rest = text.partition(":")
        if colon and head.isdigit():
            rest = rest.lstrip()
            if rest.startswith("("):
                return LineKind.INSN
            if not rest or rest[0] == "R" or rest.startswith(("fp", "frame")):
                return LineKind.STATE
            if rest.startswith("safe"):
                return LineKind.PRUNED
            # v6.17+ level 2: "Live regs before insn:" then "  3: ..2....... (07) r2 += -4",
            # a listing of the program, not a step of verification.
            marks, _, after = rest.partition(" ")
            if marks and all(c in ".0123456789" for c in marks) and after.lstrip().startswith("("):
                return LineKind.STRUCTURE
        return LineKind.MESSAGE
    if line[:1].isspace() and (first == "R" and text[1:2].isdigit() or text.startswith("frame")):
        return LineKind.BARE_STATE
    if text.startswith("from ") and " to " in text:
        return LineKind.BRANCH
    if text.startswith("processed ") and " insns" in text:
        return LineKind.STATS
    if text.startswith(_PRECISION_PREFIXES):
        return LineKind.PRECISION
    if first == "(" and text[1:].partition(")")[0].isdigit():
        return LineKind.STRUCTURE  # v6.18 stack liveness: "(0) frame 0 insn 6 +live -8"
    if text.startswith(_STRUCTURE_PREFIXES):
        return LineKind.STRUCTURE
    key = text.partition(":")[0]
    if key in _DIAGNOSTIC_KEYS:
        return LineKind.DIAGNOSTIC
    return LineKind.MESSAGE


@dataclass
class _Section:
    """The lines of one program's verifier log, and the libbpf lines about it."""

    name: str | None
    lines: list[str] = field(default_factory=list)
    libbpf: list[str] = field(default_factory=list)
    has_log: bool = False
    ended: bool = True


def _prog_name(libbpf_text: str) -> str | None:
    # "prog 'hello': ..." (libbpf >= 0.7).
    if libbpf_text.startswith("prog '"):
        end = libbpf_text.find("'", 6)
        if end > 6:
            return libbpf_text[6:end]
    return None


def _split_sections(text: str) -> tuple[list[_Section], list[str]]:
    """Program sections of a libbpf/bpftool output, or one section for a bare log."""
    sections: list[_Section] = []
    outside: list[str] = []
    wrapper: list[str] = []
    current: _Section | None = None
    for line in text.splitlines():
        if line.startswith(_LIBBPF_PREFIX):
            body = line[len(_LIBBPF_PREFIX):]
            name = _prog_name(body)
            if any(marker in body for marker in _BEGIN_MARKERS):
                current = _Section(name, has_log=True, ended=False)
                sections.append(current)
                continue
            if any(marker in body for marker in _END_MARKERS) and current is not None:
                current.ended = True
                current = None
                continue
            wrapper.append(body)
            continue
        stripped = line.strip()
        if current is not None and stripped in _END_MARKERS:
            current.ended = True
            current = None
            continue
        if current is not None:
            current.lines.append(line)
        else:
            outside.append(line)
    if not sections:
        # A bare verifier log, as `bpftool prog load -d` without libbpf prefixes or a
        # paste of the kernel's buffer.
        wrapping = ("Error: ", _VDOCTOR_PREFIX)
        log_lines = [line for line in outside if not line.startswith(wrapping)]
        has_log = any(classify(line) is not LineKind.BLANK for line in log_lines)
        sections.append(_Section(None, log_lines, has_log=has_log))
        wrapper.extend(line.removeprefix(_VDOCTOR_PREFIX) for line in outside if line.startswith(wrapping))
    else:
        wrapper.extend(line.removeprefix(_VDOCTOR_PREFIX) for line in outside if line.strip())
    # Give each program the libbpf lines that name it, and the lines that name no program.
    for section in sections:
        for body in wrapper:
            owner = _prog_name(body)
            if owner is None or owner == section.name:
                section.libbpf.append(body)
    if len(sections) == 1 and sections[0].name is None:
        names = [n for n in (_prog_name(b) for b in wrapper) if n]
        if names:
            sections[0].name = names[0]
    return sections, wrapper


def _errno(libbpf_lines: list[str]) -> int | None:
    # "prog 'hello': failed to load: -13" (libbpf >= 1.0).
    for body in libbpf_lines:
        _, sep, tail = body.rpartition("failed to load: ")
        if sep:
            value = tail.strip().split()[0] if tail.strip() else ""
            if value.lstrip("-").isdigit():
                return int(value)
    return None


def _load_failed(libbpf_lines: list[str]) -> bool:
    return any("failed" in body or body.startswith("Error") for body in libbpf_lines)


def _successors(insn: Instruction) -> tuple[int, ...]:
    if insn.kind is OpKind.EXIT:
        return ()
    width = 2 if insn.kind is OpKind.LD_IMM64 else 1  # ld_imm64 spans two slots
    following = insn.index + width
    if insn.kind is OpKind.JUMP and insn.target is not None:
        return (insn.target,)
    if insn.target is not None:
        return (following, insn.target)
    return (following,)


def _disassembly(line: str) -> str:
    """The instruction text between "(op) " and the inline state."""
    text = line.strip()
    start = text.find(")") + 1
    end = text.find(";", start)
    body = text[start:] if end < 0 else text[start:end]
    return body.strip()


class _TraceBuilder:
    """Accumulates one program's steps, segments and messages line by line."""

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.steps: list[Step] = []
        self.segments: list[Segment] = [Segment(0, SegmentKind.ENTRY, 0)]
        self.messages: list[Message] = []
        self.stats: Stats | None = None
        self.unparsed: list[tuple[int, str]] = []
        self.sources: dict[int, SourceLine] = {}
        self.diagnostics: list[Block] = []
        self.pending_source: SourceLine | None = None
        self.last_source: SourceLine | None = None
        self.previous_kind: LineKind | None = None
        self.pending_state: State | None = None
        self.frame = 0
        self.return_stack: list[int] = []  # where each bpf-to-bpf call returns to
        self.expected_next: tuple[int, ...] = ()  # where the path goes after the last step
        self.saw = {"inv": False, "scalar": False, "inline": False, "state_lines": False,
                    "modern": False, "level2": False}

    # --- helpers ----------------------------------------------------------------------
    def _last_step(self) -> Step | None:
        return self.steps[-1] if self.steps else None

    def _note_state(self, state: State, line: str) -> None:
        if "inv" in line and ("=inv" in line):
            self.saw["inv"] = True
        if "=scalar" in line or "=Pscalar" in line:
            self.saw["scalar"] = True
        # v6.2+ omit default fields ("ctx()" for "ctx(id=0,off=0,imm=0)") and name maps.
        if "map=" in line or "smin=smin32" in line or "umax=umax32" in line or "=ctx()" in line:
            self.saw["modern"] = True

    def _start_segment(self, kind: SegmentKind, start: int | None, from_insn: int | None,
                       parent: int | None, state: State | None) -> None:
        self.segments.append(Segment(len(self.segments), kind, start, from_insn, parent, state))
        self.expected_next = (start,) if start is not None else ()
        # A popped path resumes at the call depth its state names; its callers' return
        # addresses are not in the log, so they are forgotten (see Step.frame).
        self.frame = state.frame if state is not None else (self.frame if parent is not None else 0)
        self.return_stack = self.return_stack[: self.frame]

    def _latest_step_at(self, index: int, predicate=None) -> int | None:
        for step in reversed(self.steps):
            if step.insn.index == index and (predicate is None or predicate(step)):
                return step.number
        return None

    def _latest_step_reaching(self, index: int) -> int | None:
        for step in reversed(self.steps):
            if index in _successors(step.insn) and step.insn.kind is OpKind.COND_JUMP:
                return step.number
        return None

    def _state_at(self, index: int, state: State) -> None:
        """A full state printed before instruction `index`: same path, or a popped one."""
        last = self._last_step()
        if last is None:
            # The program's entry state ("0: R1=ctx() R10=fp0").
            seg = self.segments[0]
            self.segments[0] = dataclasses.replace(seg, start_insn=index, state=state)
            self.pending_state = state
            return
        if index == last.insn.index and last.state_after is None and self.pending_state is None:
            # The registers an instruction touched, printed as "N: ..." rather than inline
            # because other lines (precision tracking) came between (v5.17+, print_insn_state).
            self.steps[-1] = dataclasses.replace(last, state_after=state)
            return
        if index in self.expected_next or (
            self.segments[-1].start_insn == index and last.segment < len(self.segments) - 1
        ):
            self.pending_state = state  # the path goes on: state before the next step
            return
        # The verifier left this path (exit or pruning) and took one from its stack; at
        # level 1 it does not say where that path branched (v5.17+ print "N:" only).
        self._start_segment(SegmentKind.POPPED, index, None, self._latest_step_reaching(index), state)
        self.pending_state = state

    # --- line handlers ----------------------------------------------------------------
    def add(self, line_no: int, line: str) -> None:
        if self.diagnostics and (line[:1].isspace() or not line):
            self.diagnostics[-1].lines.append(line)  # inside a v7.3 "Key:" section
            return
        kind = classify(line)
        text = line.strip()
        if kind is LineKind.BLANK:
            return
        if kind is not LineKind.BARE_STATE and kind is not LineKind.PRECISION:
            self.previous_kind = kind
        if kind is LineKind.SOURCE:
            parsed = parse_line("source_line", text)
            if parsed is None:
                self.unparsed.append((line_no, line))
                return
            if parsed.file is not None:
                self.saw["modern"] = True
            self.pending_source = parsed
            return
        if kind is LineKind.INSN:
            self._add_insn(line_no, line, text)
            return
        if kind is LineKind.STATE:
            parsed = parse_line("state_line", text)
            if parsed is None:
                self.unparsed.append((line_no, line))
                return
            index, state = parsed
            self._note_state(state, text)
            if self.steps:
                self.saw["state_lines"] = True
            self._state_at(index, state)
            return
        if kind is LineKind.BARE_STATE:
            previous = self.previous_kind
            self.previous_kind = kind
            if previous is LineKind.PRECISION or not self.steps:
                return  # a parent state printed by precision backtracking (v5.10)
            parsed = parse_line("bare_state_line", text)
            if parsed is None:
                self.unparsed.append((line_no, line))
                return
            self._note_state(parsed, text)
            last = self.steps[-1]
            if last.state_after is None:
                self.steps[-1] = dataclasses.replace(last, state_after=parsed)
            return
        self.previous_kind = kind
        if kind is LineKind.BRANCH:
            parsed = parse_line("branch_line", text)
            if parsed is None:
                self.unparsed.append((line_no, line))
                return
            self.saw["level2"] = True
            if parsed.state is not None:
                self._note_state(parsed.state, text)
                parent = self._latest_step_at(parsed.from_insn)
                self._start_segment(SegmentKind.BRANCH, parsed.to_insn, parsed.from_insn, parent, parsed.state)
                self.pending_state = parsed.state
            return
        if kind is LineKind.STATS:
            parsed = parse_line("stats_line", text)
            if parsed is None:
                self.unparsed.append((line_no, line))
            else:
                self.stats = parsed
            return
        if kind is LineKind.PRECISION:
            self.previous_kind = kind
            self.saw["level2"] = True
            return
        if kind in (LineKind.STRUCTURE, LineKind.PRUNED):
            if text.startswith(("Validating ", "Func#")):
                # A global function is verified on its own, after the main program.
                self._start_segment(SegmentKind.SUBPROGRAM, None, None, None, None)
            return
        if kind is LineKind.DIAGNOSTIC:
            key, _, value = text.partition(":")
            self.diagnostics.append(Block(key.strip(), value.strip()))
            return
        last = self._last_step()
        self.messages.append(Message(text, line_no, last.number if last else None))

    def _add_insn(self, line_no: int, line: str, text: str) -> None:
        parsed: InsnLine | None = parse_line("insn_line", text)
        if parsed is None:
            # An instruction the grammar does not know yet: keep it, with no data flow.
            head, _, _ = text.partition(":")
            opcode = text[text.find("(") + 1: text.find(")")]
            insn = Instruction(int(head), int(opcode, 16) if _is_hex(opcode) else 0,
                               _disassembly(text), OpKind.OTHER)
            self.unparsed.append((line_no, line))
            parsed = InsnLine(insn, None, None)
        shown = text
        if parsed.pending is not None:
            # Cut the next path's state printed on the same line ("goto pc-8 25: R1=...").
            shown = text[: text.rfind(f" {parsed.pending[0]}:")]
        insn = dataclasses.replace(parsed.insn, text=_disassembly(shown))
        # The kernel prints an instruction's line info only when it differs from the last
        # one it printed (verbose_linfo), so an instruction without its own line has the
        # line printed last.
        source = self.pending_source
        if source is not None:
            self.sources.setdefault(insn.index, source)
            self.pending_source = None
            self.last_source = source
        else:
            source = self.last_source
        if parsed.inline_state is not None:
            self.saw["inline"] = True
            self._note_state(parsed.inline_state, text)
        last = self._last_step()
        if last is not None and self.pending_state is None and insn.index not in self.expected_next:
            # A jump to a path whose state the log did not print (level 1 after a prune).
            self._start_segment(SegmentKind.POPPED, insn.index, None,
                                self._latest_step_reaching(insn.index), None)
        step = Step(
            number=len(self.steps),
            insn=insn,
            segment=len(self.segments) - 1,
            frame=self.frame,
            log_line=line_no,
            state_before=self.pending_state,
            state_after=parsed.inline_state,
            source=source,
        )
        self.steps.append(step)
        self.pending_state = None
        self.expected_next = _successors(insn)
        if insn.calls_subprogram:
            self.frame += 1
            self.return_stack.append(insn.index + 1)
            self.expected_next = (insn.target,)
        elif insn.kind is OpKind.EXIT and self.return_stack:
            self.frame -= 1
            self.expected_next = (self.return_stack.pop(),)
        if parsed.pending is not None:
            index, state = parsed.pending
            self._note_state(state, text)
            self._state_at(index, state)

    def _format(self) -> LogFormat:
        if self.saw["inv"]:
            return LogFormat.INLINE_INV if self.saw["inline"] else LogFormat.STATE_LINES
        if self.saw["modern"]:
            return LogFormat.MODERN
        if self.saw["scalar"]:
            return LogFormat.INLINE_SCALAR
        return LogFormat.UNKNOWN

    def build(self, section: _Section) -> ProgramTrace:
        return ProgramTrace(
            name=self.name,
            steps=tuple(self.steps),
            segments=tuple(self.segments),
            messages=tuple(self.messages),
            stats=self.stats,
            format=self._format(),
            log_level=2 if self.saw["level2"] or self.saw["state_lines"] and not self.saw["inline"] else 1,
            libbpf_lines=tuple(section.libbpf),
            load_failed=_load_failed(section.libbpf),
            errno=_errno(section.libbpf),
            unparsed=tuple(self.unparsed),
            kernel_diagnosis=kernel_diagnosis(self.diagnostics),
            has_verifier_log=section.has_log,
            sources=tuple(sorted(self.sources.items())),
        )


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdef" for c in text)


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    sample = text[:4096]
    odd = sum(1 for c in sample if c == "\ufffd" or (ord(c) < 32 and c not in "\n\r\t"))
    return odd > len(sample) // 20


def read_text(data: bytes) -> str:
    """Decode a log file; raise NotAVerifierLog for empty or binary input."""
    if not data.strip():
        raise NotAVerifierLog("The input is empty: there is no verifier log to explain.")
    text = data.decode("utf-8", errors="replace")
    if _looks_binary(text):
        raise NotAVerifierLog("The input is a binary file, not a verifier log (text as bpftool or libbpf prints it).")
    return text


def read_log(text: str) -> LogDocument:
    """Parse a verifier log (bare, or inside libbpf/bpftool output) into traces."""
    sections, _ = _split_sections(text)
    programs = []
    for section in sections:
        builder = _TraceBuilder(section.name)
        for line_no, line in enumerate(section.lines, start=1):
            builder.add(line_no, line)
        programs.append(builder.build(section))
    document = LogDocument(tuple(programs))
    if not any(_is_log(p) for p in document.programs):
        raise NotAVerifierLog(
            "This is not a verifier log: it has no instruction, state or statistics line "
            "and no libbpf load error."
        )
    return document


def _is_log(program: ProgramTrace) -> bool:
    return bool(program.steps or program.stats or (program.load_failed and program.libbpf_lines))
