/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tls-peer - a scriptable GnuTLS peer for the interop tests: it sends
 * what gnutls-cli, gnutls-serv and openssl cannot be told to send, such as
 * zero-length application data records, a TLS 1.2 renegotiation, or a
 * ClientHello cut into fragments with data records between them.
 *
 *   tls-peer [--tls1.2|--tls1.3] --connect PORT STEP...
 *   tls-peer [--tls1.2|--tls1.3] --listen PORTFILE STEP...
 *
 * The client trusts $HANDOFF_PKI/ca.pem and asks for "localhost"; the
 * server presents $HANDOFF_PKI/server.pem and writes its port to PORTFILE
 * before it accepts one connection.  STEPs run in order:
 *
 *   send:TEXT      one record of TEXT
 *   empty[:N]      N (1) zero-length application data records
 *   expect:TEXT    read until exactly TEXT arrived (warning alerts are noted)
 *   reneg          client: start a renegotiation (gnutls_handshake), which
 *                  must be declined with a no_renegotiation warning;
 *                  server: send a HelloRequest (gnutls_rehandshake)
 *   hello:N:TEXT   client: a ClientHello in N handshake records, with a
 *                  data record of TEXT after each but the last
 *   declined       a no_renegotiation warning came, or comes before any data
 *   alert:DESC     a fatal alert (RFC number, e.g. 40 handshake_failure)
 *   bye            close_notify
 *   eof            read: the peer's close_notify and nothing else
 *   cork, uncork   TCP_CORK on and off: the records between go out in one
 *                  segment, so the receiver's kernel has them all at once
 *                  (an empty record right before close_notify, say)
 *   sleep:MS       wait, so the receiver has read what came before (a
 *                  receiver that has not would only make the step weaker)
 *   badmac:TEXT    one data record of TEXT whose last byte (the AEAD tag)
 *                  is flipped: the receiver must end the connection and
 *                  never hand TEXT (or any of it) to its reader
 *   oversize       one data record of 2^14 + 2049 bytes: longer than any
 *                  version allows (RFC 8446 5.2, RFC 5246 6.2.3), so it is
 *                  refused on its header, before any decryption
 *   ends           read until the connection ends (alert, close_notify, FIN
 *                  or reset); fail if any data arrives first
 *   shut           half-close (FIN) without close_notify, so a receiver
 *                  that would wait for more data sees the end at once
 *
 * Records the session would not send itself are sealed here with its
 * write key (tests/unit/recordcrypt), and its sequence number moved on.
 * Exit 0 when every step did what it says, 1 (with the step on stderr)
 * when not, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "ktls/ktls.h"
#include "recordcrypt.h"

#define IO_TIMEOUT_S 20

static gnutls_session_t sess;
static int sock = -1;
static bool is_server;
static unsigned declines;	/* no_renegotiation warnings not yet claimed by "declined" */

static void die(const char *step, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void die(const char *step, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tls-peer: %s: ", step);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static const char *pki(const char *name)
{
	static char path[4][512];
	static unsigned next;
	const char *dir = getenv("HANDOFF_PKI");
	char *out = path[next++ % 4];

	if (!dir || !*dir)
		die("setup", "HANDOFF_PKI is not set");
	snprintf(out, sizeof(path[0]), "%s/%s", dir, name);
	return out;
}

/* One record of type, sealed under the session's current write key; flip: corrupt its tag. */
static void seal_send_flip(const char *step, uint8_t type, const uint8_t *data, size_t len,
			   bool flip)
{
	struct ktls_crypto_info ci;
	uint8_t rec[RC_MAX_RECORD];
	unsigned char seq[8];
	size_t rec_len = sizeof(rec);
	uint64_t v = 0;
	int i, ret;

	ret = ktls_keys_from_session(sess, 0, &ci);
	if (ret < 0)
		die(step, "write key: %s", strerror(-ret));
	if (gnutls_record_get_state(sess, 0, NULL, NULL, NULL, seq) < 0)
		die(step, "write sequence number");
	for (i = 0; i < 8; i++)
		v = (v << 8) | seq[i];
	ret = rc_seal(&ci, v, type, data, len, 0, rec, &rec_len);
	memset(&ci, 0, sizeof(ci));
	if (ret == 0 && flip)
		rec[rec_len - 1] ^= 0x01;
	if (ret < 0 || rc_write_all(sock, rec, rec_len) < 0)
		die(step, "sealing or sending a record failed");
	for (i = 7, v++; i >= 0; i--, v >>= 8)
		seq[i] = (unsigned char)v;
	if (gnutls_record_set_state(sess, 0, seq) < 0)
		die(step, "moving the write sequence number");
}

static void seal_send(const char *step, uint8_t type, const uint8_t *data, size_t len)
{
	seal_send_flip(step, type, data, len, false);
}

/* One record from the peer: > 0 data, 0 close_notify, -1 a warning alert (noted). */
static ssize_t recv_one(const char *step, char *buf, size_t len)
{
	ssize_t n;

	for (;;) {
		n = gnutls_record_recv(sess, buf, len);
		if (n >= 0)
			return n;
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n == GNUTLS_E_WARNING_ALERT_RECEIVED) {
			int alert = gnutls_alert_get(sess);

			fprintf(stderr, "tls-peer: %s: warning alert %s\n", step,
				gnutls_alert_get_name(alert));
			if (alert == GNUTLS_A_NO_RENEGOTIATION)
				declines++;
			return -1;
		}
		if (n == GNUTLS_E_REHANDSHAKE) {
			/* A HelloRequest to a client: decline, as a server that cannot renegotiate would. */
			gnutls_alert_send(sess, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
			continue;
		}
		if (n == GNUTLS_E_FATAL_ALERT_RECEIVED)
			die(step, "peer sent fatal alert %s", gnutls_alert_get_name(gnutls_alert_get(sess)));
		die(step, "receive failed: %s", gnutls_strerror((int)n));
	}
}

static void step_expect(const char *step, const char *want)
{
	char buf[4096];
	size_t got = 0, len = strlen(want);
	ssize_t n;

	if (len > sizeof(buf))
		die(step, "text too long");
	while (got < len) {
		n = recv_one(step, buf + got, sizeof(buf) - got);
		if (n < 0)
			continue;
		if (n == 0)
			die(step, "close_notify after %zu of %zu bytes", got, len);
		got += (size_t)n;
	}
	if (got != len || memcmp(buf, want, len) != 0)
		die(step, "got \"%.*s\"", (int)got, buf);
}

/* client: renegotiate and see it declined; server: ask the client to. */
static void step_reneg(const char *step)
{
	int ret;

	if (is_server) {
		ret = gnutls_rehandshake(sess);
		if (ret < 0)
			die(step, "gnutls_rehandshake: %s", gnutls_strerror(ret));
		return;
	}
	do
		ret = gnutls_handshake(sess);
	while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
	if (ret == GNUTLS_E_WARNING_ALERT_RECEIVED &&
	    gnutls_alert_get(sess) == GNUTLS_A_NO_RENEGOTIATION) {
		fprintf(stderr, "tls-peer: %s: declined with no_renegotiation\n", step);
		return;
	}
	if (ret == 0)
		die(step, "the peer renegotiated");
	die(step, "renegotiation: %s (alert %s)", gnutls_strerror(ret),
	    gnutls_alert_get_name(gnutls_alert_get(sess)));
}

/* A TLS 1.2 ClientHello (the peer only declines it, so any plausible one does). */
static size_t client_hello(uint8_t *out, size_t cap)
{
	static const uint8_t suites[] = { 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e };
	uint8_t *p = out + 4;
	size_t body;

	if (cap < 4 + 2 + 32 + 1 + 2 + sizeof(suites) + 2 + 2 + 256)
		return 0;
	*p++ = 3;
	*p++ = 3;
	gnutls_rnd(GNUTLS_RND_NONCE, p, 32);
	p += 32;
	*p++ = 0;				/* session id */
	*p++ = 0;
	*p++ = sizeof(suites);
	memcpy(p, suites, sizeof(suites));
	p += sizeof(suites);
	*p++ = 1;				/* compression: null */
	*p++ = 0;
	*p++ = 1;				/* extensions, 256 bytes: one padding extension */
	*p++ = 0;
	*p++ = 0;
	*p++ = 21;
	*p++ = 0;
	*p++ = 252;
	memset(p, 0, 252);
	p += 252;
	body = (size_t)(p - out) - 4;
	out[0] = 1;
	out[1] = 0;
	out[2] = (uint8_t)(body >> 8);
	out[3] = (uint8_t)body;
	return 4 + body;
}

static void step_hello(const char *step, const char *arg)
{
	uint8_t msg[512];
	char *text;
	unsigned long parts = strtoul(arg, &text, 10);
	size_t len = client_hello(msg, sizeof(msg)), off = 0, cut;
	unsigned long i;

	if (is_server || parts == 0 || parts > 64 || *text != ':')
		die(step, "usage: hello:N:TEXT, client only");
	text++;
	for (i = 0; i < parts; i++) {
		cut = i + 1 == parts ? len - off : len / parts;
		seal_send(step, KTLS_RECORD_HANDSHAKE, msg + off, cut);
		off += cut;
		if (i + 1 < parts)
			seal_send(step, KTLS_RECORD_APPLICATION_DATA, (const uint8_t *)text,
				  strlen(text));
	}
}

static void step_declined(const char *step)
{
	char buf[64];
	ssize_t n;

	while (!declines) {
		n = recv_one(step, buf, sizeof(buf));
		if (n >= 0)
			die(step, "%s before a no_renegotiation warning", n ? "data" : "close_notify");
	}
	declines--;
}

/* The peer ends the connection, one way or another, without sending data first. */
static void step_ends(const char *step)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = gnutls_record_recv(sess, buf, sizeof(buf));
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_WARNING_ALERT_RECEIVED)
			continue;
		if (n > 0)
			die(step, "got %zd bytes of data: \"%.*s\"", n, (int)(n > 40 ? 40 : n), buf);
		if (n == 0)
			fprintf(stderr, "tls-peer: %s: close_notify\n", step);
		else if (n == GNUTLS_E_FATAL_ALERT_RECEIVED)
			fprintf(stderr, "tls-peer: %s: fatal alert %s\n", step,
				gnutls_alert_get_name(gnutls_alert_get(sess)));
		else
			fprintf(stderr, "tls-peer: %s: %s\n", step, gnutls_strerror((int)n));
		return;
	}
}

static void run_step(const char *step)
{
	char buf[64];
	ssize_t n;
	int ret;

	if (strncmp(step, "send:", 5) == 0) {
		n = gnutls_record_send(sess, step + 5, strlen(step + 5));
		if (n != (ssize_t)strlen(step + 5))
			die(step, "send: %s", n < 0 ? gnutls_strerror((int)n) : "short");
	} else if (strcmp(step, "empty") == 0 || strncmp(step, "empty:", 6) == 0) {
		unsigned long i, count = step[5] ? strtoul(step + 6, NULL, 10) : 1;

		for (i = 0; i < count; i++)
			seal_send(step, KTLS_RECORD_APPLICATION_DATA, NULL, 0);
	} else if (strncmp(step, "expect:", 7) == 0) {
		step_expect(step, step + 7);
	} else if (strcmp(step, "reneg") == 0) {
		step_reneg(step);
	} else if (strncmp(step, "hello:", 6) == 0) {
		step_hello(step, step + 6);
	} else if (strcmp(step, "declined") == 0) {
		step_declined(step);
	} else if (strncmp(step, "alert:", 6) == 0) {
		ret = gnutls_alert_send(sess, GNUTLS_AL_FATAL, atoi(step + 6));
		if (ret < 0)
			die(step, "%s", gnutls_strerror(ret));
	} else if (strcmp(step, "bye") == 0) {
		ret = gnutls_bye(sess, GNUTLS_SHUT_WR);
		if (ret < 0)
			die(step, "%s", gnutls_strerror(ret));
	} else if (strcmp(step, "cork") == 0 || strcmp(step, "uncork") == 0) {
		int on = step[0] == 'c';

		if (setsockopt(sock, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) < 0)
			die(step, "%s", strerror(errno));
	} else if (strncmp(step, "badmac:", 7) == 0) {
		seal_send_flip(step, KTLS_RECORD_APPLICATION_DATA, (const uint8_t *)step + 7,
			       strlen(step + 7), true);
	} else if (strcmp(step, "oversize") == 0) {
		static uint8_t big[5 + 16384 + 2049];
		size_t body = sizeof(big) - 5;

		big[0] = KTLS_RECORD_APPLICATION_DATA;
		big[1] = 3;
		big[2] = 3;
		big[3] = (uint8_t)(body >> 8);
		big[4] = (uint8_t)body;
		gnutls_rnd(GNUTLS_RND_NONCE, big + 5, body);
		if (rc_write_all(sock, big, sizeof(big)) < 0)
			die(step, "sending failed");
	} else if (strcmp(step, "ends") == 0) {
		step_ends(step);
	} else if (strcmp(step, "shut") == 0) {
		if (shutdown(sock, SHUT_WR) < 0)
			die(step, "%s", strerror(errno));
	} else if (strncmp(step, "sleep:", 6) == 0) {
		usleep((useconds_t)strtoul(step + 6, NULL, 10) * 1000);
	} else if (strcmp(step, "eof") == 0) {
		while ((n = recv_one(step, buf, sizeof(buf))) < 0)
			;
		if (n != 0)
			die(step, "data instead of close_notify");
	} else {
		fprintf(stderr, "tls-peer: unknown step \"%s\"\n", step);
		exit(2);
	}
	fprintf(stderr, "tls-peer: %s: ok\n", step);
}

static int tcp_connect(const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect", "%s", strerror(errno));
	return fd;
}

static int tcp_accept(const char *portfile)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	FILE *f;
	int l = socket(AF_INET, SOCK_STREAM, 0), fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) < 0)
		die("listen", "%s", strerror(errno));
	f = fopen(portfile, "w");
	if (!f || fprintf(f, "%u\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0)
		die("listen", "%s: %s", portfile, strerror(errno));
	fd = accept(l, NULL, NULL);
	if (fd < 0)
		die("accept", "%s", strerror(errno));
	close(l);
	return fd;
}

int main(int argc, char **argv)
{
	gnutls_certificate_credentials_t cred;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	const char *version = "1.3", *where = NULL, *err = NULL;
	char prio[128];
	int i, ret, one = 1;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--tls1.2") == 0 || strcmp(argv[i], "--tls1.3") == 0) {
			version = argv[i] + 5;
		} else if ((strcmp(argv[i], "--connect") == 0 || strcmp(argv[i], "--listen") == 0) &&
			   i + 1 < argc) {
			is_server = argv[i][2] == 'l';
			where = argv[++i];
		} else {
			break;
		}
	}
	if (!where) {
		fprintf(stderr, "usage: tls-peer [--tls1.2|--tls1.3] --connect PORT|--listen PORTFILE STEP...\n");
		return 2;
	}

	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_trust_file(cred, pki("ca.pem"), GNUTLS_X509_FMT_PEM) < 1)
		die("setup", "cannot load %s", pki("ca.pem"));
	if (is_server &&
	    gnutls_certificate_set_x509_key_file(cred, pki("server.pem"), pki("server-key.pem"),
						 GNUTLS_X509_FMT_PEM) < 0)
		die("setup", "cannot load the server key pair");
	gnutls_init(&sess, is_server ? GNUTLS_SERVER : GNUTLS_CLIENT);
	snprintf(prio, sizeof(prio), "NORMAL:-VERS-ALL:+VERS-TLS%s", version);
	if (gnutls_priority_set_direct(sess, prio, &err) < 0)
		die("setup", "priority at %s", err);
	gnutls_credentials_set(sess, GNUTLS_CRD_CERTIFICATE, cred);
	if (!is_server) {
		gnutls_server_name_set(sess, GNUTLS_NAME_DNS, "localhost", 9);
		gnutls_session_set_verify_cert(sess, "localhost", 0);
	}

	sock = is_server ? tcp_accept(where) : tcp_connect(where);
	setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	gnutls_transport_set_int(sess, sock);
	gnutls_handshake_set_timeout(sess, IO_TIMEOUT_S * 1000);
	do
		ret = gnutls_handshake(sess);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0)
		die("handshake", "%s", gnutls_strerror(ret));
	fprintf(stderr, "tls-peer: handshake: %s\n",
		gnutls_protocol_get_name(gnutls_protocol_get_version(sess)));

	for (; i < argc; i++)
		run_step(argv[i]);

	gnutls_deinit(sess);
	gnutls_certificate_free_credentials(cred);
	close(sock);
	return 0;
}
