/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Session resumption (TLS 1.2 tickets and session IDs, shared ticket keys)
 * and the ticket-key API.  TLS 1.3 tickets arrive after the hand-off and
 * are covered in check_posthandshake.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "core/conn.h"
#include "testutil.h"

static struct handoff_config *server_config(unsigned protocols)
{
	struct handoff_config *cfg = handoff_config_new();

	ck_assert_int_eq(handoff_config_set_protocols(cfg, protocols), 0);
	ck_assert_int_eq(handoff_config_set_keypair_file(cfg, tu_pki("server.pem"),
							 tu_pki("server-key.pem")), 0);
	return cfg;
}

static struct handoff_config *client_config(unsigned protocols, struct handoff_cache *cache)
{
	struct handoff_config *cfg = handoff_config_new();

	ck_assert_int_eq(handoff_config_set_protocols(cfg, protocols), 0);
	ck_assert_int_eq(handoff_config_add_ca_file(cfg, tu_pki("ca.pem")), 0);
	handoff_config_set_session_cache(cfg, cache);
	return cfg;
}

/* One connection; returns whether both sides report a resumed session. */
static int connect_once(struct handoff_config *ccfg, struct handoff_config *scfg,
			const char *name)
{
	struct tu_pair p;
	int resumed;

	tu_handshake_pair(&p, ccfg, scfg, name, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	ck_assert_msg(p.cli_ret == 0, "client: %s", handoff_error(p.cli));
	ck_assert_msg(p.srv_ret == 0, "server: %s", handoff_error(p.srv));
	resumed = handoff_conn_resumed(p.cli);
	ck_assert_int_eq(resumed, handoff_conn_resumed(p.srv));
	tu_pair_free(&p);
	return resumed;
}

START_TEST(test_tls12_ticket)
{
	struct handoff_cache *cache = handoff_cache_new(8);
	struct handoff_config *s = server_config(HANDOFF_PROTOCOL_TLSv1_2);
	struct handoff_config *c = client_config(HANDOFF_PROTOCOL_TLSv1_2, cache);

	ck_assert_int_eq(connect_once(c, s, "localhost"), 0);
	ck_assert_int_eq(connect_once(c, s, "localhost"), 1);
	ck_assert_int_eq(connect_once(c, s, "localhost"), 1);
	/* Sessions are not shared across server names. */
	ck_assert_int_eq(connect_once(c, s, "server.test"), 0);
	handoff_config_free(c);
	handoff_config_free(s);
	handoff_cache_free(cache);
}
END_TEST

START_TEST(test_tls12_session_id)
{
	struct handoff_cache *cache = handoff_cache_new(8);
	struct handoff_config *s = server_config(HANDOFF_PROTOCOL_TLSv1_2);
	struct handoff_config *c = client_config(HANDOFF_PROTOCOL_TLSv1_2, cache);

	handoff_config_disable_tickets(s);
	ck_assert_int_eq(connect_once(c, s, "localhost"), 0);
	ck_assert_int_eq(connect_once(c, s, "localhost"), 1);
	handoff_config_free(c);
	handoff_config_free(s);
	handoff_cache_free(cache);
}
END_TEST

/* Without a cache a client never resumes, however often it connects. */
START_TEST(test_no_cache_no_resumption)
{
	struct handoff_config *s = server_config(HANDOFF_PROTOCOL_TLSv1_2);
	struct handoff_config *c = client_config(HANDOFF_PROTOCOL_TLSv1_2, NULL);

	ck_assert_int_eq(connect_once(c, s, "localhost"), 0);
	ck_assert_int_eq(connect_once(c, s, "localhost"), 0);
	handoff_config_free(c);
	handoff_config_free(s);
}
END_TEST

/* Two servers sharing a ticket key file resume each other's sessions (a fleet). */
START_TEST(test_shared_ticket_key)
{
	struct handoff_cache *cache = handoff_cache_new(8);
	struct handoff_config *s1 = server_config(HANDOFF_PROTOCOL_TLSv1_2);
	struct handoff_config *s2 = server_config(HANDOFF_PROTOCOL_TLSv1_2);
	struct handoff_config *s3 = server_config(HANDOFF_PROTOCOL_TLSv1_2);
	struct handoff_config *c = client_config(HANDOFF_PROTOCOL_TLSv1_2, cache);

	ck_assert_int_eq(handoff_config_set_ticket_key_file(s1, tu_pki("ticket.key")), 0);
	ck_assert_int_eq(handoff_config_set_ticket_key_file(s2, tu_pki("ticket.key")), 0);
	/* Session IDs would resume through s1's private store; only tickets can cross. */
	ck_assert_int_eq(connect_once(c, s1, "localhost"), 0);
	ck_assert_int_eq(connect_once(c, s2, "localhost"), 1);
	/* s3 keeps its own random key: the ticket means nothing to it. */
	ck_assert_int_eq(connect_once(c, s3, "localhost"), 0);
	handoff_config_free(c);
	handoff_config_free(s1);
	handoff_config_free(s2);
	handoff_config_free(s3);
	handoff_cache_free(cache);
}
END_TEST

/*
 * Rotating the key: a ticket sealed under the old key no longer resumes,
 * the next one (under the new key) does.  The first session is made on s1
 * so that s2's own session-ID store cannot resume it behind our back.
 */
START_TEST(test_ticket_key_rotation)
{
	struct handoff_cache *cache = handoff_cache_new(8);
	struct handoff_config *s1 = server_config(HANDOFF_PROTOCOL_TLSv1_2);
	struct handoff_config *s2 = server_config(HANDOFF_PROTOCOL_TLSv1_2);
	struct handoff_config *c = client_config(HANDOFF_PROTOCOL_TLSv1_2, cache);
	uint8_t key[64];

	memset(key, 0x11, sizeof(key));
	ck_assert_int_eq(handoff_config_set_ticket_key(s1, key, sizeof(key)), 0);
	ck_assert_int_eq(handoff_config_set_ticket_key(s2, key, sizeof(key)), 0);
	ck_assert_int_eq(connect_once(c, s1, "localhost"), 0);
	memset(key, 0x22, sizeof(key));
	ck_assert_int_eq(handoff_config_set_ticket_key(s2, key, sizeof(key)), 0);
	ck_assert_int_eq(connect_once(c, s2, "localhost"), 0);
	ck_assert_int_eq(connect_once(c, s2, "localhost"), 1);
	handoff_config_free(c);
	handoff_config_free(s1);
	handoff_config_free(s2);
	handoff_cache_free(cache);
}
END_TEST

START_TEST(test_ticket_key_api)
{
	struct handoff_config *cfg = handoff_config_new();
	char path[256];
	struct stat st;
	uint8_t key[65] = { 0 };
	FILE *f;

	ck_assert_int_eq(handoff_config_set_ticket_key(cfg, key, 32), -1);
	ck_assert_ptr_nonnull(strstr(handoff_config_error(cfg), "exactly 64 bytes"));
	ck_assert_int_eq(handoff_config_set_ticket_key(cfg, NULL, 64), -1);
	ck_assert_int_eq(handoff_config_set_ticket_key(cfg, key, 64), 0);

	/* TMPDIR, not the PKI: the VM mounts the build tree read-only. */
	snprintf(path, sizeof(path), "%s/ticket-test-%d.key",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	ck_assert_int_eq(handoff_ticket_key_generate(path), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 64);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(handoff_config_set_ticket_key_file(cfg, path), 0);
	/* A truncated or padded key file is refused, not half-used. */
	f = fopen(path, "ab");
	fputc('x', f);
	fclose(f);
	ck_assert_int_eq(handoff_config_set_ticket_key_file(cfg, path), -1);
	ck_assert_ptr_nonnull(strstr(handoff_config_error(cfg), "exactly 64 bytes"));
	unlink(path);
	ck_assert_int_eq(handoff_config_set_ticket_key_file(cfg, path), -1);
	ck_assert_ptr_nonnull(strstr(handoff_config_error(cfg), "No such file"));
	ck_assert_int_eq(handoff_ticket_key_generate("/nonexistent-dir/x.key"), -1);
	ck_assert_int_eq(errno, ENOENT);
	handoff_config_free(cfg);
}
END_TEST

/* The cache holds at most max_entries and drops the oldest first. */
START_TEST(test_cache_eviction)
{
	struct handoff_cache *cache = handoff_cache_new(1);
	struct handoff_config *s = server_config(HANDOFF_PROTOCOL_TLSv1_2);
	struct handoff_config *c = client_config(HANDOFF_PROTOCOL_TLSv1_2, cache);

	ck_assert_int_eq(connect_once(c, s, "localhost"), 0);
	ck_assert_int_eq(connect_once(c, s, "server.test"), 0);
	/* "localhost" fell out when "server.test" came in. */
	ck_assert_int_eq(connect_once(c, s, "localhost"), 0);
	ck_assert_int_eq(connect_once(c, s, "localhost"), 1);
	handoff_config_free(c);
	handoff_config_free(s);
	handoff_cache_free(cache);
	handoff_cache_free(NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("resumption");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_tls12_ticket);
	tcase_add_test(tc, test_tls12_session_id);
	tcase_add_test(tc, test_no_cache_no_resumption);
	tcase_add_test(tc, test_shared_ticket_key);
	tcase_add_test(tc, test_ticket_key_rotation);
	tcase_add_test(tc, test_ticket_key_api);
	tcase_add_test(tc, test_cache_eviction);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
