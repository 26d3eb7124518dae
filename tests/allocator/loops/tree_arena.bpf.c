/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* tree.h, arena backend. */
#define STATIC_MALLOC_ARENA
#include "tree.h"
