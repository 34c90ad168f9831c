/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef HANDOFF_UTIL_WIPE_H
#define HANDOFF_UTIL_WIPE_H

#include <stddef.h>

/* Overwrite secrets with zeros in a way the compiler may not elide. */
void wipe(void *p, size_t len);

/* wipe() then free(); NULL allowed. */
void wipe_free(void *p, size_t len);

/*
 * wipe_stack - zero the stack below the caller's frame (WIPE_STACK_BYTES),
 * where the callees it just returned from left their locals.  For after a
 * key derivation in code we do not own: nettle's HMAC computes a whole
 * digest in a local buffer and truncates it into ours, so the first bytes
 * of a derived key stay on the stack (found by tests/shim/keysearch.sh
 * after a KeyUpdate on Linux 7.3).
 */
#define WIPE_STACK_BYTES 8192
void wipe_stack(void);

#endif
