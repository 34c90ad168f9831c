/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Several keypairs on one server: the certificate a client is shown
 * follows the name it asks for under RFC 6125's rules (case aside, a
 * wildcard for one label, exact before wildcard; core/certselect.c),
 * checked here through real handshakes with clients that accept only some
 * key types, the first pair is the default, and a pair that would make the
 * choice ambiguous or that does not match its key is refused with the
 * files named, leaving nothing of itself behind.
 */
#include <check.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "core/certselect.h"
#include "core/config.h"
#include "core/conn.h"
#include "core/keypairs.h"
#include "testutil.h"

static struct handoff_config *scfg;

static void setup(void)
{
	scfg = handoff_config_new();
	ck_assert_ptr_nonnull(scfg);
}

static void teardown(void)
{
	handoff_config_free(scfg);
}

static void add(struct handoff_config *cfg, const char *cert, const char *key)
{
	char c[4096];

	snprintf(c, sizeof(c), "%s", tu_pki(cert));	/* tu_pki's buffer is reused */
	ck_assert_msg(handoff_config_add_keypair_file(cfg, c, tu_pki(key)) == 0, "%s: %s", cert,
		      handoff_config_error(cfg));
}

/* The test PKI's certificate file as an object and as DER (the caller frees both). */
static gnutls_x509_crt_t pki_cert(const char *file, gnutls_datum_t *der)
{
	gnutls_datum_t pem = { NULL, 0 };
	gnutls_x509_crt_t crt;

	ck_assert_int_eq(gnutls_load_file(tu_pki(file), &pem), 0);
	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	ck_assert_int_eq(gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM), 0);
	ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der), 0);
	gnutls_free(pem.data);
	return crt;
}

/* The leaf the server presented to a client asking for servername equals file's. */
static void assert_presented(struct handoff_config *server, const char *servername,
			     bool noverifyname, const char *file)
{
	struct handoff_config *ccfg = handoff_config_new();
	gnutls_datum_t der = { NULL, 0 };
	const gnutls_datum_t *peers;
	gnutls_x509_crt_t crt;
	unsigned n = 0;
	struct tu_pair p;

	ck_assert_int_eq(handoff_config_add_ca_file(ccfg, tu_pki("ca.pem")), 0);
	if (noverifyname)
		handoff_config_insecure_noverifyname(ccfg);
	tu_handshake_pair(&p, ccfg, server, servername,
			  CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE | CONN_TEST_KEEP_SESSION);
	ck_assert_msg(p.cli_ret == 0, "%s: client: %s", servername, handoff_error(p.cli));
	ck_assert_msg(p.srv_ret == 0, "%s: server: %s", servername, handoff_error(p.srv));
	peers = gnutls_certificate_get_peers(p.cli->session, &n);
	ck_assert_uint_ge(n, 1);

	crt = pki_cert(file, &der);
	ck_assert_msg(peers[0].size == der.size && !memcmp(peers[0].data, der.data, der.size),
		      "asked for %s: the server did not present %s", servername, file);
	gnutls_x509_crt_deinit(crt);
	gnutls_free(der.data);
	tu_pair_free(&p);
	handoff_config_free(ccfg);
}

struct sni_case {
	const char *servername;	/* an address sends no SNI */
	bool noverifyname;	/* the name is not the presented certificate's */
	const char *presented;
};

/* server.pem (localhost, server.test, 127.0.0.1) added first, then second.pem (second.test). */
static const struct sni_case server_first[] = {
	{ "server.test", false, "server.pem" },
	{ "second.test", false, "second.pem" },
	{ "localhost", false, "server.pem" },
	{ "127.0.0.1", false, "server.pem" },		/* no SNI: the first pair */
	{ "unknown.test", true, "server.pem" },		/* nobody's name: the first pair */
	{ "SECOND.TEST", false, "second.pem" },		/* DNS names have no case */
	{ "Server.Test", false, "server.pem" },
};

START_TEST(test_sni_server_first)
{
	const struct sni_case *c = &server_first[_i];

	add(scfg, "server.pem", "server-key.pem");
	add(scfg, "second.pem", "second-key.pem");
	assert_presented(scfg, c->servername, c->noverifyname, c->presented);
}
END_TEST

/* The same pairs the other way round: the default follows the order. */
static const struct sni_case second_first[] = {
	{ "server.test", false, "server.pem" },
	{ "second.test", false, "second.pem" },
	{ "127.0.0.1", true, "second.pem" },
	{ "unknown.test", true, "second.pem" },
};

START_TEST(test_sni_second_first)
{
	const struct sni_case *c = &second_first[_i];

	add(scfg, "second.pem", "second-key.pem");
	add(scfg, "server.pem", "server-key.pem");
	assert_presented(scfg, c->servername, c->noverifyname, c->presented);
}
END_TEST

/* ---- wildcards, case and key types, with GnuTLS clients restricted by priority */

#define T13 "NORMAL:-VERS-ALL:+VERS-TLS1.3"
#define T12 "NORMAL:-VERS-ALL:+VERS-TLS1.2"
#define RSA13 T13 ":-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-SHA256"
#define RSA12 T12 ":-KX-ALL:+ECDHE-RSA"
/* ECDSA only on P-384 in TLS 1.3 (the curve is part of the algorithm), and RSA. */
#define P384_RSA13 T13 ":-SIGN-ALL:+SIGN-ECDSA-SECP384R1-SHA384:+SIGN-RSA-PSS-RSAE-SHA256"

static int serve(void *arg)
{
	return handoff_handshake(arg);
}

/*
 * raw_resume - as raw_presented() below; with resume_in set the client
 * offers that session, and it must be resumed (nothing chosen, the stored
 * certificate); with resume_out set, the session to resume is stored there
 * (TLS 1.3: after the ticket that follows the handshake).
 */
static void raw_resume(struct handoff_config *server, const char *name, const char *prio,
		       const char *file, bool name_ok, const gnutls_datum_t *resume_in,
		       gnutls_datum_t *resume_out)
{
	gnutls_datum_t der = { NULL, 0 };
	gnutls_certificate_credentials_t cc;
	const gnutls_datum_t *peers;
	gnutls_session_t s;
	gnutls_x509_crt_t crt;
	struct handoff *srv;
	unsigned n = 0;
	int fds[2], ret, srv_ret;
	pthread_t t;

	tu_tcp_pair(fds);
	srv = handoff_server(server, fds[1]);
	ck_assert_ptr_nonnull(srv);
	conn_set_test_flags(srv, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	t = tu_spawn(serve, srv);

	ck_assert_int_eq(gnutls_certificate_allocate_credentials(&cc), 0);
	ck_assert_int_eq(gnutls_init(&s, GNUTLS_CLIENT), 0);
	ck_assert_int_eq(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cc), 0);
	ck_assert_int_eq(gnutls_priority_set_direct(s, prio, NULL), 0);
	if (name)
		ck_assert_int_eq(gnutls_server_name_set(s, GNUTLS_NAME_DNS, name, strlen(name)), 0);
	if (resume_in)
		ck_assert_int_eq(gnutls_session_set_data(s, resume_in->data, resume_in->size), 0);
	gnutls_transport_set_int(s, fds[0]);
	gnutls_handshake_set_timeout(s, 20000);
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0)
		shutdown(fds[0], SHUT_RDWR);
	srv_ret = tu_join(t);
	ck_assert_msg(ret == 0, "%s, %s: client: %s", name, prio, gnutls_strerror(ret));
	ck_assert_msg(srv_ret == 0, "%s, %s: server: %s", name, prio, handoff_error(srv));
	ck_assert_int_eq(gnutls_session_is_resumed(s), resume_in != NULL);
	ck_assert_int_eq(handoff_conn_resumed(srv), resume_in != NULL);
	if (resume_out) {
		char byte;

		/* A TLS 1.3 ticket comes after the handshake: read until the server is quiet. */
		gnutls_record_set_timeout(s, 300);
		(void)gnutls_record_recv(s, &byte, 1);
		ck_assert_int_eq(gnutls_session_get_data2(s, resume_out), 0);
	}

	peers = gnutls_certificate_get_peers(s, &n);
	ck_assert_uint_ge(n, 1);
	crt = pki_cert(file, &der);
	ck_assert_msg(peers[0].size == der.size && !memcmp(peers[0].data, der.data, der.size),
		      "asked for %s with %s: the server did not present %s", name ? name : "(no SNI)",
		      prio, file);
	if (name_ok)
		ck_assert_msg(gnutls_x509_crt_check_hostname2(crt, name, 0),
			      "%s does not pass the client's name check for %s", file, name);
	gnutls_x509_crt_deinit(crt);
	gnutls_free(der.data);
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cc);
	handoff_free(srv);
	close(fds[0]);
	close(fds[1]);
}

/*
 * A GnuTLS client with priority prio asks server for name (NULL: no SNI)
 * and must be shown file; if name_ok, file's names must also pass the
 * client's own RFC 6125 check for name.
 */
static void raw_presented(struct handoff_config *server, const char *name, const char *prio,
			  const char *file, bool name_ok)
{
	raw_resume(server, name, prio, file, name_ok, NULL, NULL);
}

/* The wildcard server, its pairs in this order. */
static const char *const wild_pairs[][2] = {
	{ "server.pem", "server-key.pem" },		/* ECDSA P-256: localhost, server.test (default) */
	{ "server-rsa.pem", "server-rsa-key.pem" },	/* RSA: the same names (the RSA default) */
	{ "wild.pem", "wild-key.pem" },			/* ECDSA P-256: *.wild.test */
	{ "wild-rsa.pem", "wild-rsa-key.pem" },		/* RSA: *.wild.test */
	{ "wild-exact.pem", "wild-exact-key.pem" },	/* ECDSA: www.wild.test, Mixed.Case.Test */
	{ "second.pem", "second-key.pem" },		/* ECDSA: second.test */
};

static void add_wild_pairs(struct handoff_config *cfg)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(wild_pairs); i++)
		add(cfg, wild_pairs[i][0], wild_pairs[i][1]);
}

struct wild_case {
	const char *servername;	/* NULL: no SNI */
	const char *prio;	/* the client's */
	const char *presented;
	bool name_ok;		/* presented is valid for servername */
};

static const struct wild_case wild_cases[] = {
	/* A wildcard stands for one label, in any case. */
	{ "x.wild.test", T13, "wild.pem", true },
	{ "X.Wild.TEST", T13, "wild.pem", true },
	{ "x.wild.test", T12, "wild.pem", true },	/* ECDHE-ECDSA suites first */
	/* A client that takes only RSA gets the wildcard's RSA pair, not the RSA default. */
	{ "x.wild.test", RSA13, "wild-rsa.pem", true },
	{ "x.wild.test", RSA12, "wild-rsa.pem", true },
	/* TLS 1.3 ECDSA is per curve: a P-256 key is no use to a P-384-only client. */
	{ "x.wild.test", P384_RSA13, "wild-rsa.pem", true },
	/* An exact name beats a wildcard added before it. */
	{ "www.wild.test", T13, "wild-exact.pem", true },
	{ "WWW.WILD.TEST", T12, "wild-exact.pem", true },
	/* ... unless its key is refused: then the wildcard's, before the default. */
	{ "www.wild.test", RSA13, "wild-rsa.pem", true },
	/* Not one label: the default. */
	{ "wild.test", T13, "server.pem", false },
	{ "a.b.wild.test", T13, "server.pem", false },
	{ "a.b.wild.test", RSA12, "server-rsa.pem", false },
	/* Case in the certificate or in the client's name. */
	{ "mixed.case.test", T13, "wild-exact.pem", true },
	{ "MIXED.CASE.TEST", T12, "wild-exact.pem", true },
	{ "SECOND.TEST", T13, "second.pem", true },
	{ "Server.Test", RSA13, "server-rsa.pem", true },
	{ "server.test", T13, "server.pem", true },
	/* No pair of that name takes the client's key type: the default of that type. */
	{ "second.test", RSA13, "server-rsa.pem", false },
	{ "MIXED.case.test", RSA13, "server-rsa.pem", false },
	/* No name, or nobody's: the first pair the client takes. */
	{ NULL, T13, "server.pem", false },
	{ "unknown.test", T12, "server.pem", false },
	{ NULL, RSA12, "server-rsa.pem", false },
};

START_TEST(test_sni_wild)
{
	const struct wild_case *c = &wild_cases[_i];

	add_wild_pairs(scfg);
	raw_presented(scfg, c->servername, c->prio, c->presented, c->name_ok);
}
END_TEST

/*
 * The copies: made only for names GnuTLS alone would get wrong, once per
 * name, and holding the matching pairs plus one pair per key kind.
 */
START_TEST(test_steer_copies)
{
	size_t copies = 0, before, loaded, steered;

	before = mallinfo2().uordblks;
	add_wild_pairs(scfg);
	loaded = mallinfo2().uordblks - before;
	raw_presented(scfg, "server.test", T13, "server.pem", true);
	raw_presented(scfg, "second.test", T13, "second.pem", true);
	ck_assert_uint_eq(certselect_count(scfg, &copies), 0);
	before = mallinfo2().uordblks;
	raw_presented(scfg, "x.wild.test", T13, "wild.pem", true);
	steered = mallinfo2().uordblks - before;
	/* For the record (heap in use, glibc's count; meaningless under ASan). */
	printf("keypairs: %zu pairs as loaded: %zu bytes of heap; the copies for x.wild.test "
	       "(4 pairs): %zu bytes\n", ARRAY_SIZE(wild_pairs), loaded, steered);
	raw_presented(scfg, "y.wild.test", RSA12, "wild-rsa.pem", true);
	/* wild, wild-rsa; then server (the first ECDSA P-256) and server-rsa (the first RSA). */
	ck_assert_uint_eq(certselect_count(scfg, &copies), 1);
	ck_assert_uint_eq(copies, 4);
	raw_presented(scfg, "WWW.wild.test", T13, "wild-exact.pem", true);
	ck_assert_uint_eq(certselect_count(scfg, &copies), 2);
	ck_assert_uint_eq(copies, 4 + 5);
}
END_TEST

/*
 * Our own client, verifying the name against the CA: TLS 1.2 resumption
 * (ticket, session ID) of a wildcard-chosen session resumes, and a server
 * that asks for client certificates still checks them against its CA
 * while the wildcard's pair is presented.
 */
START_TEST(test_wild_resume_and_mtls)
{
	struct handoff_cache *cache = handoff_cache_new(8);
	struct handoff_config *ccfg = handoff_config_new();
	struct tu_pair p;
	int round;

	ck_assert_int_eq(handoff_config_set_protocols(scfg, HANDOFF_PROTOCOL_TLSv1_2), 0);
	add_wild_pairs(scfg);
	ck_assert_int_eq(handoff_config_add_ca_file(scfg, tu_pki("ca.pem")), 0);
	handoff_config_verify_client(scfg);
	ck_assert_int_eq(handoff_config_add_ca_file(ccfg, tu_pki("ca.pem")), 0);
	{
		char c[4096];

		snprintf(c, sizeof(c), "%s", tu_pki("client.pem"));
		ck_assert_int_eq(handoff_config_set_keypair_file(ccfg, c, tu_pki("client-key.pem")), 0);
	}
	handoff_config_set_session_cache(ccfg, cache);
	for (round = 0; round < 3; round++) {
		if (round == 2)
			handoff_config_disable_tickets(scfg);	/* by session ID from now on */
		tu_handshake_pair(&p, ccfg, scfg, "Any.Wild.Test",
				  CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
		ck_assert_msg(p.cli_ret == 0, "round %d: client: %s", round, handoff_error(p.cli));
		ck_assert_msg(p.srv_ret == 0, "round %d: server: %s", round, handoff_error(p.srv));
		ck_assert_int_eq(handoff_conn_resumed(p.cli), round == 1);
		ck_assert_int_eq(handoff_conn_resumed(p.srv), round == 1);
		tu_pair_free(&p);
	}
	handoff_config_free(ccfg);
	handoff_cache_free(cache);
}
END_TEST

/*
 * Resumption with GnuTLS clients, TLS 1.3 (ticket) and 1.2: the resumed
 * handshake chooses nothing and the client keeps the wildcard's RSA
 * certificate it was first shown.
 */
static const char *const resume_prios[] = { RSA13, RSA12 };

START_TEST(test_wild_resume_raw)
{
	gnutls_datum_t sess = { NULL, 0 }, again = { NULL, 0 };

	add_wild_pairs(scfg);
	raw_resume(scfg, "R.Wild.Test", resume_prios[_i], "wild-rsa.pem", true, NULL, &sess);
	raw_resume(scfg, "R.Wild.Test", resume_prios[_i], "wild-rsa.pem", true, &sess, &again);
	gnutls_free(sess.data);
	gnutls_free(again.data);
}
END_TEST

/*
 * TLS 1.2 picks the suite before the pair: a client that takes both key
 * types gets the key type of the first pair for its name (or of the
 * default), not ECDSA because ECDHE-ECDSA suites come first.
 */
struct order_case {
	const char *pairs[3];	/* in the order added; each with its -key.pem */
	const char *servername;
	const char *presented;
	bool name_ok;
};

static const struct order_case order_cases[] = {
	/* The name's only pair is RSA; the default ECDSA. */
	{ { "server.pem", "server-rsa.pem", "wild-rsa.pem" }, "x.wild.test", "wild-rsa.pem", true },
	{ { "server.pem", "wild-rsa.pem", NULL }, "X.WILD.TEST", "wild-rsa.pem", true },
	/* The default is RSA, an ECDSA pair has other names. */
	{ { "server-rsa.pem", "wild.pem", NULL }, NULL, "server-rsa.pem", false },
	{ { "server-rsa.pem", "wild.pem", NULL }, "unknown.test", "server-rsa.pem", false },
	{ { "server-rsa.pem", "wild.pem", NULL }, "x.wild.test", "wild.pem", true },
	/* One name, both types: the first added, as in TLS 1.3. */
	{ { "server-rsa.pem", "server.pem", NULL }, "server.test", "server-rsa.pem", true },
	{ { "server.pem", "server-rsa.pem", NULL }, "server.test", "server.pem", true },
};

START_TEST(test_tls12_key_order)
{
	const struct order_case *c = &order_cases[_i];
	char key[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(c->pairs) && c->pairs[i]; i++) {
		snprintf(key, sizeof(key), "%.*s-key.pem", (int)(strlen(c->pairs[i]) - 4), c->pairs[i]);
		add(scfg, c->pairs[i], key);
	}
	raw_presented(scfg, c->servername, T12, c->presented, c->name_ok);
}
END_TEST

/* The matching rule itself. */
struct name_case {
	const char *name, *host;
	enum keypair_match want;
};

static const struct name_case name_cases[] = {
	{ "a.test", "a.test", KEYPAIR_MATCH_EXACT },
	{ "a.test", "A.TEST", KEYPAIR_MATCH_EXACT },
	{ "Mixed.Test", "mixed.tesT", KEYPAIR_MATCH_EXACT },
	{ "i.test", "I.TEST", KEYPAIR_MATCH_EXACT },	/* ASCII folding whatever the locale */
	{ "a.test", "a.test.", KEYPAIR_MATCH_NONE },
	{ "a.test", "a.tes", KEYPAIR_MATCH_NONE },
	{ "a.test", "b.a.test", KEYPAIR_MATCH_NONE },
	{ "*.b.test", "x.b.test", KEYPAIR_MATCH_WILDCARD },
	{ "*.b.test", "X.B.Test", KEYPAIR_MATCH_WILDCARD },
	{ "*.B.TEST", "x.b.test", KEYPAIR_MATCH_WILDCARD },
	{ "*.b.test", "b.test", KEYPAIR_MATCH_NONE },
	{ "*.b.test", "y.x.b.test", KEYPAIR_MATCH_NONE },
	{ "*.b.test", ".b.test", KEYPAIR_MATCH_NONE },
	{ "*.b.test", "xb.test", KEYPAIR_MATCH_NONE },
	{ "*.b.test", "x.c.test", KEYPAIR_MATCH_NONE },
	{ "*.b.test", "*.b.test", KEYPAIR_MATCH_EXACT },
	{ "x*.b.test", "xy.b.test", KEYPAIR_MATCH_NONE },	/* only a whole label is a wildcard */
	{ "*", "x", KEYPAIR_MATCH_NONE },
	{ "*.", "x.", KEYPAIR_MATCH_NONE },
	{ "*.test", "x.test", KEYPAIR_MATCH_WILDCARD },
	{ "", "", KEYPAIR_MATCH_EXACT },
};

START_TEST(test_name_match)
{
	const struct name_case *c = &name_cases[_i];

	ck_assert_msg(keypair_name_match(c->name, c->host, strlen(c->host)) == c->want,
		      "\"%s\" against \"%s\": got %d, want %d", c->name, c->host,
		      keypair_name_match(c->name, c->host, strlen(c->host)), c->want);
}
END_TEST

static void assert_error_has(int ret, const char *const *needles)
{
	const char *err = handoff_config_error(scfg);

	ck_assert_int_eq(ret, -1);
	ck_assert_ptr_nonnull(err);
	for (; *needles; needles++)
		ck_assert_msg(strstr(err, *needles), "\"%s\" lacks \"%s\"", err, *needles);
}

struct bad_case {
	const char *cert, *key;
	const char *needles[5];	/* NULL-terminated */
};

/* After server.pem (ECDSA), server-rsa.pem (RSA, same names) and second.pem (ECDSA). */
static const struct bad_case bad_cases[] = {
	/* a key that is not the certificate's: both files named */
	{ "wrongname.pem", "client-key.pem", { "wrongname.pem", "client-key.pem", "do not match" } },
	{ "wrongname.pem", "server-rsa-key.pem",
	  { "wrongname.pem", "server-rsa-key.pem", "do not match" } },
	/* a name and key type that a pair already has */
	{ "chained.pem", "chained-key.pem", { "chained.pem", "localhost", "an ECDSA certificate, /", "server.pem" } },
	{ "ku-encrypt.pem", "ku-encrypt-key.pem",
	  { "ku-encrypt.pem", "localhost", "an RSA certificate, /", "server-rsa.pem" } },
	{ "revoked.pem", "revoked-key.pem", { "revoked.pem", "already has", "server.pem" } },
	{ "second.pem", "second-key.pem", { "second.pem is given twice" } },
	/* not a certificate, not a key, no file */
	{ "ca-key.pem", "ca-key.pem", { "ca-key.pem" } },
	{ "wrongname.pem", "ca.pem", { "key ", "ca.pem", "no PEM private key" } },
	{ "nonexistent.pem", "server-key.pem", { "certificate file", "nonexistent.pem" } },
};

START_TEST(test_refused)
{
	const struct bad_case *c = &bad_cases[_i];
	char cert[4096];

	add(scfg, "server.pem", "server-key.pem");
	add(scfg, "server-rsa.pem", "server-rsa-key.pem");
	add(scfg, "second.pem", "second-key.pem");
	snprintf(cert, sizeof(cert), "%s", tu_pki(c->cert));
	assert_error_has(handoff_config_add_keypair_file(scfg, cert, tu_pki(c->key)), c->needles);
	ck_assert_uint_eq(scfg->n_keypairs, 3);
	/* Nothing of the refused pair stayed: the names still choose as before. */
	assert_presented(scfg, "second.test", false, "second.pem");
	assert_presented(scfg, "other.test", true, "server.pem");
}
END_TEST

/*
 * GnuTLS's own loader keeps a pair whose key does not match: with one pair
 * the config was useless anyway, with two it would be chosen by its name.
 */
START_TEST(test_mismatch_leaves_nothing)
{
	const char *const needles[] = { "second.pem", "client-key.pem", NULL };
	char cert[4096];

	add(scfg, "server.pem", "server-key.pem");
	snprintf(cert, sizeof(cert), "%s", tu_pki("second.pem"));
	assert_error_has(handoff_config_add_keypair_file(scfg, cert, tu_pki("client-key.pem")),
			 needles);
	assert_presented(scfg, "second.test", true, "server.pem");
	/* The right key afterwards is accepted and chosen. */
	add(scfg, "second.pem", "second-key.pem");
	assert_presented(scfg, "second.test", false, "second.pem");
}
END_TEST

START_TEST(test_set_and_add)
{
	const char *const already[] = { "already set", "add_keypair", NULL };
	char cert[4096];

	snprintf(cert, sizeof(cert), "%s", tu_pki("server.pem"));
	ck_assert_int_eq(handoff_config_set_keypair_file(scfg, cert, tu_pki("server-key.pem")), 0);
	snprintf(cert, sizeof(cert), "%s", tu_pki("second.pem"));
	assert_error_has(handoff_config_set_keypair_file(scfg, cert, tu_pki("second-key.pem")),
			 already);
	add(scfg, "second.pem", "second-key.pem");
	ck_assert_uint_eq(scfg->n_keypairs, 2);
}
END_TEST

/* From memory (handoffd's keyring path): the same choice and the same checks. */
START_TEST(test_mem)
{
	gnutls_datum_t c1 = { NULL, 0 }, k1 = { NULL, 0 }, c2 = { NULL, 0 }, k2 = { NULL, 0 };
	const char *const dup[] = { "certificate #3 (PEM, in memory)", "second.test",
				    "certificate, #2 (PEM, in memory)", NULL };
	const char *const mismatch[] = { "certificate #2 (PEM, in memory)", "do not match", NULL };

	ck_assert_int_eq(gnutls_load_file(tu_pki("server.pem"), &c1), 0);
	ck_assert_int_eq(gnutls_load_file(tu_pki("server-key.pem"), &k1), 0);
	ck_assert_int_eq(gnutls_load_file(tu_pki("second.pem"), &c2), 0);
	ck_assert_int_eq(gnutls_load_file(tu_pki("second-key.pem"), &k2), 0);
	ck_assert_int_eq(handoff_config_add_keypair_mem(scfg, c1.data, c1.size, k1.data, k1.size), 0);
	ck_assert_int_eq(handoff_config_add_keypair_mem(scfg, c2.data, c2.size, k2.data, k2.size), 0);
	assert_error_has(handoff_config_add_keypair_mem(scfg, c2.data, c2.size, k2.data, k2.size),
			 dup);
	assert_error_has(handoff_config_add_keypair_mem(scfg, c2.data, c2.size, k1.data, k1.size),
			 dup);
	assert_presented(scfg, "second.test", false, "second.pem");
	assert_presented(scfg, "server.test", false, "server.pem");

	handoff_config_free(scfg);
	scfg = handoff_config_new();
	ck_assert_int_eq(handoff_config_add_keypair_mem(scfg, c1.data, c1.size, k1.data, k1.size), 0);
	assert_error_has(handoff_config_add_keypair_mem(scfg, c2.data, c2.size, k1.data, k1.size),
			 mismatch);
	ck_assert_uint_eq(scfg->n_keypairs, 1);
	gnutls_free(c1.data);
	gnutls_free(k1.data);
	gnutls_free(c2.data);
	gnutls_free(k2.data);
}
END_TEST

/* The ambiguity rule itself, on names no test certificate has. */
struct conflict_case {
	const char *names[3];	/* of the new pair; NULL-terminated */
	gnutls_pk_algorithm_t pk;
	const char *err;	/* NULL: accepted */
};

static const struct conflict_case conflict_cases[] = {
	{ { "a.test", NULL }, GNUTLS_PK_ECDSA, "a.test already has an ECDSA certificate, one.pem" },
	{ { "A.Test", NULL }, GNUTLS_PK_ECDSA, "A.Test already has" },	/* case does not tell them apart */
	{ { "c.test", "b.test" }, GNUTLS_PK_ECDSA, "b.test already has" },
	{ { "a.test", NULL }, GNUTLS_PK_RSA, NULL },	/* another key type */
	{ { "a.test", NULL }, GNUTLS_PK_RSA_PSS, NULL },
	{ { "c.test", NULL }, GNUTLS_PK_ECDSA, NULL },
	{ { "*.test", NULL }, GNUTLS_PK_ECDSA, NULL },	/* a wildcard over a name: the name wins for itself */
	{ { "*.b.test", NULL }, GNUTLS_PK_ECDSA, NULL },
	{ { "*.B.Test", NULL }, GNUTLS_PK_RSA, NULL },
	{ { "*.W.TEST", NULL }, GNUTLS_PK_ECDSA, "*.W.TEST already has" },	/* the same wildcard */
	{ { "*.w.test", NULL }, GNUTLS_PK_RSA, NULL },
	{ { "x.w.test", NULL }, GNUTLS_PK_ECDSA, NULL },	/* under the wildcard: exact wins for it */
	{ { NULL }, GNUTLS_PK_ECDSA, "no DNS name and one.pem already holds an ECDSA key" },
	{ { NULL }, GNUTLS_PK_EDDSA_ED25519, NULL },
};

START_TEST(test_conflict_rule)
{
	const struct conflict_case *c = &conflict_cases[_i];
	char *one_names[] = { "a.test", "b.test", "*.w.test" };
	struct config_keypair one = { .label = "one.pem", .pk = GNUTLS_PK_ECDSA,
				      .names = one_names, .n_names = 3 };
	struct config_keypair kp = { .label = "new.pem", .pk = c->pk, .names = (char **)c->names };
	struct errbuf err = { 0 };
	int ret;

	while (kp.n_names < 3 && c->names[kp.n_names])
		kp.n_names++;
	ret = keypair_conflict(&one, 1, &kp, &err);
	if (!c->err) {
		ck_assert_msg(ret == 0, "%s", errbuf_get(&err));
	} else {
		ck_assert_int_eq(ret, -1);
		ck_assert_msg(strstr(errbuf_get(&err), c->err) && strstr(errbuf_get(&err), "new.pem"),
			      "\"%s\" lacks \"%s\"", errbuf_get(&err), c->err);
	}
	errbuf_release(&err);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("keypairs");
	TCase *tc = tcase_create("sni");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_sni_server_first, 0, (int)ARRAY_SIZE(server_first));
	tcase_add_loop_test(tc, test_sni_second_first, 0, (int)ARRAY_SIZE(second_first));
	tcase_add_loop_test(tc, test_refused, 0, (int)ARRAY_SIZE(bad_cases));
	tcase_add_test(tc, test_mismatch_leaves_nothing);
	tcase_add_test(tc, test_set_and_add);
	tcase_add_test(tc, test_mem);
	tcase_add_loop_test(tc, test_conflict_rule, 0, (int)ARRAY_SIZE(conflict_cases));
	tcase_add_loop_test(tc, test_name_match, 0, (int)ARRAY_SIZE(name_cases));
	/*
	 * Which pair is presented is decided in user space before any key
	 * reaches the kernel (these handshakes stop there), and the VM's TCG
	 * made these 40-odd handshakes cost about 10 s of the ASan pass: host
	 * only, like tests/interop/sni.sh.
	 */
	if (!getenv("HANDOFF_VM")) {
		tcase_add_loop_test(tc, test_sni_wild, 0, (int)ARRAY_SIZE(wild_cases));
		tcase_add_test(tc, test_steer_copies);
		tcase_add_loop_test(tc, test_tls12_key_order, 0, (int)ARRAY_SIZE(order_cases));
		tcase_add_test(tc, test_wild_resume_and_mtls);
		tcase_add_loop_test(tc, test_wild_resume_raw, 0, (int)ARRAY_SIZE(resume_prios));
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
