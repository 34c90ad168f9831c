/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdopen: a FILE on a TLS connection.
 *
 * glibc's FILE reads and writes through internal calls that no preload
 * can stand in front of, so a FILE made the ordinary way would read a
 * session ticket or the peer's close_notify as EIO, and write its first
 * bytes in plaintext if the handshake had not run.  So a connection gets
 * a FILE whose I/O goes through our own read, write and close (a cookie
 * FILE, glibc's fopencookie), with fileno() still answering the socket's
 * number for programs that poll it.  The handshake finishes first, so
 * that a failure is fdopen's own (NULL with its errno), and a client asks
 * for no session tickets: nothing would use them.
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* The cookie is the fd itself; these call the exported hooks, not libc. */
static ssize_t cookie_read(void *cookie, char *buf, size_t size)
{
	return read((int)(intptr_t)cookie, buf, size);
}

static ssize_t cookie_write(void *cookie, const char *buf, size_t size)
{
	ssize_t n = write((int)(intptr_t)cookie, buf, size);

	/* glibc's cookie contract: 0 written is an error, not "try again". */
	return n < 0 ? 0 : n;
}

static int cookie_close(void *cookie)
{
	return close((int)(intptr_t)cookie);
}

SHIM_EXPORT FILE *fdopen(int fd, const char *mode)
{
	static const cookie_io_functions_t io = {
		.read = cookie_read,
		.write = cookie_write,
		.seek = NULL,		/* a socket does not seek: ESPIPE, as before */
		.close = cookie_close,
	};
	struct shim_conn *c = fdtable_get(fd);
	FILE *f;

	if (SHIM_LIKELY(!c) || shim_busy)
		return SHIM_REAL(fdopen)(fd, mode);
	conn_for_stdio(c);
	/* Blocking: to the end.  Non-blocking: one step, then EAGAIN (it cannot wait here). */
	if (shim_state(c) == SHIM_HANDSHAKE && conn_before_io(c) < 0)
		return NULL;
	f = fopencookie((void *)(intptr_t)fd, mode, io);
	if (f)
		f->_fileno = fd;	/* fileno() answers the socket, as for any fdopen'd FILE */
	return f;
}
