/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* Benchmark loop (loop_static.h) with STATIC_MALLOC_PERCPU: one 16 KiB heap
 * per CPU, no lock. */
#define STATIC_MALLOC_PERCPU
#define STATIC_MALLOC_HEAP_SIZE 16384
#include "loop_static.h"

BENCH_STATIC(bench_static_percpu)
