/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The two engine calls only the front doors use (core/frontdoor.h), on
 * the decisions that need no kernel TLS: the end of the stream told from
 * an empty record by the TCP state, and "nothing to act on" when data or
 * nothing is next.  (With kTLS, tests/shim runs them under real programs.)
 */
#include <check.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "core/conn.h"
#include "core/frontdoor.h"
#include "testutil.h"

struct fixture {
	struct handoff_config *ccfg, *scfg;
	struct tu_pair p;
};

static void pair_up(struct fixture *f)
{
	f->scfg = handoff_config_new();
	f->ccfg = handoff_config_new();
	ck_assert_int_eq(handoff_config_set_keypair_file(f->scfg, tu_pki("server.pem"),
							 tu_pki("server-key.pem")), 0);
	ck_assert_int_eq(handoff_config_add_ca_file(f->ccfg, tu_pki("ca.pem")), 0);
	tu_handshake_pair(&f->p, f->ccfg, f->scfg, "localhost",
			  CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	ck_assert_int_eq(f->p.cli_ret, 0);
	ck_assert_int_eq(f->p.srv_ret, 0);
}

static void pair_down(struct fixture *f)
{
	tu_pair_free(&f->p);
	handoff_config_free(f->ccfg);
	handoff_config_free(f->scfg);
}

START_TEST(test_zero_read)
{
	struct fixture f;

	pair_up(&f);
	/* Still established: a 0 from the kernel was an empty record. */
	ck_assert_int_eq(handoff_zero_read(f.p.srv), 0);
	ck_assert_int_eq(handoff_error_code(f.p.srv), 0);
	/* The peer's FIN with no close_notify before it: truncation. */
	shutdown(f.p.fds[0], SHUT_WR);
	usleep(50 * 1000);
	ck_assert_int_eq(handoff_zero_read(f.p.srv), -1);
	ck_assert_int_eq(handoff_error_code(f.p.srv), ECONNRESET);
	ck_assert_ptr_nonnull(strstr(handoff_error(f.p.srv), "without close_notify"));
	pair_down(&f);
}
END_TEST

START_TEST(test_zero_read_after_close_notify)
{
	struct fixture f;

	pair_up(&f);
	/* What the engine records when the peer's close_notify came in. */
	f.p.srv->state = CONN_CLOSED;
	shutdown(f.p.fds[0], SHUT_WR);
	ck_assert_int_eq(handoff_zero_read(f.p.srv), 1);
	ck_assert_int_eq(handoff_take_control_record(f.p.srv), 1);
	pair_down(&f);
}
END_TEST

START_TEST(test_take_nothing)
{
	struct fixture f;
	char buf[8];

	pair_up(&f);
	/* Nothing there: the program may wait (non-blocking peek, never a hang). */
	ck_assert_int_eq(handoff_take_control_record(f.p.srv), HANDOFF_WANT_POLLIN);
	/* Data next (a plain socket carries no record type: data): left for the program. */
	ck_assert_int_eq(write(f.p.fds[0], "data", 4), 4);
	usleep(50 * 1000);
	ck_assert_int_eq(handoff_take_control_record(f.p.srv), 0);
	ck_assert_int_eq(recv(f.p.fds[1], buf, sizeof(buf), MSG_DONTWAIT), 4);
	ck_assert_int_eq(handoff_error_code(f.p.srv), 0);
	pair_down(&f);
}
END_TEST

START_TEST(test_not_ready)
{
	struct handoff_config *cfg = handoff_config_new();
	struct handoff *h;
	int fds[2];

	tu_tcp_pair(fds);
	h = handoff_server(cfg, fds[1]);
	ck_assert_ptr_nonnull(h);
	/* Before the hand-off neither call may touch the socket. */
	ck_assert_int_eq(handoff_take_control_record(h), -1);
	ck_assert_int_eq(handoff_zero_read(h), -1);
	ck_assert_ptr_nonnull(strstr(handoff_error(h), "not completed"));
	ck_assert_int_eq(handoff_take_control_record(NULL), -1);
	ck_assert_int_eq(handoff_zero_read(NULL), -1);
	handoff_free(h);
	handoff_config_free(cfg);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* The PEM file's first certificate as DER: what the peer sent, byte for byte. */
static gnutls_datum_t pem_to_der(const char *file)
{
	gnutls_datum_t pem = { NULL, 0 }, der = { NULL, 0 };
	gnutls_x509_crt_t crt;

	ck_assert_int_eq(gnutls_load_file(file, &pem), 0);
	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	ck_assert_int_eq(gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM), 0);
	ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), 0);
	gnutls_x509_crt_deinit(crt);
	gnutls_free(pem.data);
	return der;
}

/*
 * handoffd turns the peer's certificate into a kernel key after the
 * session is gone: the bytes must be kept, be the leaf's, and be kept
 * only when asked for.  Rows: who keeps (client, server), mutual or not.
 */
static const struct {
	bool cli_keeps, srv_keeps, mtls;
} keep_rows[] = {
	{ true, true, true },	/* both keep: each has the other's leaf */
	{ false, false, true },	/* nobody asked: nothing kept */
	{ true, true, false },	/* no client certificate: the server has none to keep */
	{ false, true, true },	/* one side's choice does not leak to the other */
};

START_TEST(test_keep_peer_cert)
{
	struct handoff_config *scfg = handoff_config_new(), *ccfg = handoff_config_new();
	gnutls_datum_t srv_der = pem_to_der(tu_pki("server.pem"));
	gnutls_datum_t cli_der = pem_to_der(tu_pki("client.pem"));
	const uint8_t *got;
	struct tu_pair p;
	size_t len = 99;

	ck_assert_int_eq(handoff_config_set_keypair_file(scfg, tu_pki("server.pem"),
							 tu_pki("server-key.pem")), 0);
	ck_assert_int_eq(handoff_config_add_ca_file(ccfg, tu_pki("ca.pem")), 0);
	if (keep_rows[_i].mtls) {
		ck_assert_int_eq(handoff_config_add_ca_file(scfg, tu_pki("ca.pem")), 0);
		handoff_config_verify_client(scfg);
		ck_assert_int_eq(handoff_config_set_keypair_file(ccfg, tu_pki("client.pem"),
								 tu_pki("client-key.pem")), 0);
	}
	if (keep_rows[_i].cli_keeps)
		handoff_config_keep_peer_cert(ccfg);
	if (keep_rows[_i].srv_keeps)
		handoff_config_keep_peer_cert(scfg);
	tu_handshake_pair(&p, ccfg, scfg, "localhost", CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	ck_assert_msg(p.cli_ret == 0, "client: %s", handoff_error(p.cli));
	ck_assert_msg(p.srv_ret == 0, "server: %s", handoff_error(p.srv));

	got = handoff_conn_peer_cert(p.cli, &len);
	if (keep_rows[_i].cli_keeps) {
		ck_assert_ptr_nonnull(got);
		ck_assert_uint_eq(len, srv_der.size);
		ck_assert_int_eq(memcmp(got, srv_der.data, len), 0);
	} else {
		ck_assert_ptr_null(got);
		ck_assert_uint_eq(len, 0);
	}
	len = 99;
	got = handoff_conn_peer_cert(p.srv, &len);
	if (keep_rows[_i].srv_keeps && keep_rows[_i].mtls) {
		ck_assert_ptr_nonnull(got);
		ck_assert_uint_eq(len, cli_der.size);
		ck_assert_int_eq(memcmp(got, cli_der.data, len), 0);
	} else {
		ck_assert_ptr_null(got);
		ck_assert_uint_eq(len, 0);
	}
	ck_assert_ptr_null(handoff_conn_peer_cert(NULL, NULL));
	tu_pair_free(&p);
	gnutls_free(srv_der.data);
	gnutls_free(cli_der.data);
	handoff_config_free(ccfg);
	handoff_config_free(scfg);
}
END_TEST

/*
 * RFC 9289 on a server: "sunrpc" is offered and chosen when the client
 * asks for it; a client asking only for other protocols is refused in
 * the handshake; a client asking for none (Linux's NFS client through
 * tlshd sends none) is served.  Without the refusal switch the old
 * behaviour stays: a mismatch is ignored.
 */
static const struct {
	const char *cli_alpn;	/* NULL: the client sends no ALPN */
	bool refuse;
	bool ok;
	const char *want;	/* the agreed protocol, or NULL */
} alpn_rows[] = {
	{ "sunrpc", true, true, "sunrpc" },
	{ "h2,sunrpc", true, true, "sunrpc" },
	{ NULL, true, true, NULL },
	{ "h2", true, false, NULL },
	{ "h2", false, true, NULL },
};

START_TEST(test_alpn_mismatch)
{
	struct handoff_config *scfg = handoff_config_new(), *ccfg = handoff_config_new();
	struct tu_pair p;

	ck_assert_int_eq(handoff_config_set_keypair_file(scfg, tu_pki("server.pem"),
							 tu_pki("server-key.pem")), 0);
	ck_assert_int_eq(handoff_config_set_alpn(scfg, "sunrpc"), 0);
	if (alpn_rows[_i].refuse)
		handoff_config_refuse_alpn_mismatch(scfg);
	ck_assert_int_eq(handoff_config_add_ca_file(ccfg, tu_pki("ca.pem")), 0);
	if (alpn_rows[_i].cli_alpn)
		ck_assert_int_eq(handoff_config_set_alpn(ccfg, alpn_rows[_i].cli_alpn), 0);
	tu_handshake_pair(&p, ccfg, scfg, "localhost", CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	if (alpn_rows[_i].ok) {
		ck_assert_msg(p.cli_ret == 0, "client: %s", handoff_error(p.cli));
		ck_assert_msg(p.srv_ret == 0, "server: %s", handoff_error(p.srv));
		if (alpn_rows[_i].want) {
			ck_assert_str_eq(handoff_conn_alpn(p.srv), alpn_rows[_i].want);
			ck_assert_str_eq(handoff_conn_alpn(p.cli), alpn_rows[_i].want);
		} else {
			ck_assert_ptr_null(handoff_conn_alpn(p.srv));
			ck_assert_ptr_null(handoff_conn_alpn(p.cli));
		}
	} else {
		ck_assert_int_eq(p.srv_ret, -1);
		ck_assert_int_eq(p.cli_ret, -1);
		ck_assert_msg(strstr(handoff_error(p.srv), "application protocol"),
			      "server error: %s", handoff_error(p.srv));
	}
	tu_pair_free(&p);
	handoff_config_free(ccfg);
	handoff_config_free(scfg);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("frontdoor");
	TCase *tc = tcase_create("frontdoor");

	tcase_add_test(tc, test_zero_read);
	tcase_add_test(tc, test_zero_read_after_close_notify);
	tcase_add_test(tc, test_take_nothing);
	tcase_add_test(tc, test_not_ready);
	tcase_add_loop_test(tc, test_keep_peer_cert, 0, ARRAY_SIZE(keep_rows));
	tcase_add_loop_test(tc, test_alpn_mismatch, 0, ARRAY_SIZE(alpn_rows));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
