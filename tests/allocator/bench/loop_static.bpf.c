/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* Benchmark loops (loop_static.h) with the default heap: the per-CPU cache
 * and the queue-map lock behind the global functions; 64-byte blocks, and
 * mixed sizes. */
#include "loop_static.h"

BENCH_STATIC(bench_static)
BENCH_STATIC_MIXED(bench_static_mixed)
