/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoff connect HOST:PORT - a TLS client in the spirit of openssl s_client:
 * connect, handshake, hand the keys to the kernel, report what was
 * negotiated, then relay stdin to the server and the server to stdout.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "commands.h"
#include "options.h"
#include "relay.h"

enum {
	OPT_RECONNECT = CLI_OPT_CMD_BASE,
	OPT_PRINT_ONLY,
};

static const struct option connect_options[] = {
	{ "reconnect", required_argument, NULL, OPT_RECONNECT },
	{ "print-only", no_argument, NULL, OPT_PRINT_ONLY },
	{ NULL, 0, NULL, 0 },
};

static const char connect_usage[] =
	"usage: handoff connect [OPTIONS] HOST:PORT\n"
	"  HOST is a name, an IPv4 address or [IPv6]; the handshake summary goes\n"
	"  to stderr, then stdin is sent to the server and its data written to stdout.\n"
	"  --reconnect N           then connect N more times, resuming the session\n"
	"  --print-only            handshake, print the summary, close";

struct connect_opts {
	unsigned reconnect;
	int print_only;
};

static int connect_option(void *ctx, int opt, const char *arg)
{
	struct connect_opts *o = ctx;
	char *end;
	unsigned long v;

	switch (opt) {
	case OPT_RECONNECT:
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || v > 1000 || arg[0] == '-') {
			fprintf(stderr, "handoff: --reconnect %s: not a count (0-1000)\n", arg);
			return -1;
		}
		o->reconnect = (unsigned)v;
		return 0;
	case OPT_PRINT_ONLY:
		o->print_only = 1;
		return 0;
	}
	return -1;
}

/*
 * Split HOST:PORT or [V6]:PORT in place.  A bare IPv6 address has colons of
 * its own, so it must be bracketed to carry a port.
 */
static int split_hostport(char *s, char **host, char **port)
{
	char *colon;

	if (s[0] == '[') {
		char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':' || !rb[2])
			return -1;
		*rb = '\0';
		*host = s + 1;
		*port = rb + 2;
		return **host ? 0 : -1;
	}
	colon = strrchr(s, ':');
	if (!colon || colon == s || !colon[1] || strchr(s, ':') != colon)
		return -1;
	*colon = '\0';
	*host = s;
	*port = colon + 1;
	return 0;
}

static void describe(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
	char h[NI_MAXHOST], p[NI_MAXSERV];

	if (getnameinfo(sa, len, h, sizeof(h), p, sizeof(p), NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(out, outlen, "?");
		return;
	}
	snprintf(out, outlen, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, p);
}

/* A non-blocking connect bounded by the handshake timeout, then blocking again. */
static int try_connect(const struct addrinfo *ai, unsigned timeout_ms)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0, r;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto err_fd;
		}
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		do {
			r = poll(&pfd, 1, timeout_ms ? (int)timeout_ms : -1);
		} while (r < 0 && errno == EINTR);
		if (r == 0) {
			err = ETIMEDOUT;
			goto err_fd;
		}
		if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
			err = errno;
			goto err_fd;
		}
		if (err)
			goto err_fd;
	}
	if (cli_set_nonblock(fd, 0) < 0) {
		err = errno;
		goto err_fd;
	}
	return fd;

err_fd:
	close(fd);
	return -err;
}

static int dial(const char *host, const char *port, unsigned timeout_ms,
		char *peer, size_t peerlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res, *ai;
	int fd = -1, gai;

	gai = getaddrinfo(host, port, &hints, &res);
	if (gai == EAI_NONAME || gai == EAI_ADDRFAMILY) {
		/* AI_ADDRCONFIG hides ::1 on a host whose only address is loopback. */
		hints.ai_flags = 0;
		gai = getaddrinfo(host, port, &hints, &res);
	}
	if (gai) {
		fprintf(stderr, "handoff: %s port %s: %s\n", host, port, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		describe(ai->ai_addr, ai->ai_addrlen, peer, peerlen);
		fd = try_connect(ai, timeout_ms);
		if (fd >= 0)
			break;
		fprintf(stderr, "handoff: connect to %s: %s\n", peer, strerror(-fd));
	}
	freeaddrinfo(res);
	return fd;
}

/* One connection; the last one relays, the others only feed the cache. */
static int one_connection(struct cli_common *c, const char *host, const char *port,
			  int relay)
{
	struct handoff *h;
	char peer[NI_MAXHOST + NI_MAXSERV + 4];
	const char *why;
	int fd, status = CLI_EXIT_FAIL;

	fd = dial(host, port, c->timeout_ms, peer, sizeof(peer));
	if (fd < 0)
		return CLI_EXIT_FAIL;
	h = handoff_client(c->cfg, fd, c->servername ? c->servername : host);
	if (!h) {
		fprintf(stderr, "handoff: %s: %s\n", peer, strerror(errno));
		goto err_fd;
	}
	if (handoff_handshake(h) != 0) {
		why = handoff_error(h);
		fprintf(stderr, "handoff: TLS handshake with %s failed: %s\n", peer,
			why ? why : "unknown error");
		goto err_conn;
	}
	if (!c->quiet)
		cli_summary(h, peer);
	if (relay) {
		if (cli_relay(h, STDIN_FILENO, STDOUT_FILENO, 1) < 0)
			goto err_conn;
	} else {
		cli_finish(h, c->timeout_ms);
	}
	status = CLI_EXIT_OK;

err_conn:
	handoff_free(h);
err_fd:
	close(fd);
	return status;
}

int cmd_connect(int argc, char **argv)
{
	struct connect_opts o = { 0 };
	struct cli_command cmd = {
		.name = "connect", .usage = connect_usage, .longopts = connect_options,
		.handle = connect_option, .ctx = &o,
	};
	struct cli_common c;
	struct handoff_cache *cache = NULL;
	char *host, *port;
	unsigned i;
	int first, status;

	first = cli_parse(argc, argv, &cmd, &c, &status);
	if (first < 0)
		return status;
	if (argc - first != 1 || split_hostport(argv[first], &host, &port) < 0) {
		fprintf(stderr, "%s\n", connect_usage);
		handoff_config_free(c.cfg);
		return CLI_EXIT_USAGE;
	}
	if (o.reconnect) {
		cache = handoff_cache_new(16);
		if (!cache) {
			fprintf(stderr, "handoff: session cache: %s\n", strerror(errno));
			handoff_config_free(c.cfg);
			return CLI_EXIT_FAIL;
		}
		handoff_config_set_session_cache(c.cfg, cache);
	}

	status = CLI_EXIT_OK;
	for (i = 0; i <= o.reconnect && status == CLI_EXIT_OK; i++)
		status = one_connection(&c, host, port, i == o.reconnect && !o.print_only);

	handoff_config_free(c.cfg);
	/* Only now: connections and the config reference the cache. */
	handoff_cache_free(cache);
	return status;
}
