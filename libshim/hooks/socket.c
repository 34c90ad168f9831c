/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * socket: a new socket is nobody's connection yet.  If libc closed an
 * earlier connection's fd without close() (fclose on an fdopen'd
 * socket), its entry is still in the table; the new number clears it.
 */
#include <sys/socket.h>

#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

SHIM_EXPORT int socket(int domain, int type, int protocol)
{
	int fd = SHIM_REAL(socket)(domain, type, protocol);
	struct shim_conn *stale = fd >= 0 ? fdtable_get(fd) : NULL;

	if (__builtin_expect(stale != NULL, 0))
		conn_forget(fd, stale);
	return fd;
}
