/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Our client against our server over loopback, for every version x cipher
 * x authentication mode, up to the point where the keys would go into the
 * kernel.  Each case then proves the two sides agree on the keys: what the
 * client would give the kernel for TX seals a record that the server's RX
 * parameters open, and the other way round.
 */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "core/conn.h"
#include "ktls/ktls.h"
#include "recordcrypt.h"
#include "testutil.h"
#include "util/wipe.h"

enum auth { AUTH_X509, AUTH_MTLS, AUTH_PSK, AUTH_RSA };

struct hs_case {
	unsigned protocols;
	const char *cipher;
	enum auth auth;
	const char *want_version;
};

static const struct hs_case cases[] = {
	{ HANDOFF_PROTOCOL_TLSv1_3, "AES-128-GCM", AUTH_X509, "TLSv1.3" },
	{ HANDOFF_PROTOCOL_TLSv1_3, "AES-256-GCM", AUTH_X509, "TLSv1.3" },
	{ HANDOFF_PROTOCOL_TLSv1_3, "CHACHA20-POLY1305", AUTH_X509, "TLSv1.3" },
	{ HANDOFF_PROTOCOL_TLSv1_3, "AES-128-CCM", AUTH_X509, "TLSv1.3" },
	{ HANDOFF_PROTOCOL_TLSv1_2, "AES-128-GCM", AUTH_X509, "TLSv1.2" },
	{ HANDOFF_PROTOCOL_TLSv1_2, "AES-256-GCM", AUTH_X509, "TLSv1.2" },
	{ HANDOFF_PROTOCOL_TLSv1_2, "CHACHA20-POLY1305", AUTH_X509, "TLSv1.2" },
	{ HANDOFF_PROTOCOL_TLSv1_2, "AES-128-CCM", AUTH_X509, "TLSv1.2" },
	{ HANDOFF_PROTOCOL_TLSv1_3, "AES-128-GCM", AUTH_MTLS, "TLSv1.3" },
	{ HANDOFF_PROTOCOL_TLSv1_3, "CHACHA20-POLY1305", AUTH_MTLS, "TLSv1.3" },
	{ HANDOFF_PROTOCOL_TLSv1_2, "AES-256-GCM", AUTH_MTLS, "TLSv1.2" },
	{ HANDOFF_PROTOCOL_TLSv1_2, "AES-128-CCM", AUTH_MTLS, "TLSv1.2" },
	{ HANDOFF_PROTOCOL_TLSv1_3, "AES-128-GCM", AUTH_PSK, "TLSv1.3" },
	{ HANDOFF_PROTOCOL_TLSv1_3, "CHACHA20-POLY1305", AUTH_PSK, "TLSv1.3" },
	{ HANDOFF_PROTOCOL_TLSv1_3, "AES-128-CCM", AUTH_PSK, "TLSv1.3" },
	{ HANDOFF_PROTOCOL_TLSv1_2, "AES-128-GCM", AUTH_PSK, "TLSv1.2" },
	{ HANDOFF_PROTOCOL_TLSv1_2, "AES-256-GCM", AUTH_PSK, "TLSv1.2" },
	{ HANDOFF_PROTOCOL_TLSv1_2, "CHACHA20-POLY1305", AUTH_PSK, "TLSv1.2" },
	{ HANDOFF_PROTOCOL_TLSv1_3, "AES-256-GCM", AUTH_RSA, "TLSv1.3" },
	{ HANDOFF_PROTOCOL_TLSv1_2, "AES-128-GCM", AUTH_RSA, "TLSv1.2" },
	{ HANDOFF_PROTOCOL_TLSv1_2, "AES-128-CCM", AUTH_RSA, "TLSv1.2" },
	/* Both versions enabled: the newest wins. */
	{ HANDOFF_PROTOCOLS_DEFAULT, "AES-128-GCM", AUTH_X509, "TLSv1.3" },
};

static const uint8_t test_psk[32] = {
	0x0b, 0xad, 0xc0, 0xde, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
	0x19, 0x1a, 0x1b, 0x1c,
};

static struct handoff_config *make_config(const struct hs_case *c, bool server)
{
	struct handoff_config *cfg = handoff_config_new();

	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(handoff_config_set_protocols(cfg, c->protocols), 0);
	ck_assert_msg(handoff_config_set_ciphers(cfg, c->cipher) == 0, "%s",
		      handoff_config_error(cfg));
	ck_assert_int_eq(handoff_config_set_alpn(cfg, "h2,http/1.1"), 0);
	switch (c->auth) {
	case AUTH_PSK:
		ck_assert_int_eq(handoff_config_set_psk(cfg, "handoff-test", test_psk,
							sizeof(test_psk)), 0);
		break;
	case AUTH_MTLS:
		ck_assert_int_eq(handoff_config_add_ca_file(cfg, tu_pki("ca.pem")), 0);
		ck_assert_msg(handoff_config_set_keypair_file(cfg, tu_pki(server ? "server.pem" : "client.pem"),
							      tu_pki(server ? "server-key.pem" : "client-key.pem")) == 0,
			      "%s", handoff_config_error(cfg));
		if (server)
			handoff_config_verify_client(cfg);
		break;
	case AUTH_X509:
	case AUTH_RSA:
		ck_assert_int_eq(handoff_config_add_ca_file(cfg, tu_pki("ca.pem")), 0);
		if (server)
			ck_assert_msg(handoff_config_set_keypair_file(
					      cfg, tu_pki(c->auth == AUTH_RSA ? "server-rsa.pem" : "server.pem"),
					      tu_pki(c->auth == AUTH_RSA ? "server-rsa-key.pem" : "server-key.pem")) == 0,
				      "%s", handoff_config_error(cfg));
		break;
	}
	return cfg;
}

/* What one side would give the kernel for TX must open under the other side's RX. */
static void check_direction(struct handoff *tx, struct handoff *rx, const char *what)
{
	struct ktls_crypto_info wi, ri;
	uint8_t rec[RC_MAX_RECORD], out[256], type = 0;
	size_t rec_len = sizeof(rec), out_len = sizeof(out);
	uint64_t seq = 0;
	int i;

	ck_assert_int_eq(ktls_keys_from_session(tx->session, 0, &wi), 0);
	ck_assert_int_eq(ktls_keys_from_session(rx->session, 1, &ri), 0);
	ck_assert_int_eq(wi.len, ri.len);
	ck_assert_int_eq(wi.u.base.cipher_type, ri.u.base.cipher_type);
	ck_assert_int_eq(wi.u.base.version, ri.u.base.version);
	/* Both sides must agree on the next record number, or the kernel's first record fails. */
	for (i = 0; i < 8; i++)
		seq = (seq << 8) | ((const uint8_t *)&wi.u)[wi.len - 8 + (size_t)i];
	ck_assert_int_eq(rc_seal(&wi, seq, KTLS_RECORD_APPLICATION_DATA, (const uint8_t *)what,
				 strlen(what), 0, rec, &rec_len), 0);
	ck_assert_int_eq(rc_open(&ri, seq, rec, rec_len, &type, out, &out_len), 0);
	ck_assert_int_eq(type, KTLS_RECORD_APPLICATION_DATA);
	ck_assert_int_eq(out_len, strlen(what));
	ck_assert_int_eq(memcmp(out, what, out_len), 0);
	/* The wrong direction's key must not open it: the test can tell keys apart. */
	wipe(&ri, sizeof(ri));
	ck_assert_int_eq(ktls_keys_from_session(tx->session, 1, &ri), 0);
	out_len = sizeof(out);
	ck_assert_int_ne(rc_open(&ri, seq, rec, rec_len, &type, out, &out_len), 0);
	wipe(&wi, sizeof(wi));
	wipe(&ri, sizeof(ri));
}

START_TEST(test_matrix)
{
	const struct hs_case *c = &cases[_i];
	struct handoff_config *ccfg = make_config(c, false), *scfg = make_config(c, true);
	struct tu_pair p;
	struct handoff *cli, *srv;

	tu_handshake_pair(&p, ccfg, scfg, c->auth == AUTH_PSK ? NULL : "localhost",
			  CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	cli = p.cli;
	srv = p.srv;
	ck_assert_msg(p.cli_ret == 0, "client: %s", handoff_error(cli));
	ck_assert_msg(p.srv_ret == 0, "server: %s", handoff_error(srv));

	ck_assert_str_eq(handoff_conn_version(cli), c->want_version);
	ck_assert_str_eq(handoff_conn_version(srv), c->want_version);
	ck_assert_str_eq(handoff_conn_cipher(cli), c->cipher);
	ck_assert_str_eq(handoff_conn_cipher(srv), c->cipher);
	ck_assert_int_eq(handoff_conn_resumed(cli), 0);
	ck_assert_str_eq(handoff_conn_alpn(cli), "h2");
	ck_assert_str_eq(handoff_conn_alpn(srv), "h2");
	if (c->auth == AUTH_PSK) {
		ck_assert_str_eq(handoff_conn_psk_identity(cli), "handoff-test");
		ck_assert_str_eq(handoff_conn_psk_identity(srv), "handoff-test");
		ck_assert_ptr_null(handoff_conn_peer_subject(cli));
	} else {
		ck_assert_ptr_nonnull(handoff_conn_peer_subject(cli));
		ck_assert_str_eq(handoff_conn_servername(srv), "localhost");
	}
	if (c->auth == AUTH_MTLS)
		ck_assert_ptr_nonnull(strstr(handoff_conn_peer_subject(srv), "client.test"));
	else
		ck_assert_ptr_null(handoff_conn_peer_subject(srv));

	check_direction(cli, srv, "client to server");
	check_direction(srv, cli, "server to client");

	tu_pair_free(&p);
	handoff_config_free(ccfg);
	handoff_config_free(scfg);
}
END_TEST

/* Without the test switches a kTLS-less kernel must stop us before a byte is sent. */
START_TEST(test_fails_closed_without_ktls)
{
	struct handoff_config *cfg;
	struct handoff *h;
	const char *env = getenv("HANDOFF_TEST_KTLS");
	uint8_t b;
	int fds[2];

	if (env && strcmp(env, "1") == 0)
		return;	/* the VM has kTLS; this case is about hosts without it */
	cfg = handoff_config_new();
	tu_tcp_pair(fds);
	ck_assert_int_eq(handoff_config_add_ca_file(cfg, tu_pki("ca.pem")), 0);
	h = handoff_client(cfg, fds[0], "localhost");
	ck_assert_int_eq(handoff_handshake(h), -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(h), "kernel TLS unavailable"));
	ck_assert_ptr_nonnull(strstr(handoff_error(h), "modprobe tls"));
	/* Nothing went out: no ClientHello in clear that a later plaintext write could follow. */
	ck_assert_int_eq(recv(fds[1], &b, 1, MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_ptr_null(handoff_conn_version(h));
	ck_assert_int_eq(handoff_conn_ktls(h), 0);
	/* A failed connection stays failed. */
	ck_assert_int_eq(handoff_handshake(h), -1);
	handoff_free(h);
	handoff_config_free(cfg);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct handoff_config *cfg = handoff_config_new();
	int sv[2];

	errno = 0;
	ck_assert_ptr_null(handoff_client(NULL, 0, "x"));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(handoff_server(cfg, -1));
	ck_assert_int_eq(errno, EINVAL);
	/* kTLS needs a stream socket: a datagram socket is refused up front. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	ck_assert_ptr_null(handoff_server(cfg, sv[0]));
	ck_assert_int_eq(errno, EINVAL);
	close(sv[0]);
	close(sv[1]);
	ck_assert_int_eq(handoff_handshake(NULL), -1);
	handoff_free(NULL);
	handoff_config_free(cfg);
}
END_TEST

/*
 * Both ends non-blocking, driven by one poll loop in one thread: the
 * WANT_POLLIN / WANT_POLLOUT contract must be enough to finish.
 */
START_TEST(test_nonblocking)
{
	struct hs_case c = { HANDOFF_PROTOCOLS_DEFAULT, "AES-128-GCM", AUTH_MTLS, "TLSv1.3" };
	struct handoff_config *ccfg = make_config(&c, false), *scfg = make_config(&c, true);
	struct handoff *hs[2];
	int fds[2], ret[2] = { 1, 1 }, wants = 0, i, rounds = 0;

	tu_tcp_pair(fds);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(fcntl(fds[i], F_SETFL, O_NONBLOCK), 0);
	hs[0] = handoff_client(ccfg, fds[0], "localhost");
	hs[1] = handoff_server(scfg, fds[1]);
	for (i = 0; i < 2; i++)
		conn_set_test_flags(hs[i], CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	while ((ret[0] != 0 || ret[1] != 0) && rounds++ < 1000) {
		struct pollfd p[2];
		int n = 0;

		for (i = 0; i < 2; i++) {
			if (ret[i] == 0)
				continue;
			ret[i] = handoff_handshake(hs[i]);
			ck_assert_msg(ret[i] != -1, "%s: %s", i ? "server" : "client",
				      handoff_error(hs[i]));
			if (ret[i] == HANDOFF_WANT_POLLIN || ret[i] == HANDOFF_WANT_POLLOUT) {
				wants++;
				p[n].fd = fds[i];
				p[n].events = ret[i] == HANDOFF_WANT_POLLIN ? POLLIN : POLLOUT;
				n++;
			}
		}
		if (n)
			ck_assert_int_gt(poll(p, (nfds_t)n, 5000), 0);
	}
	ck_assert_int_eq(ret[0], 0);
	ck_assert_int_eq(ret[1], 0);
	/* It really was non-blocking: each side had to wait at least once. */
	ck_assert_int_ge(wants, 2);
	ck_assert_str_eq(handoff_conn_version(hs[0]), "TLSv1.3");
	ck_assert_ptr_nonnull(handoff_conn_peer_subject(hs[1]));
	/* Calling again after success is harmless. */
	ck_assert_int_eq(handoff_handshake(hs[0]), 0);
	for (i = 0; i < 2; i++) {
		handoff_free(hs[i]);
		close(fds[i]);
	}
	handoff_config_free(ccfg);
	handoff_config_free(scfg);
}
END_TEST

/* A non-blocking caller that keeps getting WANT_POLLIN still meets the deadline. */
START_TEST(test_nonblocking_timeout)
{
	struct handoff_config *cfg = handoff_config_new();
	struct handoff *h;
	struct pollfd p;
	int fds[2], ret, rounds = 0;

	tu_tcp_pair(fds);
	ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(handoff_config_add_ca_file(cfg, tu_pki("ca.pem")), 0);
	handoff_config_set_handshake_timeout(cfg, 300);
	h = handoff_client(cfg, fds[0], "localhost");
	conn_set_test_flags(h, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	/* The peer (fds[1]) never answers. */
	while ((ret = handoff_handshake(h)) == HANDOFF_WANT_POLLIN && rounds++ < 100) {
		p.fd = fds[0];
		p.events = POLLIN;
		poll(&p, 1, 50);
	}
	ck_assert_int_eq(ret, -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(h), "timed out after 300 ms"));
	ck_assert_int_eq(handoff_error_code(h), ETIMEDOUT);
	ck_assert_int_lt(rounds, 20);
	handoff_free(h);
	handoff_config_free(cfg);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* A blocking caller whose peer never answers fails after the timeout, not never. */
START_TEST(test_blocking_timeout)
{
	struct handoff_config *cfg = handoff_config_new();
	struct handoff *h;
	struct timespec t0, t1;
	long ms;
	int fds[2];

	tu_tcp_pair(fds);
	ck_assert_int_eq(handoff_config_add_ca_file(cfg, tu_pki("ca.pem")), 0);
	handoff_config_set_handshake_timeout(cfg, 300);
	h = handoff_client(cfg, fds[0], "localhost");
	conn_set_test_flags(h, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(handoff_handshake(h), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_ptr_nonnull(strstr(handoff_error(h), "timed out"));
	ck_assert_int_eq(handoff_error_code(h), ETIMEDOUT);
	ck_assert_int_ge(ms, 250);
	ck_assert_int_lt(ms, 5000);
	handoff_free(h);
	handoff_config_free(cfg);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* A server without a certificate or PSK has nothing to authenticate with. */
START_TEST(test_server_needs_credentials)
{
	struct handoff_config *cfg = handoff_config_new();
	struct handoff *h;
	int fds[2];

	tu_tcp_pair(fds);
	h = handoff_server(cfg, fds[1]);
	conn_set_test_flags(h, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	ck_assert_int_eq(handoff_handshake(h), -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(h), "needs a certificate"));
	handoff_free(h);
	handoff_config_free(cfg);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("handshake");
	TCase *tc = tcase_create("matrix");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_matrix, 0, (int)ARRAY_SIZE(cases));
	tcase_add_test(tc, test_fails_closed_without_ktls);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_server_needs_credentials);
	tcase_add_test(tc, test_nonblocking);
	tcase_add_test(tc, test_nonblocking_timeout);
	tcase_add_test(tc, test_blocking_timeout);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
