/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sendfile and splice into a TLS connection: once ready, the kernel
 * encrypts the pages itself, so the program's zero-copy path stays one.
 * Before that, a blocking call finishes the handshake first; a non-blocking
 * one says EAGAIN (a file range cannot be kept for later like bytes).
 */
#include <sys/sendfile.h>
#include <fcntl.h>

#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

SHIM_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	struct shim_conn *c = shim_conn_of(out_fd);
	ssize_t n;

	if (SHIM_LIKELY(!c) || SHIM_LIKELY(shim_state(c) == SHIM_READY))
		return SHIM_REAL(sendfile)(out_fd, in_fd, offset, count);
	if (!gate_write(c, NULL, 0, &n))
		return n;
	return SHIM_REAL(sendfile)(out_fd, in_fd, offset, count);
}

/* On 64-bit glibc the two are one function; the 64 name may be missing elsewhere. */
static ssize_t real_sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	shim_real_resolve();
	if (shim_real.sendfile64)
		return shim_real.sendfile64(out_fd, in_fd, offset, count);
	return shim_real.sendfile(out_fd, in_fd, (off_t *)offset, count);
}

SHIM_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	struct shim_conn *c = shim_conn_of(out_fd);
	ssize_t n;

	if (SHIM_LIKELY(!c) || SHIM_LIKELY(shim_state(c) == SHIM_READY))
		return real_sendfile64(out_fd, in_fd, offset, count);
	if (!gate_write(c, NULL, 0, &n))
		return n;
	return real_sendfile64(out_fd, in_fd, offset, count);
}

SHIM_EXPORT ssize_t splice(int fd_in, off64_t *off_in, int fd_out, off64_t *off_out, size_t len,
			   unsigned int flags)
{
	struct shim_conn *in = shim_conn_of(fd_in), *out = shim_conn_of(fd_out);
	ssize_t n;

	if (SHIM_LIKELY(!in && !out))
		return SHIM_REAL(splice)(fd_in, off_in, fd_out, off_out, len, flags);
	if (out && shim_state(out) != SHIM_READY && !gate_write(out, NULL, 0, &n))
		return n;
	if (!in)
		return SHIM_REAL(splice)(fd_in, off_in, fd_out, off_out, len, flags);
	do {
		if (!gate_read(in, &n))
			return n;
		n = SHIM_REAL(splice)(fd_in, off_in, fd_out, off_out, len, flags);
	} while (again_read(in, fd_in, &n, len));
	return n;
}
