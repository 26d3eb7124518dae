/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Issue 21, point 7: a binary search tree of TREE_N (256) nodes, in plain C
 * loops as a user writes them: insert every key, look every key up (and
 * one that is missing), then free the whole tree without recursion (rotate
 * a left child up until the node has none, then free it and go right).
 * Keys arrive in bit-reversed order, so the tree is about balanced: no path
 * is longer than TREE_DEPTH, which bounds the walk of one insert or lookup.
 * The including file may define STATIC_MALLOC_ARENA. Returns 0, or the
 * number of the check that failed.
 */
#ifndef STATIC_MALLOC_HEAP_SIZE
#define STATIC_MALLOC_HEAP_SIZE (64 * 1024)
#endif
#include "static_malloc.h"

#define TREE_N		256
#define TREE_DEPTH	9	/* bit-reversed keys: a path has at most 8 edges */

struct tnode {
	__u64 key;
	struct tnode __heap *child[2];	/* [0] smaller keys, [1] larger */
};

#ifdef STATIC_MALLOC_ARENA
#define TREE_PTR(p) (p)
#else
#define TREE_PTR(p) static_ptr(p)
#endif

/* Counters of the last run. In memory, not in registers: the verifier
 * does not follow what memory holds, so the paths of a loop that count
 * and that do not meet in one state (a count in a register that is
 * compared after the loop would keep them apart). */
__u64 tree_found;
__u64 tree_freed;

/* Key i: the bits of i reversed (8 bits), times two, plus one (so an even
 * number is never in the tree). */
static __always_inline __u64 tree_key(__u32 i)
{
	i = ((i & 0xf0) >> 4) | ((i & 0x0f) << 4);
	i = ((i & 0xcc) >> 2) | ((i & 0x33) << 2);
	i = ((i & 0xaa) >> 1) | ((i & 0x55) << 1);
	return 2 * (__u64)i + 1;
}

/* Which child to go to: 1 when key > node_key, else 0. Arithmetic, not a
 * compare: clang turns `key > node_key` into a compare and jump, which the
 * verifier cannot decide, so every step of every walk would fork (the LOOPS
 * rule of static_malloc.h, which a user's own loop follows too). Keys are
 * below 2^63. */
static __always_inline __u64 tree_dir(__u64 key, __u64 node_key)
{
	__u64 d = node_key - key;

	asm volatile("%[d] >>= 63" : [d] "+r"(d));
	return d;
}

static __always_inline __u64 tree_in_use(void)
{
	__u32 k = 0;
	struct static_malloc_stats *s = bpf_map_lookup_elem(&static_stats, &k);

	return s ? s->bytes_in_use : ~0ULL;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int tree_loops(struct xdp_md *ctx)
{
	struct tnode __heap *root = NULL, *n, *cur, *next;
	__u64 key, dir, before = tree_in_use();
	int i, d, s;

	for (i = 0; i < TREE_N; i++) {
		key = tree_key(i);
		n = static_malloc(sizeof(*n));
		if (!n)
			return 1;
		n->key = key;
		n->child[0] = NULL;
		n->child[1] = NULL;
		if (!root) {
			root = n;
			continue;
		}
		cur = root;
		for (d = 0; d < TREE_DEPTH; d++) {
			dir = tree_dir(key, cur->key);
			next = TREE_PTR(cur->child[dir]);
			if (!next) {
				cur->child[dir] = n;
				break;
			}
			cur = next;
		}
		if (d == TREE_DEPTH)
			return 2;
	}
	tree_found = 0;
	for (i = 0; i <= TREE_N; i++) {
		/* i == TREE_N looks up a key that is not there */
		key = i < TREE_N ? tree_key(i) : 2 * TREE_N;
		cur = root;
		for (d = 0; d < TREE_DEPTH && cur; d++) {
			if (cur->key == key) {
				tree_found++;
				break;
			}
			cur = TREE_PTR(cur->child[tree_dir(key, cur->key)]);
		}
	}
	if (tree_found != TREE_N)
		return 3;
	tree_freed = 0;
	cur = root;
	for (s = 0; s < 2 * TREE_N && cur; s++) {
		next = TREE_PTR(cur->child[0]);
		if (next) {
			/* rotate right: the left child becomes the parent */
			cur->child[0] = next->child[1];
			next->child[1] = cur;
			cur = next;
		} else {
			next = TREE_PTR(cur->child[1]);
			static_free(cur);
			tree_freed++;
			cur = next;
		}
	}
	if (cur || tree_freed != TREE_N)
		return 4;
	return tree_in_use() == before ? 0 : 5;
}

char LICENSE[] SEC("license") = "GPL";
