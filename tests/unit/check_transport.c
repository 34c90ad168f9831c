/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The record-bounded pull function, and the trap it exists for: a peer
 * that sends application data in the same TCP segment as its Finished.
 * Whatever GnuTLS pulls past the end of the handshake is lost to the
 * kernel, so after our handshake those bytes must still be in the socket.
 */
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "core/conn.h"
#include "handshake/engine.h"
#include "handshake/transport.h"
#include "ktls/ktls.h"
#include "recordcrypt.h"
#include "testutil.h"

static void send_all(int fd, const void *buf, size_t len)
{
	ck_assert_int_eq(send(fd, buf, len, 0), (ssize_t)len);
}

/* Three records back to back: each pull stops at a record boundary. */
START_TEST(test_pull_stops_at_record_end)
{
	const uint8_t wire[] = {
		22, 3, 3, 0, 3, 'a', 'b', 'c',		/* record 1: 3 bytes */
		23, 3, 3, 0, 2, 'd', 'e',		/* record 2: 2 bytes */
		23, 3, 3, 0, 4, 'f', 'g', 'h', 'i',	/* record 3: left for the kernel */
	};
	struct transport t;
	uint8_t buf[64];
	int fds[2], pending = 0;

	tu_tcp_pair(fds);
	send_all(fds[0], wire, sizeof(wire));
	usleep(20000);
	transport_init(&t, fds[1]);

	ck_assert_int_eq(transport_pull(&t, buf, sizeof(buf)), 5);
	ck_assert_int_eq(transport_mid_record(&t), 1);
	ck_assert_uint_eq(t.records, 0);
	ck_assert_int_eq(transport_pull(&t, buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
	ck_assert_int_eq(transport_mid_record(&t), 0);
	ck_assert_uint_eq(t.records, 1);
	ck_assert_int_eq(transport_pull(&t, buf, sizeof(buf)), 5);
	ck_assert_int_eq(transport_pull(&t, buf, sizeof(buf)), 2);
	ck_assert_int_eq(transport_mid_record(&t), 0);
	ck_assert_uint_eq(t.records, 2);
	/* Record 3 was never touched. */
	ck_assert_int_eq(ioctl(fds[1], FIONREAD, &pending), 0);
	ck_assert_int_eq(pending, 9);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* A header that trickles in a byte at a time is reassembled. */
START_TEST(test_pull_split_header)
{
	const uint8_t wire[] = { 22, 3, 3, 0, 1, 'z', 23 };
	struct transport t;
	uint8_t buf[16];
	size_t i;
	int fds[2];

	tu_tcp_pair(fds);
	transport_init(&t, fds[1]);
	for (i = 0; i < 5; i++) {
		send_all(fds[0], &wire[i], 1);
		ck_assert_int_eq(transport_pull(&t, buf, sizeof(buf)), 1);
	}
	send_all(fds[0], &wire[5], 2);
	usleep(20000);
	/* Asked for 16, given 1: the byte after the record stays put. */
	ck_assert_uint_eq(t.records, 0);
	ck_assert_int_eq(transport_pull(&t, buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'z');
	ck_assert_uint_eq(t.records, 1);
	ck_assert_int_eq(recv(fds[1], buf, sizeof(buf), 0), 1);
	ck_assert_int_eq(buf[0], 23);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(test_pull_eof_and_eagain)
{
	struct transport t;
	uint8_t buf[8];
	int fds[2];

	tu_tcp_pair(fds);
	transport_init(&t, fds[1]);
	ck_assert_int_eq(transport_pull_timeout(&t, 10), 0);	/* nothing to read */
	/* Non-blocking: no wait; recv() answers EAGAIN, which GnuTLS passes up. */
	ck_assert_int_eq(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(transport_pull_timeout(&t, 30000), 1);
	ck_assert_int_eq(transport_pull(&t, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(fcntl(fds[1], F_SETFL, 0), 0);
	ck_assert_int_eq(recv(fds[1], buf, 1, MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	close(fds[0]);
	ck_assert_int_eq(transport_pull_timeout(&t, 1000), 1);
	ck_assert_int_eq(transport_pull(&t, buf, sizeof(buf)), 0);
	close(fds[1]);
}
END_TEST

/* "Again" on a blocking fd means GnuTLS lost a write error: retry, but not forever. */
START_TEST(test_retry_again)
{
	unsigned tries = 0, n = 0;
	int fds[2];

	tu_tcp_pair(fds);
	while (transport_retry_again(fds[0], &tries))
		n++;
	ck_assert_int_eq(n, TRANSPORT_MAX_RETRIES);
	/* A non-blocking caller gets WANT_POLL* instead: never a retry. */
	tries = 0;
	ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert(!transport_retry_again(fds[0], &tries));
	ck_assert(!transport_retry_again(-1, &tries));
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* ---- TLS 1.2 after a hand-off to user space: handshake records held ---- */

/*
 * Non-blocking, the way a caller polling many connections drives it: a
 * data record passes through byte for byte; a handshake record never
 * reaches GnuTLS but comes out whole through transport_take_held(), even
 * when it trickles in, with nothing queued in the socket meanwhile (poll()
 * must not keep waking for bytes we hold); an alert after it passes again.
 */
START_TEST(test_hold_tls12)
{
	const uint8_t data[] = { 23, 3, 3, 0, 3, 'a', 'b', 'c' };
	const uint8_t hs[] = { 22, 3, 3, 0, 6, 1, 2, 3, 4, 5, 6 };
	const uint8_t alert[] = { 21, 3, 3, 0, 2, 1, 0 };
	const uint8_t *held;
	struct transport t;
	uint8_t buf[64];
	size_t len, i;
	int fds[2], pending;

	tu_tcp_pair(fds);
	ck_assert_int_eq(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
	transport_init(&t, fds[1]);
	t.header_got = 3;	/* whatever the handshake left: reset by the switch */
	transport_hold_tls12(&t, NULL);

	send_all(fds[0], data, sizeof(data));
	send_all(fds[0], hs, 3);
	usleep(20000);
	/* GnuTLS asks for a header, then the body. */
	ck_assert_int_eq(transport_pull_tls12(&t, buf, 5), 5);
	ck_assert_int_eq(memcmp(buf, data, 5), 0);
	ck_assert_int_eq(transport_pull_tls12(&t, buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
	ck_assert_uint_eq(t.records, 1);
	/* Three bytes of a handshake header: taken from the socket, not given. */
	ck_assert_int_eq(transport_pull_tls12(&t, buf, 5), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(ioctl(fds[1], FIONREAD, &pending), 0);
	ck_assert_int_eq(pending, 0);
	ck_assert_ptr_null(transport_take_held(&t, &len));
	/* The rest a byte at a time. */
	for (i = 3; i < sizeof(hs); i++) {
		send_all(fds[0], hs + i, 1);
		usleep(5000);
		ck_assert_int_eq(transport_pull_tls12(&t, buf, 5), -1);
		ck_assert_int_eq(errno, EAGAIN);
	}
	ck_assert_uint_eq(t.records, 2);
	/* Until it is taken, nothing more is read. */
	send_all(fds[0], alert, sizeof(alert));
	usleep(20000);
	ck_assert_int_eq(transport_pull_tls12(&t, buf, 5), -1);
	ck_assert_int_eq(errno, EAGAIN);
	held = transport_take_held(&t, &len);
	ck_assert_ptr_nonnull(held);
	ck_assert_uint_eq(len, sizeof(hs));
	ck_assert_int_eq(memcmp(held, hs, sizeof(hs)), 0);
	ck_assert_ptr_null(transport_take_held(&t, &len));
	/* The header asked for in two bites. */
	ck_assert_int_eq(transport_pull_tls12(&t, buf, 2), 2);
	ck_assert_int_eq(transport_pull_tls12(&t, buf + 2, 3), 3);
	ck_assert_int_eq(transport_pull_tls12(&t, buf + 5, sizeof(buf) - 5), 2);
	ck_assert_int_eq(memcmp(buf, alert, sizeof(alert)), 0);
	ck_assert_uint_eq(t.records, 3);
	/* A FIN at a record boundary is EOF; inside a header too (GnuTLS calls that premature). */
	send_all(fds[0], hs, 2);
	close(fds[0]);
	usleep(20000);
	ck_assert_int_eq(transport_pull_tls12(&t, buf, 5), 0);
	transport_release(&t);
	close(fds[1]);
}
END_TEST

/* A record too long for TLS 1.2 is left to GnuTLS, which refuses it itself. */
START_TEST(test_hold_tls12_oversized)
{
	const uint8_t hs[] = { 22, 3, 3, 0x48, 0x01 };
	struct transport t;
	uint8_t buf[8];
	size_t len;
	int fds[2];

	tu_tcp_pair(fds);
	transport_init(&t, fds[1]);
	transport_hold_tls12(&t, NULL);
	send_all(fds[0], hs, sizeof(hs));
	ck_assert_int_eq(transport_pull_tls12(&t, buf, 5), 5);
	ck_assert_int_eq(memcmp(buf, hs, 5), 0);
	ck_assert_ptr_null(transport_take_held(&t, &len));
	transport_release(&t);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* ---- the peer that sends data right after its Finished ---------------- */

struct peer {
	int fd;
	unsigned protocols;
	bool is_server;
	const char *payload;
	int ret;
};

static int run_peer(void *p)
{
	struct peer *pe = p;
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	int ret, off = 0;

	gnutls_certificate_allocate_credentials(&cred);
	if (pe->is_server)
		gnutls_certificate_set_x509_key_file(cred, tu_pki("server.pem"),
						     tu_pki("server-key.pem"), GNUTLS_X509_FMT_PEM);
	gnutls_init(&s, pe->is_server ? GNUTLS_SERVER : GNUTLS_CLIENT);
	gnutls_priority_set_direct(s, pe->protocols == HANDOFF_PROTOCOL_TLSv1_2 ?
					      "NORMAL:-VERS-ALL:+VERS-TLS1.2" :
					      "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_transport_set_int(s, pe->fd);
	gnutls_session_set_ptr(s, (void *)(intptr_t)pe->fd);
	gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_PRE,
					   tu_cork_before_finished);
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret == 0)
		ret = (int)gnutls_record_send(s, pe->payload, strlen(pe->payload));
	setsockopt(pe->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
	pe->ret = ret;
	/* Keep the session alive until our side has looked at the socket. */
	usleep(300000);
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	return 0;
}

/*
 * The control: a transport with read-ahead (as buffered socket layers
 * have), which drains whatever the socket holds into its own buffer.
 * GnuTLS 3.7 itself asks for exact record sizes, so only a transport like
 * this one can lose bytes; our test must be able to tell.
 */
static uint8_t ahead[16384];
static size_t ahead_len, ahead_off;

static ssize_t greedy_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct transport *t = ptr;
	ssize_t n;

	if (ahead_off == ahead_len) {
		n = recv(t->fd, ahead, sizeof(ahead), 0);
		if (n <= 0)
			return n;
		ahead_len = (size_t)n;
		ahead_off = 0;
	}
	if (len > ahead_len - ahead_off)
		len = ahead_len - ahead_off;
	memcpy(buf, ahead + ahead_off, len);
	ahead_off += len;
	return (ssize_t)len;
}

static int greedy_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
	if (ahead_off < ahead_len)
		return 1;
	return transport_pull_timeout(ptr, ms);
}

static void data_after_finished(unsigned protocols, bool greedy)
{
	const char *payload = "sent in the same segment as Finished";
	struct handoff_config *cfg = handoff_config_new();
	struct peer pe = { .protocols = protocols, .payload = payload };
	struct ktls_crypto_info ri;
	struct handoff *h;
	uint8_t rec[RC_MAX_RECORD], out[256], type;
	size_t out_len = sizeof(out);
	ssize_t n;
	pthread_t t;
	int fds[2], pending = 0, ret;

	tu_tcp_pair(fds);
	ck_assert_int_eq(handoff_config_set_protocols(cfg, protocols), 0);
	/*
	 * The side that reads the peer's Finished last: in TLS 1.3 that is the
	 * server (the client's Finished ends the handshake), in a full TLS 1.2
	 * handshake the client (the server's Finished ends it).
	 */
	pe.is_server = protocols == HANDOFF_PROTOCOL_TLSv1_2;
	if (pe.is_server) {
		ck_assert_int_eq(handoff_config_add_ca_file(cfg, tu_pki("ca.pem")), 0);
		h = handoff_client(cfg, fds[0], "localhost");
		pe.fd = fds[1];
	} else {
		ck_assert_int_eq(handoff_config_set_keypair_file(cfg, tu_pki("server.pem"),
								 tu_pki("server-key.pem")), 0);
		h = handoff_server(cfg, fds[1]);
		pe.fd = fds[0];
	}
	conn_set_test_flags(h, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	t = tu_spawn(run_peer, &pe);
	ahead_len = ahead_off = 0;
	if (greedy) {
		/* Set the session up ourselves so the pull function can be swapped. */
		ck_assert_int_eq(engine_setup(h), 0);
		h->state = CONN_HANDSHAKING;
		gnutls_transport_set_pull_function(h->session, greedy_pull);
		gnutls_transport_set_pull_timeout_function(h->session, greedy_pull_timeout);
	}
	ret = handoff_handshake(h);
	ck_assert_msg(ret == 0, "%s", handoff_error(h));
	usleep(100000);
	ck_assert_int_eq(ioctl(h->fd, FIONREAD, &pending), 0);
	if (greedy) {
		/* The control: read-ahead swallowed the data; the kernel would never see it. */
		ck_assert_int_eq(pending, 0);
		ck_assert_int_gt(ahead_len - ahead_off, 0);
	} else {
		ck_assert_int_gt(pending, 0);
		ck_assert_int_eq(gnutls_record_check_pending(h->session), 0);
		/* What stayed in the socket is the data record, and our RX keys open it. */
		n = rc_read_record(h->fd, rec, sizeof(rec));
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(ktls_keys_from_session(h->session, 1, &ri), 0);
		ck_assert_int_eq(rc_open(&ri, protocols == HANDOFF_PROTOCOL_TLSv1_2 ? 1 : 0, rec,
					 (size_t)n, &type, out, &out_len), 0);
		ck_assert_int_eq(type, KTLS_RECORD_APPLICATION_DATA);
		ck_assert_int_eq(out_len, strlen(payload));
		ck_assert_int_eq(memcmp(out, payload, out_len), 0);
	}
	tu_join(t);
	ck_assert_int_gt(pe.ret, 0);
	handoff_free(h);
	handoff_config_free(cfg);
	close(fds[0]);
	close(fds[1]);
}

START_TEST(test_data_after_finished_tls13)
{
	data_after_finished(HANDOFF_PROTOCOL_TLSv1_3, false);
}
END_TEST

START_TEST(test_data_after_finished_tls12)
{
	data_after_finished(HANDOFF_PROTOCOL_TLSv1_2, false);
}
END_TEST

START_TEST(test_greedy_control_tls13)
{
	data_after_finished(HANDOFF_PROTOCOL_TLSv1_3, true);
}
END_TEST

START_TEST(test_greedy_control_tls12)
{
	data_after_finished(HANDOFF_PROTOCOL_TLSv1_2, true);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("transport");
	TCase *tc = tcase_create("pull");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_pull_stops_at_record_end);
	tcase_add_test(tc, test_pull_split_header);
	tcase_add_test(tc, test_pull_eof_and_eagain);
	tcase_add_test(tc, test_retry_again);
	tcase_add_test(tc, test_hold_tls12);
	tcase_add_test(tc, test_hold_tls12_oversized);
	tcase_add_test(tc, test_data_after_finished_tls13);
	tcase_add_test(tc, test_data_after_finished_tls12);
	tcase_add_test(tc, test_greedy_control_tls13);
	tcase_add_test(tc, test_greedy_control_tls12);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
