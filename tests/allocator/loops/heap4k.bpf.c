/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* heap4k.h, classic backend: a 4 KiB heap. */
#include "heap4k.h"
