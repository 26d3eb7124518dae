/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* The loops of lists.h, arena backend (kernel 6.9+, clang 19+). */
#define STATIC_MALLOC_ARENA
#include "lists.h"
