/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dpbench - the data-path and idle-memory half of tests/bench/bench.sh,
 * run inside the VM (tests/bench/vm-bench.sh), where the kernel has kTLS.
 *
 *   dpbench stream MODE --mib N --file PATH [--cert C --key K --ca CA]
 *		[--via PORT --listen PORT --extra-pid PID]
 *	One bulk transfer of N MiB over loopback.  The parent is the sender
 *	(it accepts); a forked child receives and checks the byte count.
 *	MODE: plain-sendfile, plain-write, raw-sendfile, raw-write, raw-zc
 *	(sendfile with TLS_TX_ZEROCOPY_RO), raw-nopad (write; the receiver
 *	sets TLS_RX_EXPECT_NO_PAD), lib-sendfile, lib-write (libhandoff on both
 *	ends, kTLS), lib-zc, lib-nopad (the same with the library's switches
 *	for those two options, checked on the socket), gnutls-write (GnuTLS in user space on both ends), relay
 *	(plaintext through something else: the child connects to --via, the
 *	parent accepts on --listen; --extra-pid's CPU counts as the sender's).
 *	Prints "mibs=X cpu_s_per_gib=Y rcpu_s_per_gib=Z": throughput, the
 *	sender's user+sys CPU per GiB (plus --extra-pid's), the receiver's.
 *	The raw pair uses fixed TLS 1.3 AES-128-GCM keys (the limit of the
 *	path); the library negotiates TLS 1.3 AES-128-GCM with a handshake
 *	that is not timed.
 *
 *   dpbench idle-lib --n N --cert C --key K
 *	A libhandoff server (epoll, non-blocking, kTLS) in a child; N GnuTLS
 *	clients connect, finish the handshake and stay idle.  Prints
 *	"bytes_per_conn=X" (growth of the server's RSS from 16 to N+16 connections).
 *   dpbench idle-relay --n N --port P --backend PORT --pid PID
 *	The same against something else on port P (stunnel) that relays to a
 *	plaintext backend this program holds on PORT; PID's RSS is measured.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "handoff.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define CHUNK (64 * 1024)

static const char *opt_cert, *opt_key, *opt_ca, *opt_file;
static long opt_mib = 64, opt_n = 1000, opt_extra_pid, opt_pid;
static int opt_via, opt_listen, opt_port, opt_backend;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "dpbench: %s: %s\n", what, why);
	exit(2);
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double proc_cpu(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "re")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS of a process in bytes. */
static long proc_rss(long pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

static int listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)*port) };
	socklen_t len = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("listen", strerror(errno));
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	int fd, i;

	/* A relay may still be starting: retry for a few seconds. */
	for (i = 0; i < 100; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket", strerror(errno));
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
		usleep(50000);
	}
	die("connect", strerror(errno));
	return -1;
}

/* ------------------------------------------------------------ raw pair */

static void raw_key(int fd, int dir)
{
	struct tls12_crypto_info_aes_gcm_128 ci;

	memset(&ci, 0, sizeof(ci));
	ci.info.version = TLS_1_3_VERSION;
	ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
	memset(ci.key, 0x5a, sizeof(ci.key));
	memset(ci.iv, 0xa5, sizeof(ci.iv));
	memset(ci.salt, 0x3c, sizeof(ci.salt));
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		die("TCP_ULP", strerror(errno));
	if (setsockopt(fd, SOL_TLS, dir, &ci, sizeof(ci)) < 0)
		die(dir == TLS_TX ? "TLS_TX" : "TLS_RX", strerror(errno));
}

static void set_flag(int fd, int opt, const char *name)
{
	int one = 1;

	if (setsockopt(fd, SOL_TLS, opt, &one, sizeof(one)) < 0)
		die(name, strerror(errno));
}

static bool has(const char *mode, const char *word);

/* ------------------------------------------------------------- GnuTLS */

static gnutls_session_t gt_session(int fd, bool server)
{
	static gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	int ret;

	if (!cred) {
		gnutls_certificate_allocate_credentials(&cred);
		if (opt_cert && gnutls_certificate_set_x509_key_file(cred, opt_cert, opt_key,
								     GNUTLS_X509_FMT_PEM) < 0)
			die("keypair", opt_cert);
	}
	gnutls_init(&s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_TICKETS);
	gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM", NULL);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	if (!server)
		gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
	gnutls_transport_set_int(s, fd);
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0)
		die("GnuTLS handshake", gnutls_strerror(ret));
	return s;
}

/* ------------------------------------------------------------ library */

/* The option the library was asked to set, read back from the socket: 1 if it is on. */
static int tls_flag(int fd, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_TLS, opt, &v, &len) == 0 && v == 1;
}

static struct handoff *lib_end(int fd, bool server, const char *mode)
{
	struct handoff_config *cfg = handoff_config_new();
	struct handoff *h;

	if (!cfg || handoff_config_set_protocols(cfg, HANDOFF_PROTOCOL_TLSv1_3) < 0 ||
	    handoff_config_set_ciphers(cfg, "AES-128-GCM") < 0)
		die("config", "set-up");
	if (server) {
		if (handoff_config_set_keypair_file(cfg, opt_cert, opt_key) < 0)
			die("keypair", handoff_config_error(cfg));
		handoff_config_disable_tickets(cfg);	/* nothing but data reaches read() */
	} else if (handoff_config_add_ca_file(cfg, opt_ca) < 0) {
		die("CA", handoff_config_error(cfg));
	}
	/* The library's own switches for the kernel options (the sender sends, the receiver receives). */
	if (server && has(mode, "-zc"))
		handoff_config_kernel_tx_zerocopy(cfg);
	if (!server && has(mode, "nopad"))
		handoff_config_kernel_rx_no_pad(cfg);
	h = server ? handoff_server(cfg, fd) : handoff_client(cfg, fd, "localhost");
	handoff_config_free(cfg);
	if (!h || handoff_handshake(h) < 0)
		die("handoff handshake", h ? handoff_error(h) : strerror(errno));
	if (!handoff_conn_ktls(h))
		die("handoff", "the kernel did not take the keys");
	if (server && has(mode, "-zc") && !tls_flag(fd, TLS_TX_ZEROCOPY_RO))
		die("handoff", "TLS_TX_ZEROCOPY_RO is not on after the hand-off");
	if (!server && has(mode, "nopad") && !tls_flag(fd, TLS_RX_EXPECT_NO_PAD))
		die("handoff", "TLS_RX_EXPECT_NO_PAD is not on after the hand-off");
	return h;
}

/* -------------------------------------------------------------- stream */

static bool has(const char *mode, const char *word)
{
	return strstr(mode, word) != NULL;
}

/* The receiving child: reads everything, reports its CPU time on the pipe. */
static void receiver(const char *mode, int port, int report)
{
	int fd = connect_to(opt_via ? opt_via : port);
	unsigned long long want = (unsigned long long)opt_mib << 20, got = 0;
	gnutls_session_t s = NULL;
	struct handoff *h = NULL;
	char *buf = malloc(CHUNK), line[64];
	double c0;

	if (!buf)
		die("receiver", "out of memory");
	if (has(mode, "raw-")) {
		raw_key(fd, TLS_RX);
		if (has(mode, "nopad"))
			set_flag(fd, TLS_RX_EXPECT_NO_PAD, "TLS_RX_EXPECT_NO_PAD");
	} else if (has(mode, "lib-")) {
		h = lib_end(fd, false, mode);
	} else if (has(mode, "gnutls-")) {
		s = gt_session(fd, false);
	}
	/* Ready: the sender starts its clock (through GnuTLS, which may read ahead on the socket). */
	if (s ? gnutls_record_send(s, "g", 1) != 1 : write(fd, "g", 1) != 1)
		die("receiver", strerror(errno));
	c0 = self_cpu();
	while (got < want) {
		ssize_t n = s ? gnutls_record_recv(s, buf, CHUNK) : read(fd, buf, CHUNK);

		if (n <= 0) {
			if (s ? n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED : n < 0 && errno == EINTR)
				continue;
			fprintf(stderr, "dpbench: receiver: %s after %llu of %llu bytes\n",
				n == 0 ? "EOF" : s ? gnutls_strerror((int)n) : strerror(errno), got, want);
			_exit(1);
		}
		got += (unsigned long long)n;
	}
	snprintf(line, sizeof(line), "%.6f\n", self_cpu() - c0);
	handoff_free(h);
	if (write(report, line, strlen(line)) < 0)
		_exit(1);
	_exit(0);
}

static void make_file(void)
{
	struct stat st;
	char *buf;
	long i;
	int fd;

	if (stat(opt_file, &st) == 0 && st.st_size >= opt_mib << 20)
		return;
	fd = open(opt_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	buf = malloc(1 << 20);
	if (fd < 0 || !buf)
		die(opt_file, strerror(errno));
	for (i = 0; i < 1 << 20; i++)
		buf[i] = (char)(i * 2654435761u >> 13);
	for (i = 0; i < opt_mib; i++)
		if (write(fd, buf, 1 << 20) != 1 << 20)
			die(opt_file, strerror(errno));
	free(buf);
	close(fd);
}

static int cmd_stream(const char *mode)
{
	unsigned long long want = (unsigned long long)opt_mib << 20, sent = 0;
	int lfd, fd, file = -1, report[2], port = opt_listen, status;
	gnutls_session_t s = NULL;
	struct handoff *h = NULL;
	char *buf = NULL, go, line[64] = "";
	double t0, c0, e0 = 0, t1, c1, e1 = 0, rcpu;
	pid_t child;

	lfd = listener(&port);
	if (pipe2(report, O_CLOEXEC) < 0)
		die("pipe", strerror(errno));
	child = fork();
	if (child < 0)
		die("fork", strerror(errno));
	if (child == 0) {
		close(report[0]);
		receiver(mode, port, report[1]);
	}
	close(report[1]);
	{
		/* The receiver (or a relay in front of it) may have given up: do not wait for ever. */
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };

		if (poll(&pfd, 1, 30000) != 1)
			die("accept", "nobody connected within 30 s");
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		die("accept", strerror(errno));
	if (has(mode, "raw-")) {
		raw_key(fd, TLS_TX);
		if (has(mode, "-zc"))
			set_flag(fd, TLS_TX_ZEROCOPY_RO, "TLS_TX_ZEROCOPY_RO");
	} else if (has(mode, "lib-")) {
		h = lib_end(fd, true, mode);
	} else if (has(mode, "gnutls-")) {
		s = gt_session(fd, true);
	}
	if (has(mode, "sendfile") || has(mode, "-zc") || !strcmp(mode, "relay")) {
		make_file();
		file = open(opt_file, O_RDONLY | O_CLOEXEC);
		if (file < 0)
			die(opt_file, strerror(errno));
	} else if (!(buf = malloc(CHUNK))) {
		die("sender", "out of memory");
	} else {
		memset(buf, 'x', CHUNK);
	}
	if (s ? gnutls_record_recv(s, &go, 1) != 1 : read(fd, &go, 1) != 1)	/* the receiver is ready */
		die("sender", "the receiver did not start");
	t0 = now_mono();
	c0 = self_cpu();
	if (opt_extra_pid)
		e0 = proc_cpu(opt_extra_pid);
	while (sent < want) {
		ssize_t n;
		size_t len = want - sent < CHUNK ? (size_t)(want - sent) : CHUNK;

		if (file >= 0)
			n = sendfile(fd, file, NULL, want - sent < (1u << 20) ? want - sent : 1u << 20);
		else if (s)
			n = gnutls_record_send(s, buf, len);
		else
			n = write(fd, buf, len);
		if (n <= 0) {
			if (s ? n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED : n < 0 && errno == EINTR)
				continue;
			die("send", s ? gnutls_strerror((int)n) : strerror(errno));
		}
		sent += (unsigned long long)n;
	}
	c1 = self_cpu();
	if (read(report[0], line, sizeof(line) - 1) <= 0)
		die("receiver", "no report");
	waitpid(child, &status, 0);
	t1 = now_mono();
	if (opt_extra_pid)
		e1 = proc_cpu(opt_extra_pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("receiver", "failed");
	rcpu = atof(line);
	printf("mibs=%.2f cpu_s_per_gib=%.3f rcpu_s_per_gib=%.3f\n", (double)opt_mib / (t1 - t0),
	       (c1 - c0 + e1 - e0) * 1024.0 / (double)opt_mib, rcpu * 1024.0 / (double)opt_mib);
	if (s)
		gnutls_deinit(s);
	handoff_free(h);
	free(buf);
	close(fd);
	close(lfd);
	return 0;
}

/* ---------------------------------------------------------------- idle */

static void raise_nofile(void)
{
	struct rlimit rl = { 65536, 65536 };

	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The library server of the idle test: epoll, non-blocking handshakes, connections kept. */
static void idle_server(int lfd, int ready)
{
	struct handoff_config *cfg = handoff_config_new();
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[64];
	int ep = epoll_create1(EPOLL_CLOEXEC), n, i;

	if (!cfg || handoff_config_set_keypair_file(cfg, opt_cert, opt_key) < 0 || ep < 0)
		die("idle server", "set-up");
	handoff_config_disable_tickets(cfg);
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		for (i = 0; i < n; i++) {
			struct handoff *h = evs[i].data.ptr;
			int ret;

			if (!h) {
				int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

				if (fd < 0)
					continue;
				h = handoff_server(cfg, fd);
				if (!h)
					die("idle server", strerror(errno));
				ev.events = EPOLLIN;
				ev.data.ptr = h;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			}
			ret = handoff_handshake(h);
			if (ret == HANDOFF_WANT_POLLIN || ret == HANDOFF_WANT_POLLOUT) {
				ev.events = ret == HANDOFF_WANT_POLLIN ? EPOLLIN : EPOLLOUT;
				ev.data.ptr = h;
				epoll_ctl(ep, EPOLL_CTL_MOD, handoff_conn_fd(h), &ev);
				continue;
			}
			/* Done (or failed): idle from now on, kept as a real server keeps it. */
			epoll_ctl(ep, EPOLL_CTL_DEL, handoff_conn_fd(h), NULL);
			if (ret != 0)
				fprintf(stderr, "dpbench: idle server: %s\n", handoff_error(h));
			if (write(ready, ret == 0 ? "+" : "-", 1) != 1)
				_exit(1);
		}
	}
}

/* One idle client: handshake, then only the socket stays (the client's memory is not measured). */
static int idle_client(int port, bool tls)
{
	int fd = connect_to(port);

	if (tls)
		gnutls_deinit(gt_session(fd, false));
	return fd;
}

/* Open n idle connections; returns when the server has them all. */
static void idle_open(long n, int port, int ready, int backend)
{
	long i;
	char c;

	for (i = 0; i < n; i++) {
		idle_client(port, true);
		if (ready >= 0 && (read(ready, &c, 1) != 1 || c != '+'))
			die("idle", "the server failed a handshake");
		/* Whatever relays to the backend connects there once per client: hold it. */
		if (backend >= 0 && accept4(backend, NULL, NULL, SOCK_CLOEXEC) < 0)
			die("backend accept", strerror(errno));
	}
}

static int cmd_idle(bool lib)
{
	int port = 0, lfd = -1, ready[2] = { -1, -1 }, backend = -1;
	long pid, before, after, warm = 16;
	pid_t child = 0;

	raise_nofile();
	if (lib) {
		lfd = listener(&port);
		if (pipe2(ready, O_CLOEXEC) < 0)
			die("pipe", strerror(errno));
		child = fork();
		if (child == 0) {
			close(ready[0]);
			idle_server(lfd, ready[1]);
		}
		close(ready[1]);
		close(lfd);
		pid = child;
	} else {
		port = opt_port;
		pid = opt_pid;
		backend = listener(&opt_backend);
	}
	/* Warm-up: the first connections pay for one-time set-up (the probe, GnuTLS state, pools). */
	idle_open(warm, port, ready[0], backend);
	usleep(200000);
	before = proc_rss(pid);
	idle_open(opt_n, port, ready[0], backend);
	usleep(200000);
	after = proc_rss(pid);
	printf("conns=%ld rss_before=%ld rss_after=%ld bytes_per_conn=%.0f\n", opt_n, before, after,
	       (double)(after - before) / (double)opt_n);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	return before > 0 && after > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mib", required_argument, NULL, 'm' },
		{ "file", required_argument, NULL, 'f' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "via", required_argument, NULL, 'v' },
		{ "listen", required_argument, NULL, 'l' },
		{ "extra-pid", required_argument, NULL, 'e' },
		{ "n", required_argument, NULL, 'n' },
		{ "port", required_argument, NULL, 'p' },
		{ "backend", required_argument, NULL, 'b' },
		{ "pid", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	int o;

	if (argc < 2)
		die("usage", "dpbench stream MODE | idle-lib | idle-relay [OPTIONS]");
	cmd = argv[1];
	optind = strcmp(cmd, "stream") == 0 ? 3 : 2;
	if (optind > argc)
		die("usage", "dpbench stream MODE [OPTIONS]");
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'm': opt_mib = atol(optarg); break;
		case 'f': opt_file = optarg; break;
		case 'c': opt_cert = optarg; break;
		case 'k': opt_key = optarg; break;
		case 'a': opt_ca = optarg; break;
		case 'v': opt_via = atoi(optarg); break;
		case 'l': opt_listen = atoi(optarg); break;
		case 'e': opt_extra_pid = atol(optarg); break;
		case 'n': opt_n = atol(optarg); break;
		case 'p': opt_port = atoi(optarg); break;
		case 'b': opt_backend = atoi(optarg); break;
		case 'P': opt_pid = atol(optarg); break;
		default: die("usage", "unknown option");
		}
	}
	if (opt_mib <= 0 || opt_n <= 0)
		die("usage", "sizes must be positive");
	signal(SIGPIPE, SIG_IGN);
	gnutls_global_init();
	if (!strcmp(cmd, "stream")) {
		if (!opt_file)
			opt_file = "/tmp/dpbench.data";
		return cmd_stream(argv[2]);
	}
	if (!strcmp(cmd, "idle-lib"))
		return cmd_idle(true);
	if (!strcmp(cmd, "idle-relay"))
		return cmd_idle(false);
	die("usage", "unknown command");
	return 2;
}
