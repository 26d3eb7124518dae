/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* The loops of lists.h, classic backend. */
#include "lists.h"
