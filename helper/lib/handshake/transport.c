/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "handshake/transport.h"

#define TRANSPORT_CONTENT_HANDSHAKE 22
/* The longest TLS 1.2 record body (RFC 5246 6.2.3); GnuTLS refuses longer ones itself. */
#define TRANSPORT_MAX_BODY (16384 + 2048)

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

void transport_release(struct transport *t)
{
	free(t->held);
	t->held = NULL;
	t->held_len = t->held_want = 0;
	t->held_ready = false;
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
 * On a blocking fd, wait for bytes no later than the handshake's deadline.
 * GnuTLS's own handshake timeout bounds each wait, not the sum of them: a
 * peer that sends one byte now and then (a slowloris) held our handshake
 * open for as long as it liked (tests/interop/hostile.sh).  0 when bytes
 * are there or the fd does not block, -1 with ETIMEDOUT at the deadline.
 */
static int wait_until_deadline(struct transport *t)
{
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
	struct timespec now;
	long long ms;
	int ret, fl;

	if (!t->deadline.tv_sec && !t->deadline.tv_nsec)
		return 0;
	if (t->nonblock == 1)
		return 0;
	if (t->nonblock < 0) {
		fl = fcntl(t->fd, F_GETFL);
		if (fl < 0 || (fl & O_NONBLOCK))
			return 0;
	}
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (long long)(t->deadline.tv_sec - now.tv_sec) * 1000 +
		     (t->deadline.tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			break;
		ret = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR)
			return 0;	/* let recv() report it */
	}
	t->timed_out = true;
	errno = ETIMEDOUT;
	return -1;
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

	if (wait_until_deadline(t) < 0)
		return -1;
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
			if (t->body_left == 0)
				t->records++;
		}
	} else {
		t->body_left -= (size_t)n;
		if (t->body_left == 0)
			t->records++;
	}
	return n;
}

static size_t record_length(const uint8_t header[TRANSPORT_RECORD_HEADER])
{
	return ((size_t)header[3] << 8) | header[4];
}

static ssize_t recv_some(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	return n;
}

void transport_hold_tls12(struct transport *t, gnutls_session_t session)
{
	/* The handshake's pull left the stream on a record boundary. */
	t->header_got = t->header_given = t->body_left = 0;
	if (session)	/* NULL in unit tests, which call the pull function themselves */
		gnutls_transport_set_pull_function(session, transport_pull_tls12);
}

const uint8_t *transport_take_held(struct transport *t, size_t *len)
{
	if (!t->held_ready)
		return NULL;
	t->held_ready = false;
	*len = t->held_len;
	t->held_len = 0;
	return t->held;
}

/*
 * One state at a time: a held record being read, a body passing to GnuTLS,
 * a complete header passing to GnuTLS, or a header being gathered.  A
 * blocking fd waits in recv(); on a non-blocking one EAGAIN goes up with
 * the partial header or record kept here, so poll() never sees bytes that
 * are waiting for us.  A FIN inside a header or a held record reads as
 * EOF: GnuTLS then reports the premature end.
 */
ssize_t transport_pull_tls12(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct transport *t = ptr;
	size_t want;
	ssize_t n;

	for (;;) {
		if (t->held_ready) {
			errno = EAGAIN;
			return -1;
		}
		if (t->held_want) {
			n = recv_some(t->fd, t->held + t->held_len, t->held_want - t->held_len);
			if (n <= 0)
				return n;
			t->held_len += (size_t)n;
			if (t->held_len == t->held_want) {
				t->held_want = 0;
				t->held_ready = true;
				t->records++;
			}
			continue;
		}
		if (t->body_left) {
			want = t->body_left < len ? t->body_left : len;
			n = recv_some(t->fd, buf, want);
			if (n <= 0)
				return n;
			t->body_left -= (size_t)n;
			if (t->body_left == 0)
				t->records++;
			return n;
		}
		if (t->header_got == TRANSPORT_RECORD_HEADER) {
			want = TRANSPORT_RECORD_HEADER - t->header_given;
			if (want > len)
				want = len;
			memcpy(buf, t->header + t->header_given, want);
			t->header_given += want;
			if (t->header_given == TRANSPORT_RECORD_HEADER) {
				t->body_left = record_length(t->header);
				t->header_got = t->header_given = 0;
				if (t->body_left == 0)
					t->records++;
			}
			return (ssize_t)want;
		}
		n = recv_some(t->fd, t->header + t->header_got, TRANSPORT_RECORD_HEADER - t->header_got);
		if (n <= 0)
			return n;
		t->header_got += (size_t)n;
		if (t->header_got < TRANSPORT_RECORD_HEADER)
			continue;
		if (t->header[0] != TRANSPORT_CONTENT_HANDSHAKE ||
		    record_length(t->header) > TRANSPORT_MAX_BODY)
			continue;	/* GnuTLS takes it (and refuses an oversized one itself) */
		if (!t->held) {
			t->held = malloc(TRANSPORT_RECORD_HEADER + TRANSPORT_MAX_BODY);
			if (!t->held) {
				errno = ENOMEM;
				return -1;
			}
		}
		memcpy(t->held, t->header, TRANSPORT_RECORD_HEADER);
		t->held_len = TRANSPORT_RECORD_HEADER;
		t->held_want = TRANSPORT_RECORD_HEADER + record_length(t->header);
		t->header_got = 0;
		if (t->held_len == t->held_want) {
			t->held_want = 0;
			t->held_ready = true;
			t->records++;
		}
	}
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
