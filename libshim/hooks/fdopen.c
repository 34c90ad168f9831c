/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdopen: stdio reads and writes a FILE through libc's internal read and
 * write, which no preload can stand in front of.  A program that wraps its
 * socket in a FILE before the handshake ran would then write its first
 * bytes in plaintext.  So the handshake finishes here, before the FILE
 * exists; after it the kernel encrypts whatever stdio writes.  If it
 * fails, so does fdopen, with the handshake's errno.
 *
 * What stays out of reach: a non-data record (the peer's close_notify, a
 * session ticket) makes the FILE's next read fail with EIO, as on any kTLS
 * socket read without the shim (see libshim/README.md).
 */
#include <stdio.h>

#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

SHIM_EXPORT FILE *fdopen(int fd, const char *mode)
{
	struct shim_conn *c = shim_conn_of(fd);

	if (SHIM_LIKELY(!c) || shim_state(c) != SHIM_HANDSHAKE)
		return SHIM_REAL(fdopen)(fd, mode);
	/* Blocking: to the end.  Non-blocking: one step, then EAGAIN (it cannot wait here). */
	if (conn_before_io(c) < 0)
		return NULL;
	return SHIM_REAL(fdopen)(fd, mode);
}
