/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Issue 21, point 7: a small heap filled and drained twice, in loops of 64.
 * The heap holds fewer than 64 blocks (see BLOCK_BYTES). Both rounds must get the same
 * number: nothing lost, nothing handed out twice (each block is tagged and
 * checked before it is freed). The including file may define
 * STATIC_MALLOC_ARENA (whose smallest heap is 8 KiB: its page is 4 KiB).
 */
#ifndef STATIC_MALLOC_HEAP_SIZE
#define STATIC_MALLOC_HEAP_SIZE 4096
#endif
#define STATIC_MALLOC_CACHE_BYTES 0	/* every block goes back to the heap at once */
#include "static_malloc.h"

#define ROUND 64
/* classic: 64 + 8 header = 72 bytes, 56 blocks in 4 KiB; arena: slab
 * blocks of 256 bytes, 32 to a page */
#ifdef STATIC_MALLOC_ARENA
#define BLOCK_BYTES 200
#else
#define BLOCK_BYTES 64
#endif

struct block {
	__u64 tag;
	struct block __heap *next;
	__u8 pad[BLOCK_BYTES - 16];
};

__u64 heap4k_got[2];

/* vdoctor-test: expect 0 */
SEC("xdp")
int heap_fill_drain(struct xdp_md *ctx)
{
	struct block __heap *head, *b, *next;
	int r, i, n;

	for (r = 0; r < 2; r++) {
		head = NULL;
		n = 0;
		for (i = 0; i < ROUND; i++) {
			b = static_malloc(sizeof(struct block));
			if (!b)
				break;
			b->tag = r * 1000 + i;
			b->next = head;
			head = b;
			n++;
		}
		heap4k_got[r] = n;
		if (n == 0 || n == ROUND)
			return 1 + r;	/* nothing, or the heap did not fill */
		b = head;
		for (i = n - 1; i >= 0 && b; i--) {
			if (b->tag != r * 1000 + i)
				return 3;
			next = static_ptr(b->next);
			static_free(b);
			b = next;
		}
		if (b || i != -1)
			return 4;
	}
	return heap4k_got[0] == heap4k_got[1] ? 0 : 5;
}

char LICENSE[] SEC("license") = "GPL";
