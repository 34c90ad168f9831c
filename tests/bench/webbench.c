/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * webbench - the client, and the raw kernel-TLS file server, of the shim's
 * rows in tests/bench/bench.sh (tests/bench/vm-shim.sh runs it in the VM).
 *
 *   webbench get --port P --path /F --mode plain|tls|raw --sum S --bytes N [--ca CA]
 *	One HTTP/1.1 GET over loopback; the body is read to its end and its
 *	checksum compared with S (from `webbench sum`).  The client is the same
 *	for every row: with --mode tls it is libhandoff with kernel TLS on
 *	both directions (TLS 1.3, AES-128-GCM only), so the client decrypts in
 *	the kernel exactly as the raw pair's receiver does; with raw it sets
 *	the raw pair's fixed keys.  Prints "bytes=N secs=T sum=S curr_tx=C":
 *	C is the kernel's TlsCurrTxSw+TlsCurrTxDevice read while the
 *	connection is still open (the server keeps it alive), so C-1 tells
 *	whether the server's end sends with kernel TLS (the client is the 1).
 *	Exits 1 when the status, the length or the checksum is wrong.
 *
 *   webbench sum --file F
 *	Prints "sum=S bytes=N" for F: the checksum `get` compares with.
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

#include "handoff.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define BUF (256 * 1024)

static const char *opt_path = "/", *opt_mode = "plain", *opt_ca, *opt_file, *opt_sum;
static long long opt_bytes = -1;
static long opt_n = 1000, opt_warm = 16;
static int opt_port;

static _Noreturn void die(const char *what, const char *why)
{
	fprintf(stderr, "webbench: %s: %s\n", what, why);
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

/* ------------------------------------------------------------ checksum */

/*
 * A Fletcher-style sum over little-endian 64-bit words: cheap enough that
 * the client does not become the bottleneck under TCG, yet any lost,
 * repeated or swapped chunk changes it.  Chunk boundaries do not matter.
 */
struct sum {
	uint64_t a, b, len;
	unsigned char part[8];
	unsigned np;
};

static void sum_word(struct sum *s, const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	s->a += w;
	s->b += s->a;
}

static void sum_add(struct sum *s, const unsigned char *p, size_t n)
{
	s->len += n;
	while (s->np && n) {
		s->part[s->np++] = *p++;
		n--;
		if (s->np == 8) {
			sum_word(s, s->part);
			s->np = 0;
		}
	}
	for (; n >= 8; p += 8, n -= 8)
		sum_word(s, p);
	while (n--)
		s->part[s->np++] = *p++;
}

static void sum_hex(struct sum *s, char out[49])
{
	if (s->np) {
		memset(s->part + s->np, 0, 8 - s->np);
		sum_word(s, s->part);
		s->np = 0;
	}
	snprintf(out, 49, "%016llx%016llx%016llx", (unsigned long long)s->a,
		 (unsigned long long)s->b, (unsigned long long)s->len);
}

/* ------------------------------------------------------------- sockets */

static int connect_port(int port)
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

/* The raw pair's keys: the same fixed TLS 1.3 AES-128-GCM keys as dpbench. */
static void raw_key(int fd, int dir)
{
	struct tls12_crypto_info_aes_gcm_128 ci;

	memset(&ci, 0, sizeof(ci));
	ci.info.version = TLS_1_3_VERSION;
	ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
	memset(ci.key, 0x5a, sizeof(ci.key));
	memset(ci.iv, 0xa5, sizeof(ci.iv));
	memset(ci.salt, 0x3c, sizeof(ci.salt));
	if (dir == TLS_TX && setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		die("TCP_ULP", strerror(errno));
	if (setsockopt(fd, SOL_TLS, dir, &ci, sizeof(ci)) < 0)
		die(dir == TLS_TX ? "TLS_TX" : "TLS_RX", strerror(errno));
}

/* TlsCurrTxSw + TlsCurrTxDevice: kernel-TLS senders open right now. */
static long curr_tx(void)
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

/* ----------------------------------------------------------------- get */

struct conn {
	int fd;
	struct handoff *h;
};

static ssize_t conn_read(struct conn *c, void *buf, size_t len)
{
	return c->h ? handoff_read(c->h, buf, len) : read(c->fd, buf, len);
}

static void conn_write_all(struct conn *c, const char *p, size_t len)
{
	while (len) {
		ssize_t n = c->h ? handoff_write(c->h, p, len) : write(c->fd, p, len);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			die("request", c->h ? handoff_error(c->h) : strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}

static void tls_client(struct conn *c)
{
	struct handoff_config *cfg = handoff_config_new();

	if (!cfg || handoff_config_set_protocols(cfg, HANDOFF_PROTOCOL_TLSv1_3) < 0 ||
	    handoff_config_set_ciphers(cfg, "AES-128-GCM") < 0)
		die("config", "set-up");
	if (!opt_ca || handoff_config_add_ca_file(cfg, opt_ca) < 0)
		die("CA", opt_ca ? handoff_config_error(cfg) : "--ca is needed with --mode tls");
	c->h = handoff_client(cfg, c->fd, "localhost");
	handoff_config_free(cfg);
	if (!c->h || handoff_handshake(c->h) < 0)
		die("handshake", c->h ? handoff_error(c->h) : strerror(errno));
	/* The same client for every row: it must decrypt in the kernel, never in GnuTLS. */
	if (!handoff_conn_ktls(c->h))
		die("handshake", "the kernel did not take the client's keys");
}

/* Reads the response header into buf; returns its length, *body the bytes after it. */
static size_t read_header(struct conn *c, char *buf, size_t *have, long long *clen)
{
	char *end = NULL, *p;
	size_t hlen;

	*have = 0;
	while (!end) {
		ssize_t n;

		if (*have >= 16384)
			die("response", "no end of header in 16 KiB");
		n = conn_read(c, buf + *have, 16384 - *have);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			die("response", n == 0 ? "EOF in the header" : c->h ? handoff_error(c->h) : strerror(errno));
		}
		*have += (size_t)n;
		buf[*have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	hlen = (size_t)(end - buf) + 4;
	if (strncmp(buf, "HTTP/1.1 200 ", 13) && strncmp(buf, "HTTP/1.0 200 ", 13)) {
		*strchr(buf, '\r') = '\0';
		die("response", buf);
	}
	*clen = -1;
	for (p = buf; p && p < end; p = strstr(p, "\r\n"), p = p ? p + 2 : NULL)
		if (!strncasecmp(p, "Content-Length:", 15))
			*clen = atoll(p + 15);
	if (*clen < 0)
		die("response", "no Content-Length");
	return hlen;
}

static int cmd_get(void)
{
	struct conn c = { .fd = connect_port(opt_port) };
	char req[512], hex[49], *buf = malloc(BUF + 1);
	struct sum s = { 0 };
	size_t have, hlen;
	long long clen, got;
	double t0, t1, c0;
	long tx;
	int bad = 0;

	if (!buf)
		die("get", "out of memory");
	if (!strcmp(opt_mode, "tls")) {
		tls_client(&c);
	} else if (!strcmp(opt_mode, "raw")) {
		raw_key(c.fd, TLS_TX);
		raw_key(c.fd, TLS_RX);
	} else if (strcmp(opt_mode, "plain")) {
		die("--mode", opt_mode);
	}
	/* Keep-alive: the server's end stays open while the client reads tls_stat. */
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", opt_path);
	t0 = now_mono();
	c0 = self_cpu();
	conn_write_all(&c, req, strlen(req));
	hlen = read_header(&c, buf, &have, &clen);
	got = (long long)(have - hlen);
	sum_add(&s, (unsigned char *)buf + hlen, have - hlen);
	while (got < clen) {
		size_t want = clen - got < BUF ? (size_t)(clen - got) : BUF;
		ssize_t n = conn_read(&c, buf, want);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			fprintf(stderr, "webbench: body: %s after %lld of %lld bytes\n",
				n == 0 ? "EOF" : c.h ? handoff_error(c.h) : strerror(errno), got, clen);
			return 1;
		}
		sum_add(&s, (unsigned char *)buf, (size_t)n);
		got += n;
	}
	t1 = now_mono();
	tx = curr_tx();
	sum_hex(&s, hex);
	printf("bytes=%lld secs=%.4f sum=%s curr_tx=%ld client_cpu=%.4f\n", got, t1 - t0, hex, tx,
	       self_cpu() - c0);
	if (got != clen || (opt_bytes >= 0 && got != opt_bytes)) {
		fprintf(stderr, "webbench: got %lld bytes, want %lld\n", got, opt_bytes);
		bad = 1;
	}
	if (opt_sum && strcmp(hex, opt_sum)) {
		fprintf(stderr, "webbench: checksum %s, want %s\n", hex, opt_sum);
		bad = 1;
	}
	handoff_free(c.h);
	close(c.fd);
	free(buf);
	return bad;
}

static int cmd_sum(void)
{
	int fd = open(opt_file, O_RDONLY | O_CLOEXEC);
	char hex[49], *buf = malloc(BUF);
	struct sum s = { 0 };
	ssize_t n;

	if (fd < 0 || !buf)
		die(opt_file, strerror(errno));
	while ((n = read(fd, buf, BUF)) > 0)
		sum_add(&s, (unsigned char *)buf, (size_t)n);
	if (n < 0)
		die(opt_file, strerror(errno));
	sum_hex(&s, hex);
	printf("sum=%s bytes=%llu\n", hex, (unsigned long long)s.len);
	free(buf);
	close(fd);
	return 0;
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
		{ "sum", required_argument, NULL, 's' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "file", required_argument, NULL, 'f' },
		{ "root", required_argument, NULL, 'f' },
		{ "n", required_argument, NULL, 'n' },
		{ "warm", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	int o;

	if (argc < 2)
		die("usage", "webbench get | sum | raw-serve | hold [OPTIONS]");
	cmd = argv[1];
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': opt_port = atoi(optarg); break;
		case 'P': opt_path = optarg; break;
		case 'm': opt_mode = optarg; break;
		case 'a': opt_ca = optarg; break;
		case 's': opt_sum = optarg; break;
		case 'b': opt_bytes = atoll(optarg); break;
		case 'f': opt_file = optarg; break;
		case 'n': opt_n = atol(optarg); break;
		case 'w': opt_warm = atol(optarg); break;
		default: die("usage", "unknown option");
		}
	}
	if (opt_n < 0 || opt_warm < 0)
		die("usage", "counts must not be negative");
	signal(SIGPIPE, SIG_IGN);
	gnutls_global_init();
	if (!strcmp(cmd, "sum")) {
		if (!opt_file)
			die("sum", "--file is needed");
		return cmd_sum();
	}
	if (opt_port <= 0 || opt_port > 65535)
		die("usage", "--port is needed");
	if (!strcmp(cmd, "get"))
		return cmd_get();
	if (!strcmp(cmd, "raw-serve"))
		return cmd_raw_serve();
	if (!strcmp(cmd, "hold"))
		return cmd_hold();
	die("usage", "unknown command");
}
