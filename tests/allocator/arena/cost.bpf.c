/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * What the arena backend costs, for the manual's numbers:
 *   vdoctor try tests/allocator/arena/cost.bpf.c --run 200
 * (instructions processed per program, and ns per run: pairs_1000 does 1000
 * malloc+free pairs of 64 bytes).
 */
#include "arena_test.h"

/* vdoctor-test: expect 0 since 6.9 */
SEC("xdp")
int one_site(struct xdp_md *ctx)
{
	char __heap *p = static_malloc(64);

	CHECK(1, p != NULL);
	p[0] = 1;
	static_free(p);
	return 0;
}

/* vdoctor-test: expect 0 since 6.9 */
SEC("xdp")
int two_sites(struct xdp_md *ctx)
{
	char __heap *p = static_malloc(64), *q = static_malloc(64);

	CHECK(1, p != NULL && q != NULL);
	p[0] = q[0] = 1;
	static_free(p);
	static_free(q);
	return 0;
}

/* vdoctor-test: expect 0 since 6.9 */
SEC("xdp")
int pairs_1000(struct xdp_md *ctx)
{
	char __heap *p;
	int i;

	for (i = 0; i < 1000; i++) {
		p = static_malloc(64);
		CHECK(1, p != NULL);
		p[0] = 1;
		static_free(p);
	}
	return 0;
}
