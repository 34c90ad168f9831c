/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ktlsutil.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void kt_require_ktls(void)
{
	struct handoff_kernel_info info;
	const char *env = getenv("HANDOFF_TEST_KTLS");

	if (env && strcmp(env, "1") == 0)
		return;
	if (handoff_kernel_probe(&info, 0) == 0 && info.ulp_errno == 0)
		return;
	printf("SKIP: the kernel has no kTLS (run in the VM: tests/vm/run.sh)\n");
	exit(KT_EXIT_SKIP);
}

long kt_tls_stat(const char *name)
{
	char line[128], key[64];
	long value, found = -1;
	FILE *f = fopen("/proc/net/tls_stat", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld", key, &value) == 2 && strcmp(key, name) == 0) {
			found = value;
			break;
		}
	}
	fclose(f);
	return found;
}

const char *const kt_cipher[HANDOFF_CIPHER_COUNT] = {
	"AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305", "AES-128-CCM",
};
const unsigned kt_protocol[HANDOFF_TLS_VERSION_COUNT] = {
	HANDOFF_PROTOCOL_TLSv1_2, HANDOFF_PROTOCOL_TLSv1_3,
};

unsigned kt_combo_protocol(int i)
{
	return kt_protocol[i / HANDOFF_CIPHER_COUNT];
}

const char *kt_combo_cipher(int i)
{
	return kt_cipher[i % HANDOFF_CIPHER_COUNT];
}

struct handoff_config *kt_client_config(unsigned protocols, const char *cipher,
					struct handoff_cache *cache)
{
	struct handoff_config *cfg = handoff_config_new();

	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(handoff_config_add_ca_file(cfg, tu_pki("ca.pem")), 0);
	ck_assert_int_eq(handoff_config_set_protocols(cfg, protocols), 0);
	ck_assert_msg(handoff_config_set_ciphers(cfg, cipher) == 0, "%s",
		      handoff_config_error(cfg));
	handoff_config_set_handshake_timeout(cfg, KT_IO_TIMEOUT_S * 1000);
	if (cache)
		handoff_config_set_session_cache(cfg, cache);
	return cfg;
}

struct handoff_config *kt_server_config(unsigned protocols, const char *cipher, bool no_tickets)
{
	struct handoff_config *cfg = handoff_config_new();

	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(handoff_config_set_keypair_file(cfg, tu_pki("server.pem"),
							 tu_pki("server-key.pem")), 0);
	ck_assert_int_eq(handoff_config_set_protocols(cfg, protocols), 0);
	ck_assert_msg(handoff_config_set_ciphers(cfg, cipher) == 0, "%s",
		      handoff_config_error(cfg));
	handoff_config_set_handshake_timeout(cfg, KT_IO_TIMEOUT_S * 1000);
	if (no_tickets)
		handoff_config_disable_tickets(cfg);
	return cfg;
}

void kt_set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = KT_IO_TIMEOUT_S };

	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
}

/* ------------------------------------------------------------ GnuTLS peer */

void kt_peer_init(struct kt_peer *p, int fd, bool server, unsigned protocols,
		  const char *cipher, unsigned flags)
{
	char prio[200];
	const char *err = NULL;

	memset(p, 0, sizeof(*p));
	p->fd = fd;
	kt_set_timeouts(fd);
	ck_assert_int_eq(gnutls_certificate_allocate_credentials(&p->cred), 0);
	ck_assert_int_ge(gnutls_certificate_set_x509_trust_file(p->cred, tu_pki("ca.pem"),
								GNUTLS_X509_FMT_PEM), 1);
	if (server)
		ck_assert_int_eq(gnutls_certificate_set_x509_key_file(p->cred, tu_pki("server.pem"),
								      tu_pki("server-key.pem"),
								      GNUTLS_X509_FMT_PEM), 0);
	ck_assert_int_eq(gnutls_init(&p->s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | flags), 0);
	if (!server)
		gnutls_server_name_set(p->s, GNUTLS_NAME_DNS, "localhost", 9);
	snprintf(prio, sizeof(prio), "NORMAL:-VERS-ALL:+VERS-TLS%s%s%s",
		 protocols == HANDOFF_PROTOCOL_TLSv1_2 ? "1.2" : "1.3",
		 cipher ? ":-CIPHER-ALL:+" : "", cipher ? cipher : "");
	ck_assert_int_eq(gnutls_credentials_set(p->s, GNUTLS_CRD_CERTIFICATE, p->cred), 0);
	ck_assert_msg(gnutls_priority_set_direct(p->s, prio, &err) == 0, "priority at %s", err);
	gnutls_transport_set_int(p->s, fd);
	gnutls_handshake_set_timeout(p->s, KT_IO_TIMEOUT_S * 1000);
}

int kt_peer_handshake(void *peer)
{
	struct kt_peer *p = peer;
	int ret;

	do
		ret = gnutls_handshake(p->s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	p->hs_ret = ret;
	return ret;
}

void kt_peer_free(struct kt_peer *p)
{
	gnutls_deinit(p->s);
	gnutls_certificate_free_credentials(p->cred);
}

/* ------------------------------------------------------------ our pair */

static int server_handshake(void *h)
{
	return handoff_handshake(h);
}

void kt_handshake_pair(struct handoff *client, struct handoff *server)
{
	pthread_t t = tu_spawn(server_handshake, server);
	int c = handoff_handshake(client);
	int s;

	/* A failed side must not leave the other waiting out its handshake timeout. */
	if (c != 0)
		shutdown(handoff_conn_fd(client), SHUT_RDWR);
	s = tu_join(t);

	ck_assert_msg(c == 0 && s == 0, "client: %s / server: %s",
		      c == 0 ? "ok" : handoff_error(client), s == 0 ? "ok" : handoff_error(server));
}

/* -------------------------------------------------------------- streams */

/* Not a power of two, so chunk and record boundaries drift against it. */
#define PATTERN_LEN ((1u << 20) + 7)
static uint8_t pattern[PATTERN_LEN];
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

static void pattern_fill(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = 0; i < PATTERN_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pattern[i] = (uint8_t)x;
	}
}

/* Write and read sizes cycle through these: single bytes, record edges, big runs. */
static const unsigned chunk_sizes[] = { 262144, 1, 16383, 16384, 16385, 131077, 4096, 77777 };
static const unsigned read_sizes[] = { 262144, 7, 16384, 65536, 1000, 16385 };

static int stream_fail(struct kt_stream *st, int err, const char *what)
{
	st->err = err ? err : EIO;
	snprintf(st->what, sizeof(st->what), "%s", what);
	return -1;
}

int kt_stream_send(void *stream)
{
	struct kt_stream *st = stream;
	gnutls_hash_hd_t hash;
	uint64_t off = 0;
	unsigned i = 0;
	size_t max = st->max_chunk ? st->max_chunk : 262144;

	pthread_once(&pattern_once, pattern_fill);
	if (gnutls_hash_init(&hash, GNUTLS_DIG_SHA256) < 0)
		return stream_fail(st, ENOMEM, "hash init");
	while (off < st->len) {
		size_t pos = off % PATTERN_LEN, n = chunk_sizes[i++ % 8];
		ssize_t w;

		if (n > max)
			n = max;
		if (n > PATTERN_LEN - pos)
			n = PATTERN_LEN - pos;
		if (n > st->len - off)
			n = st->len - off;
		if (st->s)
			w = gnutls_record_send(st->s, pattern + pos, n);
		else
			w = write(st->fd, pattern + pos, n);
		if (w == GNUTLS_E_INTERRUPTED || w == GNUTLS_E_AGAIN || (w < 0 && errno == EINTR && !st->s))
			continue;
		if (w <= 0) {
			gnutls_hash_deinit(hash, NULL);
			return stream_fail(st, st->s ? EIO : errno,
					   st->s ? gnutls_strerror((int)w) : "write");
		}
		gnutls_hash(hash, pattern + pos, (size_t)w);
		off += (uint64_t)w;
	}
	gnutls_hash_deinit(hash, st->digest);
	return 0;
}

int kt_stream_recv(void *stream)
{
	struct kt_stream *st = stream;
	gnutls_hash_hd_t hash;
	uint8_t *buf = malloc(262144);
	uint64_t off = 0;
	unsigned i = 0;
	size_t max = st->max_chunk ? st->max_chunk : 262144;

	if (!buf || gnutls_hash_init(&hash, GNUTLS_DIG_SHA256) < 0) {
		free(buf);
		return stream_fail(st, ENOMEM, "buffer");
	}
	while (off < st->len) {
		size_t n = read_sizes[i++ % 6];
		ssize_t r;

		if (n > max)
			n = max;
		if (n > st->len - off)
			n = st->len - off;
		if (st->s)
			r = gnutls_record_recv(st->s, buf, n);
		else
			r = read(st->fd, buf, n);
		if (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_AGAIN || (r < 0 && errno == EINTR && !st->s))
			continue;
		if (r <= 0) {
			char what[80];

			snprintf(what, sizeof(what), "read at %llu of %llu: %s",
				 (unsigned long long)off, (unsigned long long)st->len,
				 r == 0 ? "EOF" : st->s ? gnutls_strerror((int)r) : strerror(errno));
			gnutls_hash_deinit(hash, NULL);
			free(buf);
			return stream_fail(st, r == 0 ? EPIPE : st->s ? EIO : errno, what);
		}
		gnutls_hash(hash, buf, (size_t)r);
		off += (uint64_t)r;
	}
	gnutls_hash_deinit(hash, st->digest);
	free(buf);
	return 0;
}

void kt_exchange(struct kt_stream *a_send, struct kt_stream *b_recv,
		 struct kt_stream *b_send, struct kt_stream *a_recv)
{
	pthread_t t[3];

	t[0] = tu_spawn(kt_stream_send, a_send);
	t[1] = tu_spawn(kt_stream_recv, b_recv);
	t[2] = tu_spawn(kt_stream_send, b_send);
	kt_stream_recv(a_recv);
	tu_join(t[0]);
	tu_join(t[1]);
	tu_join(t[2]);
	ck_assert_msg(!a_send->err, "a send: %s: %s", a_send->what, strerror(a_send->err));
	ck_assert_msg(!b_recv->err, "b recv: %s: %s", b_recv->what, strerror(b_recv->err));
	ck_assert_msg(!b_send->err, "b send: %s: %s", b_send->what, strerror(b_send->err));
	ck_assert_msg(!a_recv->err, "a recv: %s: %s", a_recv->what, strerror(a_recv->err));
	ck_assert_msg(memcmp(a_send->digest, b_recv->digest, 32) == 0, "a->b: checksum differs");
	ck_assert_msg(memcmp(b_send->digest, a_recv->digest, 32) == 0, "b->a: checksum differs");
}

double kt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
