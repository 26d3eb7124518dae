/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* A binary search tree: both children written through the allocated pointer. */
#include "arena_test.h"

struct tree {
	__u64 key;
	struct tree __heap *left;
	struct tree __heap *right;
};

#define KEYS 64
#define DEPTH 64

/* Global functions: the verifier checks each once, not once per key. */
__attribute__((noinline)) int tree_insert(struct tree __heap *root __arg_arena, struct tree __heap *t __arg_arena)
{
	struct tree __heap *cur;
	int d;

	for (cur = root, d = 0; cur && d < DEPTH; d++) {
		if (t->key < cur->key) {
			if (!cur->left) {
				cur->left = t;
				return 0;
			}
			cur = cur->left;
		} else {
			if (!cur->right) {
				cur->right = t;
				return 0;
			}
			cur = cur->right;
		}
	}
	return 1;
}

__attribute__((noinline)) int tree_depth_of(struct tree __heap *root __arg_arena, __u64 key)
{
	struct tree __heap *cur;
	int d;

	for (cur = root, d = 0; cur && d < DEPTH; d++) {
		if (cur->key == key)
			return d;
		cur = key < cur->key ? cur->left : cur->right;
	}
	return -1;
}

__attribute__((noinline)) int tree_free(struct tree __heap *root __arg_arena)
{
	/* rotate every left child up until there is none, freeing as we go
	 * right: each node is rotated at most once and freed once */
	struct tree __heap *l, *next;
	int i;

	for (i = 0; i < 2 * KEYS && root; i++) {
		l = root->left;
		if (l) {
			root->left = l->right;
			l->right = root;
			root = l;
			continue;
		}
		next = root->right;
		static_free(root);
		root = next;
	}
	return root != NULL;	/* the counters tell whether every node was freed */
}

/* vdoctor-test: expect 0 since 6.9 */
SEC("xdp")
int tree_insert_find(struct xdp_md *ctx)
{
	struct tree __heap *root = NULL, *t;
	struct static_malloc_stats *s;
	int i;

	for (i = 0; i < KEYS; i++) {
		t = static_malloc(sizeof(*t));
		CHECK(1, t != NULL);
		t->key = (i * 37) % KEYS;	/* a permutation of 0..KEYS-1 */
		t->left = NULL;
		t->right = NULL;
		if (!root)
			root = t;
		else
			CHECK(2, tree_insert(root, t) == 0);
	}
	for (i = 0; i < KEYS; i++)
		CHECK(3, tree_depth_of(root, i) >= 0);
	CHECK(4, tree_depth_of(root, KEYS) == -1);
	CHECK_HEAP(5);
	CHECK(6, tree_free(root) == 0);
	CHECK_HEAP(7);
	s = stats();
	CHECK(8, s && s->bytes_in_use == 0);
	return 0;
}
