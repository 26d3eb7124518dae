/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Why the default heap uses no BPF_CMPXCHG at all, even behind a version
 * check: the compare-and-swap below sits in a branch that libbpf's
 * LINUX_KERNEL_VERSION (a constant in a frozen map, so the verifier skips
 * the dead branch) rules out before 5.12, yet 5.10 refuses the program: it
 * checks every instruction's encoding before it walks any path ("BPF_STX
 * uses reserved fields"). The matrix shows it: loads from 5.12, refused on
 * 5.10.
 */
#include "sm_test.h"

extern int LINUX_KERNEL_VERSION __kconfig;

#define VERSION(a, b, c) (((a) << 16) + ((b) << 8) + (c))

__u64 word;

/* vdoctor-test: expect 0 since 5.12 */
SEC("xdp")
int kconfig_cas(struct xdp_md *ctx)
{
	if (LINUX_KERNEL_VERSION >= VERSION(5, 12, 0)) {
		if (__sync_val_compare_and_swap(&word, 0, 1) != 0)
			return 1;
		word = 0;
	}
	return 0;
}
