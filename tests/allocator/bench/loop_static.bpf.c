/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* Benchmark loop (loop_static.h) with the default heap: bpf_spin_lock, the
 * per-CPU cache behind the global functions. */
#include "loop_static.h"

BENCH_STATIC(bench_static)
