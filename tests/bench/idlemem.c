/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * idlemem - user-space memory per idle connection of a server someone else
 * runs (a program under the shim, the same program plain, stunnel ...).
 *
 *   idlemem --pid PID --port PORT [--n N] [--warm W] [--tls]
 *
 * Opens W connections (warm-up: the first ones pay for one-time set-up),
 * reads the server's memory, opens N more, reads it again, and prints the
 * growth per connection.  Each connection is proven established before it
 * counts: one byte goes out and the server's echo comes back (through TLS
 * with --tls, TLS 1.3 AES-128-GCM, no tickets, certificate not checked:
 * this measures memory, not trust), so a server under the shim has done
 * its whole handshake and hand-off.  Then the connection stays idle.
 *
 * Printed, one line: conns=N and, for each of VmRSS (status) and Rss,
 * Anonymous, Private_Dirty (smaps_rollup), before, after and per
 * connection.  The server must echo (tests/shim/epoll_echo does).
 * Needs a kernel with kTLS under the server; run it in the VM
 * (tests/bench/idle-shim.sh).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

struct mem {
	long vmrss, rss, anon, dirty;	/* bytes */
};

static void die(const char *what, const char *why)
{
	fprintf(stderr, "idlemem: %s: %s\n", what, why);
	exit(1);
}

static long field_kb(const char *path, const char *name)
{
	char line[256];
	size_t len = strlen(name);
	long kb = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':') {
			kb = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

static struct mem mem_of(long pid)
{
	char st[64], sr[64];
	struct mem m;

	snprintf(st, sizeof(st), "/proc/%ld/status", pid);
	snprintf(sr, sizeof(sr), "/proc/%ld/smaps_rollup", pid);
	m.vmrss = field_kb(st, "VmRSS");
	m.rss = field_kb(sr, "Rss");
	m.anon = field_kb(sr, "Anonymous");
	m.dirty = field_kb(sr, "Private_Dirty");
	if (m.vmrss < 0 || m.rss < 0)
		die("reading the server's memory", strerror(errno));
	return m;
}

static int connect_to(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* One connection, proven by an echoed byte; the client keeps only the socket. */
static void open_one(int port, bool tls)
{
	static gnutls_certificate_credentials_t cred;
	int fd = connect_to(port);
	gnutls_session_t s;
	char c = 'x';
	int ret;

	if (!tls) {
		if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1 || c != 'x')
			die("plain echo", "no echo");
		return;
	}
	if (!cred && gnutls_certificate_allocate_credentials(&cred) < 0)
		die("GnuTLS", "credentials");
	gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_TICKETS);
	gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM", NULL);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
	gnutls_transport_set_int(s, fd);
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0)
		die("TLS handshake", gnutls_strerror(ret));
	if (gnutls_record_send(s, &c, 1) != 1)
		die("TLS send", "failed");
	do
		ret = (int)gnutls_record_recv(s, &c, 1);
	while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
	if (ret != 1 || c != 'x')
		die("TLS echo", ret < 0 ? gnutls_strerror(ret) : "no echo");
	/* The socket stays open; the client's own session is not what is measured. */
	gnutls_deinit(s);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' }, { "port", required_argument, NULL, 'P' },
		{ "n", required_argument, NULL, 'n' },	 { "warm", required_argument, NULL, 'w' },
		{ "tls", no_argument, NULL, 't' },	 { NULL, 0, NULL, 0 },
	};
	struct rlimit rl = { 65536, 65536 };
	long pid = 0, n = 1000, warm = 16, i;
	int port = 0, opt;
	bool tls = false;
	struct mem a, b;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': pid = strtol(optarg, NULL, 10); break;
		case 'P': port = atoi(optarg); break;
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'w': warm = strtol(optarg, NULL, 10); break;
		case 't': tls = true; break;
		default: die("usage", "idlemem --pid PID --port PORT [--n N] [--warm W] [--tls]");
		}
	}
	if (pid <= 0 || port <= 0 || n <= 0)
		die("usage", "idlemem --pid PID --port PORT [--n N] [--warm W] [--tls]");
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < warm; i++)
		open_one(port, tls);
	usleep(300000);
	a = mem_of(pid);
	for (i = 0; i < n; i++)
		open_one(port, tls);
	usleep(300000);
	b = mem_of(pid);
	printf("conns=%ld vmrss=%ld..%ld rss=%ld..%ld anon=%ld..%ld dirty=%ld..%ld "
	       "vmrss_per_conn=%.0f anon_per_conn=%.0f dirty_per_conn=%.0f\n",
	       n, a.vmrss, b.vmrss, a.rss, b.rss, a.anon, b.anon, a.dirty, b.dirty,
	       (double)(b.vmrss - a.vmrss) / (double)n, (double)(b.anon - a.anon) / (double)n,
	       (double)(b.dirty - a.dirty) / (double)n);
	return 0;
}
