/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * connect: a TCP connection to a destination that a [connect ...] rule
 * names becomes a TLS client connection.  The name sent as SNI and
 * verified is the one the program itself resolved (hooks/resolve.c), or
 * the rule's servername; a bare address is verified only where the rule
 * says verify-address, and otherwise the connect is refused, never
 * quietly left unverified.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

static void addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = sa->sa_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)sa)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;

	if (!inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t salen)
{
	const struct shim_rule *r;
	char name[256], addr[64];
	const char *servername;
	bool named;
	int type, ret, err, was;
	socklen_t tlen = sizeof(type);

	/*
	 * A socket already ours is being connected again (EALREADY / EISCONN
	 * polling); socket() cleared any stale entry when the fd was made.
	 */
	if (shim_busy || !shim_conf || !shim_conf->n_connect || !sa || fdtable_get(fd) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return SHIM_REAL(connect)(fd, sa, salen);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM)
		return SHIM_REAL(connect)(fd, sa, salen);
	named = names_lookup(sa, name, sizeof(name));
	was = shim_enter();
	r = shim_conf_match_connect(shim_conf, sa, named ? name : NULL);
	shim_leave(was);
	if (!r || r->plaintext)
		return SHIM_REAL(connect)(fd, sa, salen);

	addr_text(sa, addr, sizeof(addr));
	servername = r->servername ? r->servername : named ? name : NULL;
	if (!servername && r->verify_address)
		servername = addr;
	if (!servername) {
		shim_log(LOG_ERR, "refusing connect to %s under [connect %s]: the program did not "
				  "resolve a name for it, so there is none to verify (set servername, "
				  "or verify-address = yes to check the address itself)", addr, r->spec);
		errno = EACCES;
		return -1;
	}
	ret = SHIM_REAL(connect)(fd, sa, salen);
	err = errno;
	/* EINTR: the connect goes on in the background; the socket is ours all the same. */
	if (ret < 0 && err != EINPROGRESS && err != EINTR)
		return ret;
	if (conn_attach(fd, r, false, servername, sa) < 0) {
		err = errno;
		shim_log(LOG_ERR, "refusing connect to %s (%s): %s", addr, servername, strerror(err));
		SHIM_REAL(shutdown)(fd, SHUT_RDWR);
		errno = ECONNABORTED;
		return -1;
	}
	errno = err;
	return ret;
}
