/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * The body every program of prog_types.bpf.c and prog_types_tracing.bpf.c
 * runs; included by both after they pick their heap configuration.
 * Returns 0 when malloc, realloc (keeping the contents), calloc (zeroed)
 * and free all work, else the number of the failing check.
 */
#ifndef PROG_TYPES_H
#define PROG_TYPES_H

#include "static_malloc.h"

static __always_inline int roundtrip(void)
{
	__u64 *p = static_malloc(16), *q;

	if (!p)
		return 1;
	p[0] = 1;
	p[1] = 2;
	q = static_realloc(p, 48);
	if (!q)
		return 2;
	if (q[0] != 1 || q[1] != 2)
		return 3;
	static_free(q);
	q = static_calloc(2, 8);
	if (!q || q[1])
		return 4;
	static_free(q);
	return 0;
}

#endif /* PROG_TYPES_H */
