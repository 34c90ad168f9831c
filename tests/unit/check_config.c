/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Config setters: every bad input is refused with words that name it, and
 * the priority string they produce offers only what it should.
 */
#include <check.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "core/config.h"
#include "core/conn.h"
#include "handshake/priority.h"
#include "testutil.h"

static struct handoff_config *cfg;

static void setup(void)
{
	cfg = handoff_config_new();
	ck_assert_ptr_nonnull(cfg);
}

static void teardown(void)
{
	handoff_config_free(cfg);
}

static void assert_error(int ret, const char *needle)
{
	ck_assert_int_eq(ret, -1);
	ck_assert_ptr_nonnull(handoff_config_error(cfg));
	ck_assert_msg(strstr(handoff_config_error(cfg), needle), "\"%s\" lacks \"%s\"",
		      handoff_config_error(cfg), needle);
}

struct cipher_case {
	const char *list;
	int ok;
	const char *err_or_first;	/* error text, or the first cipher in the priority string */
};

static const struct cipher_case cipher_cases[] = {
	{ "AES-128-GCM", 1, "+AES-128-GCM" },
	{ "chacha20-poly1305:AES-256-GCM", 1, "+CHACHA20-POLY1305:+AES-256-GCM" },
	{ "AES-256-GCM,AES-128-CCM", 1, "+AES-256-GCM:+AES-128-CCM" },
	{ "AES-128-CBC", 0, "unknown cipher \"AES-128-CBC\"" },
	{ "AES-128-GCM:RC4", 0, "unknown cipher \"RC4\"" },
	{ "AES-128-GCM:AES-128-GCM", 0, "listed twice" },
	{ "", 0, "empty cipher list" },
	{ "AES-128-GCM:", 1, "+AES-128-GCM:+AEAD" },
};

START_TEST(test_ciphers)
{
	const struct cipher_case *c = &cipher_cases[_i];
	struct errbuf err = { 0 };
	char prio[512];
	int ret = handoff_config_set_ciphers(cfg, c->list);

	if (!c->ok) {
		assert_error(ret, c->err_or_first);
		return;
	}
	ck_assert_int_eq(ret, 0);
	ck_assert_int_eq(priority_build(cfg, NULL, false, prio, sizeof(prio), &err), 0);
	ck_assert_msg(strstr(prio, c->err_or_first), "%s lacks %s", prio, c->err_or_first);
	/* Never anything but AEAD, never anything older than 1.2. */
	ck_assert_ptr_null(strstr(prio, "CBC"));
	ck_assert_ptr_null(strstr(prio, "VERS-TLS1.1"));
	ck_assert_ptr_null(strstr(prio, "VERS-TLS1.0"));
	ck_assert_ptr_null(strstr(prio, "+SHA1"));
	ck_assert_ptr_nonnull(strstr(prio, "NONE:"));
}
END_TEST

START_TEST(test_protocols)
{
	struct errbuf err = { 0 };
	char prio[512];

	assert_error(handoff_config_set_protocols(cfg, 0), "no protocol version");
	assert_error(handoff_config_set_protocols(cfg, 1u << 5), "unknown protocol bits");
	ck_assert_int_eq(handoff_config_set_protocols(cfg, HANDOFF_PROTOCOL_TLSv1_3), 0);
	ck_assert_int_eq(priority_build(cfg, NULL, true, prio, sizeof(prio), &err), 0);
	ck_assert_ptr_nonnull(strstr(prio, "+VERS-TLS1.3"));
	ck_assert_ptr_null(strstr(prio, "VERS-TLS1.2"));
	ck_assert_ptr_nonnull(strstr(prio, "%SERVER_PRECEDENCE"));
	ck_assert_int_eq(handoff_config_set_protocols(cfg, HANDOFF_PROTOCOL_TLSv1_2), 0);
	ck_assert_int_eq(priority_build(cfg, NULL, false, prio, sizeof(prio), &err), 0);
	ck_assert_ptr_null(strstr(prio, "VERS-TLS1.3"));
	ck_assert_ptr_null(strstr(prio, "%SERVER_PRECEDENCE"));
}
END_TEST

/* A TLS 1.2 server whose name's first pair is RSA puts the RSA key exchanges first (certselect). */
START_TEST(test_priority_rsa_first)
{
	struct errbuf err = { 0 };
	char prio[512], swapped[512];
	const char *rsa, *ecdsa;

	ck_assert_int_eq(priority_build(cfg, NULL, true, prio, sizeof(prio), &err), 0);
	ck_assert_int_eq(priority_rsa_first(prio, swapped, sizeof(swapped)), 0);
	ck_assert_uint_eq(strlen(swapped), strlen(prio));
	rsa = strstr(swapped, ":+ECDHE-RSA:+DHE-RSA");
	ecdsa = strstr(swapped, ":+ECDHE-ECDSA");
	ck_assert_msg(rsa && ecdsa && rsa < ecdsa, "%s", swapped);
	ck_assert_ptr_nonnull(strstr(swapped, "%SERVER_PRECEDENCE"));
	/* Too small, or not ours: refused, never cut. */
	ck_assert_int_eq(priority_rsa_first(prio, swapped, strlen(prio)), -1);
	ck_assert_int_eq(priority_rsa_first("NORMAL", swapped, sizeof(swapped)), -1);
}
END_TEST

/* Ciphers the kernel refuses are not offered; if nothing is left, say so. */
START_TEST(test_priority_follows_kernel)
{
	struct handoff_kernel_info k;
	struct errbuf err = { 0 };
	char prio[512];
	int v, c;

	memset(&k, 0, sizeof(k));
	for (v = 0; v < HANDOFF_TLS_VERSION_COUNT; v++)
		for (c = 0; c < HANDOFF_CIPHER_COUNT; c++)
			k.tx_errno[v][c] = k.rx_errno[v][c] = ENOENT;
	k.tx_errno[HANDOFF_TLS_1_3][HANDOFF_CIPHER_CHACHA20_POLY1305] = 0;
	k.rx_errno[HANDOFF_TLS_1_3][HANDOFF_CIPHER_CHACHA20_POLY1305] = 0;
	ck_assert_int_eq(priority_build(cfg, &k, false, prio, sizeof(prio), &err), 0);
	ck_assert_ptr_nonnull(strstr(prio, "+CHACHA20-POLY1305"));
	ck_assert_ptr_null(strstr(prio, "AES-128-GCM"));
	ck_assert_ptr_null(strstr(prio, "AES-256-GCM"));
	/* TX alone is not enough: both directions go to the kernel. */
	k.tx_errno[HANDOFF_TLS_1_3][HANDOFF_CIPHER_AES_128_GCM] = 0;
	ck_assert_int_eq(priority_build(cfg, &k, false, prio, sizeof(prio), &err), 0);
	ck_assert_ptr_null(strstr(prio, "AES-128-GCM"));
	/* Only TLS 1.2 enabled, and the kernel has CHACHA only for 1.3: nothing to offer. */
	ck_assert_int_eq(handoff_config_set_protocols(cfg, HANDOFF_PROTOCOL_TLSv1_2), 0);
	ck_assert_int_eq(priority_build(cfg, &k, false, prio, sizeof(prio), &err), -1);
	ck_assert_ptr_nonnull(strstr(errbuf_get(&err), "handoff check"));
	errbuf_release(&err);
}
END_TEST

START_TEST(test_files)
{
	assert_error(handoff_config_add_ca_file(cfg, "/nonexistent/ca.pem"), "No such file");
	assert_error(handoff_config_add_ca_file(cfg, NULL), "no path");
	/* A file without certificates is an error, not zero trust anchors in silence. */
	assert_error(handoff_config_add_ca_file(cfg, tu_pki("psk.txt")), "psk.txt");
	assert_error(handoff_config_add_ca_dir(cfg, "/nonexistent"), "No such file");
	assert_error(handoff_config_add_crl_file(cfg, tu_pki("ca.pem")), "CRL file");
	assert_error(handoff_config_set_keypair_file(cfg, tu_pki("server.pem"), tu_pki("client-key.pem")),
		     "certificate");
	assert_error(handoff_config_set_keypair_file(cfg, tu_pki("server.pem"), "/nonexistent"),
		     "key file /nonexistent");
	/* The key file is read by us (into memory we wipe): only a regular file will do. */
	assert_error(handoff_config_set_keypair_file(cfg, tu_pki("server.pem"), "/dev/null"),
		     "key file /dev/null: not a regular file");
	assert_error(handoff_config_set_keypair_file(cfg, tu_pki("server.pem"), tu_pki("ca.pem")),
		     "key");
	ck_assert_int_eq(handoff_config_add_ca_file(cfg, tu_pki("ca.pem")), 0);
	ck_assert_int_eq(handoff_config_add_ca_file(cfg, tu_pki("ca2.pem")), 0);
	ck_assert_int_eq(cfg->n_ca, 2);
	ck_assert_int_eq(handoff_config_add_crl_file(cfg, tu_pki("crl.pem")), 0);
	ck_assert_int_eq(handoff_config_set_keypair_file(cfg, tu_pki("server.pem"),
							 tu_pki("server-key.pem")), 0);
	assert_error(handoff_config_set_keypair_file(cfg, tu_pki("server.pem"),
						     tu_pki("server-key.pem")), "already set");
}
END_TEST

static gnutls_datum_t read_pki(const char *name)
{
	gnutls_datum_t d = { NULL, 0 };

	ck_assert_int_eq(gnutls_load_file(tu_pki(name), &d), 0);
	return d;
}

/* The DER forms a kernel keyring holds: the leaf certificate and a PKCS#8 key. */
static void to_der(const gnutls_datum_t *cert_pem, const gnutls_datum_t *key_pem,
		   gnutls_datum_t *cert_der, gnutls_datum_t *key_der)
{
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;

	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	ck_assert_int_eq(gnutls_x509_crt_import(crt, cert_pem, GNUTLS_X509_FMT_PEM), 0);
	ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, cert_der), 0);
	gnutls_x509_crt_deinit(crt);
	ck_assert_int_eq(gnutls_x509_privkey_init(&key), 0);
	ck_assert_int_eq(gnutls_x509_privkey_import(key, key_pem, GNUTLS_X509_FMT_PEM), 0);
	ck_assert_int_eq(gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, NULL,
							   GNUTLS_PKCS_PLAIN, key_der), 0);
	gnutls_x509_privkey_deinit(key);
}

START_TEST(test_keypair_mem)
{
	gnutls_datum_t cert = read_pki("server.pem"), key = read_pki("server-key.pem");
	gnutls_datum_t other = read_pki("client-key.pem");
	gnutls_datum_t cert_der, key_der;
	struct handoff_config *scfg, *ccfg;
	struct tu_pair p;

	to_der(&cert, &key, &cert_der, &key_der);
	assert_error(handoff_config_set_keypair_mem(cfg, NULL, 0, key.data, key.size), "empty");
	assert_error(handoff_config_set_keypair_mem(cfg, cert.data, cert.size, key_der.data,
						    key_der.size), "one is PEM, the other DER");
	assert_error(handoff_config_set_keypair_mem(cfg, cert_der.data, cert_der.size,
						    (const uint8_t *)"junk", 4), "DER");
	assert_error(handoff_config_set_keypair_mem(cfg, cert.data, cert.size, other.data,
						    other.size), "PEM");
	ck_assert_int_eq(handoff_config_set_keypair_mem(cfg, cert.data, cert.size, key.data,
							key.size), 0);
	assert_error(handoff_config_set_keypair_mem(cfg, cert.data, cert.size, key.data,
						    key.size), "already set");

	/* DER from memory serves a real handshake, verified against the CA. */
	scfg = handoff_config_new();
	ccfg = handoff_config_new();
	ck_assert_int_eq(handoff_config_set_keypair_mem(scfg, cert_der.data, cert_der.size,
							key_der.data, key_der.size), 0);
	ck_assert_int_eq(handoff_config_add_ca_file(ccfg, tu_pki("ca.pem")), 0);
	tu_handshake_pair(&p, ccfg, scfg, "localhost", CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	ck_assert_msg(p.cli_ret == 0, "client: %s", handoff_error(p.cli));
	ck_assert_int_eq(p.srv_ret, 0);
	tu_pair_free(&p);
	handoff_config_free(scfg);
	handoff_config_free(ccfg);
	gnutls_free(cert.data);
	gnutls_free(key.data);
	gnutls_free(other.data);
	gnutls_free(cert_der.data);
	gnutls_free(key_der.data);
}
END_TEST

/* key_variant: server-key.pem with its text changed, as operators' key files come. */
static char *key_variant(const gnutls_datum_t *key, const char *prefix, bool crlf,
			 char swap_from, char swap_to, bool cut_end)
{
	size_t cap = strlen(prefix) + key->size * 2 + 1, n = 0;
	char *out = malloc(cap);
	bool swapped = false;

	ck_assert_ptr_nonnull(out);
	n = (size_t)snprintf(out, cap, "%s", prefix);
	for (unsigned i = 0; i < key->size; i++) {
		char c = (char)key->data[i];

		/* Only in the body: after the first line. */
		if (!swapped && swap_from && c == swap_from && memchr(key->data, '\n', i)) {
			c = swap_to;
			swapped = true;
		}
		if (c == '\n' && crlf)
			out[n++] = '\r';
		out[n++] = c;
	}
	out[n] = '\0';
	if (cut_end)
		*strstr(out, "-----END") = '\0';
	return out;
}

/*
 * PEM keys are decoded by us (util/pem.c), not by GnuTLS, so that no copy
 * of the base64 body is left unwiped: every form a key file comes in must
 * still load, and a broken one must say what is wrong.
 */
START_TEST(test_pem_key_forms)
{
	gnutls_datum_t cert = read_pki("server.pem"), key = read_pki("server-key.pem");
	gnutls_datum_t enc;
	struct { const char *name; char *text; const char *err; } c[] = {
		{ "CRLF line ends", key_variant(&key, "", true, 0, 0, false), NULL },
		{ "EC PARAMETERS block first",
		  key_variant(&key, "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n"
				    "-----END EC PARAMETERS-----\n", false, 0, 0, false), NULL },
		{ "a character that is not base64", key_variant(&key, "", false, 'A', '!', false),
		  "not valid base64" },
		{ "no END line", key_variant(&key, "", false, 0, 0, true), "no END line" },
		{ "no key block", strdup("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		  "no PEM private key block" },
		{ "legacy encrypted", strdup("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
					   "DEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"),
		  "encrypted" },
	};
	struct handoff_config *k;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		k = handoff_config_new();
		ck_assert_ptr_nonnull(c[i].text);
		int ret = handoff_config_set_keypair_mem(k, cert.data, cert.size,
							 (const uint8_t *)c[i].text, strlen(c[i].text));
		if (!c[i].err)
			ck_assert_msg(ret == 0, "%s: %s", c[i].name, handoff_config_error(k));
		else
			ck_assert_msg(ret == -1 && strstr(handoff_config_error(k), c[i].err),
				      "%s: \"%s\" lacks \"%s\"", c[i].name,
				      ret ? handoff_config_error(k) : "(loaded)", c[i].err);
		handoff_config_free(k);
		free(c[i].text);
	}

	/* PKCS#8 with a password: named as encrypted, not as a parse error.
	 * The key comes made (tests/pki): deriving its key takes seconds in
	 * a TCG guest, past Check's timeout. */
	enc = read_pki("server-p8enc-key.pem");
	ck_assert_msg(enc.size > 37 && !memcmp(enc.data, "-----BEGIN ENCRYPTED PRIVATE KEY-----", 37),
		      "server-p8enc-key.pem is no encrypted PKCS#8 key");
	k = handoff_config_new();
	ck_assert_int_eq(handoff_config_set_keypair_mem(k, cert.data, cert.size, enc.data, enc.size), -1);
	ck_assert_msg(strstr(handoff_config_error(k), "encrypted"), "%s", handoff_config_error(k));
	handoff_config_free(k);
	gnutls_free(enc.data);
	gnutls_free(cert.data);
	gnutls_free(key.data);
}
END_TEST

/* A server's PSK store: two identities, keys derived from the name. */
static int lookup_calls;

static int psk_store(void *arg, const char *identity, uint8_t *key, size_t *key_len)
{
	ck_assert_ptr_eq(arg, &lookup_calls);
	lookup_calls++;
	if (strcmp(identity, "host-a") != 0 && strcmp(identity, "host-b") != 0)
		return -1;
	ck_assert_uint_ge(*key_len, 32);
	memset(key, identity[5], 32);
	*key_len = 32;
	return 0;
}

static void psk_pair(const char *identity, char fill, struct tu_pair *p,
		     struct handoff_config **scfg, struct handoff_config **ccfg)
{
	uint8_t key[32];

	memset(key, fill, sizeof(key));
	*scfg = handoff_config_new();
	*ccfg = handoff_config_new();
	ck_assert_int_eq(handoff_config_set_psk_lookup(*scfg, psk_store, &lookup_calls), 0);
	ck_assert_int_eq(handoff_config_set_protocols(*scfg, HANDOFF_PROTOCOL_TLSv1_3), 0);
	ck_assert_int_eq(handoff_config_set_psk(*ccfg, identity, key, sizeof(key)), 0);
	ck_assert_int_eq(handoff_config_set_protocols(*ccfg, HANDOFF_PROTOCOL_TLSv1_3), 0);
	tu_handshake_pair(p, *ccfg, *scfg, NULL, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
}

START_TEST(test_psk_lookup)
{
	struct handoff_config *scfg, *ccfg;
	struct tu_pair p;

	assert_error(handoff_config_set_psk_lookup(cfg, NULL, NULL), "no function");
	ck_assert_int_eq(handoff_config_set_psk_lookup(cfg, psk_store, &lookup_calls), 0);
	assert_error(handoff_config_set_psk_lookup(cfg, psk_store, NULL), "already set");

	/* A known identity with its key: the server says which one it took. */
	lookup_calls = 0;
	psk_pair("host-b", 'b', &p, &scfg, &ccfg);
	ck_assert_msg(p.cli_ret == 0, "client: %s", handoff_error(p.cli));
	ck_assert_int_eq(p.srv_ret, 0);
	ck_assert_str_eq(handoff_conn_psk_identity(p.srv), "host-b");
	ck_assert_int_ge(lookup_calls, 1);
	tu_pair_free(&p);
	handoff_config_free(scfg);
	handoff_config_free(ccfg);

	/* An identity the store does not know. */
	psk_pair("host-x", 'x', &p, &scfg, &ccfg);
	ck_assert_int_eq(p.cli_ret, -1);
	ck_assert_int_eq(p.srv_ret, -1);
	/* GnuTLS 3.7 words an identity no callback knows as a key-file error. */
	ck_assert_msg(strstr(handoff_error(p.srv), "unknown") ||
		      strstr(handoff_error(p.srv), "password/key file"),
		      "client: %s / server: %s", handoff_error(p.cli), handoff_error(p.srv));
	tu_pair_free(&p);
	handoff_config_free(scfg);
	handoff_config_free(ccfg);

	/* A known identity with the wrong key fails too. */
	psk_pair("host-a", 'z', &p, &scfg, &ccfg);
	ck_assert_int_eq(p.cli_ret, -1);
	tu_pair_free(&p);
	handoff_config_free(scfg);
	handoff_config_free(ccfg);
}
END_TEST

/* mTLS pair: the server trusts the test CA and allows the subjects given. */
static void allow_pair(const char *const *allowed, bool client_cert, struct tu_pair *p,
		       struct handoff_config **scfg, struct handoff_config **ccfg)
{
	*scfg = handoff_config_new();
	*ccfg = handoff_config_new();
	ck_assert_int_eq(handoff_config_set_keypair_file(*scfg, tu_pki("server.pem"),
							 tu_pki("server-key.pem")), 0);
	ck_assert_int_eq(handoff_config_add_ca_file(*scfg, tu_pki("ca.pem")), 0);
	for (; *allowed; allowed++)
		ck_assert_int_eq(handoff_config_allow_peer_subject(*scfg, *allowed), 0);
	ck_assert_int_eq(handoff_config_add_ca_file(*ccfg, tu_pki("ca.pem")), 0);
	if (client_cert)
		ck_assert_int_eq(handoff_config_set_keypair_file(*ccfg, tu_pki("client.pem"),
								 tu_pki("client-key.pem")), 0);
	tu_handshake_pair(p, *ccfg, *scfg, "localhost", CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
}

START_TEST(test_allow_peer_subject)
{
	static const char *const yes[] = { "CN=other.test", "CN=client.test", NULL };
	static const char *const no[] = { "CN=other.test", NULL };
	struct handoff_config *scfg, *ccfg;
	struct tu_pair p;

	assert_error(handoff_config_allow_peer_subject(cfg, ""), "empty");
	assert_error(handoff_config_allow_peer_subject(cfg, NULL), "empty");

	allow_pair(yes, true, &p, &scfg, &ccfg);
	ck_assert_msg(p.srv_ret == 0, "server: %s", handoff_error(p.srv));
	ck_assert_int_eq(p.cli_ret, 0);
	ck_assert_str_eq(handoff_conn_peer_subject(p.srv), "CN=client.test");
	tu_pair_free(&p);
	handoff_config_free(scfg);
	handoff_config_free(ccfg);

	/* Refused inside the handshake, with the subject named. */
	allow_pair(no, true, &p, &scfg, &ccfg);
	/* (A TLS 1.3 client is done before the server judges it: only the server fails.) */
	ck_assert_int_eq(p.srv_ret, -1);
	ck_assert_str_eq(handoff_error(p.srv),
			 "client certificate \"CN=client.test\" is not among the allowed subjects");
	tu_pair_free(&p);
	handoff_config_free(scfg);
	handoff_config_free(ccfg);

	/* An allow-list makes the client certificate required. */
	allow_pair(yes, false, &p, &scfg, &ccfg);
	ck_assert_int_eq(p.srv_ret, -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(p.srv), "no certificate"));
	tu_pair_free(&p);
	handoff_config_free(scfg);
	handoff_config_free(ccfg);
}
END_TEST

/* A CA directory is read like OpenSSL's; the system store is there on Debian (ca-certificates). */
START_TEST(test_ca_dir_and_system)
{
	char dir[] = "/tmp/handoff-cadir-XXXXXX", path[300], cmd[700];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", tu_pki("ca.pem"), path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(handoff_config_add_ca_dir(cfg, dir) == 0, "%s", handoff_config_error(cfg));
	ck_assert_int_eq(cfg->n_ca, 1);
	unlink(path);
	rmdir(dir);
	ck_assert_msg(handoff_config_add_system_ca(cfg) == 0, "%s", handoff_config_error(cfg));
	ck_assert(cfg->system_ca);
	ck_assert_int_gt(cfg->n_ca, 10);
	/* Adding it twice is harmless and does not double-count. */
	{
		unsigned n = cfg->n_ca;

		ck_assert_int_eq(handoff_config_add_system_ca(cfg), 0);
		ck_assert_int_eq(cfg->n_ca, n);
	}
}
END_TEST

START_TEST(test_psk)
{
	uint8_t key[32] = { 1 };

	assert_error(handoff_config_set_psk(cfg, "", key, sizeof(key)), "identity");
	assert_error(handoff_config_set_psk(cfg, "a\nb", key, sizeof(key)), "printable");
	assert_error(handoff_config_set_psk(cfg, "id", key, 8), "16 to 512 bytes");
	assert_error(handoff_config_set_psk(cfg, "id", NULL, 32), "16 to 512 bytes");
	ck_assert_int_eq(handoff_config_set_psk(cfg, "id", key, sizeof(key)), 0);
	ck_assert_int_eq(cfg->psk_key.size, 32);
	ck_assert_int_eq(memcmp(cfg->psk_key.data, key, 32), 0);
	assert_error(handoff_config_set_psk(cfg, "id2", key, sizeof(key)), "already set");
}
END_TEST

START_TEST(test_alpn)
{
	char long_name[300];

	assert_error(handoff_config_set_alpn(cfg, ""), "empty");
	assert_error(handoff_config_set_alpn(cfg, ",,,"), "names no protocol");
	assert_error(handoff_config_set_alpn(cfg, "a,b,c,d,e,f,g,h,i"), "at most 8");
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_error(handoff_config_set_alpn(cfg, long_name), "1 to 255 bytes");
	ck_assert_int_eq(handoff_config_set_alpn(cfg, "h2,http/1.1"), 0);
	ck_assert_int_eq(cfg->n_alpn, 2);
	ck_assert_int_eq(cfg->alpn[1].size, 8);
	ck_assert_int_eq(memcmp(cfg->alpn[1].data, "http/1.1", 8), 0);
}
END_TEST

START_TEST(test_defaults)
{
	ck_assert_int_eq(cfg->protocols, HANDOFF_PROTOCOLS_DEFAULT);
	ck_assert_int_eq(cfg->n_ciphers, HANDOFF_CIPHER_COUNT);
	ck_assert_int_eq(cfg->timeout_ms, 30000);
	ck_assert_int_eq(cfg->ticket_key.size, 64);
	ck_assert(!cfg->insecure_noverifycert);
	ck_assert(!cfg->insecure_userspace_fallback);
	ck_assert_ptr_null(handoff_config_error(cfg));
	ck_assert_ptr_null(handoff_config_error(NULL));
	handoff_config_free(NULL);
}
END_TEST

START_TEST(test_kernel_options)
{
	ck_assert(!cfg->kernel_tx_zerocopy);
	ck_assert(!cfg->kernel_rx_no_pad);
	handoff_config_kernel_tx_zerocopy(cfg);
	ck_assert(cfg->kernel_tx_zerocopy);
	ck_assert(!cfg->kernel_rx_no_pad);
	handoff_config_kernel_rx_no_pad(cfg);
	ck_assert(cfg->kernel_rx_no_pad);
	handoff_config_kernel_tx_zerocopy(NULL);
	handoff_config_kernel_rx_no_pad(NULL);
}
END_TEST

/* One parse per distinct string; more strings than slots still work, parsed per session. */
START_TEST(test_priority_cache)
{
	static const char *const prio[] = {
		"NORMAL", "NORMAL:-VERS-TLS1.2", "NORMAL:-VERS-TLS1.3", "PERFORMANCE",
		"SECURE256", "NORMAL",
	};
	const char *errpos = NULL;
	gnutls_session_t s;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(prio); i++) {
		ck_assert_int_eq(gnutls_init(&s, GNUTLS_SERVER), 0);
		ck_assert_int_eq(config_priority_set(cfg, s, prio[i], &errpos), 0);
		gnutls_deinit(s);
	}
	for (i = 0; i < CONFIG_PRIO_SLOTS; i++)
		ck_assert_str_eq(cfg->prio_cache[i].text, prio[i]);
	/* A broken string fails with the position, and takes no slot. */
	ck_assert_int_eq(gnutls_init(&s, GNUTLS_SERVER), 0);
	ck_assert_int_lt(config_priority_set(cfg, s, "NORMAL:+NOSUCHTHING", &errpos), 0);
	ck_assert_ptr_nonnull(errpos);
	gnutls_deinit(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("setters");

	tcase_add_checked_fixture(tc, setup, teardown);
	/* Check's 4 s is too little for the system trust store in a TCG guest
	 * on a loaded machine. */
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_ciphers, 0, (int)ARRAY_SIZE(cipher_cases));
	tcase_add_test(tc, test_protocols);
	tcase_add_test(tc, test_priority_rsa_first);
	tcase_add_test(tc, test_priority_follows_kernel);
	tcase_add_test(tc, test_files);
	tcase_add_test(tc, test_keypair_mem);
	tcase_add_test(tc, test_pem_key_forms);
	tcase_add_test(tc, test_psk_lookup);
	tcase_add_test(tc, test_allow_peer_subject);
	tcase_add_test(tc, test_ca_dir_and_system);
	tcase_add_test(tc, test_psk);
	tcase_add_test(tc, test_alpn);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_kernel_options);
	tcase_add_test(tc, test_priority_cache);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
