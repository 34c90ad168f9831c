/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every read-like and write-like hook does around its real call on a
 * shim connection.  The fast path (not ours, or ours and ready) never
 * comes here beyond one state load.
 */
#ifndef SHIM_HOOKS_GATE_H
#define SHIM_HOOKS_GATE_H

#include <errno.h>
#include <sys/uio.h>

#include "core/fdtable.h"
#include "core/shim.h"

#define SHIM_LIKELY(x) __builtin_expect(!!(x), 1)
#define SHIM_UNLIKELY(x) __builtin_expect(!!(x), 0)

/*
 * Out of line, so that a hook's fast path (an fd that is not ours) needs
 * no stack frame of its own.  SHIM_SLOW also carries every read of our own
 * connections; SHIM_COLD is for what only handshakes reach.
 */
#define SHIM_SLOW __attribute__((noinline))
#define SHIM_COLD __attribute__((noinline, cold))

/* The connection a hook acts on, or NULL to pass straight through. */
static inline struct shim_conn *shim_conn_of(int fd)
{
	struct shim_conn *c = fdtable_get(fd);

	if (SHIM_LIKELY(!c) || shim_busy)
		return (struct shim_conn *)0;
	return c;
}

/*
 * Before a read: true to make the real call; false with *ret set (0 at
 * the end of the stream, -1 with errno) to return without it.
 */
static inline int gate_read(struct shim_conn *c, ssize_t *ret)
{
	int r;

	if (SHIM_LIKELY(shim_state(c) == SHIM_READY))
		return 1;
	r = conn_before_io(c);
	if (r == 0)
		return 1;
	*ret = r == 1 ? 0 : -1;
	return 0;
}

/*
 * After a read returned *ret: true to make the real call again (a
 * non-data record was dealt with, or an empty record skipped); false to
 * return *ret, which may now be 0 (close_notify) or -1 with errno.
 */
static inline int again_read(struct shim_conn *c, int fd, ssize_t *ret, size_t asked)
{
	int r;

	if (SHIM_LIKELY(*ret > 0) || (*ret == 0 && asked == 0))
		return 0;
	if (*ret < 0 && errno != EIO) {
		if (SHIM_UNLIKELY(errno == EBADMSG || errno == EMSGSIZE))
			conn_record_error(c, errno);
		return 0;
	}
	r = conn_after_read(c, fd, *ret);
	if (r == 0)
		return 1;
	*ret = r == 1 ? 0 : -1;
	return 0;
}

/*
 * Before a write: true to make the real call; false with *ret set to
 * return without it (bytes kept for after the handshake, or -1 with
 * errno).  iov may be NULL when the call cannot be kept (sendfile).
 */
int gate_write(struct shim_conn *c, const struct iovec *iov, int iovcnt, ssize_t *ret);

static inline size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;
	int i;

	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	return total;
}

#endif
