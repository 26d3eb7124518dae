/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* STATIC_MALLOC_NO_LOCK: one shared heap behind a compare-and-swap word. */
#define STATIC_MALLOC_NO_LOCK
#include "variant_suite.h"

/* vdoctor-test: expect 0 */
SEC("xdp")
int nolock_suite(struct xdp_md *ctx)
{
	return variant_suite();
}
