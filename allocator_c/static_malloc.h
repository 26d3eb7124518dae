/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * static_malloc.h - malloc, calloc, realloc and free for eBPF programs.
 *
 * One header, nothing to link. The heap is a BPF array map (the "classic"
 * backend): with no configuration it works on every kernel from 5.10, with
 * clang 14 or newer, in every program type (XDP, TC, socket filter,
 * cgroup_skb, kprobe, tracepoint, raw_tracepoint, perf_event, ...), all in
 * one object if you like, shared by all CPUs. This comment is the manual.
 *
 * USAGE (five lines)
 *
 *     #define STATIC_MALLOC_HEAP_SIZE (256 * 1024)  // optional, before the include
 *     #include "static_malloc.h"                    // alone, or after vmlinux.h
 *     struct node *n = static_malloc(sizeof(*n));   // NULL when the heap is full
 *     if (n) { n->next = NULL; static_free(n); }    // check NULL, then use [n, n+size)
 *     n = static_ptr(n->next);                      // follow a pointer stored in the heap
 *
 * Included first, it brings in <linux/bpf.h>, <bpf/bpf_helpers.h> (SEC,
 * bpf_printk), <stdint.h>, <stddef.h> and <stdbool.h>; after a vmlinux.h
 * (detected by __VMLINUX_H__) it includes only <bpf/bpf_helpers.h>.
 *
 * API
 *
 *   void __heap *static_malloc(size_t size);
 *   void __heap *static_calloc(size_t nmemb, size_t size);
 *   void __heap *static_realloc(void __heap *ptr, size_t size);
 *   void         static_free(void __heap *ptr);
 *   T __heap    *static_ptr(T __heap *loaded);      (a macro; keeps the type)
 *   T __heap    *static_ptr_sized(T __heap *loaded, size_t span);
 *   int          static_malloc_check(void);         (heap walker, 0 = healthy)
 *
 *   - Every returned pointer is 8-byte aligned. After a NULL check the
 *     verifier accepts any access inside [p, p + size) when `size` is a
 *     compile-time constant; for a run-time size it accepts [p, p + 8).
 *   - static_malloc(0) returns a unique, non-NULL pointer to an 8-byte block
 *     (as glibc does); free it like any other.
 *   - static_calloc zeroes (reused blocks too) and returns NULL when
 *     nmemb * size overflows or exceeds the heap.
 *   - static_realloc(NULL, n) == static_malloc(n); static_realloc(p, 0) frees
 *     p and returns NULL; on failure it returns NULL and p stays valid. It
 *     grows and shrinks in place when it can.
 *   - static_free(NULL) does nothing. A double free, an interior pointer, or
 *     a pointer that is not from the heap is detected, counted in
 *     `rejected_frees` and ignored.
 *   - static_ptr(x): x is any heap pointer: one LOADED from memory (the
 *     verifier calls it a scalar, e.g. `n->next`), or one the verifier still
 *     tracks (a local that came from static_malloc, a list head built in a
 *     loop, a function's argument). It returns a pointer the verifier lets
 *     you dereference for sizeof(*x) bytes (static_ptr_sized: `span` bytes,
 *     a constant), or NULL when x is NULL or not into the heap (a number,
 *     the stack, the context, another map).
 *   - static_free and static_realloc take pointers the verifier knows as
 *     pointers (from the functions above or from static_ptr), not raw loaded
 *     values: write static_free(static_ptr(n->next)).
 *   - With STATIC_MALLOC_REPLACE, malloc/calloc/realloc/free are
 *     function-like macros for the functions above (a struct member named
 *     `free` is left alone).
 *
 * CONFIGURATION (define before the include; every macro is optional)
 *
 *   STATIC_MALLOC_HEAP_SIZE  default 65536. Bytes of heap, a multiple of 512,
 *       at least 1024, at most 3 MiB (with its state bytes, the 4 MiB array
 *       map value limit). Cost: the map value is HEAP_SIZE * 9/8 + ~2.2 KiB;
 *       the verifier walks the calloc zeroing and realloc copy loops
 *       HEAP_SIZE/256 times, once per
 *       program that uses them (~45 insns per zeroing step, ~110 per copy
 *       step: ~11K and ~28K insns for the default heap).
 *       The heap is the global variable __sm_heap (in the object's .bss
 *       map, so its address is a constant: no lookup at a call site).
 *   STATIC_MALLOC_PERCPU     default off. One heap per CPU (a per-CPU array
 *       map), no lock at all: the heap is never busy because of another CPU.
 *       (Before this version the default could not serve tracing programs
 *       and socket filters and this was the way; it no longer is.)
 *       Memory must be freed on the CPU that allocated it (a free on another
 *       CPU is rejected or, worse, frees that CPU's block at the same offset:
 *       do not hand pointers across CPUs). A re-entrant call on the same CPU
 *       (a perf_event program interrupting an allocation) fails cleanly and
 *       counts in `contended`. Limit: HEAP_SIZE <= 24 KiB (per-CPU values are
 *       limited to 32 KiB by the kernel).
 *   STATIC_MALLOC_NO_LOCK    default off. The shared heap's lock is an atomic
 *       compare-and-swap word in the heap instead of the default's queue map:
 *       a try costs an instruction instead of a helper call. Needs kernel
 *       5.12+ (BPF_CMPXCHG; 5.10 refuses the program even when a version
 *       check makes the instruction unreachable, see LOCK). Same behaviour
 *       otherwise.
 *   STATIC_MALLOC_SPIN_TRIES default 2048. Tries to take the heap's lock
 *       in one round (see LOCK); 1 .. 65536.
 *   STATIC_MALLOC_WAIT_ROUNDS default 64. Rounds of SPIN_TRIES tries that a
 *       malloc, calloc, realloc or static_malloc_check waits for a heap that
 *       another CPU holds (see LOCK); 1 .. 1024. The verifier walks these
 *       rounds once per program (~10 insns each).
 *   STATIC_MALLOC_CACHE_BYTES default min(HEAP_SIZE/16, 2048). Bytes of freed
 *       small blocks each CPU keeps for its next mallocs (see PER-CPU CACHE);
 *       0 turns the cache off. Cost: up to this many bytes per CPU are not
 *       available to the other CPUs until this CPU mallocs again.
 *   STATIC_MALLOC_INLINE     default off. Put the deeper cache's paths
 *       inline at every call site of static_malloc and static_free, before
 *       the call: every call site adds ~125 verifier insns and a dozen
 *       branches the verifier cannot decide, which breaks the LOOPS rule
 *       below (a loop of a few hundred calls hits the verifier's limit of
 *       8192 pending branches). make bench shows what it costs and saves.
 *   STATIC_MALLOC_DEBUG      default off. Run static_malloc_check() after
 *       every malloc, calloc, realloc and free; static_malloc_debug_rule()
 *       returns the first broken rule this CPU saw (0: none). For tests: a
 *       heap walk per call, and the walker's verifier cost in every program
 *       (once: the check and static_malloc_debug_rule() are global functions,
 *       so a call site adds no branch of its own).
 *   STATIC_MALLOC_CHECK_MAX  default min(HEAP_SIZE/16, 1024). Blocks that
 *       static_malloc_check() walks; a heap with more blocks reports 10.
 *       Cost: ~300 verifier insns per block, only in programs that call it.
 *   STATIC_MALLOC_REPLACE    default off. Define malloc, calloc, realloc, free.
 *   STATIC_MALLOC_ARENA      default off. The arena backend: the heap lives
 *       in a BPF_MAP_TYPE_ARENA (kernel 6.9+, clang 19+), `__heap` is the
 *       arena address space (`__attribute__((address_space(1)))`, also
 *       defined as `__arena`), pointers stored in the heap are followed with
 *       plain `n = n->next` (static_ptr is the identity) and user space reads
 *       the heap through the arena's mmap. Same API and semantics as above.
 *       A clang without __BPF_FEATURE_ADDR_SPACE_CAST (clang 14, say) stops
 *       with an #error; a kernel without arenas (5.10, 6.1) refuses the object at
 *       load: "map 'static_arena': failed to create". Tested on 6.12, 6.18,
 *       7.2 and 7.3, in XDP and TC programs; 6.9..6.11 are not tested.
 *       Only STATIC_MALLOC_HEAP_SIZE (a multiple of 4096, 8 KiB .. 64 MiB,
 *       default 64 KiB), STATIC_MALLOC_SPIN_TRIES (see Contention),
 *       STATIC_MALLOC_CACHE_BYTES (see Per-CPU cache below),
 *       STATIC_MALLOC_REPLACE and STATIC_MALLOC_ARENA_EXTERN apply; PERCPU,
 *       NO_LOCK and INLINE are compile errors with it.
 *     Pages: the heap is one zero-initialized __arena global (section
 *       .addr_space.1, so the .o file holds HEAP_SIZE bytes of zeros) in the
 *       arena map `static_arena`. libbpf mmap()s the arena at load and copies
 *       the section in, which puts every heap page in place before a program
 *       runs. Nothing is allocated at run time: bpf_arena_alloc_pages is a
 *       sleepable kfunc, refused in XDP and TC on 6.18 ("program must be
 *       sleepable to call sleepable kfunc bpf_arena_alloc_pages").
 *     Design: 4 KiB pages. A request of up to 2048 bytes takes a block of
 *       16 << c bytes (c = 0..7) from a slab page of that size class (a
 *       bitmap of its blocks; slabs with free blocks are on a list per
 *       class); a larger one takes a run of whole pages, first fit. An empty
 *       slab becomes a free page again, so small and large requests share
 *       the pages. Metadata (a descriptor per page, the class lists, the
 *       lock) live in the same __arena global, before the heap pages, never
 *       inside a block: a free is judged by the page descriptor and the
 *       bitmap, so double, interior, tail-page and foreign frees (counted in
 *       rejected_frees) cannot corrupt it. static_malloc_check() walks every
 *       descriptor, class list and the deferred list (rules 1-10 above
 *       __sm_check_locked). malloc(0) returns a unique 16-byte block. One
 *       lock word for the whole heap (see Contention); loops
 *       are bounded by may_goto (v6.9), so the heap functions are verified
 *       once: 10,482 processed insns for a program with one malloc and one
 *       free, 10,495 with two of each, on 6.12 (`vdoctor try
 *       tests/allocator/arena/cost.bpf.c --kernel 6.12 --json`; 8,006 and
 *       8,039 before the per-CPU cache, 8,997 and 9,010 before the deferred
 *       list). Before the deferred list, a 64-byte malloc+free
 *       pair took 39-46 ns on 6.18 (three runs of `vdoctor try
 *       tests/allocator/arena/cost.bpf.c --run 200`, pairs_1000 / 1000);
 *       not measured since on a real CPU (this machine's kernel has no
 *       arenas; make bench times the arena in a 6.12 guest under QEMU's
 *       emulation, beside the classic backend in the same guest).
 *     Per-CPU cache: as in the classic backend, a freed slab block of a
 *       cached class is parked in its CPU's cache, one slot per class, and
 *       the next malloc of that class on that CPU takes it back without the
 *       heap's lock: a plain load and store of the slot, and one atomic
 *       instruction on the block's mark. Cached: the smallest classes whose
 *       blocks fit in STATIC_MALLOC_CACHE_BYTES together (default
 *       min(HEAP_SIZE/16, 2048): 16 .. 1024 bytes from a 32 KiB heap up,
 *       16 .. 256 in 8 KiB); 0 turns the cache off. A parked block stays
 *       handed out in its page's bitmap and is marked in deferred[] (with
 *       an atomic or), so a second free of it, on any CPU, is refused; a
 *       parked block counts as freed in the statistics. A malloc that finds
 *       no block moves this CPU's parked blocks to the deferred list and
 *       tries again; blocks parked on other CPUs stay there (at most
 *       STATIC_MALLOC_CACHE_BYTES per CPU), so a request for nearly the
 *       whole heap can fail while another CPU holds parked blocks.
 *       Each CPU's calls are serialized by a guard word in its value of
 *       `static_stats` (a plain load and store, as in the classic backend,
 *       enough where a program cannot be preempted by another on its CPU):
 *       a program that interrupts an allocator call on the same CPU finds
 *       the guard taken, leaves the cache alone and goes to the heap under
 *       its lock (Contention), counting with atomic adds.
 *     Contention: the lock word (compare-and-swap in the arena) holds its
 *       holder's CPU + 1. malloc returns NULL only when no block of that size
 *       can be had; a busy heap is waited out or served from elsewhere:
 *       - a free that finds the heap busy never waits and is never dropped:
 *         it marks the block deferred (a bitmap beside the page's, set with
 *         compare-and-swap, so a second free of it is refused and counted in
 *         rejected_frees) and pushes it on the deferred list (a lock-free
 *         stack in the arena, linked through the blocks' first 8 bytes, its
 *         head tagged with a generation against ABA). The next lock holder
 *         gives every deferred block back before its own work; a malloc
 *         that finds no block first gives back those freed meanwhile.
 *       - a malloc that finds the heap busy waits for the lock: 8 rounds
 *         of STATIC_MALLOC_SPIN_TRIES tries (1 .. 8M; default 8M, may_goto's
 *         own bound, which each round, a call of a global function, has to
 *         itself; 8M empty may_goto steps took ~42 ms on 6.12 under TCG):
 *         the holder, on another CPU, lets go, though its vCPU may be taken away by the
 *         host for a while (hence the long wait).
 *       - when the holder is on this CPU (a program that interrupted an
 *         allocator call, a perf_event in NMI; or, where programs are
 *         preempted, a preempted task) it cannot run before we return: no
 *         wait, and malloc returns NULL, counted in `contended` and
 *         failed_allocations. So does a malloc whose 8 rounds ran out.
 *         (Serving these from the deferred list, popped with the tagged
 *         head, was tried: the two-CPU stress with short waits then once
 *         returned a foreign tag (a block handed out twice, or overwritten),
 *         and none in four runs without the pop; the backend before the
 *         deferred list did so once too, under heavy failure. The cause is
 *         not known, so the pop is off.)
 *       `contended` counts the calls that did not get the lock: frees
 *       deferred (also in frees), mallocs that returned NULL (also in
 *       failed_allocations), frees refused without the lock (also in
 *       rejected_frees). These calls count with atomic adds, beside the
 *       interrupted call's plain ones. A freed block written to before it
 *       is given back (use after free) breaks the list: static_malloc_check
 *       reports 10, and the blocks after it are lost (never handed out).
 *       A double free that races with the first (on another CPU) is not
 *       detected, as in the classic backend.
 *     Pointer form: static_malloc returns the arena pointer in its kernel
 *       form (addr_space_cast(p, 0, 1): the lower 32 bits), which the
 *       verifier already knows as an arena pointer. clang 19 needs this: it
 *       merges `t->left = NULL; t->right = NULL;` into a memset of address
 *       space 1 that it does not cast, and without the early cast the
 *       verifier rejects that store ("R0 invalid mem access 'scalar'"). So
 *       pointers stored in the heap hold their lower 32 bits; user space
 *       makes an address of one by putting the upper 32 bits of its mapping
 *       of the arena in front (the kernel maps an arena inside one 4 GiB
 *       window: arena_get_unmapped_area).
 *       To pass a heap pointer to a global function of your own, tag the
 *       parameter __arg_arena (defined here).
 *     Statistics: the same per-CPU map `static_stats` as the classic
 *       backend (each CPU's value, key 0, starts with a struct
 *       static_malloc_stats, then that CPU's cache, internal; sum the CPUs).
 *     Linking (bpftool gen object): in every object but one, define
 *       STATIC_MALLOC_ARENA_EXTERN before the include, so that it uses the
 *       other object's heap (the linker would append every copy to the
 *       arena section, and libbpf then finds the arena map too small).
 *
 *   Default (no PERCPU, no NO_LOCK): one heap shared by all CPUs behind the
 *   lock described in LOCK, usable from every program type on every kernel
 *   of the matrix (no bpf_spin_lock, which tracing programs and socket
 *   filters may not take, and no instruction newer than 5.10).
 *
 * LOCK
 *   The shared heap's slow path (TLSF, below) runs under a try-lock: a
 *   BPF_MAP_TYPE_QUEUE map of one slot (__sm_lock_q); a push into the empty
 *   queue takes it, the pop releases it. Map helpers are allowed in every
 *   program type, and the queue's own spinlock orders the heap's memory
 *   (acquire, release). It is not bpf_spin_lock: the holder runs with
 *   interrupts on and may be interrupted or, where the kernel preempts
 *   programs, or its whole virtual CPU by the host, descheduled. A busy
 *   heap is waited out, never reported as out of memory:
 *     - malloc, calloc, realloc and static_malloc_check wait up to
 *       STATIC_MALLOC_WAIT_ROUNDS rounds of STATIC_MALLOC_SPIN_TRIES tries
 *       (131,072 tries by default: ~3 ms on a 6.18 host, much longer under
 *       QEMU's TCG). They wait only under this CPU's guard (PER-CPU CACHE),
 *       so the holder is on another CPU and will let go. Between rounds,
 *       malloc gives back what was deferred meanwhile. Only when every round
 *       stays busy (a holder stopped for longer) does malloc return NULL,
 *       counted in `contended` and failed_allocations; realloc then returns
 *       NULL with its block untouched, and the walker answers 2.
 *     - free never fails: after one round the block is deferred (its state
 *       byte says so, so a second free of it is rejected) into a queue map,
 *       __sm_defer_q, and the next malloc or free that goes to the heap
 *       gives it back (each gives back up to two deferred blocks, under the
 *       lock, before its own work).
 *   A program that interrupts an allocator call on its own CPU finds the
 *   guard taken and does not wait (the holder cannot run before it
 *   returns): its malloc returns NULL, counted in `contended`; its free
 *   goes to the heap after one round, or is deferred. In NMI the kernel
 *   only try-locks the queue, so its tries fail cleanly.
 *   Why not compare-and-swap by default: BPF_CMPXCHG came in 5.12, and 5.10
 *   checks the encoding of every instruction before it walks any path, so
 *   the instruction cannot even sit in a branch that a LINUX_KERNEL_VERSION
 *   check (a __kconfig constant the verifier folds) makes dead: 5.10 still
 *   refuses the program ("BPF_STX uses reserved fields"; tried on the
 *   matrix's 5.10 under QEMU, where 6.1, 6.12 and 7.2 accepted it).
 *
 * PRIVILEGES
 *   static_free, static_realloc and static_ptr turn pointers into offsets
 *   (pointer - pointer, or a pointer stored in the map and loaded back as a
 *   number): the loader needs CAP_PERFMON (root has it), like any program
 *   storing pointers in maps.
 *
 * STATISTICS
 *   Map `static_stats`, a PERCPU_ARRAY with one entry (key 0) whose value
 *   per CPU starts with a struct static_malloc_stats (the rest of the value
 *   is that CPU's cache, internal). Each CPU counts its own calls, without an
 *   atomic instruction; sum the CPUs:
 *     bytes_in_use, peak_bytes   usable bytes of live blocks (multiple of 8)
 *     allocations, frees         successful malloc/calloc/realloc-moves, frees
 *     failed_allocations         requests that returned NULL
 *     rejected_frees             double, interior or foreign frees ignored
 *     contended                  calls that gave up because the heap stayed busy
 *                                (or this CPU's guard was taken)
 *   Read it with `bpftool map dump name static_stats` or from a skeleton.
 *   bytes_in_use is a CPU's net count: a block freed on another CPU than
 *   the one that allocated it makes one CPU's count wrap below zero (two's
 *   complement) and the sum right; peak_bytes is per CPU. Blocks parked in
 *   a CPU's cache count as freed.
 *
 * DESIGN AND INVARIANTS
 *   TLSF (two-level segregated fit): first level = power of two, second
 *   level = 16 linear steps; a bitmap per level finds a fitting free list in
 *   O(1) with no loop (find-first-set is branch-free arithmetic). malloc and
 *   free are loop-free: O(1), a few hundred instructions at most.
 *   The heap operations are global BPF functions, verified once per program
 *   whatever the number of call sites; so are their parts that would
 *   otherwise be verified once per path that leads to them (the list insert
 *   and unlink, the trim, the release, the lock's tries). malloc and free
 *   together cost a program a few thousand processed insns, once; each
 *   further call site only its call and the pointer bound (see LOOPS);
 *   make bench prints the numbers.
 *   - Heap metadata holds OFFSETS into the heap, never pointers: the
 *     verifier turns any pointer loaded from map memory into a scalar
 *     ("R2 invalid mem access 'scalar'"). Offset 0 means "none".
 *   - Every offset read from memory is clamped (inline asm, so that clang
 *     cannot move the check off the register that is used) before it is
 *     added to the map value pointer: a corrupted heap cannot leave the map.
 *   - A block is [o - 8, o - 8 + size): an 8-byte header {u32 prev_phys,
 *     u32 size | FREE} then the payload at o. size is a multiple of 8, >= 16.
 *     Blocks tile the heap exactly; no two free blocks are adjacent; a free
 *     block is in exactly the list its size maps to, and its list's bits are
 *     set. static_malloc_check() walks the heap, then every free list (links
 *     both ways, each node free and in the list its size maps to, as many
 *     nodes as free blocks), the bitmaps both ways, and this CPU's cache.
 *   - A state byte per 8 bytes of heap: non-zero only where a live, parked
 *     or deferred block's payload starts (its size class, or "big", or
 *     "parked", or "deferred").
 *     free() trusts the state byte and checks the header agrees, so double,
 *     interior and foreign frees are recognized even if the user scribbled
 *     on a header.
 *
 * PER-CPU CACHE
 *   A freed block of 16..128 bytes is parked in its CPU's cache instead of
 *   going back to the heap, and the next malloc of exactly that block size
 *   on that CPU takes it without the lock. The cache has two levels: one
 *   fast slot per block size, tried first by the global functions (no
 *   lock, no loop, no branch: see LOOPS), then a deeper one (LIFO, at most 4 of one size,
 *   STATIC_MALLOC_CACHE_BYTES in all). The fast slots hold at most
 *   STATIC_MALLOC_CACHE_BYTES too: the block sizes whose slots fit in it
 *   (all of 16..128 from a 32 KiB heap up, fewer below). Blocks of 129 to
 *   2048 bytes have one slot per range (129..256, ..512, ..1024, ..2048;
 *   those whose largest blocks fit in STATIC_MALLOC_CACHE_BYTES together:
 *   up to 1024 bytes from a 32 KiB heap up), tried by the global functions,
 *   and a malloc takes a parked one only when it has exactly the size asked
 *   for. The
 *   heap still counts a parked block as used (its state byte says parked,
 *   so a second free of it is rejected). A malloc that finds no block first
 *   gives this CPU's parked blocks back to the heap and tries again; blocks
 *   parked on other CPUs stay there, so a request for nearly the whole heap
 *   can fail while another CPU holds freed small blocks (set
 *   STATIC_MALLOC_CACHE_BYTES 0 where that matters). Each CPU's calls are
 *   serialized by a per-CPU guard word: a program that interrupts an
 *   allocator call on the same CPU (perf_event, kprobe) finds the guard
 *   taken and fails cleanly, counted in `contended`: its malloc returns
 *   NULL, its free goes to the heap (deferred if the heap is busy). The
 *   guard is a plain load and store (5.10 has no compare-and-swap), which
 *   is enough where a program cannot be preempted
 *   by another on its CPU: XDP and TC (softirq), socket filters, kprobe and
 *   tracepoint handlers, BPF_PROG_TEST_RUN (preemption disabled). On
 *   PREEMPT_RT kernels and in sleepable programs it is not: do not call the
 *   allocator there. static_ptr's per-CPU slot is saved and restored around
 *   its use, so a program that interrupts one leaves it as it found it.
 *   A double free that races with the first free on
 *   another CPU is not detected (as in C, freeing twice at once is a race).
 *   - Writing outside [p, p + size) is undefined behaviour as in C: the
 *     verifier cannot stop writes inside the map value, but the heap code
 *     never leaves the map whatever is written.
 *
 * LOOPS (the design rule of the call sites; issue 21)
 *   A bounded C loop that calls the allocator must cost the verifier about
 *   what the same loop over a .bss array with __u32 indices costs: the
 *   verifier walks every iteration of such a loop, and each branch it
 *   cannot decide pushes a state that waits until the path it follows has
 *   gone through every later iteration (8192 such states at once and it
 *   gives up: "The sequence of 8193 jumps is too complex"). So the code
 *   inlined at a call site obeys four rules:
 *   1. No branch the verifier cannot decide, except the one that makes the
 *      result NULL or not. malloc and free are one call each to a global
 *      function (verified once per program); their per-CPU fast paths run
 *      inside it, and are branch-free there too: whatever can go wrong is
 *      folded into a mask (__sm_ones_if) that turns the stores into stores
 *      of what was there.
 *   2. No 0/1 flag that the verifier must keep precise: a flag used as a
 *      multiplier or an index becomes precise, and two states that differ
 *      in it never prune. Masks of all ones or zero, in asm (clang turns
 *      `x != 0`, `a > b ? a : b` into compare and jump), never reach a
 *      branch or a pointer.
 *   3. Where a branch must stay, its fall-through is the side that ends
 *      soon: the pointer bound (__sm_bound8) is one unsigned compare in
 *      asm, (o - 8) <= HEAP - span - 8, whose fall-through makes the result
 *      NULL, so the verifier walks the NULL side (the caller's loop ends)
 *      before it pops the pointer side, and nothing waits.
 *   4. Both sides of every branch meet in one state, so that pruning works.
 *   5. No instruction at a call site that a global function can do once:
 *      malloc returns o - 8 (the form the bound compares) and free takes
 *      ptr - &mem[8] (clang keeps &mem[8] in a register for the bound);
 *      calloc's zeroing takes a failed malloc's result and does nothing,
 *      so its call site has no branch of its own.
 *   6. Nothing per call that a program's run can do once: this CPU's value
 *      (the per-CPU map's lookup) does not change while a program runs, so
 *      static_ptr asks for it through the same helper declared `const`
 *      (__sm_lookup_const): clang makes one lookup and one NULL test for the
 *      whole function and keeps the pointer, also out of a loop.
 *   static_ptr converts with no branch: save this CPU's slot, store the
 *   pointer, load it back (a number), restore the slot; subtract &mem[8],
 *   which the heap keeps as a number (`self`, stored where blocks are first
 *   taken: every heap pointer comes from there); then the bound.
 *   Per iteration on 6.18, clang 19 (make bench's loop table, floor in
 *   brackets): malloc + push 15 [18], walk 30 [15], static_ptr + free 37
 *   [15], 64 B pair 17 [8], mixed pair 22 [19], calloc + free 28 [15],
 *   malloc + realloc + free 35 [26]. Each malloc and free is a BPF-to-BPF call (make bench:
 *   9 ns for the 64-byte pair on this machine, whose returns go through
 *   thunks).
 *   static_realloc is one global function too (__sm_realloc_off, with the
 *   resize, malloc and free inline in it, so that it needs no fifth call
 *   frame, see LIMITS): its call site is a call and the bound. Its loop of
 *   1000 loads on 6.12, 7.2 and 7.3 (4000 on 6.18); 5.10 and 6.1 refuse
 *   the loops.h program that holds it with error -14 after a log that ends
 *   normally (189,115 insns): a cause after the verifier's walk, not known.
 *   make bench prints, per operation, the processed insns per iteration,
 *   the undecided branches per iteration and the largest loop that loads,
 *   beside the array floor (tests/allocator/loops/loops.h).
 *
 * LINKING
 *   Maps, the heap variable and functions here are weak: several objects
 *   that include this header link with `bpftool gen object` and share one
 *   heap. They must all use the same configuration (the linker rejects
 *   differing map types).
 *
 * LIMITS
 *   No bpf_loop, no kfuncs, no arena: kernel 5.10+ (NO_LOCK: 5.12+). Built
 *   with BTF (-g), as libbpf wants for the maps. The allocator's calls use
 *   up to 4 of the verifier's 8 call frames below the caller: call it from
 *   the program or from functions nested at most 3 deep.
 *
 * LICENSE
 *   MIT OR GPL-2.0-only, at your choice. Copyright (c) verifier-doctor
 *   authors. Permission is hereby granted, free of charge, to any person
 *   obtaining a copy of this file, to deal in it without restriction,
 *   including the rights to use, copy, modify, merge, publish, distribute,
 *   sublicense, and/or sell copies, subject to this notice being included.
 *   THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#ifndef __STATIC_MALLOC_H__
#define __STATIC_MALLOC_H__

#ifdef STATIC_MALLOC_ARENA
/* ======================================================================= */
/* The arena backend: see STATIC_MALLOC_ARENA in the manual above.         */
/* ======================================================================= */

/* clang 19 turns __arena pointer accesses into addr_space_cast + access;
 * older compilers cannot, and would mis-compile every heap access. */
#ifndef __BPF_FEATURE_ADDR_SPACE_CAST
#error "static_malloc.h: STATIC_MALLOC_ARENA needs clang 19 or newer (this compiler does not define __BPF_FEATURE_ADDR_SPACE_CAST); use clang-19, or drop STATIC_MALLOC_ARENA for the classic backend"
#endif
#if defined(STATIC_MALLOC_PERCPU) || defined(STATIC_MALLOC_NO_LOCK) || defined(STATIC_MALLOC_INLINE)
#error "static_malloc.h: STATIC_MALLOC_ARENA is a backend of its own; do not combine it with STATIC_MALLOC_PERCPU, STATIC_MALLOC_NO_LOCK or STATIC_MALLOC_INLINE"
#endif

#ifndef __VMLINUX_H__
#include <linux/bpf.h>
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#endif
#include <bpf/bpf_helpers.h>

/* Bytes of heap (a multiple of 4096, 8 KiB .. 64 MiB). */
#ifndef STATIC_MALLOC_HEAP_SIZE
#define STATIC_MALLOC_HEAP_SIZE 65536
#endif

/* Tries of the heap's lock word before a malloc takes another source (see
 * CONTENTION below); the default is may_goto's own bound, ~8M tries. */
#ifndef STATIC_MALLOC_SPIN_TRIES
#define STATIC_MALLOC_SPIN_TRIES (1 << 23)
#endif

/* Bytes of freed small blocks each CPU keeps for its next mallocs (see
 * Per-CPU cache in the manual); 0 turns the cache off. */
#ifndef STATIC_MALLOC_CACHE_BYTES
#define STATIC_MALLOC_CACHE_BYTES (STATIC_MALLOC_HEAP_SIZE / 16 < 2048 ? STATIC_MALLOC_HEAP_SIZE / 16 : 2048)
#endif

_Static_assert(STATIC_MALLOC_HEAP_SIZE % 4096 == 0,
	       "STATIC_MALLOC_ARENA: STATIC_MALLOC_HEAP_SIZE must be a multiple of 4096 (the arena's page)");
_Static_assert(STATIC_MALLOC_CACHE_BYTES >= 0 && STATIC_MALLOC_CACHE_BYTES <= STATIC_MALLOC_HEAP_SIZE / 2,
	       "STATIC_MALLOC_CACHE_BYTES must be between 0 and half the heap");
_Static_assert(STATIC_MALLOC_HEAP_SIZE >= 8192 && STATIC_MALLOC_HEAP_SIZE <= 64 * 1024 * 1024,
	       "STATIC_MALLOC_ARENA: STATIC_MALLOC_HEAP_SIZE must be between 8 KiB and 64 MiB");
_Static_assert(STATIC_MALLOC_SPIN_TRIES >= 1 && STATIC_MALLOC_SPIN_TRIES <= (1 << 23),
	       "STATIC_MALLOC_ARENA: STATIC_MALLOC_SPIN_TRIES must be between 1 and 8388608 (may_goto's bound)");

/* Heap pointers live in the arena's address space (LLVM address space 1). */
#ifndef __heap
#define __heap __attribute__((address_space(1)))
#endif
#ifndef __arena
#define __arena __attribute__((address_space(1)))
#endif

#define __sm_weak	__attribute__((weak))
#define __sm_inline	inline __attribute__((always_inline))
#define __sm_global	__attribute__((weak, noinline))

/* Tags a heap pointer parameter of the program's own global function (v6.9). */
#ifndef __arg_arena
#define __arg_arena __attribute__((btf_decl_tag("arg:arena")))
#endif

#define __SM_PAGE	4096U
#define __SM_PAGES	(STATIC_MALLOC_HEAP_SIZE / 4096)
#define __SM_CLASSES	8U		/* slab block sizes 16 << c: 16 .. 2048 */
#define __SM_SLAB_MAX	2048ULL		/* larger requests take whole pages */
#define __SM_FREE_PAGE	0		/* page kinds */
#define __SM_SLAB	1
#define __SM_RUN	2		/* first page of a multi-page block */
#define __SM_TAIL	3		/* the other pages of that block */
#define __SM_MAP_TYPE_ARENA 33		/* BPF_MAP_TYPE_ARENA (uapi, v6.9) */

/* Slab classes with a slot in each CPU's cache: the smallest ones whose
 * blocks (16 + 32 + ... + (16 << c), i.e. (32 << c) - 16 bytes) fit in
 * STATIC_MALLOC_CACHE_BYTES together. */
#define __SM_CACHED(c)	((32U << (c)) - 16 <= STATIC_MALLOC_CACHE_BYTES)
#define __SM_CACHED_CLASSES						\
	(__SM_CACHED(0) + __SM_CACHED(1) + __SM_CACHED(2) + __SM_CACHED(3) + \
	 __SM_CACHED(4) + __SM_CACHED(5) + __SM_CACHED(6) + __SM_CACHED(7))

/* v6.9 may_goto: true until the program has looped ~8M times (then false).
 * Used as `i < n && __sm_can_loop`: the verifier then checks a loop body
 * once its states repeat instead of walking every iteration, provided the
 * loop counter is not a known constant (loops start from a->zero below). */
#define __sm_can_loop							\
	({								\
		__label__ ___stop, ___go;				\
		int ___more = 1;					\
		asm volatile goto("may_goto %l[___stop]" :::: ___stop);	\
		goto ___go;						\
	___stop:							\
		___more = 0;						\
	___go:								\
		___more;						\
	})

struct static_malloc_stats {
	__u64 bytes_in_use;
	__u64 peak_bytes;
	__u64 allocations;
	__u64 frees;
	__u64 failed_allocations;
	__u64 rejected_frees;
	__u64 contended;
};

/* One descriptor per heap page (all metadata stays out of the user's pages). */
struct __sm_page {
	__u8 kind;	/* __SM_FREE_PAGE, __SM_SLAB, __SM_RUN, __SM_TAIL */
	__u8 cls;	/* slab: block size is 16 << cls */
	__u16 count;	/* slab: free blocks; run: pages of the block */
	__u16 prev;	/* slab with free blocks: its class list, page index + 1 */
	__u16 next;
	__u64 bits[4];	/* slab: bit i set = block i handed out (or past the page) */
	__u64 deferred[4];	/* slab: bit i set = block i freed, waiting in the deferred
				 * list (its bit in bits[] still set); run: bit 0. Set and
				 * cleared with atomic instructions only, with or without
				 * the lock: a free that finds the heap busy marks here. */
};

/* Everything the heap needs, in the arena; the user's pages come last. */
struct __sm_arena {
	__u64 lock;			/* 0 free, else the holder's CPU + 1 (compare-and-swap) */
	__u64 deferred;			/* blocks freed while the heap was busy: a stack,
					 * generation << 32 | first block's offset + 1
					 * (0: empty); each block's first 8 bytes hold the
					 * next one's offset + 1. Changed by compare-and-swap
					 * only; the generation, bumped by every change, keeps
					 * a pop from taking a stale link (ABA). */
	__u32 zero;			/* always 0: a loop start the verifier cannot see */
	__u32 pad;
	__u16 partial[__SM_CLASSES];	/* per class: first slab with free blocks, index + 1 */
	struct __sm_page page[__SM_PAGES];
	char data[STATIC_MALLOC_HEAP_SIZE] __attribute__((aligned(4096)));
};

/* The arena map: libbpf creates it, mmap()s it and copies the heap's
 * initial (zero) bytes in, so every heap page is present before the first
 * program runs (bpf_arena_alloc_pages is a sleepable kfunc, which XDP and TC
 * cannot call). One spare page for libbpf's rounding. */
struct {
	__uint(type, __SM_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, (sizeof(struct __sm_arena) + 4095) / 4096 + 1);
} static_arena __sm_weak SEC(".maps");

/* The heap itself. bpftool gen object keeps one weak symbol but appends
 * every object's copy of the section, so in all objects but one of a link,
 * STATIC_MALLOC_ARENA_EXTERN makes this a reference to the one heap. */
#ifdef STATIC_MALLOC_ARENA_EXTERN
extern struct __sm_arena __arena __sm_heap_arena;
#else
struct __sm_arena __arena __sm_heap_arena __sm_weak;
#endif

/* Each CPU's value (key 0): its counters, as in the classic backend (sum
 * them over the CPUs), then its cache: one slot per cached slab class, the
 * offset + 1 of a freed block parked there (0: empty), and the guard that
 * serializes this CPU's calls (see Per-CPU cache in the manual). */
struct __sm_cpu {
	struct static_malloc_stats stats;
	__u64 guard;
	__u64 slot[__SM_CLASSES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct __sm_cpu);
} static_stats __sm_weak SEC(".maps");

static __sm_inline struct __sm_cpu *__sm_this_cpu(void)
{
	__u32 ___k = 0;

	return bpf_map_lookup_elem(&static_stats, &___k);
}

static __sm_inline struct static_malloc_stats *__sm_stats(void)
{
	return (struct static_malloc_stats *)__sm_this_cpu();
}

/* Counters of one call. `busy`: the call did not get the heap's lock (one
 * more in `contended`). `atomic`: it may have interrupted this CPU's own
 * call (which counts with plain adds): atomic adds. */
#define __sm_add(atomic, counter, v)					\
	do {								\
		if (atomic)						\
			__sync_fetch_and_add(&(counter), (v));		\
		else							\
			(counter) += (v);				\
	} while (0)

/* ... into the counters at s (this CPU's; NULL: none). */
static __sm_inline void __sm_count_alloc_in(struct static_malloc_stats *___s, __u64 bytes, bool busy, bool atomic)
{
	if (!___s)
		return;
	if (busy)
		__sync_fetch_and_add(&___s->contended, 1);
	if (!bytes) {
		__sm_add(atomic, ___s->failed_allocations, 1);
		return;
	}
	__sm_add(atomic, ___s->allocations, 1);
	__sm_add(atomic, ___s->bytes_in_use, bytes);
	if (___s->bytes_in_use > ___s->peak_bytes)
		___s->peak_bytes = ___s->bytes_in_use;
}

static __sm_inline void __sm_count_free_in(struct static_malloc_stats *___s, __u64 bytes, bool busy, bool atomic)
{
	if (!___s)
		return;
	if (busy)
		__sync_fetch_and_add(&___s->contended, 1);
	if (!bytes) {
		__sm_add(atomic, ___s->rejected_frees, 1);
		return;
	}
	__sm_add(atomic, ___s->frees, 1);
	__sm_add(atomic, ___s->bytes_in_use, -bytes);
}

#define __sm_count_alloc(bytes, busy, atomic)	__sm_count_alloc_in(__sm_stats(), bytes, busy, atomic)
#define __sm_count_free(bytes, busy, atomic)	__sm_count_free_in(__sm_stats(), bytes, busy, atomic)

/* Take this CPU's guard: the CPU's value, or NULL when an allocator call of
 * this CPU is under way (we interrupted it) and the cache is not ours. */
static __sm_inline struct __sm_cpu *__sm_guard(void)
{
	struct __sm_cpu *___m = __sm_this_cpu();

	if (!___m || *(volatile __u64 *)&___m->guard)
		return NULL;
	*(volatile __u64 *)&___m->guard = 1;
	return ___m;
}

static __sm_inline void __sm_unguard(struct __sm_cpu *m)
{
	if (m)
		*(volatile __u64 *)&m->guard = 0;
}

/* The lock word's value while this CPU holds it. */
static __sm_inline __u64 __sm_me(void)
{
	return (__u64)bpf_get_smp_processor_id() + 1;
}

static __sm_inline int __sm_trylock(struct __sm_arena __arena *a, __u64 me)
{
	return __sync_val_compare_and_swap(&a->lock, 0, me) == 0;
}

/*
 * Wait for the heap's lock: 1 when taken, 0 when this CPU holds it, 2 when
 * the tries ran out. A holder on
 * this CPU is the program we interrupted (or, where programs are preempted,
 * a task we preempted): it cannot run until we return, so waiting is
 * useless and we give up at once. Any other holder is running on another
 * CPU (or its vCPU was taken away by the host) and will let go: we wait up
 * to STATIC_MALLOC_SPIN_TRIES tries, bounded by may_goto. A global function
 * of its own so that its wait has its own may_goto budget (the kernel
 * gives each function its own counter) and does not cut the caller's loops.
 */
__sm_global __u64 __sm_arena_wait(__u64 me)
{
	struct __sm_arena __arena *___a = &__sm_heap_arena;
	__u64 ___v;
	__u32 ___t;

	for (___t = ___a->zero; ___t < STATIC_MALLOC_SPIN_TRIES && __sm_can_loop; ___t++) {
		___v = *(volatile __u64 __arena *)&___a->lock;
		if (___v == me)
			return 0;
		if (!___v && __sm_trylock(___a, me))
			return 1;
	}
	return 2;
}

/* Rounds of __sm_arena_wait, each with its own may_goto budget, before a
 * malloc takes another source. */
#define __SM_WAIT_ROUNDS 8

static __sm_inline int __sm_lock(struct __sm_arena __arena *a, __u64 me)
{
	__u64 ___r = 2;
	int ___k;

	if (__sm_trylock(a, me))
		return 1;
	for (___k = 0; ___k < __SM_WAIT_ROUNDS && ___r == 2; ___k++)
		___r = __sm_arena_wait(me);
	return ___r == 1;
}

static __sm_inline void __sm_unlock(struct __sm_arena __arena *a)
{
	__sync_lock_test_and_set(&a->lock, 0);	/* an atomic exchange: release */
}

/* Index of the lowest set bit of x != 0, with no branch and no table. */
static __sm_inline __u32 __sm_ctz(__u64 x)
{
	x = (x & -x) - 1;
	x -= (x >> 1) & 0x5555555555555555ULL;
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (__u32)((x * 0x0101010101010101ULL) >> 56);
}

static __sm_inline __u64 __sm_popcount(__u64 x)
{
	x -= (x >> 1) & 0x5555555555555555ULL;
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

/* Blocks per slab page of class c, and its bitmap when nothing is handed out. */
#define __sm_slab_cap(c)	(256U >> (c))

static __sm_inline __u32 __sm_class(__u64 size)
{
	__u32 ___c = 0;

	___c += size > 16;
	___c += size > 32;
	___c += size > 64;
	___c += size > 128;
	___c += size > 256;
	___c += size > 512;
	___c += size > 1024;
	return ___c;
}

/* Unlink slab page p (index + 1) from class c's list of slabs with free blocks. */
static __sm_inline void __sm_unlink(struct __sm_arena __arena *a, __u32 c, __u32 p)
{
	struct __sm_page __arena *___g = &a->page[p - 1];
	__u32 ___prev = ___g->prev, ___next = ___g->next;

	if (___prev)
		a->page[___prev - 1].next = ___next;
	else
		a->partial[c & (__SM_CLASSES - 1)] = ___next;
	if (___next)
		a->page[___next - 1].prev = ___prev;
	___g->prev = ___g->next = 0;
}

static __sm_inline void __sm_push(struct __sm_arena __arena *a, __u32 c, __u32 p)
{
	struct __sm_page __arena *___g = &a->page[p - 1];
	__u32 ___head = a->partial[c & (__SM_CLASSES - 1)];

	___g->prev = 0;
	___g->next = ___head;
	if (___head)
		a->page[___head - 1].prev = p;
	a->partial[c & (__SM_CLASSES - 1)] = p;
}

/* First fit: the index of n free pages in a row, marked as one block, or -1. */
static __sm_inline long __sm_take_pages(struct __sm_arena __arena *a, __u32 n)
{
	struct __sm_page __arena *___g;
	__u32 ___i, ___start = a->zero, ___j;

	for (___i = a->zero; ___i < __SM_PAGES && __sm_can_loop; ___i++) {
		if (a->page[___i].kind != __SM_FREE_PAGE) {
			___start = ___i + 1;
			continue;
		}
		if (___i + 1 - ___start < n)
			continue;
		___g = &a->page[___start];
		___g->kind = __SM_RUN;
		___g->count = n;
		/* no marks on a new block (a racing double free may have left one);
		 * volatile: clang would merge the stores into a memset of address
		 * space 1 that it does not cast (see Pointer form in the manual) */
		for (___j = 0; ___j < 4; ___j++)
			*(volatile __u64 __arena *)&___g->deferred[___j] = 0;
		for (___j = ___start + 1; ___j <= ___i && __sm_can_loop; ___j++)
			a->page[___j].kind = __SM_TAIL;
		return ___start;
	}
	return -1;
}

/* Offset in data[] of a new block of `size` bytes and its usable size; 0 if none. */
static __sm_inline __u64 __sm_alloc_locked(struct __sm_arena __arena *a, __u64 size, __u64 *usable)
{
	struct __sm_page __arena *___g;
	__u32 ___c, ___p, ___w, ___bit;
	__u64 ___free;
	long ___first;

	if (size > __SM_SLAB_MAX) {
		if (size > STATIC_MALLOC_HEAP_SIZE)
			return 0;
		___w = (size + __SM_PAGE - 1) / __SM_PAGE;
		___first = __sm_take_pages(a, ___w);
		if (___first < 0)
			return 0;
		*usable = (__u64)___w * __SM_PAGE;
		return (__u64)___first * __SM_PAGE + 1;	/* +1: 0 means none */
	}
	___c = __sm_class(size);
	___p = a->partial[___c];
	if (!___p) {
		___first = __sm_take_pages(a, 1);
		if (___first < 0)
			return 0;
		___p = ___first + 1;
		___g = &a->page[___first];
		___g->kind = __SM_SLAB;
		___g->cls = ___c;
		___g->count = __sm_slab_cap(___c);
		___g->bits[0] = __sm_slab_cap(___c) < 64 ? ~0ULL << __sm_slab_cap(___c) : 0;
		___g->bits[1] = __sm_slab_cap(___c) > 64 ? 0 : ~0ULL;
		___g->bits[2] = ___g->bits[3] = __sm_slab_cap(___c) > 128 ? 0 : ~0ULL;
		__sm_push(a, ___c, ___p);
	}
	___g = &a->page[___p - 1];
	___w = ___g->bits[0] != ~0ULL ? 0 : ___g->bits[1] != ~0ULL ? 1 : ___g->bits[2] != ~0ULL ? 2 : 3;
	___free = ~___g->bits[___w];
	if (!___free)
		return 0;	/* a full slab on the list: broken metadata, fail safely */
	___bit = __sm_ctz(___free);
	___g->bits[___w] |= 1ULL << ___bit;
	if (___g->deferred[___w] & (1ULL << ___bit))	/* left by a racing double free */
		__sync_fetch_and_and(&___g->deferred[___w], ~(1ULL << ___bit));
	if (--___g->count == 0)
		__sm_unlink(a, ___c, ___p);
	*usable = 16ULL << ___c;
	return (__u64)(___p - 1) * __SM_PAGE + (((__u64)___w * 64 + ___bit) << (4 + ___c)) + 1;
}

/*
 * Where the block whose payload is at `off` in data[] keeps its marks: its
 * bitmap word *w and bit *mask in its page's bits[] and deferred[]; returns
 * its usable size, or 0 when off is not the start of a block handed out
 * (interior, tail-page, foreign, or already given back). Reads without the
 * lock are exact for a block its caller owns: while a block is handed out,
 * nobody changes its page's kind, class or run length, nor its bit.
 */
static __sm_inline __u64 __sm_locate(struct __sm_arena __arena *a, __u64 off, __u32 *w, __u64 *mask)
{
	struct __sm_page __arena *___g;
	__u32 ___p, ___in, ___c, ___idx, ___n;

	if (off >= STATIC_MALLOC_HEAP_SIZE)
		return 0;
	___p = off / __SM_PAGE;
	___in = off % __SM_PAGE;
	___g = &a->page[___p];
	if (___g->kind == __SM_RUN) {
		___n = ___g->count;
		if (___in || !___n || ___p + ___n > __SM_PAGES)
			return 0;
		*w = 0;
		*mask = 1;
		return (__u64)___n * __SM_PAGE;
	}
	if (___g->kind != __SM_SLAB)
		return 0;
	___c = ___g->cls & (__SM_CLASSES - 1);
	if (___in & ((16U << ___c) - 1))
		return 0;
	___idx = ___in >> (4 + ___c);
	*w = (___idx >> 6) & 3;
	*mask = 1ULL << (___idx & 63);
	if (!(___g->bits[*w] & *mask))
		return 0;
	return 16ULL << ___c;
}

#define __SM_QUERY	0	/* __sm_block_locked: the size of a live block */
#define __SM_RELEASE	1	/* ... and free it */
#define __SM_UNDEFER	2	/* free a block of the deferred list */

/*
 * Usable size of the block at `off` in data[], or 0 when it is not one that
 * `how` may take: __SM_QUERY and __SM_RELEASE want a live block (a deferred
 * one was freed already: a double free), __SM_UNDEFER a deferred one.
 * __SM_RELEASE and __SM_UNDEFER give it back. Caller holds the lock.
 */
static __sm_inline __u64 __sm_block_locked(struct __sm_arena __arena *a, __u64 off, int how)
{
	struct __sm_page __arena *___g;
	__u32 ___p, ___w = 0, ___c, ___j;
	__u64 ___mask = 0, ___n;

	___n = __sm_locate(a, off, &___w, &___mask);
	if (!___n)
		return 0;
	___p = off / __SM_PAGE;
	___g = &a->page[___p];
	if (!(___g->deferred[___w] & ___mask) != (how != __SM_UNDEFER))
		return 0;
	if (how == __SM_QUERY)
		return ___n;
	if (how == __SM_UNDEFER)
		__sync_fetch_and_and(&___g->deferred[___w], ~___mask);
	if (___g->kind == __SM_RUN) {
		for (___j = ___p; ___j < ___p + (___n / __SM_PAGE) && __sm_can_loop; ___j++)
			a->page[___j].kind = __SM_FREE_PAGE;
		return ___n;
	}
	___c = ___g->cls & (__SM_CLASSES - 1);
	___g->bits[___w] &= ~___mask;
	if (___g->count++ == 0)
		__sm_push(a, ___c, ___p + 1);
	if (___g->count == __sm_slab_cap(___c)) {
		/* an empty slab goes back to the pages, for any size */
		__sm_unlink(a, ___c, ___p + 1);
		___g->kind = __SM_FREE_PAGE;
	}
	return ___n;
}

static __sm_inline __u64 __sm_offset_of(struct __sm_arena __arena *a, __u64 ptr)
{
	/* Lower 32 bits: a pointer is the same in its user form (what static_malloc
	 * returns) and its kernel form (after addr_space_cast). */
	return (__u32)((__u32)ptr - (__u32)(__u64)&a->data[0]);
}

/*
 * The deferred list (see CONTENTION in the manual): blocks freed while the
 * heap was busy, a lock-free stack in the arena. A block joins it marked in
 * its page's deferred[] (so a second free of it is refused) and still
 * handed out in bits[] (so no malloc takes it); the next lock holder gives
 * them all back.
 */
#define __SM_MAX_BLOCKS	(STATIC_MALLOC_HEAP_SIZE / 16)

/* The next block's offset + 1, kept in a deferred block's first 8 bytes
 * (indexed as __u64s: through a char pointer clang would store byte by byte). */
#define __sm_link(a, off)	(((volatile __u64 __arena *)(a)->data)[(off) / 8])

/* The list's head with `first` (an offset + 1, 0: empty) and the next generation. */
#define __sm_head(h, first)	((((h) >> 32) + 1) << 32 | (first))

/* Push the marked block at `off`; 0 if the list stayed busy for all the tries.
 * Global, like the take below: the verifier checks its loop once. */
__sm_global __u64 __sm_arena_defer_push(__u64 off)
{
	struct __sm_arena __arena *a = &__sm_heap_arena;
	__u64 ___h;
	__u32 ___t;

	if (off >= STATIC_MALLOC_HEAP_SIZE)
		return 0;
	for (___t = a->zero; ___t < STATIC_MALLOC_SPIN_TRIES && __sm_can_loop; ___t++) {
		___h = *(volatile __u64 __arena *)&a->deferred;
		__sm_link(a, off) = (__u32)___h;
		if (__sync_val_compare_and_swap(&a->deferred, ___h, __sm_head(___h, off + 1)) == ___h)
			return 1;
	}
	return 0;
}

/* Take the whole list (`all`) or its first block: its offset + 1, 0 if none.
 * (The first block alone is taken by no caller now; see Contention.) */
__sm_global __u64 __sm_arena_defer_take(__u64 all)
{
	struct __sm_arena __arena *a = &__sm_heap_arena;
	__u64 ___h, ___first, ___next;
	__u32 ___t;

	for (___t = a->zero; ___t < STATIC_MALLOC_SPIN_TRIES && __sm_can_loop; ___t++) {
		___h = *(volatile __u64 __arena *)&a->deferred;
		___first = (__u32)___h;
		if (!___first || ___first > STATIC_MALLOC_HEAP_SIZE)
			return 0;
		/* read before the swap; a stale link fails the swap (generation) */
		___next = all ? 0 : (__u32)__sm_link(a, ___first - 1);
		if (__sync_val_compare_and_swap(&a->deferred, ___h, __sm_head(___h, ___next)) == ___h)
			return ___first;
	}
	return 0;
}

/*
 * Set `mask` in *word, atomically: 1, or 0 when it was set already (or the
 * word stayed busy). A compare-and-swap loop: the x86 JIT has no fetch-or
 * into an arena (the verifier refuses it: "BPF_ATOMIC stores into R7 arena
 * is not allowed", 6.12); a plain atomic and/or, without fetch, it has.
 */
static __sm_inline int __sm_mark(__u64 __arena *word, __u64 mask)
{
	__u64 ___old;
	__u32 ___t;

	for (___t = __sm_heap_arena.zero; ___t < STATIC_MALLOC_SPIN_TRIES && __sm_can_loop; ___t++) {
		___old = *(volatile __u64 __arena *)word;
		if (___old & mask)
			return 0;
		if (__sync_val_compare_and_swap(word, ___old, ___old | mask) == ___old)
			return 1;
	}
	return 0;
}

/*
 * Free the block at `off` while the heap is busy: mark it (atomically: of
 * two frees of one block, one finds the mark) and push it.
 * Its usable size, or 0 when refused (not a live block, or deferred already).
 */
static __sm_inline __u64 __sm_defer(struct __sm_arena __arena *a, __u64 off)
{
	struct __sm_page __arena *___g;
	__u64 ___mask = 0, ___n;
	__u32 ___w = 0;

	___n = __sm_locate(a, off, &___w, &___mask);
	if (!___n)
		return 0;
	___g = &a->page[off / __SM_PAGE];
	if (!__sm_mark(&___g->deferred[___w], ___mask))
		return 0;
	if (__sm_arena_defer_push(off))
		return ___n;
	__sync_fetch_and_and(&___g->deferred[___w], ~___mask);
	return 0;
}

/* Give every deferred block back to the heap. Caller holds the lock.
 * Global, as the two below: each is verified once, not at every use. */
__sm_global __u64 __sm_arena_drain(void)
{
	struct __sm_arena __arena *a = &__sm_heap_arena;
	__u64 ___next, ___off;
	__u32 ___t;

	if (!(__u32)*(volatile __u64 __arena *)&a->deferred)
		return 0;
	___next = __sm_arena_defer_take(1);
	for (___t = a->zero; ___next && ___t < __SM_MAX_BLOCKS && __sm_can_loop; ___t++) {
		___off = ___next - 1;
		if (___off >= STATIC_MALLOC_HEAP_SIZE)
			break;
		___next = (__u32)__sm_link(a, ___off);
		if (!__sm_block_locked(a, ___off, __SM_UNDEFER))
			break;	/* not a deferred block: written to after its free, the rest is lost */
	}
	return 0;
}

/* Under the lock: give the deferred blocks back, then take a block of `size`
 * bytes: its usable size << 32 | its offset + 1, 0 if none. */
__sm_global __u64 __sm_arena_take(__u64 size)
{
	struct __sm_arena __arena *___a = &__sm_heap_arena;
	__u64 ___o, ___usable = 0;

	__sm_arena_drain();
	___o = __sm_alloc_locked(___a, size, &___usable);
	return ___o ? ___usable << 32 | ___o : 0;
}

/* With this CPU's guard: move this CPU's parked blocks (marked deferred
 * already) to the deferred list, which the next lock holder gives back;
 * how many moved. */
__sm_global __u64 __sm_arena_flush(void)
{
	struct __sm_cpu *___m = __sm_this_cpu();
	__u64 ___v, ___n = 0;
	__u32 ___c;

	if (!___m)
		return 0;
	for (___c = 0; ___c < __SM_CACHED_CLASSES; ___c++) {
		___v = ___m->slot[___c];
		if (___v && __sm_arena_defer_push(___v - 1)) {
			___m->slot[___c] = 0;
			___n++;
		}
	}
	return ___n;
}

/* The heap operations, verified once per program (global functions).
 * First this CPU's cache, without the lock (see Per-CPU cache). */
__sm_global __u64 __sm_arena_malloc(__u64 size)
{
	struct __sm_arena __arena *___a = &__sm_heap_arena;
	struct __sm_cpu *___m = __sm_guard();
	__u64 ___r, ___v;
	__u32 ___c = __sm_class(size), ___in;
	bool ___busy;

	if (___m && size <= __SM_SLAB_MAX && ___c < __SM_CACHED_CLASSES) {
		___v = ___m->slot[___c & (__SM_CLASSES - 1)];
		if (___v && ___v <= STATIC_MALLOC_HEAP_SIZE) {
			___m->slot[___c & (__SM_CLASSES - 1)] = 0;
			/* unmark it: an atomic and, other CPUs mark in that word too */
			___in = ((___v - 1) % __SM_PAGE) >> (4 + ___c);
			__sync_fetch_and_and(&___a->page[(___v - 1) / __SM_PAGE].deferred[(___in >> 6) & 3],
					     ~(1ULL << (___in & 63)));
			__sm_count_alloc_in(&___m->stats, 16ULL << ___c, false, false);
			__sm_unguard(___m);
			return (__u64)&___a->data[___v - 1];
		}
	}
	___busy = !__sm_lock(___a, __sm_me());
	if (___busy) {
		___r = 0;	/* see Contention in the manual */
	} else {
		___r = __sm_arena_take(size);
		/* again when blocks were freed (deferred) while we looked, or
		 * this CPU's cache held some */
		if (!___r && ((___m && __sm_arena_flush()) || (__u32)*(volatile __u64 __arena *)&___a->deferred))
			___r = __sm_arena_take(size);
		__sm_unlock(___a);
	}
	__sm_count_alloc(___r >> 32, ___busy, ___busy || !___m);
	__sm_unguard(___m);
	return ___r ? (__u64)&___a->data[(__u32)___r - 1] : 0;
}

/* Global functions must return a scalar: the freed block's usable size, 0 if refused. */
__sm_global __u64 __sm_arena_free(__u64 ptr)
{
	struct __sm_arena __arena *___a = &__sm_heap_arena;
	struct __sm_cpu *___m;
	__u64 ___n, ___off, ___mask = 0;
	__u32 ___w = 0, ___c;

	if (!ptr)
		return 0;
	___off = __sm_offset_of(___a, ptr);
	___m = __sm_guard();
	if (___m) {
		/* park a live, unmarked block of a cached class in its empty slot:
		 * marked deferred, so that a second free of it is refused */
		___n = __sm_locate(___a, ___off, &___w, &___mask);
		___c = __sm_class(___n);
		if (___n && ___n <= __SM_SLAB_MAX && ___c < __SM_CACHED_CLASSES &&
		    !___m->slot[___c & (__SM_CLASSES - 1)] &&
		    !(___a->page[___off / __SM_PAGE].deferred[___w] & ___mask)) {
			__sync_fetch_and_or(&___a->page[___off / __SM_PAGE].deferred[___w], ___mask);
			___m->slot[___c & (__SM_CLASSES - 1)] = ___off + 1;
			__sm_count_free_in(&___m->stats, ___n, false, false);
			__sm_unguard(___m);
			return ___n;
		}
	}
	if (!__sm_trylock(___a, __sm_me())) {
		/* busy: never wait for a free, defer it */
		___n = __sm_defer(___a, ___off);
		__sm_count_free(___n, true, true);
		__sm_unguard(___m);
		return ___n;
	}
	if ((__u32)*(volatile __u64 __arena *)&___a->deferred)
		__sm_arena_drain();
	___n = __sm_block_locked(___a, ___off, __SM_RELEASE);
	__sm_unlock(___a);
	__sm_count_free(___n, false, !___m);
	__sm_unguard(___m);
	return ___n;
}

/* Usable size of a live block, 0 if ptr is not one (for realloc). No lock:
 * the caller owns the block, whose page nobody else changes (__sm_locate). */
static __sm_inline __u64 __sm_arena_usable(__u64 ptr)
{
	struct __sm_arena __arena *___a = &__sm_heap_arena;
	__u64 ___off = __sm_offset_of(___a, ptr), ___mask = 0, ___n;
	__u32 ___w = 0;

	___n = __sm_locate(___a, ___off, &___w, &___mask);
	if (___n && (___a->page[___off / __SM_PAGE].deferred[___w] & ___mask))
		return 0;	/* freed already, waiting in the deferred list */
	return ___n;
}

/* Zero (src == 0) or copy `bytes` (a multiple of 8) into the block at dst. */
static __sm_inline void __sm_fill(__u64 dst, __u64 src, __u64 bytes)
{
	struct __sm_arena __arena *___a = &__sm_heap_arena;
	__u64 __arena *___d = (__u64 __arena *)&___a->data[__sm_offset_of(___a, dst)];
	__u64 __arena *___s = (__u64 __arena *)&___a->data[__sm_offset_of(___a, src)];
	__u32 ___i;

	for (___i = ___a->zero; ___i < bytes / 8 && __sm_can_loop; ___i++)
		___d[___i] = src ? ___s[___i] : 0;
}

__sm_global __u64 __sm_arena_calloc(__u64 nmemb, __u64 size)
{
	__u64 ___p;

	if (size && nmemb > STATIC_MALLOC_HEAP_SIZE / size) {
		__sm_count_alloc(0, false, true);	/* overflow, or more than the heap */
		return 0;
	}
	___p = __sm_arena_malloc(nmemb * size);
	if (___p)
		__sm_fill(___p, 0, (nmemb * size + 7) & ~7ULL);
	return ___p;
}

__sm_global __u64 __sm_arena_realloc(__u64 ptr, __u64 size)
{
	__u64 ___old, ___new;

	if (!ptr)
		return __sm_arena_malloc(size);
	if (!size) {
		__sm_arena_free(ptr);
		return 0;
	}
	___old = __sm_arena_usable(ptr);
	if (!___old) {
		__sm_count_free(0, false, true);	/* not a live block: refused, nothing changes */
		return 0;
	}
	if (size <= ___old && (___old <= __SM_SLAB_MAX ? __sm_class(size) == __sm_class(___old)
					   : size > ___old - __SM_PAGE))
		return ptr;	/* same block size: in place */
	___new = __sm_arena_malloc(size);
	if (!___new)
		return 0;
	__sm_fill(___new, ptr, size < ___old ? (size + 7) & ~7ULL : ___old);
	__sm_arena_free(ptr);
	return ___new;
}

/*
 * static_malloc_check(): 0 when the metadata is consistent, else the rule:
 *   1 a page kind is unknown         2 a tail page follows no block
 *   3 a block's page count is wrong  4 a slab's free count disagrees with its bitmap
 *   5 a slab's bits past its blocks are clear   6 a class list is broken
 *   7 a slab with free blocks is not on its class list (or a full one is)
 *   8 the heap stayed busy (the lock could not be taken)
 *   9 a block is marked deferred but not handed out
 *  10 the deferred list is broken: a block on it is not a marked, handed-out
 *     block, or it holds more blocks than are marked (a loop)
 * The deferred list is walked first, then the pages: a free that defers
 * while we look marks before it pushes, so the pages never count fewer.
 */
static __sm_inline int __sm_check_locked(struct __sm_arena __arena *___a)
{
	struct __sm_page __arena *___g;
	__u32 ___i, ___tail = ___a->zero, ___c, ___cap, ___listed = ___a->zero, ___want = ___a->zero, ___p, ___prev;
	__u64 ___o, ___mask, ___deferred = ___a->zero, ___marked = ___a->zero;
	__u32 ___w;

	___o = (__u32)*(volatile __u64 __arena *)&___a->deferred;
	for (___i = ___a->zero; ___o && __sm_can_loop; ___i++) {
		___w = 0;
		___mask = 0;
		if (___o > STATIC_MALLOC_HEAP_SIZE || ___i >= __SM_MAX_BLOCKS ||
		    !__sm_locate(___a, ___o - 1, &___w, &___mask) ||
		    !(___a->page[(___o - 1) / __SM_PAGE].deferred[___w] & ___mask))
			return 10;
		___deferred++;
		___o = (__u32)__sm_link(___a, ___o - 1);
	}
	for (___i = ___a->zero; ___i < __SM_PAGES && __sm_can_loop; ___i++) {
		___g = &___a->page[___i];
		if (___g->kind > __SM_TAIL)
			return 1;
		if (___g->kind == __SM_TAIL) {
			if (!___tail)
				return 2;
			___tail--;
			continue;
		}
		if (___tail)
			return 3;
		if (___g->kind == __SM_RUN) {
			if (!___g->count || ___i + ___g->count > __SM_PAGES)
				return 3;
			___tail = ___g->count - 1;
			if ((___g->deferred[0] & ~1ULL) | ___g->deferred[1] | ___g->deferred[2] | ___g->deferred[3])
				return 9;
			___marked += ___g->deferred[0];
		}
		if (___g->kind != __SM_SLAB)
			continue;
		___c = ___g->cls;
		if (___c >= __SM_CLASSES)
			return 1;
		___cap = __sm_slab_cap(___c);
		if (___g->count != ___cap - (__sm_popcount(___g->bits[0]) + __sm_popcount(___g->bits[1]) +
					      __sm_popcount(___g->bits[2]) + __sm_popcount(___g->bits[3]) -
					      (256 - ___cap)))
			return 4;
		if ((___cap < 64 && (~___g->bits[0] >> ___cap)) || (___cap <= 64 && ~___g->bits[1]) ||
		    (___cap <= 128 && (~___g->bits[2] | ~___g->bits[3])))
			return 5;
		if ((___g->deferred[0] & ~___g->bits[0]) | (___g->deferred[1] & ~___g->bits[1]) |
		    (___g->deferred[2] & ~___g->bits[2]) | (___g->deferred[3] & ~___g->bits[3]))
			return 9;
		___marked += __sm_popcount(___g->deferred[0]) + __sm_popcount(___g->deferred[1]) +
			     __sm_popcount(___g->deferred[2]) + __sm_popcount(___g->deferred[3]);
		if (___g->count == ___cap)
			return 7;	/* an empty slab is a free page again */
		___want += ___g->count != 0;	/* full slabs are off the lists */
	}
	if (___tail)
		return 3;
	/* every class list: linked both ways, only slabs of its class with free blocks */
	for (___c = ___a->zero; ___c < __SM_CLASSES && __sm_can_loop; ___c++) {
		___prev = 0;
		for (___p = ___a->partial[___c & (__SM_CLASSES - 1)]; ___p && __sm_can_loop; ___p = ___g->next) {
			if (___p > __SM_PAGES || ___listed > __SM_PAGES)
				return 6;
			___g = &___a->page[___p - 1];
			if (___g->kind != __SM_SLAB || ___g->cls != ___c || ___g->prev != ___prev || !___g->count)
				return 6;
			___listed++;
			___prev = ___p;
		}
	}
	if (___deferred > ___marked)
		return 10;
	return ___listed == ___want ? 0 : 7;
}

__sm_global int __sm_arena_check(void)
{
	struct __sm_arena __arena *___a = &__sm_heap_arena;
	int ___bad;

	if (!__sm_lock(___a, __sm_me()))
		return 8;
	___bad = __sm_check_locked(___a);
	__sm_unlock(___a);
	return ___bad;
}

/* ---- the API ------------------------------------------------------------ */

/*
 * A new block's pointer in the kernel form (addr_space_cast to the arena,
 * the lower 32 bits): the register is an arena pointer to the verifier
 * before the program touches it. clang 19 needs this: it merges stores such
 * as `t->left = NULL; t->right = NULL;` into a memset of address space 1
 * that it forgets to cast, and the verifier then rejects the store through
 * the plain number ("R0 invalid mem access 'scalar'"). So the heap holds
 * kernel-form pointers; user space adds its mapping's upper 32 bits.
 */
static __sm_inline void __heap *__sm_kern(__u64 p)
{
	asm volatile("%0 = addr_space_cast(%0, 0, 1)" : "+r"(p));
	return (void __heap *)p;
}

/* ... and back to a plain number (the user form) for the global functions,
 * which take scalars only. */
static __sm_inline __u64 __sm_user(void __heap *p)
{
	__u64 ___x = (__u64)p;

	asm volatile("%0 = addr_space_cast(%0, 1, 0)" : "+r"(___x));
	return ___x;
}

static __sm_inline void __heap *static_malloc(size_t size)
{
	return __sm_kern(__sm_arena_malloc(size));
}

static __sm_inline void __heap *static_calloc(size_t nmemb, size_t size)
{
	return __sm_kern(__sm_arena_calloc(nmemb, size));
}

static __sm_inline void __heap *static_realloc(void __heap *ptr, size_t size)
{
	return __sm_kern(__sm_arena_realloc(__sm_user(ptr), size));
}

static __sm_inline void static_free(void __heap *ptr)
{
	__sm_arena_free(__sm_user(ptr));
}

/* Pointers stored in the arena are followed as they are. */
#define static_ptr(p)			(p)
#define static_ptr_sized(p, span)	(p)

static __sm_inline int static_malloc_check(void)
{
	return __sm_arena_check();
}

#ifdef STATIC_MALLOC_REPLACE
#define malloc(size)		static_malloc(size)
#define calloc(nmemb, size)	static_calloc(nmemb, size)
#define realloc(ptr, size)	static_realloc(ptr, size)
#define free(ptr)		static_free(ptr)
#endif

#else /* the classic backend */

#ifndef __VMLINUX_H__
#include <linux/bpf.h>
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#endif
#include <bpf/bpf_helpers.h>

/* ---- configuration ---------------------------------------------------- */

/* Bytes of heap (multiple of 512, 1 KiB .. 3 MiB; PERCPU: .. 24 KiB). */
#ifndef STATIC_MALLOC_HEAP_SIZE
#define STATIC_MALLOC_HEAP_SIZE 65536
#endif

/* Blocks static_malloc_check() walks at most (verifier: ~300 insns each). */
#ifndef STATIC_MALLOC_CHECK_MAX
#define STATIC_MALLOC_CHECK_MAX (STATIC_MALLOC_HEAP_SIZE / 16 < 1024 ? STATIC_MALLOC_HEAP_SIZE / 16 : 1024)
#endif

/* Tries to take the heap's lock in one round (the verifier walks 32 tries
 * and SPIN_TRIES / 32 rounds of them, once per program). */
#ifndef STATIC_MALLOC_SPIN_TRIES
#define STATIC_MALLOC_SPIN_TRIES 2048
#endif

/* Rounds of SPIN_TRIES tries that a call which must have the heap (malloc,
 * calloc, realloc, static_malloc_check) waits before it gives up (see LOCK). */
#ifndef STATIC_MALLOC_WAIT_ROUNDS
#define STATIC_MALLOC_WAIT_ROUNDS 64
#endif

_Static_assert(STATIC_MALLOC_HEAP_SIZE % 512 == 0,
	       "STATIC_MALLOC_HEAP_SIZE must be a multiple of 512");
_Static_assert(STATIC_MALLOC_HEAP_SIZE >= 1024,
	       "STATIC_MALLOC_HEAP_SIZE must be at least 1024 bytes");
_Static_assert(STATIC_MALLOC_HEAP_SIZE <= 3 * 1024 * 1024,
	       "STATIC_MALLOC_HEAP_SIZE must be at most 3 MiB (with its metadata, the 4 MiB array map value limit)");
#if defined(STATIC_MALLOC_PERCPU) && defined(STATIC_MALLOC_NO_LOCK)
#error "static_malloc.h: choose STATIC_MALLOC_PERCPU or STATIC_MALLOC_NO_LOCK, not both"
#endif
#ifdef STATIC_MALLOC_PERCPU
_Static_assert(STATIC_MALLOC_HEAP_SIZE <= 24 * 1024,
	       "STATIC_MALLOC_PERCPU: the heap must be at most 24 KiB (per-CPU map values are limited to 32 KiB)");
#endif

/* Bytes of freed small blocks each CPU keeps for its next mallocs (0: none). */
#ifndef STATIC_MALLOC_CACHE_BYTES
#define STATIC_MALLOC_CACHE_BYTES (STATIC_MALLOC_HEAP_SIZE / 16 < 2048 ? STATIC_MALLOC_HEAP_SIZE / 16 : 2048)
#endif
_Static_assert(STATIC_MALLOC_CACHE_BYTES >= 0 && STATIC_MALLOC_CACHE_BYTES <= STATIC_MALLOC_HEAP_SIZE / 2,
	       "STATIC_MALLOC_CACHE_BYTES must be between 0 and half the heap");
_Static_assert(STATIC_MALLOC_SPIN_TRIES >= 1 && STATIC_MALLOC_SPIN_TRIES <= 65536,
	       "STATIC_MALLOC_SPIN_TRIES must be between 1 and 65536");
_Static_assert(STATIC_MALLOC_WAIT_ROUNDS >= 1 && STATIC_MALLOC_WAIT_ROUNDS <= 1024,
	       "STATIC_MALLOC_WAIT_ROUNDS must be between 1 and 1024");

/* Classic backend: heap pointers are ordinary pointers into the map value. */
#ifndef __heap
#define __heap
#endif

/* ---- internal constants ----------------------------------------------- */

#define __SM_HEAP	((__u64)STATIC_MALLOC_HEAP_SIZE)
#define __SM_HDR	8ULL		/* block header: u32 prev_phys, u32 size|FREE */
#define __SM_MIN_BLOCK	16ULL		/* header + two free-list links */
#define __SM_FREE	1U
#define __SM_SL_LOG2	4		/* 16 second-level lists per first level */
#define __SM_SMALL	128ULL		/* below: one list per 8 bytes (fl 0) */
#define __SM_NLISTS	512		/* 32 first levels x 16 second levels */
#define __SM_MOVE	(1ULL << 63)	/* __sm_resize_o: "must move" flag */
#define __SM_CHUNK	256ULL		/* bytes per step of the zero/copy loops */

/*
 * Block states, one byte per 8 bytes of heap (state[o / 8] for the payload
 * at o). Only the byte of a block's payload start is ever non-zero. The
 * byte is the allocator's word on a block: free, realloc and the per-CPU
 * cache trust it, never the header in front of the payload, which a stray
 * write of the program can change.
 */
#define __SM_ST_NONE	0	/* free block, or not the start of a block */
				/* 2..16: live block of exactly k * 8 bytes */
#define __SM_ST_BIG	32	/* live block of more than 128 bytes */
#define __SM_ST_PARKED	64	/* | k: a k * 8-byte block in a CPU's cache */
#define __SM_ST_DEFER	128	/* freed while the heap was busy: in __sm_defer_q */
#define __SM_CACHED	128ULL	/* largest block the per-CPU cache keeps */
#define __SM_DEPTH	4	/* blocks of one size a CPU keeps at most */

#ifndef __sm_weak
#define __sm_weak __attribute__((weak))
#endif
#define __sm_noinline __attribute__((noinline))
#define __sm_inline inline __attribute__((always_inline))

/* Forget what the compiler knows about a value (libbpf's barrier_var). */
#define __sm_barrier_var(x) asm volatile("" : "+r"(x))

/*
 * Clamp: ___v stays if lo <= ___v <= hi, otherwise becomes 0. In inline asm
 * so that the compare and the later pointer addition use the same register:
 * clang may otherwise compare a copy (or fold `lo <= v <= hi` into one
 * subtraction), and the verifier before 5.11 does not carry bounds across
 * register copies. lo and hi are compile-time constants.
 */
#define __sm_clamp(x, lo, hi)						\
	asm volatile("if %[v] > %[h] goto +1\n\t"			\
		     "if %[v] >= %[l] goto +1\n\t"			\
		     "%[v] = 0"						\
		     : [v] "+r"(x) : [h] "i"(hi), [l] "i"(lo))

/*
 * Mask: x &= m, in inline asm. Bitmap scans and list numbers are bounded by
 * construction, so clang drops a C mask it can prove redundant; and before
 * 6.12 the verifier forgets every bound of a register that an OR, XOR,
 * shift or multiply by another register touched (adjust_scalar_min_max_vals
 * keeps bounds only for ADD, SUB and AND with a non-constant source). An AND
 * with a constant is tracked by every verifier, so each index that comes
 * from a bitmap goes through this just before it is used.
 */
#define __sm_mask(x, m) asm volatile("%[v] &= %[k]" : [v] "+r"(x) : [k] "i"(m))

/* ---- maps --------------------------------------------------------------- */

struct static_malloc_stats {
	__u64 bytes_in_use;
	__u64 peak_bytes;
	__u64 allocations;
	__u64 frees;
	__u64 failed_allocations;
	__u64 rejected_frees;
	__u64 contended;
};

/*
 * The heap: one map value. Invariants are listed in the manual above and
 * checked by static_malloc_check().
 */
struct __sm_heap {
	__u64 busy;			/* NO_LOCK: 0 free, 1 taken; else unused */
	__u64 self;			/* &mem[8], as a scalar (static_ptr); malloc sets it */
	__u32 inited;
	__u32 fl_map;			/* bit fl: sl_map[fl] != 0 */
	__u32 sl_map[32];		/* bit sl: heads[fl * 16 + sl] != 0 */
	__u32 heads[__SM_NLISTS];	/* payload offset of the first free block, 0: none */
	__u64 live_bytes;		/* bytes of blocks not free (parked, deferred too) */
	__u64 deferred;			/* blocks waiting in __sm_defer_q */
	__u8 state[STATIC_MALLOC_HEAP_SIZE / 8]; /* __SM_ST_* of the payload at 8 * i */
	__u8 mem[STATIC_MALLOC_HEAP_SIZE] __attribute__((aligned(8)));
};

#ifdef STATIC_MALLOC_PERCPU
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct __sm_heap);
} __sm_heap __sm_weak SEC(".maps");
#else
/*
 * The shared heap is a global variable (in the object's .bss map): its
 * address is a constant, with no lookup to call and no NULL to test at
 * each call site.
 */
struct __sm_heap __sm_heap __sm_weak;
#endif

#if !defined(STATIC_MALLOC_PERCPU) && !defined(STATIC_MALLOC_NO_LOCK)
/*
 * The default heap's lock: a queue map of one slot. Pushing into the empty
 * queue takes the lock, popping releases it; a push that finds it full is a
 * failed try. Map helpers may be called from every program type on every
 * kernel of the matrix (bpf_spin_lock may not: tracing programs and socket
 * filters refuse it; BPF_CMPXCHG needs 5.12), and the queue's own spinlock
 * orders the heap's memory accesses (acquire on push, release on pop).
 * In NMI the kernel only try-locks the queue, so a perf_event program that
 * interrupts a holder fails its tries cleanly instead of deadlocking.
 */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 1);
	__type(value, __u32);
} __sm_lock_q __sm_weak SEC(".maps");
#endif

/*
 * Frees that found the heap's lock busy: their payload offsets wait here
 * (the map's own lock makes the push safe on any CPU, also in interrupts)
 * until the next malloc or free that goes to the heap gives them back. A
 * free is never dropped because another CPU holds the heap. One slot per
 * possible block.
 */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, STATIC_MALLOC_HEAP_SIZE / 16);
	__type(value, __u32);
} __sm_defer_q __sm_weak SEC(".maps");

/*
 * What each CPU keeps to itself, in one per-CPU map value so that a fast
 * path needs one lookup: the counters (first, so that the value starts with
 * a struct static_malloc_stats), the guard of this CPU's allocator calls and
 * the cache of freed small blocks (payload offsets, LIFO per block size).
 * Parked blocks stay allocated for the heap; their state byte says parked.
 */
struct __sm_cpu {
	struct static_malloc_stats stats; /* written only under this CPU's guard */
	__u32 guard;			/* 1 while an allocator call of this CPU runs */
	__u32 bytes;			/* bytes of the blocks parked here */
	__u64 ptr_slot;			/* static_ptr: where a pointer becomes a number */
	__u64 debug_rule;		/* STATIC_MALLOC_DEBUG: first broken rule seen */
	__u32 fast[16];			/* fast[k - 1]: one parked block of k * 8 bytes, 0: none */
	__u32 big[4];			/* big[b]: one parked block of 129..256 << b bytes */
	__u8 count[32];			/* count[k]: parked blocks of k * 8 bytes */
	__u32 slot[32][__SM_DEPTH];	/* 32, not 17: any k & 31 is in bounds */
};

/* The counters and the per-CPU cache. User space sums the CPUs' stats. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct __sm_cpu);
} static_stats __sm_weak SEC(".maps");

static __sm_inline struct __sm_heap *__sm_get_heap(void)
{
#ifdef STATIC_MALLOC_PERCPU
	__u32 ___k = 0;

	return bpf_map_lookup_elem(&__sm_heap, &___k);
#else
	return &__sm_heap;
#endif
}

static __sm_inline struct __sm_cpu *__sm_get_cpu(void)
{
	__u32 ___k = 0;

	return bpf_map_lookup_elem(&static_stats, &___k);
}

/*
 * This CPU's value for code inlined at a call site (static_ptr). The same
 * helper, declared `const`: within one run of a program the answer never
 * changes (a program does not migrate), so clang computes it once and keeps
 * it, also out of a loop, and the call site has no lookup and no NULL test
 * of its own (see LOOPS). `const` says the call reads no memory, so the key
 * is a global that is always 0, never a stack slot clang could leave unset.
 */
__u32 __sm_zero_key __sm_weak;
static void *(*const __sm_lookup_const)(void *map, const void *key) __attribute__((const)) = (void *)1;

static __sm_inline struct __sm_cpu *__sm_get_cpu_const(void)
{
	return __sm_lookup_const(&static_stats, &__sm_zero_key);
}

/*
 * The per-CPU guard. A program that interrupts an allocator call on the same
 * CPU (a perf_event or kprobe program in an interrupt) finds it taken and
 * backs off: its call fails cleanly and counts in `contended`. Plain loads
 * and stores suffice because only this CPU touches the word and an
 * interrupting program runs to completion before the interrupted one goes
 * on. They do not suffice where one program can be preempted by another
 * on its CPU between the load and the store; see the manual (PER-CPU CACHE).
 */
static __sm_inline bool __sm_enter(struct __sm_cpu *c)
{
	if (*(volatile __u32 *)&c->guard)
		return false;
	*(volatile __u32 *)&c->guard = 1;
	asm volatile("" ::: "memory");
	return true;
}

static __sm_inline void __sm_leave(struct __sm_cpu *c)
{
	asm volatile("" ::: "memory");
	*(volatile __u32 *)&c->guard = 0;
}

/* ---- locking -------------------------------------------------------------- */

/*
 * Take the heap's lock: 1 when it is ours, 0 when it stayed busy for one
 * round of SPIN_TRIES tries (rounded up to a multiple of 32). Global
 * functions, so that the verifier walks the tries once per program, not
 * once in every heap operation; and nested (32 tries, SPIN_TRIES / 32
 * times; a call that must have the heap waits WAIT_ROUNDS such rounds, see
 * __sm_lock_wait), so that the verifier's cost adds where the tries
 * multiply. Two call frames: see LIMITS.
 */
__sm_weak __sm_noinline __u64 __sm_lock_try32(void)
{
#if defined(STATIC_MALLOC_NO_LOCK)
	struct __sm_heap *h = __sm_get_heap();

	if (!h)
		return 0;
	for (int ___i = 0; ___i < 32; ___i++)
		if (__sync_val_compare_and_swap(&h->busy, 0, 1) == 0)
			return 1;
	return 0;
#elif !defined(STATIC_MALLOC_PERCPU)
	__u32 ___one = 1;

	for (int ___i = 0; ___i < 32; ___i++)
		if (bpf_map_push_elem(&__sm_lock_q, &___one, 0) == 0)
			return 1;
	return 0;
#else
	return 1;
#endif
}

__sm_weak __sm_noinline __u64 __sm_lock_take(void)
{
#if defined(STATIC_MALLOC_PERCPU)
	/* This CPU's own heap: the per-CPU guard, already taken, serializes. */
	return 1;
#else
	for (int ___i = 0; ___i < (STATIC_MALLOC_SPIN_TRIES + 31) / 32; ___i++)
		if (__sm_lock_try32())
			return 1;
	return 0;
#endif
}

/* Returns true when the heap is ours (false: it stayed busy for one round
 * of SPIN_TRIES tries). For work that can wait or be deferred. */
static __sm_inline bool __sm_lock(struct __sm_heap *h)
{
	(void)h;
	return __sm_lock_take() != 0;
}

/*
 * The lock for a call that must have the heap (malloc, realloc, the
 * walker): up to WAIT_ROUNDS rounds. Taken only under this CPU's guard, so
 * the holder is on another CPU and lets go (see LOCK): waiting for it is
 * never futile. A global function (verified once, for every caller), which
 * calls __sm_lock_take: the same call depth as the heap operations.
 */
__sm_weak __sm_noinline __u64 __sm_lock_wait_g(void)
{
	for (int ___r = 0; ___r < STATIC_MALLOC_WAIT_ROUNDS; ___r++)
		if (__sm_lock_take())
			return 1;
	return 0;
}

/* The same rounds inline, for the walker (a global function of its own, one
 * call frame lower than the heap operations under STATIC_MALLOC_DEBUG). */
static __sm_inline bool __sm_lock_wait(struct __sm_heap *h)
{
	(void)h;
	for (int ___r = 0; ___r < STATIC_MALLOC_WAIT_ROUNDS; ___r++)
		if (__sm_lock_take())
			return true;
	return false;
}

static __sm_inline void __sm_unlock(struct __sm_heap *h)
{
#if defined(STATIC_MALLOC_PERCPU)
#elif defined(STATIC_MALLOC_NO_LOCK)
	/* An atomic RMW is a full barrier in every BPF JIT; 5.12 has no store-release. */
	__sync_lock_test_and_set(&h->busy, 0);
#else
	__u32 ___v;

	bpf_map_pop_elem(&__sm_lock_q, &___v);
#endif
}

/* ---- TLSF ---------------------------------------------------------------- */

/* Block header and free-list links of the block whose payload is at o.
 * o must have been clamped to [8, HEAP - 8]. */
#define __SM_PREV(h, o)  (*(__u32 *)((h)->mem + (o) - 8))
#define __SM_SZF(h, o)   (*(__u32 *)((h)->mem + (o) - 4))
#define __SM_NEXTF(h, o) (*(__u32 *)((h)->mem + (o)))
#define __SM_PREVF(h, o) (*(__u32 *)((h)->mem + (o) + 4))

/* Index of the highest set bit of 0 < x < 2^32, without branches (the
 * verifier would explore every branch combination). */
static __sm_inline __u64 __sm_fls(__u64 x)
{
	__u64 ___r, ___t;

	__sm_barrier_var(x);
	___t = ((0xffffULL - x) >> 63) << 4; x >>= ___t; ___r = ___t;
	__sm_barrier_var(x);
	___t = ((0xffULL - x) >> 63) << 3; x >>= ___t; ___r |= ___t;
	__sm_barrier_var(x);
	___t = ((0xfULL - x) >> 63) << 2; x >>= ___t; ___r |= ___t;
	__sm_barrier_var(x);
	___t = ((0x3ULL - x) >> 63) << 1; x >>= ___t; ___r |= ___t;
	__sm_barrier_var(x);
	___t = (0x1ULL - x) >> 63; ___r |= ___t;
	return ___r;
}

/* Index of the lowest set bit of 0 < x < 2^32. */
static __sm_inline __u64 __sm_ffs(__u64 x)
{
	return __sm_fls(x & -x);
}

/* The list (fl, sl) a block of this size belongs to, as fl * 16 + sl. */
static __sm_inline __u64 __sm_list_inline(__u64 size)
{
	__u64 ___f, ___sl;

	if (size < __SM_SMALL)
		return size >> 3;
	___f = __sm_fls(size);
	___sl = (size >> (___f - __SM_SL_LOG2)) & 15;
	return ((___f - 6) << __SM_SL_LOG2) | ___sl;
}

/* The same, global: verified once, however many places ask (the list and
 * unlink functions use the inline one: one call frame less, see LIMITS). */
__sm_weak __sm_noinline __u64 __sm_list(__u64 size)
{
	return __sm_list_inline(size);
}

/*
 * List and unlink: global functions, so that the verifier checks each once
 * per program instead of once for every path that leads to a call (the heap
 * operations call them in sequence, and their branches would multiply).
 * The caller holds the heap's lock; o is a clamped payload offset.
 */
__sm_weak __sm_noinline __u64 __sm_insert_off(__u64 o, __u64 size)
{
	struct __sm_heap *h = __sm_get_heap();
	__u64 ___l = __sm_list_inline(size), ___fl;
	__u64 ___head;

	if (!h)
		return 0;
	__sm_clamp(o, 8, __SM_HEAP - 8);
	if (!o)
		return 0;
	__sm_mask(___l, __SM_NLISTS - 1);
	___head = h->heads[___l];

	__SM_NEXTF(h, o) = ___head;
	__SM_PREVF(h, o) = 0;
	__sm_clamp(___head, 8, __SM_HEAP - 8);
	if (___head)
		__SM_PREVF(h, ___head) = o;
	h->heads[___l] = o;
	___fl = ___l >> 4;
	__sm_mask(___fl, 31);
	h->sl_map[___fl] |= 1U << (___l & 15);
	h->fl_map |= 1U << ___fl;
	return 0;
}

__sm_weak __sm_noinline __u64 __sm_unlink_off(__u64 o, __u64 size)
{
	struct __sm_heap *h = __sm_get_heap();
	__u64 ___l = __sm_list_inline(size);
	__u64 ___n, ___p, ___nc, ___pc;

	if (!h)
		return 0;
	__sm_clamp(o, 8, __SM_HEAP - 8);
	if (!o)
		return 0;
	___n = __SM_NEXTF(h, o);
	___p = __SM_PREVF(h, o);
	___nc = ___n;
	___pc = ___p;

	__sm_mask(___l, __SM_NLISTS - 1);

	__sm_clamp(___nc, 8, __SM_HEAP - 8);
	if (___nc)
		__SM_PREVF(h, ___nc) = ___p;
	__sm_clamp(___pc, 8, __SM_HEAP - 8);
	if (___pc) {
		__SM_NEXTF(h, ___pc) = ___n;
	} else {
		h->heads[___l] = ___n;
		if (!___n) {
			__u64 ___fl = ___l >> 4;

			__sm_mask(___fl, 31);

			h->sl_map[___fl] &= ~(1U << (___l & 15));
			if (!h->sl_map[___fl])
				h->fl_map &= ~(1U << ___fl);
		}
	}
	return 0;
}

#define __sm_insert(h, o, size) ((void)(h), __sm_insert_off((o), (size)))
#define __sm_unlink(h, o, size) ((void)(h), __sm_unlink_off((o), (size)))

/* Make [o - 8, o - 8 + size) a free block and list it; tell the next block. */
static __sm_inline void __sm_make_free(struct __sm_heap *h, __u64 o, __u64 size)
{
	__u64 ___nx = o + size;

	__SM_SZF(h, o) = size | __SM_FREE;
	__sm_clamp(___nx, 8, __SM_HEAP - 8);
	if (___nx)
		__SM_PREV(h, ___nx) = o;
	__sm_insert(h, o, size);
}

/* Size of the block after o (o's block being `size` long) if it is free,
 * else 0. */
static __sm_inline __u64 __sm_next_free_size(struct __sm_heap *h, __u64 o, __u64 size)
{
	__u64 ___nx = o + size, ___ns;

	__sm_clamp(___nx, 8, __SM_HEAP - 8);
	if (!___nx)
		return 0;
	___ns = __SM_SZF(h, ___nx);
	if (!(___ns & __SM_FREE))
		return 0;
	___ns &= ~7ULL;
	if (___ns < __SM_MIN_BLOCK || ___nx - 8 + ___ns > __SM_HEAP)
		return 0;
	return ___ns;
}

/* Same, and unlink that free block from its list (the caller absorbs it). */
static __sm_inline __u64 __sm_take_next_free(struct __sm_heap *h, __u64 o, __u64 size)
{
	__u64 ___nx = o + size, ___ns = __sm_next_free_size(h, o, size);

	__sm_clamp(___nx, 8, __SM_HEAP - 8);
	if (!___ns || !___nx)
		return 0;
	__sm_unlink(h, ___nx, ___ns);
	return ___ns;
}

/* Cut a block at o of `size` bytes down to `need`; the rest becomes free and
 * merges with a free successor. Returns the size o keeps. */
__sm_weak __sm_noinline __u64 __sm_trim_off(__u64 o, __u64 size, __u64 need)
{
	struct __sm_heap *h = __sm_get_heap();
	__u64 ___r, ___rs;

	if (!h || size < need + __SM_MIN_BLOCK)
		return size;
	___r = o + need;
	___rs = size - need;
	__sm_clamp(___r, 8, __SM_HEAP - 8);
	if (!___r)
		return size;
	___rs += __sm_take_next_free(h, ___r, ___rs);
	__SM_PREV(h, ___r) = o;
	__sm_make_free(h, ___r, ___rs);
	return need;
}

/* Global (see __sm_insert_off); the caller holds the lock. */
#define __sm_trim(h, o, size, need) ((void)(h), __sm_trim_off((o), (size), (need)))

static __sm_inline void __sm_init(struct __sm_heap *h)
{
	/* One free block spanning the heap: payload at 8, prev_phys 0. */
	__SM_PREV(h, 8) = 0;
	__sm_make_free(h, 8, __SM_HEAP);
	h->inited = 1;
}

/* Block size for a request of n bytes, or 0 when it cannot fit. */
static __sm_inline __u64 __sm_need(__u64 n)
{
	if (n > __SM_HEAP - __SM_HDR)
		return 0;
	n = (n + 7) & ~7ULL;
	return n < 8 ? __SM_MIN_BLOCK : n + __SM_HDR;
}

/* The state byte of a live block of bs bytes. */
static __sm_inline __u64 __sm_live_state(__u64 bs)
{
	return bs <= __SM_CACHED ? bs >> 3 : __SM_ST_BIG;
}

/* State byte of the payload at o; o must have been clamped to [8, HEAP - 8]. */
#define __SM_STATE(h, o) ((h)->state[(o) >> 3])

/*
 * The same index, masked (in asm, so that clang keeps it): nothing changes
 * at run time, but the access stays provably inside the map value where a
 * verifier has lost the offset's unsigned bounds. 6.12's does in
 * __sm_resize_o, where the clamped offset is spilled to the stack and
 * filled back with only its signed bounds, and `o >> 3` is then unbounded
 * ("R8 unbounded memory access"). The mask is the power of two above the
 * last index, inside state[] and mem[] together. Not used everywhere: the
 * extra instruction costs the heap walker's loop its state pruning.
 */
#define __SM_STATE_MASK							\
	((1ULL << (64 - __builtin_clzll((__u64)STATIC_MALLOC_HEAP_SIZE / 8 - 1))) - 1)
_Static_assert(__SM_STATE_MASK < STATIC_MALLOC_HEAP_SIZE / 8 + STATIC_MALLOC_HEAP_SIZE,
	       "static_malloc.h: the state index mask must stay inside the heap's map value");

static __sm_inline __u64 __sm_state_index(__u64 o)
{
	__u64 ___i = o >> 3;

	__sm_mask(___i, __SM_STATE_MASK);
	return ___i;
}

/* Validate a payload offset handed to free/realloc: returns the block size
 * or 0. Trusts the state byte, then checks that the header agrees. */
static __sm_inline __u64 __sm_live_size(struct __sm_heap *h, __u64 off)
{
	__u64 ___o = off, ___s, ___st;

	if (off & 7)
		return 0;
	__sm_clamp(___o, 8, __SM_HEAP - 8);
	if (!___o || !h->inited)
		return 0;
	___st = __SM_STATE(h, ___o);
	if (___st == __SM_ST_NONE || (___st & (__SM_ST_PARKED | __SM_ST_DEFER)))
		return 0;
	___s = __SM_SZF(h, ___o);
	if (___s & __SM_FREE)
		return 0;
	___s &= ~7ULL;
	if (___s < __SM_MIN_BLOCK || ___o - 8 + ___s > __SM_HEAP)
		return 0;
	/* A header that disagrees was overwritten: refuse rather than guess. */
	if (___st != __sm_live_state(___s))
		return 0;
	return ___s;
}

/* Counters: only the holder of this CPU's guard writes them. bytes_in_use
 * is this CPU's net count (a free on another CPU takes it below zero, in
 * two's complement), so the peak compares signed values. */
static __sm_inline void __sm_stat_alloc(struct static_malloc_stats *st, __u64 bytes)
{
	st->allocations++;
	st->bytes_in_use += bytes;
	if ((__s64)st->bytes_in_use > (__s64)st->peak_bytes)
		st->peak_bytes = st->bytes_in_use;
}

static __sm_inline void __sm_stat_free(struct static_malloc_stats *st, __u64 bytes)
{
	st->frees++;
	st->bytes_in_use -= bytes;
}

/* Payload offset of heap pointer p (pointer - pointer: needs CAP_PERFMON). */
static __sm_inline __u64 __sm_offset(struct __sm_heap *h, const void *p)
{
	__u64 ___x = (__u64)p;

	asm volatile("%[x] -= %[b]" : [x] "+r"(___x) : [b] "r"(h->mem));
	return ___x;
}

/*
 * The fast paths: this CPU's cache of freed small blocks, inline at each
 * call site, no lock, no call, no atomic instruction. A block of k * 8
 * bytes (k = 2..16) that is freed is parked in slot[k] while the CPU keeps
 * less than STATIC_MALLOC_CACHE_BYTES; a malloc that needs exactly k * 8
 * bytes takes the last one parked. Anything else goes down the locked path.
 */

/*
 * Malloc's fast path: a parked block of exactly `need` bytes, as a pointer
 * bounded for [p, p + need - 8) when need is a constant (else [p, p + 8)),
 * or NULL. The caller passes this CPU's struct (NULL: none): the global
 * functions have looked it up already, and one lookup per function is
 * enough (fewer instructions to run and to verify).
 */
static __sm_inline void *__sm_cache_take(struct __sm_heap *h, struct __sm_cpu *___c, __u64 need)
{
#if STATIC_MALLOC_CACHE_BYTES > 0
	__u64 ___k = need >> 3, ___n, ___o = 0, ___hi;

	if (need < __SM_MIN_BLOCK || need > __SM_CACHED)
		return NULL;
	if (!___c || !__sm_enter(___c))
		return NULL;
	__sm_mask(___k, 31);
	___n = ___c->count[___k];
	if (___n) {
		___n = (___n - 1) & (__SM_DEPTH - 1);
		___o = ___c->slot[___k][___n];
		___c->count[___k] = ___n;
		___c->bytes -= ___k * 8;
		/* A block of need bytes at o ends by the heap's end: o <= hi. */
		if (__builtin_constant_p(need)) {
			__sm_clamp(___o, 8, __SM_HEAP + __SM_HDR - need);
		} else {
			___hi = __SM_HEAP + __SM_HDR - need;
			asm volatile("if %[v] > %[h8] goto +2\n\t"
				     "if %[v] > %[hi] goto +1\n\t"
				     "if %[v] >= 8 goto +1\n\t"
				     "%[v] = 0"
				     : [v] "+r"(___o) : [h8] "i"(__SM_HEAP - 8), [hi] "r"(___hi));
		}
		if (___o && __SM_STATE(h, ___o) == (__SM_ST_PARKED | ___k)) {
			__SM_STATE(h, ___o) = ___k;
			__sm_stat_alloc(&___c->stats, need - __SM_HDR);
		} else {
			___o = 0;
		}
	}
	__sm_leave(___c);
	if (!___o)
		return NULL;
	return h->mem + ___o;
#else
	return NULL;
#endif
}

/* Free's fast path: park the live small block at off; false when it is
 * not one (or the cache is full), and the locked path must judge it.
 * ___c: this CPU's struct, as for __sm_cache_take. */
static __sm_inline bool __sm_cache_put(struct __sm_heap *h, struct __sm_cpu *___c, __u64 off)
{
#if STATIC_MALLOC_CACHE_BYTES > 0
	__u64 ___o = off, ___k, ___n;
	bool ___done = false;

	if (off & 7)
		return false;
	__sm_clamp(___o, 8, __SM_HEAP - 8);
	if (!___o)
		return false;
	if (!___c || !__sm_enter(___c))
		return false;
	___k = __SM_STATE(h, ___o);
	__sm_clamp(___k, 2, __SM_CACHED / 8);	/* 0 unless a live small block */
	if (___k) {
		___n = ___c->count[___k];
		if (___n < __SM_DEPTH && ___c->bytes + ___k * 8 <= STATIC_MALLOC_CACHE_BYTES) {
			__sm_mask(___n, __SM_DEPTH - 1);
			___c->slot[___k][___n] = ___o;
			___c->count[___k] = ___n + 1;
			___c->bytes += ___k * 8;
			__SM_STATE(h, ___o) = __SM_ST_PARKED | ___k;
			__sm_stat_free(&___c->stats, ___k * 8 - __SM_HDR);
			___done = true;
		}
	}
	__sm_leave(___c);
	return ___done;
#else
	return false;
#endif
}

/*
 * The fastest paths, inline at every call site: one parked block per size
 * k * 8 (k = 2 .. __SM_FAST_K) in this CPU's `fast` slots. A malloc of
 * exactly k * 8 bytes takes it, a free of such a block puts it there when
 * the slot is empty; everything else calls the global functions (the
 * deeper cache in `slot`, then the heap). No call, no lock, no atomic
 * instruction, no loop: about twenty instructions each way. The slots hold
 * at most STATIC_MALLOC_CACHE_BYTES, on top of the deeper cache.
 */
#define __SM_FAST_BYTES(k)	(8 * ((k) * ((k) + 1) / 2 - 1))	/* slots 2 .. k full */
#define __SM_FAST_FITS(k)	(STATIC_MALLOC_CACHE_BYTES >= __SM_FAST_BYTES(k))
#define __SM_FAST_K							\
	(__SM_FAST_FITS(16) ? 16 : __SM_FAST_FITS(15) ? 15 : __SM_FAST_FITS(14) ? 14 :	\
	 __SM_FAST_FITS(13) ? 13 : __SM_FAST_FITS(12) ? 12 : __SM_FAST_FITS(11) ? 11 :	\
	 __SM_FAST_FITS(10) ? 10 : __SM_FAST_FITS(9) ? 9 : __SM_FAST_FITS(8) ? 8 :	\
	 __SM_FAST_FITS(7) ? 7 : __SM_FAST_FITS(6) ? 6 : __SM_FAST_FITS(5) ? 5 :	\
	 __SM_FAST_FITS(4) ? 4 : __SM_FAST_FITS(3) ? 3 : __SM_FAST_FITS(2) ? 2 : 0)

/*
 * All ones when x is not 0, else 0; and the signed larger of a and b. In
 * inline asm: clang turns the same C (x != 0, a > b ? a : b) into a
 * compare and jump, a branch at the call site that the verifier cannot
 * decide (see LOOPS in the manual).
 */
static __sm_inline __u64 __sm_ones_if(__u64 x)
{
	__u64 ___t;

	asm volatile("%[t] = %[x]\n\t"
		     "%[t] = -%[t]\n\t"
		     "%[t] |= %[x]\n\t"
		     "%[t] s>>= 63"
		     : [t] "=&r"(___t) : [x] "r"(x));
	return ___t;
}

static __sm_inline __u64 __sm_max_signed(__u64 a, __u64 b)
{
	__u64 ___m = a - b;	/* counters stay far below 2^62: no overflow */

	asm volatile("%[m] s>>= 63" : [m] "+r"(___m));	/* all ones when a < b */
	return a ^ ((a ^ b) & ___m);
}

/* The counters of a fast path, without a branch: `ok` is 1 or 0. */
static __sm_inline void __sm_stat_alloc_if(struct static_malloc_stats *st, __u64 bytes, __u64 ok)
{
	__u64 ___u = st->bytes_in_use + (bytes & -ok);

	st->allocations += ok;
	st->bytes_in_use = ___u;
	st->peak_bytes = __sm_max_signed(st->peak_bytes, ___u);
}

static __sm_inline void __sm_stat_free_if(struct static_malloc_stats *st, __u64 bytes, __u64 ok)
{
	st->frees += ok;
	st->bytes_in_use -= bytes & -ok;
}

/*
 * Malloc's fastest path: the payload offset of the block of the size a
 * request of n bytes needs, parked in this CPU's slot, or 0. No branch the
 * verifier cannot decide (see LOOPS in the manual): everything that can go
 * wrong is folded into a number, `bad`, not 0 when the guard was taken (we
 * interrupted an allocator call on this CPU: the guard is set either way
 * and given back as it was), when n has no fast slot, or when the block's
 * state byte is not "parked, k * 8 bytes". An empty slot reads as offset 0,
 * whose state byte is never a block's (payloads start at 8). The stores
 * then write what was there (the slot) or go to state[0] (0, as it always
 * is) and the counters add 0. The offset is returned as the slot held it, a
 * 32-bit number, as the slow path's is (see __sm_malloc_api), so that for
 * the verifier both paths reach the pointer's bounding in one state.
 */
static __sm_inline __u64 __sm_fast_take(struct __sm_heap *h, struct __sm_cpu *___c, __u64 n)
{
	/* the block of k * 8 bytes that __sm_need(n) gives: n = 0 takes 16 */
	__u64 ___k = ((n + 7) >> 3) + 1 + ((n - 1) >> 63), ___o, ___i, ___g, ___m, ___j;

	if (__SM_FAST_K < 2 || (__builtin_constant_p(n) && (n > __SM_FAST_K * 8ULL - 8)))
		return 0;
	___g = *(volatile __u32 *)&___c->guard;
	*(volatile __u32 *)&___c->guard = 1;
	asm volatile("" ::: "memory");
	___j = (___k - 1) & 15;
	___o = ___c->fast[___j];
	___i = ___o >> 3;
	__sm_mask(___i, __SM_STATE_MASK);
	/* n up to FAST_K * 8 - 8 (n >> 12 also catches n + 7 wrapping) */
	___m = __sm_ones_if(___g | (n >> 12) | ((__SM_FAST_K - ___k) >> 63) |
			    (h->state[___i] - (__SM_ST_PARKED | (___j + 1))));
	___o &= ~___m;
	___c->fast[___j] &= ___m;	/* emptied, or left as it was */
	h->state[___i & ~___m] = (___j + 1) & ~___m;
	__sm_stat_alloc_if(&___c->stats, ___k * 8 - __SM_HDR, ___m + 1);
	asm volatile("" ::: "memory");
	*(volatile __u32 *)&___c->guard = ___g;
	return ___o;
}

/*
 * Free's fastest path: park the live block at off of at most __SM_FAST_K * 8
 * bytes in its empty slot; 0 when it is not one, or the slot is full, else
 * 1. Branch-free like malloc's. x = (off - 8) | off << 61 is at most
 * HEAP - 16 only for an aligned payload offset inside the heap; with a
 * heap whose size is a power of two that too is a number to fold in (x and
 * x + 8 below the heap's size), and the state byte is read through a mask;
 * other sizes test it first (one more branch).
 */
#define __SM_HEAP_POW2 ((STATIC_MALLOC_HEAP_SIZE & (STATIC_MALLOC_HEAP_SIZE - 1)) == 0)
#define __SM_HEAP_LOG2 (63 - __builtin_clzll((__u64)STATIC_MALLOC_HEAP_SIZE))
static __sm_inline __u64 __sm_fast_put(struct __sm_heap *h, struct __sm_cpu *___c, __u64 off)
{
	__u64 ___x = off - 8, ___k, ___i, ___j, ___g, ___bad, ___m;

	if (__SM_FAST_K < 2)
		return 0;
	___x |= off << 61;
	__sm_barrier_var(___x);
	if (!__SM_HEAP_POW2 && ___x > __SM_HEAP - 16)
		return 0;
	___g = *(volatile __u32 *)&___c->guard;
	*(volatile __u32 *)&___c->guard = 1;
	asm volatile("" ::: "memory");
	___i = (___x >> 3) + 1;
	__sm_mask(___i, __SM_STATE_MASK);
	___k = h->state[___i];		/* k for a live block of k * 8 <= 128 bytes */
	___j = (___k - 1) & 15;
	/* k outside 2..FAST_K (with all sixteen: k - 2 above 15; 17 is no
	 * state), or the slot full; and with a power-of-two heap, x beyond it
	 * (x = HEAP - 8 passes, but reads state[0], which is never a block's). */
	if (__SM_FAST_K == 16)
		___bad = ___g | (___k - 2) >> 4 | ___c->fast[___j];
	else
		___bad = ___g | ((___k - 2) | (__SM_FAST_K - ___k)) >> 63 | ___c->fast[___j];
	if (__SM_HEAP_POW2)
		___bad |= ___x >> __SM_HEAP_LOG2;
	___m = __sm_ones_if(___bad);
	/* parked, or the slot and the state byte left as they were */
	___c->fast[___j] |= (___x + 8) & ~___m;
	h->state[___i & ~___m] = (__SM_ST_PARKED | ___k) & ~___m;
	__sm_stat_free_if(&___c->stats, ___k * 8 - __SM_HDR, ___m + 1);
	asm volatile("" ::: "memory");
	*(volatile __u32 *)&___c->guard = ___g;
	return ___m + 1;
}

/*
 * Larger blocks (129 to 2048 bytes) have a slot each per size range, b = 0
 * for 129..256 bytes, 1 for ..512, 2 for ..1024, 3 for ..2048, tried by the
 * global functions (not at the call site: a free does not know its size
 * before it reads the header): a malloc takes the parked block only when
 * it has exactly the size asked for. Parked, a block's state byte is
 * PARKED | (17 + b). The slots that fit in STATIC_MALLOC_CACHE_BYTES
 * (together) are used: three from a 32 KiB heap up.
 */
#define __SM_BIG_FITS(n)	(STATIC_MALLOC_CACHE_BYTES >= (256 << (n)) - 256)
#define __SM_BIG_N	(__SM_BIG_FITS(4) ? 4 : __SM_BIG_FITS(3) ? 3 : __SM_BIG_FITS(2) ? 2 : __SM_BIG_FITS(1) ? 1 : 0)
#define __SM_BIG_MAX	(__SM_BIG_N ? 128ULL << __SM_BIG_N : 0)

/* The slot of a block of bs bytes, 129..2048, without a branch. */
static __sm_inline __u64 __sm_big_slot(__u64 bs)
{
	return 3 - (((bs - 257) >> 63) + ((bs - 513) >> 63) + ((bs - 1025) >> 63));
}

/* 0 when 129 <= bs <= __SM_BIG_MAX and bs % 8 == 0, else not 0. */
static __sm_inline __u64 __sm_big_misfit(__u64 bs)
{
	return (((bs - (__SM_CACHED + 1)) | (__SM_BIG_MAX - bs)) >> 63) | (bs & 7);
}

/*
 * Malloc: the parked block of exactly `need` bytes (129..__SM_BIG_MAX), as a
 * payload offset, or 0. The caller holds this CPU's guard. A global
 * function, with one test for everything (a number folds the rest), so
 * that the verifier walks it once, in one or two paths. The offset reads
 * the state byte and the header through masks: an empty slot (0) reads
 * state[0], never a block's.
 */
__sm_weak __sm_noinline __u64 __sm_big_take(__u64 need)
{
	struct __sm_cpu *c = __sm_get_cpu();
	struct __sm_heap *h = __sm_get_heap();
	__u64 b, o, i, bad;

	if (!c || !h || __SM_BIG_N == 0)
		return 0;
	b = __sm_big_slot(need);
	__sm_mask(b, 3);
	o = c->big[b];
	i = o >> 3;
	__sm_mask(i, __SM_STATE_MASK);
	if (!__SM_HEAP_POW2 && i >= __SM_HEAP / 8)
		i = 0;			/* the mask reaches past the heap's end */
	o = i << 3;
	bad = __sm_big_misfit(need) | (h->state[i] - (__SM_ST_PARKED + 17 + b)) |
	      (*(__u32 *)((void *)h->mem + o - 4) - need);
	if (bad)
		return 0;
	c->big[b] = 0;
	h->state[i] = __SM_ST_BIG;
	__sm_stat_alloc(&c->stats, need - __SM_HDR);
	return o;
}

/*
 * Free: park the live block at off of 129..__SM_BIG_MAX bytes in its empty
 * slot; 0 when it is not one or the slot is full. The caller holds this
 * CPU's guard. Global, with one test, as __sm_big_take; x is free's number
 * of __sm_fast_put (off aligned and inside the heap).
 */
__sm_weak __sm_noinline __u64 __sm_big_put(__u64 off)
{
	struct __sm_cpu *c = __sm_get_cpu();
	struct __sm_heap *h = __sm_get_heap();
	__u64 x = (off - 8) | off << 61, i, o, bs, b, bad;

	if (!c || !h || __SM_BIG_N == 0)
		return 0;
	if (!__SM_HEAP_POW2 && x > __SM_HEAP - 16)
		return 0;
	i = (x >> 3) + 1;
	__sm_mask(i, __SM_STATE_MASK);
	if (!__SM_HEAP_POW2 && i >= __SM_HEAP / 8)
		i = 0;			/* the mask reaches past the heap's end */
	o = i << 3;
	bs = *(__u32 *)((void *)h->mem + o - 4);	/* live: the FREE bit is clear */
	b = __sm_big_slot(bs);
	__sm_mask(b, 3);
	bad = (h->state[i] ^ __SM_ST_BIG) | __sm_big_misfit(bs) |
	      ((__SM_HEAP + 8 - o - bs) >> 63) | c->big[b];
	if (__SM_HEAP_POW2)
		bad |= x >> __SM_HEAP_LOG2;
	if (bad)
		return 0;
	c->big[b] = o;
	h->state[i] = __SM_ST_PARKED + 17 + b;
	__sm_stat_free(&c->stats, bs - __SM_HDR);
	return 1;
}

/* Returned by __sm_give_off when the NO_LOCK word stayed
 * taken (never a valid offset or size: both are multiples of 8). */
#define __SM_BUSY 1ULL

/*
 * The heap operations. Global (not static) functions: the verifier checks
 * each one once per program, whatever the number of call sites, and they
 * return plain numbers, which is all a global function may return. Weak, so
 * that several objects including this header link. Helpers are called only
 * before the lock is taken (no calls are allowed while holding it).
 */

/*
 * Put the block at payload offset o of bs bytes (validated by the caller,
 * its state byte already NONE) back into the TLSF lists, merged with free
 * neighbours. The caller holds the heap's lock.
 */
__sm_weak __sm_noinline __u64 __sm_release_off(__u64 o, __u64 bs)
{
	struct __sm_heap *h = __sm_get_heap();
	__u64 p, ps;

	__sm_clamp(o, 8, __SM_HEAP - 8);
	if (!h || !o || bs < __SM_MIN_BLOCK || bs > __SM_HEAP)
		return 0;
	h->live_bytes -= bs;
	bs += __sm_take_next_free(h, o, bs);
	p = __SM_PREV(h, o);
	__sm_clamp(p, 8, __SM_HEAP - 8);
	if (p) {
		ps = __SM_SZF(h, p);
		if ((ps & __SM_FREE) && p + (ps & ~7ULL) == o) {
			__sm_unlink(h, p, ps & ~7ULL);
			bs += ps & ~7ULL;
			o = p;
		}
	}
	__sm_make_free(h, o, bs);
	return 0;
}

/* Give back up to two deferred frees, if any, under the heap's lock (the
 * caller does not hold it). Global: the verifier checks it once. */
__sm_weak __sm_noinline __u64 __sm_drain(void)
{
	struct __sm_heap *h = __sm_get_heap();
	__u32 v = 0;
	__u64 o, sz;
	int i;

	if (!h || !*(volatile __u64 *)&h->deferred || !__sm_lock(h))
		return 0;
	for (i = 0; i < 2; i++) {
		if (!*(volatile __u64 *)&h->deferred || bpf_map_pop_elem(&__sm_defer_q, &v))
			break;
		__sync_fetch_and_add(&h->deferred, -1);
		o = v;
		__sm_clamp(o, 8, __SM_HEAP - 8);
		if (!o || __SM_STATE(h, o) != __SM_ST_DEFER)
			continue;
		sz = __SM_SZF(h, o) & ~7ULL;
		__SM_STATE(h, o) = __SM_ST_NONE;
		__sm_release_off(o, sz);
	}
	__sm_unlock(h);
	return 0;
}

/*
 * Take a block for `need` bytes (a __sm_need() result) from the TLSF lists.
 * The caller holds the heap's lock. Returns payload offset | block size <<
 * 32, 0 when no free block fits.
 */
__sm_weak __sm_noinline __u64 __sm_take_locked(__u64 need)
{
	struct __sm_heap *h = __sm_get_heap();
	__u64 s, l, fl, sl, o, bs;
	__u32 slm, flm;

	if (!h || need < __SM_MIN_BLOCK || need > __SM_HEAP)
		return 0;
	/* static_ptr's base: every block comes from here first (the caches
	 * hand out blocks that did). Every writer stores the same value. */
	*(volatile __u64 *)&h->self = (__u64)(h->mem + 8);
	if (!h->inited)
		__sm_init(h);

	/* Round up to the next list boundary: every block there is >= need. */
	s = need;
	if (s >= __SM_SMALL)
		s += (1ULL << (__sm_fls(s) - __SM_SL_LOG2)) - 1;
	l = __sm_list(s);
	fl = l >> 4;
	__sm_mask(fl, 31);
	sl = l & 15;
	slm = h->sl_map[fl] & (~0U << sl);
	if (!slm) {
		flm = fl >= 31 ? 0 : h->fl_map & (~0U << (fl + 1));
		if (flm) {
			fl = __sm_ffs(flm);
			__sm_mask(fl, 31);
			slm = h->sl_map[fl];
		}
	}
	if (slm) {
		l = (fl << 4) + __sm_ffs(slm);
	} else {
		/* Last chance, still O(1): the head of need's own list may fit
		 * (e.g. the single free block of an empty heap, for a request of
		 * the whole heap, which rounding up would skip). */
		l = __sm_list(need);
	}
	__sm_mask(l, __SM_NLISTS - 1);
	o = h->heads[l];
	__sm_clamp(o, 8, __SM_HEAP - 8);
	if (!o)
		goto fail;
	bs = __SM_SZF(h, o);
	if (!(bs & __SM_FREE))
		goto fail;
	bs &= ~7ULL;
	if (bs < need || o - 8 + bs > __SM_HEAP)
		goto fail;
	__sm_unlink(h, o, bs);
	bs = __sm_trim(h, o, bs, need);
	__SM_SZF(h, o) = bs;
	__SM_STATE(h, o) = __sm_live_state(bs);
	h->live_bytes += bs;
	return o | (bs << 32);
fail:
	return 0;
}

/*
 * Give the live block at payload offset off back to the heap. Returns its
 * size, 0 when off is not a live block, __SM_BUSY when it could be neither
 * given back nor deferred. When the heap's lock stays busy the block is
 * deferred: its state byte says so (a second free of it is rejected) and
 * __sm_drain, before the next malloc or free that goes to the heap, gives
 * it back (two at a time, so that they do not pile up).
 */
__sm_weak __sm_noinline __u64 __sm_give_off(__u64 off)
{
	struct __sm_heap *h = __sm_get_heap();
	__u64 o = off, bs;
	__u32 ___v;

	if (!h)
		return 0;
	/* Only the block's owner writes its state byte and its size: they can
	 * be judged before the lock is taken. */
	bs = __sm_live_size(h, off);
	__sm_clamp(o, 8, __SM_HEAP - 8);
	if (!bs || !o)
		return 0;
	if (!__sm_lock(h)) {
		__SM_STATE(h, o) = __SM_ST_DEFER;
		___v = o;
		if (bpf_map_push_elem(&__sm_defer_q, &___v, 0)) {
			__SM_STATE(h, o) = __sm_live_state(bs);
			return __SM_BUSY;
		}
		__sync_fetch_and_add(&h->deferred, 1);
		return bs;
	}
	__SM_STATE(h, o) = __SM_ST_NONE;
	__sm_release_off(o, bs);
	__sm_unlock(h);
	return bs;
}

/*
 * Give the blocks of k * 8 bytes parked in this CPU's cache back to the heap.
 * A global function of its own, so that the verifier checks it once for
 * every k. The caller holds this CPU's guard and the heap's lock.
 */
__sm_weak __sm_noinline __u64 __sm_flush_class(__u64 k)
{
	struct __sm_cpu *c = __sm_get_cpu();
	struct __sm_heap *h = __sm_get_heap();
	__u64 n, o;
	int j;

	if (!c || !h || k < 2 || k >= 17 + __SM_BIG_N)
		return 0;
	__sm_mask(k, 31);
	if (k >= 17) {
		/* a large block's slot; its size is in its header */
		o = c->big[(k - 17) & 3];
		__sm_clamp(o, 8, __SM_HEAP - 8);
		if (o && __SM_STATE(h, o) == __SM_ST_PARKED + k) {
			n = __SM_SZF(h, o) & ~7ULL;
			c->big[(k - 17) & 3] = 0;
			__SM_STATE(h, o) = __SM_ST_NONE;
			__sm_release_off(o, n);
		}
		return 0;
	}
	/* The fast slot first. It is emptied before the block goes back, so
	 * that a slot holds 0 or a block parked here, whatever interrupts. */
	o = c->fast[(k - 1) & 15];
	__sm_clamp(o, 8, __SM_HEAP - 8);
	if (o && __SM_STATE(h, o) == (__SM_ST_PARKED | k)) {
		c->fast[(k - 1) & 15] = 0;
		__SM_STATE(h, o) = __SM_ST_NONE;
		__sm_release_off(o, k * 8);
	}
	for (j = 0; j < __SM_DEPTH; j++) {
		n = c->count[k];
		if (!n)
			break;
		n = (n - 1) & (__SM_DEPTH - 1);
		o = c->slot[k][n];
		__sm_clamp(o, 8, __SM_HEAP - 8);
		if (!o || __SM_STATE(h, o) != (__SM_ST_PARKED | k))
			break;	/* not what was parked: leave the cache alone */
		__SM_STATE(h, o) = __SM_ST_NONE;
		__sm_release_off(o, k * 8);
		c->count[k] = n;
		c->bytes -= k * 8;
	}
	return 0;
}

/*
 * Give every block parked in this CPU's cache back to the heap (malloc does
 * this before it gives up). The caller holds this CPU's guard and the
 * heap's lock.
 */
static __sm_inline void __sm_flush_locked(void)
{
	__u64 ___k;

	for (___k = 2; ___k <= __SM_CACHED / 8; ___k++)
		__sm_flush_class(___k);
	for (___k = 17; ___k < 17 + __SM_BIG_N; ___k++)
		__sm_flush_class(___k);
}

/* Allocate a block for n bytes: this CPU's cache, else the heap under its
 * lock. Returns its payload offset, 0 on failure. */
static __sm_inline __u64 __sm_malloc_o(__u64 n)
{
	struct __sm_cpu *c = __sm_get_cpu();
	struct static_malloc_stats *st = &c->stats;
	struct __sm_heap *h = __sm_get_heap();
	__u64 need = __sm_need(n), r = 0;
	void *p;

	if (!c || !h)
		return 0;
	r = (__u32)__sm_fast_take(h, c, n);
	if (r)
		return r;
	p = __sm_cache_take(h, c, need);
	if (p)
		return __sm_offset(h, p);
	if (!__sm_enter(c)) {
		__sync_fetch_and_add(&st->contended, 1);
		return 0;
	}
	r = __sm_big_take(need);
	if (r) {
		__sm_leave(c);
		return r;
	}
	if (need) {
		__sm_drain();
		/* A busy heap is waited out (the holder is on another CPU: we
		 * hold this CPU's guard); see LOCK. */
		if (__sm_lock_wait_g()) {
			r = __sm_take_locked(need);
			if (!r) {
				/* Blocks parked on this CPU may be what is missing. */
				__sm_flush_locked();
				r = __sm_take_locked(need);
			}
			__sm_unlock(h);
		} else {
			st->contended++;
		}
	}
	if (r)
		__sm_stat_alloc(st, (r >> 32) - __SM_HDR);
	else
		st->failed_allocations++;
	__sm_leave(c);
	return r & 0xffffffffULL;
}

/* The payload offset minus 8 (-8 on failure), the form the call site's
 * bound compares (__sm_bound8): one instruction less at every call site. */
__sm_weak __sm_noinline __u64 __sm_malloc_off(__u64 n)
{
	return __sm_malloc_o(n) - 8;
}

/* Free the block at payload offset off: into this CPU's cache, else back
 * to the heap under its lock. Returns 0, or 1 when rejected. */
static __sm_inline __u64 __sm_free_o(__u64 off)
{
	struct __sm_cpu *c = __sm_get_cpu();
	struct static_malloc_stats *st = &c->stats;
	struct __sm_heap *h = __sm_get_heap();
	__u64 r;

	if (!c || !h)
		return 1;
	if (__sm_fast_put(h, c, off))
		return 0;
	if (__sm_cache_put(h, c, off))
		return 0;
	if (!__sm_enter(c)) {
		/* We interrupted this CPU's allocator call: the heap's lock (or
		 * its deferral) still takes the block; count with atomic adds,
		 * beside the interrupted call's plain ones. */
		__sync_fetch_and_add(&st->contended, 1);
		r = __sm_give_off(off);
		if (r <= __SM_BUSY) {
			__sync_fetch_and_add(&st->rejected_frees, 1);
			return 1;
		}
		__sync_fetch_and_add(&st->frees, 1);
		__sync_fetch_and_add(&st->bytes_in_use, -(r - __SM_HDR));
		return 0;
	}
	if (__sm_big_put(off)) {
		__sm_leave(c);
		return 0;
	}
	__sm_drain();
	r = __sm_give_off(off);
	if (r == __SM_BUSY)
		st->contended++;
	if (r <= __SM_BUSY)
		st->rejected_frees++;
	else
		__sm_stat_free(st, r - __SM_HDR);
	__sm_leave(c);
	return r <= __SM_BUSY;
}

/* static_free: the block at payload offset off8 + 8. (The call site passes
 * ptr - &mem[8], whose base clang already holds for the bound: one
 * instruction less at every call site.) */
__sm_weak __sm_noinline __u64 __sm_free_off(__u64 off8)
{
	return __sm_free_o(off8 + 8);
}

/*
 * Resize the block at off in place to hold n bytes (n > 0). Returns off when
 * done, __SM_MOVE | usable_bytes when the caller must move it, 0 when off is
 * not a live block (counted as a rejected free).
 */
static __sm_inline __u64 __sm_resize_o(__u64 off, __u64 n)
{
	struct __sm_heap *h = __sm_get_heap();
	struct __sm_cpu *c = __sm_get_cpu();
	struct static_malloc_stats *st = &c->stats;
	__u64 o = off, bs, need, nb, ret;

	if (!h || !c)
		return 0;
	if (!__sm_enter(c)) {
		__sync_fetch_and_add(&st->contended, 1);
		return __SM_MOVE; /* move with 0 bytes known: the caller fails */
	}
	if (!__sm_lock_wait_g()) {
		st->contended++;
		__sm_leave(c);
		return __SM_MOVE;
	}
	bs = __sm_live_size(h, off);
	__sm_clamp(o, 8, __SM_HEAP - 8);
	if (!bs || !o) {
		st->rejected_frees++;
		__sm_unlock(h);
		__sm_leave(c);
		return 0;
	}
	need = __sm_need(n);
	ret = __SM_MOVE | (bs - __SM_HDR);
	nb = bs;
	if (!need) {
		/* too large for the heap: the move will fail */
	} else if (need <= bs) {
		nb = __sm_trim(h, o, bs, need);
		ret = o;
	} else if (bs + __sm_next_free_size(h, o, bs) >= need) {
		__u64 total = bs + __sm_take_next_free(h, o, bs), nx;

		nb = __sm_trim(h, o, total, need);
		if (nb == total) {
			/* absorbed whole: the block after now follows o */
			nx = o + nb;
			__sm_clamp(nx, 8, __SM_HEAP - 8);
			if (nx)
				__SM_PREV(h, nx) = o;
		}
		ret = o;
	}
	if (nb != bs) {
		__SM_SZF(h, o) = nb;
		h->state[__sm_state_index(o)] = __sm_live_state(nb); /* 6.12: see there */
		h->live_bytes += nb - bs;
		st->bytes_in_use += nb - bs;
		if ((__s64)st->bytes_in_use > (__s64)st->peak_bytes)
			st->peak_bytes = st->bytes_in_use;
	}
	__sm_unlock(h);
	__sm_leave(c);
	return ret;
}

/*
 * Zeroing and copying take loops whose every step the verifier walks, so
 * they are shaped for it: the sub-chunk tail (at most 31 words) is done
 * first, then whole chunks; a chunk step is 32 stores and nothing follows
 * the loop, so each early exit costs the verifier a few instructions.
 */
#define __SM_Z4(b, x, k)						\
	*(__u64 *)((b) + (x) + (k)) = 0;				\
	*(__u64 *)((b) + (x) + (k) + 8) = 0;				\
	*(__u64 *)((b) + (x) + (k) + 16) = 0;				\
	*(__u64 *)((b) + (x) + (k) + 24) = 0;
#define __SM_C4(b, d, s, k)						\
	*(__u64 *)((b) + (d) + (k)) = *(__u64 *)((b) + (s) + (k));	\
	*(__u64 *)((b) + (d) + (k) + 8) = *(__u64 *)((b) + (s) + (k) + 8); \
	*(__u64 *)((b) + (d) + (k) + 16) = *(__u64 *)((b) + (s) + (k) + 16); \
	*(__u64 *)((b) + (d) + (k) + 24) = *(__u64 *)((b) + (s) + (k) + 24);

/* Zero n bytes at payload offset o8 + 8 (no lock: the caller owns the
 * block). o8 == -8 (calloc's malloc failed) zeroes nothing: calloc's call
 * site then needs no branch of its own before the call. */
__sm_weak __sm_noinline __u64 __sm_zero_off(__u64 o8, __u64 n)
{
	struct __sm_heap *h = __sm_get_heap();
	__u64 i, x, tail, o = o8 + 8;

	if (!h || o < 8)
		return 0;
	n = (n + 7) & ~7ULL;
	tail = n & (__SM_CHUNK - 1);
	n -= tail;
	for (i = 0; i < __SM_CHUNK / 8; i++) {
		if (tail < 8)
			break;
		tail -= 8;
		x = o + n + tail;
		__sm_clamp(x, 8, __SM_HEAP - 8);
		if (!x)
			return 0;
		*(__u64 *)(h->mem + x) = 0;
	}
	for (i = 0; i < __SM_HEAP / __SM_CHUNK; i++) {
		if (n < __SM_CHUNK)
			break;
		x = o;
		__sm_clamp(x, 8, __SM_HEAP - __SM_CHUNK);
		if (!x)
			return 0;
		__SM_Z4(h->mem, x, 0) __SM_Z4(h->mem, x, 32)
		__SM_Z4(h->mem, x, 64) __SM_Z4(h->mem, x, 96)
		__SM_Z4(h->mem, x, 128) __SM_Z4(h->mem, x, 160)
		__SM_Z4(h->mem, x, 192) __SM_Z4(h->mem, x, 224)
		o += __SM_CHUNK;
		n -= __SM_CHUNK;
	}
	return 0;
}

/* Copy n bytes from payload offset src to dst (no lock: caller owns both). */
__sm_weak __sm_noinline __u64 __sm_copy_off(__u64 dst, __u64 src, __u64 n)
{
	struct __sm_heap *h = __sm_get_heap();
	__u64 i, d, s, tail;

	if (!h)
		return 0;
	n = (n + 7) & ~7ULL;
	tail = n & (__SM_CHUNK - 1);
	n -= tail;
	for (i = 0; i < __SM_CHUNK / 8; i++) {
		if (tail < 8)
			break;
		tail -= 8;
		d = dst + n + tail;
		s = src + n + tail;
		__sm_clamp(d, 8, __SM_HEAP - 8);
		__sm_clamp(s, 8, __SM_HEAP - 8);
		if (!d || !s)
			return 0;
		*(__u64 *)(h->mem + d) = *(__u64 *)(h->mem + s);
	}
	for (i = 0; i < __SM_HEAP / __SM_CHUNK; i++) {
		if (n < __SM_CHUNK)
			break;
		d = dst;
		s = src;
		__sm_clamp(d, 8, __SM_HEAP - __SM_CHUNK);
		__sm_clamp(s, 8, __SM_HEAP - __SM_CHUNK);
		if (!d || !s)
			return 0;
		__SM_C4(h->mem, d, s, 0) __SM_C4(h->mem, d, s, 32)
		__SM_C4(h->mem, d, s, 64) __SM_C4(h->mem, d, s, 96)
		__SM_C4(h->mem, d, s, 128) __SM_C4(h->mem, d, s, 160)
		__SM_C4(h->mem, d, s, 192) __SM_C4(h->mem, d, s, 224)
		dst += __SM_CHUNK;
		src += __SM_CHUNK;
		n -= __SM_CHUNK;
	}
	return 0;
}

/*
 * static_realloc of the live block at payload offset off8 + 8 to n bytes
 * (n > 0): in place when it can, else malloc, copy and free. All of it in
 * one global function, so that its call site is a call and the bound, like
 * malloc's (see LOOPS). Its parts are inline here (not calls of the other
 * global functions), so that it needs no more call frames than they do.
 * Returns the payload offset - 8 of the block, or -8: NULL (the old block
 * stays valid; or it was not a live block, counted in rejected_frees).
 */
__sm_weak __sm_noinline __u64 __sm_realloc_off(__u64 off8, __u64 n)
{
	__u64 off = off8 + 8, r, nn;

	r = __sm_resize_o(off, n);
	if (!r)
		return -8ULL;			/* not a live block: rejected */
	if (!(r & __SM_MOVE))
		return r - 8;			/* resized in place */
	r &= ~__SM_MOVE;			/* usable bytes of the old block */
	if (!r)
		return -8ULL;			/* this CPU's guard was taken, or the heap stayed busy */
	nn = __sm_malloc_o(n);
	if (!nn)
		return -8ULL;			/* the old block stays valid */
	__sm_copy_off(nn, off, r < n ? r : n);
	__sm_free_o(off);
	return nn - 8;
}

/*
 * static_malloc_check()'s walk of the free lists, under the heap's lock:
 * every list from its head, each node a free block whose size maps to this
 * list and whose back link names the node before it (0 for the head); and
 * the bitmaps both ways (a list's bit is set iff the list is not empty, a
 * first level's bit iff one of its lists is). Returns the number of nodes
 * << 8, or a rule: 10 too many nodes, 11 a broken list, 12 a bitmap.
 */
__sm_weak __sm_noinline __u64 __sm_check_lists(void)
{
	struct __sm_heap *h = __sm_get_heap();
	__u64 l = 0, o, prev = 0, nodes = 0, i, bad = 0, m, z, cur, empty, cc, live, szf;

	if (!h)
		return 1;
	/*
	 * Branch-free, as in __sm_check: 0/1 arithmetic (for x < 2^32,
	 * (x - 1) >> 63 is 1 iff x == 0, and ((x ^ y) + 0xffffffff) >> 32 is 1
	 * iff x != y); every branch left leaves the loop.
	 */
	for (i = 0; i < __SM_NLISTS; i++) {
		m = i;
		__sm_mask(m, __SM_NLISTS - 1);
		z = ((__u64)h->heads[m] - 1) >> 63;
		__sm_barrier_var(z);
		bad |= (z ^ 1) ^ ((h->sl_map[m >> 4] >> (m & 15)) & 1);
	}
	for (i = 0; i < 32; i++) {
		m = i;
		__sm_mask(m, 31);
		z = ((__u64)h->sl_map[m] - 1) >> 63;
		__sm_barrier_var(z);
		bad |= (z ^ 1) ^ ((h->fl_map >> m) & 1);
		bad |= h->sl_map[m] >> 16;
	}
	if (bad)
		return 12;
	/* One step per node, and one per list: o == 0 moves on to the next list. */
	o = 0;
	l = -1ULL;
	for (i = 0; i < STATIC_MALLOC_CHECK_MAX + __SM_NLISTS; i++) {
		z = (o - 1) >> 63;		/* 1: this list is done */
		__sm_barrier_var(z);
		l += z;
		if (l >= __SM_NLISTS)
			return nodes << 8;
		m = l;
		__sm_mask(m, __SM_NLISTS - 1);
		cur = o + z * h->heads[m];	/* the node: o, or the next list's head */
		prev *= z ^ 1;			/* a head's back link is 0 */
		empty = (cur - 1) >> 63;	/* 1: an empty list, nothing to read */
		__sm_barrier_var(empty);
		cc = cur + (empty << 3);
		__sm_clamp(cc, 8, __SM_HEAP - 8);
		if (!cc)
			return 11;
		live = empty ^ 1;
		szf = __SM_SZF(h, cc);
		__sm_barrier_var(szf);
		bad = live & (((szf & __SM_FREE) ^ 1) |
			      ((((__u64)__sm_list(szf & ~7ULL) ^ l) + 0xffffffffULL) >> 32) |
			      ((((__u64)__SM_PREVF(h, cc) ^ prev) + 0xffffffffULL) >> 32));
		if (bad)
			return 11;
		nodes += live;
		prev = cc * live;
		o = (__u64)__SM_NEXTF(h, cc) * live;
	}
	return 10;
}

/*
 * static_malloc_check()'s look at this CPU's cache (other CPUs' caches are
 * out of a program's reach): at most __SM_DEPTH blocks of a size, each a
 * live block of that size whose state byte says parked, and `bytes` their
 * sum. Returns 0, or 14.
 */
__sm_weak __sm_noinline __u64 __sm_check_cache(void)
{
	struct __sm_cpu *c = __sm_get_cpu();
	struct __sm_heap *h = __sm_get_heap();
	__u64 k, j, n, o, total = 0;

	if (!c || !h)
		return 1;
	for (k = 2; k <= __SM_CACHED / 8; k++) {
		/* The fast slot: empty, or a block of k * 8 bytes parked. */
		o = c->fast[(k - 1) & 15];
		if (o) {
			__sm_clamp(o, 8, __SM_HEAP - 8);
			if (k > __SM_FAST_K || !o || __SM_STATE(h, o) != (__SM_ST_PARKED | k) ||
			    __SM_SZF(h, o) != k * 8)
				return 14;
		}
		n = c->count[k];
		if (n > __SM_DEPTH)
			return 14;
		for (j = 0; j < __SM_DEPTH; j++) {
			if (j >= n)
				break;
			o = c->slot[k][j];
			__sm_clamp(o, 8, __SM_HEAP - 8);
			if (!o || __SM_STATE(h, o) != (__SM_ST_PARKED | k) || __SM_SZF(h, o) != k * 8)
				return 14;
			total += k * 8;
		}
	}
	for (k = 0; k < 4; k++) {
		/* a large block's slot: empty, or a live-sized block parked */
		o = c->big[k];
		if (!o)
			continue;
		__sm_clamp(o, 8, __SM_HEAP - 8);
		n = __SM_SZF(h, o);
		if (k >= __SM_BIG_N || !o || __SM_STATE(h, o) != __SM_ST_PARKED + 17 + k ||
		    __sm_big_slot(n) != k || n <= __SM_CACHED || n > __SM_BIG_MAX || (n & 7))
			return 14;
	}
	return total == c->bytes ? 0 : 14;
}

/*
 * Walk the heap and check every invariant. Returns 0 when healthy, else the
 * number of the first broken rule: 1 no heap, 2 busy, 3 bad block size,
 * 4 bad prev_phys, 5 two adjacent free blocks, 6 state byte disagrees with
 * the header, 7 free block's list bits not set, 8 blocks do not tile the
 * heap, 9 the bytes of the blocks in use differ from the heap's own count,
 * 10 more than STATIC_MALLOC_CHECK_MAX blocks (or free-list nodes), 11 a
 * free list is broken (see __sm_check_lists), 12 a bitmap disagrees with its
 * lists, 13 the lists hold another number of blocks than the heap has free
 * blocks (so every free block is in exactly one list), 14 this CPU's cache is
 * inconsistent. Cost: STATIC_MALLOC_CHECK_MAX loop steps of ~300 insns for
 * the verifier (and ~30 per list step), once per program that calls it.
 */
__sm_weak __sm_noinline __u64 __sm_check(void)
{
	struct __sm_heap *h = __sm_get_heap();
	struct __sm_cpu *cpu = __sm_get_cpu();
	__u64 o = 8, c = 0, prev = 0, prev_free = 0, live = 0, ret = 10, i, nfree = 0, lists;
	__u64 szf = 0, sz = 0, l, used, isfree, bits, bad;

	if (!h || !cpu)
		return 1;
	if (!__sm_enter(cpu))
		return 2;
	if (!__sm_lock_wait(h)) {
		__sm_leave(cpu);
		return 2;
	}
	if (!h->inited) {
		ret = 0;
		goto out;
	}
	/*
	 * Branch-free body (each rule is arithmetic on 0/1 values): the
	 * verifier walks every iteration, and every conditional jump it cannot
	 * decide leaves a pending state (at most 8192 of them). On a broken
	 * rule the loop stops and the rule is named after the loop.
	 */
	for (i = 0; i < STATIC_MALLOC_CHECK_MAX; i++) {
		c = o;
		__sm_clamp(c, 8, __SM_HEAP - 8);
		if (!c) {
			ret = 8;
			goto out;
		}
		szf = __SM_SZF(h, c);
		sz = szf & ~7ULL;
		isfree = szf & __SM_FREE;
		used = ((__u64)__SM_STATE(h, c) + 255) >> 8;	/* 1 iff not NONE */
		l = __sm_list(sz) >> 4;
		__sm_mask(l, 31);
		bits = (h->sl_map[l] >> (__sm_list(sz) & 15)) & (h->fl_map >> l) & 1;
		__sm_barrier_var(sz);
		bad = ((sz - __SM_MIN_BLOCK) >> 63) |			/* 3 */
		      ((__SM_HEAP - (c - 8 + sz)) >> 63) |		/* 3 */
		      ((((__u64)__SM_PREV(h, c) ^ prev) + 0xffffffffULL) >> 32) | /* 4 */
		      (isfree & prev_free) |				/* 5 */
		      (isfree ^ used ^ 1) |				/* 6 */
		      (isfree & (bits ^ 1));				/* 7 */
		if (bad)
			break;
		live += sz * (isfree ^ 1);
		nfree += isfree;
		prev_free = isfree;
		prev = c;
		o = c + sz;
		if (o - 8 == __SM_HEAP) {
			ret = 0;
			break;
		}
	}
	if (ret == 10 && i < STATIC_MALLOC_CHECK_MAX) {
		/* name the broken rule of block c */
		if (sz < __SM_MIN_BLOCK || c - 8 + sz > __SM_HEAP)
			ret = 3;
		else if (__SM_PREV(h, c) != prev)
			ret = 4;
		else if (isfree && prev_free)
			ret = 5;
		else if (isfree == used)
			ret = 6;
		else
			ret = 7;
	}
	if (ret == 0 && live != h->live_bytes)
		ret = 9;
	if (ret == 0) {
		lists = __sm_check_lists();
		if (lists & 0xff)
			ret = lists & 0xff;
		else if (lists >> 8 != nfree)
			ret = 13;
	}
	if (ret == 0)
		ret = __sm_check_cache();
out:
	__sm_unlock(h);
	__sm_leave(cpu);
	return ret;
}

/* ---- public API -------------------------------------------------------- */

/*
 * Turn o8 = (payload offset o) - 8 of a block good for `span` bytes into a
 * pointer the verifier bounds to [p, p + span) (a run-time span: [p, p + 8)),
 * or NULL when o is not inside [8, HEAP - span]. One unsigned compare, in asm
 * so that clang keeps it on the register that is added, which is both
 * bounds at once: o8 <= HEAP - span - 8 (o = 0, "no block", wraps and
 * fails). Its fall-through is the NULL side, which ends the caller's loop,
 * so the verifier walks it first and pops the pointer side next (see LOOPS
 * in the manual). The pointer is &mem[8] + o8, added on the pointer side
 * only: after the asm the result is NULL or in range on each side, and the
 * caller's NULL check is decided. &mem[8] is a constant that clang keeps in
 * a register across a loop: 4 instructions, 3 walked per side.
 */
static __sm_inline void *__sm_bound8(struct __sm_heap *h, __u64 o8, __u64 span)
{
	void *___p = h->mem + 8;

	if (!__builtin_constant_p(span) || span < 8)
		span = 8;
	if (span > __SM_HEAP - 8)
		return NULL;	/* no block that large: K below would be negative */
	asm volatile("if %[o] <= %[k] goto +2\n\t"
		     "%[p] = 0\n\t"
		     "goto +1\n\t"
		     "%[p] += %[o]"
		     : [p] "+r"(___p) : [o] "r"(o8), [k] "i"(__SM_HEAP - ((span + 7) & ~7ULL) - 8));
	return ___p;
}

/* The same for a payload offset o (0: none). */
static __sm_inline void *__sm_bound(struct __sm_heap *h, __u64 o, __u64 span)
{
	return __sm_bound8(h, o - 8, span);
}



static __sm_inline void __heap *__sm_malloc_api(size_t size)
{
	struct __sm_heap *___h = __sm_get_heap();
	__u64 ___o;
#ifdef STATIC_MALLOC_INLINE
	void *___p;
#endif

	if (!___h)
		return NULL;
#ifdef STATIC_MALLOC_INLINE
	___p = __sm_cache_take(___h, __sm_get_cpu(), __sm_need(size));
	if (___p)
		return ___p;
#endif
	/* Any number: the bound's one compare judges all of them. */
	___o = __sm_malloc_off(size);
	return __sm_bound8(___h, ___o, size);
}

static __sm_inline void __heap *__sm_calloc_api(size_t nmemb, size_t size)
{
	__u64 ___n = 0, ___o;
	struct __sm_heap *___h;

	if (nmemb && size) {
		/* Both <= HEAP <= 2^22: the product cannot overflow 64 bits. */
		if (nmemb > __SM_HEAP || size > __SM_HEAP)
			___n = ~0ULL; /* overflow or too large: fails and counts */
		else
			___n = (__u64)nmemb * size;
	}
	___h = __sm_get_heap();
	if (!___h)
		return NULL;
	___o = __sm_malloc_off(___n);
	__sm_zero_off(___o, ___n ? ___n : 8);
	return __sm_bound8(___h, ___o, ___n);
}

static __sm_inline void __sm_free_api(void __heap *ptr)
{
	struct __sm_heap *___h;
	__u64 ___o;

	if (!ptr)
		return;
	___h = __sm_get_heap();
	if (!___h)
		return;
#ifdef STATIC_MALLOC_INLINE
	/* in asm: clang would fold (ptr - mem) & 7 into ptr & 7, which the
	 * verifier refuses on a pointer */
	___o = __sm_offset(___h, ptr);
	if (__sm_cache_put(___h, __sm_get_cpu(), ___o))
		return;
	___o -= 8;
#else
	/* o - 8, in C, so that clang reuses &mem[8] from the bound that
	 * made ptr (see __sm_free_off). */
	___o = (__u64)((const char *)ptr - (const char *)(___h->mem + 8));
#endif
	__sm_free_off(___o);
}

static __sm_inline void __heap *__sm_realloc_api(void __heap *ptr, size_t size)
{
	struct __sm_heap *___h;
	__u64 ___o;

	if (!ptr)
		return __sm_malloc_api(size);
	if (!size) {
		__sm_free_api(ptr);
		return NULL;
	}
	___h = __sm_get_heap();
	if (!___h)
		return NULL;
	/* o - 8, as static_free passes it */
	___o = (__u64)((const char *)ptr - (const char *)(___h->mem + 8));
	return __sm_bound8(___h, __sm_realloc_off(___o, size), size);
}

/*
 * STATIC_MALLOC_DEBUG (test builds): static_malloc_check() after every
 * malloc, calloc, realloc and free; the first broken rule it names stays in
 * this CPU's `debug_rule` (static_malloc_debug_rule()). "Busy" (2) and "too
 * many blocks to walk" (10) are not failures. Costs a heap walk per call.
 */
#ifdef STATIC_MALLOC_DEBUG
/* A global function: the verifier checks the walk and the record once per
 * program, not at each call site (with its NULL check at every site, a test
 * with a few dozen calls overflowed the 8192 pending branches of 5.10-6.12). */
__sm_weak __sm_noinline __u64 __sm_debug_check(void)
{
	struct __sm_cpu *___c;
	__u64 ___r = __sm_check();

	if (___r && ___r != 2 && ___r != 10) {
		___c = __sm_get_cpu();
		if (___c && !___c->debug_rule)
			___c->debug_rule = ___r;
	}
	return 0;
}
#endif

static __sm_inline void __sm_debug_after(void)
{
#ifdef STATIC_MALLOC_DEBUG
	__sm_debug_check();
#endif
}

/* The rule STATIC_MALLOC_DEBUG saw broken first on this CPU, 0 if none (1
 * when this CPU's value is missing). A global function for the same reason:
 * tests ask before every assertion. */
__sm_weak __sm_noinline __u64 __sm_debug_rule(void)
{
	struct __sm_cpu *___c = __sm_get_cpu();

	return ___c ? ___c->debug_rule : 1;
}

static __sm_inline int static_malloc_debug_rule(void)
{
	return (int)__sm_debug_rule();
}

static __sm_inline void __heap *static_malloc(size_t size)
{
	void __heap *___p = __sm_malloc_api(size);

	__sm_debug_after();
	return ___p;
}

static __sm_inline void __heap *static_calloc(size_t nmemb, size_t size)
{
	void __heap *___p = __sm_calloc_api(nmemb, size);

	__sm_debug_after();
	return ___p;
}

static __sm_inline void __heap *static_realloc(void __heap *ptr, size_t size)
{
	void __heap *___p = __sm_realloc_api(ptr, size);

	__sm_debug_after();
	return ___p;
}

static __sm_inline void static_free(void __heap *ptr)
{
	__sm_free_api(ptr);
	__sm_debug_after();
}

/*
 * x as a plain number, whatever the verifier knows about it: a scalar loaded
 * from memory stays what it is, and a pointer the verifier still tracks (a
 * local that came from static_malloc, a stack or context pointer) becomes an
 * unknown scalar, because a value loaded from map memory is one. The slot
 * is this CPU's. Save, store, load, restore: a program that interrupts us
 * between our store and our load does the same and puts our value back
 * before we go on, so the load always reads x. No branch, no retry.
 */
static __sm_inline __u64 __sm_as_number(struct __sm_cpu *c, void *x)
{
	__u64 ___old = *(volatile __u64 *)&c->ptr_slot, ___y;

	*(void *volatile *)&c->ptr_slot = x;
	___y = *(volatile __u64 *)&c->ptr_slot;
	*(volatile __u64 *)&c->ptr_slot = ___old;
	return ___y;
}

static __sm_inline void __heap *__sm_ptr(void *p, __u64 span)
{
	struct __sm_heap *___h = __sm_get_heap();
	struct __sm_cpu *___c = __sm_get_cpu_const();
	__u64 ___x;

	if (!___h || !___c)
		return NULL;
	/* x - &mem[8] = o - 8: NULL, every number that is not into the heap,
	 * and any x before the first malloc set `self` fail the bound. The
	 * load must come from memory (volatile), where it is a scalar. (A
	 * bound that makes the pointer after the asm, in C, cost the walk
	 * loop 26 insns per iteration instead of 30, but static_ptr + free 39
	 * instead of 37, the 4 KiB heap test 24,000 insns instead of 17,600
	 * and the tree 336,000 instead of 327,000: not kept.) */
	___x = __sm_as_number(___c, p) - *(volatile __u64 *)&___h->self;
	return __sm_bound8(___h, ___x, span);
}

/* A heap pointer loaded from memory, made dereferenceable for sizeof(*p). */
#define static_ptr(p) ((__typeof__(p))__sm_ptr((void *)(p), sizeof(*(p))))
/* Same, dereferenceable for `span` bytes (a compile-time constant). */
#define static_ptr_sized(p, span) ((__typeof__(p))__sm_ptr((void *)(p), (span)))

/* 0 when every heap invariant holds, else the number of the broken rule. */
static __sm_inline int static_malloc_check(void)
{
	return (int)__sm_check();
}

#ifdef STATIC_MALLOC_REPLACE
#define malloc(size)		static_malloc(size)
#define calloc(nmemb, size)	static_calloc(nmemb, size)
#define realloc(ptr, size)	static_realloc(ptr, size)
#define free(ptr)		static_free(ptr)
#endif

#endif /* STATIC_MALLOC_ARENA */

#endif /* __STATIC_MALLOC_H__ */
