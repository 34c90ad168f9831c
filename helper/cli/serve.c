/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoff serve [ADDR:]PORT - a TLS server: accept, handshake, hand the keys
 * to the kernel, then echo, send a file, or run a command on the socket.
 *
 * Each connection runs in a child process, so one slow or hostile peer
 * cannot stall the others.  At most --max-connections children run at once
 * (each costs a process, ~185 KiB): past that this loop stops accepting and
 * the kernel's listen queue holds the newcomers, so a flood of idle
 * connections costs a bounded amount of memory and each waits its turn
 * (an idle one leaves at the handshake timeout).  What children share is what the config held
 * before the fork: the ticket key, so TLS 1.3 and TLS 1.2 ticket resumption
 * works across connections.  TLS 1.2 resumption by session ID does not (the
 * server's session cache lives in each child); that needs tickets.
 *
 * --exec gives the command one end of a socketpair, and this process pumps
 * data between it and handoff_read / handoff_write.  Handing it the kTLS
 * socket itself would save that copy, but a plain read(2) there cannot
 * take what is not data: the peer's close_notify or a KeyUpdate fails
 * with EIO, and a zero-length data record followed by one of those reads
 * as a spurious EOF (measured on Linux 6.12 and 7.3).  With the user-space
 * fallback the socket carries ciphertext anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "options.h"
#include "relay.h"

enum {
	OPT_ECHO = CLI_OPT_CMD_BASE,
	OPT_FILE,
	OPT_EXEC,
	OPT_ONCE,
	OPT_COUNT,
	OPT_MAX_CONNECTIONS,
};

/* ~46 MiB of children at most; each idle one leaves at the handshake timeout. */
#define SERVE_DEFAULT_MAX_CONNECTIONS 256

static const struct option serve_options[] = {
	{ "echo", no_argument, NULL, OPT_ECHO },
	{ "file", required_argument, NULL, OPT_FILE },
	{ "exec", required_argument, NULL, OPT_EXEC },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
	{ NULL, 0, NULL, 0 },
};

static const char serve_usage[] =
	"usage: handoff serve [OPTIONS] [ADDR:]PORT\n"
	"  ADDR is an IPv4 address, [IPv6] or a name (default: every address);\n"
	"  PORT 0 picks a free port.  \"listening on ADDR:PORT\" goes to stderr.\n"
	"  --echo                  send back what the client sends (default)\n"
	"  --file PATH             send the file (sendfile(2) with kTLS), then close\n"
	"  --exec CMD              run /bin/sh -c CMD with the connection as stdin/stdout\n"
	"  --once                  serve one connection, exit with its status\n"
	"  --count N               serve N connections, exit 1 if any failed\n"
	"  --max-connections N     at most N connections in flight (default 256),\n"
	"                          one process each; more wait in the listen queue\n"
	"  --cert/--key are needed unless --psk-file is given.";

enum serve_mode { MODE_ECHO, MODE_FILE, MODE_EXEC };

struct serve_opts {
	enum serve_mode mode;
	int modes_given;
	const char *arg;	/* the file or the command */
	unsigned long count;	/* 0: forever */
	unsigned long max_conns;
};

static int serve_option(void *ctx, int opt, const char *arg)
{
	struct serve_opts *o = ctx;
	char *end;

	switch (opt) {
	case OPT_ECHO:
	case OPT_FILE:
	case OPT_EXEC:
		o->mode = opt == OPT_ECHO ? MODE_ECHO : opt == OPT_FILE ? MODE_FILE : MODE_EXEC;
		o->arg = arg;
		o->modes_given++;
		return 0;
	case OPT_ONCE:
		o->count = 1;
		return 0;
	case OPT_COUNT:
	case OPT_MAX_CONNECTIONS: {
		unsigned long *v = opt == OPT_COUNT ? &o->count : &o->max_conns;

		errno = 0;
		*v = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || *v == 0) {
			fprintf(stderr, "handoff: --%s %s: not a positive count\n",
				opt == OPT_COUNT ? "count" : "max-connections", arg);
			return -1;
		}
		return 0;
	}
	}
	return -1;
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

/* "[ADDR]:PORT", "ADDR:PORT" or "PORT"; *addr NULL for every address. */
static int split_listen(char *s, char **addr, char **port)
{
	char *colon;

	*addr = NULL;
	if (s[0] == '[') {
		char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':' || !rb[2] || rb == s + 1)
			return -1;
		*rb = '\0';
		*addr = s + 1;
		*port = rb + 2;
		return 0;
	}
	colon = strrchr(s, ':');
	if (!colon) {
		*port = s;
		return *s ? 0 : -1;
	}
	if (colon == s || !colon[1] || strchr(s, ':') != colon)
		return -1;
	*colon = '\0';
	*addr = s;
	*port = colon + 1;
	return 0;
}

static int listen_on(const char *addr, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res, *ai;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char where[NI_MAXHOST + NI_MAXSERV + 4];
	int fd = -1, one = 1, gai, err = 0;

	gai = getaddrinfo(addr, port, &hints, &res);
	if (gai) {
		fprintf(stderr, "handoff: %s port %s: %s\n", addr ? addr : "*", port,
			gai_strerror(gai));
		return -1;
	}
	/* Without ADDR, prefer "::": one dual-stack socket takes IPv4 too. */
	for (ai = res; ai; ai = ai->ai_next) {
		if (!addr && ai->ai_family != AF_INET6 && ai->ai_next)
			continue;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* Deep enough to hold a burst while --max-connections are busy. */
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr, "handoff: listen on %s port %s: %s\n", addr ? addr : "*", port,
			strerror(err ? err : EADDRNOTAVAIL));
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		describe((struct sockaddr *)&ss, len, where, sizeof(where));
		/* Tests read the port from this line: keep its shape. */
		fprintf(stderr, "handoff: listening on %s\n", where);
	}
	return fd;
}

static void tls_failed(struct handoff *h, const char *what, const char *peer)
{
	const char *why = handoff_error(h);

	fprintf(stderr, "handoff: %s %s: %s\n", what, peer, why ? why : strerror(errno));
}

static int do_echo(struct handoff *h, const char *peer)
{
	char buf[16384];
	ssize_t n;
	int ret = 0;

	for (;;) {
		n = cli_read(h, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			tls_failed(h, "read from", peer);
			ret = -1;
			break;
		}
		if (cli_write_all(h, buf, (size_t)n) < 0) {
			tls_failed(h, "write to", peer);
			ret = -1;
			break;
		}
	}
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

static int do_file(struct handoff *h, const char *path, const char *peer)
{
	char buf[16384];
	struct stat st;
	off_t off = 0;
	ssize_t n;
	int file, ret = -1;

	file = open(path, O_RDONLY | O_CLOEXEC);
	if (file < 0 || fstat(file, &st) < 0) {
		fprintf(stderr, "handoff: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (handoff_conn_ktls(h)) {
		/* The point of kTLS: the file goes to the socket without a copy here. */
		while (off < st.st_size) {
			n = sendfile(handoff_conn_fd(h), file, &off, (size_t)(st.st_size - off));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fprintf(stderr, "handoff: sendfile to %s: %s\n", peer,
					n < 0 ? strerror(errno) : "file shrank");
				goto out;
			}
		}
	} else {
		for (;;) {
			n = read(file, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				fprintf(stderr, "handoff: %s: %s\n", path, strerror(errno));
				goto out;
			}
			if (n == 0)
				break;
			if (cli_write_all(h, buf, (size_t)n) < 0) {
				tls_failed(h, "write to", peer);
				goto out;
			}
		}
	}
	ret = 0;
out:
	if (file >= 0)
		close(file);
	return ret;
}

static int wait_child(pid_t pid, const char *cmd)
{
	int st;

	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		fprintf(stderr, "handoff: '%s' exited with status %d\n", cmd, WEXITSTATUS(st));
	else
		fprintf(stderr, "handoff: '%s' killed by signal %d\n", cmd, WTERMSIG(st));
	return -1;
}

static int do_exec(struct handoff *h, const char *cmd)
{
	int sp[2], ret;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		fprintf(stderr, "handoff: socketpair: %s\n", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "handoff: fork: %s\n", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		if (dup2(sp[1], STDIN_FILENO) < 0 || dup2(sp[1], STDOUT_FILENO) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		fprintf(stderr, "handoff: /bin/sh: %s\n", strerror(errno));
		_exit(127);
	}
	close(sp[1]);
	ret = cli_relay(h, sp[0], sp[0], 0);
	close(sp[0]);
	if (wait_child(pid, cmd) < 0)
		ret = -1;
	return ret;
}

/* One accepted connection, in its own process.  Returns the exit status. */
static int serve_one(struct cli_common *c, const struct serve_opts *o, int fd,
		     const char *peer)
{
	struct handoff *h;
	int ret;

	h = handoff_server(c->cfg, fd);
	if (!h) {
		fprintf(stderr, "handoff: %s: %s\n", peer, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (handoff_handshake(h) != 0) {
		tls_failed(h, "TLS handshake with", peer);
		handoff_free(h);
		return CLI_EXIT_FAIL;
	}
	if (!c->quiet)
		cli_summary(h, peer);
	switch (o->mode) {
	case MODE_FILE:
		ret = do_file(h, o->arg, peer);
		break;
	case MODE_EXEC:
		ret = do_exec(h, o->arg);
		break;
	default:
		ret = do_echo(h, peer);
		break;
	}
	/* The relay already closed its side; for the others, close cleanly now. */
	if (o->mode != MODE_EXEC)
		cli_finish(h, c->timeout_ms);
	handoff_free(h);
	return ret < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int exit_failed(int st)
{
	return !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}

/*
 * Reap the children that are done; with block set, wait for one first.
 * Returns how many ended; their failures are or'ed into *failed.
 */
static unsigned long reap(bool block, int *failed)
{
	unsigned long n = 0;
	pid_t pid;
	int st;

	for (;;) {
		pid = waitpid(-1, &st, block && !n ? 0 : WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return n;
		*failed |= exit_failed(st);
		n++;
	}
}

/*
 * The bound on children in flight.  At it, the loop stops accepting until a
 * child ends: the listen queue holds the newcomers.  The log gets one line
 * when an episode starts and one when it ends (the count back under half the
 * bound), however many times a flood takes the last free place meanwhile.
 */
struct bound {
	unsigned long max, in_flight, waits;
	bool saturated;
	struct timespec since;
};

static void bound_ended(struct bound *b, unsigned long n)
{
	struct timespec now;

	b->in_flight -= n < b->in_flight ? n : b->in_flight;
	if (!b->saturated || b->in_flight > b->max / 2)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	fprintf(stderr, "handoff: %lu connections in flight: under the bound again after %ld ms "
		"(%lu times at it)\n", b->in_flight,
		(long)((now.tv_sec - b->since.tv_sec) * 1000 +
		       (now.tv_nsec - b->since.tv_nsec) / 1000000), b->waits);
	b->saturated = false;
}

static void bound_wait(struct bound *b, int *failed)
{
	unsigned long n;

	if (b->in_flight < b->max)
		return;
	if (!b->saturated) {
		b->saturated = true;
		b->waits = 0;
		clock_gettime(CLOCK_MONOTONIC, &b->since);
		fprintf(stderr, "handoff: %lu connections in flight (--max-connections %lu): "
			"new ones wait in the listen queue\n", b->in_flight, b->max);
	}
	b->waits++;
	while (b->in_flight >= b->max) {
		n = reap(true, failed);
		if (!n) {
			b->in_flight = 0;	/* no child left: the count was off; do not spin */
			break;
		}
		bound_ended(b, n);
	}
}

/* Only there to wake ppoll(2), so children are reaped as they end, not at the next connection. */
static void on_sigchld(int sig)
{
	(void)sig;
}

int cmd_serve(int argc, char **argv)
{
	struct serve_opts o = { .mode = MODE_ECHO, .max_conns = SERVE_DEFAULT_MAX_CONNECTIONS };
	struct bound bound = { 0 };
	struct sigaction sa = { .sa_handler = on_sigchld }, old_sa;
	sigset_t chld, old_mask;
	struct pollfd pfd;
	struct cli_command cmd = {
		.name = "serve", .usage = serve_usage, .longopts = serve_options,
		.handle = serve_option, .ctx = &o,
	};
	struct cli_common c;
	struct sockaddr_storage ss;
	socklen_t len;
	char peer[NI_MAXHOST + NI_MAXSERV + 4];
	char *addr, *port;
	unsigned long served = 0;
	int first, status, lfd, fd, failed = 0, st;
	pid_t pid;

	first = cli_parse(argc, argv, &cmd, &c, &status);
	if (first < 0)
		return status;
	if (o.modes_given > 1) {
		fprintf(stderr, "handoff: --echo, --file and --exec exclude each other\n");
		status = CLI_EXIT_USAGE;
		goto out_cfg;
	}
	if (argc - first != 1 || split_listen(argv[first], &addr, &port) < 0) {
		fprintf(stderr, "%s\n", serve_usage);
		status = CLI_EXIT_USAGE;
		goto out_cfg;
	}
	if (o.mode == MODE_FILE && access(o.arg, R_OK) < 0) {
		fprintf(stderr, "handoff: --file %s: %s\n", o.arg, strerror(errno));
		status = CLI_EXIT_USAGE;
		goto out_cfg;
	}
	bound.max = o.max_conns;
	lfd = listen_on(addr, port);
	if (lfd < 0) {
		status = CLI_EXIT_FAIL;
		goto out_cfg;
	}
	/*
	 * SIGCHLD stays blocked except inside ppoll, so a child that ends
	 * between the reap and the wait still wakes it (no lost wake-up).
	 */
	sigemptyset(&sa.sa_mask);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old_mask);
	sigaction(SIGCHLD, &sa, &old_sa);
	pfd.fd = lfd;
	pfd.events = POLLIN;

	while (!o.count || served < o.count) {
		/* Reap who is done; with no --count the statuses only get logged. */
		bound_ended(&bound, reap(false, &failed));
		bound_wait(&bound, &failed);
		if (ppoll(&pfd, 1, NULL, &old_mask) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "handoff: poll: %s\n", strerror(errno));
			failed = 1;
			break;
		}
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "handoff: accept: %s\n", strerror(errno));
			failed = 1;
			break;
		}
		served++;
		describe((struct sockaddr *)&ss, len, peer, sizeof(peer));
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			sigaction(SIGCHLD, &old_sa, NULL);
			sigprocmask(SIG_SETMASK, &old_mask, NULL);
			close(lfd);
			st = serve_one(&c, &o, fd, peer);
			close(fd);
			fflush(NULL);
			_exit(st);
		}
		if (pid < 0) {
			fprintf(stderr, "handoff: fork: %s\n", strerror(errno));
			failed = 1;
		} else {
			bound.in_flight++;
		}
		close(fd);
	}
	close(lfd);
	sigaction(SIGCHLD, &old_sa, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	while ((pid = waitpid(-1, &st, 0)) > 0 || (pid < 0 && errno == EINTR))
		if (pid > 0)
			failed |= exit_failed(st);
	status = failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;

out_cfg:
	handoff_config_free(c.cfg);
	return status;
}
