/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* heap4k.h, arena backend: its smallest heap, 8 KiB. */
#define STATIC_MALLOC_ARENA
#define STATIC_MALLOC_HEAP_SIZE 8192
#include "heap4k.h"
