// SPDX-License-Identifier: MIT
/*
 * The search-tree functions that elfutils 0.192's libelf.a calls but does not contain (they
 * live in elfutils' internal libeu, left out of the static archive; fixed in 0.193). Linked
 * into the guest loader only when a link without it fails on these names (see build.py).
 *
 * elfutils' search_tree starts with the tree root, followed by a lock that exists only in
 * thread-safe builds; the loader is single-threaded, so only the root is touched.
 */
#define _GNU_SOURCE
#include <search.h>
#include <stddef.h>

typedef struct {
	void *root;
} search_tree;

void eu_search_tree_init(search_tree *tree)
{
	tree->root = NULL;
}

void eu_search_tree_fini(search_tree *tree)
{
	(void)tree;
}

void *eu_tsearch(const void *key, search_tree *tree, int (*compare)(const void *, const void *))
{
	return tsearch(key, &tree->root, compare);
}

void *eu_tfind(const void *key, search_tree *tree, int (*compare)(const void *, const void *))
{
	return tfind(key, &tree->root, compare);
}

void *eu_tdelete(const void *key, search_tree *tree, int (*compare)(const void *, const void *))
{
	return tdelete(key, &tree->root, compare);
}

void eu_tdestroy(search_tree *tree, void (*free_node)(void *))
{
	tdestroy(tree->root, free_node);
	tree->root = NULL;
}
