"""Turns the grammar's parse trees into the typed model (verifier_doctor.model)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import (
    Instruction,
    MemRef,
    OpKind,
    RegValue,
    SourceLine,
    StackSlot,
    State,
    Stats,
    Tnum,
)
from lark import Token, Transformer, v_args

# v5.10 printed bounds as "umax_value=", v5.18 shortened them to "umax=".
_OLD_BOUND_SUFFIX = "_value"


class Unconvertible(ValueError):
    """A token the grammar matched but no number can be made of (a leading-zero run past
    what int() takes, thousands of digits): the line it is on is reported as unparsed."""


def _int(token: Token | str) -> int:
    """A decimal or 0x number of at most 64 bits; "00001" is 1. Anything else (thousands of
    digits, which int() refuses past 4300, "²", "0x") raises Unconvertible, never a bare
    ValueError."""
    text = str(token)
    digits = text[1:] if text[:1] in "+-" else text
    # The kernel prints 64-bit values at most: 20 decimal digits, 16 hex digits.
    if len(digits) > 24 or not digits.isascii():
        raise Unconvertible(text[:40])
    try:
        if digits[:2] in ("0x", "0X"):
            return int(text, 16)
        if not digits.isdigit():
            raise Unconvertible(text[:40])
        return int(text, 10)
    except ValueError:
        raise Unconvertible(text[:40]) from None


def _signed64(value: int) -> int:
    """A number the kernel printed as the hex of a negative s64 ("fp0xffffffffe0000001"),
    back to its sign."""
    return value - (1 << 64) if value >= 1 << 63 else value


# BPF_JMP | BPF_CALL: the instruction libbpf poisons ("<invalid kfunc call>") was a call.
_CALL_OPCODE = 0x85


def _reg(token: Token | str) -> int:
    return _int(str(token)[1:])


def _is_wide(token: Token | str) -> bool:
    return str(token)[0] == "r"


def _mem_size(mem_type: Token) -> tuple[int, bool]:
    text = str(mem_type)
    return _int(text[1:]) // 8, text[0] == "s"


@dataclass(frozen=True, slots=True)
class _Operand:
    reg: int | None
    imm: int | None


@dataclass(frozen=True, slots=True)
class _Partial:
    """An instruction without its index, opcode and text, which the line supplies."""

    kind: OpKind
    dst: int | None = None
    srcs: tuple[int, ...] = ()
    mem: MemRef | None = None
    imm: int | None = None
    op: str | None = None
    pc_offset: int | None = None
    callee: str | None = None
    wide: bool = True


@dataclass(frozen=True, slots=True)
class InsnLine:
    insn: Instruction
    inline_state: State | None
    pending: tuple[int, State] | None
    # v7.2+: the next instruction's source line printed after this one on its line.
    next_source: SourceLine | None = None


@dataclass(frozen=True, slots=True)
class BranchLine:
    from_insn: int
    to_insn: int
    state: State | None  # None when the line says "safe" (pruned)


def _operand(value: object) -> _Operand:
    if isinstance(value, Token) and value.type == "REG":
        return _Operand(_reg(value), None)
    assert isinstance(value, int)
    return _Operand(None, value)


def _state(items: list) -> State:
    frame = 0
    registers: dict[int, RegValue] = {}
    written: set[int] = set()
    stack: list[StackSlot] = []
    refs: tuple[int, ...] = ()
    callback = None
    for kind, payload in items:
        if kind == "frame":
            frame = payload
        elif kind == "reg":
            regno, is_written, value = payload
            registers[regno] = value
            if is_written:
                written.add(regno)
        elif kind == "slot":
            stack.append(payload)
        elif kind == "refs":
            refs = payload
        elif kind == "callback":
            callback = payload
    return State(frame, tuple(registers.items()), frozenset(written), tuple(stack), refs, callback)


def _liveness_written(label: str) -> bool:
    # "R1_w", "fp-8_w", "R0_rw": the verifier's write mark (REG_LIVE_WRITTEN).
    _, _, marks = label.partition("_")
    return "w" in marks


@v_args(inline=True)
class LogLineTransformer(Transformer):
    """One transformer for every line rule; each rule yields a model object."""

    # --- instructions -----------------------------------------------------------------
    def insn_line(self, index, opcode, partial, *tail):
        inline_state = None
        pending = None
        next_source = None
        for part in tail:
            if isinstance(part, State):
                inline_state = part
            elif isinstance(part, tuple):
                pending = part
            elif isinstance(part, SourceLine):
                next_source = part
        idx = _int(index)
        target = None if partial.pc_offset is None else idx + partial.pc_offset + 1
        insn = Instruction(
            index=idx,
            opcode=int(str(opcode), 16),
            text="",
            kind=partial.kind,
            dst=partial.dst,
            srcs=partial.srcs,
            mem=partial.mem,
            imm=partial.imm,
            op=partial.op,
            target=target,
            callee=partial.callee,
            wide=partial.wide,
        )
        return InsnLine(insn, inline_state, pending, next_source)

    def poisoned_insn_line(self, index, text):
        # "6: <invalid kfunc call>": libbpf's words for a call instruction it poisoned.
        insn = Instruction(index=_int(index), opcode=_CALL_OPCODE, text=str(text), kind=OpKind.CALL, dst=0,
                           callee=str(text))
        return InsnLine(insn, None, None)

    def unknown_insn_line(self, index, text):
        # "1: BUG_db": an opcode the disassembler does not know; its two hex digits are the opcode.
        insn = Instruction(index=_int(index), opcode=int(str(text)[-2:], 16), text=str(text), kind=OpKind.OTHER)
        return InsnLine(insn, None, None)

    def inline_state(self, state):
        return state

    def pending_state(self, index, state):
        return (_int(index), state)

    def number(self, token):
        return _int(token)

    def mem_ref(self, base, offset):
        return (_reg(base), _int(offset))

    def alu(self, dst, op, operand):
        src = _operand(operand)
        srcs = (_reg(dst),) + ((src.reg,) if src.reg is not None else ())
        return _Partial(OpKind.ALU, dst=_reg(dst), srcs=srcs, imm=src.imm, op=str(op), wide=_is_wide(dst))

    def neg(self, dst, src):
        return _Partial(OpKind.ALU, dst=_reg(dst), srcs=(_reg(src),), op="neg", wide=_is_wide(dst))

    def endian(self, dst, endian, src):
        return _Partial(OpKind.ALU, dst=_reg(dst), srcs=(_reg(src),), op=str(endian), wide=_is_wide(dst))

    def move(self, dst, operand):
        src = _operand(operand)
        srcs = (src.reg,) if src.reg is not None else ()
        return _Partial(OpKind.MOVE, dst=_reg(dst), srcs=srcs, imm=src.imm, op="=", wide=_is_wide(dst))

    def move_sx(self, dst, _type, src):
        return _Partial(OpKind.MOVE, dst=_reg(dst), srcs=(_reg(src),), op="=(sx)", wide=_is_wide(dst))

    def addr_space_cast(self, dst, src, _from, _to):
        return _Partial(OpKind.MOVE, dst=_reg(dst), srcs=(_reg(src),), op="addr_space_cast")

    def percpu_addr(self, dst, src):
        return _Partial(OpKind.MOVE, dst=_reg(dst), srcs=(_reg(src),), op="percpu")

    def load(self, dst, mem_type, ref):
        size, signed = _mem_size(mem_type)
        base, offset = ref
        return _Partial(OpKind.LOAD, dst=_reg(dst), mem=MemRef(base, offset, size, signed), op="=")

    def store(self, mem_type, ref, operand):
        size, signed = _mem_size(mem_type)
        base, offset = ref
        src = _operand(operand)
        srcs = (src.reg,) if src.reg is not None else ()
        return _Partial(OpKind.STORE, srcs=srcs, mem=MemRef(base, offset, size, signed), imm=src.imm, op="=")

    def atomic_op(self, mem_type, ref, op, src):
        size, _ = _mem_size(mem_type)
        return _Partial(OpKind.ATOMIC, srcs=(_reg(src),), mem=MemRef(ref[0], ref[1], size), op=str(op))

    def atomic_fetch(self, dst, fn, mem_type, ref, src):
        size, _ = _mem_size(mem_type)
        return _Partial(OpKind.ATOMIC, dst=_reg(dst), srcs=(_reg(src),), mem=MemRef(ref[0], ref[1], size), op=str(fn))

    def atomic_cmpxchg(self, dst, fn, mem_type, ref, old, new):
        size, _ = _mem_size(mem_type)
        return _Partial(
            OpKind.ATOMIC, dst=_reg(dst), srcs=(_reg(old), _reg(new)), mem=MemRef(ref[0], ref[1], size), op=str(fn)
        )

    def load_acquire(self, dst, fn, mem_type, ref):
        size, _ = _mem_size(mem_type)
        return _Partial(OpKind.LOAD, dst=_reg(dst), mem=MemRef(ref[0], ref[1], size), op=str(fn))

    def store_release(self, fn, mem_type, ref, src):
        size, _ = _mem_size(mem_type)
        return _Partial(OpKind.STORE, srcs=(_reg(src),), mem=MemRef(ref[0], ref[1], size), op=str(fn))

    def goto(self, _goto, pc_offset):
        return _Partial(OpKind.JUMP, pc_offset=_int(str(pc_offset)[2:].lstrip("+")), op=str(_goto))

    def goto_indirect(self, reg):
        return _Partial(OpKind.JUMP, srcs=(_reg(reg),), op="gotox")

    def cond_jump(self, left, cmp, right, _goto, pc_offset):
        src = _operand(right)
        srcs = (_reg(left),) + ((src.reg,) if src.reg is not None else ())
        return _Partial(
            OpKind.COND_JUMP, srcs=srcs, imm=src.imm, op=str(cmp), pc_offset=_int(str(pc_offset)[2:].lstrip("+")),
            wide=_is_wide(left),
        )

    def call(self, target):
        text = str(target)
        if text.startswith("pc"):
            return _Partial(OpKind.CALL, dst=0, callee=text, pc_offset=_int(text[2:].lstrip("+")))
        return _Partial(OpKind.CALL, dst=0, callee=text)

    def exit(self):
        return _Partial(OpKind.EXIT, srcs=(0,))

    def ld_imm64_ref(self, dst, ref):
        text = str(ref)
        imm = _int(text) if text.startswith("0x") else None
        return _Partial(OpKind.LD_IMM64, dst=_reg(dst), imm=imm, callee=None if imm is not None else text)

    def ld_abs(self, dst, mem_type, *where):
        size, _ = _mem_size(mem_type)
        srcs = tuple(_reg(w) for w in where if isinstance(w, Token) and w.type == "REG")
        # Legacy LD_ABS/LD_IND always write R0 and read the skb from R6.
        return _Partial(OpKind.LD_ABS, dst=0, srcs=(6,) + srcs, imm=size)

    def nospec(self):
        return _Partial(OpKind.OTHER)

    # --- states -------------------------------------------------------------------------
    def state_line(self, index, state):
        return (_int(index), state)

    def bare_state_line(self, state):
        return state

    def state_items(self, *items):
        return _state(list(items))

    def reg_state(self, label, value):
        text = str(label)
        regno = _int(text[1:].partition("_")[0])
        return ("reg", (regno, _liveness_written(text), value))

    def stack_state(self, label, *items):
        # "fp-8", "fp-16_w", and frame-qualified "fp[1]-8" (the slot of frame 1); the value
        # may follow the marks of the bytes a narrow spill left unwritten ("????scalar()").
        text = str(label)
        offset = -_int(text.partition("-")[2].partition("_")[0])
        written = _liveness_written(text)
        if not items:  # 6.1's "fp-8_w=": a spilled scalar whose range 6.1 does not print
            return ("slot", StackSlot(offset, written, value=RegValue("scalar")))
        value = items[-1]
        if isinstance(value, Token):  # SLOT_MARKS
            return ("slot", StackSlot(offset, written, marks=str(value)))
        marks = str(items[0]) if len(items) > 1 else None
        return ("slot", StackSlot(offset, written, value=value, marks=marks))

    def frame_marker(self, token):
        return ("frame", _int(str(token)[5:-1]))

    def refs(self, *ids):
        return ("refs", tuple(_int(i) for i in ids))

    def callback_mark(self, token):
        return ("callback", str(token))

    def const_value(self, token):
        text = str(token)
        precise = text.startswith("P")
        return RegValue("scalar", const=_int(text.lstrip("P")), precise=precise)

    def fp_value(self, token):
        # "fp-8", "fp0x1fffffff", "fp[0]-16" (a slot of frame 0's stack).
        text = str(token)[2:]
        frame = None
        if text.startswith("["):
            index, _, text = text[1:].partition("]")
            frame = _int(index)
        return RegValue("fp", const=_signed64(_int(text)), frame=frame)

    def inv_const(self, token):
        # v5.10: "inv0", "invP0", "invP-1".
        text = str(token)[3:]
        precise = text.startswith("P")
        return RegValue("scalar", const=_int(text.lstrip("P")), precise=precise)

    def typed_value(self, name, *attrs):
        kind = str(name)
        frame = None
        if attrs and isinstance(attrs[0], Token) and attrs[0].type == "FRAME_INDEX":  # "fp[0](...)"
            frame, attrs = _int(str(attrs[0])[1:-1]), attrs[1:]
        precise = False
        if kind.startswith("P") and kind[1:2].islower():  # v6.x "Pscalar(...)"
            kind, precise = kind[1:], True
        if kind.endswith("P") and kind[:-1] == "inv":  # v5.10 "invP(...)"
            kind, precise = "inv", True
        if kind == "P" and not attrs:  # 6.1's "fp-8=P": a precise spilled scalar, range unprinted
            kind, precise = "scalar", True
        if kind == "inv":  # renamed "scalar" in v5.18
            kind = "scalar"
        flat: list[tuple[str, object]] = []
        for attr in attrs:
            if attr is not None:
                flat.extend(attr)
        return RegValue(kind, precise=precise, attrs=tuple(flat), frame=frame)

    def attr(self, *parts):
        *names, value = parts
        out = []
        for name in names:
            key = str(name).rstrip("=")
            if key.endswith(_OLD_BOUND_SUFFIX):
                key = key[: -len(_OLD_BOUND_SUFFIX)]
            out.append((key, value))
        return out

    def attr_flag(self, token):
        return [(str(token), True)]

    def attr_number(self, token):
        return _int(token)

    def attr_tnum(self, value, mask):
        return Tnum(_int(value), _int(mask))

    def attr_word(self, token):
        return str(token)

    def attr_linked(self, token):
        # "id=2+3": a scalar linked to another by a constant delta (v6.8+); kept as text.
        return str(token)

    # --- other lines --------------------------------------------------------------------
    def branch_line(self, from_insn, to_insn, *rest):
        # An optional note ("(cb)"), then the state or "safe".
        state = None if isinstance(rest[-1], Token) else rest[-1]
        return BranchLine(_int(from_insn), _int(to_insn), state)

    def source_line(self, token):
        text = str(token)[1:].strip()
        # v6.2+: "text @ file.c:N".
        body, sep, where = text.rpartition(" @ ")
        if sep:
            file, colon, line = where.rpartition(":")
            if colon and line.isascii() and line.isdigit() and len(line) < 10:
                return SourceLine(body.strip(), file, int(line))
        return SourceLine(text)

    next_source = source_line  # "; text @ file:N" after an instruction (v7.2+)

    def stats_line(self, processed, limit, *pairs):
        return Stats(_int(processed), _int(limit), tuple(pairs))

    def stat_pair(self, name, value):
        return (str(name), _int(value))

    def libbpf_line(self, token):
        return str(token)


@dataclass(frozen=True, slots=True)
class DiagLocation:
    function: str
    file: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class DiagMarked:
    number: int  # a source line number, or an instruction index
    text: str


@dataclass(frozen=True, slots=True)
class DiagNote:
    text: str


@v_args(inline=True)
class DiagnosticsTransformer(Transformer):
    """The lines inside v7.3's diagnosis block (grammar rules diag_*); mixed into the
    line transformer below so one parser serves every rule."""

    def diag_location(self, function, place):
        file, line, column = str(place).rsplit(":", 2)
        return DiagLocation(str(function), file, _int(line), _int(column))

    def diag_marked(self, number, rest=None):
        return DiagMarked(_int(number), str(rest or "").rstrip())

    def diag_note(self, rest=None):
        return DiagNote(str(rest or "").strip())


class VerifierLogTransformer(DiagnosticsTransformer, LogLineTransformer):
    """Every line rule of grammars/verifier_log.lark."""
