/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef HANDOFF_UTIL_WIPE_H
#define HANDOFF_UTIL_WIPE_H

#include <stddef.h>

/* Overwrite secrets with zeros in a way the compiler may not elide. */
void wipe(void *p, size_t len);

/* wipe() then free(); NULL allowed. */
void wipe_free(void *p, size_t len);

#endif
