/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * webbench - the client, and the raw kernel-TLS file server, of the shim's
 * rows in tests/bench/bench.sh (tests/bench/vm-shim.sh runs it in the VM).
 *
 *   webbench get --port P --path /F --mode plain|tls|raw --file F [--ca CA] [--sample K]
 *	One HTTP/1.1 GET over loopback, the same client for every row (see
 *	webget.c for how it reads TLS without becoming the bottleneck); what
 *	arrives is compared with F, the file the server serves.  Prints
 *	"bytes=N secs=T checked=B curr_tx=C client_cpu=U": B bytes were
 *	decrypted and compared; C is the kernel's TlsCurrTxSw+TlsCurrTxDevice
 *	read while the connection is still open (keep-alive), and the client
 *	itself sends with kernel TLS only in raw mode, so C tells whether the
 *	server's end sends with kernel TLS; U is the client's own CPU time.
 *	Exits non-zero when the status, the length or a byte is wrong.
 *
 *   webbench raw-serve --port P --root DIR
 *	The limit of the path: a server that sets fixed TLS 1.3 AES-128-GCM
 *	keys on each accepted socket (no handshake), reads one request, writes
 *	an HTTP header and sendfile()s the file it names in DIR whole, like
 *	nginx does.  One connection at a time, until killed.
 *
 *   webbench hold --port P --mode plain|tls --warm W --n N
 *	Opens W connections (TLS: a full GnuTLS handshake each, then nothing),
 *	prints "warm W", waits for a line on stdin, opens N more, prints
 *	"held N" and keeps them all until stdin ends.  The caller measures the
 *	server's memory at both points.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "webbench.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define BUF (256 * 1024)

static const char *opt_path = "/", *opt_mode = "plain", *opt_ca, *opt_file;
static long opt_n = 1000, opt_warm = 16, opt_sample = 16;
static int opt_port;

_Noreturn void die(const char *what, const char *why)
{
	fprintf(stderr, "webbench: %s: %s\n", what, why);
	exit(2);
}

double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------- sockets */

int connect_port(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket", strerror(errno));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect", strerror(errno));
	return fd;
}

/* The raw pair's fixed TLS 1.3 AES-128-GCM keys (dpbench's): the static IV is salt || iv. */
const unsigned char raw_key_bytes[16] = { 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
					  0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a };
const unsigned char raw_iv_bytes[12] = { 0x3c, 0x3c, 0x3c, 0x3c, 0xa5, 0xa5,
					 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5 };

void raw_key(int fd, int dir)
{
	struct tls12_crypto_info_aes_gcm_128 ci;

	memset(&ci, 0, sizeof(ci));
	ci.info.version = TLS_1_3_VERSION;
	ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
	memcpy(ci.key, raw_key_bytes, sizeof(ci.key));
	memcpy(ci.salt, raw_iv_bytes, sizeof(ci.salt));
	memcpy(ci.iv, raw_iv_bytes + 4, sizeof(ci.iv));
	if (dir == TLS_TX && setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		die("TCP_ULP", strerror(errno));
	if (setsockopt(fd, SOL_TLS, dir, &ci, sizeof(ci)) < 0)
		die(dir == TLS_TX ? "TLS_TX" : "TLS_RX", strerror(errno));
}

/* TlsCurrTxSw + TlsCurrTxDevice: kernel-TLS senders open right now. */
long curr_tx(void)
{
	char key[64];
	long v, sum = 0;
	FILE *f = fopen("/proc/net/tls_stat", "re");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &v) == 2)
		if (!strcmp(key, "TlsCurrTxSw") || !strcmp(key, "TlsCurrTxDevice"))
			sum += v;
	fclose(f);
	return sum;
}

/* ----------------------------------------------------------- raw-serve */

/* The file a request names under --root: one plain name, nothing else. */
static int raw_open(const char *req, off_t *size)
{
	char path[4096];
	size_t n = strspn(req + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
	struct stat st;
	int file;

	if (strncmp(req, "GET /", 5) || n == 0 || req[5] == '.' || req[5 + n] != ' ')
		return -1;
	snprintf(path, sizeof(path), "%s/%.*s", opt_file, (int)n, req + 5);
	file = open(path, O_RDONLY | O_CLOEXEC);
	if (file >= 0 && fstat(file, &st) == 0) {
		*size = st.st_size;
		return file;
	}
	if (file >= 0)
		close(file);
	return -1;
}

static void raw_one(int fd)
{
	char req[4096], hdr[128];
	size_t have = 0;
	off_t off = 0, size = 0;
	int file;

	raw_key(fd, TLS_TX);
	raw_key(fd, TLS_RX);
	for (;;) {
		ssize_t n = read(fd, req + have, sizeof(req) - 1 - have);

		if (n <= 0)
			return;
		have += (size_t)n;
		req[have] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
		if (have == sizeof(req) - 1)
			return;
	}
	file = raw_open(req, &size);
	if (file < 0) {
		static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

		if (write(fd, nf, sizeof(nf) - 1) < 0)
			return;
		return;
	}
	snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n\r\n", (long long)size);
	if (write(fd, hdr, strlen(hdr)) == (ssize_t)strlen(hdr)) {
		while (off < size) {
			ssize_t n = sendfile(fd, file, &off,
					     size - off < (1 << 20) ? (size_t)(size - off) : 1 << 20);

			if (n <= 0 && !(n < 0 && errno == EINTR))
				break;
		}
	}
	close(file);
	/* Keep-alive, as nginx: the client closes when it has what it wants. */
	while (read(fd, req, sizeof(req)) > 0)
		;
}

static int cmd_raw_serve(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)opt_port) };
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (!opt_file)
		die("raw-serve", "--root is needed");
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 64) < 0)
		die("listen", strerror(errno));
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept", strerror(errno));
		}
		raw_one(fd);
		close(fd);
	}
}

/* ---------------------------------------------------------------- hold */

static gnutls_certificate_credentials_t hold_cred;

static void hold_open(long n, bool tls)
{
	long i;

	for (i = 0; i < n; i++) {
		int fd = connect_port(opt_port), ret;
		gnutls_session_t s;

		if (!tls)
			continue;
		gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_TICKETS);
		gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM", NULL);
		gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, hold_cred);
		gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
		gnutls_transport_set_int(s, fd);
		do
			ret = gnutls_handshake(s);
		while (ret < 0 && !gnutls_error_is_fatal(ret));
		if (ret < 0)
			die("hold handshake", gnutls_strerror(ret));
		/* Only the socket stays: the client's memory is not what is measured. */
		gnutls_deinit(s);
	}
}

static int cmd_hold(void)
{
	struct rlimit rl = { 65536, 65536 };
	bool tls = !strcmp(opt_mode, "tls");
	char line[64];

	if (!tls && strcmp(opt_mode, "plain"))
		die("--mode", opt_mode);
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	gnutls_certificate_allocate_credentials(&hold_cred);
	hold_open(opt_warm, tls);
	printf("warm %ld\n", opt_warm);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	hold_open(opt_n, tls);
	printf("held %ld\n", opt_n);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "path", required_argument, NULL, 'P' },
		{ "mode", required_argument, NULL, 'm' },
		{ "ca", required_argument, NULL, 'a' },
		{ "sample", required_argument, NULL, 's' },
		{ "file", required_argument, NULL, 'f' },
		{ "root", required_argument, NULL, 'f' },
		{ "n", required_argument, NULL, 'n' },
		{ "warm", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	int o;

	if (argc < 2)
		die("usage", "webbench get | raw-serve | hold [OPTIONS]");
	cmd = argv[1];
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': opt_port = atoi(optarg); break;
		case 'P': opt_path = optarg; break;
		case 'm': opt_mode = optarg; break;
		case 'a': opt_ca = optarg; break;
		case 's': opt_sample = atol(optarg); break;
		case 'f': opt_file = optarg; break;
		case 'n': opt_n = atol(optarg); break;
		case 'w': opt_warm = atol(optarg); break;
		default: die("usage", "unknown option");
		}
	}
	if (opt_n < 0 || opt_warm < 0 || opt_sample < 1)
		die("usage", "counts must not be negative");
	signal(SIGPIPE, SIG_IGN);
	gnutls_global_init();
	if (opt_port <= 0 || opt_port > 65535)
		die("usage", "--port is needed");
	if (!strcmp(cmd, "get")) {
		if (!opt_file || (!strcmp(opt_mode, "tls") && !opt_ca))
			die("get", "--file (and with --mode tls, --ca) is needed");
		return webget(opt_port, opt_mode, opt_path, opt_file, opt_ca, opt_sample);
	}
	if (!strcmp(cmd, "raw-serve"))
		return cmd_raw_serve();
	if (!strcmp(cmd, "hold"))
		return cmd_hold();
	die("usage", "unknown command");
}
