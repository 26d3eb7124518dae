/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* Benchmark loop (loop_static.h) with STATIC_MALLOC_INLINE: the per-CPU
 * cache's fast paths at the call site. */
#define STATIC_MALLOC_INLINE
#include "loop_static.h"

BENCH_STATIC(bench_static_inline)
