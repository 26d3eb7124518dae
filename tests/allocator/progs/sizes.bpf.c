/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* Many sizes live at once: each filled with its own byte, none overlaps. */
#include "sm_test.h"

#define SIZES(X) X(0, 1) X(1, 7) X(2, 8) X(3, 9) X(4, 15) X(5, 16) X(6, 17) \
	X(7, 31) X(8, 33) X(9, 63) X(10, 64) X(11, 100) X(12, 127) X(13, 128)    \
	X(14, 129) X(15, 200) X(16, 255) X(17, 256) X(18, 500) X(19, 1000)      \
	X(20, 1500) X(21, 2049)

#define DECL(i, n) __u8 *p##i;
#define ALLOC(i, n)						\
	p##i = static_malloc(n);				\
	CHECK(100 + i, p##i != NULL);				\
	for (j = 0; j < (n); j++)				\
		*(volatile __u8 *)&p##i[j] = 0x40 + i;
#define VERIFY(i, n)						\
	for (j = 0; j < (n); j++)				\
		CHECK(200 + i, p##i[j] == 0x40 + i);
#define VERIFY_ODD_ONLY(i, n) if ((i) % 2 == 1) { VERIFY(i, n) }
#define FREE_EVEN(i, n) if ((i) % 2 == 0) static_free(p##i);
#define FREE_ODD(i, n) if ((i) % 2 == 1) static_free(p##i);

/* vdoctor-test: expect 0 */
SEC("xdp")
int sizes_no_overlap(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;
	int j;
	SIZES(DECL)

	CHECK(1, snap(&s0) == 0);
	SIZES(ALLOC)
	CHECK_HEAP(2);
	SIZES(VERIFY)
	SIZES(FREE_EVEN)
	CHECK_HEAP(3);
	SIZES(VERIFY_ODD_ONLY)
	SIZES(FREE_ODD)
	CHECK_HEAP(4);
	CHECK(5, snap(&s1) == 0);
	CHECK(6, s1.bytes_in_use == s0.bytes_in_use);
	CHECK(7, s1.allocations - s0.allocations == 22);
	CHECK(8, s1.frees - s0.frees == 22);
	return 0;
}
