/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * close, shutdown, close_range.  The table entry goes before the real
 * close (once the number is free another thread may get it back).
 * Closing the last fd of a ready connection sends close_notify, as does
 * shutdown(SHUT_WR / SHUT_RDWR): the peer can tell the end from a cut.
 */
#include <errno.h>
#include <linux/close_range.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

SHIM_EXPORT int close(int fd)
{
	struct shim_conn *c = fdtable_take(fd);

	if (__builtin_expect(c != NULL, 0)) {
		if (shim_busy)
			conn_forget(fd, c);
		else
			conn_release(fd, c);
	}
	return SHIM_REAL(close)(fd);
}

SHIM_EXPORT int shutdown(int fd, int how)
{
	struct shim_conn *c = shim_conn_of(fd);

	if (c && (how == SHUT_WR || how == SHUT_RDWR))
		conn_close_notify(c);
	return SHIM_REAL(shutdown)(fd, how);
}

SHIM_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	struct shim_conn *c;
	unsigned int fd;

	shim_real_resolve();
	if (!SHIM_REAL(close_range)) {
		errno = ENOSYS;
		return -1;
	}
	/* CLOEXEC only marks them: they close at exec, where the table goes anyway. */
	if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		for (fd = first; fd <= last && fd < shim_fdtable_size; fd++) {
			c = fdtable_take((int)fd);
			if (c)
				conn_release((int)fd, c);
		}
	}
	return shim_real.close_range(first, last, flags);
}
