/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * write, writev, send, sendto, sendmsg: on a ready connection straight to
 * the kernel, which encrypts.  While the handshake still runs, a blocking
 * call finishes it first; a non-blocking one takes a step and, if the
 * handshake still waits for the peer, keeps the bytes (up to
 * SHIM_PENDING_MAX) to send the moment it is done, so a server that speaks
 * first (a banner) or a client that writes its request at once both work.
 * The bytes are never sent in plaintext: a failed handshake discards them.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

int gate_write(struct shim_conn *c, const struct iovec *iov, int iovcnt, ssize_t *ret)
{
	ssize_t n, total = 0;
	int r, i;

	r = conn_before_io(c);
	if (r >= 0)
		return 1;	/* ready, or the peer closed its half: ours is still open */
	if (errno != EAGAIN || !iov || shim_state(c) != SHIM_HANDSHAKE) {
		*ret = -1;
		return 0;
	}
	for (i = 0; i < iovcnt; i++) {
		if (!iov[i].iov_len)
			continue;
		n = conn_buffer_write(c, iov[i].iov_base, iov[i].iov_len);
		if (n < 0)
			break;
		total += n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	*ret = total ? total : -1;	/* errno is EAGAIN from the buffer when nothing fit */
	if (!total && iov_total(iov, iovcnt) == 0)
		*ret = 0;
	return 0;
}

/* One buffer: kept during the handshake if need be; 1 when the caller makes the real call. */
static int gate_buf(struct shim_conn *c, const void *buf, size_t len, ssize_t *n)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	if (shim_busy)
		return 1;
	return gate_write(c, &iov, 1, n);
}

/*
 * Each hook: one lookup and one state load, then the real call.  Only a
 * connection still in its handshake (or failed) goes through the gate.
 */
static SHIM_COLD ssize_t write_slow(struct shim_conn *c, int fd, const void *buf, size_t len)
{
	ssize_t n;

	return gate_buf(c, buf, len, &n) ? SHIM_REAL(write)(fd, buf, len) : n;
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct shim_conn *c = fdtable_get(fd);

	if (SHIM_LIKELY(!c) || SHIM_LIKELY(shim_state(c) == SHIM_READY))
		return SHIM_REAL(write)(fd, buf, len);
	return write_slow(c, fd, buf, len);
}

static int gate_iov(struct shim_conn *c, const struct iovec *iov, int iovcnt, ssize_t *n)
{
	if (shim_busy)
		return 1;
	return gate_write(c, iovcnt > 0 ? iov : NULL, iovcnt, n);
}

static SHIM_COLD ssize_t writev_slow(struct shim_conn *c, int fd, const struct iovec *iov,
				     int iovcnt)
{
	ssize_t n;

	return gate_iov(c, iov, iovcnt, &n) ? SHIM_REAL(writev)(fd, iov, iovcnt) : n;
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct shim_conn *c = fdtable_get(fd);

	if (SHIM_LIKELY(!c) || SHIM_LIKELY(shim_state(c) == SHIM_READY))
		return SHIM_REAL(writev)(fd, iov, iovcnt);
	return writev_slow(c, fd, iov, iovcnt);
}

static SHIM_COLD ssize_t send_slow(struct shim_conn *c, int fd, const void *buf, size_t len,
				   int flags)
{
	ssize_t n;

	return gate_buf(c, buf, len, &n) ? SHIM_REAL(send)(fd, buf, len, flags) : n;
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct shim_conn *c = fdtable_get(fd);

	if (SHIM_LIKELY(!c) || SHIM_LIKELY(shim_state(c) == SHIM_READY))
		return SHIM_REAL(send)(fd, buf, len, flags);
	return send_slow(c, fd, buf, len, flags);
}

static SHIM_COLD ssize_t sendto_slow(struct shim_conn *c, int fd, const void *buf, size_t len,
				     int flags, const struct sockaddr *addr, socklen_t alen)
{
	ssize_t n;

	return gate_buf(c, buf, len, &n) ? SHIM_REAL(sendto)(fd, buf, len, flags, addr, alen) : n;
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *addr, socklen_t alen)
{
	struct shim_conn *c = fdtable_get(fd);

	if (SHIM_LIKELY(!c) || SHIM_LIKELY(shim_state(c) == SHIM_READY))
		return SHIM_REAL(sendto)(fd, buf, len, flags, addr, alen);
	return sendto_slow(c, fd, buf, len, flags, addr, alen);
}

static SHIM_COLD ssize_t sendmsg_slow(struct shim_conn *c, int fd, const struct msghdr *msg,
				      int flags)
{
	bool plain = msg && !msg->msg_controllen;
	ssize_t n;

	/* Control data (ancillary messages) cannot wait for later: only plain bytes are kept. */
	if (gate_iov(c, plain ? msg->msg_iov : NULL, plain ? (int)msg->msg_iovlen : 0, &n))
		return SHIM_REAL(sendmsg)(fd, msg, flags);
	return n;
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct shim_conn *c = fdtable_get(fd);

	if (SHIM_LIKELY(!c) || SHIM_LIKELY(shim_state(c) == SHIM_READY))
		return SHIM_REAL(sendmsg)(fd, msg, flags);
	return sendmsg_slow(c, fd, msg, flags);
}
