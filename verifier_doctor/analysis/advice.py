"""Why, in plain words, and how to fix it: one lesson per error class.

A `Lesson` is data: what the verifier proved and what it could not prove (for a
newcomer), the fixes, each with a small before/after C snippet, and the kernel
versions where the rule or its wording changed. `advise` turns it into the
diagnosis's explanation and suggestions, adding the specific reason the provenance
found (a load from map memory, a helper's result...); `lesson` gives the whole
entry to whoever wants the snippets (the catalogue, a renderer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..model import ProgramTrace
from .provenance import Origin, Provenance

if TYPE_CHECKING:
    from .diagnosis import ErrorInfo


@dataclass(frozen=True)
class Fix:
    """One way out: what to do, and the smallest code that shows it (before -> after)."""

    text: str
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class Lesson:
    """Everything verifier-doctor teaches about one error class."""

    error_class: str
    title: str  # one line, for a list of classes
    explanation: str  # "{reg}" stands for the offending register
    fixes: tuple[Fix, ...]
    versions: tuple[str, ...] = ()  # where the rule or its wording changed, oldest first

    @property
    def before(self) -> str:
        """The snippet of the first fix that has one: the mistake."""
        return next(f.before for f in self.fixes if f.before)

    @property
    def after(self) -> str:
        """The same code, fixed."""
        return next(f.after for f in self.fixes if f.after)

    def explain(self, register: str | None = None) -> str:
        return self.explanation.format(reg=register or "the register")


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

_LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "scalar-deref",
        "Dereferencing a number the verifier does not know to be a pointer",
        "The verifier tracks a type for every register. It proved that {reg} holds a plain number "
        "(a 'scalar'), and it could not prove that this number points anywhere the program may "
        "touch, so it refuses to read or write memory through it. Only pointers the verifier made "
        "itself can be dereferenced: the stack (R10), the context (R1 at entry), a map value from a "
        "lookup, the packet after a bounds check. A pointer that went through memory the verifier "
        "does not type (a map value, global data, a cast from an integer) comes back as a number.",
        (
            Fix(_MAP_POINTER_FIX,
                "struct node { __u64 val; struct node *next; };\n"
                "n = n->next;      /* loaded from map memory: a scalar */\n"
                "sum += n->val;    /* invalid mem access 'scalar' */",
                "struct node { __u64 val; __u32 next; };  /* an index */\n"
                "__u32 i = n->next;\n"
                "if (i >= NODES) return 0;\n"
                "n = &pool[i];     /* a map_value pointer again */\n"
                "sum += n->val;"),
            Fix(_ALLOCATOR_FIX,
                "n = n->next;\n"
                "n->val = 1;",
                "#include \"static_malloc.h\"\n"
                "n = static_ptr(n->next);  /* NULL outside the heap */\n"
                "if (n) n->val = 1;"),
            Fix("To read kernel memory at an address you hold as a number, copy it with "
                "bpf_probe_read_kernel(), or use program types with BTF-typed pointers (tp_btf, fentry; "
                "5.5+) that the verifier lets you dereference directly.",
                "struct task_struct *t = (void *)bpf_get_current_task();\n"
                "pid = t->pid;    /* a scalar: refused */",
                "struct task_struct *t = (void *)bpf_get_current_task();\n"
                "bpf_probe_read_kernel(&pid, sizeof(pid), &t->pid);"),
        ),
        ("5.5: BTF-typed pointers (tp_btf, fentry) may be dereferenced directly.",
         "5.18: the log calls a scalar 'scalar'; 5.17 and older print 'inv' (invalid mem access 'inv').",
         "5.19: kptrs (bpf_kptr_xchg) let a map value hold a typed kernel pointer.",
         "6.9: BPF arena maps let a program and user space share memory with real pointers in it."),
    ),
    Lesson(
        "null-deref",
        "Using a pointer that may be NULL without checking it",
        "The verifier proved that {reg} is a pointer of the right kind, but one that may be NULL: it "
        "comes from a helper that returns NULL on failure (bpf_map_lookup_elem, bpf_ringbuf_reserve, "
        "bpf_sk_lookup_tcp...), and its type says so ('map_value_or_null', 'ptr_or_null_'). It could "
        "not prove the pointer is non-NULL on this path, because no comparison with 0 happened "
        "between the call and the use.",
        (
            Fix("Check the pointer right after you get it: `if (!p) return 0;`, and use it only where "
                "the check holds. The check marks the register non-NULL in the branch that follows.",
                "__u64 *v = bpf_map_lookup_elem(&counts, &key);\n"
                "*v += 1;         /* 'map_value_or_null' */",
                "__u64 *v = bpf_map_lookup_elem(&counts, &key);\n"
                "if (!v)\n"
                "        return 0;\n"
                "*v += 1;"),
            Fix("Check the same variable you then use: a check on a copy made before the call, or on "
                "another lookup's result, proves nothing about this one.",
                "e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);\n"
                "e->pid = pid;",
                "e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);\n"
                "if (!e)\n"
                "        return 0;\n"
                "e->pid = pid;\n"
                "bpf_ringbuf_submit(e, 0);"),
        ),
    ),
    Lesson(
        "map-value-bounds",
        "An access that may fall outside the map value",
        "The verifier proved that {reg} points into a map value of a known size, and it tracks the "
        "smallest and largest offset the pointer can have. It could not prove that every byte of "
        "this access lies inside the value: the offset's proven minimum is negative, or its maximum "
        "plus the access size goes past the end. A check on a different variable, or one off by one, "
        "leaves the range too wide.",
        (
            Fix("Bound the index right before the access, on the same variable the access uses, with "
                "`>=` against the number of elements: `if (i >= MAX) return 0;`, or mask it with "
                "`i &= MAX - 1;` when MAX is a power of two.",
                "if (i > MAX)             /* allows i == MAX */\n"
                "        return 0;\n"
                "val->slot[i] = 1;        /* slot has MAX elements */",
                "if (i >= MAX)\n"
                "        return 0;\n"
                "val->slot[i] = 1;"),
            Fix("Use an unsigned type for indexes: then a single upper check bounds both ends, and the "
                "verifier never sees a negative minimum ('min value is negative').",
                "int i = ctx_field;\n"
                "if (i >= MAX) return 0;  /* i may still be < 0 */\n"
                "val->slot[i] = 1;",
                "__u32 i = ctx_field;\n"
                "if (i >= MAX) return 0;\n"
                "val->slot[i] = 1;"),
        ),
        ("5.7: the verifier tracks 32-bit bounds separately, so a check on a 32-bit (w) register "
         "bounds it without casts.",),
    ),
    Lesson(
        "unbounded-math",
        "Adding a number with no proven bounds to a pointer",
        "The verifier proved that {reg} is a number and that the other operand is a pointer (a map "
        "value), but it could not prove any lower bound for the number: as far as it knows it can be "
        "as low as -2^63 (or -2^31 for a signed int), and the sum could point anywhere. It refuses "
        "the arithmetic itself, before any access.",
        (
            Fix("Bound the number before adding it to the pointer, using an unsigned type so one "
                "comparison bounds both ends: `__u32 off = ...; if (off >= SIZE) return 0;`.",
                "int off = skb->mark;\n"
                "if (off < 64)            /* no lower bound */\n"
                "        p = &val->b[off];",
                "__u32 off = skb->mark;\n"
                "if (off < 64)            /* 0 <= off < 64 */\n"
                "        p = &val->b[off];"),
            Fix("Do the bounds check after the last change to the number: a check on a value that is "
                "then shifted, added to, or sign-extended no longer holds.",
                "if (off >= 64) return 0;\n"
                "off = off * 8 + hdr;     /* unbounded again */\n"
                "p = (void *)val + off;",
                "off = off * 8 + hdr;\n"
                "if (off >= sizeof(*val) - 8) return 0;\n"
                "p = (void *)val + off;"),
        ),
    ),
    Lesson(
        "packet-bounds",
        "Reading or writing packet bytes not proven to be inside the packet",
        "The verifier proved that {reg} points into the packet, and it knows how many bytes after the "
        "packet start were proven to exist by a comparison with data_end on this path (the 'r=' in "
        "the register's state). It could not prove that this access lies inside that range: there "
        "is no comparison, it proves too few bytes, or it was made before a variable offset was "
        "added.",
        (
            Fix("Compare the end of what you read with data_end before you read it, then read through "
                "the same pointer: `if ((void *)(hdr + 1) > data_end) return XDP_PASS;`.",
                "struct ethhdr *eth = data;\n"
                "if (eth->h_proto == bpf_htons(ETH_P_IP))   /* r=0 */",
                "struct ethhdr *eth = data;\n"
                "if ((void *)(eth + 1) > data_end)\n"
                "        return XDP_PASS;\n"
                "if (eth->h_proto == bpf_htons(ETH_P_IP))"),
            Fix("With a variable offset (an IP header length), bound the offset, add it to the "
                "pointer, and compare the result with data_end again.",
                "struct udphdr *udp = (void *)ip + ip->ihl * 4;\n"
                "port = udp->dest;",
                "__u32 len = ip->ihl * 4;\n"
                "if (len < sizeof(*ip) || len > 60) return XDP_PASS;\n"
                "struct udphdr *udp = (void *)ip + len;\n"
                "if ((void *)(udp + 1) > data_end) return XDP_PASS;\n"
                "port = udp->dest;"),
            Fix("Reload data and data_end after any helper that can move the packet "
                "(bpf_xdp_adjust_head, bpf_skb_pull_data, bpf_skb_change_tail): the verifier "
                "forgets every packet pointer after such a call."),
        ),
        ("6.3: dynptrs on packets (bpf_dynptr_from_skb, bpf_dynptr_from_xdp) read packet bytes with "
         "the bounds check done for you.",),
    ),
    Lesson(
        "stack-access",
        "Stack memory read before it was written, or outside the frame",
        "Each program (and each subprogram) has its own stack frame of at most 512 bytes below R10. "
        "The verifier tracks which stack bytes were written. It could not prove that the access "
        "stays inside the frame and touches only written bytes: a helper was handed an "
        "uninitialised buffer, asked to copy more bytes than the buffer has, or the offset is "
        "outside the frame or not known.",
        (
            Fix("Initialise stack variables and structs before a helper reads them: `struct key k = "
                "{};` or `__builtin_memset(&k, 0, sizeof(k));` (memset also clears padding holes, "
                "which `= {}` may leave unwritten).",
                "struct flow_key k;\n"
                "k.port = port;            /* other bytes unwritten */\n"
                "v = bpf_map_lookup_elem(&flows, &k);",
                "struct flow_key k;\n"
                "__builtin_memset(&k, 0, sizeof(k));\n"
                "k.port = port;\n"
                "v = bpf_map_lookup_elem(&flows, &k);"),
            Fix("Pass helpers the real size of the buffer: `sizeof(buf)`, never a larger constant.",
                "__u64 buf;\n"
                "bpf_skb_load_bytes(skb, 0, &buf, 32);",
                "__u8 buf[32];\n"
                "bpf_skb_load_bytes(skb, 0, buf, sizeof(buf));"),
            Fix("Keep stack use under 512 bytes; put big buffers in a per-CPU array map instead."),
        ),
        ("5.12: variable-offset stack accesses are allowed when the whole range is bounded "
         "(earlier kernels refuse them outside helper arguments).",),
    ),
    Lesson(
        "uninit-register",
        "Reading a register that holds no value on this path",
        "The verifier knows which registers were written on each path. It proved that {reg} was never "
        "written here ('!read_ok'): at entry only R1 (the context) and R10 (the frame pointer) hold "
        "values, and every call destroys R1-R5, so a value kept in them across a call is gone. clang "
        "never emits this for ordinary C; it comes from inline assembly or hand-written bytecode.",
        (
            Fix("Write the register before reading it on every path; keep values that must survive a "
                "call in R6-R9 (callee-saved).",
                "asm volatile(\"call %[rand]\\n\\t\"\n"
                "             \"r0 += r1\"   /* R1 died in the call */\n"
                "             :: [rand] \"i\"(BPF_FUNC_get_prandom_u32));",
                "asm volatile(\"r6 = r1\\n\\t\"  /* keep it in R6 */\n"
                "             \"call %[rand]\\n\\t\"\n"
                "             \"r0 += r6\"\n"
                "             :: [rand] \"i\"(BPF_FUNC_get_prandom_u32) : \"r6\");"),
            Fix("In C, give every variable a value before use: the compiler may otherwise read a "
                "register nothing wrote.",
                "long v;\n"
                "asm volatile(\"%0 = r3\" : \"=r\"(v));   /* r3 unset */",
                "long v = ctx->rx_queue_index;"),
        ),
    ),
    Lesson(
        "context-access",
        "Touching the program's context at a field this program type does not allow",
        "The verifier proved that {reg} is the context (the program's argument, such as struct xdp_md "
        "or struct __sk_buff). Each program type lists which offsets may be read, with which sizes, "
        "and the few that may be written. It could not prove this access is one of them: the field "
        "is read-only, does not exist for this type, is read with the wrong size, or the pointer was "
        "moved away from the context's start.",
        (
            Fix("Treat the context as read-only unless the program type documents a writable field "
                "(skb->mark, skb->priority, cb[] in TC); copy what you need into local variables.",
                "ctx->data += 14;          /* xdp_md is read-only */",
                "void *data = (void *)(long)ctx->data + 14;\n"
                "/* or move the start: bpf_xdp_adjust_head(ctx, 14) */"),
            Fix("Read fields with their declared type and through the struct the program type defines, "
                "never at a computed offset from the context pointer.",
                "__u64 mark = *(__u64 *)((void *)skb + 8);",
                "__u32 mark = skb->mark;"),
        ),
    ),
    Lesson(
        "helper-arg",
        "A helper or kfunc called with an argument of the wrong kind",
        "Every helper and kfunc has a prototype the verifier checks argument by argument: a map, a "
        "pointer to initialised memory of some size, the context, a referenced object. It proved the "
        "kind of {reg} (for example a scalar) and could not match it with the kind the prototype "
        "expects ('expected=map_ptr').",
        (
            Fix("Pass exactly what the prototype asks for: `&my_map` for a map, a stack buffer or "
                "checked pointer for memory, `ctx` itself for the context.",
                "void *map = (void *)(long)ctx->rx_queue_index;\n"
                "v = bpf_map_lookup_elem(map, &key);",
                "v = bpf_map_lookup_elem(&counts, &key);"),
            Fix("To choose a map at run time, use a map of maps (BPF_MAP_TYPE_ARRAY_OF_MAPS) and look "
                "the inner map up first.",
                "v = bpf_map_lookup_elem(maps[i], &key);",
                "void *inner = bpf_map_lookup_elem(&outer, &i);\n"
                "if (!inner) return 0;\n"
                "v = bpf_map_lookup_elem(inner, &key);"),
        ),
        ("5.18: the wording 'type=inv' became 'type=scalar'.",),
    ),
    Lesson(
        "helper-unavailable",
        "Calling a helper this kernel or program type does not provide",
        "Each program type has its own list of helpers, and newer helpers do not exist on older "
        "kernels. The verifier proved which helper the program calls ('unknown func', or 'program "
        "of this type cannot use helper'), and that this kernel does not offer it to this kind of "
        "program.",
        (
            Fix("Use the helper meant for the program type: XDP reads packets directly (or with "
                "bpf_xdp_load_bytes, 5.18+), TC and socket filters use bpf_skb_load_bytes.",
                "SEC(\"xdp\")\n"
                "...\n"
                "bpf_skb_load_bytes(ctx, 0, &word, 4);",
                "SEC(\"xdp\")\n"
                "...\n"
                "if (data + 4 > data_end) return XDP_PASS;\n"
                "word = *(__u32 *)data;"),
            Fix("Check what the target kernel offers with `bpftool feature probe`, and guard optional "
                "calls with `bpf_core_enum_value_exists()` or `bpf_ksym_exists()` (kfuncs).",
                "bpf_get_current_task_btf();   /* 5.11+ */",
                "if (bpf_core_enum_value_exists(enum bpf_func_id,\n"
                "                               BPF_FUNC_get_current_task_btf))\n"
                "        t = bpf_get_current_task_btf();"),
        ),
    ),
    Lesson(
        "too-complex",
        "The verifier gave up: too many paths, instructions or too much stack",
        "The verifier explores every path through the program and stops after 1 million processed "
        "instructions, 8192 pending branches ('The "
        "sequence of 8193 jumps is too complex'), or when the stack of a call chain goes over 512 "
        "bytes ('combined stack size'). It proved nothing wrong; it could not finish proving the "
        "program safe within its limits.",
        (
            Fix("Let the kernel run the loop: bpf_loop() (5.17+) or open-coded iterators bpf_for() "
                "(6.4+) verify the body once instead of once per iteration.",
                "for (i = 0; i < 1024; i++)\n"
                "        for (j = 0; j < 1024; j++)\n"
                "                sum += cell(i, j);",
                "static long row(__u32 i, void *ctx)\n"
                "{ /* inner loop for one row */ return 0; }\n"
                "bpf_loop(1024, row, &sum, 0);"),
            Fix("Cut stack use along a call chain: move large locals into a per-CPU array map, and "
                "keep each frame small (256 bytes per frame when tail calls are mixed with "
                "subprograms).",
                "static __noinline int parse(void)\n"
                "{ char buf[320]; ... }",
                "struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); ... } scratch SEC(\".maps\");\n"
                "char *buf = bpf_map_lookup_elem(&scratch, &zero);\n"
                "if (!buf) return 0;"),
        ),
        ("5.2: the limit of processed instructions went from 131072 to 1 million (privileged).",
         "5.17: bpf_loop().",
         "6.4: open-coded iterators (bpf_iter_num, bpf_for)."),
    ),
    Lesson(
        "infinite-loop",
        "A loop the verifier cannot prove ends",
        "Since 5.3 the verifier accepts loops by walking them: each iteration must change its state "
        "(a counter towards a bound). It found a loop whose state repeats exactly ('infinite loop "
        "detected'), so the program could run forever, or, before 5.3 and for unprivileged "
        "programs, a jump backwards at all ('back-edge from insn').",
        (
            Fix("Give every loop a constant upper bound the verifier can see, and never wait for "
                "something to change: test once and return.",
                "while (!cfg->ready)\n"
                "        ;                 /* nothing changes */",
                "if (!cfg->ready)\n"
                "        return XDP_PASS;  /* try again next packet */"),
            Fix("For long loops use bpf_loop() (5.17+), bpf_for() (6.4+), or may_goto / can_loop "
                "(6.9+), which bound the iterations for you.",
                "for (i = 0; i < n; i++)   /* n unknown */\n"
                "        work(i);",
                "bpf_for(i, 0, n)          /* open-coded iterator */\n"
                "        work(i);"),
        ),
        ("5.3: bounded loops; earlier kernels refuse every back-edge.",
         "5.17: bpf_loop().", "6.4: open-coded iterators.", "6.9: may_goto (can_loop)."),
    ),
    Lesson(
        "unreleased-reference",
        "A reference acquired and not released on some path",
        "Some helpers hand out references the program must give back: a socket (bpf_sk_lookup_tcp), "
        "a ring buffer record (bpf_ringbuf_reserve), an object (bpf_obj_new). The verifier proved "
        "that a path reaches the exit while such a reference is still held ('Unreleased reference "
        "id=N alloc_insn=M' names the instruction that acquired it).",
        (
            Fix("Release on every path, including the early returns: bpf_sk_release, "
                "bpf_ringbuf_submit or bpf_ringbuf_discard, bpf_obj_drop.",
                "sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), -1, 0);\n"
                "if (!sk) return TC_ACT_OK;\n"
                "return sk->state == 10 ? TC_ACT_SHOT : TC_ACT_OK;",
                "sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), -1, 0);\n"
                "if (!sk) return TC_ACT_OK;\n"
                "listening = sk->state == 10;\n"
                "bpf_sk_release(sk);\n"
                "return listening ? TC_ACT_SHOT : TC_ACT_OK;"),
        ),
    ),
    Lesson(
        "lock-misuse",
        "A bpf_spin_lock used where or how the verifier forbids it",
        "A bpf_spin_lock (5.1+) is checked strictly so a program can never sleep, loop or exit while "
        "holding it: it must sit inside a map value (of a map with BTF), only one lock may be held, "
        "no helper may be called while it is held, it must be released on every path before exit, "
        "and some program types (socket filters, tracing) may not use it at all. The verifier proved "
        "this program breaks one of these rules.",
        (
            Fix("Keep the critical section to plain loads and stores; call helpers before the lock or "
                "after the unlock.",
                "bpf_spin_lock(&v->lock);\n"
                "v->ts = bpf_ktime_get_ns();   /* a call */\n"
                "bpf_spin_unlock(&v->lock);",
                "__u64 now = bpf_ktime_get_ns();\n"
                "bpf_spin_lock(&v->lock);\n"
                "v->ts = now;\n"
                "bpf_spin_unlock(&v->lock);"),
            Fix("Unlock on every path before returning; where the lock is not allowed, use an atomic "
                "instead (`__sync_fetch_and_add`).",
                "bpf_spin_lock(&v->lock);\n"
                "if (v->n > LIMIT)\n"
                "        return 0;     /* still locked */",
                "bpf_spin_lock(&v->lock);\n"
                "full = v->n > LIMIT;\n"
                "bpf_spin_unlock(&v->lock);\n"
                "if (full) return 0;"),
        ),
    ),
    Lesson(
        "pointer-arith",
        "Arithmetic on a pointer that the verifier does not allow",
        "The verifier proved that {reg} is a pointer, and pointers admit only a few operations: "
        "adding or subtracting a bounded number, and comparing. Multiplying, shifting, masking "
        "('bitwise operator ... on pointer'), 32-bit arithmetic on a pointer, subtracting a pointer "
        "from a number, or doing any of it on a pointer that may be NULL, would give a value it cannot "
        "type, so it refuses the instruction.",
        (
            Fix("Do integer work on numbers (offsets, keys, field values), then add the offset to the "
                "pointer once.",
                "__u64 h = (__u64)v * 31;          /* pointer *= */",
                "__u64 h = key * 31;               /* hash the key */"),
            Fix("To align or mask, work on an offset from the base, not on the pointer.",
                "p = (void *)((long)p & ~7);",
                "off &= ~7;            /* off bounded */\n"
                "p = base + off;"),
        ),
    ),
    Lesson(
        "return-value",
        "A return value the program type does not allow",
        "Some program types accept only a range of return values (cgroup_skb ingress and cgroup "
        "socket programs: 0 or 1), and every program must set R0 before it exits. The verifier proved the value R0 can hold at exit and "
        "could not prove it lies in that range, or it proved R0 was never written on some path "
        "('R0 !read_ok' at exit).",
        (
            Fix("Return only the values the program type defines, on every path.",
                "SEC(\"cgroup_skb/ingress\")\n"
                "int f(struct __sk_buff *skb) { return XDP_PASS; }  /* 2 */",
                "SEC(\"cgroup_skb/ingress\")\n"
                "int f(struct __sk_buff *skb) { return 1; }  /* allow */"),
            Fix("In inline assembly, set r0 before every exit.",
                "asm volatile(\"if r2 == 0 goto +1\\n\\t\"\n"
                "             \"exit\");      /* r0 unset */",
                "asm volatile(\"r0 = 2\\n\\t\"\n"
                "             \"if r2 == 0 goto +1\\n\\t\"\n"
                "             \"exit\");"),
        ),
        ("Up to 6.1 the log prints tnums ('has value (0x2; 0x0) should have been in (0x0; 0x1)'); the "
         "recorded 6.12 and newer logs print bounds ('has smin=2 smax=2 should have been in [0, 1]').",),
    ),
    Lesson(
        "load-error",
        "The load failed before or outside the verifier",
        "Not every refusal comes from walking the program: libbpf and the kernel also check the maps "
        "(key and value sizes, a bpf_spin_lock in global data), the BTF, the relocations, the kfuncs "
        "the program declares, and whether a GPL-only helper is called from a program whose license "
        "is not GPL-compatible. The verifier proved nothing about the program's logic; one of these "
        "checks failed first, and libbpf's own lines say which.",
        (
            Fix("GPL-only helpers (bpf_trace_printk behind bpf_printk, bpf_probe_read_kernel...) need a "
                "GPL-compatible license string.",
                "char LICENSE[] SEC(\"license\") = \"Proprietary\";",
                "char LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";"),
            Fix("Declare optional kfuncs `__weak` and test `bpf_ksym_exists()` before calling them; "
                "libbpf refuses a missing strong __ksym before the verifier runs.",
                "extern int bpf_foo(void *) __ksym;\n"
                "bpf_foo(ctx);",
                "extern int bpf_foo(void *) __ksym __weak;\n"
                "if (bpf_ksym_exists(bpf_foo))\n"
                "        bpf_foo(ctx);"),
            Fix("Give maps the sizes their type requires (a queue or stack map has key size 0; a "
                "bpf_spin_lock belongs in an array or hash map value, not in global data)."),
        ),
    ),
    Lesson(
        "other",
        "A rejection verifier-doctor does not classify yet",
        "The verifier rejected the program for a reason that is none of the classes above; its "
        "message is the kernel's own words. Typical ones: an instruction no path reaches "
        "('unreachable insn'), an instruction the program type may not use (BPF_LD_ABS in XDP).",
        (
            Fix("Look the message up in kernel/bpf/verifier.c or Documentation/bpf/verifier.rst, and "
                "rerun with log level 2 (bpftool -d) for the full register state.",
                "asm volatile(\"goto +1\\n\\t\"\n"
                "             \"r0 = 1\");     /* unreachable */",
                "asm volatile(\"r0 = 1\");"),
        ),
    ),
)
LESSONS: dict[str, Lesson] = {lesson.error_class: lesson for lesson in _LESSONS}


def lesson(error_class: str) -> Lesson:
    """The lesson of an error class (`other`'s for a class it does not know)."""
    return LESSONS.get(error_class, LESSONS["other"])


def advise(error: "ErrorInfo", provenance: Provenance | None, trace: ProgramTrace) -> tuple[str, list[str]]:
    taught = lesson(error.error_class)
    text = taught.explain(error.register)
    suggestions = [fix.text for fix in taught.fixes]
    specific = _specific(error, provenance)
    if specific is not None:
        reason, extra = specific
        text = f"{text} {reason}"
        suggestions = extra + [s for s in suggestions if s not in extra]
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
    if origin is Origin.GLOBAL_ARGUMENT:
        function = provenance.detail or "the function"
        return (f"{provenance.location} is an argument of the global function {function}(). Since v5.6 the "
                "verifier checks a global (non-static) function once, on its own, for any caller: a pointer "
                "argument may be NULL there, whatever this program passes.",
                [f"Check the argument inside {function}() before using it (`if (!arg) return 0;`), or make "
                 f"{function}() static so it is verified with each call."])
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
