/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What connect and serve do alike once the handshake is done: report it,
 * and move bytes over it until both sides are finished.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"

#define RELAY_BUF 16384

void cli_summary(struct handoff *h, const char *peer)
{
	const char *v;

#define OR_NONE(x) ((v = (x)) ? v : "(none)")
	fprintf(stderr, "handoff: TLS session with %s\n", peer);
	fprintf(stderr, "  protocol: %s\n", OR_NONE(handoff_conn_version(h)));
	fprintf(stderr, "  cipher: %s\n", OR_NONE(handoff_conn_cipher(h)));
	fprintf(stderr, "  kTLS: %s\n", handoff_conn_ktls(h) ? "yes" :
		"no (user-space fallback: plain read/write on the socket are not TLS)");
	fprintf(stderr, "  resumed: %s\n", handoff_conn_resumed(h) ? "yes" : "no");
	fprintf(stderr, "  ALPN: %s\n", OR_NONE(handoff_conn_alpn(h)));
	fprintf(stderr, "  server name: %s\n", OR_NONE(handoff_conn_servername(h)));
	fprintf(stderr, "  peer certificate: %s\n", OR_NONE(handoff_conn_peer_subject(h)));
	fprintf(stderr, "  PSK identity: %s\n", OR_NONE(handoff_conn_psk_identity(h)));
#undef OR_NONE
}

int cli_set_nonblock(int fd, int on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags);
}

/* Wait for fd to become ready for what handoff asked for. */
static int wait_for(int fd, int want, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd };
	int r;

	pfd.events = want == HANDOFF_WANT_POLLOUT ? POLLOUT : POLLIN;
	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	return r;
}

int cli_write_all(struct handoff *h, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = handoff_write(h, p, len);
		if (n == HANDOFF_WANT_POLLIN || n == HANDOFF_WANT_POLLOUT) {
			if (wait_for(handoff_conn_fd(h), (int)n, -1) < 0)
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t cli_read(struct handoff *h, void *buf, size_t len)
{
	ssize_t n;

	while ((n = handoff_read(h, buf, len)) == HANDOFF_WANT_POLLIN ||
	       n == HANDOFF_WANT_POLLOUT) {
		if (wait_for(handoff_conn_fd(h), (int)n, -1) < 0)
			return -1;
	}
	return n;
}

int cli_fd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void tls_error(struct handoff *h, const char *what)
{
	const char *why = handoff_error(h);

	fprintf(stderr, "handoff: %s: %s\n", what, why ? why : strerror(errno));
}

/* close_notify, then our FIN: the peer reads a clean end of our data. */
static void send_close(struct handoff *h)
{
	int r, tries = 0;

	while ((r = handoff_close(h)) == HANDOFF_WANT_POLLOUT ||
	       r == HANDOFF_WANT_POLLIN) {
		if (++tries > 100 || wait_for(handoff_conn_fd(h), r, 1000) <= 0)
			break;
	}
	shutdown(handoff_conn_fd(h), SHUT_WR);
}

int cli_relay(struct handoff *h, int in_fd, int out_fd, int stop_on_peer_eof)
{
	char *buf;
	struct pollfd pfd[2];
	int fd = handoff_conn_fd(h);
	int in_open = 1, peer_open = 1, try_peer = 1, ret = -1;
	ssize_t n;

	buf = malloc(RELAY_BUF);
	if (!buf) {
		fprintf(stderr, "handoff: out of memory\n");
		return -1;
	}
	/*
	 * Non-blocking, so that handoff_read drains whatever GnuTLS already
	 * buffered (user-space fallback) until it says WANT_POLLIN: poll(2)
	 * alone cannot see data that has left the socket already.
	 */
	if (cli_set_nonblock(fd, 1) < 0) {
		fprintf(stderr, "handoff: fcntl: %s\n", strerror(errno));
		goto out;
	}
	while (peer_open || (in_open && !stop_on_peer_eof)) {
		while (peer_open && try_peer) {
			n = handoff_read(h, buf, RELAY_BUF);
			if (n == HANDOFF_WANT_POLLIN || n == HANDOFF_WANT_POLLOUT) {
				try_peer = 0;
			} else if (n < 0) {
				tls_error(h, "read from peer");
				goto out;
			} else if (n == 0) {
				peer_open = 0;
				shutdown(out_fd, SHUT_WR);	/* ENOTSOCK for a pipe: fine */
			} else if (cli_fd_write_all(out_fd, buf, (size_t)n) < 0) {
				fprintf(stderr, "handoff: write: %s\n", strerror(errno));
				goto out;
			}
		}
		if (!peer_open && (stop_on_peer_eof || !in_open))
			break;

		pfd[0] = (struct pollfd){ .fd = peer_open ? fd : -1, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = in_open ? in_fd : -1, .events = POLLIN };
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "handoff: poll: %s\n", strerror(errno));
			goto out;
		}
		if (pfd[0].revents)
			try_peer = 1;
		if (pfd[1].revents) {
			n = read(in_fd, buf, RELAY_BUF);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0) {
				fprintf(stderr, "handoff: read: %s\n", strerror(errno));
				goto out;
			}
			if (n == 0) {
				in_open = 0;
				send_close(h);
				continue;
			}
			/* Even after the peer's close_notify: TLS 1.3 allows half-close. */
			if (cli_write_all(h, buf, (size_t)n) < 0) {
				tls_error(h, "write to peer");
				goto out;
			}
		}
	}
	if (in_open)
		send_close(h);
	ret = 0;
out:
	explicit_bzero(buf, RELAY_BUF);
	free(buf);
	return ret;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000L + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

void cli_finish(struct handoff *h, unsigned timeout_ms)
{
	char buf[4096];
	struct timespec t0;
	int fd = handoff_conn_fd(h);
	long left;
	ssize_t n;

	/* A peer that never closes must not hold us for a whole handshake timeout. */
	if (!timeout_ms || timeout_ms > 5000)
		timeout_ms = 5000;
	send_close(h);
	if (cli_set_nonblock(fd, 1) < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		n = handoff_read(h, buf, sizeof(buf));
		if (n == HANDOFF_WANT_POLLIN || n == HANDOFF_WANT_POLLOUT) {
			left = (long)timeout_ms - ms_since(&t0);
			if (left <= 0 || wait_for(fd, (int)n, (int)left) <= 0)
				break;
			continue;
		}
		if (n <= 0)
			break;	/* the peer's close_notify, or it just went away */
	}
	explicit_bzero(buf, sizeof(buf));
}
