/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdopen: stdio reads and writes a FILE through libc's internal read and
 * write, which no preload can stand in front of.  A program that wraps its
 * socket in a FILE before the handshake ran would then write its first
 * bytes in plaintext.  So the handshake finishes here, before the FILE
 * exists; after it the kernel encrypts whatever stdio writes.  If it
 * fails, so does fdopen, with the handshake's errno.
 *
 * A client also asks the server for no session tickets: a TLS 1.3 ticket
 * comes after the handshake as a record stdio's read would fail on (EIO).
 * What stays out of reach: the peer's close_notify still makes the FILE's
 * read fail with EIO rather than see EOF (see libshim/README.md).
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
	conn_for_stdio(c);
	/* Blocking: to the end.  Non-blocking: one step, then EAGAIN (it cannot wait here). */
	if (conn_before_io(c) < 0)
		return NULL;
	return SHIM_REAL(fdopen)(fd, mode);
}
