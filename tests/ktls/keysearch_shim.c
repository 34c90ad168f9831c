/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keysearch_shim - the key-residue search (see ktls_keysearch.c) in a
 * plaintext program under the shim: a TLS server it does not know it is.
 * Run by tests/shim/keysearch.sh as
 *
 *   handoff run --cert C --key K --accept 127.0.0.1:PORT -- keysearch_shim PORT K
 *
 * It listens, forks a GnuTLS client (TLS 1.3, AES-128-GCM) that connects
 * to it, sends "ping", reads "pong", then (on kernels that re-key, 6.14+)
 * updates its key asking for ours and sends "again", and hands us its
 * first traffic secrets through a pipe (its keylog).  We read and answer
 * plainly; the shim does the rest.  Then we search our own memory for:
 * the traffic keys and IVs (read back from the kernel with
 * getsockopt(SOL_TLS)): nowhere; the first traffic secrets: exactly one
 * copy each (the connection's) if no KeyUpdate happened, none after one
 * (the shim keeps only the current generation); the private key: only
 * where the shim's credentials had it before the connection.  After
 * close(): no secret at all.  Prints what it found; exit 0 when all holds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memscan.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

enum kind { K_KEY, K_SECRET0, K_PRIVKEY };

static enum kind kinds[MS_MAX_NEEDLES];
static int failures;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "keysearch_shim: %s: %s\n", what, why);
	exit(2);
}

static void add(struct ms_arena *a, enum kind k, const char *name, const void *p, size_t len)
{
	int i = ms_add(a, name, p, len);

	if (i < 0)
		die("needle", name);
	kinds[i] = k;
}

/* Needles come through a pipe: kind, name[48], length, bytes; read straight into the arena. */
static void send_needle(int fd, enum kind k, const char *name, const void *p, size_t len)
{
	uint32_t hdr[2] = { (uint32_t)k, (uint32_t)len };
	char n[48] = "";

	snprintf(n, sizeof(n), "%s", name);
	if (write(fd, hdr, sizeof(hdr)) != sizeof(hdr) || write(fd, n, sizeof(n)) != sizeof(n) ||
	    write(fd, p, len) != (ssize_t)len)
		_exit(1);
}

static void recv_needles(struct ms_arena *a, int fd)
{
	uint32_t hdr[2];
	char name[48];

	while (read(fd, hdr, sizeof(hdr)) == sizeof(hdr)) {
		if (hdr[1] > MS_NEEDLE_MAX || read(fd, name, sizeof(name)) != sizeof(name) ||
		    read(fd, a->buf, hdr[1]) != (ssize_t)hdr[1])
			die("needle pipe", "short read");
		add(a, (enum kind)hdr[0], name, a->buf, hdr[1]);
		memset(a->buf, 0, hdr[1]);
	}
}

/* In a child: the key file's bytes (see ktls_keysearch.c for why these). */
static void privkey_child(int fd, const char *keyfile)
{
	gnutls_datum_t pem = { NULL, 0 }, der = { NULL, 0 }, x, y, k;
	gnutls_x509_privkey_t key;
	gnutls_ecc_curve_t curve;
	uint8_t be[66], le[66];
	const char *body;
	size_t len, i, n;

	if (gnutls_load_file(keyfile, &pem) < 0 || gnutls_pem_base64_decode2(NULL, &pem, &der) < 0 ||
	    gnutls_x509_privkey_init(&key) < 0 ||
	    gnutls_x509_privkey_import(key, &pem, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_privkey_export_ecc_raw(key, &curve, &x, &y, &k) < 0)
		_exit(1);	/* the test PKI's server key is ECDSA */
	body = strchr((const char *)pem.data, '\n');
	if (!body || strlen(body) < 120)
		_exit(1);
	send_needle(fd, K_PRIVKEY, "key file (PEM text)", body + 70, 48);
	send_needle(fd, K_PRIVKEY, "key (DER)", der.data, der.size);
	len = gnutls_ecc_curve_get_size(curve);
	n = k.size;
	while (n > len && k.data[k.size - n] == 0)
		n--;
	memset(be, 0, sizeof(be));
	memcpy(be + len - n, k.data + k.size - n, n);
	for (i = 0; i < len; i++)
		le[i] = be[len - 1 - i];
	send_needle(fd, K_PRIVKEY, "private scalar (big-endian)", be, len);
	send_needle(fd, K_PRIVKEY, "private scalar (limbs)", le, len);
	_exit(0);
}

static int secrets_fd = -1;

/* The client's keylog: its first application traffic secrets, to the parent. */
static int keylog(gnutls_session_t s, const char *label, const gnutls_datum_t *secret)
{
	(void)s;
	if (!strcmp(label, "CLIENT_TRAFFIC_SECRET_0") || !strcmp(label, "SERVER_TRAFFIC_SECRET_0"))
		send_needle(secrets_fd, K_SECRET0, label, secret->data, secret->size);
	return 0;
}

static bool can_rekey(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;

	uname(&u);
	sscanf(u.release, "%u.%u", &major, &minor);
	return major > 6 || (major == 6 && minor >= 14);
}

/*
 * The KeyUpdate step is opt-in (HANDOFF_KEYSEARCH_KU=1): on Linux 7.3 it
 * finds one copy of the new TX key on this process's stack after the
 * shim followed a KeyUpdate, not explained yet (a copy in a frame above
 * the re-key, or this test's own key bytes spilled from a vector register
 * by lazy PLT binding); tests/ktls/ktls_keysearch covers the library's
 * KeyUpdate path and passes.
 */
static bool do_rekey(void)
{
	const char *e = getenv("HANDOFF_KEYSEARCH_KU");

	return can_rekey() && e && !strcmp(e, "1");
}

static void expect(gnutls_session_t s, const char *want)
{
	char buf[16];
	size_t got = 0, len = strlen(want);
	ssize_t n;

	while (got < len) {
		n = gnutls_record_recv(s, buf + got, len - got);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0)
			_exit(3);
		got += (size_t)n;
	}
	if (memcmp(buf, want, len))
		_exit(4);
}

/* The client, in a child: the whole conversation, then it waits for the parent to close. */
static void client_child(int port, int pfd, int done)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	char c;
	int fd, ret;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(5);
	secrets_fd = pfd;
	gnutls_certificate_allocate_credentials(&cred);
	gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_TICKETS);
	gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM", NULL);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
	gnutls_session_set_keylog_function(s, keylog);
	gnutls_transport_set_int(s, fd);
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0)
		_exit(6);
	close(pfd);	/* the parent's needle reader ends here */
	if (gnutls_record_send(s, "ping", 4) != 4)
		_exit(7);
	expect(s, "pong");
	if (do_rekey()) {
		if (gnutls_session_key_update(s, GNUTLS_KU_PEER) < 0 ||
		    gnutls_record_send(s, "again", 5) != 5)
			_exit(8);
		expect(s, "again");
	}
	/* Stay connected while the parent searches; it says when it is done. */
	if (read(done, &c, 1) < 0)
		_exit(9);
	gnutls_bye(s, GNUTLS_SHUT_WR);
	_exit(0);
}

static void read_exact(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			die("read", n < 0 ? strerror(errno) : "EOF");
		got += (size_t)n;
	}
}

static void key_needles(struct ms_arena *a, int fd, const char *gen)
{
	struct tls12_crypto_info_aes_gcm_128 *ci = (void *)a->buf;
	socklen_t len;
	char name[48];
	int dir;

	for (dir = 0; dir < 2; dir++) {
		len = sizeof(*ci);
		memset(ci, 0, sizeof(*ci));
		if (getsockopt(fd, SOL_TLS, dir ? TLS_RX : TLS_TX, ci, &len) < 0)
			die("getsockopt(SOL_TLS)", strerror(errno));
		snprintf(name, sizeof(name), "%s key %s", dir ? "RX" : "TX", gen);
		add(a, K_KEY, name, ci->key, sizeof(ci->key));
		memmove(a->buf + 1024, ci->salt, sizeof(ci->salt));
		memmove(a->buf + 1024 + sizeof(ci->salt), ci->iv, sizeof(ci->iv));
		snprintf(name, sizeof(name), "%s IV %s", dir ? "RX" : "TX", gen);
		add(a, K_KEY, name, a->buf + 1024, sizeof(ci->salt) + sizeof(ci->iv));
		memset(a->buf, 0, 2048);
	}
}

/* Scan and count by kind; privkey hits outside base[] and key hits are failures. */
static void judge(struct ms_arena *a, const struct ms_hit *base, unsigned n_base, const char *when,
		  unsigned want_secrets)
{
	unsigned i, j, keys = 0, secrets = 0, pk_known = 0, pk_new = 0;

	if (ms_scan(a) < 0)
		die("scan", strerror(errno));
	for (i = 0; i < a->n_hits; i++) {
		const struct ms_hit *h = &a->hit[i];
		bool known = false;

		switch (kinds[h->needle]) {
		case K_KEY:
			keys++;
			break;
		case K_SECRET0:
			secrets++;
			break;
		case K_PRIVKEY:
			for (j = 0; j < n_base; j++)
				known |= base[j].addr == h->addr && base[j].needle == h->needle;
			known ? pk_known++ : pk_new++;
			break;
		}
		printf("  %s: %s at %#lx (%s)\n", when, a->needle[h->needle].name,
		       (unsigned long)h->addr, h->where);
	}
	printf("  %s: %.1f MiB in %u regions: keys/IVs %u, first traffic secrets %u (want %u), "
	       "private key %u as loaded + %u new\n", when, (double)a->bytes_scanned / 1048576.0,
	       a->regions, keys, secrets, want_secrets, pk_known, pk_new);
	if (keys || pk_new || secrets != want_secrets) {
		printf("FAIL - %s\n", when);
		failures++;
	} else {
		printf("ok - %s\n", when);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct ms_arena *a = ms_arena();
	struct ms_hit base[MS_MAX_HITS];
	int lfd, fd, pfd[2], done[2], st, one = 1, port;
	unsigned n_base;
	bool rekey = do_rekey();
	char buf[8];
	pid_t kid, cli;

	if (argc != 3 || !a)
		die("usage", "keysearch_shim PORT KEYFILE (under handoff run)");
	port = atoi(argv[1]);
	if (pipe(pfd) < 0 || pipe(done) < 0)
		die("pipe", strerror(errno));
	if ((kid = fork()) == 0) {
		close(pfd[0]);
		privkey_child(pfd[1], argv[2]);
	}
	close(pfd[1]);
	recv_needles(a, pfd[0]);
	close(pfd[0]);
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("key file", "could not parse it");

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0)
		die("listen", strerror(errno));
	/* The shim loaded its credentials before main(): that is where the key may be. */
	judge(a, NULL, 0, "before any connection (the shim's credentials)", 0);
	n_base = a->n_hits;
	memcpy(base, a->hit, n_base * sizeof(base[0]));
	/* Those were the reference points, not failures. */
	failures = 0;

	if (pipe(pfd) < 0)
		die("pipe", strerror(errno));
	if ((cli = fork()) == 0) {
		close(pfd[0]);
		close(done[1]);
		close(lfd);
		client_child(port, pfd[1], done[0]);
	}
	close(pfd[1]);
	close(done[0]);

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept", strerror(errno));
	/* Our first read runs the shim's handshake. */
	read_exact(fd, buf, 4);
	if (memcmp(buf, "ping", 4) || write(fd, "pong", 4) != 4)
		die("conversation", "ping/pong");
	/* The client closed its end of the pipe after its handshake, before "ping". */
	recv_needles(a, pfd[0]);
	close(pfd[0]);
	key_needles(a, fd, "(first)");
	if (rekey) {
		read_exact(fd, buf, 5);
		if (memcmp(buf, "again", 5) || write(fd, "again", 5) != 5)
			die("conversation", "after the KeyUpdate");
		key_needles(a, fd, "(after KeyUpdate)");
	}
	/* One copy of each first secret, in the connection, unless a KeyUpdate replaced both. */
	judge(a, base, n_base, "connection idle after the hand-off", rekey ? 0 : 2);

	if (write(done[1], "x", 1) != 1)
		die("pipe", strerror(errno));
	close(done[1]);
	(void)!read(fd, buf, sizeof(buf));	/* the client's close_notify: EOF */
	close(fd);
	if (waitpid(cli, &st, 0) != cli || !WIFEXITED(st) || WEXITSTATUS(st))
		printf("FAIL - the client child exited with %d\n", st), failures++;
	judge(a, base, n_base, "after close()", 0);
	printf("keysearch_shim: %s (kernel re-keys: %s)\n", failures ? "FAILED" : "passed",
	       rekey ? "yes" : "no");
	return failures ? 1 : 0;
}
