"""Reads a log: unwraps libbpf/bpftool output, classifies lines, builds the traces.

The flow is one streaming pass over the lines. A cheap classifier looks at each line's
first characters; the builder follows the verifier's paths from a quick look at each
instruction (its index, opcode and jump offset) and keeps the line's text. The grammar
(grammars/verifier_log.lark) parses an instruction or a state when the analysis first
asks for it (model.Deferred): a 50 MB log is read at the speed of the classifier, and
only the few hundred lines the analysis reads go through Lark. Logs up to
EAGER_BYTES are parsed whole while reading, so every unrecognised line is reported.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from itertools import repeat
from pathlib import Path

from ..errors import NotAVerifierLog
from ..model import (
    Deferred,
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
from .messages import load_error_lines, load_failure, optional_step, parse_message
from .transformer import InsnLine

_LIBBPF_PREFIX = "libbpf: "
# verifier-doctor's own loader reports what libbpf 1.4 does not check (see kernel/loader.py).
_VDOCTOR_PREFIX = "vdoctor: "
# libbpf >= 0.7 wraps each program's log in these markers; older libbpf said "DUMP LOG".
_BEGIN_MARKERS = ("-- BEGIN PROG LOAD LOG --", "-- BEGIN DUMP LOG ---")
_END_MARKERS = ("-- END PROG LOAD LOG --", "-- END LOG --")
# libbpf's dump of the kernel's BTF log when the kernel refuses the object's BTF (libbpf 0.6 on:
# "-- BEGIN BTF LOAD LOG ---", the types, the kernel's complaint, "-- END BTF LOAD LOG --"):
# libbpf's own lines, never the verifier's; libbpf then goes on without BTF.
_BTF_LOG_MARKERS = ("-- BEGIN BTF LOAD LOG ---", "-- END BTF LOAD LOG --")
# bpftrace -v frames a program's log with "The verifier log:" (accepted) or "Error log:"
# (rejected), and prints its own lines with these prefixes, which end the log.
_BPFTRACE_BEGIN = ("The verifier log:", "Error log:")
_BPFTRACE_PREFIXES = ("ERROR: ", "WARNING: ", "INFO: ", "Attaching ")

# Lines the verifier prints about its own bookkeeping: kept out of the error messages.
_PRECISION_PREFIXES = ("mark_precise:", "last_idx ", "regs=", "parent didn't have", "parent already had", "propagating ",
                       "force_precise:")
# Level-2 bookkeeping that names a frame first: "frame 0: propagating r1,r4" (precision handed
# back to a caller: propagate_precision, "frame %d: propagating r%d" in the catalogue from
# 5.10; 6.12, 6.18 and 7.3 list the registers, "r1,r4").
_FRAME_PROPAGATING = re.compile(r"frame \d+: propagating ")
_FRAME_STATE = re.compile(r"frame\d+: (R\d|fp)")
_STRUCTURE_PREFIXES = (
    "caller:", "callee:", "returning from callee:", "to caller at", "Func#", "func#", "Validating ",
    "verification time", "stack depth", "Live regs before insn", "safe",
    "(speculative execution)", "subprog ",  # v7.3: "subprog 0 (name) main insns_self 11 ..."
    "insns processed ",  # v7.2
    "cur state:", "old state:",  # after "infinite loop detected" (v6.x)
    # Level 2: a loop's strongly connected component, "SCC enter (1)", "SCC backedge (1)",
    # "SCC exit (1)" (maybe_enter_scc, add_scc_backedge, maybe_exit_scc: 7.2, 7.3 in the
    # catalogue, 6.18 in our fixtures; not 6.12).
    "SCC enter ", "SCC exit ", "SCC backedge ",
)
_LISTING_HEADER = re.compile(r"(stack use/def )?subprog#\d+( \S+)?( \(d\d+,cs\d+\))?:\Z")
_ARG_TRACK = re.compile(r"\t(?:r\d+|sa\d+|fp[+-]\d+): ")
# v7.3 prints its own diagnosis after the error; these keys open its lines.
_DIAGNOSTIC_KEYS = ("Verification failed", "Reason", "At", "Causal path", "Suggestion")


def _number(text: str) -> int | None:
    """An ASCII decimal ("12", "-13") as the kernel prints indexes and errnos, else None:
    not "²" or "①" (str.isdigit() says yes, int() says no), not "--1", not 5,000 digits."""
    digits = text[1:] if text[:1] == "-" else text
    if not digits or len(digits) > 20 or not (digits.isascii() and digits.isdigit()):
        return None
    return int(text)


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


def classify(line: str, text: str | None = None) -> LineKind:
    """The kind of a verifier log line, from its first characters only (cheap); `text` is
    the line stripped, when the caller has it already."""
    if text is None:
        text = line.strip()
    if not text:
        return LineKind.BLANK
    first = text[0]
    if first == ";":
        return LineKind.SOURCE
    if first.isdigit():
        head, colon, rest = text.partition(":")
        if colon and _number(head) is not None:
            rest = rest.lstrip()
            if rest.startswith("(") and "\t" in rest and _ARG_TRACK.search(rest):
                # v7.2+ level 2, the liveness pass's argument tracking before the walk:
                # "  1: (bf) r6 = r10\tr6: _ -> fp0+0", a listing, not a step.
                return LineKind.STRUCTURE
            if rest.startswith("(") or _is_poisoned(rest):
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
    if first == "f" and _FRAME_STATE.match(text):
        # A callee's whole state, " frame1: R1=fp[0]-8 ... refs=3" after "callee:" or
        # "returning from callee:", read the same when a loader dropped its leading space.
        return LineKind.BARE_STATE
    if text.startswith("from ") and " to " in text:
        return LineKind.BRANCH
    if text.startswith("processed ") and " insns" in text:
        return LineKind.STATS
    if text.startswith(_PRECISION_PREFIXES) or first == "f" and _FRAME_PROPAGATING.match(text):
        return LineKind.PRECISION
    if first == "f" and text.startswith("frame") and ": propagating " in text:
        # "frame 0: propagating r1,r8" (v6.x, level 2: precision carried to a state the
        # walk joins); before the verdict it is no error message.
        return LineKind.PRECISION
    if first == "(" and text[1:].partition(")")[0].isdigit():
        return LineKind.STRUCTURE  # v6.18 stack liveness: "(0) frame 0 insn 6 +live -8"
    if first == "(" and (text.endswith(" line(s) omitted)") or text.startswith("(truncated")):
        return LineKind.STRUCTURE  # cilium/ebpf's marks where it cut a log it prints
    if text.startswith(_STRUCTURE_PREFIXES):
        return LineKind.STRUCTURE
    key = text.partition(":")[0]
    if key in _DIAGNOSTIC_KEYS:
        return LineKind.DIAGNOSTIC
    return LineKind.MESSAGE


@dataclass(slots=True)
class _Section:
    """One program's verifier log being read, and the libbpf lines about it."""

    name: str | None
    builder: "_TraceBuilder"
    libbpf: list[str] = field(default_factory=list)
    has_log: bool = False
    ended: bool = True
    # How many libbpf lines outside any log came before its log began, and before it ended.
    begin_at: int = 0
    end_at: int = 0


def _prog_name(libbpf_text: str) -> str | None:
    # "prog 'hello': ..." (libbpf >= 0.7).
    if libbpf_text.startswith("prog '"):
        end = libbpf_text.find("'", 6)
        if end > 6:
            return libbpf_text[6:end]
    return None


# libbpf's probe of a trivial program, before any of ours: the kernel refuses BPF for this
# user. "Error in bpf_object__probe_loading():Operation not permitted(1). Couldn't load ..."
_PROBE_FAILED = re.compile(r"Error in bpf_object__probe_loading\(\):.*?\((-?[0-9]{1,4})\)")


def _errno(libbpf_lines: list[str]) -> int | None:
    """The load's negative errno: "prog 'hello': failed to load: -13" (libbpf >= 1.0), or
    the errno of libbpf's probe ("...probe_loading():Operation not permitted(1)": -1)."""
    for body in libbpf_lines:
        _, sep, tail = body.rpartition("failed to load: ")
        if sep:
            value = _number(tail.split()[0] if tail.split() else "")
            if value is not None:
                return value
        probe = _PROBE_FAILED.search(body)
        if probe:
            return -abs(int(probe.group(1)))
    return None


def _load_failed(libbpf_lines: list[str]) -> bool:
    # A line with "failed" or "Error" that is not about a step libbpf skipped ("failed (-95)
    # to create BPF token ..., skipping optional step", "BTF is optional, ignoring").
    optional = optional_step(libbpf_lines)
    return any(("failed" in body or body.startswith("Error") or _GO_MAP_ERROR.match(body) or "load program: " in body)
               and i not in optional for i, body in enumerate(libbpf_lines))


def _is_poisoned(rest: str) -> bool:
    """An instruction told in words, after "6: ": libbpf's for one it poisoned, "<invalid
    kfunc call>" (grammar: poisoned_insn_line), or the disassembler's for an opcode it does
    not know, "BUG_db" (unknown_insn_line)."""
    return rest.startswith("<invalid ") and rest.endswith(">") or rest.startswith("BUG_") and " " not in rest


def _disassembly(text: str) -> str:
    """The instruction text between "(op) " and the inline state."""
    _, colon, rest = text.partition(":")
    if colon and _is_poisoned(rest.strip()):
        return rest.strip()
    start = text.find(")") + 1
    end = text.find(";", start)
    body = text[start:] if end < 0 else text[start:end]
    return body.strip()


# --- instructions, quickly and fully ------------------------------------------------------

_EXIT, _CALL, _CALL_SUBPROG, _GOTO, _COND, _LD_IMM64, _OTHER = range(7)


@dataclass(frozen=True, slots=True)
class _Quick:
    """What following the verifier's paths needs of an instruction line, without Lark."""

    index: int
    flow: int  # one of _EXIT ... _OTHER
    target: int | None  # jump or call destination
    pending: tuple[int, str] | None  # "goto pc-8 25: R1=...": the next state, same line

    @property
    def successors(self) -> tuple[int, ...]:
        if self.flow == _EXIT:
            return ()
        if self.flow == _GOTO:
            return (self.target,) if self.target is not None else ()
        following = self.index + (2 if self.flow == _LD_IMM64 else 1)  # ld_imm64 spans two slots
        if self.flow in (_COND, _CALL_SUBPROG) and self.target is not None:
            return (following, self.target)
        return (following,)


def _quick(text: str) -> _Quick | None:
    """Index, control flow and jump target of "25: (79) r2 = ..." from the opcode (BPF ISA:
    class JMP=5/JMP32=6, op JA=0x00, CALL=0x80, EXIT=0x90; LD_IMM64=0x18)."""
    colon = text.find(":")
    open_paren = text.find("(", colon)
    index = _number(text[:colon])
    told = text[colon + 1:].strip()
    if index is not None and _is_poisoned(told):
        # The walk stops there: libbpf's poisoned call, or an opcode the disassembler lacks.
        return _Quick(index, _CALL if told.startswith("<") else _OTHER, None, None)
    opcode_text = text[open_paren + 1:open_paren + 3]
    if index is None or open_paren < 0 or not _is_hex(opcode_text):
        return None
    opcode = int(opcode_text, 16)
    if opcode == 0x18:
        return _Quick(index, _LD_IMM64, None, None)
    if opcode & 0x07 not in (5, 6):
        return _Quick(index, _OTHER, None, None)
    operation = opcode & 0xF0
    if operation == 0x90:
        return _Quick(index, _EXIT, None, None)
    target, pending = None, None
    # The jump offset comes before any state; a pending state may hold ';' in a tnum.
    disasm = text[open_paren + 4:]
    semicolon = disasm.find(";")
    for sign in ("pc+", "pc-"):
        at = disasm.find(sign)
        if at >= 0 and (semicolon < 0 or at < semicolon):
            digits_end = at + 3
            while digits_end < len(disasm) and disasm[digits_end] in "0123456789":
                digits_end += 1
            offset = _number(disasm[at + 3:digits_end])
            if offset is None:  # "pc+" and no digits: not a jump this reader can follow
                return None
            target = index + (offset if sign == "pc+" else -offset) + 1
            rest = disasm[digits_end:].strip()
            head, colon_, state = rest.partition(":")
            if colon_ and _number(head) is not None:
                pending = (int(head), state.strip())
            break
    if operation == 0x80:
        if target is None:
            # A helper that takes a callback: the callback's first state follows on the line,
            # "17: (85) call bpf_loop#181 25: frame1: R1=scalar() ... cb" (see the grammar).
            head, _, state = disasm.partition("#")[2].partition(" ")
            after, colon_, state = state.partition(":")
            if colon_ and _number(head) is not None and _number(after) is not None:
                pending = (int(after), state.strip())
        return _Quick(index, _CALL_SUBPROG if target is not None else _CALL, target, pending)
    if operation == 0x00 and opcode & 0x07 == 5 or operation == 0x00 and opcode == 0x06:
        return _Quick(index, _GOTO, target, pending)  # goto (JA), gotol (JMP32|JA, v6.6)
    return _Quick(index, _COND, target, pending)


def _parse_insn_line(text: str) -> tuple[Instruction, State | None]:
    """The whole instruction line through the grammar; an unknown instruction is kept
    with its text and no data flow."""
    parsed: InsnLine | None = parse_line("insn_line", text)
    if parsed is None:
        quick = _quick(text)
        opcode = text[text.find("(") + 1: text.find(")")]
        insn = Instruction(quick.index if quick else (_number(text[: text.find(":")]) or 0),
                           int(opcode, 16) if _is_hex(opcode) else 0, _disassembly(text), OpKind.OTHER)
        return insn, None
    shown = text
    if parsed.pending is not None:
        # Cut the next path's state printed on the same line ("goto pc-8 25: R1=...").
        shown = text[: text.rfind(f" {parsed.pending[0]}:")]
    return replace(parsed.insn, text=_disassembly(shown)), parsed.inline_state


def _parse_state_items(text: str) -> State:
    state = parse_line("bare_state_line", text)
    return state if state is not None else State()


# --- the builder --------------------------------------------------------------------------

class _TraceBuilder:
    """Accumulates one program's steps, segments and messages line by line."""

    def __init__(self, name: str | None, eager: bool) -> None:
        self.name = name
        self.eager = eager
        self.steps: list[Step] = []
        self.quick: list[_Quick] = []  # beside each step: what path-following needs
        self.latest_at: dict[int, int] = {}  # insn index -> its latest step
        self.latest_reaching: dict[int, int] = {}  # insn index -> latest conditional jump to it
        self.segments: list[Segment] = [Segment(0, SegmentKind.ENTRY, 0)]
        self.messages: list[Message] = []
        self.stats: Stats | None = None
        self.trailer: dict[str, int] = {}  # verification time, stack depth
        self.unparsed: list[tuple[int, str]] = []
        self.sources: dict[int, SourceLine] = {}
        self.source_cache: dict[str, SourceLine] = {}  # source line text -> its parse
        self.diagnostics: list[Block] = []
        self.listing = False  # inside v7.2+'s program listing of the liveness pass
        self.pending_source: SourceLine | None = None
        self.last_source: SourceLine | None = None
        self.previous_kind: LineKind | None = None
        self.pending_state: Deferred | None = None
        # Whether the last step may hold a state inline (its line has a ';') and whether it
        # was given one on a line of its own: see _last_has_state_after.
        self.last_may_inline = False
        self.last_given_after = False
        self.frame = 0
        self.return_stack: list[int] = []  # where each bpf-to-bpf call returns to
        self.expected_next: tuple[int, ...] = ()  # where the path goes after the last step
        self.saw = {"inv": False, "scalar": False, "inline": False, "state_lines": False,
                    "modern": False, "level2": False}

    # --- helpers ----------------------------------------------------------------------
    def _deferred_state(self, line_no: int, line: str, text: str) -> Deferred | None:
        """The state text of a line, parsed now (eager) or when first read."""
        self._note_state(text)
        deferred = Deferred(_parse_state_items, text)
        if self.eager and parse_line("bare_state_line", text) is None:
            self.unparsed.append((line_no, line))
            return None
        return deferred

    def _note_state(self, line: str) -> None:
        # What each kernel prints tells the format apart (see LogFormat): "inv" until
        # v5.17, "id=0" in every pointer until v5.17, "off=0,imm=0" until v6.1.
        # (A mark once made is not looked for again: a level-2 log has 100,000 such lines.)
        saw = self.saw
        if not saw["inv"] and ("=inv" in line or "(id=0," in line):
            saw["inv"] = True
        if not saw["scalar"] and ("imm=0)" in line or "=scalar" in line or "=Pscalar" in line):
            saw["scalar"] = True
        # v6.2+ omit default fields ("ctx()" for "ctx(id=0,off=0,imm=0)") and name maps.
        if not saw["modern"] and ("map=" in line or "smin=smin32" in line or "umax=umax32" in line
                                  or "=ctx()" in line):
            saw["modern"] = True

    def _last_has_state_after(self) -> bool:
        """The last step's has_state_after, without parsing its line when the line cannot
        hold a state inline: the grammar's inline state opens with ';' (`inline_state: ";"
        state_items`), so a line without one has none (a level-2 log prints "12: R5=593"
        after most jumps; parsing their lines took a third of reading 50 MB)."""
        return self.last_given_after or (self.last_may_inline and self.steps[-1].has_state_after)

    def _give_last_state_after(self, state: Deferred) -> None:
        self.steps[-1].with_state_after(state)
        self.last_given_after = True

    def _start_segment(self, kind: SegmentKind, start: int | None, from_insn: int | None,
                       parent: int | None, state: Deferred | None) -> None:
        self.segments.append(Segment(len(self.segments), kind, start, from_insn, parent, state))
        self.expected_next = (start,) if start is not None else ()
        # A popped path resumes at the call depth its state names; its callers' return
        # addresses are not in the log, so they are forgotten (see Step.frame).
        frame = _frame_of(state.text) if state is not None else None
        self.frame = frame if frame is not None else (self.frame if parent is not None else 0)
        self.return_stack = self.return_stack[: self.frame]

    def _state_at(self, index: int, state: Deferred) -> None:
        """A full state printed before instruction `index`: same path, or a popped one."""
        segment = self.segments[-1]
        if segment.kind is SegmentKind.SUBPROGRAM and segment.start_insn is None:
            # The entry state of a global function verified on its own.
            self.segments[-1] = replace(segment, start_insn=index, deferred_state=state)
            self.expected_next = (index,)
            self.pending_state = state
            return
        if not self.steps:
            # The program's entry state ("0: R1=ctx() R10=fp0").
            self.segments[0] = replace(self.segments[0], start_insn=index, deferred_state=state)
            self.pending_state = state
            return
        last = self.steps[-1]
        if index == self.quick[-1].index and not self._last_has_state_after() and self.pending_state is None:
            # The registers an instruction touched, printed as "N: ..." rather than inline
            # because other lines (precision tracking) came between (v5.17+, print_insn_state).
            self._give_last_state_after(state)
            return
        if index in self.expected_next or (
            self.segments[-1].start_insn == index and last.segment < len(self.segments) - 1
        ):
            self.pending_state = state  # the path goes on: state before the next step
            return
        # The verifier left this path (exit or pruning) and took one from its stack; at
        # level 1 it does not say where that path branched (v5.17+ print "N:" only).
        self._start_segment(SegmentKind.POPPED, index, None, self.latest_reaching.get(index), state)
        self.pending_state = state

    # --- line handlers ----------------------------------------------------------------
    def add(self, line_no: int, line: str) -> None:
        if self.diagnostics and (line[:1].isspace() or not line.strip()):
            self.diagnostics[-1].lines.append(line)  # inside a v7.3 "Key:" section
            return
        if line.startswith(_PRECISION_PREFIXES):
            # Most lines of a level-2 log ("mark_precise: frame0: regs=r4 stack= before 8:
            # ..."): classify() says PRECISION to them all; not stripped nor classified.
            text, kind = line, LineKind.PRECISION
        else:
            text = line.strip()
            kind = classify(line, text)
            if kind is LineKind.BLANK:
                return
        if self.listing:
            # v7.2+ level 2: after "subprog#0 name:" the liveness pass lists the program,
            # "  4: (85) call bpf_local_irq_save#70186 // r1=fp0-8": no step of the walk.
            if kind is LineKind.INSN:
                return
            self.listing = False
        if kind is LineKind.MESSAGE and _LISTING_HEADER.match(text):
            self.listing = True
            return
        if kind is LineKind.PRECISION:
            self.previous_kind = kind
            # v5.10 backtracks precision at level 1 too ("last_idx", "regs="); the
            # "mark_precise:" lines of v6.2+ appear at level 2 only.
            if text.startswith("mark_precise:"):
                self.saw["level2"] = True
            return
        if kind is LineKind.INSN:
            self.previous_kind = kind
            self._add_insn(line_no, line, text)
            return
        if kind is LineKind.SOURCE:
            self.previous_kind = kind
            parsed = self.sources_by_text(text)
            if parsed is None:
                self.unparsed.append((line_no, line))
                return
            self.pending_source = parsed
            return
        if kind is LineKind.STATE:
            self.previous_kind = kind
            head, _, rest = text.partition(":")
            state = self._deferred_state(line_no, line, rest.strip())
            if state is None:
                return
            if self.steps:
                self.saw["state_lines"] = True
            self._state_at(_number(head) or 0, state)
            return
        if kind is LineKind.BARE_STATE:
            previous, self.previous_kind = self.previous_kind, kind
            if previous is LineKind.PRECISION or not self.steps:
                return  # a parent state printed by precision backtracking (v5.10)
            state = self._deferred_state(line_no, line, text)
            if state is not None and not self._last_has_state_after():
                self._give_last_state_after(state)
            return
        self.previous_kind = kind
        if kind is LineKind.BRANCH:
            self._add_branch(line_no, line, text)
            return
        if kind is LineKind.STATS:
            parsed = parse_line("stats_line", text)
            if parsed is None:
                self.unparsed.append((line_no, line))
            else:
                self.stats = parsed
            return
        if kind in (LineKind.STRUCTURE, LineKind.PRUNED):
            if text.startswith(("verification time ", "stack depth ")):
                self._trailer(text)
            elif text.startswith("func#"):
                self.saw["level2"] = True  # "func#0 @0": the subprogram list, level 2 only
            elif text.startswith("Validating "):
                # "Validating bump() func#1...": a global function is verified on its own,
                # once for every caller, after the main program (v5.6+).
                name = text[len("Validating "):].partition("(")[0]
                self._start_segment(SegmentKind.SUBPROGRAM, None, None, None, None)
                self.segments[-1] = replace(self.segments[-1], function=name)
            elif text.startswith("Func#") and "is global" in text and self.return_stack:
                # "Func#1 ('bump') is global and assumed valid.": the call returns at once.
                self.frame -= 1
                self.expected_next = (self.return_stack.pop(),)
            return
        if kind is LineKind.DIAGNOSTIC:
            key, _, value = text.partition(":")
            self.diagnostics.append(Block(key.strip(), value.strip()))
            return
        if self.stats is not None:
            # The log ended with its statistics: what follows is the loader's or the
            # user's program's output (BCC's "HINT:", a Python traceback, a print).
            return
        glued = _glued_trailer(text)
        if glued:
            # "...cannot call exception cb directlyverification time 59 usec": the kernel
            # printed a message without its newline; the line it ran into is its own.
            self.add(line_no, text[:glued])
            self.add(line_no, text[glued:])
            return
        last = self.steps[-1].number if self.steps else None
        self.messages.append(Message(text, line_no, last))

    def sources_by_text(self, text: str) -> SourceLine | None:
        # A loop's lines come back thousands of times in a big log: parse each text once.
        known = self.source_cache.get(text)
        if known is not None:
            return known
        parsed = parse_line("source_line", text)
        if parsed is not None:
            if parsed.file is not None:
                self.saw["modern"] = True
            self.source_cache[text] = parsed
        return parsed

    def _next_source(self, text: str) -> SourceLine | None:
        """The source line printed after an instruction on its line (v7.2+, see the grammar's
        insn_line), which ends in " @ file:N"; asked of the grammar only for a line with " @ "."""
        if " @ " not in text:
            return None
        parsed: InsnLine | None = parse_line("insn_line", text)
        if parsed is None or parsed.next_source is None:
            return None
        self.saw["modern"] = True
        return parsed.next_source

    def _add_branch(self, line_no: int, line: str, text: str) -> None:
        # "from 32 to 25: R1=..." or "from 27 to 29: safe" (level 2, and level 1 before v5.17).
        # A callback's path says so after the target: "from 12 to 20 (cb): ...".
        words = text.split(maxsplit=4)
        from_insn = _number(words[1]) if len(words) >= 4 else None
        to_insn = _number(words[3].rstrip(":")) if len(words) >= 4 else None
        if from_insn is None or to_insn is None:
            self.unparsed.append((line_no, line))
            return
        rest = text.partition(":")[2].strip()
        if rest.startswith("safe") or (rest.startswith("(speculative") and "safe" in rest):
            return
        state = self._deferred_state(line_no, line, rest)
        parent = self.latest_at.get(from_insn)
        self._start_segment(SegmentKind.BRANCH, to_insn, from_insn, parent, state)
        self.pending_state = state

    def _add_insn(self, line_no: int, line: str, text: str) -> None:
        quick = _quick(text)
        if quick is None:
            self.unparsed.append((line_no, line))
            return
        deferred = Deferred(_parse_insn_line, text)
        if self.eager and parse_line("insn_line", text) is None:
            self.unparsed.append((line_no, line))
        self.last_may_inline = ";" in text
        self.last_given_after = False
        next_source = self._next_source(text) if self.last_may_inline else None
        if next_source is not None:
            self.last_may_inline = False  # its ';' opens the next line's source, not a state
        if self.last_may_inline:
            self.saw["inline"] = True
            self._note_state(text)
        # The kernel prints an instruction's line info only when it differs from the last
        # one it printed (verbose_linfo), so an instruction without its own line has the
        # line printed last.
        source = self.pending_source
        if source is not None:
            self.sources.setdefault(quick.index, source)
            self.pending_source = None
            self.last_source = source
        else:
            source = self.last_source
        if self.steps and self.pending_state is None and quick.index not in self.expected_next:
            # A jump to a path whose state the log did not print (level 1 after a prune).
            self._start_segment(SegmentKind.POPPED, quick.index, None,
                                self.latest_reaching.get(quick.index), None)
        number = len(self.steps)
        step = Step(number, len(self.segments) - 1, self.frame, line_no, source, deferred, self.pending_state,
                    index=quick.index)
        self.steps.append(step)
        self.quick.append(quick)
        self.latest_at[quick.index] = number
        successors = quick.successors
        if quick.flow == _COND:
            for successor in successors:
                self.latest_reaching[successor] = number
        self.pending_state = None
        if next_source is not None:
            self.pending_source = next_source  # as if on a line of its own, after this one
        self.expected_next = successors
        if quick.flow == _CALL_SUBPROG:
            self.frame += 1
            self.return_stack.append(quick.index + 1)
            self.expected_next = (quick.target,)
        elif quick.flow == _CALL and quick.pending is not None and (_frame_of(quick.pending[1]) or 0) > self.frame:
            # The helper calls its callback: the walk goes on there, one frame deeper, and
            # comes back to the call itself, which the verifier checks again. (A state of
            # this frame is the next instruction's: "call bpf_iter_num_next#63619 9: R0=...".)
            self.frame += 1
            self.return_stack.append(quick.index)
            self.expected_next = (quick.pending[0],)
        elif quick.flow == _EXIT and self.return_stack:
            self.frame -= 1
            self.expected_next = (self.return_stack.pop(),)
        if quick.pending is not None:
            index, state_text = quick.pending
            state = self._deferred_state(line_no, line, state_text)
            if state is not None:
                self._state_at(index, state)

    def _trailer(self, text: str) -> None:
        """The lines before the statistics (v5.2+): "verification time 59 usec" and "stack
        depth 16+32" (each subprogram's frame), kept as the counters veristat shows."""
        words = text.split()
        if words[:2] == ["verification", "time"] and len(words) >= 3 and _number(words[2]) is not None:
            self.trailer["verification_time_usec"] = int(words[2])
        elif words[:2] == ["stack", "depth"] and len(words) == 3:
            frames = [_number(part) for part in words[2].split("+")]
            if all(frame is not None for frame in frames):
                self.trailer["stack_depth"] = sum(frames)

    def _stats(self) -> Stats | None:
        if self.stats is None or not self.trailer:
            return self.stats
        return replace(self.stats, counters=self.stats.counters + tuple(self.trailer.items()))

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
            messages=_read_errors(self.messages, self.steps[-1].number if self.steps else None),
            stats=self._stats(),
            format=self._format(),
            log_level=2 if self.saw["level2"] else 1,
            libbpf_lines=tuple(section.libbpf),
            load_errors=load_error_lines(section.libbpf),
            load_failure=load_failure(section.libbpf, _errno(section.libbpf)),
            load_failed=_load_failed(section.libbpf),
            errno=_errno(section.libbpf),
            unparsed=tuple(self.unparsed),
            kernel_diagnosis=kernel_diagnosis(self.diagnostics),
            has_verifier_log=section.has_log,
            sources=tuple(sorted(self.sources.items())),
            latest_at=dict(self.latest_at),
        )


def _read_errors(messages: list[Message], last: int | None) -> tuple[Message, ...]:
    """The messages after the last instruction (the verdict's words) read as the catalogued
    messages they are; the remarks before them stay text (a big log has millions). A line
    there that is whole a message the catalogue says never rejects (the verifier's own
    bookkeeping, "SCC backedge (1)" at level 2) is dropped as the bookkeeping lines the
    classifier knows are: only the catalogue's rejections, or words it does not know, can
    be the verdict."""
    read = []
    for message in messages:
        if message.after_step == last:
            kernel = parse_message(message.text)
            if kernel is not None and kernel.whole and not kernel.rejection:
                continue
            message = replace(message, kernel=kernel)
        read.append(message)
    return tuple(read)


# The lines that follow an error, which a message printed without its newline runs into.
_TRAILERS = ("verification time ", "processed ", "stack depth ")


def _glued_trailer(text: str) -> int:
    """Where a trailer line starts inside a message it was glued to (0: none)."""
    for trailer in _TRAILERS:
        at = text.find(trailer, 1)
        if at > 0 and not text[at - 1].isspace() and classify(text[at:]) is not LineKind.MESSAGE:
            return at
    return 0


def _frame_of(state_text: str) -> int | None:
    # "frame1: R1=..." names the call depth the state belongs to.
    at = state_text.rfind("frame")
    if at < 0:
        return None
    return _number(state_text[at + 5: state_text.find(":", at)])


def _is_hex(text: str) -> bool:
    return bool(text) and not text.strip("0123456789abcdef")


# --- the whole input ----------------------------------------------------------------------

# Logs up to this size are parsed whole while reading, so every unknown line is reported;
# larger ones are parsed where the analysis looks (see the module's docstring).
EAGER_BYTES = 4 * 1024 * 1024


def _looks_binary(sample: str) -> bool:
    if "\x00" in sample:
        return True
    odd = sum(1 for c in sample if c == "\ufffd" or (ord(c) < 32 and c not in "\n\r\t"))
    return odd > len(sample) // 20


def read_text(data: bytes) -> str:
    """Decode a log; raise NotAVerifierLog for empty or binary input."""
    if not data.strip():
        raise NotAVerifierLog("The input is empty: there is no verifier log to explain.")
    text = data.decode("utf-8", errors="replace")
    if _looks_binary(text[:4096]):
        raise NotAVerifierLog("The input is a binary file, not a verifier log (text as bpftool or libbpf prints it).")
    return text


def read_log_file(path: Path) -> LogDocument:
    """Stream a log file: the whole text is never held in memory."""
    with open(path, "rb") as raw:
        head = raw.read(4096)
        while head and not head.strip():  # leading blank lines, however many
            head = raw.read(4096)
    read_text(head if head.strip() else b"")  # empty or binary: one sentence
    size = path.stat().st_size
    with open(path, encoding="utf-8", errors="replace", newline=None) as stream:
        return _read_lines(map(str.rstrip, stream, repeat("\n")), eager=size <= EAGER_BYTES)


def read_log(text: str) -> LogDocument:
    """Parse a verifier log (bare, or inside libbpf/bpftool output) into traces."""
    return _read_lines(iter(text.splitlines()), eager=len(text) <= EAGER_BYTES)


# cilium/ebpf's error for a map it could not create: "map per_queue: map create: invalid argument".
_GO_MAP_ERROR = re.compile(r"map [\w.]+: ")
# The loaders' own lines outside a program's log (with _GO_MAP_ERROR).
_LOADER_PREFIXES = ("Error: ", _VDOCTOR_PREFIX, *_BPFTRACE_PREFIXES)
# The first three characters of every prefix _read_lines looks for: a cheap test that rules
# them all out for most lines (the verifier's own).
_LOADER_HEADS = frozenset(prefix[:3] for prefix in (
    _LIBBPF_PREFIX, *_BPFTRACE_BEGIN, *_BPFTRACE_PREFIXES, *_LOADER_PREFIXES, "map "))
# cilium/ebpf's one-line error (%v, as log.Fatal(err) prints it): the cause, then the log's
# last line or two joined by ": ", then how much it left out.
# "program count_queue: load program: permission denied: 7: (79) r1 = *(u64 *)(r0 +0):
#  R0 invalid mem access 'map_value_or_null' (11 line(s) omitted)"
_GO_SUMMARY = re.compile(r"(?:.*?\bprogram (\w+): )?load program: ([a-z ]+): (.+?)"
                         r"(?: \(((?:truncated, )?[0-9]+ line\(s\) omitted|truncated)\))?")
_GO_PROGRAM = re.compile(r"\bprogram (\w+): |^(\w+): ")


def _go_summary(line: str) -> list[str] | None:
    """The lines of a cilium/ebpf one-line error, framed as libbpf frames a log."""
    found = _GO_SUMMARY.fullmatch(line)
    if found is None:
        return None
    name, cause, tail, cut = found.groups()
    begin = f"{_LIBBPF_PREFIX}prog '{name}': {_BEGIN_MARKERS[0]}" if name else _LIBBPF_PREFIX + _BEGIN_MARKERS[0]
    logged = [tail]
    if tail[:1].isdigit() and ") " in tail and ": " in tail[tail.find(") "):]:
        # The instruction the error is about, then the error: "7: (79) r1 = ...: R0 ..."
        split = tail.find(": ", tail.find(") "))
        logged = [tail[:split], tail[split + 2:]]
    head = [f"({cut})"] if cut else []
    return [begin, *head, *logged, _END_MARKERS[0], line[: found.start(3) - 2]]


def _unwrap_go_errors(lines: Iterator[str]) -> Iterator[str]:
    """cilium/ebpf's VerifierError, as a Go program prints it with %+v or %-Nv:
    "count_queue: load program: permission denied:" and then the log, each line after a
    tab. The header is kept as a loader line; the log is read as libbpf's BEGIN/END pair
    would frame it, under the program's name when the header gives one."""
    held: str | None = None
    inside = False
    for line in lines:
        if held is not None:
            header, held = held, None
            yield header
            if line.startswith("\t"):
                found = _GO_PROGRAM.search(header)
                name = next((g for g in found.groups() if g), None) if found else None
                yield f"{_LIBBPF_PREFIX}prog '{name}': {_BEGIN_MARKERS[0]}" if name else _LIBBPF_PREFIX + _BEGIN_MARKERS[0]
                inside = True
        if inside:
            if line.startswith("\t"):
                yield line[1:]
                continue
            yield _END_MARKERS[0]
            inside = False
        if line.endswith(":") and not line[:1].isspace() and ": " in line and not line.startswith(_LIBBPF_PREFIX):
            held = line
            continue
        if "load program: " in line:
            summary = _go_summary(line)
            if summary:
                yield from summary
                continue
        yield line
    if held is not None:
        yield held
    if inside:
        yield _END_MARKERS[0]


@dataclass(frozen=True, slots=True)
class _Wrapped:
    """A libbpf/bpftool line outside any program's log, where it stood."""

    order: int  # position among all such lines
    gap: int  # how many program logs began before it
    owner: str | None  # the program it names ("prog 'x': ..."), if any
    body: str


def _read_lines(lines: Iterator[str], eager: bool) -> LogDocument:
    sections: list[_Section] = []
    bare = _Section(None, _TraceBuilder(None, eager))  # lines outside any BEGIN/END pair
    bare_lines = 0
    wrapper: list[_Wrapped] = []
    current: _Section | None = None
    line_numbers: dict[int, int] = {}

    text_lines = loader_lines = 0  # lines; those a loader's prefix marks

    def wrapped(body: str) -> None:
        wrapper.append(_Wrapped(len(wrapper), len(sections), _prog_name(body), body))

    in_btf_log = False
    for line in _unwrap_go_errors(lines):
        text_lines += 1
        if in_btf_log:
            loader_lines += 1
            in_btf_log = line.strip() != _BTF_LOG_MARKERS[1]
            continue
        loaders = line[:3] in _LOADER_HEADS  # else none of the prefixes below can match
        if loaders and line.startswith(_LIBBPF_PREFIX):
            loader_lines += 1
            body = line[len(_LIBBPF_PREFIX):]
            if body.strip() == _BTF_LOG_MARKERS[0]:
                in_btf_log = True
                continue
            if any(marker in body for marker in _BEGIN_MARKERS):
                if current is not None:
                    current.end_at = len(wrapper)
                current = _Section(_prog_name(body), _TraceBuilder(_prog_name(body), eager), has_log=True,
                                   ended=False, begin_at=len(wrapper), end_at=len(wrapper))
                sections.append(current)
                continue
            if current is not None and any(marker in body for marker in _END_MARKERS):
                current.ended, current.end_at, current = True, len(wrapper), None
                continue
            wrapped(body)
            continue
        if loaders and line.startswith(_BPFTRACE_BEGIN) and line.rstrip() in _BPFTRACE_BEGIN:
            if current is not None:
                current.end_at = len(wrapper)
            current = _Section(None, _TraceBuilder(None, eager), has_log=True, ended=False,
                               begin_at=len(wrapper), end_at=len(wrapper))
            sections.append(current)
            continue
        if loaders and current is not None and line.startswith(_BPFTRACE_PREFIXES) and current.name is None:
            current.ended, current.end_at, current = True, len(wrapper), None
        if current is not None:
            if "-- END" in line and line.strip() in _END_MARKERS:
                current.ended, current.end_at, current = True, len(wrapper), None
                continue
            number = line_numbers.get(id(current), 0) + 1
            line_numbers[id(current)] = number
            current.builder.add(number, line)
            continue
        if loaders and (line.startswith(_LOADER_PREFIXES) or _GO_MAP_ERROR.match(line)):
            loader_lines += 1
            wrapped(line.removeprefix(_VDOCTOR_PREFIX))
            continue
        if not sections:
            # A bare verifier log, as `bpftool prog load -d` without libbpf prefixes or a
            # paste of the kernel's buffer.
            bare_lines += 1
            bare.builder.add(bare_lines, line)
            if not bare.has_log and line.strip():
                bare.has_log = True
        elif line.strip():
            wrapped(line)
    if not sections and wrapper and not bare.builder.steps and bare.builder.stats is None:
        # No verifier log, only a loader's lines: its own unprefixed words among them
        # ("failed to load BPF object: -22") are the loader's too, not the verifier's.
        for message in bare.builder.messages:
            wrapped(message.text)
        bare.builder.messages.clear()
        bare.has_log = False
    names = list(dict.fromkeys(w.owner for w in wrapper if w.owner))
    if not sections and not bare.has_log and names:
        # Only libbpf's lines, naming the programs: one trace for each (an accepted
        # program's `bpftool -d` output has no log at all on older libbpf).
        sections = [_Section(name, _TraceBuilder(name, eager)) for name in names]
        wrapper = [replace(w, gap=0) for w in wrapper]
    if not sections:
        sections.append(bare)
    _give_libbpf_lines(sections, wrapper)
    if len(sections) == 1 and sections[0].name is None and names:
        sections[0].name = sections[0].builder.name = names[0]
    document = LogDocument(tuple(section.builder.build(section) for section in sections))
    if not any(_is_log(p) for p in document.programs) or _prose(document, loader_lines, text_lines):
        raise NotAVerifierLog(
            "This is not a verifier log: it has no instruction, state or statistics line "
            "and no libbpf load error."
        )
    return document


def _give_libbpf_lines(sections: list[_Section], wrapper: list[_Wrapped]) -> None:
    """Give each program the libbpf lines that name it, and the lines that name no program
    ("failed to load object") nearest it: those of the nearest gap between logs before it
    and after it. When several programs share one output (bpftool loads a whole object), a
    program whose own log ends accepted keeps only its own lines. Linear in the lines, also
    for a file of a thousand outputs one after the other."""
    owned: dict[str, list[_Wrapped]] = {}
    gaps: dict[int, list[_Wrapped]] = {}
    by_name: dict[str, list[_Section]] = {}
    for section in sections:
        if section.name is not None:
            by_name.setdefault(section.name, []).append(section)
    begins = {name: [s.begin_at for s in named] for name, named in by_name.items()}
    for line in wrapper:
        if line.owner is None:
            gaps.setdefault(line.gap, []).append(line)
            continue
        named = by_name.get(line.owner)
        if named:
            # Of the programs of that name (one per output in a file of several outputs),
            # the one whose log is nearest the line, before or after it.
            after = bisect.bisect_right(begins[line.owner], line.order)
            before = named[after - 1] if after else None
            following = named[after] if after < len(named) else None
            nearest = before if following is None or (
                before is not None and line.order - before.end_at <= following.begin_at - line.order) else following
            owned.setdefault(id(nearest), []).append(line)
    filled = sorted(gaps)
    several = len(sections) > 1
    left = -1  # index into `filled` of the nearest non-empty gap at or before the section
    for index, section in enumerate(sections):
        while left + 1 < len(filled) and filled[left + 1] <= index:
            left += 1
        mine = list(owned.get(id(section), ()))
        accepted_alone = several and section.builder.stats is not None and not section.builder.messages
        if not accepted_alone:
            if left >= 0:
                mine.extend(gaps[filled[left]])
            if left + 1 < len(filled):
                mine.extend(gaps[filled[left + 1]])
        mine.sort(key=lambda line: line.order)
        section.libbpf.extend(line.body for line in mine)


# A text with no verifier line where fewer than one line in this many (blank ones too) is a
# loader's (libbpf:, Error:, vdoctor: ...) is prose that quotes a few of them (a README), not
# a loader's output.
_PROSE_RATIO = 20


def _prose(document: LogDocument, loader_lines: int, text_lines: int) -> bool:
    no_verifier_line = not any(p.steps or p.stats for p in document.programs)
    return no_verifier_line and loader_lines * _PROSE_RATIO < text_lines


def _is_log(program: ProgramTrace) -> bool:
    # A program libbpf names counts too: its load said something about it.
    return bool(program.steps or program.stats or (program.load_failed and program.libbpf_lines)
                or (program.name is not None and program.libbpf_lines))
