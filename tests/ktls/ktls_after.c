/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * After the hand-off, on a real kernel (the VM): what the peer sends
 * besides data reaches handoff_read() through the kernel's receive path,
 * and what we send (close_notify, our KeyUpdate) leaves through the
 * kernel's transmit path.  The peer is a user-space GnuTLS session in a
 * thread, so every record is checked by an independent implementation.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "core/conn.h"
#include "ktls/ktls.h"
#include "ktlsutil.h"

#define WAIT_MS 20000

static gnutls_datum_t ticket_key;
/* CONN_TEST_* for the next conn_start() (then cleared). */
static unsigned next_test_flags;

struct conn {
	struct handoff_config *cfg;
	bool own_cfg;
	struct handoff *h;
	struct kt_peer p;
	int fds[2];
	int ours, theirs;
};

/*
 * Our side (client unless we_serve) against a GnuTLS peer; both handshakes
 * done on return.  cfg: our config, or NULL for a fresh one for protocols.
 */
static void conn_start(struct conn *c, unsigned protocols, struct handoff_config *cfg,
		       bool we_serve, bool peer_tickets)
{
	pthread_t t;
	int ret;

	memset(c, 0, sizeof(*c));
	c->own_cfg = !cfg;
	tu_tcp_pair(c->fds);
	c->ours = c->fds[we_serve];
	c->theirs = c->fds[!we_serve];
	kt_set_timeouts(c->ours);
	c->cfg = cfg ? cfg : we_serve ? kt_server_config(protocols, "AES-128-GCM", false) :
					kt_client_config(protocols, "AES-128-GCM", NULL);
	c->h = we_serve ? handoff_server(c->cfg, c->ours) :
			  handoff_client(c->cfg, c->ours, "localhost");
	ck_assert_ptr_nonnull(c->h);
	conn_set_test_flags(c->h, next_test_flags);
	next_test_flags = 0;
	kt_peer_init(&c->p, c->theirs, !we_serve, protocols, "AES-128-GCM", 0);
	if (!we_serve && peer_tickets) {
		if (!ticket_key.data)
			ck_assert_int_eq(gnutls_session_ticket_key_generate(&ticket_key), 0);
		ck_assert_int_eq(gnutls_session_ticket_enable_server(c->p.s, &ticket_key), 0);
	}
	t = tu_spawn(kt_peer_handshake, &c->p);
	ret = handoff_handshake(c->h);
	/* A failed handshake (no kTLS) must not leave the peer waiting out its timeout. */
	if (ret != 0)
		shutdown(c->ours, SHUT_RDWR);
	tu_join(t);
	ck_assert_msg(ret == 0 && c->p.hs_ret == 0, "ours: %s / peer: %s",
		      ret == 0 ? "ok" : handoff_error(c->h), gnutls_strerror(c->p.hs_ret));
	ck_assert_int_eq(handoff_conn_ktls(c->h), 1);
}

static void conn_free(struct conn *c)
{
	handoff_free(c->h);
	if (c->own_cfg)
		handoff_config_free(c->cfg);
	kt_peer_free(&c->p);
	close(c->fds[0]);
	close(c->fds[1]);
}

static void wait_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	ck_assert_msg(poll(&pfd, 1, WAIT_MS) == 1, "nothing arrived within %d ms", WAIT_MS);
}

/* handoff_read until want arrived whole. */
static void read_expect(struct conn *c, const char *want)
{
	char buf[256];
	size_t got = 0, len = strlen(want);
	ssize_t n;

	while (got < len) {
		wait_readable(c->ours);
		n = handoff_read(c->h, buf + got, sizeof(buf) - got);
		if (n == HANDOFF_WANT_POLLIN)
			continue;
		ck_assert_msg(n > 0, "handoff_read: %zd: %s", n, n < 0 ? handoff_error(c->h) : "EOF");
		got += (size_t)n;
	}
	ck_assert_uint_eq(got, len);
	ck_assert_int_eq(memcmp(buf, want, len), 0);
}

static void peer_send(struct conn *c, const char *text)
{
	ck_assert_int_eq(gnutls_record_send(c->p.s, text, strlen(text)), (ssize_t)strlen(text));
}

/* The peer's gnutls_record_recv returns exactly want (taking any post-handshake messages on the way). */
static void peer_expect(struct conn *c, const char *want)
{
	char buf[256];
	size_t got = 0, len = strlen(want);
	ssize_t n;

	while (got < len) {
		n = gnutls_record_recv(c->p.s, buf + got, sizeof(buf) - got);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		ck_assert_msg(n > 0, "peer recv: %s", n == 0 ? "EOF" : gnutls_strerror((int)n));
		got += (size_t)n;
	}
	ck_assert_int_eq(memcmp(buf, want, len), 0);
}

/* Linux 6.14 taught kTLS to take a new key (TLS 1.3 KeyUpdate). */
static bool kernel_can_rekey(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;

	ck_assert_int_eq(uname(&u), 0);
	ck_assert_int_ge(sscanf(u.release, "%u.%u", &major, &minor), 1);
	return major > 6 || (major == 6 && minor >= 14);
}

/* ------------------------------------------------------------ (a) tickets */

/* The server's tickets come through the kernel, land in the cache, and the next connection resumes. */
START_TEST(test_ticket_then_resume)
{
	struct handoff_cache *cache = handoff_cache_new(4);
	struct handoff_config *cfg;
	struct conn c;
	int i;

	ck_assert_ptr_nonnull(cache);
	cfg = kt_client_config(HANDOFF_PROTOCOL_TLSv1_3, "AES-128-GCM", cache);
	for (i = 0; i < 2; i++) {
		conn_start(&c, HANDOFF_PROTOCOL_TLSv1_3, cfg, false, true);
		ck_assert_int_eq(handoff_conn_resumed(c.h), i);
		ck_assert_int_eq(gnutls_session_is_resumed(c.p.s), i);
		/* GnuTLS sent its tickets at the end of its handshake; the data follows them. */
		peer_send(&c, "data after the tickets");
		read_expect(&c, "data after the tickets");
		ck_assert_int_eq(write(c.ours, "pong", 4), 4);
		peer_expect(&c, "pong");
		conn_free(&c);
	}
	handoff_config_free(cfg);
	handoff_cache_free(cache);
}
END_TEST

/*
 * For the documentation: a plain read(2) that meets a ticket record (the
 * kernel cannot give its type without a control buffer) fails with EIO.
 * That is why a TLS 1.3 client with a session cache reads with handoff_read().
 */
START_TEST(test_plain_read_meets_ticket)
{
	struct handoff_cache *cache = handoff_cache_new(4);
	struct handoff_config *cfg = kt_client_config(HANDOFF_PROTOCOL_TLSv1_3, "AES-128-GCM", cache);
	struct conn c;
	char buf[64];
	ssize_t n;

	conn_start(&c, HANDOFF_PROTOCOL_TLSv1_3, cfg, false, true);
	peer_send(&c, "data");
	wait_readable(c.ours);
	n = read(c.ours, buf, sizeof(buf));
	printf("TLS 1.3: plain read() on a NewSessionTicket record: %zd (%s)\n", n,
	       n < 0 ? strerror(errno) : "data");
	fflush(stdout);
	ck_assert_int_eq(n, -1);
	ck_assert_int_eq(errno, EIO);
	conn_free(&c);
	handoff_config_free(cfg);
	handoff_cache_free(cache);
}
END_TEST

/* ------------------------------------------------------ (b) close_notify */

/* _i: the version index.  handoff_read gives 0 at close_notify, after the data before it. */
START_TEST(test_close_notify_reads_eof)
{
	struct conn c;
	char b;

	conn_start(&c, kt_protocol[_i], NULL, false, false);
	peer_send(&c, "last words");
	ck_assert_int_eq(gnutls_bye(c.p.s, GNUTLS_SHUT_WR), 0);
	read_expect(&c, "last words");
	wait_readable(c.ours);
	ck_assert_int_eq(handoff_read(c.h, &b, 1), 0);
	ck_assert_int_eq(handoff_read(c.h, &b, 1), 0);	/* and stays EOF */
	/* Our direction is still open: the peer reads our answer, then our close_notify. */
	ck_assert_int_eq(write(c.ours, "bye", 3), 3);
	peer_expect(&c, "bye");
	ck_assert_int_eq(handoff_close(c.h), 0);
	ck_assert_int_eq(gnutls_record_recv(c.p.s, &b, 1), 0);
	conn_free(&c);
}
END_TEST

/* For the documentation: what a plain read(2) returns at the peer's close_notify. */
START_TEST(test_close_notify_plain_read)
{
	struct conn c;
	char buf[64];
	ssize_t n;
	int err;

	conn_start(&c, kt_protocol[_i], NULL, false, false);
	ck_assert_int_eq(gnutls_bye(c.p.s, GNUTLS_SHUT_WR), 0);
	wait_readable(c.ours);
	n = read(c.ours, buf, sizeof(buf));
	err = errno;
	printf("%s: plain read() on close_notify: %zd (%s)\n", handoff_conn_version(c.h), n,
	       n < 0 ? strerror(err) : n == 0 ? "EOF" : "data");
	fflush(stdout);
	/* The alert record has no place in a plain read: the kernel refuses it with EIO. */
	ck_assert_int_eq(n, -1);
	ck_assert_int_eq(err, EIO);
	conn_free(&c);
}
END_TEST

/* ------------------------------------------------------ (c) fatal alert */

START_TEST(test_fatal_alert_named)
{
	struct conn c;
	char b;

	conn_start(&c, kt_protocol[_i], NULL, false, false);
	ck_assert_int_eq(gnutls_alert_send(c.p.s, GNUTLS_AL_FATAL, GNUTLS_A_INTERNAL_ERROR), 0);
	wait_readable(c.ours);
	ck_assert_int_eq(handoff_read(c.h, &b, 1), -1);
	ck_assert_msg(strstr(handoff_error(c.h), "peer sent fatal alert: internal_error (Internal error)"),
		      "error: %s", handoff_error(c.h));
	/* What was negotiated stays readable after a failure, for the log line. */
	ck_assert_str_eq(handoff_conn_version(c.h), _i ? "TLSv1.3" : "TLSv1.2");
	printf("%s: fatal alert -> %s\n", handoff_conn_version(c.h), handoff_error(c.h));
	fflush(stdout);
	/* A failed connection stays failed. */
	ck_assert_int_eq(handoff_read(c.h, &b, 1), -1);
	conn_free(&c);
}
END_TEST

/* ------------------------------------------------------ (d) KeyUpdate */

/*
 * The peer updates its key and asks for ours.  6.14+: the data after it
 * arrives, we answer under a new key of our own, data keeps flowing both
 * ways.  Older kernels cannot take a second key: handoff_read says so
 * (and does not hang).
 * _i: 0 our client keeping its GnuTLS session (the path of a client that
 * stores tickets), 1 our client on the lean path (session released,
 * secrets only: the default without a cache), 2 our server, lean.
 */
static const char *const ku_path[] = { "client with session", "lean client", "lean server" };

START_TEST(test_key_update)
{
	bool can = kernel_can_rekey();
	struct utsname u;
	struct conn c;
	char b;
	int round;
	ssize_t n;

	uname(&u);
	if (_i == 0)
		next_test_flags = CONN_TEST_KEEP_SESSION;
	conn_start(&c, HANDOFF_PROTOCOL_TLSv1_3, NULL, _i == 2, false);
	ck_assert_int_eq(c.h->lean, _i != 0);
	ck_assert(_i == 0 ? c.h->session != NULL : c.h->session == NULL);
	ck_assert_int_eq(gnutls_session_key_update(c.p.s, GNUTLS_KU_PEER), 0);
	peer_send(&c, "after the key update");
	if (!can) {
		wait_readable(c.ours);
		n = handoff_read(c.h, &b, 1);
		printf("kernel %s, %s: KeyUpdate -> handoff_read %zd: %s\n", u.release, ku_path[_i],
		       n, handoff_error(c.h));
		fflush(stdout);
		ck_assert_int_eq(n, -1);
		ck_assert_msg(strstr(handoff_error(c.h), "cannot re-key") != NULL, "error: %s",
			      handoff_error(c.h));
		ck_assert_ptr_nonnull(strstr(handoff_error(c.h), "6.14"));
		conn_free(&c);
		return;
	}
	read_expect(&c, "after the key update");
	/* Our KeyUpdate went out before this; the peer takes it, then our data under the new key. */
	ck_assert_int_eq(write(c.ours, "answer under our new key", 24), 24);
	peer_expect(&c, "answer under our new key");
	for (round = 0; round < 3; round++) {
		/* Again, from both sides' new keys; the last round without asking us to update. */
		ck_assert_int_eq(gnutls_session_key_update(c.p.s, round < 2 ? GNUTLS_KU_PEER : 0), 0);
		peer_send(&c, "ping");
		read_expect(&c, "ping");
		ck_assert_int_eq(write(c.ours, "pong", 4), 4);
		peer_expect(&c, "pong");
	}
	printf("kernel %s, %s: 4 KeyUpdates taken (3 asking for ours), data flowed both ways "
	       "after each\n", u.release, ku_path[_i]);
	fflush(stdout);
	ck_assert_int_eq(handoff_close(c.h), 0);
	ck_assert_int_eq(gnutls_record_recv(c.p.s, &b, 1), 0);
	conn_free(&c);
}
END_TEST

/* ------------------------------------- (e) data in the Finished's segment */

struct eager_peer {
	struct kt_peer p;
	const char *payload;
	bool half_close;	/* also close_notify and FIN in the same segment */
	int ret;
};

static int eager_run(void *arg)
{
	struct eager_peer *e = arg;
	int off = 0;

	e->ret = kt_peer_handshake(&e->p);
	if (e->ret == 0)
		e->ret = (int)gnutls_record_send(e->p.s, e->payload, strlen(e->payload));
	if (e->ret > 0 && e->half_close) {
		gnutls_bye(e->p.s, GNUTLS_SHUT_WR);
		shutdown(e->p.fd, SHUT_WR);
	}
	setsockopt(e->p.fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
	return 0;
}

/*
 * _i: version * 2 + role.  The peer's Finished is the last handshake
 * flight for a TLS 1.2 server and a TLS 1.3 client; the other two are run
 * too (the cork then holds a flight until the kernel's 200 ms flush).
 */
static void data_in_finished_segment(int i, bool half_close)
{
	unsigned protocols = kt_protocol[i / 2];
	bool we_serve = i % 2;
	struct handoff_config *cfg;
	struct eager_peer e = { .payload = "sent in the same segment as Finished",
				.half_close = half_close };
	struct handoff *h;
	char buf[128];
	int fds[2], ours, ret;
	pthread_t t;
	ssize_t n;

	tu_tcp_pair(fds);
	ours = fds[we_serve];
	kt_set_timeouts(ours);
	cfg = we_serve ? kt_server_config(protocols, "AES-128-GCM", false) :
			 kt_client_config(protocols, "AES-128-GCM", NULL);
	h = we_serve ? handoff_server(cfg, ours) : handoff_client(cfg, ours, "localhost");
	kt_peer_init(&e.p, fds[!we_serve], !we_serve, protocols, "AES-128-GCM", 0);
	gnutls_session_set_ptr(e.p.s, (void *)(intptr_t)fds[!we_serve]);
	gnutls_handshake_set_hook_function(e.p.s, GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_PRE,
					   tu_cork_before_finished);
	t = tu_spawn(eager_run, &e);
	ret = handoff_handshake(h);
	if (ret != 0) {
		shutdown(ours, SHUT_RDWR);
		tu_join(t);
	}
	ck_assert_msg(ret == 0, "%s", handoff_error(h));
	ck_assert_int_eq(handoff_conn_ktls(h), 1);
	wait_readable(ours);
	/* The first plain read gets the whole payload: nothing was left in GnuTLS. */
	n = read(ours, buf, sizeof(buf));
	tu_join(t);
	ck_assert_msg(e.ret > 0, "peer: %s", gnutls_strerror(e.ret));
	ck_assert_msg(n == (ssize_t)strlen(e.payload), "read %zd: %s", n,
		      n < 0 ? strerror(errno) : "short");
	ck_assert_int_eq(memcmp(buf, e.payload, (size_t)n), 0);
	if (half_close)
		ck_assert_msg(handoff_read(h, buf, sizeof(buf)) == 0, "%s", handoff_error(h));
	handoff_free(h);
	handoff_config_free(cfg);
	kt_peer_free(&e.p);
	close(fds[0]);
	close(fds[1]);
}

START_TEST(test_data_in_finished_segment)
{
	data_in_finished_segment(_i, false);
}
END_TEST

/*
 * The peer's last flight, data, close_notify and FIN in one segment: our
 * socket is in CLOSE_WAIT before we hand off, where the kernel refuses to
 * attach the tls ULP.  It must have been attached before the handshake.
 */
START_TEST(test_half_close_in_finished_segment)
{
	data_in_finished_segment(_i, true);
}
END_TEST

/* ------------------------------------------------ (f) our close_notify */

/* _i: version * 2 + role.  handoff_close goes through the kernel; GnuTLS reads a clean EOF. */
START_TEST(test_our_close_notify)
{
	struct conn c;
	char b;

	conn_start(&c, kt_protocol[_i / 2], NULL, _i % 2, false);
	ck_assert_int_eq(write(c.ours, "final", 5), 5);
	ck_assert_int_eq(handoff_close(c.h), 0);
	ck_assert_int_eq(handoff_close(c.h), 0);	/* sent once */
	peer_expect(&c, "final");
	ck_assert_int_eq(gnutls_record_recv(c.p.s, &b, 1), 0);
	/* Writing after close_notify is refused by us, not sent. */
	ck_assert_int_eq(handoff_write(c.h, "x", 1), -1);
	conn_free(&c);
}
END_TEST

/* ------------------------------------------------ (g) empty data records */

static void peer_empty(struct conn *c)
{
	tu_send_record(c->p.s, c->p.fd, KTLS_RECORD_APPLICATION_DATA, NULL, 0);
}

/* handoff_read with a buffer of bufsize (small: the peek path; 16 KiB: straight in). */
static ssize_t read_sized(struct conn *c, size_t bufsize, char *out, size_t outlen)
{
	static char big[16384];
	ssize_t n;

	ck_assert_uint_le(bufsize, sizeof(big));
	wait_readable(c->ours);
	n = handoff_read(c->h, big, bufsize);
	if (n > 0) {
		ck_assert_uint_le((size_t)n, outlen);
		memcpy(out, big, (size_t)n);
	}
	return n;
}

/*
 * _i: version * 2 + (0: 256-byte reads, 1: 16 KiB reads).  Zero-length
 * application data records (RFC 8446 5.1, RFC 5246 6.2.1) read as
 * nothing.  The kernel skips them itself before data, but when one comes
 * right before a record of another type its recvmsg returns 0, which is
 * not EOF: the close_notify, ticket or HelloRequest behind it must still
 * be read, and only a real FIN is a truncation.
 */
START_TEST(test_empty_records)
{
	unsigned protocols = kt_protocol[_i / 2];
	size_t bufsize = _i % 2 ? 16384 : 256;
	struct conn c;
	char buf[64];
	ssize_t n;
	int fl;

	/* A TLS 1.3 peer with a ticket key, so that it can send a ticket later. */
	conn_start(&c, protocols, NULL, false, protocols == HANDOFF_PROTOCOL_TLSv1_3);

	/* Between data, and several in a row. */
	peer_send(&c, "one");
	peer_empty(&c);
	peer_empty(&c);
	peer_empty(&c);
	peer_send(&c, "two");
	read_expect(&c, "onetwo");

	/* Writing nothing puts nothing on the wire. */
	ck_assert_int_eq(handoff_write(c.h, "", 0), 0);
	usleep(100 * 1000);
	ck_assert_int_eq(recv(c.p.fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);

	/* Right before a post-handshake message: a ticket (1.3) or a HelloRequest (1.2). */
	peer_empty(&c);
	if (protocols == HANDOFF_PROTOCOL_TLSv1_3)
		ck_assert_int_eq(gnutls_session_ticket_send(c.p.s, 1, 0), 0);
	else
		ck_assert_int_eq(gnutls_rehandshake(c.p.s), 0);
	peer_send(&c, "three");
	n = read_sized(&c, bufsize, buf, sizeof(buf));
	ck_assert_msg(n == 5, "after an empty record and a handshake record: %zd: %s", n,
		      n < 0 ? handoff_error(c.h) : "");
	ck_assert_int_eq(memcmp(buf, "three", 5), 0);

	/* Non-blocking, nothing but an empty record there: not yet anything to read. */
	fl = fcntl(c.ours, F_GETFL);
	ck_assert_int_eq(fcntl(c.ours, F_SETFL, fl | O_NONBLOCK), 0);
	peer_empty(&c);
	n = read_sized(&c, bufsize, buf, sizeof(buf));
	ck_assert_msg(n == HANDOFF_WANT_POLLIN, "empty record, non-blocking: %zd: %s", n,
		      n < 0 ? handoff_error(c.h) : "");
	ck_assert_int_eq(fcntl(c.ours, F_SETFL, fl), 0);

	ck_assert_int_eq(write(c.ours, "pong", 4), 4);
	n = gnutls_record_recv(c.p.s, buf, sizeof(buf));
	if (protocols == HANDOFF_PROTOCOL_TLSv1_2) {
		/* The peer's HelloRequest was declined, before the data. */
		ck_assert_int_eq(n, GNUTLS_E_WARNING_ALERT_RECEIVED);
		ck_assert_int_eq(gnutls_alert_get(c.p.s), GNUTLS_A_NO_RENEGOTIATION);
		n = gnutls_record_recv(c.p.s, buf, sizeof(buf));
	}
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(memcmp(buf, "pong", 4), 0);

	/* Right before close_notify: the data, then a clean EOF. */
	peer_send(&c, "last");
	peer_empty(&c);
	ck_assert_int_eq(gnutls_bye(c.p.s, GNUTLS_SHUT_WR), 0);
	n = read_sized(&c, bufsize, buf, sizeof(buf));
	ck_assert_int_eq(n, 4);
	n = read_sized(&c, bufsize, buf, sizeof(buf));
	ck_assert_msg(n == 0, "empty record, then close_notify: %zd: %s", n,
		      n < 0 ? handoff_error(c.h) : "data");
	printf("%s, %zu-byte reads: empty records read as nothing\n", handoff_conn_version(c.h),
	       bufsize);
	fflush(stdout);
	conn_free(&c);
}
END_TEST

/* _i: the version index.  An empty record and then a FIN is still a truncation, not EOF. */
START_TEST(test_empty_record_then_fin)
{
	struct conn c;
	char buf[64];
	ssize_t n;

	conn_start(&c, kt_protocol[_i], NULL, false, false);
	peer_send(&c, "x");
	peer_empty(&c);
	ck_assert_int_eq(shutdown(c.p.fd, SHUT_WR), 0);
	read_expect(&c, "x");
	wait_readable(c.ours);
	n = handoff_read(c.h, buf, sizeof(buf));
	ck_assert_int_eq(n, -1);
	ck_assert_msg(strstr(handoff_error(c.h), "without close_notify"), "error: %s",
		      handoff_error(c.h));
	conn_free(&c);
}
END_TEST

/* ------------------------------------- (h) TLS 1.2 renegotiation declined */

struct reneg_peer {
	struct conn *c;
	int ret;
	char why[96];
};

static int reneg_fail(struct reneg_peer *r, const char *why, ssize_t n)
{
	snprintf(r->why, sizeof(r->why), "%s: %s", why,
		 n < 0 ? gnutls_strerror((int)n) : n == 0 ? "EOF" : "wrong data");
	r->ret = -1;
	shutdown(r->c->p.fd, SHUT_RDWR);	/* our side must not wait for it */
	return 0;
}

/* The peer as client: "one", a renegotiation of its own, a ClientHello cut in three with data between. */
static int reneg_client_run(void *arg)
{
	struct reneg_peer *r = arg;
	gnutls_session_t s = r->c->p.s;
	uint8_t hello[300];
	char buf[16];
	ssize_t n;
	int ret;

	memset(hello, 0x5a, sizeof(hello));
	hello[0] = 1;
	hello[1] = 0;
	hello[2] = (sizeof(hello) - 4) >> 8;
	hello[3] = (sizeof(hello) - 4) & 0xff;
	if (gnutls_record_send(s, "one", 3) != 3)
		return reneg_fail(r, "send one", -1);
	do
		ret = gnutls_handshake(s);
	while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
	if (ret != GNUTLS_E_WARNING_ALERT_RECEIVED || gnutls_alert_get(s) != GNUTLS_A_NO_RENEGOTIATION)
		return reneg_fail(r, "renegotiation not declined", ret);
	tu_send_record(s, r->c->p.fd, KTLS_RECORD_HANDSHAKE, hello, 2);
	tu_send_record(s, r->c->p.fd, KTLS_RECORD_APPLICATION_DATA, "two", 3);
	tu_send_record(s, r->c->p.fd, KTLS_RECORD_HANDSHAKE, hello + 2, 150);
	tu_send_record(s, r->c->p.fd, KTLS_RECORD_APPLICATION_DATA, NULL, 0);
	tu_send_record(s, r->c->p.fd, KTLS_RECORD_HANDSHAKE, hello + 152, sizeof(hello) - 152);
	if (gnutls_record_send(s, "three", 5) != 5)
		return reneg_fail(r, "send three", -1);
	n = gnutls_record_recv(s, buf, sizeof(buf));
	if (n != GNUTLS_E_WARNING_ALERT_RECEIVED || gnutls_alert_get(s) != GNUTLS_A_NO_RENEGOTIATION)
		return reneg_fail(r, "fragmented ClientHello not declined", n);
	n = gnutls_record_recv(s, buf, sizeof(buf));
	if (n != 4 || memcmp(buf, "pong", 4) != 0)
		return reneg_fail(r, "pong", n);
	/* What OpenSSL does after a refusal: a fatal handshake_failure. */
	gnutls_alert_send(s, GNUTLS_AL_FATAL, GNUTLS_A_HANDSHAKE_FAILURE);
	return 0;
}

/*
 * Our server over kTLS: the peer's own renegotiation and a ClientHello in
 * three records with data between are declined, the data around them
 * flows both ways, and the fatal alert that follows is reported as such.
 */
START_TEST(test_tls12_reneg_server)
{
	struct reneg_peer r = { 0 };
	struct conn c;
	pthread_t t;
	char buf[16];
	ssize_t n;

	conn_start(&c, HANDOFF_PROTOCOL_TLSv1_2, NULL, true, false);
	r.c = &c;
	t = tu_spawn(reneg_client_run, &r);
	read_expect(&c, "one");
	read_expect(&c, "two");
	read_expect(&c, "three");
	ck_assert_int_eq(write(c.ours, "pong", 4), 4);
	wait_readable(c.ours);
	n = handoff_read(c.h, buf, sizeof(buf));
	tu_join(t);
	ck_assert_msg(r.ret == 0, "peer: %s", r.why);
	ck_assert_int_eq(n, -1);
	ck_assert_str_eq(handoff_error(c.h), "peer sent fatal alert: handshake_failure (Handshake "
					     "failed) after we declined its renegotiation");
	printf("TLS 1.2 server: renegotiation declined twice, data intact, then: %s\n",
	       handoff_error(c.h));
	fflush(stdout);
	conn_free(&c);
}
END_TEST

/* The peer as server: a HelloRequest from GnuTLS, then one cut in two with data between. */
static int reneg_server_run(void *arg)
{
	static const uint8_t hello_request[4] = { 0, 0, 0, 0 };
	struct reneg_peer *r = arg;
	gnutls_session_t s = r->c->p.s;
	char buf[16];
	bool pong = false;
	ssize_t n;
	int declined = 0;

	if (gnutls_rehandshake(s) != 0)
		return reneg_fail(r, "rehandshake", -1);
	if (gnutls_record_send(s, "one", 3) != 3)
		return reneg_fail(r, "send one", -1);
	tu_send_record(s, r->c->p.fd, KTLS_RECORD_HANDSHAKE, hello_request, 3);
	tu_send_record(s, r->c->p.fd, KTLS_RECORD_APPLICATION_DATA, "two", 3);
	tu_send_record(s, r->c->p.fd, KTLS_RECORD_HANDSHAKE, hello_request + 3, 1);
	/* Two refusals and "pong", in the order our reads send them. */
	while (declined < 2 || !pong) {
		n = gnutls_record_recv(s, buf, sizeof(buf));
		if (n == GNUTLS_E_WARNING_ALERT_RECEIVED &&
		    gnutls_alert_get(s) == GNUTLS_A_NO_RENEGOTIATION && declined < 2)
			declined++;
		else if (n == 4 && memcmp(buf, "pong", 4) == 0 && !pong)
			pong = true;
		else
			return reneg_fail(r, "two refusals and pong", n);
	}
	if (gnutls_bye(s, GNUTLS_SHUT_WR) != 0)
		return reneg_fail(r, "bye", -1);
	return 0;
}

START_TEST(test_tls12_reneg_client)
{
	struct reneg_peer r = { 0 };
	struct conn c;
	pthread_t t;
	char buf[16];
	ssize_t n;

	conn_start(&c, HANDOFF_PROTOCOL_TLSv1_2, NULL, false, false);
	r.c = &c;
	t = tu_spawn(reneg_server_run, &r);
	read_expect(&c, "one");
	read_expect(&c, "two");
	ck_assert_int_eq(write(c.ours, "pong", 4), 4);
	wait_readable(c.ours);
	n = handoff_read(c.h, buf, sizeof(buf));
	tu_join(t);
	ck_assert_msg(r.ret == 0, "peer: %s", r.why);
	ck_assert_msg(n == 0, "%zd: %s", n, n < 0 ? handoff_error(c.h) : "data");
	conn_free(&c);
}
END_TEST

static Suite *after_suite(void)
{
	Suite *s = suite_create("ktls_after");
	TCase *tc = tcase_create("after");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_ticket_then_resume);
	tcase_add_test(tc, test_plain_read_meets_ticket);
	tcase_add_loop_test(tc, test_close_notify_reads_eof, 0, HANDOFF_TLS_VERSION_COUNT);
	tcase_add_loop_test(tc, test_close_notify_plain_read, 0, HANDOFF_TLS_VERSION_COUNT);
	tcase_add_loop_test(tc, test_fatal_alert_named, 0, HANDOFF_TLS_VERSION_COUNT);
	tcase_add_loop_test(tc, test_key_update, 0, 3);
	tcase_add_loop_test(tc, test_data_in_finished_segment, 0, HANDOFF_TLS_VERSION_COUNT * 2);
	tcase_add_loop_test(tc, test_half_close_in_finished_segment, 0, HANDOFF_TLS_VERSION_COUNT * 2);
	tcase_add_loop_test(tc, test_our_close_notify, 0, HANDOFF_TLS_VERSION_COUNT * 2);
	tcase_add_loop_test(tc, test_empty_records, 0, HANDOFF_TLS_VERSION_COUNT * 2);
	tcase_add_loop_test(tc, test_empty_record_then_fin, 0, HANDOFF_TLS_VERSION_COUNT);
	tcase_add_test(tc, test_tls12_reneg_server);
	tcase_add_test(tc, test_tls12_reneg_client);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	kt_require_ktls();
	return tu_run(after_suite());
}
