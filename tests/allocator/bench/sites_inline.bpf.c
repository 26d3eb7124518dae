/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* The call-site programs of sites.bpf.c with STATIC_MALLOC_INLINE: what a
 * call site costs the verifier when the cache's fast paths are inline. */
#define STATIC_MALLOC_INLINE
#include "sites.bpf.c"
