/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "pair.h"

static int listener = -1;
static struct sockaddr_in listen_addr;

static void listen_once(void)
{
	socklen_t alen = sizeof(listen_addr);

	listen_addr.sin_family = AF_INET;
	listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(listener >= 0);
	FUZZ_CHECK(bind(listener, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) == 0);
	FUZZ_CHECK(listen(listener, 16) == 0);
	FUZZ_CHECK(getsockname(listener, (struct sockaddr *)&listen_addr, &alen) == 0);
}

/* poll() that a signal does not end: libFuzzer's timeout alarm fires every few seconds. */
static int poll_on(struct pollfd *pfd, nfds_t n, int wait_ms)
{
	int ret;

	do
		ret = poll(pfd, n, wait_ms);
	while (ret < 0 && errno == EINTR);
	return ret;
}

void fuzz_tcp_pair(int fds[2])
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int one = 1, err = 0, i;

	if (listener < 0)
		listen_once();
	/* Non-blocking from the start: a blocking connect() ends with EINTR on that alarm. */
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	FUZZ_CHECK(fds[0] >= 0);
	if (connect(fds[0], (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0) {
		FUZZ_CHECK(errno == EINPROGRESS || errno == EINTR);
		pfd.fd = fds[0];
		pfd.events = POLLOUT;
		FUZZ_CHECK(poll_on(&pfd, 1, 10000) == 1);
		FUZZ_CHECK(getsockopt(fds[0], SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0);
	}
	do
		fds[1] = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	while (fds[1] < 0 && errno == EINTR);
	FUZZ_CHECK(fds[1] >= 0);
	for (i = 0; i < 2; i++)
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void fuzz_handshake_both(struct handoff *c, struct handoff *s, int fds[2], int wait_ms)
{
	struct pollfd pfd[2] = { { .fd = fds[0] }, { .fd = fds[1] } };
	int rc = 1, rs = 1;

	for (;;) {
		if (rc != 0)
			rc = handoff_handshake(c);
		if (rs != 0)
			rs = handoff_handshake(s);
		if (rc == -1 || rs == -1) {
			fprintf(stderr, "fuzz set-up: handshake failed: client: %s / server: %s\n",
				rc == -1 ? handoff_error(c) : "ok", rs == -1 ? handoff_error(s) : "ok");
			abort();
		}
		if (rc == 0 && rs == 0)
			return;
		pfd[0].events = rc == HANDOFF_WANT_POLLOUT ? POLLOUT : rc ? POLLIN : 0;
		pfd[1].events = rs == HANDOFF_WANT_POLLOUT ? POLLOUT : rs ? POLLIN : 0;
		FUZZ_CHECK(poll_on(pfd, 2, wait_ms) > 0);
	}
}

void *fuzz_drain(void *arg)
{
	int fd = *(int *)arg;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	unsigned char buf[4096];
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return NULL;
		if (n < 0 && poll_on(&pfd, 1, -1) < 0)
			return NULL;
	}
}

void fuzz_close_pair(int fds[2])
{
	struct linger no_linger = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fds[0], SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
	setsockopt(fds[1], SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
	close(fds[0]);
	close(fds[1]);
}

struct handoff_config *fuzz_psk_config(unsigned protocols, struct handoff_cache *cache, int wait_ms)
{
	static const uint8_t psk_key[32] = "fuzz-psk-fuzz-psk-fuzz-psk-fuzz";
	struct handoff_config *cfg = handoff_config_new();

	FUZZ_CHECK(cfg);
	FUZZ_CHECK(handoff_config_set_psk(cfg, "fuzz", psk_key, sizeof(psk_key)) == 0);
	FUZZ_CHECK(handoff_config_set_protocols(cfg, protocols) == 0);
	handoff_config_set_handshake_timeout(cfg, (unsigned)wait_ms);
	if (cache)
		handoff_config_set_session_cache(cfg, cache);
	return cfg;
}
