/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * idleecho - the smallest plaintext echo server that holds many idle
 * connections: one thread, level-triggered epoll, and no state of its own
 * per connection (the fd is all it keeps; reads go through one buffer on
 * the stack).  So whatever user-space memory a connection costs under the
 * shim is the shim's and the engine's, not the program's
 * (tests/bench/idle-shim.sh measures it against the same program plain).
 *
 *   idleecho PORT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLIN }, evs[64];
	int lfd, ep, n, i, fd, one = 1;
	char buf[512];
	ssize_t r;

	if (argc != 2)
		return fprintf(stderr, "usage: idleecho PORT\n"), 2;
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1024) < 0)
		return perror("idleecho: listen"), 1;
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = lfd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		return perror("idleecho: epoll"), 1;
	fprintf(stderr, "listening on 127.0.0.1:%s\n", argv[1]);
	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd == lfd) {
				fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				if (fd < 0)
					continue;
				ev.data.fd = fd;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r > 0 && write(fd, buf, (size_t)r) == r)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			close(fd);
		}
	}
}
