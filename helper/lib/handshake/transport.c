/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "handshake/transport.h"

void transport_init(struct transport *t, int fd)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	t->nonblock = -1;
}

void transport_pin_mode(struct transport *t)
{
	int fl = fcntl(t->fd, F_GETFL);

	t->nonblock = fl < 0 ? -1 : !!(fl & O_NONBLOCK);
}

void transport_unpin_mode(struct transport *t)
{
	t->nonblock = -1;
}

void transport_attach(struct transport *t, gnutls_session_t session)
{
	gnutls_transport_set_ptr(session, t);
	gnutls_transport_set_pull_function(session, transport_pull);
	gnutls_transport_set_push_function(session, transport_push);
	gnutls_transport_set_vec_push_function(session, transport_push_vec);
	gnutls_transport_set_pull_timeout_function(session, transport_pull_timeout);
}

int transport_mid_record(const struct transport *t)
{
	return t->header_got != 0 || t->body_left != 0;
}

/*
 * GnuTLS asks for as much as its buffer holds.  We hand it at most the rest
 * of the record it is in, so the kernel socket buffer keeps everything that
 * follows the last handshake record.
 */
ssize_t transport_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct transport *t = ptr;
	size_t want;
	ssize_t n;

	if (t->body_left == 0)
		want = TRANSPORT_RECORD_HEADER - t->header_got;
	else
		want = t->body_left;
	if (want > len)
		want = len;

	do
		n = recv(t->fd, buf, want, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n;	/* GnuTLS takes errno (EAGAIN ...) as it is */

	if (t->body_left == 0) {
		memcpy(t->header + t->header_got, buf, (size_t)n);
		t->header_got += (size_t)n;
		if (t->header_got == TRANSPORT_RECORD_HEADER) {
			t->body_left = ((size_t)t->header[3] << 8) | t->header[4];
			t->header_got = 0;
		}
	} else {
		t->body_left -= (size_t)n;
	}
	return n;
}

ssize_t transport_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
	struct transport *t = ptr;
	ssize_t n;

	do
		n = send(t->fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

/*
 * A whole flight (ServerHello ... Finished, or a server's Finished-side
 * tickets and close_notify) in one send.  Record by record, the second
 * small segment waits behind Nagle for the peer's delayed ACK: 40 ms per
 * connection on loopback, which made our server's handshakes a tenth as
 * fast as gnutls-serv's under load (tests/bench).
 */
ssize_t transport_push_vec(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
	struct transport *t = ptr;
	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	ssize_t n;

	do
		n = sendmsg(t->fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

/*
 * GnuTLS calls this before a pull when a handshake timeout is set, with the
 * time left, whatever the fd's mode.  On a non-blocking fd waiting here
 * would stall a caller that is driving many connections from one poll
 * loop: say "readable" and let recv() answer EAGAIN instead (the caller's
 * deadline is enforced in core/conn.c).
 */
int transport_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	struct transport *t = ptr;
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
	int timeout = ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms;
	int ret, fl;

	if (t->nonblock == 1)
		return 1;
	if (t->nonblock < 0) {
		fl = fcntl(t->fd, F_GETFL);
		if (fl >= 0 && (fl & O_NONBLOCK))
			return 1;
	}

	do
		ret = poll(&pfd, 1, timeout);
	while (ret < 0 && errno == EINTR);
	return ret;
}

bool transport_retry_again(int fd, unsigned *tries)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || (fl & O_NONBLOCK))
		return false;
	return (*tries)++ < TRANSPORT_MAX_RETRIES;
}
