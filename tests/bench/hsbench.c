/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hsbench - the handshake half of tests/bench/bench.sh.
 *
 *   hsbench server --cert C --key K [--threads N] [--bare]
 *	A non-forking TLS server on 127.0.0.1 (port printed on stdout as
 *	"port N"): N threads accept on one listener, each handshake goes
 *	through libhandoff (the user-space fallback, as the host has no kTLS;
 *	where the kernel has kTLS the keys go to it), then waits for the
 *	client's close_notify and answers it.  --bare: the same with plain
 *	GnuTLS, for profiling against.  Runs until SIGTERM.
 *   hsbench load --port P --clients C --seconds S [--resume] [--server-pid PID]
 *	C client threads (GnuTLS, TLS 1.3, X25519, AES-128-GCM) connect,
 *	handshake, close_notify, repeat.  Prints one "key=value" line: the
 *	handshake rate and, with --server-pid, the server's CPU per handshake
 *	(utime+stime of /proc/PID/stat, the same figure getrusage gives it).
 *   hsbench limit --cert C --key K --seconds S [--resume]
 *	The limit: a GnuTLS client and server stepping each other in memory,
 *	one thread, no sockets; only the server's steps are timed (thread CPU).
 *   hsbench latency --cert C --key K --n N
 *	Server-side handshake time over a fresh loopback pair, bare GnuTLS
 *	against libhandoff, interleaved; p50 and p99 of each.
 *   hsbench handoff-cost --n N
 *	Where the kernel has kTLS: the hand-off itself (TCP_ULP, TLS_TX,
 *	TLS_RX with fixed keys) on a fresh pair, and one kernel probe.
 *
 * The client verifies nothing (every server gets the same client); the
 * server signs with ECDSA P-256 and issues TLS 1.3 tickets, as all peers do.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handoff.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

/* What every client offers: one group, one cipher, so every server does the same work. */
#define CLIENT_PRIO "NONE:+VERS-TLS1.3:+AES-128-GCM:+AEAD:+GROUP-X25519:+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-RSA-PSS-RSAE-SHA256:+CTYPE-X509:+COMP-NULL"
/* The --bare server and the in-memory limit: what handoff's engine offers for this client. */
#define SERVER_PRIO "NONE:+VERS-TLS1.3:+VERS-TLS1.2:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:+AEAD:+COMP-NULL:+CTYPE-X509:+SIGN-ALL:-SIGN-RSA-SHA1:-SIGN-DSA-SHA1:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-X448:+GROUP-SECP521R1:+GROUP-FFDHE2048:+GROUP-FFDHE3072:+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA:%SERVER_PRECEDENCE"

static const char *opt_cert, *opt_key;
static int opt_threads = 1, opt_clients = 1, opt_port, opt_n = 200;
static double opt_seconds = 3;
static bool opt_bare, opt_resume;
static long opt_server_pid;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "hsbench: %s: %s\n", what, why);
	exit(2);
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static int tcp_listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_port = htons((uint16_t)*port);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("listen", strerror(errno));
	*port = ntohs(a.sin_port);
	return fd;
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------------- server */

static struct handoff_config *server_cfg;
static gnutls_certificate_credentials_t bare_cred;
static gnutls_priority_t bare_prio;
static gnutls_datum_t bare_ticket_key;

static void bare_init(void)
{
	if (gnutls_certificate_allocate_credentials(&bare_cred) < 0 ||
	    gnutls_certificate_set_x509_key_file(bare_cred, opt_cert, opt_key, GNUTLS_X509_FMT_PEM) < 0)
		die(opt_cert, "cannot load the keypair");
	if (gnutls_priority_init(&bare_prio, SERVER_PRIO, NULL) < 0)
		die("priority", SERVER_PRIO);
	if (gnutls_session_ticket_key_generate(&bare_ticket_key) < 0)
		die("ticket key", "cannot generate");
}

static gnutls_session_t bare_session(int fd)
{
	gnutls_session_t s;

	if (gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL) < 0)
		return NULL;
	gnutls_priority_set(s, bare_prio);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, bare_cred);
	gnutls_session_ticket_enable_server(s, &bare_ticket_key);
	gnutls_transport_set_int(s, fd);
	return s;
}

static void serve_bare(int fd)
{
	gnutls_session_t s = bare_session(fd);
	char buf[256];
	int ret;

	if (!s)
		return;
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret == 0) {
		while ((ret = (int)gnutls_record_recv(s, buf, sizeof(buf))) > 0 ||
		       ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
			;
		if (ret == 0)
			gnutls_bye(s, GNUTLS_SHUT_WR);
	}
	gnutls_deinit(s);
}

static void serve_handoff(int fd)
{
	struct handoff *h = handoff_server(server_cfg, fd);
	char buf[256];

	if (!h)
		return;
	if (handoff_handshake(h) == 0) {
		while (handoff_read(h, buf, sizeof(buf)) > 0)
			;
		handoff_close(h);
	}
	handoff_free(h);
}

static void *server_thread(void *arg)
{
	int lfd = *(int *)arg;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			die("accept", strerror(errno));
		}
		if (opt_bare)
			serve_bare(fd);
		else
			serve_handoff(fd);
		close(fd);
	}
	return NULL;
}

static int cmd_server(void)
{
	pthread_t t;
	int lfd, i;

	if (!opt_cert || !opt_key)
		die("server", "--cert and --key are required");
	if (opt_bare) {
		bare_init();
	} else {
		server_cfg = handoff_config_new();
		if (!server_cfg || handoff_config_set_keypair_file(server_cfg, opt_cert, opt_key) < 0)
			die("config", server_cfg ? handoff_config_error(server_cfg) : strerror(errno));
		/* The host has no kTLS; where the kernel has it, the keys still go there. */
		handoff_config_insecure_userspace_fallback(server_cfg);
	}
	lfd = tcp_listener(&opt_port);
	printf("port %d\n", opt_port);
	fflush(stdout);
	for (i = 1; i < opt_threads; i++)
		if (pthread_create(&t, NULL, server_thread, &lfd))
			die("pthread_create", strerror(errno));
	server_thread(&lfd);
	return 0;
}

/* --------------------------------------------------------------- load */

static gnutls_certificate_credentials_t client_cred;
static gnutls_priority_t client_prio;
static volatile bool load_stop, load_counting;

struct loader {
	pthread_t t;
	unsigned long done, resumed, failed;
	gnutls_datum_t ticket;
};

/* One connection: handshake, close_notify, read to the server's answer (picks up tickets). */
static int client_once(struct loader *l)
{
	gnutls_session_t s;
	char buf[256];
	int fd, ret, ok = -1;

	fd = tcp_connect(opt_port);
	if (fd < 0)
		return -1;
	if (gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL | (opt_resume ? 0 : GNUTLS_NO_TICKETS)) < 0) {
		close(fd);
		return -1;
	}
	gnutls_priority_set(s, client_prio);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, client_cred);
	gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, 20000);
	gnutls_record_set_timeout(s, 20000);
	if (opt_resume && l->ticket.size)
		gnutls_session_set_data(s, l->ticket.data, l->ticket.size);
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret == 0) {
		ok = 0;
		if (gnutls_session_is_resumed(s) && load_counting)
			l->resumed++;
		gnutls_bye(s, GNUTLS_SHUT_WR);
		/* The server's tickets and close_notify (or a plain close). */
		while ((ret = (int)gnutls_record_recv(s, buf, sizeof(buf))) > 0 ||
		       ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
			;
		if (opt_resume) {
			gnutls_datum_t d;

			if (gnutls_session_get_data2(s, &d) == 0) {
				gnutls_free(l->ticket.data);
				l->ticket = d;
			}
		}
	}
	gnutls_deinit(s);
	close(fd);
	return ok;
}

static void *load_thread(void *arg)
{
	struct loader *l = arg;

	while (!load_stop) {
		bool counting = load_counting;
		int ret = client_once(l);

		if (!counting || !load_counting)
			continue;	/* straddles the edge of the measured window */
		if (ret == 0)
			__atomic_add_fetch(&l->done, 1, __ATOMIC_RELAXED);
		else
			l->failed++;
	}
	return NULL;
}

/*
 * CPU time of a process in seconds, -1 if unreadable; *sys: its system part.
 * The total is the sum of every thread's schedstat (nanoseconds: a
 * window of a few hundred handshakes is only a few clock ticks); the
 * system part, for information, comes from the ticks of /proc/PID/stat.
 */
static double proc_cpu_ticks(long pid, double *sys);

static double proc_cpu(long pid, double *sys)
{
	char path[64];
	unsigned long long ns, sum = 0;
	struct dirent *d;
	DIR *dir;
	double ticks = proc_cpu_ticks(pid, sys);

	snprintf(path, sizeof(path), "/proc/%ld/task", pid);
	dir = opendir(path);
	if (!dir)
		return ticks;
	while ((d = readdir(dir))) {
		char p[320];
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%ld/task/%s/schedstat", pid, d->d_name);
		f = fopen(p, "re");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(dir);
	return sum ? (double)sum / 1e9 : ticks;
}

static double proc_cpu_ticks(long pid, double *sys)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	*sys = (double)st / (double)sysconf(_SC_CLK_TCK);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmd_load(void)
{
	struct loader *l = calloc((size_t)opt_clients, sizeof(*l));
	unsigned long done = 0, resumed = 0, failed = 0;
	double t0, t1, c0 = 0, c1 = 0, s0 = 0, s1 = 0;
	int i;

	if (!l || !opt_port)
		die("load", "--port is required");
	if (gnutls_certificate_allocate_credentials(&client_cred) < 0 ||
	    gnutls_priority_init(&client_prio, CLIENT_PRIO, NULL) < 0)
		die("load", "GnuTLS set-up");
	for (i = 0; i < opt_clients; i++)
		if (pthread_create(&l[i].t, NULL, load_thread, &l[i]))
			die("pthread_create", strerror(errno));
	/* Warm-up: every client has connected once (and holds a ticket) before we count. */
	usleep(opt_resume ? 500000 : 250000);
	if (opt_server_pid)
		c0 = proc_cpu(opt_server_pid, &s0);
	t0 = now_mono();
	load_counting = true;
	usleep((useconds_t)(opt_seconds * 1e6));
	/* On a machine this busy a window can close before any handshake ends in it: widen it. */
	for (;;) {
		unsigned long sum = 0;

		for (i = 0; i < opt_clients; i++)
			sum += __atomic_load_n(&l[i].done, __ATOMIC_RELAXED);
		if (sum > 0 || now_mono() - t0 > opt_seconds + 10)
			break;
		usleep(100000);
	}
	load_counting = false;
	t1 = now_mono();
	if (opt_server_pid)
		c1 = proc_cpu(opt_server_pid, &s1);
	load_stop = true;
	for (i = 0; i < opt_clients; i++) {
		pthread_join(l[i].t, NULL);
		done += l[i].done;
		resumed += l[i].resumed;
		failed += l[i].failed;
		gnutls_free(l[i].ticket.data);
	}
	printf("clients=%d handshakes=%lu failed=%lu resumed=%lu seconds=%.3f rate=%.1f",
	       opt_clients, done, failed, resumed, t1 - t0, (double)done / (t1 - t0));
	if (opt_server_pid && c0 >= 0 && c1 >= 0 && done)
		printf(" server_cpu_ms=%.4f server_sys_ms=%.4f", (c1 - c0) * 1000.0 / (double)done,
		       (s1 - s0) * 1000.0 / (double)done);
	printf("\n");
	free(l);
	gnutls_priority_deinit(client_prio);
	gnutls_certificate_free_credentials(client_cred);
	return done ? 0 : 1;
}

/* -------------------------------------------------------------- limit */

/* One direction of the in-memory wire. */
struct pipebuf {
	unsigned char buf[65536];
	size_t len, off;
};

struct mem_end {
	struct pipebuf *in, *out;
};

static ssize_t mem_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct mem_end *e = p;

	if (e->out->len + len > sizeof(e->out->buf)) {
		errno = ENOBUFS;
		return -1;
	}
	memcpy(e->out->buf + e->out->len, data, len);
	e->out->len += len;
	return (ssize_t)len;
}

static ssize_t mem_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct mem_end *e = p;
	size_t n = e->in->len - e->in->off;

	if (!n) {
		errno = EAGAIN;
		return -1;
	}
	if (n > len)
		n = len;
	memcpy(data, e->in->buf + e->in->off, n);
	e->in->off += n;
	if (e->in->off == e->in->len)
		e->in->off = e->in->len = 0;
	return (ssize_t)n;
}

static int mem_pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
	struct mem_end *e = p;

	(void)ms;
	return e->in->len > e->in->off;
}

static void mem_attach(gnutls_session_t s, struct mem_end *e)
{
	gnutls_transport_set_ptr(s, e);
	gnutls_transport_set_push_function(s, mem_push);
	gnutls_transport_set_pull_function(s, mem_pull);
	gnutls_transport_set_pull_timeout_function(s, mem_pull_timeout);
}

/* One handshake in memory; returns the server's thread CPU seconds, or -1. */
static double limit_once(gnutls_datum_t *ticket, bool *resumed)
{
	static struct pipebuf c2s, s2c;
	struct mem_end ce = { &s2c, &c2s }, se = { &c2s, &s2c };
	gnutls_session_t c, s;
	double spent = 0, t;
	int rc = GNUTLS_E_AGAIN, rs = GNUTLS_E_AGAIN, steps = 0;
	char buf[64];

	c2s.len = c2s.off = s2c.len = s2c.off = 0;
	gnutls_init(&c, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL | (opt_resume ? 0 : GNUTLS_NO_TICKETS));
	gnutls_priority_set(c, client_prio);
	gnutls_credentials_set(c, GNUTLS_CRD_CERTIFICATE, client_cred);
	gnutls_server_name_set(c, GNUTLS_NAME_DNS, "localhost", 9);
	mem_attach(c, &ce);
	if (opt_resume && ticket->size)
		gnutls_session_set_data(c, ticket->data, ticket->size);

	t = now_thread_cpu();
	s = bare_session(-1);
	mem_attach(s, &se);
	spent += now_thread_cpu() - t;

	while ((rc != 0 || rs != 0) && steps++ < 100) {
		if (rc != 0) {
			rc = gnutls_handshake(c);
			if (rc < 0 && gnutls_error_is_fatal(rc))
				break;
		}
		if (rs != 0) {
			t = now_thread_cpu();
			rs = gnutls_handshake(s);
			spent += now_thread_cpu() - t;
			if (rs < 0 && gnutls_error_is_fatal(rs))
				break;
		}
	}
	if (rc == 0 && rs == 0) {
		*resumed = gnutls_session_is_resumed(s);
		/* The client takes in the tickets the server sent. */
		if (opt_resume) {
			gnutls_record_recv(c, buf, sizeof(buf));
			gnutls_free(ticket->data);
			ticket->data = NULL;
			ticket->size = 0;
			gnutls_session_get_data2(c, ticket);
		}
	}
	t = now_thread_cpu();
	gnutls_deinit(s);
	spent += now_thread_cpu() - t;
	gnutls_deinit(c);
	return rc == 0 && rs == 0 ? spent : -1;
}

static int cmd_limit(void)
{
	gnutls_datum_t ticket = { NULL, 0 };
	unsigned long n = 0, resumed = 0;
	double server = 0, start;
	bool r = false;

	if (!opt_cert || !opt_key)
		die("limit", "--cert and --key are required");
	bare_init();
	if (gnutls_certificate_allocate_credentials(&client_cred) < 0 ||
	    gnutls_priority_init(&client_prio, CLIENT_PRIO, NULL) < 0)
		die("limit", "GnuTLS set-up");
	if (limit_once(&ticket, &r) < 0)	/* warm-up, and the first ticket */
		die("limit", "the in-memory handshake failed");
	start = now_mono();
	while (now_mono() - start < opt_seconds) {
		double t = limit_once(&ticket, &r);

		if (t < 0)
			die("limit", "the in-memory handshake failed");
		server += t;
		n++;
		resumed += r;
	}
	printf("handshakes=%lu resumed=%lu server_cpu_ms=%.4f rate_per_core=%.1f\n", n, resumed,
	       server * 1000.0 / (double)n, (double)n / server);
	gnutls_free(ticket.data);
	return 0;
}

/* ------------------------------------------------------------ latency */

struct lat_client {
	int fd;
	int ret;
};

static void *lat_client_thread(void *arg)
{
	struct lat_client *lc = arg;
	gnutls_session_t s;
	char buf[64];
	int ret;

	gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL | GNUTLS_NO_TICKETS);
	gnutls_priority_set(s, client_prio);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, client_cred);
	gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
	gnutls_transport_set_int(s, lc->fd);
	gnutls_handshake_set_timeout(s, 20000);
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	lc->ret = ret;
	if (ret == 0) {
		gnutls_bye(s, GNUTLS_SHUT_WR);
		while ((ret = (int)gnutls_record_recv(s, buf, sizeof(buf))) > 0)
			;
	}
	gnutls_deinit(s);
	return NULL;
}

/*
 * Server-side wall time of one handshake, from session creation to return;
 * *cpu gets the server thread's CPU time for it (steadier on a busy machine).
 */
static double lat_once(int lfd, int port, bool bare, double *cpu)
{
	struct lat_client lc = { .fd = tcp_connect(port) };
	pthread_t t;
	double t0, c0, spent = -1;
	char buf[64];
	int fd, ret;

	if (lc.fd < 0 || (fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		die("latency", strerror(errno));
	pthread_create(&t, NULL, lat_client_thread, &lc);
	c0 = now_thread_cpu();
	t0 = now_mono();
	if (bare) {
		gnutls_session_t s = bare_session(fd);

		do
			ret = gnutls_handshake(s);
		while (ret < 0 && !gnutls_error_is_fatal(ret));
		if (ret == 0) {
			spent = now_mono() - t0;
			*cpu = now_thread_cpu() - c0;
			while (gnutls_record_recv(s, buf, sizeof(buf)) > 0)
				;
			gnutls_bye(s, GNUTLS_SHUT_WR);
		}
		gnutls_deinit(s);
	} else {
		struct handoff *h = handoff_server(server_cfg, fd);

		if (h && handoff_handshake(h) == 0) {
			spent = now_mono() - t0;
			*cpu = now_thread_cpu() - c0;
			while (handoff_read(h, buf, sizeof(buf)) > 0)
				;
			handoff_close(h);
		} else if (h) {
			fprintf(stderr, "hsbench: latency: %s\n", handoff_error(h));
		}
		handoff_free(h);
	}
	close(fd);
	pthread_join(t, NULL);
	close(lc.fd);
	return spent;
}

static int cmd_latency(void)
{
	double *bare = calloc((size_t)opt_n, sizeof(double));
	double *ours = calloc((size_t)opt_n, sizeof(double));
	double *bare_cpu = calloc((size_t)opt_n, sizeof(double));
	double *ours_cpu = calloc((size_t)opt_n, sizeof(double));
	double dummy;
	int lfd, port = 0, i;

	if (!bare || !ours || !bare_cpu || !ours_cpu || !opt_cert || !opt_key)
		die("latency", "--cert and --key are required");
	bare_init();
	server_cfg = handoff_config_new();
	if (!server_cfg || handoff_config_set_keypair_file(server_cfg, opt_cert, opt_key) < 0)
		die("config", "keypair");
	handoff_config_insecure_userspace_fallback(server_cfg);
	if (gnutls_certificate_allocate_credentials(&client_cred) < 0 ||
	    gnutls_priority_init(&client_prio, CLIENT_PRIO, NULL) < 0)
		die("latency", "GnuTLS set-up");
	lfd = tcp_listener(&port);
	lat_once(lfd, port, true, &dummy);	/* warm-up both paths */
	lat_once(lfd, port, false, &dummy);
	for (i = 0; i < opt_n; i++) {
		/* Interleaved, so drifting load hits both alike. */
		bare[i] = lat_once(lfd, port, true, &bare_cpu[i]);
		ours[i] = lat_once(lfd, port, false, &ours_cpu[i]);
		if (bare[i] < 0 || ours[i] < 0)
			die("latency", "a handshake failed");
	}
	{
		double bp50 = percentile(bare, (size_t)opt_n, 0.50), bp99 = percentile(bare, (size_t)opt_n, 0.99);
		double op50 = percentile(ours, (size_t)opt_n, 0.50), op99 = percentile(ours, (size_t)opt_n, 0.99);

		printf("n=%d bare_p50_us=%.1f bare_p99_us=%.1f handoff_p50_us=%.1f handoff_p99_us=%.1f"
		       " added_p50_us=%.1f added_p99_us=%.1f\n", opt_n, bp50 * 1e6, bp99 * 1e6,
		       op50 * 1e6, op99 * 1e6, (op50 - bp50) * 1e6, (op99 - bp99) * 1e6);
		bp50 = percentile(bare_cpu, (size_t)opt_n, 0.50);
		op50 = percentile(ours_cpu, (size_t)opt_n, 0.50);
		printf("cpu bare_cpu_p50_us=%.1f handoff_cpu_p50_us=%.1f added_cpu_p50_us=%.1f\n",
		       bp50 * 1e6, op50 * 1e6, (op50 - bp50) * 1e6);
	}
	free(bare);
	free(ours);
	free(bare_cpu);
	free(ours_cpu);
	return 0;
}

/* ------------------------------------------------------- handoff-cost */

static int cmd_handoff_cost(void)
{
	struct tls12_crypto_info_aes_gcm_128 ci;
	struct handoff_kernel_info info;
	double *v = calloc((size_t)opt_n, sizeof(double)), *pr = calloc(5, sizeof(double));
	int lfd, port = 0, i;

	if (!v || !pr)
		die("handoff-cost", "out of memory");
	memset(&ci, 0, sizeof(ci));
	ci.info.version = TLS_1_3_VERSION;
	ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
	memset(ci.key, 0x11, sizeof(ci.key));
	memset(ci.iv, 0x22, sizeof(ci.iv));
	memset(ci.salt, 0x33, sizeof(ci.salt));
	lfd = tcp_listener(&port);
	for (i = 0; i < opt_n; i++) {
		int c = tcp_connect(port), s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		double t0 = now_mono();

		if (c < 0 || s < 0)
			die("handoff-cost", strerror(errno));
		if (setsockopt(s, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0 ||
		    setsockopt(s, SOL_TLS, TLS_TX, &ci, sizeof(ci)) < 0 ||
		    setsockopt(s, SOL_TLS, TLS_RX, &ci, sizeof(ci)) < 0) {
			printf("no kTLS here: %s\n", strerror(errno));
			return 77;
		}
		v[i] = now_mono() - t0;
		close(c);
		close(s);
	}
	for (i = 0; i < 5; i++) {
		double t0 = now_mono();

		if (handoff_kernel_probe(&info, 1) < 0)
			die("probe", strerror(errno));
		pr[i] = now_mono() - t0;
	}
	printf("n=%d handoff_p50_us=%.1f handoff_p99_us=%.1f probe_us=%.1f\n", opt_n,
	       percentile(v, (size_t)opt_n, 0.5) * 1e6, percentile(v, (size_t)opt_n, 0.99) * 1e6,
	       percentile(pr, 5, 0.5) * 1e6);
	free(v);
	free(pr);
	return 0;
}

/* --------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "threads", required_argument, NULL, 't' },
		{ "clients", required_argument, NULL, 'C' },
		{ "port", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 's' },
		{ "server-pid", required_argument, NULL, 'P' },
		{ "n", required_argument, NULL, 'n' },
		{ "bare", no_argument, NULL, 'b' },
		{ "resume", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	int o;

	if (argc < 2)
		die("usage", "hsbench server|load|limit|latency|handoff-cost [OPTIONS]");
	cmd = argv[1];
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': opt_cert = optarg; break;
		case 'k': opt_key = optarg; break;
		case 't': opt_threads = atoi(optarg); break;
		case 'C': opt_clients = atoi(optarg); break;
		case 'p': opt_port = atoi(optarg); break;
		case 's': opt_seconds = atof(optarg); break;
		case 'P': opt_server_pid = atol(optarg); break;
		case 'n': opt_n = atoi(optarg); break;
		case 'b': opt_bare = true; break;
		case 'r': opt_resume = true; break;
		default: die("usage", "unknown option");
		}
	}
	if (opt_threads < 1 || opt_clients < 1 || opt_n < 1 || opt_seconds <= 0)
		die("usage", "counts must be positive");
	signal(SIGPIPE, SIG_IGN);
	if (gnutls_global_init() < 0)
		die("gnutls", "global init");
	if (!strcmp(cmd, "server"))
		return cmd_server();
	if (!strcmp(cmd, "load"))
		return cmd_load();
	if (!strcmp(cmd, "limit"))
		return cmd_limit();
	if (!strcmp(cmd, "latency"))
		return cmd_latency();
	if (!strcmp(cmd, "handoff-cost"))
		return cmd_handoff_cost();
	die("usage", "unknown command");
	return 2;
}
