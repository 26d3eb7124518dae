/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * The allocator inside loops (issue 21): one XDP program per operation, each
 * a plain C loop of LOOP_N iterations, and beside each the same loop over a
 * plain .bss array of nodes with __u32 indices and a free list (the "floor"
 * a user compares against). scripts/bench_allocator.py builds them at two
 * values of LOOP_N and reads the verifier's processed insns: the slope is the
 * cost of one iteration. tests/test_allocator_loops.py runs them.
 *
 * A file that includes this defines LOOP_N (and STATIC_MALLOC_ARENA for the
 * arena backend) first. Every program returns 0 when its checks pass, else
 * the number of the failing check.
 *
 *   op_push    malloc a node and push it on a list          (floor_push)
 *   op_walk    n = static_ptr(n->next) down that list        (floor_walk)
 *   op_free    next = static_ptr(n->next); static_free(n)    (floor_free)
 *   op_pair    static_malloc(64) + write + static_free        (floor_pair)
 *   op_mixed   the same, sizes 16/64/200/512 in turn          (floor_mixed)
 *   op_calloc  static_calloc(1, 64) + check + static_free     (floor_calloc)
 *   op_realloc malloc(16), realloc to 64, free                (floor_realloc)
 *
 * op_push, op_walk and op_free share the list through the global
 * `list_head` (run them in that order); the others stand alone.
 */
#ifndef LOOP_N
#define LOOP_N 1000
#endif
#ifndef STATIC_MALLOC_HEAP_SIZE
#ifdef STATIC_MALLOC_ARENA
#define STATIC_MALLOC_HEAP_SIZE (1024 * 1024)
#else
#define STATIC_MALLOC_HEAP_SIZE (512 * 1024)
#endif
#endif
#include "static_malloc.h"

struct node {
	__u64 value;
	struct node __heap *next;
};

#ifdef STATIC_MALLOC_ARENA
struct node __heap *list_head;
#define LOAD_HEAD() (list_head)
#define STORE_HEAD(n) (list_head = (n))
#else
/* A pointer kept in a global is a number when it is read back. */
__u64 list_head;
#define LOAD_HEAD() static_ptr((struct node *)list_head)
#define STORE_HEAD(n) (list_head = (__u64)(n))
#endif
__u64 list_sum;

/* The floor: nodes of a plain array, index 0 means none. */
#define FLOOR_NODES 16384
struct fnode {
	__u64 value;
	__u32 next;
	__u32 pad;
	__u64 data[6];
};
struct fnode floor_nodes[FLOOR_NODES];
__u32 floor_free_head[4];	/* a free list per size (the mixed floor uses four) */
__u32 floor_head;
__u32 floor_ready;

#define IDX(x) ((x) & (FLOOR_NODES - 1))

static __always_inline __u32 floor_pop(__u32 list)
{
	__u32 idx = floor_free_head[list & 3];

	if (idx)
		floor_free_head[list & 3] = floor_nodes[IDX(idx)].next;
	return idx;
}

static __always_inline void floor_push_free(__u32 list, __u32 idx)
{
	floor_nodes[IDX(idx)].next = floor_free_head[list & 3];
	floor_free_head[list & 3] = idx;
}

/* Thread every array node onto the four free lists (a bpf_loop-free loop
 * of its own, run once: FLOOR_NODES / 4 nodes each). */
SEC("xdp")
int floor_init(struct xdp_md *ctx)
{
	__u32 i;

	if (floor_ready)
		return 0;
	for (i = 1; i < FLOOR_NODES; i++) {
		floor_nodes[IDX(i)].next = floor_free_head[i & 3];
		floor_free_head[i & 3] = i;
	}
	floor_ready = 1;
	return 0;
}

SEC("xdp")
int op_push(struct xdp_md *ctx)
{
	struct node __heap *head = NULL, *n;
	int i;

	if (list_head)
		return 1;
	for (i = 0; i < LOOP_N; i++) {
		n = static_malloc(sizeof(*n));
		if (!n)
			return 2;
		n->value = i + 1;
		n->next = head;
		head = n;
	}
	STORE_HEAD(head);
	return 0;
}

SEC("xdp")
int floor_push(struct xdp_md *ctx)
{
	__u32 head = 0, idx;
	int i;

	for (i = 0; i < LOOP_N; i++) {
		idx = floor_pop(0);
		if (!idx)
			return 2;
		floor_nodes[IDX(idx)].value = i + 1;
		floor_nodes[IDX(idx)].next = head;
		head = idx;
	}
	floor_head = head;
	return 0;
}

SEC("xdp")
int op_walk(struct xdp_md *ctx)
{
	struct node __heap *n = LOAD_HEAD();
	__u64 sum = 0;
	int i;

	for (i = 0; i < LOOP_N && n; i++) {
		sum += n->value;
		n = static_ptr(n->next);
	}
	list_sum = sum;
	return sum == (__u64)LOOP_N * (LOOP_N + 1) / 2 ? 0 : 3;
}

SEC("xdp")
int floor_walk(struct xdp_md *ctx)
{
	__u32 idx = floor_head;
	__u64 sum = 0;
	int i;

	for (i = 0; i < LOOP_N && idx; i++) {
		sum += floor_nodes[IDX(idx)].value;
		idx = floor_nodes[IDX(idx)].next;
	}
	list_sum = sum;
	return sum == (__u64)LOOP_N * (LOOP_N + 1) / 2 ? 0 : 3;
}

SEC("xdp")
int op_free(struct xdp_md *ctx)
{
	struct node __heap *n = LOAD_HEAD(), *next;
	int i;

	for (i = 0; i < LOOP_N && n; i++) {
		next = static_ptr(n->next);
		static_free(n);
		n = next;
	}
	list_head = 0;
	return n ? 4 : 0;
}

SEC("xdp")
int floor_free(struct xdp_md *ctx)
{
	__u32 idx = floor_head, next;
	int i;

	for (i = 0; i < LOOP_N && idx; i++) {
		next = floor_nodes[IDX(idx)].next;
		floor_push_free(0, idx);
		idx = next;
	}
	floor_head = 0;
	return idx ? 4 : 0;
}

/* malloc + write + free pairs of one size (64 B) and of mixed sizes. */
#define MIXED_SIZES 0x4019080200000000ULL	/* 8-byte words, one per byte (top four) */
#define MIXED_SIZE(i) (((MIXED_SIZES >> (32 + 8 * ((i) & 3))) & 0xff) * 8)

#define OP_PAIR(name, size)						\
SEC("xdp")								\
int name(struct xdp_md *ctx)						\
{									\
	__u64 __heap *p;						\
	int i;								\
									\
	for (i = 0; i < LOOP_N; i++) {					\
		p = static_malloc(size);				\
		if (!p)							\
			return 5;					\
		*(volatile __u64 __heap *)p = i;			\
		static_free(p);						\
	}								\
	return 0;							\
}
OP_PAIR(op_pair, 64)
OP_PAIR(op_mixed, MIXED_SIZE(i))

#define FLOOR_PAIR(name, list)						\
SEC("xdp")								\
int name(struct xdp_md *ctx)						\
{									\
	__u32 idx;							\
	int i;								\
									\
	for (i = 0; i < LOOP_N; i++) {					\
		idx = floor_pop(list);					\
		if (!idx)						\
			return 5;					\
		*(volatile __u64 *)&floor_nodes[IDX(idx)].value = i;	\
		floor_push_free(list, idx);				\
	}								\
	return 0;							\
}
FLOOR_PAIR(floor_pair, 0)
FLOOR_PAIR(floor_mixed, i)

SEC("xdp")
int op_calloc(struct xdp_md *ctx)
{
	__u64 __heap *p;
	int i;

	for (i = 0; i < LOOP_N; i++) {
		p = static_calloc(1, 64);
		if (!p)
			return 6;
		if (p[0] | p[7])
			return 7;
		p[0] = i;
		p[7] = i;
		static_free(p);
	}
	return 0;
}

SEC("xdp")
int floor_calloc(struct xdp_md *ctx)
{
	__u32 idx;
	int i;

	for (i = 0; i < LOOP_N; i++) {
		idx = floor_pop(0);
		if (!idx)
			return 6;
		__builtin_memset(&floor_nodes[IDX(idx)], 0, sizeof(struct fnode));
		floor_nodes[IDX(idx)].value = i;
		floor_push_free(0, idx);
	}
	return 0;
}

SEC("xdp")
int op_realloc(struct xdp_md *ctx)
{
	__u64 __heap *p, __heap *q;
	int i;

	for (i = 0; i < LOOP_N; i++) {
		p = static_malloc(16);
		if (!p)
			return 8;
		p[1] = i;
		q = static_realloc(p, 64);
		if (!q) {
			static_free(p);
			return 9;
		}
		if (q[1] != i)
			return 10;
		static_free(q);
	}
	return 0;
}

SEC("xdp")
int floor_realloc(struct xdp_md *ctx)
{
	__u32 small, big;
	int i;

	for (i = 0; i < LOOP_N; i++) {
		small = floor_pop(1);
		if (!small)
			return 8;
		floor_nodes[IDX(small)].data[1] = i;
		big = floor_pop(2);
		if (!big) {
			floor_push_free(1, small);
			return 9;
		}
		__builtin_memcpy(floor_nodes[IDX(big)].data, floor_nodes[IDX(small)].data, 16);
		floor_push_free(1, small);
		if (floor_nodes[IDX(big)].data[1] != i)
			return 10;
		floor_push_free(2, big);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
