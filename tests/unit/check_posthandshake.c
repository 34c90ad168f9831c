/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What happens after the hand-off.  This host has no kTLS, so the test
 * plays the kernel: side A (our struct handoff, keys not installed) talks
 * over TCP to side B (a plain GnuTLS session); records B sends are opened
 * here with the keys A would have given the kernel (recordcrypt) and their
 * plaintext handed to posthandshake_record(), exactly what handoff_read()
 * does with what the kernel returns.  What A sends through
 * ktls_send_record() reaches B's socket as plaintext (a plain TCP socket
 * ignores the SOL_TLS control message), so the test seals it with A's
 * write key and feeds it to B.
 */
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "core/conn.h"
#include "core/frontdoor.h"
#include "handshake/posthandshake.h"
#include "handshake/secrets.h"
#include "ktls/ktls.h"
#include "recordcrypt.h"
#include "testutil.h"
#include "util/wipe.h"

#define IO_TIMEOUT_MS 5000

/* ------------------------------------------------------------ side B */

struct peer {
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	int fd;
	/* Records the test made for B to read before its socket (A's output, sealed). */
	uint8_t inject[4 * RC_MAX_RECORD];
	size_t inject_len, inject_off;
	int hs_ret;
};

static gnutls_datum_t ticket_key;

static ssize_t peer_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct peer *b = p;
	size_t n;

	if (b->inject_off < b->inject_len) {
		n = b->inject_len - b->inject_off;
		if (n > len)
			n = len;
		memcpy(buf, b->inject + b->inject_off, n);
		b->inject_off += n;
		return (ssize_t)n;
	}
	return recv(b->fd, buf, len, 0);
}

static int peer_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct peer *b = p;
	struct pollfd pfd = { .fd = b->fd, .events = POLLIN };

	if (b->inject_off < b->inject_len)
		return 1;
	return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

static ssize_t peer_push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
	struct peer *b = p;

	return send(b->fd, buf, len, MSG_NOSIGNAL);
}

static void peer_inject(struct peer *b, const uint8_t *rec, size_t len)
{
	ck_assert_uint_le(b->inject_len + len, sizeof(b->inject));
	memcpy(b->inject + b->inject_len, rec, len);
	b->inject_len += len;
}

/* B as a GnuTLS server (A is the client) or client (A is the server). */
static void peer_init(struct peer *b, int fd, bool server, const char *prio)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000 };
	const char *err = NULL;

	memset(b, 0, sizeof(*b));
	b->fd = fd;
	/* A stuck peer must end the test, not hang it. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_int_eq(gnutls_certificate_allocate_credentials(&b->cred), 0);
	ck_assert_int_ge(gnutls_certificate_set_x509_trust_file(b->cred, tu_pki("ca.pem"),
								GNUTLS_X509_FMT_PEM), 1);
	ck_assert_int_eq(gnutls_init(&b->s, server ? GNUTLS_SERVER : GNUTLS_CLIENT), 0);
	if (server) {
		ck_assert_int_eq(gnutls_certificate_set_x509_key_file(b->cred, tu_pki("server.pem"),
								      tu_pki("server-key.pem"),
								      GNUTLS_X509_FMT_PEM), 0);
		if (!ticket_key.data)
			ck_assert_int_eq(gnutls_session_ticket_key_generate(&ticket_key), 0);
		ck_assert_int_eq(gnutls_session_ticket_enable_server(b->s, &ticket_key), 0);
	} else {
		gnutls_server_name_set(b->s, GNUTLS_NAME_DNS, "localhost", 9);
	}
	ck_assert_int_eq(gnutls_credentials_set(b->s, GNUTLS_CRD_CERTIFICATE, b->cred), 0);
	ck_assert_msg(gnutls_priority_set_direct(b->s, prio, &err) == 0, "priority at %s", err);
	gnutls_transport_set_ptr(b->s, b);
	gnutls_transport_set_pull_function(b->s, peer_pull);
	gnutls_transport_set_push_function(b->s, peer_push);
	gnutls_transport_set_pull_timeout_function(b->s, peer_pull_timeout);
	gnutls_handshake_set_timeout(b->s, IO_TIMEOUT_MS);
}

static void peer_deinit(struct peer *b)
{
	gnutls_deinit(b->s);
	gnutls_certificate_free_credentials(b->cred);
}

static int peer_handshake(void *p)
{
	struct peer *b = p;
	int ret;

	do
		ret = gnutls_handshake(b->s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	b->hs_ret = ret;
	return 0;
}

/* ------------------------------------------------------ a connection */

struct pair {
	struct handoff_config *cfg;
	struct handoff *h;	/* side A */
	struct peer b;
	int fds[2];
	/* The kernel's receive state for A, as the test plays it. */
	struct ktls_crypto_info rx;
	uint64_t rx_seq;
	struct ktls_crypto_info tx;
	uint64_t tx_seq;
};

static uint64_t state_seq(gnutls_session_t s, int read)
{
	unsigned char seq[8];
	uint64_t v = 0;
	int i;

	ck_assert_int_eq(gnutls_record_get_state(s, read, NULL, NULL, NULL, seq), 0);
	for (i = 0; i < 8; i++)
		v = (v << 8) | seq[i];
	return v;
}

/*
 * A's current key for one direction: from its session, or in the lean
 * state (no session) from its traffic secret, at record number 0.
 */
static void cur_keys(struct pair *p, int read, struct ktls_crypto_info *ci)
{
	if (p->h->lean) {
		ck_assert_ptr_null(p->h->session);
		ck_assert_int_eq(secrets_crypto_info(p->h, read, ci), 0);
	} else {
		ck_assert_int_eq(ktls_keys_from_session(p->h->session, read, ci), 0);
	}
}

static void take_keys(struct pair *p)
{
	if (p->h->lean && !secrets_have(p->h))
		return;	/* no secrets kept: TLS 1.2 never re-keys; or handoff_config_no_key_update */
	if (p->h->lean) {
		/* Nothing was read or written under the application keys yet. */
		cur_keys(p, 1, &p->rx);
		cur_keys(p, 0, &p->tx);
		p->rx_seq = p->tx_seq = 0;
		return;
	}
	ck_assert_int_eq(ktls_keys_from_session(p->h->session, 1, &p->rx), 0);
	p->rx_seq = state_seq(p->h->session, 1);
	ck_assert_int_eq(ktls_keys_from_session(p->h->session, 0, &p->tx), 0);
	p->tx_seq = state_seq(p->h->session, 0);
}

static struct handoff_config *client_config(unsigned protocols, struct handoff_cache *cache)
{
	struct handoff_config *cfg = handoff_config_new();

	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(handoff_config_add_ca_file(cfg, tu_pki("ca.pem")), 0);
	ck_assert_int_eq(handoff_config_set_protocols(cfg, protocols), 0);
	handoff_config_set_handshake_timeout(cfg, IO_TIMEOUT_MS);
	if (cache)
		handoff_config_set_session_cache(cfg, cache);
	return cfg;
}

static const char *prio_for(unsigned protocols, const char *cipher)
{
	static char buf[200];

	snprintf(buf, sizeof(buf), "NORMAL:-VERS-ALL:%s%s",
		 protocols == HANDOFF_PROTOCOL_TLSv1_2 ? "+VERS-TLS1.2" : "+VERS-TLS1.3",
		 cipher ? cipher : "");
	return buf;
}

/* A (client, our library) against B (GnuTLS server) on fds; flags as the tests need. */
static void pair_start_on(struct pair *p, struct handoff_config *cfg, int fds[2],
			  unsigned protocols, const char *prio_extra, unsigned test_flags)
{
	pthread_t t;
	int ret;

	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->fds[0] = fds[0];
	p->fds[1] = fds[1];
	peer_init(&p->b, fds[1], true, prio_for(protocols, prio_extra));
	p->h = handoff_client(cfg, fds[0], "localhost");
	ck_assert_ptr_nonnull(p->h);
	conn_set_test_flags(p->h, test_flags);
	t = tu_spawn(peer_handshake, &p->b);
	ret = handoff_handshake(p->h);
	tu_join(t);
	ck_assert_msg(ret == 0 && p->b.hs_ret == 0, "A: %s / B: %s",
		      ret == 0 ? "ok" : handoff_error(p->h), gnutls_strerror(p->b.hs_ret));
	if (p->h->state == CONN_KTLS && !p->h->in_kernel)
		take_keys(p);
}

static void pair_start(struct pair *p, unsigned protocols, const char *prio_extra,
		       struct handoff_cache *cache)
{
	int fds[2];

	tu_tcp_pair(fds);
	pair_start_on(p, client_config(protocols, cache), fds, protocols, prio_extra,
		      CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
}

/* The same, with A in the lean state: its session released at the hand-off. */
static void pair_start_lean(struct pair *p, unsigned protocols, const char *prio_extra)
{
	int fds[2];

	tu_tcp_pair(fds);
	pair_start_on(p, client_config(protocols, NULL), fds, protocols, prio_extra,
		      CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE | CONN_TEST_LEAN);
	ck_assert(p->h->lean);
	ck_assert_ptr_null(p->h->session);
}

/*
 * The same again, but A ends up as a connection made by handoff_adopt_ktls()
 * (conn_adopt_ktls(): no kernel to check here) from what the lean one
 * hands out: its secrets (handoff_conn_traffic_secrets) unless no_secrets,
 * its version and cipher.  Exactly what handoffd and the shim do with a
 * delegated connection, minus the socket passing.
 */
#define ADOPT_NO_SECRETS 1u
#define ADOPT_ROLE_UNKNOWN 2u

static void pair_start_adopted(struct pair *p, unsigned protocols, const char *prio_extra,
			       unsigned how)
{
	bool no_secrets = how & ADOPT_NO_SECRETS;
	struct handoff_ktls_params kp = { 0 };
	uint8_t w[48], r[48];
	struct handoff *h;
	int len;

	pair_start_lean(p, protocols, prio_extra);
	kp.is_server = 0;
	kp.role_unknown = (how & ADOPT_ROLE_UNKNOWN) != 0;
	kp.version = p->h->version;
	kp.cipher = p->h->cipher;
	len = handoff_conn_traffic_secrets(p->h, w, r, sizeof(w));
	if (protocols == HANDOFF_PROTOCOL_TLSv1_3) {
		ck_assert_int_eq(len, p->h->secret_len);
		ck_assert_int_eq(memcmp(w, p->h->secret[0], (size_t)len), 0);
		ck_assert_int_eq(memcmp(r, p->h->secret[1], (size_t)len), 0);
		if (!no_secrets) {
			kp.write_secret = w;
			kp.read_secret = r;
			kp.secret_len = (size_t)len;
		}
	} else {
		ck_assert_int_eq(len, -1);
		ck_assert_int_eq(errno, ENOKEY);
	}
	h = conn_adopt_ktls(p->cfg, p->fds[0], &kp, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	wipe(w, sizeof(w));
	wipe(r, sizeof(r));
	ck_assert_msg(h, "conn_adopt_ktls: %s", strerror(errno));
	ck_assert(h->lean && h->adopted && !h->session && !h->hs);
	ck_assert_int_eq(h->state, CONN_KTLS);
	ck_assert_int_eq(h->secret_have, kp.secret_len ? 3 : 0);
	ck_assert_str_eq(handoff_conn_version(h), handoff_conn_version(p->h));
	ck_assert_str_eq(handoff_conn_cipher(h), handoff_conn_cipher(p->h));
	handoff_free(p->h);
	p->h = h;
}

/* A as the server (our library, on fds[0]) against B, a GnuTLS client. */
static void pair_start_server(struct pair *p, unsigned protocols, unsigned test_flags,
			      bool fallback)
{
	struct handoff_config *cfg = handoff_config_new();
	pthread_t t;
	int ret;

	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(handoff_config_set_keypair_file(cfg, tu_pki("server.pem"),
							 tu_pki("server-key.pem")), 0);
	ck_assert_int_eq(handoff_config_set_protocols(cfg, protocols), 0);
	handoff_config_set_handshake_timeout(cfg, IO_TIMEOUT_MS);
	if (fallback)
		handoff_config_insecure_userspace_fallback(cfg);
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	tu_tcp_pair(p->fds);
	peer_init(&p->b, p->fds[1], false, prio_for(protocols, NULL));
	p->h = handoff_server(cfg, p->fds[0]);
	ck_assert_ptr_nonnull(p->h);
	conn_set_test_flags(p->h, test_flags);
	t = tu_spawn(peer_handshake, &p->b);
	ret = handoff_handshake(p->h);
	tu_join(t);
	ck_assert_msg(ret == 0 && p->b.hs_ret == 0, "A: %s / B: %s",
		      ret == 0 ? "ok" : handoff_error(p->h), gnutls_strerror(p->b.hs_ret));
}

static void pair_free(struct pair *p)
{
	handoff_free(p->h);
	handoff_config_free(p->cfg);
	peer_deinit(&p->b);
	wipe(&p->rx, sizeof(p->rx));
	wipe(&p->tx, sizeof(p->tx));
	close(p->fds[0]);
	close(p->fds[1]);
}

/* Play the kernel's receive side once: the next record B sent, opened with A's key. */
static size_t kernel_recv(struct pair *p, uint8_t *type, uint8_t *out, size_t cap)
{
	uint8_t rec[RC_MAX_RECORD];
	struct pollfd pfd = { .fd = p->fds[0], .events = POLLIN };
	size_t out_len = cap;
	ssize_t n;

	ck_assert_msg(poll(&pfd, 1, IO_TIMEOUT_MS) == 1, "no record from B");
	n = rc_read_record(p->fds[0], rec, sizeof(rec));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(rc_open(&p->rx, p->rx_seq, rec, (size_t)n, type, out, &out_len), 0);
	p->rx_seq++;
	return out_len;
}

/* Exactly len plaintext bytes A pushed through ktls_send_record(), read on B's socket. */
static void read_raw(int fd, uint8_t *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		ck_assert_msg(poll(&pfd, 1, IO_TIMEOUT_MS) == 1, "A sent nothing");
		n = recv(fd, buf + got, len - got, 0);
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
}

static bool raw_pending(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 50) == 1;
}

static void peer_send(struct pair *p, const char *text)
{
	ck_assert_int_eq(gnutls_record_send(p->b.s, text, strlen(text)), (ssize_t)strlen(text));
}

/*
 * Hand every record up to B's marker to posthandshake_record(), as
 * handoff_read() would; returns how many handshake records went by.
 * Keeps the plaintext of the first two handshake records for callers.
 */
static unsigned drain_until(struct pair *p, const char *marker, uint8_t hs[2][2048],
			    size_t hs_len[2])
{
	uint8_t pt[RC_MAX_PLAINTEXT], type;
	unsigned n_hs = 0;
	size_t n;

	peer_send(p, marker);
	for (;;) {
		n = kernel_recv(p, &type, pt, sizeof(pt));
		if (type == KTLS_RECORD_APPLICATION_DATA) {
			ck_assert_int_eq(n, strlen(marker));
			ck_assert_int_eq(memcmp(pt, marker, n), 0);
			return n_hs;
		}
		ck_assert_int_eq(type, KTLS_RECORD_HANDSHAKE);
		if (hs && n_hs < 2) {
			ck_assert_uint_le(n, sizeof(hs[0]));
			memcpy(hs[n_hs], pt, n);
			hs_len[n_hs] = n;
		} else {
			ck_assert_msg(posthandshake_record(p->h, type, pt, n) == 0, "%s",
				      handoff_error(p->h));
		}
		n_hs++;
	}
}

static bool has_ticket(struct handoff *h)
{
	return gnutls_session_get_flags(h->session) & GNUTLS_SFLAGS_SESSION_TICKET;
}

/* ---------------------------------------------------------- tickets */

enum delivery { WHOLE, SPLIT, BYTEWISE, COALESCED };

static const char *const delivery_name[] = { "whole", "split", "bytewise", "coalesced" };

/* The server's tickets reach the client's cache however the records cut them, and it resumes. */
START_TEST(test_ticket_stored_and_resumed)
{
	enum delivery how = (enum delivery)_i;
	struct handoff_cache *cache = handoff_cache_new(4);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	uint8_t hs[2][2048], both[4096];
	size_t hs_len[2], i;
	gnutls_datum_t data = { NULL, 0 };
	struct pair p, q;
	int l, fds[2], one = 1;
	unsigned n;

	ck_assert_ptr_nonnull(cache);
	/* One listening port for both connections: the cache is keyed by name and port. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 2), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &salen), 0);

	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fds[0], (struct sockaddr *)&sa, sizeof(sa)), 0);
	fds[1] = accept(l, NULL, NULL);
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pair_start_on(&p, client_config(HANDOFF_PROTOCOL_TLSv1_3, cache), fds,
		      HANDOFF_PROTOCOL_TLSv1_3, NULL, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	ck_assert(!has_ticket(p.h));

	/* GnuTLS servers send two tickets after the handshake; keep them, feed them our way. */
	n = drain_until(&p, "sync", hs, hs_len);
	ck_assert_uint_ge(n, 2);
	ck_assert_int_eq(hs[0][0], GNUTLS_HANDSHAKE_NEW_SESSION_TICKET);
	ck_assert_int_eq(hs[1][0], GNUTLS_HANDSHAKE_NEW_SESSION_TICKET);
	switch (how) {
	case WHOLE:
		ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, hs[0], hs_len[0]), 0);
		break;
	case SPLIT:
		ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, hs[0], 3), 0);
		/* Half a message is not a ticket yet. */
		ck_assert(!has_ticket(p.h));
		ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, hs[0] + 3,
						      hs_len[0] - 3), 0);
		break;
	case BYTEWISE:
		for (i = 0; i < hs_len[0]; i++) {
			ck_assert(!has_ticket(p.h));
			ck_assert_msg(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, hs[0] + i, 1) == 0,
				      "%s", handoff_error(p.h));
		}
		break;
	case COALESCED:
		memcpy(both, hs[0], hs_len[0]);
		memcpy(both + hs_len[0], hs[1], hs_len[1]);
		ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, both,
						      hs_len[0] + hs_len[1]), 0);
		break;
	}
	ck_assert_msg(has_ticket(p.h), "no ticket after %s delivery", delivery_name[how]);
	ck_assert_int_eq(p.h->state, CONN_KTLS);
	ck_assert_int_eq(gnutls_session_get_data2(p.h->session, &data), 0);
	ck_assert_uint_gt(data.size, 0);
	gnutls_free(data.data);
	/* Nothing was sent back for a ticket. */
	ck_assert(!raw_pending(p.fds[1]));

	/* A second connection from the same config resumes from the cache. */
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fds[0], (struct sockaddr *)&sa, sizeof(sa)), 0);
	fds[1] = accept(l, NULL, NULL);
	close(l);
	pair_start_on(&q, config_ref(p.cfg), fds, HANDOFF_PROTOCOL_TLSv1_3, NULL,
		      CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	ck_assert_int_eq(handoff_conn_resumed(q.h), 1);
	ck_assert_int_eq(gnutls_session_is_resumed(q.b.s), 1);
	pair_free(&q);
	pair_free(&p);
	handoff_cache_free(cache);
}
END_TEST

/* -------------------------------------------------------- KeyUpdate */

static const char *const ku_ciphers[] = {
	":-CIPHER-ALL:+AES-128-GCM",
	":-CIPHER-ALL:+AES-256-GCM",
	":-CIPHER-ALL:+CHACHA20-POLY1305",
	":-CIPHER-ALL:+AES-128-CCM",
};

static bool same_key(const struct ktls_crypto_info *a, const struct ktls_crypto_info *b)
{
	return a->len == b->len && memcmp(&a->u, &b->u, a->len) == 0;
}

/*
 * B updates its key and asks for ours: A must take B's new key for
 * reading at once, answer with its own KeyUpdate under the old write key,
 * and write with the new one afterwards.  Both directions are then proven
 * by records that only the right new keys open.
 */
START_TEST(test_key_update)
{
	static const uint8_t ku_reply[5] = { GNUTLS_HANDSHAKE_KEY_UPDATE, 0, 0, 1, 0 };
	struct ktls_crypto_info rx_new, tx_new;
	uint8_t pt[RC_MAX_PLAINTEXT], raw[5], rec[RC_MAX_RECORD], type;
	size_t n, rec_len;
	struct pair p;
	char got[32];
	ssize_t r;
	int round;

	/*
	 * _i past the ciphers: the same on the lean path (no session, secrets
	 * only); past twice the ciphers: adopted from those secrets.
	 */
	if (_i >= 2 * (int)ARRAY_SIZE(ku_ciphers))
		pair_start_adopted(&p, HANDOFF_PROTOCOL_TLSv1_3, ku_ciphers[_i % ARRAY_SIZE(ku_ciphers)],
				   0);
	else if (_i >= (int)ARRAY_SIZE(ku_ciphers))
		pair_start_lean(&p, HANDOFF_PROTOCOL_TLSv1_3, ku_ciphers[_i % ARRAY_SIZE(ku_ciphers)]);
	else
		pair_start(&p, HANDOFF_PROTOCOL_TLSv1_3, ku_ciphers[_i], NULL);
	drain_until(&p, "sync", NULL, NULL);

	/* Twice: the second update chains from the first one's secrets. */
	for (round = 0; round < 2; round++) {
		ck_assert_int_eq(gnutls_session_key_update(p.b.s, GNUTLS_KU_PEER), 0);
		n = kernel_recv(&p, &type, pt, sizeof(pt));
		ck_assert_int_eq(type, KTLS_RECORD_HANDSHAKE);
		ck_assert_int_eq(n, 5);
		ck_assert_int_eq(pt[0], GNUTLS_HANDSHAKE_KEY_UPDATE);
		ck_assert_int_eq(pt[4], 1);	/* update_requested */
		ck_assert_msg(posthandshake_record(p.h, type, pt, n) == 0, "%s", handoff_error(p.h));

		/* A's read side moved to B's new key, record numbers from 0. */
		cur_keys(&p, 1, &rx_new);
		ck_assert(!same_key(&rx_new, &p.rx));
		if (!p.h->lean)
			ck_assert_uint_eq(state_seq(p.h->session, 1), 0);
		/* B's next record opens only under the new key. */
		peer_send(&p, "after");
		wipe(&p.rx, sizeof(p.rx));
		p.rx = rx_new;
		p.rx_seq = 0;
		n = kernel_recv(&p, &type, pt, sizeof(pt));
		ck_assert_int_eq(type, KTLS_RECORD_APPLICATION_DATA);
		ck_assert_int_eq(n, 5);
		ck_assert_int_eq(memcmp(pt, "after", 5), 0);

		/* A answered with KeyUpdate(update_not_requested) ... */
		read_raw(p.fds[1], raw, sizeof(raw));
		ck_assert_int_eq(memcmp(raw, ku_reply, sizeof(raw)), 0);
		ck_assert(!raw_pending(p.fds[1]));
		/* ... which the kernel would have sealed under A's old write key. */
		rec_len = sizeof(rec);
		ck_assert_int_eq(rc_seal(&p.tx, p.tx_seq, KTLS_RECORD_HANDSHAKE, raw, sizeof(raw), 0,
					 rec, &rec_len), 0);
		peer_inject(&p.b, rec, rec_len);
		/* And A's write side moved on: new key, record numbers from 0. */
		cur_keys(&p, 0, &tx_new);
		ck_assert(!same_key(&tx_new, &p.tx));
		if (!p.h->lean)
			ck_assert_uint_eq(state_seq(p.h->session, 0), 0);
		wipe(&p.tx, sizeof(p.tx));
		p.tx = tx_new;
		p.tx_seq = 0;
		rec_len = sizeof(rec);
		ck_assert_int_eq(rc_seal(&p.tx, p.tx_seq++, KTLS_RECORD_APPLICATION_DATA,
					 (const uint8_t *)"hello", 5, 0, rec, &rec_len), 0);
		peer_inject(&p.b, rec, rec_len);

		/* B takes A's KeyUpdate and then reads A's data under A's new key. */
		do
			r = gnutls_record_recv(p.b.s, got, sizeof(got));
		while (r == GNUTLS_E_AGAIN);
		ck_assert_msg(r == 5, "B: %s", r < 0 ? gnutls_strerror((int)r) : "short");
		ck_assert_int_eq(memcmp(got, "hello", 5), 0);
		ck_assert_int_eq(p.h->state, CONN_KTLS);
	}
	pair_free(&p);
}
END_TEST

/* B updates its own key only: A re-keys its read side and sends nothing. */
START_TEST(test_key_update_not_requested)
{
	struct ktls_crypto_info tx_before;
	uint8_t pt[64], type;
	struct pair p;
	size_t n;

	/* _i = 1: on the lean path. */
	if (_i)
		pair_start_lean(&p, HANDOFF_PROTOCOL_TLSv1_3, NULL);
	else
		pair_start(&p, HANDOFF_PROTOCOL_TLSv1_3, NULL, NULL);
	drain_until(&p, "sync", NULL, NULL);
	ck_assert_int_eq(gnutls_session_key_update(p.b.s, 0), 0);
	n = kernel_recv(&p, &type, pt, sizeof(pt));
	ck_assert_int_eq(pt[4], 0);
	ck_assert_int_eq(posthandshake_record(p.h, type, pt, n), 0);
	cur_keys(&p, 0, &tx_before);
	ck_assert(same_key(&tx_before, &p.tx));
	ck_assert(!raw_pending(p.fds[1]));
	wipe(&p.rx, sizeof(p.rx));
	cur_keys(&p, 1, &p.rx);
	p.rx_seq = 0;
	peer_send(&p, "x");
	n = kernel_recv(&p, &type, pt, sizeof(pt));
	ck_assert_int_eq(n, 1);
	wipe(&tx_before, sizeof(tx_before));
	pair_free(&p);
}
END_TEST

/* ------------------------------------------------- malformed records */

struct rec_case {
	const char *name;
	unsigned protocols;
	uint8_t type;
	uint8_t data[12];
	size_t len;
	int want;		/* posthandshake_record's return */
	const char *want_err;	/* substring of handoff_error() */
	uint8_t sent[2];	/* the alert A must send, or {0, 0} */
};

#define TLS13 HANDOFF_PROTOCOL_TLSv1_3
#define TLS12 HANDOFF_PROTOCOL_TLSv1_2

static const struct rec_case rec_cases[] = {
	{ "close_notify", TLS13, 21, { 1, 0 }, 2, 1, NULL, { 0, 0 } },
	{ "fatal close_notify", TLS13, 21, { 2, 0 }, 2, 1, NULL, { 0, 0 } },
	{ "handshake_failure", TLS13, 21, { 2, 40 }, 2, -1,
	  "peer sent fatal alert: handshake_failure (Handshake failed)", { 0, 0 } },
	{ "user_canceled", TLS13, 21, { 1, 90 }, 2, 0, NULL, { 0, 0 } },
	{ "1.3 warning is fatal", TLS13, 21, { 1, 42 }, 2, -1, "fatal alert: bad_certificate (Certificate is bad)",
	  { 0, 0 } },
	{ "unknown alert", TLS13, 21, { 2, 251 }, 2, -1, "unknown alert 251", { 0, 0 } },
	{ "alert 3 bytes", TLS13, 21, { 1, 0, 0 }, 3, -1, "malformed alert record (3 bytes",
	  { 2, 50 } },
	{ "alert 1 byte", TLS13, 21, { 2 }, 1, -1, "malformed alert record (1 bytes", { 2, 50 } },
	{ "alert empty", TLS13, 21, { 0 }, 0, -1, "malformed alert", { 2, 50 } },
	{ "alert level 3", TLS13, 21, { 3, 0 }, 2, -1, "invalid level 3", { 2, 47 } },
	{ "ChangeCipherSpec", TLS13, 20, { 1 }, 1, -1, "ChangeCipherSpec after the handshake",
	  { 2, 10 } },
	{ "content type 24", TLS13, 24, { 1 }, 1, -1, "unknown content type 24", { 2, 10 } },
	{ "empty handshake", TLS13, 22, { 0 }, 0, -1, "empty handshake record", { 2, 10 } },
	{ "ClientHello", TLS13, 22, { 1, 0, 0, 0 }, 4, -1, "unexpected handshake message",
	  { 2, 10 } },
	{ "CertificateRequest", TLS13, 22, { 13, 0, 0, 0 }, 4, -1,
	  "unexpected handshake message", { 2, 10 } },
	{ "KeyUpdate value 2", TLS13, 22, { 24, 0, 0, 1, 2 }, 5, -1,
	  "invalid post-handshake message", { 2, 47 } },
	{ "KeyUpdate too long", TLS13, 22, { 24, 0, 0, 2, 0, 0 }, 6, -1,
	  "invalid post-handshake message", { 2, 50 } },
	{ "KeyUpdate then part of more", TLS13, 22, { 24, 0, 0, 1, 0, 24, 0, 0 }, 8, -1,
	  "after a KeyUpdate", { 2, 10 } },
	{ "KeyUpdate then another", TLS13, 22, { 24, 0, 0, 1, 0, 24, 0, 0, 1, 0 }, 10, -1,
	  "after a KeyUpdate", { 2, 10 } },
	{ "1.2 HelloRequest", TLS12, 22, { 0, 0, 0, 0 }, 4, 0, NULL, { 1, 100 } },
	{ "1.2 two HelloRequests", TLS12, 22, { 0, 0, 0, 0, 0, 0, 0, 0 }, 8, 0, NULL, { 1, 100 } },
	{ "1.2 HelloRequest with body", TLS12, 22, { 0, 0, 0, 1, 0 }, 5, -1,
	  "unexpected handshake message", { 2, 10 } },
	{ "1.2 partial header waits", TLS12, 22, { 0, 0 }, 2, 0, NULL, { 0, 0 } },
	{ "1.2 ClientHello to a client", TLS12, 22, { 1, 0, 0, 9, 3 }, 5, -1,
	  "unexpected handshake message after the handshake: CLIENT HELLO", { 2, 10 } },
	{ "1.2 empty data record", TLS12, 23, { 0 }, 0, 0, NULL, { 0, 0 } },
	{ "1.3 empty data record", TLS13, 23, { 0 }, 0, 0, NULL, { 0, 0 } },
	{ "data is not ours", TLS13, 23, { 'x' }, 1, -1, "internal error", { 0, 0 } },
	{ "1.2 Finished", TLS12, 22, { 20, 0, 0, 0 }, 4, -1, "unexpected handshake message",
	  { 2, 10 } },
	{ "1.2 warning ignored", TLS12, 21, { 1, 100 }, 2, 0, NULL, { 0, 0 } },
	{ "1.2 fatal bad_record_mac", TLS12, 21, { 2, 20 }, 2, -1,
	  "fatal alert: bad_record_mac (Bad record MAC)", { 0, 0 } },
	{ "1.2 close_notify", TLS12, 21, { 1, 0 }, 2, 1, NULL, { 0, 0 } },
	{ "1.2 ChangeCipherSpec", TLS12, 20, { 1 }, 1, -1, "ChangeCipherSpec", { 2, 10 } },
};

/*
 * An adopted connection runs the lean path's code: a sample of the table
 * (one of each kind, both versions) shows that nothing on the way differs.
 */
static const char *const adopted_cases[] = {
	"close_notify", "handshake_failure", "1.3 warning is fatal", "ClientHello",
	"KeyUpdate value 2", "1.2 HelloRequest", "1.2 ClientHello to a client",
	"1.3 empty data record", "1.2 warning ignored", "1.2 close_notify",
};

static const struct rec_case *rec_case_named(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(rec_cases); i++)
		if (!strcmp(rec_cases[i].name, name))
			return &rec_cases[i];
	ck_abort_msg("no case %s", name);
	return NULL;
}

/*
 * _i past the table: every case again on the lean path, with the same words
 * and alerts; past twice the table: adopted_cases on an adopted connection.
 */
START_TEST(test_records)
{
	const struct rec_case *c = &rec_cases[_i % ARRAY_SIZE(rec_cases)];
	uint8_t sent[2];
	struct pair p;
	int ret;

	if (_i >= 2 * (int)ARRAY_SIZE(rec_cases)) {
		c = rec_case_named(adopted_cases[_i - 2 * (int)ARRAY_SIZE(rec_cases)]);
		pair_start_adopted(&p, c->protocols, NULL, 0);
	} else if (_i >= (int)ARRAY_SIZE(rec_cases)) {
		pair_start_lean(&p, c->protocols, NULL);
	} else {
		pair_start(&p, c->protocols, NULL, NULL);
	}
	ret = posthandshake_record(p.h, c->type, c->data, c->len);
	ck_assert_msg(ret == c->want, "%s: got %d (%s)", c->name, ret,
		      handoff_error(p.h) ? handoff_error(p.h) : "no error");
	if (c->want_err)
		ck_assert_msg(handoff_error(p.h) && strstr(handoff_error(p.h), c->want_err),
			      "%s: error \"%s\"", c->name, handoff_error(p.h));
	if (c->want < 0)
		ck_assert_int_eq(p.h->state, CONN_FAILED);
	else if (c->want == 1)
		ck_assert_int_eq(p.h->state, CONN_CLOSED);
	else
		ck_assert_int_eq(p.h->state, CONN_KTLS);
	if (c->sent[0]) {
		read_raw(p.fds[1], sent, 2);
		ck_assert_msg(sent[0] == c->sent[0] && sent[1] == c->sent[1],
			      "%s: sent alert %u/%u", c->name, sent[0], sent[1]);
		/* Two HelloRequests get two refusals. */
		if (c->len == 8 && c->protocols == TLS12) {
			read_raw(p.fds[1], sent, 2);
			ck_assert_int_eq(sent[1], 100);
		}
	}
	ck_assert_msg(!raw_pending(p.fds[1]), "%s: unexpected bytes sent", c->name);
	pair_free(&p);
}
END_TEST

/*
 * A message that claims 16 MiB and never ends: we stop feeding GnuTLS past
 * 128 KiB instead of letting it buffer the lot, and say why.
 */
START_TEST(test_oversized_message)
{
	static uint8_t rec[16384];
	uint8_t sent[2];
	struct pair p;
	int i, ret = 0;

	pair_start(&p, TLS13, NULL, NULL);
	memset(rec, 0xab, sizeof(rec));
	rec[0] = 4;	/* NewSessionTicket */
	rec[1] = 0xff;
	rec[2] = 0xff;
	rec[3] = 0xff;
	for (i = 0; i < 64 && ret == 0; i++) {
		ret = posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, rec, sizeof(rec));
		rec[0] = rec[1] = rec[2] = rec[3] = 0xab;	/* the rest is body */
	}
	ck_assert_int_eq(ret, -1);
	/* Refused on the record that went past 128 KiB, not at the end of 1 MiB. */
	ck_assert_int_eq(i, 128 * 1024 / (int)sizeof(rec) + 1);
	ck_assert_ptr_nonnull(strstr(handoff_error(p.h), "larger than 128 KiB"));
	ck_assert_int_eq(p.h->state, CONN_FAILED);
	read_raw(p.fds[1], sent, 2);
	ck_assert_int_eq(sent[0], GNUTLS_AL_FATAL);
	ck_assert_int_eq(sent[1], GNUTLS_A_RECORD_OVERFLOW);
	pair_free(&p);
}
END_TEST

/* ------------------------------------------------------ lean path */

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/*
 * A lean client has no cache, so tickets are nothing to it: taken however
 * the records cut them (here byte by byte, then two in one record), nothing
 * sent back, the connection goes on; a ticket too large is refused at its
 * header, not after 128 KiB.
 */
START_TEST(test_lean_ticket_ignored)
{
	static const uint8_t nst[9] = { 4, 0, 0, 5, 'a', 'b', 'c', 'd', 'e' };
	static const uint8_t huge[4] = { 4, 0xff, 0xff, 0xff };
	uint8_t two[18], sent[2];
	struct pair p;
	size_t i;

	pair_start_lean(&p, TLS13, NULL);
	for (i = 0; i < sizeof(nst); i++)
		ck_assert_msg(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, nst + i, 1) == 0, "%s",
			      handoff_error(p.h));
	memcpy(two, nst, sizeof(nst));
	memcpy(two + sizeof(nst), nst, sizeof(nst));
	ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, two, sizeof(two)), 0);
	ck_assert_int_eq(p.h->state, CONN_KTLS);
	ck_assert(!raw_pending(p.fds[1]));
	ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, huge, sizeof(huge)), -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(p.h), "larger than 128 KiB"));
	read_raw(p.fds[1], sent, 2);
	ck_assert_int_eq(sent[1], GNUTLS_A_RECORD_OVERFLOW);
	/* A failed connection keeps no secret. */
	ck_assert_int_eq(p.h->secret_have, 0);
	ck_assert(all_zero(p.h->secret, sizeof(p.h->secret)));
	pair_free(&p);
}
END_TEST

/* A lean server takes no ticket: clients send none (RFC 8446 4.6.1). */
START_TEST(test_lean_server_refuses_ticket)
{
	static const uint8_t nst[9] = { 4, 0, 0, 5, 'a', 'b', 'c', 'd', 'e' };
	uint8_t sent[2];
	struct pair p;

	pair_start_server(&p, TLS13, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE | CONN_TEST_LEAN,
			  false);
	ck_assert(p.h->lean);
	ck_assert_ptr_null(p.h->session);
	ck_assert_int_eq(p.h->secret_have, 3);
	/* A's own tickets (sent by GnuTLS during the handshake) are not what this test reads. */
	while (raw_pending(p.fds[1]))
		ck_assert_int_gt(recv(p.fds[1], sent, sizeof(sent), 0), 0);
	ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, nst, sizeof(nst)), -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(p.h),
				     "unexpected handshake message after the handshake: NEW SESSION TICKET"));
	read_raw(p.fds[1], sent, 2);
	ck_assert_int_eq(sent[1], GNUTLS_A_UNEXPECTED_MESSAGE);
	pair_free(&p);
}
END_TEST

/* As GnuTLS: more than 8 KeyUpdates within a second is a flood, not a protocol. */
START_TEST(test_lean_key_update_flood)
{
	static const uint8_t ku[5] = { GNUTLS_HANDSHAKE_KEY_UPDATE, 0, 0, 1, 0 };
	struct pair p;
	int i, ret = 0;

	pair_start_lean(&p, TLS13, NULL);
	for (i = 0; i < 9 && ret == 0; i++)
		ret = posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, ku, sizeof(ku));
	ck_assert_int_eq(ret, -1);
	ck_assert_int_eq(i, 9);
	ck_assert_ptr_nonnull(strstr(handoff_error(p.h), "more than 8 KeyUpdates"));
	pair_free(&p);
}
END_TEST

/* handoff_config_no_key_update: nothing of the key schedule stays; a KeyUpdate ends the connection. */
START_TEST(test_lean_no_key_update)
{
	static const uint8_t ku[5] = { GNUTLS_HANDSHAKE_KEY_UPDATE, 0, 0, 1, 1 };
	struct handoff_config *cfg = client_config(TLS13, NULL);
	uint8_t sent[2];
	struct pair p;
	int fds[2];

	handoff_config_no_key_update(cfg);
	tu_tcp_pair(fds);
	pair_start_on(&p, cfg, fds, TLS13, NULL,
		      CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE | CONN_TEST_LEAN);
	ck_assert(p.h->lean);
	ck_assert_int_eq(p.h->secret_have, 0);
	ck_assert(all_zero(p.h->secret, sizeof(p.h->secret)));
	ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, ku, sizeof(ku)), -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(p.h), "keeps no traffic secrets"));
	read_raw(p.fds[1], sent, 2);
	ck_assert_int_eq(sent[1], GNUTLS_A_INTERNAL_ERROR);
	pair_free(&p);
}
END_TEST

/*
 * Adopted without the secrets (the shim's delegated connection when
 * handoffd passed none, e.g. a no-key-update identity): a KeyUpdate fails
 * the connection closed, with an internal_error alert and words that say
 * where the secrets are.
 */
START_TEST(test_adopted_no_secrets)
{
	static const uint8_t ku[5] = { GNUTLS_HANDSHAKE_KEY_UPDATE, 0, 0, 1, 0 };
	uint8_t sent[2];
	struct pair p;

	pair_start_adopted(&p, TLS13, NULL, ADOPT_NO_SECRETS);
	ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, ku, sizeof(ku)), -1);
	ck_assert_int_eq(p.h->state, CONN_FAILED);
	ck_assert_ptr_nonnull(strstr(handoff_error(p.h), "traffic secrets are not in this process"));
	read_raw(p.fds[1], sent, 2);
	ck_assert_int_eq(sent[0], GNUTLS_AL_FATAL);
	ck_assert_int_eq(sent[1], GNUTLS_A_INTERNAL_ERROR);
	pair_free(&p);
}
END_TEST

/*
 * Adopted without knowing which end it is (a socket inherited through
 * exec): what either end may receive is taken.  A ClientHello (which only
 * a server may get) and a HelloRequest (only a client) are both declined
 * with no_renegotiation in TLS 1.2; a TLS 1.3 ticket (only a client) is
 * dropped.  The same records fail a client that knows it is one.
 */
START_TEST(test_adopted_role_unknown)
{
	static const uint8_t client_hello[5] = { 1, 0, 0, 1, 3 };
	static const uint8_t hello_request[4] = { 0, 0, 0, 0 };
	static const uint8_t ticket[8] = { 4, 0, 0, 4, 1, 2, 3, 4 };
	uint8_t sent[2];
	struct pair p;

	pair_start_adopted(&p, TLS12, NULL, ADOPT_NO_SECRETS | ADOPT_ROLE_UNKNOWN);
	ck_assert(p.h->role_unknown);
	ck_assert_msg(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, client_hello,
					   sizeof(client_hello)) == 0, "%s", handoff_error(p.h));
	read_raw(p.fds[1], sent, 2);
	ck_assert(sent[0] == GNUTLS_AL_WARNING && sent[1] == GNUTLS_A_NO_RENEGOTIATION);
	ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, hello_request,
					      sizeof(hello_request)), 0);
	read_raw(p.fds[1], sent, 2);
	ck_assert(sent[0] == GNUTLS_AL_WARNING && sent[1] == GNUTLS_A_NO_RENEGOTIATION);
	ck_assert_int_eq(p.h->state, CONN_KTLS);
	pair_free(&p);

	pair_start_adopted(&p, TLS13, NULL, ADOPT_NO_SECRETS | ADOPT_ROLE_UNKNOWN);
	ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, ticket, sizeof(ticket)), 0);
	ck_assert(!raw_pending(p.fds[1]));
	ck_assert_int_eq(p.h->state, CONN_KTLS);
	pair_free(&p);

	/* Known to be a client: a ClientHello is refused. */
	pair_start_adopted(&p, TLS12, NULL, ADOPT_NO_SECRETS);
	ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, client_hello,
					      sizeof(client_hello)), -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(p.h), "CLIENT HELLO"));
	pair_free(&p);
}
END_TEST

/* What handoff_adopt_ktls() and handoff_conn_traffic_secrets() refuse. */
START_TEST(test_adopt_refuses)
{
	static const uint8_t sec[48] = { 1 };
	struct handoff_config *cfg = handoff_config_new();
	struct handoff_ktls_params ok = {
		.version = HANDOFF_TLS_1_3, .cipher = HANDOFF_CIPHER_AES_128_GCM,
		.write_secret = sec, .read_secret = sec, .secret_len = 32,
	}, kp;
	uint8_t w[48], r[48];
	struct handoff *h;
	struct pair p;
	int fds[2], udp;

	tu_tcp_pair(fds);
	/* The kernel must hold the claimed state: a plain TCP socket holds none. */
	errno = 0;
	ck_assert_ptr_null(handoff_adopt_ktls(cfg, fds[0], &ok));
	ck_assert_int_eq(errno, EINVAL);
	/* Secrets that do not fit the suite, TLS 1.2 with secrets, half the secrets. */
	kp = ok;
	kp.cipher = HANDOFF_CIPHER_AES_256_GCM;
	ck_assert_ptr_null(conn_adopt_ktls(cfg, fds[0], &kp, CONN_TEST_NO_INSTALL));
	ck_assert_int_eq(errno, EINVAL);
	kp = ok;
	kp.version = HANDOFF_TLS_1_2;
	ck_assert_ptr_null(conn_adopt_ktls(cfg, fds[0], &kp, CONN_TEST_NO_INSTALL));
	kp = ok;
	kp.read_secret = NULL;
	ck_assert_ptr_null(conn_adopt_ktls(cfg, fds[0], &kp, CONN_TEST_NO_INSTALL));
	kp = ok;
	kp.secret_len = 0;
	ck_assert_ptr_null(conn_adopt_ktls(cfg, fds[0], &kp, CONN_TEST_NO_INSTALL));
	kp = ok;
	kp.version = HANDOFF_TLS_VERSION_COUNT;
	ck_assert_ptr_null(conn_adopt_ktls(cfg, fds[0], &kp, CONN_TEST_NO_INSTALL));
	kp = ok;
	kp.cipher = HANDOFF_CIPHER_COUNT;
	ck_assert_ptr_null(conn_adopt_ktls(cfg, fds[0], &kp, CONN_TEST_NO_INSTALL));
	ck_assert_ptr_null(conn_adopt_ktls(NULL, fds[0], &ok, CONN_TEST_NO_INSTALL));
	ck_assert_ptr_null(conn_adopt_ktls(cfg, -1, &ok, CONN_TEST_NO_INSTALL));
	ck_assert_ptr_null(conn_adopt_ktls(cfg, fds[0], NULL, CONN_TEST_NO_INSTALL));
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_ptr_null(conn_adopt_ktls(cfg, udp, &ok, CONN_TEST_NO_INSTALL));
	ck_assert_int_eq(errno, EINVAL);
	close(udp);
	/* The good one, as a server: its secrets come back out as they went in. */
	kp = ok;
	kp.is_server = 1;
	h = conn_adopt_ktls(cfg, fds[0], &kp, CONN_TEST_NO_INSTALL);
	ck_assert_ptr_nonnull(h);
	ck_assert(h->is_server);
	ck_assert_int_eq(handoff_conn_traffic_secrets(h, w, r, 47), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(handoff_conn_traffic_secrets(h, w, r, sizeof(w)), 32);
	ck_assert_int_eq(memcmp(w, sec, 32), 0);
	ck_assert_int_eq(memcmp(r, sec, 32), 0);
	handoff_free(h);
	ck_assert_int_eq(handoff_conn_traffic_secrets(NULL, w, r, sizeof(w)), -1);
	ck_assert_int_eq(errno, EINVAL);
	handoff_config_free(cfg);
	close(fds[0]);
	close(fds[1]);
	/* A connection that kept its session has no secrets to give. */
	pair_start(&p, TLS13, NULL, NULL);
	ck_assert_int_eq(handoff_conn_traffic_secrets(p.h, w, r, sizeof(w)), -1);
	ck_assert_int_eq(errno, ENOKEY);
	pair_free(&p);
}
END_TEST

/* A client with a session cache keeps its session (tickets), and keeps no secrets of its own. */
START_TEST(test_lean_not_for_ticket_clients)
{
	struct handoff_cache *cache = handoff_cache_new(2);
	struct pair p;
	int fds[2];

	tu_tcp_pair(fds);
	pair_start_on(&p, client_config(TLS13, cache), fds, TLS13, NULL,
		      CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE | CONN_TEST_LEAN);
	ck_assert(!p.h->lean);
	ck_assert_ptr_nonnull(p.h->session);
	ck_assert_int_eq(p.h->secret_have, 0);
	pair_free(&p);
	handoff_cache_free(cache);
}
END_TEST

/* The pull function must never run after the hand-off: it would eat kernel plaintext. */
START_TEST(test_transport_fenced)
{
	struct pair p;
	char buf[8];

	pair_start(&p, TLS13, NULL, NULL);
	peer_send(&p, "x");	/* something the socket could give */
	ck_assert_int_lt(gnutls_record_recv(p.h->session, buf, sizeof(buf)), 0);
	/* The byte is still there for the kernel. */
	ck_assert(raw_pending(p.fds[0]));
	pair_free(&p);
}
END_TEST

/* -------------------------------------------------- io.c, kTLS state */

/*
 * With the keys not installed, the socket under A is plain TCP: what the
 * test writes on B's end is what the kernel would have decrypted.
 */
START_TEST(test_io_kernel_path)
{
	static const uint8_t close_notify[2] = { 1, 0 };
	uint8_t big[20000], sent[2];
	struct pair p;
	char buf[64];
	int fl;

	pair_start(&p, TLS13, NULL, NULL);
	drain_until(&p, "sync", NULL, NULL);	/* B's tickets are not for this test */
	ck_assert_int_eq(handoff_read(p.h, buf, 0), 0);

	/* Small buffer (peek path) and large buffer (direct path). */
	ck_assert_int_eq(write(p.fds[1], "hello", 5), 5);
	ck_assert_int_eq(handoff_read(p.h, buf, sizeof(buf)), 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	ck_assert_int_eq(write(p.fds[1], "world", 5), 5);
	ck_assert_int_eq(handoff_read(p.h, big, sizeof(big)), 5);
	ck_assert_int_eq(memcmp(big, "world", 5), 0);

	/* Non-blocking and nothing there. */
	fl = fcntl(p.fds[0], F_GETFL);
	ck_assert_int_eq(fcntl(p.fds[0], F_SETFL, fl | O_NONBLOCK), 0);
	ck_assert_int_eq(handoff_read(p.h, buf, sizeof(buf)), HANDOFF_WANT_POLLIN);
	ck_assert_int_eq(fcntl(p.fds[0], F_SETFL, fl), 0);

	ck_assert_int_eq(handoff_write(p.h, "abc", 3), 3);
	read_raw(p.fds[1], (uint8_t *)buf, 3);
	ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
	ck_assert_int_eq(handoff_write(p.h, "abc", 0), 0);

	/* close_notify once, however often close is called; no writes after it. */
	ck_assert_int_eq(handoff_close(p.h), 0);
	ck_assert_int_eq(handoff_close(p.h), 0);
	read_raw(p.fds[1], sent, 2);
	ck_assert_int_eq(memcmp(sent, close_notify, 2), 0);
	ck_assert(!raw_pending(p.fds[1]));
	ck_assert_int_eq(handoff_write(p.h, "x", 1), -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(p.h), "close_notify was already sent"));

	/* Our close is half a close: the peer's last data still reads. */
	ck_assert_int_eq(write(p.fds[1], "tail", 4), 4);
	ck_assert_int_eq(handoff_read(p.h, buf, sizeof(buf)), 4);

	/* EOF without close_notify is truncation, not EOF. */
	shutdown(p.fds[1], SHUT_WR);
	ck_assert_int_eq(handoff_read(p.h, buf, sizeof(buf)), -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(p.h), "without close_notify"));
	ck_assert_int_eq(handoff_error_code(p.h), ECONNRESET);
	ck_assert_int_eq(p.h->state, CONN_FAILED);
	ck_assert_int_eq(handoff_read(p.h, buf, sizeof(buf)), -1);
	pair_free(&p);
}
END_TEST

/* After the peer's close_notify, reads are EOF for good; our direction stays usable. */
START_TEST(test_io_after_peer_close)
{
	static const uint8_t close_notify[2] = { 1, 0 };
	uint8_t sent[2];
	struct pair p;
	char buf[8];

	pair_start(&p, TLS13, NULL, NULL);
	ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_ALERT, close_notify, 2), 1);
	ck_assert_int_eq(handoff_read(p.h, buf, sizeof(buf)), 0);
	ck_assert_int_eq(handoff_read(p.h, buf, sizeof(buf)), 0);
	ck_assert_int_eq(handoff_write(p.h, "z", 1), 1);
	read_raw(p.fds[1], (uint8_t *)buf, 1);
	ck_assert_int_eq(handoff_close(p.h), 0);
	read_raw(p.fds[1], sent, 2);
	ck_assert_int_eq(memcmp(sent, close_notify, 2), 0);
	ck_assert_str_eq(handoff_conn_version(p.h), "TLSv1.3");
	pair_free(&p);
}
END_TEST

START_TEST(test_io_not_ready)
{
	struct handoff_config *cfg = client_config(TLS13, NULL);
	struct handoff *h;
	int fds[2];
	char buf[4];

	tu_tcp_pair(fds);
	h = handoff_client(cfg, fds[0], "localhost");
	ck_assert_int_eq(handoff_read(h, buf, sizeof(buf)), -1);
	ck_assert_ptr_nonnull(handoff_error(h));
	ck_assert_int_eq(handoff_write(h, "x", 1), -1);
	ck_assert_int_eq(handoff_close(h), -1);
	ck_assert_int_eq(handoff_read(NULL, buf, sizeof(buf)), -1);
	ck_assert_int_eq(handoff_write(h, NULL, 1), -1);
	handoff_free(h);
	handoff_config_free(cfg);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* ------------------------------------------- io.c, user-space fallback */

struct user_peer {
	struct peer *b;
	int ret;
};

/* B sends data, a fresh ticket between two writes, a KeyUpdate, then closes. */
static int user_peer_run(void *p)
{
	struct user_peer *u = p;
	char buf[16];
	ssize_t r;

	u->ret = -1;
	if (gnutls_record_send(u->b->s, "one", 3) != 3 ||
	    gnutls_session_ticket_send(u->b->s, 1, 0) != 0 ||
	    gnutls_record_send(u->b->s, "two", 3) != 3 ||
	    gnutls_session_key_update(u->b->s, GNUTLS_KU_PEER) != 0 ||
	    gnutls_record_send(u->b->s, "three", 5) != 5)
		return 0;
	do
		r = gnutls_record_recv(u->b->s, buf, sizeof(buf));
	while (r == GNUTLS_E_AGAIN);
	if (r != 4 || memcmp(buf, "ping", 4) != 0)
		return 0;
	if (gnutls_bye(u->b->s, GNUTLS_SHUT_WR) != 0)
		return 0;
	u->ret = 0;
	return 0;
}

static void read_exact(struct handoff *h, const char *want)
{
	char buf[32];
	ssize_t n = handoff_read(h, buf, sizeof(buf));

	ck_assert_msg(n == (ssize_t)strlen(want), "read %zd (%s)", n,
		      n < 0 ? handoff_error(h) : "");
	ck_assert_int_eq(memcmp(buf, want, (size_t)n), 0);
}

START_TEST(test_io_userspace)
{
	struct handoff_cache *cache = handoff_cache_new(4);
	struct handoff_config *cfg = client_config(TLS13, cache);
	struct user_peer u;
	struct pair p;
	pthread_t t;
	int fds[2];
	char buf[8];

	handoff_config_insecure_userspace_fallback(cfg);
	tu_tcp_pair(fds);
	/* Forced, so the fallback is tested in the VM too, where kTLS would take the keys. */
	pair_start_on(&p, cfg, fds, TLS13, NULL, CONN_TEST_NO_PROBE | CONN_TEST_USERSPACE);
	ck_assert_int_eq(p.h->state, CONN_USERSPACE);
	ck_assert_int_eq(handoff_conn_ktls(p.h), 0);
	u.b = &p.b;
	t = tu_spawn(user_peer_run, &u);
	read_exact(p.h, "one");
	read_exact(p.h, "two");
	ck_assert(has_ticket(p.h));
	read_exact(p.h, "three");
	ck_assert_int_eq(handoff_write(p.h, "ping", 4), 4);
	ck_assert_int_eq(handoff_read(p.h, buf, sizeof(buf)), 0);	/* close_notify */
	ck_assert_int_eq(handoff_read(p.h, buf, sizeof(buf)), 0);
	ck_assert_int_eq(handoff_close(p.h), 0);
	tu_join(t);
	ck_assert_int_eq(u.ret, 0);
	pair_free(&p);
	handoff_cache_free(cache);
}
END_TEST

/*
 * _i: the version index.  Zero-length application data records (legal in
 * TLS 1.2 and 1.3) read as nothing: never EOF, never an error, whether
 * they come between data, alone on a non-blocking socket, before a
 * blocking read's data, or right before close_notify.
 */
struct late_send {
	struct peer *b;
	const char *text;
};

static int late_send_run(void *p)
{
	struct late_send *l = p;

	usleep(100 * 1000);
	return (int)gnutls_record_send(l->b->s, l->text, strlen(l->text));
}

START_TEST(test_io_userspace_empty_records)
{
	unsigned protocols = _i ? TLS13 : TLS12;
	struct handoff_config *cfg = client_config(protocols, NULL);
	struct late_send late;
	struct pair p;
	pthread_t t;
	int fds[2], fl, i;
	char buf[8];
	ssize_t n;

	handoff_config_insecure_userspace_fallback(cfg);
	tu_tcp_pair(fds);
	pair_start_on(&p, cfg, fds, protocols, NULL, CONN_TEST_NO_PROBE | CONN_TEST_USERSPACE);
	ck_assert_int_eq(p.h->state, CONN_USERSPACE);

	peer_send(&p, "one");
	tu_send_record(p.b.s, p.b.fd, KTLS_RECORD_APPLICATION_DATA, NULL, 0);
	tu_send_record(p.b.s, p.b.fd, KTLS_RECORD_APPLICATION_DATA, NULL, 0);
	peer_send(&p, "two");
	read_exact(p.h, "one");
	read_exact(p.h, "two");
	/* More in a row than GnuTLS skips in one call (200). */
	for (i = 0; i < 300; i++)
		tu_send_record(p.b.s, p.b.fd, KTLS_RECORD_APPLICATION_DATA, NULL, 0);
	peer_send(&p, "many");
	read_exact(p.h, "many");

	/* Writing nothing sends nothing, and the connection stays usable. */
	ck_assert_int_eq(handoff_write(p.h, "x", 0), 0);
	ck_assert_int_eq(handoff_write(p.h, NULL, 0), 0);
	ck_assert(!raw_pending(p.b.fd));
	ck_assert_int_eq(handoff_write(p.h, "ping", 4), 4);
	do
		n = gnutls_record_recv(p.b.s, buf, sizeof(buf));
	while (n == GNUTLS_E_AGAIN);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(memcmp(buf, "ping", 4), 0);

	/* Blocking: an empty record first, the data 100 ms later; the read waits for it. */
	tu_send_record(p.b.s, p.b.fd, KTLS_RECORD_APPLICATION_DATA, NULL, 0);
	late.b = &p.b;
	late.text = "three";
	t = tu_spawn(late_send_run, &late);
	read_exact(p.h, "three");
	ck_assert_int_eq(tu_join(t), 5);

	/* Non-blocking with only an empty record there: nothing to read yet. */
	fl = fcntl(fds[0], F_GETFL);
	ck_assert_int_eq(fcntl(fds[0], F_SETFL, fl | O_NONBLOCK), 0);
	tu_send_record(p.b.s, p.b.fd, KTLS_RECORD_APPLICATION_DATA, NULL, 0);
	ck_assert(raw_pending(fds[0]));
	ck_assert_msg(handoff_read(p.h, buf, sizeof(buf)) == HANDOFF_WANT_POLLIN, "%s",
		      handoff_error(p.h) ? handoff_error(p.h) : "not WANT_POLLIN");
	ck_assert_int_eq(fcntl(fds[0], F_SETFL, fl), 0);

	/* An empty record right before close_notify: a clean EOF, not a failure. */
	tu_send_record(p.b.s, p.b.fd, KTLS_RECORD_APPLICATION_DATA, NULL, 0);
	ck_assert_int_eq(gnutls_bye(p.b.s, GNUTLS_SHUT_WR), 0);
	ck_assert_msg(handoff_read(p.h, buf, sizeof(buf)) == 0, "%s", handoff_error(p.h));
	ck_assert_int_eq(p.h->state, CONN_CLOSED);
	pair_free(&p);
}
END_TEST

/* ------------------------------------ TLS 1.2 renegotiation, server */

/* A ClientHello of total bytes (header included); only its length matters to us. */
static uint8_t *client_hello(size_t total)
{
	uint8_t *m = malloc(total);
	size_t body = total - 4;

	ck_assert_ptr_nonnull(m);
	memset(m, 0x5a, total);
	m[0] = 1;
	m[1] = (uint8_t)(body >> 16);
	m[2] = (uint8_t)(body >> 8);
	m[3] = (uint8_t)body;
	return m;
}

struct reneg_case {
	const char *name;
	size_t hello;		/* ClientHello size, header included */
	size_t cuts[8];		/* record boundaries inside the message(s), 0-terminated */
	unsigned hellos;	/* how many ClientHellos back to back */
	unsigned declines;	/* no_renegotiation warnings A must send */
	int want;		/* posthandshake_record's last return */
	const char *want_err;
	uint8_t fatal;		/* the fatal alert A must send, or 0 */
};

static const struct reneg_case reneg_cases[] = {
	{ "whole", 200, { 0 }, 1, 1, 0, NULL, 0 },
	{ "three fragments", 200, { 50, 120, 0 }, 1, 1, 0, NULL, 0 },
	{ "header split", 200, { 2, 0 }, 1, 1, 0, NULL, 0 },
	{ "header alone", 200, { 4, 0 }, 1, 1, 0, NULL, 0 },
	{ "bytewise start", 30, { 1, 2, 3, 4, 5, 6, 0 }, 1, 1, 0, NULL, 0 },
	{ "two coalesced", 100, { 0 }, 2, 2, 0, NULL, 0 },
	{ "two straddling", 100, { 150, 0 }, 2, 2, 0, NULL, 0 },
	{ "16 KiB records up to 128 KiB", 128 * 1024,
	  { 16384, 32768, 49152, 65536, 81920, 98304, 114688, 0 }, 1, 1, 0, NULL, 0 },
	{ "one byte over 128 KiB", 128 * 1024 + 1, { 16384, 0 }, 1, 0, -1,
	  "renegotiation ClientHello of 131073 bytes (more than 128 KiB)", GNUTLS_A_RECORD_OVERFLOW },
};

/*
 * _i: the case.  The ClientHello(s) cut at the given offsets; between every
 * two handshake records an empty data record, as a peer may interleave data
 * (RFC 5246 6.2.1; the data itself never reaches posthandshake_record).  A
 * declines each once it is whole, and stays usable.
 */
START_TEST(test_tls12_reneg_server)
{
	const struct reneg_case *c = &reneg_cases[_i];
	size_t total = c->hello * c->hellos, off = 0, end, k;
	uint8_t *msg = malloc(total), *one = client_hello(c->hello), sent[2];
	struct pair p;
	unsigned i;
	int ret = 0;

	ck_assert_ptr_nonnull(msg);
	for (i = 0; i < c->hellos; i++)
		memcpy(msg + i * c->hello, one, c->hello);
	pair_start_server(&p, TLS12, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE, false);
	for (k = 0; off < total && ret == 0; k++) {
		end = k < ARRAY_SIZE(c->cuts) && c->cuts[k] ? c->cuts[k] : total;
		ret = posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, msg + off, end - off);
		off = end;
		if (ret == 0 && off < total) {
			/* Nothing is declined before the message is whole. */
			if (off < c->hello)
				ck_assert_msg(!raw_pending(p.fds[1]), "%s: declined at %zu of %zu",
					      c->name, off, c->hello);
			ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_APPLICATION_DATA,
							      NULL, 0), 0);
		}
	}
	ck_assert_msg(ret == c->want, "%s: %d (%s)", c->name, ret,
		      handoff_error(p.h) ? handoff_error(p.h) : "no error");
	if (c->want_err)
		ck_assert_msg(strstr(handoff_error(p.h), c->want_err), "%s: %s", c->name,
			      handoff_error(p.h));
	for (i = 0; i < c->declines; i++) {
		read_raw(p.fds[1], sent, 2);
		ck_assert_int_eq(sent[0], GNUTLS_AL_WARNING);
		ck_assert_int_eq(sent[1], GNUTLS_A_NO_RENEGOTIATION);
	}
	if (c->fatal) {
		read_raw(p.fds[1], sent, 2);
		ck_assert_int_eq(sent[0], GNUTLS_AL_FATAL);
		ck_assert_int_eq(sent[1], c->fatal);
	}
	ck_assert_msg(!raw_pending(p.fds[1]), "%s: more was sent", c->name);
	ck_assert_int_eq(p.h->state, c->want == 0 ? CONN_KTLS : CONN_FAILED);
	free(msg);
	free(one);
	pair_free(&p);
}
END_TEST

/* A HelloRequest to a server, a Finished after the handshake: refused, not declined. */
START_TEST(test_tls12_server_unexpected)
{
	static const uint8_t hello_request[4] = { 0, 0, 0, 0 };
	uint8_t sent[2];
	struct pair p;

	pair_start_server(&p, TLS12, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE, false);
	ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, hello_request, 4), -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(p.h), "unexpected handshake message"));
	read_raw(p.fds[1], sent, 2);
	ck_assert_int_eq(sent[0], GNUTLS_AL_FATAL);
	ck_assert_int_eq(sent[1], GNUTLS_A_UNEXPECTED_MESSAGE);
	pair_free(&p);
}
END_TEST

/* After our no_renegotiation the peer may give up with a fatal alert: that is what we report. */
START_TEST(test_tls12_fatal_after_decline)
{
	static const uint8_t failure[2] = { GNUTLS_AL_FATAL, GNUTLS_A_HANDSHAKE_FAILURE };
	uint8_t *hello = client_hello(120), sent[2];
	struct pair p;

	pair_start_server(&p, TLS12, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE, false);
	ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_HANDSHAKE, hello, 120), 0);
	read_raw(p.fds[1], sent, 2);
	ck_assert_int_eq(sent[1], GNUTLS_A_NO_RENEGOTIATION);
	ck_assert_int_eq(posthandshake_record(p.h, KTLS_RECORD_ALERT, failure, 2), -1);
	ck_assert_str_eq(handoff_error(p.h), "peer sent fatal alert: handshake_failure (Handshake "
					     "failed) after we declined its renegotiation");
	free(hello);
	pair_free(&p);
}
END_TEST

/* -------------------------- TLS 1.2 renegotiation, user-space fallback */

struct reneg_peer {
	struct pair *p;
	int ret;
	char why[96];
};

static int reneg_peer_fail(struct reneg_peer *r, const char *why, ssize_t n)
{
	snprintf(r->why, sizeof(r->why), "%s: %s", why,
		 n < 0 ? gnutls_strerror((int)n) : n == 0 ? "EOF" : "wrong data");
	r->ret = -1;
	/* A must not wait for what will never come. */
	shutdown(r->p->b.fd, SHUT_RDWR);
	return 0;
}

/* B (client): "one", a renegotiation GnuTLS starts itself, then a ClientHello in fragments. */
static int reneg_client_run(void *arg)
{
	struct reneg_peer *r = arg;
	gnutls_session_t s = r->p->b.s;
	uint8_t *hello = client_hello(300);
	char buf[16];
	ssize_t n;
	int ret;

	r->ret = 0;
	if (gnutls_record_send(s, "one", 3) != 3)
		return reneg_peer_fail(r, "send one", -1);
	do
		ret = gnutls_handshake(s);
	while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
	if (ret != GNUTLS_E_WARNING_ALERT_RECEIVED || gnutls_alert_get(s) != GNUTLS_A_NO_RENEGOTIATION)
		return reneg_peer_fail(r, "renegotiation not declined", ret);
	/* Three fragments, data records between them. */
	tu_send_record(s, r->p->b.fd, KTLS_RECORD_HANDSHAKE, hello, 2);
	tu_send_record(s, r->p->b.fd, KTLS_RECORD_APPLICATION_DATA, "two", 3);
	tu_send_record(s, r->p->b.fd, KTLS_RECORD_HANDSHAKE, hello + 2, 150);
	tu_send_record(s, r->p->b.fd, KTLS_RECORD_APPLICATION_DATA, NULL, 0);
	tu_send_record(s, r->p->b.fd, KTLS_RECORD_HANDSHAKE, hello + 152, 148);
	if (gnutls_record_send(s, "three", 5) != 5)
		return reneg_peer_fail(r, "send three", -1);
	free(hello);
	n = gnutls_record_recv(s, buf, sizeof(buf));
	if (n != GNUTLS_E_WARNING_ALERT_RECEIVED || gnutls_alert_get(s) != GNUTLS_A_NO_RENEGOTIATION)
		return reneg_peer_fail(r, "fragmented ClientHello not declined", n);
	n = gnutls_record_recv(s, buf, sizeof(buf));
	if (n != 4 || memcmp(buf, "pong", 4) != 0)
		return reneg_peer_fail(r, "pong", n);
	/* Like OpenSSL after a refusal: give up with a fatal alert. */
	gnutls_alert_send(s, GNUTLS_AL_FATAL, GNUTLS_A_HANDSHAKE_FAILURE);
	return 0;
}

/*
 * Our user-space server: the renegotiation GnuTLS starts and a ClientHello
 * in three records with data between are declined, the data around them
 * reads intact both ways, and the peer's fatal alert is named as such.
 * Before the transport held handshake records back, GnuTLS failed the read
 * after the first ClientHello ("An unexpected TLS packet was received").
 */
START_TEST(test_io_userspace_reneg_server)
{
	struct reneg_peer r = { 0 };
	struct pair p;
	pthread_t t;
	char buf[16];
	ssize_t n;

	pair_start_server(&p, TLS12, CONN_TEST_NO_PROBE | CONN_TEST_USERSPACE, true);
	ck_assert_int_eq(p.h->state, CONN_USERSPACE);
	r.p = &p;
	t = tu_spawn(reneg_client_run, &r);
	read_exact(p.h, "one");
	read_exact(p.h, "two");
	read_exact(p.h, "three");
	ck_assert_int_eq(handoff_write(p.h, "pong", 4), 4);
	n = handoff_read(p.h, buf, sizeof(buf));
	tu_join(t);
	ck_assert_msg(r.ret == 0, "B: %s", r.why);
	ck_assert_int_eq(n, -1);
	ck_assert_str_eq(handoff_error(p.h), "peer sent fatal alert: handshake_failure (Handshake "
					     "failed) after we declined its renegotiation");
	pair_free(&p);
}
END_TEST

/* B (server): HelloRequests, whole and in two records, around data. */
static int reneg_server_run(void *arg)
{
	static const uint8_t hello_request[4] = { 0, 0, 0, 0 };
	struct reneg_peer *r = arg;
	gnutls_session_t s = r->p->b.s;
	char buf[16];
	bool pong;
	ssize_t n;
	int i;

	r->ret = 0;
	if (gnutls_rehandshake(s) != 0)
		return reneg_peer_fail(r, "rehandshake", -1);
	if (gnutls_record_send(s, "one", 3) != 3)
		return reneg_peer_fail(r, "send one", -1);
	/* A byte per record: GnuTLS alone would take each for a HelloRequest of its own. */
	tu_send_record(s, r->p->b.fd, KTLS_RECORD_HANDSHAKE, hello_request, 1);
	tu_send_record(s, r->p->b.fd, KTLS_RECORD_HANDSHAKE, hello_request + 1, 1);
	tu_send_record(s, r->p->b.fd, KTLS_RECORD_APPLICATION_DATA, "two", 3);
	tu_send_record(s, r->p->b.fd, KTLS_RECORD_HANDSHAKE, hello_request + 2, 1);
	tu_send_record(s, r->p->b.fd, KTLS_RECORD_HANDSHAKE, hello_request + 3, 1);
	/* Two refusals and "pong"; A sends the second refusal when it reads on after "pong". */
	for (i = 0, pong = false; i < 2 || !pong;) {
		n = gnutls_record_recv(s, buf, sizeof(buf));
		if (n == GNUTLS_E_WARNING_ALERT_RECEIVED &&
		    gnutls_alert_get(s) == GNUTLS_A_NO_RENEGOTIATION && i < 2)
			i++;
		else if (n == 4 && memcmp(buf, "pong", 4) == 0 && !pong)
			pong = true;
		else
			return reneg_peer_fail(r, "two refusals and pong", n);
	}
	if (gnutls_bye(s, GNUTLS_SHUT_WR) != 0)
		return reneg_peer_fail(r, "bye", -1);
	return 0;
}

/*
 * Our user-space client declines each HelloRequest once, however it is cut,
 * and reads on.  GnuTLS on its own said GNUTLS_E_REHANDSHAKE for every
 * record that began with a zero byte: four refusals for one message.
 */
START_TEST(test_io_userspace_reneg_client)
{
	struct handoff_config *cfg = client_config(TLS12, NULL);
	struct reneg_peer r = { 0 };
	struct pair p;
	pthread_t t;
	int fds[2];
	char buf[8];
	ssize_t n;

	handoff_config_insecure_userspace_fallback(cfg);
	tu_tcp_pair(fds);
	pair_start_on(&p, cfg, fds, TLS12, NULL, CONN_TEST_NO_PROBE | CONN_TEST_USERSPACE);
	ck_assert_int_eq(p.h->state, CONN_USERSPACE);
	r.p = &p;
	t = tu_spawn(reneg_server_run, &r);
	read_exact(p.h, "one");
	read_exact(p.h, "two");
	ck_assert_int_eq(handoff_write(p.h, "pong", 4), 4);
	n = handoff_read(p.h, buf, sizeof(buf));
	tu_join(t);
	ck_assert_msg(r.ret == 0, "B: %s", r.why);
	ck_assert_msg(n == 0, "%s", handoff_error(p.h));
	pair_free(&p);
}
END_TEST

static Suite *posthandshake_suite(void)
{
	Suite *s = suite_create("posthandshake");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_ticket_stored_and_resumed, 0, (int)ARRAY_SIZE(delivery_name));
	tcase_add_loop_test(tc, test_key_update, 0, 3 * (int)ARRAY_SIZE(ku_ciphers));
	tcase_add_loop_test(tc, test_key_update_not_requested, 0, 2);
	tcase_add_loop_test(tc, test_records, 0,
			    2 * (int)ARRAY_SIZE(rec_cases) + (int)ARRAY_SIZE(adopted_cases));
	tcase_add_test(tc, test_adopted_no_secrets);
	tcase_add_test(tc, test_adopted_role_unknown);
	tcase_add_test(tc, test_adopt_refuses);
	tcase_add_test(tc, test_oversized_message);
	tcase_add_test(tc, test_lean_ticket_ignored);
	tcase_add_test(tc, test_lean_server_refuses_ticket);
	tcase_add_test(tc, test_lean_key_update_flood);
	tcase_add_test(tc, test_lean_not_for_ticket_clients);
	tcase_add_test(tc, test_lean_no_key_update);
	tcase_add_test(tc, test_transport_fenced);
	tcase_add_test(tc, test_io_kernel_path);
	tcase_add_test(tc, test_io_after_peer_close);
	tcase_add_test(tc, test_io_not_ready);
	tcase_add_test(tc, test_io_userspace);
	tcase_add_loop_test(tc, test_io_userspace_empty_records, 0, HANDOFF_TLS_VERSION_COUNT);
	tcase_add_loop_test(tc, test_tls12_reneg_server, 0, (int)ARRAY_SIZE(reneg_cases));
	tcase_add_test(tc, test_tls12_server_unexpected);
	tcase_add_test(tc, test_tls12_fatal_after_decline);
	tcase_add_test(tc, test_io_userspace_reneg_server);
	tcase_add_test(tc, test_io_userspace_reneg_client);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(posthandshake_suite());
}
