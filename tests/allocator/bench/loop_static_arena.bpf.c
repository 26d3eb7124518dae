/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* Benchmark loops (loop_static.h) with STATIC_MALLOC_ARENA (kernel 6.9+,
 * clang 19+): the heap in a BPF arena, page slabs for small blocks. */
#define STATIC_MALLOC_ARENA
#include "loop_static.h"

BENCH_STATIC(bench_static_arena)
BENCH_STATIC_MIXED(bench_static_arena_mixed)
