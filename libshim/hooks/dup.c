/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dup, dup2, dup3: the copy refers to the same socket, so to the same TLS
 * connection.  dup2/dup3 onto a number that was a connection close that
 * one first, as the kernel does.
 */
#include <unistd.h>
#include <fcntl.h>

#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

static int copied(int oldfd, int newfd)
{
	struct shim_conn *c;

	if (newfd < 0 || shim_busy)
		return newfd;
	c = fdtable_get(oldfd);
	if (c)
		conn_dup(c, newfd);
	return newfd;
}

/* newfd is about to be replaced: its connection (if any) loses that fd. */
static void replaced(int oldfd, int newfd)
{
	struct shim_conn *c;

	if (oldfd == newfd || shim_busy)
		return;
	c = fdtable_take(newfd);
	if (c)
		conn_release(newfd, c);
}

SHIM_EXPORT int dup(int oldfd)
{
	return copied(oldfd, SHIM_REAL(dup)(oldfd));
}

SHIM_EXPORT int dup2(int oldfd, int newfd)
{
	int ret;

	if (fcntl(oldfd, F_GETFD) < 0)
		return SHIM_REAL(dup2)(oldfd, newfd);	/* EBADF, from libc */
	replaced(oldfd, newfd);
	ret = SHIM_REAL(dup2)(oldfd, newfd);
	return oldfd == newfd ? ret : copied(oldfd, ret);
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (oldfd != newfd && fcntl(oldfd, F_GETFD) >= 0)
		replaced(oldfd, newfd);
	return copied(oldfd, SHIM_REAL(dup3)(oldfd, newfd, flags));
}
