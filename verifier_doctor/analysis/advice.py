"""Why, in plain words, and how to fix it: one entry per error class.

Each explanation says what the verifier proved and what it could not prove, then the
specific reason the provenance found (a load from map memory, a helper's result...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import ProgramTrace
from .provenance import Origin, Provenance

if TYPE_CHECKING:
    from .diagnosis import ErrorInfo

_GENERAL: dict[str, tuple[str, tuple[str, ...]]] = {
    "scalar-deref": (
        "The program reads or writes memory through {reg}, but the verifier only knows {reg} as a "
        "plain number (a 'scalar'), not as a pointer. Only values the verifier itself has tracked "
        "as pointers (to the stack, a map value, the packet, the context) may be dereferenced.",
        ("Dereference only pointers the verifier tracks: keep the pointer in a register or on the stack, "
         "not in memory it cannot follow.",),
    ),
    "null-deref": (
        "{reg} may be NULL here: it comes from a function that returns NULL on failure (such as "
        "bpf_map_lookup_elem), and no check on this path proves it is not NULL.",
        ("Check the pointer right after you get it: `if (!p) return 0;` and use it only inside the "
         "checked branch.",),
    ),
    "map-value-bounds": (
        "The access through {reg} may fall outside the map value. The verifier checks every access "
        "against the value's size with the offset's proven minimum and maximum; here it could not "
        "prove the offset stays inside.",
        ("Bound the index right before the access, on the same variable the access uses: "
         "`if (i >= MAX) return 0;` (unsigned) or mask it: `i &= MAX - 1;` with MAX a power of two.",
         "Use an unsigned type for indexes, so the verifier does not have to prove a lower bound."),
    ),
    "unbounded-math": (
        "The program adds a number with no proven lower bound to a pointer. The verifier refuses "
        "such arithmetic, since the result could point anywhere below the object.",
        ("Check the number before the arithmetic: `if (off < 0 || off > MAX) return 0;`, or use an "
         "unsigned type.",),
    ),
    "packet-bounds": (
        "The program reads or writes packet data through {reg} without having proven that those bytes "
        "lie before data_end. Every packet access needs a comparison against data_end on the same path.",
        ("Compare before you read: `if ((void *)(hdr + 1) > data_end) return XDP_DROP;`, then read "
         "through the same pointer.",
         "Recompute data and data_end after any helper that can change the packet (bpf_xdp_adjust_head, "
         "bpf_skb_pull_data)."),
    ),
    "stack-access": (
        "The program reads stack memory the verifier cannot prove was written, or accesses the stack "
        "at an offset it cannot prove.",
        ("Initialise stack variables and structs before passing them to helpers: `struct x v = {};` or "
         "`__builtin_memset(&v, 0, sizeof(v));`.",
         "Use constant offsets into stack arrays, or bound the index first."),
    ),
    "uninit-register": (
        "The program reads {reg} before any value was written to it on this path. Registers R1-R5 are "
        "destroyed by every call, so a value kept in them across a call is lost.",
        ("Write the register before reading it on every path; keep values that must survive a call in "
         "R6-R9 (clang does this for ordinary C; this error usually comes from inline assembly).",),
    ),
    "context-access": (
        "The program accesses the context (its argument) at an offset or size this program type does "
        "not allow, or writes a field that is read-only.",
        ("Read context fields through the struct the program type defines (struct xdp_md, struct "
         "__sk_buff) with their declared sizes, and do not add offsets to the context pointer.",),
    ),
    "helper-arg": (
        "A helper or kfunc got an argument of the wrong kind: the verifier checks every argument "
        "against the helper's prototype.",
        ("Pass what the helper's prototype asks for: a map for map arguments (`&my_map`), an "
         "initialised stack buffer for memory, a checked pointer for pointer arguments.",),
    ),
    "helper-unavailable": (
        "The program calls a helper this kernel or this program type does not provide (or a "
        "GPL-only helper from a program without a GPL-compatible license).",
        ("Use a helper available to this program type and kernel (bpftool feature probe lists them), "
         "or change the program type.",
         "GPL-only helpers need `char LICENSE[] SEC(\"license\") = \"GPL\";`."),
    ),
    "too-complex": (
        "The verifier gave up: it explores every path, and this program has too many paths or too many "
        "instructions on them (the limit is 1 million processed instructions), or uses too much stack.",
        ("Make loops bounded by a small constant, or use bpf_loop (5.17+) / open-coded iterators "
         "(6.4+) so the body is verified once.",
         "Split the program into subprograms or tail calls; keep stack use under 512 bytes."),
    ),
    "infinite-loop": (
        "The verifier found a loop it cannot prove ends (or, before 5.3, any loop at all).",
        ("Give every loop a constant upper bound the verifier can see, or use bpf_loop (5.17+).",),
    ),
    "unreleased-reference": (
        "The program acquired a reference (a socket, a ring buffer record, a kernel object) and can reach "
        "its exit without releasing it.",
        ("Release what you acquire on every path: bpf_sk_release, bpf_ringbuf_submit/discard, "
         "bpf_obj_drop.",),
    ),
    "lock-misuse": (
        "A bpf_spin_lock is used in a way the verifier forbids: no helper calls while holding it, one "
        "lock at a time, always released on the same path, and only inside a map value.",
        ("Keep the critical section to plain loads and stores; release the lock before calling helpers.",
         "Put the `struct bpf_spin_lock` inside a map value (an array or hash map), not in a global variable."),
    ),
    "pointer-arith": (
        "The program does arithmetic on a pointer that the verifier does not allow (bitwise operations, "
        "multiplication, subtracting a pointer from a number, or arithmetic on a nullable pointer).",
        ("Only add or subtract bounded numbers to pointers; do integer work on offsets, then add the "
         "offset to the pointer once.",),
    ),
    "return-value": (
        "The value the program returns is outside the range its program type allows, or R0 was not set "
        "on some path.",
        ("Return one of the values the program type defines (e.g. 0 or 1 for cgroup_skb, XDP_* for XDP) "
         "on every path.",),
    ),
    "load-error": (
        "The program was refused before or outside the verifier: while creating a map, loading BTF, "
        "resolving relocations or kfuncs, or checking the license.",
        ("Read libbpf's message above; a `bpf_spin_lock` in a global variable is refused on kernels "
         "whose global data is memory-mapped (error -524): put the lock in a map value instead.",),
    ),
    "other": (
        "The verifier rejected the program for a reason verifier-doctor does not classify yet; the "
        "message is the kernel's own.",
        ("Look up the message in the kernel's verifier documentation, and rerun with log level 2 for "
         "the full register state.",),
    ),
}

_MAP_POINTER_FIX = (
    "Store offsets, not pointers, in map memory: the verifier forgets that a value loaded from a map "
    "was a pointer. Keep `__u32 next_off` and turn it back into a pointer as `pool + next_off` after "
    "bounding it (`if (next_off > POOL_SIZE - sizeof(struct block)) return 0;`)."
)
_ALLOCATOR_FIX = (
    "If you need malloc, use the allocator verifier-doctor ships: `#include \"static_malloc.h\"`, "
    "call static_malloc/static_free, and follow stored pointers with `n = static_ptr(n->next)` "
    "(or run `vdoctor fix prog.bpf.c`)."
)


def advise(error: "ErrorInfo", provenance: Provenance | None, trace: ProgramTrace) -> tuple[str, list[str]]:
    base, fixes = _GENERAL.get(error.error_class, _GENERAL["other"])
    text = base.format(reg=error.register or "the register")
    suggestions = list(fixes)
    specific = _specific(error, provenance)
    if specific is not None:
        reason, extra = specific
        text = f"{text} {reason}"
        suggestions = extra + suggestions
    return text, suggestions


def _where(provenance: Provenance) -> str:
    step = provenance.origin_step
    if step is None:
        return ""
    where = f" at instruction {step.insn.index} ({step.insn.text})"
    if step.source is not None:
        where += f", `{step.source.text}`"
    return where


def _specific(error: "ErrorInfo", provenance: Provenance | None) -> tuple[str, list[str]] | None:
    if provenance is None:
        return None
    where = _where(provenance)
    cls = error.error_class
    origin = provenance.origin
    base = provenance.base_value
    if cls == "scalar-deref" and origin is Origin.LOADED:
        if base is not None and base.kind.startswith("map_value"):
            return (
                f"It became a number{where}: that instruction loads 8 bytes from map memory, and the "
                "verifier treats anything loaded from a map value as a scalar, even if the program "
                "stored a pointer there. A linked structure in a map (an allocator's free list, a "
                "list's next field) hits this on the first pointer it follows.",
                [_MAP_POINTER_FIX, _ALLOCATOR_FIX],
            )
        if base is not None and base.kind == "ctx":
            return (f"It was read from the context{where}; that field is a number, not a pointer the "
                    "verifier tracks.",
                    ["Read kernel memory with bpf_probe_read_kernel() or use BTF-typed access (tp_btf, fentry)."])
        return (f"It was loaded from memory{where}; the verifier does not keep pointer types for values "
                "loaded from memory it does not track.", [_MAP_POINTER_FIX])
    if cls == "scalar-deref" and origin is Origin.HELPER_RESULT:
        return (f"It is the result of {provenance.detail}{where}, which returns a number, not a pointer.",
                ["Read through such addresses with bpf_probe_read_kernel(), or use the BTF-typed variant of "
                 "the helper (e.g. bpf_get_current_task_btf)."])
    if cls == "scalar-deref" and origin is Origin.CONSTANT:
        return (f"It was set to the constant {provenance.detail}{where}; a number is never a valid pointer.", [])
    if cls == "null-deref" and origin is Origin.HELPER_RESULT:
        return (f"The pointer comes from {provenance.detail}{where}, which returns NULL when it finds "
                "nothing.", [])
    if cls in ("map-value-bounds", "packet-bounds", "unbounded-math") and origin is Origin.LOADED:
        source = "the packet" if base is not None and base.kind.startswith("pkt") else "memory"
        return (f"The offset was read from {source}{where}, so it can be any value; no check between "
                "there and the access bounds it.", [])
    if cls == "uninit-register" and origin is Origin.CLOBBERED:
        return (f"The call to {provenance.detail}{where} destroyed it: R1-R5 do not survive calls.", [])
    if cls == "return-value" and provenance.origin_step is not None:
        return (f"R0 got its value{where}.", [])
    return None
