/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * epoll_echo - a small plaintext echo server of the kind the shim must
 * carry unmodified: one thread, edge-triggered epoll, non-blocking sockets,
 * accept4() until EAGAIN, reads until EAGAIN, partial writes buffered.  It
 * knows nothing about TLS; the scripts in tests/shim run it under `handoff run`.
 *
 *   epoll_echo [--banner TEXT] [--addr A] PORT
 *
 * --banner: write TEXT and a newline to every connection right after
 * accept, before reading anything (a server-first protocol).  Every
 * connection's end is reported on stderr with the errno the program saw:
 *   close fd N: eof after B bytes
 *   close fd N: read: Connection reset by peer (errno 104) after B bytes
 * Not a test by itself: built by `make check`, run only inside kTLS kernels.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ (64 * 1024)
#define MAXFD 65536

struct conn {
	int fd;
	size_t len, off;	/* bytes in buf; bytes of them already written */
	unsigned long long total;
	char buf[BUFSZ];
};

static struct conn *conns[MAXFD];
static const char *banner;

static void conn_close(struct conn *c, const char *what, int err)
{
	if (what)
		fprintf(stderr, "close fd %d: %s: %s (errno %d) after %llu bytes\n", c->fd, what,
			strerror(err), err, c->total);
	else
		fprintf(stderr, "close fd %d: eof after %llu bytes\n", c->fd, c->total);
	conns[c->fd] = NULL;
	close(c->fd);
	free(c);
}

/* Flush, then read, until the socket says EAGAIN both ways (edge-triggered). */
static void service(struct conn *c)
{
	ssize_t n;

	for (;;) {
		int progress = 0;

		while (c->off < c->len) {
			n = write(c->fd, c->buf + c->off, c->len - c->off);
			if (n > 0) {
				c->off += (size_t)n;
				progress = 1;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			conn_close(c, "write", n < 0 ? errno : EIO);
			return;
		}
		if (c->off == c->len)
			c->off = c->len = 0;
		while (c->len < BUFSZ) {
			n = read(c->fd, c->buf + c->len, BUFSZ - c->len);
			if (n > 0) {
				c->len += (size_t)n;
				c->total += (unsigned long long)n;
				progress = 1;
				continue;
			}
			if (n == 0) {
				/* Echo what is left (best effort), then close. */
				while (c->off < c->len && (n = write(c->fd, c->buf + c->off, c->len - c->off)) > 0)
					c->off += (size_t)n;
				conn_close(c, NULL, 0);
				return;
			}
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close(c, "read", errno);
			return;
		}
		if (!progress)
			return;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct epoll_event ev, evs[64];
	const char *addr = "127.0.0.1";
	int lfd, ep, one = 1, i, n;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);
	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--banner"))
			banner = argv[++i];
		else if (!strcmp(argv[i], "--addr"))
			addr = argv[++i];
		else
			break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: epoll_echo [--banner TEXT] [--addr A] PORT\n");
		return 2;
	}
	sin.sin_port = htons((unsigned short)atoi(argv[i]));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "epoll_echo: bad address %s\n", addr);
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 512) < 0) {
		perror("epoll_echo: listen");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN | EPOLLET;
	ev.data.fd = lfd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		perror("epoll_echo: epoll");
		return 1;
	}
	printf("listening on %s:%s\n", addr, argv[i]);
	fflush(stdout);
	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("epoll_echo: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				for (;;) {
					int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					struct conn *c;

					if (cfd < 0) {
						if (errno == EINTR || errno == ECONNABORTED) {
							if (errno == ECONNABORTED)
								fprintf(stderr, "accept: %s (errno %d)\n",
									strerror(errno), errno);
							continue;
						}
						if (errno != EAGAIN && errno != EWOULDBLOCK)
							perror("epoll_echo: accept4");
						break;
					}
					if (cfd >= MAXFD || !(c = calloc(1, sizeof(*c)))) {
						close(cfd);
						continue;
					}
					c->fd = cfd;
					conns[cfd] = c;
					if (banner) {
						c->len = (size_t)snprintf(c->buf, BUFSZ, "%s\n", banner);
					}
					ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
					ev.data.fd = cfd;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev) < 0) {
						conn_close(c, "epoll_ctl", errno);
						continue;
					}
					service(c);
				}
				continue;
			}
			if (fd >= 0 && fd < MAXFD && conns[fd])
				service(conns[fd]);
		}
	}
}
