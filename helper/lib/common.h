/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Included first by every library file.  The public header is wrapped in
 * default visibility so that exactly the functions it declares leave the
 * shared object (everything else is built with -fvisibility=hidden; the
 * version script libhandoff.sym is the second fence).
 */
#ifndef HANDOFF_COMMON_H
#define HANDOFF_COMMON_H

#pragma GCC visibility push(default)
#include "handoff.h"
#pragma GCC visibility pop

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
