/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* Benchmark loop (loop_static.h) with STATIC_MALLOC_NO_LOCK: one shared heap,
 * a compare-and-swap word as its lock instead of the queue map. */
#define STATIC_MALLOC_NO_LOCK
#include "loop_static.h"

BENCH_STATIC(bench_static_nolock)
