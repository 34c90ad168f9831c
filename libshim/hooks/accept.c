/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * accept, accept4: a connection on a listener that an [accept ...] rule
 * names becomes a TLS server connection before the program sees it.  The
 * handshake itself waits for the program's first read or write (see
 * core/conn.c), so accept() returns as fast as it always did and one slow
 * client never holds up the next.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

static int on_accepted(int lfd, int fd)
{
	struct sockaddr_storage local, peer;
	socklen_t len = sizeof(local);
	const struct shim_rule *r;
	struct shim_conn *stale;
	int err, was;

	if (fd < 0 || shim_busy)
		return fd;
	/* The number may have been an fd libc closed behind our back. */
	stale = fdtable_get(fd);
	if (stale)
		conn_forget(fd, stale);
	if (!shim_conf || !shim_conf->n_accept)
		return fd;
	was = shim_enter();
	if (getsockname(lfd, (struct sockaddr *)&local, &len) < 0) {
		shim_leave(was);
		return fd;
	}
	r = shim_conf_match_accept(shim_conf, (struct sockaddr *)&local);
	shim_leave(was);
	if (!r || r->plaintext)
		return fd;
	len = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
		memset(&peer, 0, sizeof(peer));
	if (conn_attach(fd, r, true, NULL, (struct sockaddr *)&peer) == 0)
		return fd;
	/* Never hand the program a connection its rule says must be TLS but is not. */
	err = errno;
	shim_log(LOG_ERR, "refusing a connection on [accept %s]: %s", r->spec, strerror(err));
	SHIM_REAL(close)(fd);
	errno = ECONNABORTED;	/* accept(2) callers retry on it */
	return -1;
}

SHIM_EXPORT int accept(int lfd, struct sockaddr *addr, socklen_t *alen)
{
	return on_accepted(lfd, SHIM_REAL(accept)(lfd, addr, alen));
}

SHIM_EXPORT int accept4(int lfd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	return on_accepted(lfd, SHIM_REAL(accept4)(lfd, addr, alen, flags));
}
