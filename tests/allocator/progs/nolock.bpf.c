/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* STATIC_MALLOC_NO_LOCK: one shared heap behind a compare-and-swap word.
 * BPF_CMPXCHG came with the atomic instructions of 5.12; 5.10 refuses the
 * program ("BPF_STX uses reserved fields"), as the header's manual says. */
#define STATIC_MALLOC_NO_LOCK
#include "variant_suite.h"

/* vdoctor-test: expect 0 since 5.12 */
SEC("xdp")
int nolock_suite(struct xdp_md *ctx)
{
	return variant_suite();
}
