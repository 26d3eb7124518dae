/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* STATIC_MALLOC_PERCPU: one heap per CPU, no lock. */
#define STATIC_MALLOC_PERCPU
#include "variant_suite.h"

/* vdoctor-test: expect 0 */
SEC("xdp")
int percpu_suite(struct xdp_md *ctx)
{
	return variant_suite();
}
