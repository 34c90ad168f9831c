/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Peer verification, table-driven: each row is a server certificate, how
 * the client is configured, and what must happen (success, or a failure
 * whose text names the cause).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "core/conn.h"
#include "testutil.h"

/* Client-side knobs for a row. */
#define C_CRL (1u << 0)
#define C_CA2 (1u << 1)		/* also trust ca2.pem (federation) */
#define C_NOVERIFYNAME (1u << 2)
#define C_NOVERIFYTIME (1u << 3)
#define C_NOVERIFYCERT (1u << 4)
#define C_NO_CA (1u << 5)	/* trust only ca2.pem */
#define C_CERT (1u << 6)	/* client presents client.pem */
#define C_BUNDLE (1u << 7)	/* trust ca-bundle.pem (both CAs in one file) */
/* Server-side knobs. */
#define S_REQUIRE (1u << 8)
#define S_OPTIONAL (1u << 9)

struct vcase {
	const char *name;
	const char *server_cert;	/* base name: X.pem and X-key.pem */
	const char *servername;
	unsigned flags;
	const char *client_err;		/* NULL: must succeed */
	const char *server_err;		/* checked when non-NULL */
};

static const struct vcase cases[] = {
	{ "good", "server", "localhost", 0, NULL, NULL },
	{ "good second DNS SAN", "server", "server.test", 0, NULL, NULL },
	{ "good IPv4 SAN", "server", "127.0.0.1", 0, NULL, NULL },
	{ "wrong name", "server", "www.example.com", 0, "not valid for the name \"www.example.com\"", NULL },
	{ "IP not in SAN", "server", "127.0.0.2", 0, "not valid for the name \"127.0.0.2\"", NULL },
	{ "SAN names another host", "wrongname", "localhost", 0, "not valid for the name", NULL },
	{ "wrong name, noverifyname", "wrongname", "localhost", C_NOVERIFYNAME, NULL, NULL },
	{ "expired", "expired", "localhost", 0, "has expired", NULL },
	{ "expired, noverifytime", "expired", "localhost", C_NOVERIFYTIME, NULL, NULL },
	{ "not yet valid", "notyet", "localhost", 0, "not yet valid", NULL },
	{ "untrusted CA", "untrusted", "localhost", 0, "not signed by a trusted CA", NULL },
	{ "untrusted CA, noverifycert", "untrusted", "localhost", C_NOVERIFYCERT, NULL, NULL },
	{ "revoked", "revoked", "localhost", C_CRL, "revoked", NULL },
	{ "revoked, no CRL loaded", "revoked", "localhost", 0, NULL, NULL },
	{ "CRL does not hit a good cert", "server", "localhost", C_CRL, NULL, NULL },
	{ "federation: second CA file", "server2", "localhost", C_CA2, NULL, NULL },
	{ "federation: bundle", "server2", "localhost", C_BUNDLE, NULL, NULL },
	{ "only the other CA", "server", "localhost", C_NO_CA, "not signed by a trusted CA", NULL },
	{ "mTLS", "server", "localhost", C_CERT | S_REQUIRE, NULL, NULL },
	{ "mTLS optional, sent", "server", "localhost", C_CERT | S_OPTIONAL, NULL, NULL },
	{ "mTLS optional, not sent", "server", "localhost", S_OPTIONAL, NULL, NULL },
	/* In TLS 1.3 the client is done before the server judges it: only the server side is asserted. */
	{ "mTLS required, not sent", "server", "localhost", S_REQUIRE, NULL, "sent no certificate, but one is required" },
};

static char *pem(const char *base, const char *suffix)
{
	char name[128];

	snprintf(name, sizeof(name), "%s%s.pem", base, suffix);
	return strdup(tu_pki(name));
}

START_TEST(test_verify)
{
	const struct vcase *c = &cases[_i];
	struct handoff_config *ccfg = handoff_config_new(), *scfg = handoff_config_new();
	char *cert = pem(c->server_cert, ""), *key = pem(c->server_cert, "-key");
	struct tu_pair p;

	ck_assert_msg(handoff_config_set_keypair_file(scfg, cert, key) == 0, "%s",
		      handoff_config_error(scfg));
	ck_assert_int_eq(handoff_config_add_ca_file(scfg, tu_pki("ca.pem")), 0);
	if (c->flags & S_REQUIRE)
		handoff_config_verify_client(scfg);
	if (c->flags & S_OPTIONAL)
		handoff_config_verify_client_optional(scfg);

	if (c->flags & C_BUNDLE)
		ck_assert_int_eq(handoff_config_add_ca_file(ccfg, tu_pki("ca-bundle.pem")), 0);
	else if (c->flags & C_NO_CA)
		ck_assert_int_eq(handoff_config_add_ca_file(ccfg, tu_pki("ca2.pem")), 0);
	else
		ck_assert_int_eq(handoff_config_add_ca_file(ccfg, tu_pki("ca.pem")), 0);
	if (c->flags & C_CA2)
		ck_assert_int_eq(handoff_config_add_ca_file(ccfg, tu_pki("ca2.pem")), 0);
	if (c->flags & C_CRL)
		ck_assert_msg(handoff_config_add_crl_file(ccfg, tu_pki("crl.pem")) == 0, "%s",
			      handoff_config_error(ccfg));
	if (c->flags & C_NOVERIFYNAME)
		handoff_config_insecure_noverifyname(ccfg);
	if (c->flags & C_NOVERIFYTIME)
		handoff_config_insecure_noverifytime(ccfg);
	if (c->flags & C_NOVERIFYCERT)
		handoff_config_insecure_noverifycert(ccfg);
	if (c->flags & C_CERT)
		ck_assert_int_eq(handoff_config_set_keypair_file(ccfg, tu_pki("client.pem"),
								 tu_pki("client-key.pem")), 0);

	tu_handshake_pair(&p, ccfg, scfg, c->servername, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);

	if (c->server_err) {
		ck_assert_msg(p.srv_ret == -1 && strstr(handoff_error(p.srv), c->server_err),
			      "%s: server error \"%s\" lacks \"%s\"", c->name,
			      handoff_error(p.srv) ? handoff_error(p.srv) : "(none)", c->server_err);
	} else if (!c->client_err) {
		ck_assert_msg(p.cli_ret == 0, "%s: client: %s", c->name, handoff_error(p.cli));
		ck_assert_msg(p.srv_ret == 0, "%s: server: %s", c->name, handoff_error(p.srv));
		if (c->flags & C_CERT)
			ck_assert_ptr_nonnull(handoff_conn_peer_subject(p.srv));
		else
			ck_assert_ptr_null(handoff_conn_peer_subject(p.srv));
	} else {
		ck_assert_msg(p.cli_ret == -1, "%s: client handshake succeeded", c->name);
		ck_assert_ptr_nonnull(handoff_error(p.cli));
		ck_assert_msg(strstr(handoff_error(p.cli), c->client_err), "%s: client error \"%s\" lacks \"%s\"",
			      c->name, handoff_error(p.cli), c->client_err);
		/* We rejected the server: the shim and handoffd report that as an abort, not a reset. */
		ck_assert_msg(handoff_error_code(p.cli) == ECONNABORTED, "%s: client error code %d",
			      c->name, handoff_error_code(p.cli));
		/* The server saw our alert. */
		ck_assert_msg(handoff_error_code(p.srv) == ECONNRESET, "%s: server error code %d (%s)",
			      c->name, handoff_error_code(p.srv), handoff_error(p.srv));
		ck_assert_int_eq(p.srv_ret, -1);
	}

	tu_pair_free(&p);
	handoff_config_free(ccfg);
	handoff_config_free(scfg);
	free(cert);
	free(key);
}
END_TEST

/* A client that names no server cannot check one: refuse rather than skip the check. */
START_TEST(test_no_servername)
{
	struct handoff_config *cfg = handoff_config_new();
	struct handoff *h;
	int fds[2];

	tu_tcp_pair(fds);
	ck_assert_int_eq(handoff_config_add_ca_file(cfg, tu_pki("ca.pem")), 0);
	h = handoff_client(cfg, fds[0], NULL);
	conn_set_test_flags(h, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	ck_assert_int_eq(handoff_handshake(h), -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(h), "no server name"));
	handoff_free(h);
	handoff_config_free(cfg);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("verify");
	TCase *tc = tcase_create("verify");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_verify, 0, (int)ARRAY_SIZE(cases));
	tcase_add_test(tc, test_no_servername);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
