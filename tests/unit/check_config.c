/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Config setters: every bad input is refused with words that name it, and
 * the priority string they produce offers only what it should.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "core/config.h"
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
	tcase_add_loop_test(tc, test_ciphers, 0, (int)ARRAY_SIZE(cipher_cases));
	tcase_add_test(tc, test_protocols);
	tcase_add_test(tc, test_priority_follows_kernel);
	tcase_add_test(tc, test_files);
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
