/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel data path after the hand-off, on a real kernel (the VM):
 * our client and our server install their keys for every version x cipher,
 * then application data moves with plain write(2)/read(2)/sendfile(2) on
 * the descriptors, checked by SHA-256 at both ends, and /proc/net/tls_stat
 * shows the kernel did the crypto.  Then each of our sides against a
 * user-space GnuTLS peer, so the kernel's records are checked by an
 * independent implementation.
 *
 * Throughput lines are printed for information only: under TCG absolute
 * numbers mean nothing, so each is also given as a ratio to plain TCP
 * moving the same bytes through the same code in the same process.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ktlsutil.h"

#define MIB (1024ull * 1024)
/* The one combination that moves a lot of data; the others move SMALL_LEN. */
#define BULK_LEN_DEFAULT (64 * MIB)
#define SMALL_LEN (8 * MIB)
#define PEER_LEN (2 * MIB)
#define SENDFILE_LEN (8 * MIB + 4097)
#define SMALL_WRITES 20000

/* HANDOFF_KTLS_BULK_MIB shortens (or lengthens) the big transfer for a quick run. */
static uint64_t bulk_len(void)
{
	const char *env = getenv("HANDOFF_KTLS_BULK_MIB");

	return env && *env ? strtoull(env, NULL, 10) * MIB : BULK_LEN_DEFAULT;
}

static double plain_mibs;	/* plain TCP, measured once per process for the ratios */

/* ------------------------------------------------------------ a pair of ours */

struct ours {
	struct handoff_config *ccfg, *scfg;
	struct handoff *c, *s;
	int fds[2];
};

static void ours_start(struct ours *o, unsigned protocols, const char *cipher)
{
	memset(o, 0, sizeof(*o));
	tu_tcp_pair(o->fds);
	kt_set_timeouts(o->fds[0]);
	kt_set_timeouts(o->fds[1]);
	/* No cache, no tickets: nothing but data can reach a plain read(). */
	o->ccfg = kt_client_config(protocols, cipher, NULL);
	o->scfg = kt_server_config(protocols, cipher, true);
	o->c = handoff_client(o->ccfg, o->fds[0], "localhost");
	o->s = handoff_server(o->scfg, o->fds[1]);
	ck_assert_ptr_nonnull(o->c);
	ck_assert_ptr_nonnull(o->s);
	kt_handshake_pair(o->c, o->s);
	ck_assert_int_eq(handoff_conn_ktls(o->c), 1);
	ck_assert_int_eq(handoff_conn_ktls(o->s), 1);
	ck_assert_str_eq(handoff_conn_cipher(o->c), cipher);
	ck_assert_str_eq(handoff_conn_cipher(o->s), cipher);
	ck_assert_str_eq(handoff_conn_version(o->c),
			 protocols == HANDOFF_PROTOCOL_TLSv1_2 ? "TLSv1.2" : "TLSv1.3");
}

static void ours_free(struct ours *o)
{
	handoff_free(o->c);
	handoff_free(o->s);
	handoff_config_free(o->ccfg);
	handoff_config_free(o->scfg);
	close(o->fds[0]);
	close(o->fds[1]);
}

/* len bytes each way at once between fds (plain read/write); returns MiB/s of both ways together. */
static double exchange_fds(int a, int b, uint64_t len)
{
	struct kt_stream as = { .fd = a, .len = len }, br = { .fd = b, .len = len };
	struct kt_stream bs = { .fd = b, .len = len }, ar = { .fd = a, .len = len };
	double t0 = kt_now();

	kt_exchange(&as, &br, &bs, &ar);
	return 2.0 * (double)len / MIB / (kt_now() - t0);
}

static void measure_plain(void)
{
	int fds[2];

	if (plain_mibs > 0)
		return;
	tu_tcp_pair(fds);
	kt_set_timeouts(fds[0]);
	kt_set_timeouts(fds[1]);
	plain_mibs = exchange_fds(fds[0], fds[1], 32 * MIB);
	printf("plain TCP, 32 MiB each way: %.1f MiB/s (the baseline of the ratios below)\n",
	       plain_mibs);
	close(fds[0]);
	close(fds[1]);
}

/* ---------------------------------------------------------------- ours <-> ours */

/* Every version x cipher: kTLS on both ends, data both ways, the kernel's counters agree. */
START_TEST(test_ours_both_ways)
{
	unsigned protocols = kt_combo_protocol(_i);
	const char *cipher = kt_combo_cipher(_i);
	bool bulk = protocols == HANDOFF_PROTOCOL_TLSv1_3 && strcmp(cipher, "AES-128-GCM") == 0;
	uint64_t len = bulk ? bulk_len() : SMALL_LEN;
	struct handoff_kernel_info info;
	long cur_tx, cur_rx, tx, rx, dec_err;
	struct ours o;
	double mibs;

	/* The library probes once per process, on sockets of its own: get that out of the counts. */
	ck_assert_int_eq(handoff_kernel_probe(&info, 0), 0);
	cur_tx = kt_tls_stat("TlsCurrTxSw");
	cur_rx = kt_tls_stat("TlsCurrRxSw");
	tx = kt_tls_stat("TlsTxSw");
	rx = kt_tls_stat("TlsRxSw");
	dec_err = kt_tls_stat("TlsDecryptError");

	ck_assert_msg(cur_tx >= 0 && cur_rx >= 0 && tx >= 0 && rx >= 0 && dec_err >= 0,
		      "/proc/net/tls_stat is missing counters");
	ours_start(&o, protocols, cipher);
	/* One socket on each side, each with a TX and an RX context in software. */
	ck_assert_int_eq(kt_tls_stat("TlsCurrTxSw"), cur_tx + 2);
	ck_assert_int_eq(kt_tls_stat("TlsCurrRxSw"), cur_rx + 2);
	ck_assert_int_eq(kt_tls_stat("TlsTxSw"), tx + 2);
	ck_assert_int_eq(kt_tls_stat("TlsRxSw"), rx + 2);

	mibs = exchange_fds(o.fds[0], o.fds[1], len);
	printf("%s %s ours<->ours: %llu MiB each way, %.1f MiB/s = %.2f x plain TCP\n",
	       handoff_conn_version(o.c), cipher, (unsigned long long)(len / MIB), mibs,
	       mibs / plain_mibs);
	fflush(stdout);
	ck_assert_int_eq(kt_tls_stat("TlsDecryptError"), dec_err);
	ck_assert_int_eq(kt_tls_stat("TlsCurrTxSw"), cur_tx + 2);
	ck_assert_int_eq(kt_tls_stat("TlsCurrRxSw"), cur_rx + 2);

	ck_assert_int_eq(handoff_close(o.c), 0);
	ck_assert_int_eq(handoff_close(o.s), 0);
	ours_free(&o);
	/* Closing the sockets releases the kernel contexts. */
	ck_assert_int_eq(kt_tls_stat("TlsCurrTxSw"), cur_tx);
	ck_assert_int_eq(kt_tls_stat("TlsCurrRxSw"), cur_rx);
	ck_assert_int_eq(kt_tls_stat("TlsDecryptError"), dec_err);
}
END_TEST

/* sendfile(2) of a file through the kTLS socket, both versions; the peer reads it with read(2). */
START_TEST(test_sendfile)
{
	unsigned protocols = kt_protocol[_i];
	const char *tmp = getenv("TMPDIR");
	uint8_t want[32];
	char path[256];
	struct kt_stream recv_side;
	struct ours o;
	struct stat st;
	off_t off = 0;
	pthread_t t;
	uint8_t *data;
	ssize_t n;
	int fd;
	size_t i;

	snprintf(path, sizeof(path), "%s/ktls_datapath.sendfile.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	data = malloc(SENDFILE_LEN);
	ck_assert_ptr_nonnull(data);
	for (i = 0; i < SENDFILE_LEN; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	ck_assert_int_eq(write(fd, data, SENDFILE_LEN), SENDFILE_LEN);
	ck_assert_int_eq(gnutls_hash_fast(GNUTLS_DIG_SHA256, data, SENDFILE_LEN, want), 0);
	free(data);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, SENDFILE_LEN);

	ours_start(&o, protocols, "AES-128-GCM");
	/* The server sends the file, the client reads it with read(2). */
	memset(&recv_side, 0, sizeof(recv_side));
	recv_side.fd = o.fds[0];
	recv_side.len = SENDFILE_LEN;
	t = tu_spawn(kt_stream_recv, &recv_side);
	while (off < (off_t)SENDFILE_LEN) {
		n = sendfile(o.fds[1], fd, &off, SENDFILE_LEN - (size_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "sendfile at %lld: %s", (long long)off, strerror(errno));
	}
	tu_join(t);
	ck_assert_msg(!recv_side.err, "%s: %s", recv_side.what, strerror(recv_side.err));
	ck_assert_msg(memcmp(want, recv_side.digest, 32) == 0, "sendfile: checksum differs");
	close(fd);
	ours_free(&o);
}
END_TEST

struct small_writer {
	int fd;
	uint8_t digest[32];
	int err;
};

/* SMALL_WRITES writes of 1..64 bytes: one record each. */
static int write_small(void *p)
{
	struct small_writer *w = p;
	gnutls_hash_hd_t hash;
	uint8_t buf[64];
	unsigned i, j, n;

	gnutls_hash_init(&hash, GNUTLS_DIG_SHA256);
	for (i = 0; i < SMALL_WRITES; i++) {
		n = 1 + (i * 37) % 64;
		for (j = 0; j < n; j++)
			buf[j] = (uint8_t)(i + j);
		if (write(w->fd, buf, n) != (ssize_t)n) {
			w->err = errno ? errno : EIO;
			break;
		}
		gnutls_hash(hash, buf, n);
	}
	gnutls_hash_deinit(hash, w->digest);
	return 0;
}

START_TEST(test_small_writes)
{
	unsigned protocols = kt_protocol[_i];
	struct small_writer w = { 0 };
	struct kt_stream r = { 0 };
	uint64_t total = 0;
	unsigned i;
	struct ours o;
	pthread_t t;
	double t0;

	for (i = 0; i < SMALL_WRITES; i++)
		total += 1 + (i * 37) % 64;
	ours_start(&o, protocols, "CHACHA20-POLY1305");
	w.fd = o.fds[0];
	r.fd = o.fds[1];
	r.len = total;
	t0 = kt_now();
	t = tu_spawn(write_small, &w);
	kt_stream_recv(&r);
	tu_join(t);
	ck_assert_msg(!w.err, "small write: %s", strerror(w.err));
	ck_assert_msg(!r.err, "%s: %s", r.what, strerror(r.err));
	ck_assert_msg(memcmp(w.digest, r.digest, 32) == 0, "small writes: checksum differs");
	printf("%s: %d writes of 1..64 bytes (%llu bytes) in %.2f s\n", handoff_conn_version(o.c),
	       SMALL_WRITES, (unsigned long long)total, kt_now() - t0);
	fflush(stdout);
	ours_free(&o);
}
END_TEST

/* ---------------------------------------------------------------- ours <-> GnuTLS */

/*
 * _i: combination * 2 + role; role 0: we are the client, 1: the server.
 * The peer asks for / issues no tickets: our side reads with plain read().
 */
START_TEST(test_against_gnutls)
{
	int combo = _i / 2;
	bool we_serve = _i % 2;
	unsigned protocols = kt_combo_protocol(combo);
	const char *cipher = kt_combo_cipher(combo);
	struct handoff_config *cfg;
	struct handoff *h;
	struct kt_peer peer;
	int fds[2], ret, ours, theirs;
	pthread_t t;
	double t0, mibs;

	tu_tcp_pair(fds);
	ours = fds[we_serve];
	theirs = fds[!we_serve];
	kt_set_timeouts(ours);
	cfg = we_serve ? kt_server_config(protocols, cipher, false) :
			 kt_client_config(protocols, cipher, NULL);
	h = we_serve ? handoff_server(cfg, ours) : handoff_client(cfg, ours, "localhost");
	ck_assert_ptr_nonnull(h);
	kt_peer_init(&peer, theirs, !we_serve, protocols, cipher,
		     we_serve ? 0 : GNUTLS_NO_TICKETS);
	t = tu_spawn(kt_peer_handshake, &peer);
	ret = handoff_handshake(h);
	/* A failed handshake (no kTLS) must not leave the peer waiting out its timeout. */
	if (ret != 0)
		shutdown(ours, SHUT_RDWR);
	tu_join(t);
	ck_assert_msg(ret == 0 && peer.hs_ret == 0, "ours: %s / peer: %s",
		      ret == 0 ? "ok" : handoff_error(h), gnutls_strerror(peer.hs_ret));
	ck_assert_int_eq(handoff_conn_ktls(h), 1);
	ck_assert_str_eq(handoff_conn_cipher(h), cipher);

	{
		struct kt_stream os = { .fd = ours, .len = PEER_LEN };
		struct kt_stream pr = { .fd = theirs, .s = peer.s, .len = PEER_LEN };
		struct kt_stream ps = { .fd = theirs, .s = peer.s, .len = PEER_LEN };
		struct kt_stream orr = { .fd = ours, .len = PEER_LEN };

		/*
		 * Our server issues TLS 1.3 tickets; the GnuTLS client takes
		 * them in gnutls_record_recv().  Our reads are plain read().
		 */
		t0 = kt_now();
		kt_exchange(&os, &pr, &ps, &orr);
		mibs = 2.0 * PEER_LEN / MIB / (kt_now() - t0);
	}
	printf("%s %s ours(%s)<->GnuTLS: %.1f MiB/s\n", handoff_conn_version(h), cipher,
	       we_serve ? "server" : "client", mibs);
	fflush(stdout);

	/* Our close_notify reaches the peer through the kernel as an orderly end. */
	ck_assert_int_eq(handoff_close(h), 0);
	{
		uint8_t b;

		ck_assert_int_eq(gnutls_record_recv(peer.s, &b, 1), 0);
	}
	handoff_free(h);
	handoff_config_free(cfg);
	kt_peer_free(&peer);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

static Suite *datapath_suite(void)
{
	Suite *s = suite_create("ktls_datapath");
	TCase *tc;

	tc = tcase_create("ours");
	tcase_set_timeout(tc, 240);
	/* Unchecked: runs once in the parent, so every forked case divides by the same baseline. */
	tcase_add_unchecked_fixture(tc, measure_plain, NULL);
	tcase_add_loop_test(tc, test_ours_both_ways, 0, KT_COMBOS);
	tcase_add_loop_test(tc, test_sendfile, 0, HANDOFF_TLS_VERSION_COUNT);
	tcase_add_loop_test(tc, test_small_writes, 0, HANDOFF_TLS_VERSION_COUNT);
	suite_add_tcase(s, tc);

	tc = tcase_create("gnutls_peer");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_against_gnutls, 0, KT_COMBOS * 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	kt_require_ktls();
	return tu_run(datapath_suite());
}
