/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Allocator benchmark (scripts/bench_allocator.py), not a test: the
 * user-space allocators a user knows, timed with the same operation mix as
 * the BPF loops (loop_static.h): BENCH_K iterations per run of malloc(size)
 * + one 8-byte write + free, size 64 or 16/64/200/512 in turn, and the
 * empty loop to subtract. Built by the bench with gcc -O2, once against
 * glibc's malloc and once linked with -ljemalloc (which then provides
 * malloc and free). The bench pins this process to one CPU; we time with
 * the thread's CPU clock.
 *
 *   user_malloc REPEAT TRIALS
 *
 * prints one JSON object: which allocator, and per loop the median over
 * TRIALS of the ns one run of BENCH_K iterations took (REPEAT runs timed
 * together), as the BPF side's ns/run.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BENCH_K 64
#define MAX_TRIALS 101

/* The same sizes as BENCH_MIXED_SIZE in loop_static.h. */
static const size_t mixed[4] = {16, 64, 200, 512};

/* Hides a value from the optimizer, so that no malloc/free pair is elided. */
#define barrier_var(x) __asm__ volatile("" : "+r"(x))

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static unsigned long failures;

/* One run: BENCH_K iterations; kind 0 empty, 1 64 B pairs, 2 mixed sizes. */
static void run(int kind)
{
	uint64_t *p;
	unsigned int i;

	for (i = 0; i < BENCH_K; i++) {
		barrier_var(i);
		if (kind == 0)
			continue;
		p = malloc(kind == 1 ? 64 : mixed[i & 3]);
		barrier_var(p);
		if (!p) {
			failures++;
			continue;
		}
		*(volatile uint64_t *)p = i;	/* use the block */
		free(p);
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static const char *const names[3] = {"empty", "pair64", "mixed"};
	double samples[3][MAX_TRIALS], t;
	long repeat = argc > 1 ? atol(argv[1]) : 20000, r;
	int trials = argc > 2 ? atoi(argv[2]) : 7, n, kind;

	if (repeat < 1 || trials < 1 || trials > MAX_TRIALS) {
		fprintf(stderr, "usage: %s REPEAT TRIALS (TRIALS 1..%d)\n", argv[0], MAX_TRIALS);
		return 2;
	}
	for (kind = 0; kind < 3; kind++)	/* warm up */
		for (r = 0; r < repeat / 10 + 1; r++)
			run(kind);
	for (n = 0; n < trials; n++)		/* interleaved, as the BPF side */
		for (kind = 0; kind < 3; kind++) {
			t = now_ns();
			for (r = 0; r < repeat; r++)
				run(kind);
			samples[kind][n] = (now_ns() - t) / repeat;
		}
	/* jemalloc exports mallctl; glibc does not */
	printf("{\"allocator\": \"%s\", \"failures\": %lu", dlsym(RTLD_DEFAULT, "mallctl") ? "jemalloc" : "glibc",
	       failures);
	for (kind = 0; kind < 3; kind++) {
		qsort(samples[kind], trials, sizeof(double), cmp);
		printf(", \"%s\": %.3f", names[kind], samples[kind][trials / 2]);
	}
	printf("}\n");
	return 0;
}
