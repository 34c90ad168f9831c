/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ktls/: the keys we would give the kernel, proven without a kernel.
 *
 * The central test runs a real GnuTLS handshake for every version x cipher
 * the kernel takes, extracts side A's keys with ktls_keys_from_session(),
 * and then uses recordcrypt (a record layer that only sees those keys) in
 * place of the kernel: it must read what GnuTLS on side B sends, and B
 * must accept what it writes.  Sequence numbers are non-zero at the hand
 * over, as they are after a real handshake plus some traffic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <time.h>

#include "common.h"
#include "ktls/ktls.h"
#include "recordcrypt.h"
#include "testutil.h"


static bool have_ktls(void)
{
	const char *v = getenv("HANDOFF_TEST_KTLS");

	return v && strcmp(v, "1") == 0;
}

/* ------------------------------------------------------------ a GnuTLS pair */

struct combo {
	const char *name;
	enum handoff_tls_version version;
	gnutls_protocol_t gversion;
	enum handoff_cipher cipher;
	gnutls_cipher_algorithm_t gcipher;
	uint16_t kversion, ktype;
	const char *prio;
};

#define PRIO12(c) "NONE:+VERS-TLS1.2:+" c ":+AEAD:+PSK:+SIGN-ALL:+GROUP-ALL:+COMP-NULL"
/*
 * TLS 1.3 authenticates with a throw-away certificate: GnuTLS ties an
 * external PSK to SHA-256, which rules out TLS_AES_256_GCM_SHA384.
 */
#define PRIO13(c) "NONE:+VERS-TLS1.3:+" c ":+AEAD:+ECDHE-ECDSA:+SIGN-ALL:+GROUP-ALL:+CTYPE-X509:+COMP-NULL"

static const struct combo combos[] = {
	{ "1.2 AES-128-GCM", HANDOFF_TLS_1_2, GNUTLS_TLS1_2, HANDOFF_CIPHER_AES_128_GCM,
	  GNUTLS_CIPHER_AES_128_GCM, TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128, PRIO12("AES-128-GCM") },
	{ "1.2 AES-256-GCM", HANDOFF_TLS_1_2, GNUTLS_TLS1_2, HANDOFF_CIPHER_AES_256_GCM,
	  GNUTLS_CIPHER_AES_256_GCM, TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_256, PRIO12("AES-256-GCM") },
	{ "1.2 CHACHA20-POLY1305", HANDOFF_TLS_1_2, GNUTLS_TLS1_2, HANDOFF_CIPHER_CHACHA20_POLY1305,
	  GNUTLS_CIPHER_CHACHA20_POLY1305, TLS_1_2_VERSION, TLS_CIPHER_CHACHA20_POLY1305,
	  PRIO12("CHACHA20-POLY1305") },
	{ "1.2 AES-128-CCM", HANDOFF_TLS_1_2, GNUTLS_TLS1_2, HANDOFF_CIPHER_AES_128_CCM,
	  GNUTLS_CIPHER_AES_128_CCM, TLS_1_2_VERSION, TLS_CIPHER_AES_CCM_128, PRIO12("AES-128-CCM") },
	{ "1.3 AES-128-GCM", HANDOFF_TLS_1_3, GNUTLS_TLS1_3, HANDOFF_CIPHER_AES_128_GCM,
	  GNUTLS_CIPHER_AES_128_GCM, TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128, PRIO13("AES-128-GCM") },
	{ "1.3 AES-256-GCM", HANDOFF_TLS_1_3, GNUTLS_TLS1_3, HANDOFF_CIPHER_AES_256_GCM,
	  GNUTLS_CIPHER_AES_256_GCM, TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_256, PRIO13("AES-256-GCM") },
	{ "1.3 CHACHA20-POLY1305", HANDOFF_TLS_1_3, GNUTLS_TLS1_3, HANDOFF_CIPHER_CHACHA20_POLY1305,
	  GNUTLS_CIPHER_CHACHA20_POLY1305, TLS_1_3_VERSION, TLS_CIPHER_CHACHA20_POLY1305,
	  PRIO13("CHACHA20-POLY1305") },
	{ "1.3 AES-128-CCM", HANDOFF_TLS_1_3, GNUTLS_TLS1_3, HANDOFF_CIPHER_AES_128_CCM,
	  GNUTLS_CIPHER_AES_128_CCM, TLS_1_3_VERSION, TLS_CIPHER_AES_CCM_128, PRIO13("AES-128-CCM") },
};

static const uint8_t psk_bytes[32] = {
	0x9b, 0x1c, 0x40, 0x77, 0x02, 0xe5, 0x3a, 0x81, 0x6d, 0x4f, 0xc2, 0x18, 0x5e, 0x0b, 0x93, 0xa7,
	0x21, 0x66, 0xd8, 0x3f, 0x70, 0x4a, 0xbe, 0x05, 0x19, 0xf4, 0x8c, 0x62, 0x37, 0xad, 0xe0, 0x5b,
};

struct pair {
	int fds[2];		/* fds[0] side A (client), fds[1] side B (server) */
	gnutls_session_t a, b;
	gnutls_psk_client_credentials_t pc;
	gnutls_psk_server_credentials_t ps;
	gnutls_certificate_credentials_t cc, sc;
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
};

static int psk_lookup(gnutls_session_t s, const char *user, gnutls_datum_t *key)
{
	(void)s;
	if (strcmp(user, "keys-test") != 0)
		return -1;
	key->data = gnutls_malloc(sizeof(psk_bytes));
	if (!key->data)
		return -1;
	memcpy(key->data, psk_bytes, sizeof(psk_bytes));
	key->size = sizeof(psk_bytes);
	return 0;
}

static int handshake(gnutls_session_t s)
{
	int r;

	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	return r;
}

static int server_side(void *arg)
{
	struct pair *p = arg;
	int r = handshake(p->b);

	/* A failed side must not leave the other waiting forever. */
	if (r < 0)
		shutdown(p->fds[1], SHUT_RDWR);
	return r;
}

/* A self-signed ECDSA certificate made on the spot: no PKI files needed. */
static void make_cert(struct pair *p)
{
	time_t now = time(NULL);
	const unsigned char serial[] = { 1 };

	ck_assert_int_eq(gnutls_x509_privkey_init(&p->key), 0);
	ck_assert_int_eq(gnutls_x509_privkey_generate(p->key, GNUTLS_PK_ECDSA,
		GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
	ck_assert_int_eq(gnutls_x509_crt_init(&p->crt), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_version(p->crt, 3), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_serial(p->crt, serial, sizeof(serial)), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_activation_time(p->crt, now - 60), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_expiration_time(p->crt, now + 3600), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_dn_by_oid(p->crt, GNUTLS_OID_X520_COMMON_NAME, 0,
						       "localhost", 9), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_key(p->crt, p->key), 0);
	ck_assert_int_eq(gnutls_x509_crt_sign2(p->crt, p->crt, p->key, GNUTLS_DIG_SHA256, 0), 0);
	ck_assert_int_eq(gnutls_certificate_allocate_credentials(&p->sc), 0);
	ck_assert_int_eq(gnutls_certificate_set_x509_key(p->sc, &p->crt, 1, p->key), 0);
	/* The client does not verify: these tests are about record keys, not trust. */
	ck_assert_int_eq(gnutls_certificate_allocate_credentials(&p->cc), 0);
}

static void pair_open(struct pair *p, const struct combo *c)
{
	const gnutls_datum_t key = { (unsigned char *)psk_bytes, sizeof(psk_bytes) };
	pthread_t t;
	int r, rs;

	memset(p, 0, sizeof(*p));
	tu_tcp_pair(p->fds);
	ck_assert_int_eq(gnutls_psk_allocate_client_credentials(&p->pc), 0);
	ck_assert_int_eq(gnutls_psk_set_client_credentials(p->pc, "keys-test", &key,
							   GNUTLS_PSK_KEY_RAW), 0);
	ck_assert_int_eq(gnutls_psk_allocate_server_credentials(&p->ps), 0);
	gnutls_psk_set_server_credentials_function(p->ps, psk_lookup);

	/* No tickets: a NewSessionTicket would be the first "raw" record A reads. */
	ck_assert_int_eq(gnutls_init(&p->a, GNUTLS_CLIENT | GNUTLS_NO_TICKETS), 0);
	ck_assert_int_eq(gnutls_init(&p->b, GNUTLS_SERVER | GNUTLS_NO_TICKETS), 0);
	ck_assert_int_eq(gnutls_priority_set_direct(p->a, c->prio, NULL), 0);
	ck_assert_int_eq(gnutls_priority_set_direct(p->b, c->prio, NULL), 0);
	if (c->version == HANDOFF_TLS_1_3) {
		make_cert(p);
		ck_assert_int_eq(gnutls_credentials_set(p->a, GNUTLS_CRD_CERTIFICATE, p->cc), 0);
		ck_assert_int_eq(gnutls_credentials_set(p->b, GNUTLS_CRD_CERTIFICATE, p->sc), 0);
	} else {
		ck_assert_int_eq(gnutls_credentials_set(p->a, GNUTLS_CRD_PSK, p->pc), 0);
		ck_assert_int_eq(gnutls_credentials_set(p->b, GNUTLS_CRD_PSK, p->ps), 0);
	}
	gnutls_transport_set_int(p->a, p->fds[0]);
	gnutls_transport_set_int(p->b, p->fds[1]);

	t = tu_spawn(server_side, p);
	r = handshake(p->a);
	if (r < 0)
		shutdown(p->fds[0], SHUT_RDWR);
	rs = tu_join(t);
	ck_assert_msg(r == 0, "%s: client handshake: %s", c->name, gnutls_strerror(r));
	r = rs;
	ck_assert_msg(r == 0, "%s: server handshake: %s", c->name, gnutls_strerror(r));

	ck_assert_int_eq(gnutls_protocol_get_version(p->a), c->gversion);
	ck_assert_int_eq(gnutls_cipher_get(p->a), c->gcipher);
}

static void pair_close(struct pair *p)
{
	gnutls_deinit(p->a);
	gnutls_deinit(p->b);
	gnutls_psk_free_client_credentials(p->pc);
	gnutls_psk_free_server_credentials(p->ps);
	if (p->sc) {
		gnutls_certificate_free_credentials(p->sc);
		gnutls_certificate_free_credentials(p->cc);
		gnutls_x509_crt_deinit(p->crt);
		gnutls_x509_privkey_deinit(p->key);
	}
	close(p->fds[0]);
	close(p->fds[1]);
}

static void fill(uint8_t *buf, size_t len, unsigned salt)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 31 + salt);
}

static uint64_t info_seq(const struct ktls_crypto_info *ci)
{
	const uint8_t *p;
	uint64_t v = 0;

	switch (ci->u.base.cipher_type) {
	case TLS_CIPHER_AES_GCM_128: p = ci->u.aes_gcm_128.rec_seq; break;
	case TLS_CIPHER_AES_GCM_256: p = ci->u.aes_gcm_256.rec_seq; break;
	case TLS_CIPHER_AES_CCM_128: p = ci->u.aes_ccm_128.rec_seq; break;
	default: p = ci->u.chacha20_poly1305.rec_seq; break;
	}
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Plain GnuTLS traffic both ways, so the keys are handed over mid-stream. */
static void warm_up(struct pair *p)
{
	uint8_t buf[64], got[64];

	for (int i = 0; i < 3; i++) {
		fill(buf, sizeof(buf), (unsigned)i);
		ck_assert_int_eq(gnutls_record_send(p->b, buf, sizeof(buf)), sizeof(buf));
		ck_assert_int_eq(gnutls_record_recv(p->a, got, sizeof(got)), sizeof(got));
		ck_assert_mem_eq(got, buf, sizeof(buf));
	}
	for (int i = 0; i < 2; i++) {
		fill(buf, sizeof(buf), 100u + (unsigned)i);
		ck_assert_int_eq(gnutls_record_send(p->a, buf, sizeof(buf)), sizeof(buf));
		ck_assert_int_eq(gnutls_record_recv(p->b, got, sizeof(got)), sizeof(got));
		ck_assert_mem_eq(got, buf, sizeof(buf));
	}
	ck_assert_uint_eq(gnutls_record_check_pending(p->a), 0);
}

START_TEST(test_gnutls_roundtrip)
{
	static const size_t sizes[] = { 1, 17, 1000, RC_MAX_PLAINTEXT };
	const struct combo *c = &combos[_i];
	static uint8_t data[RC_MAX_PLAINTEXT], out[RC_MAX_PLAINTEXT], rec[RC_MAX_RECORD];
	struct ktls_crypto_info rx, tx;
	uint64_t rseq, wseq;
	struct pair p;
	size_t out_len, rec_len;
	uint8_t type;
	ssize_t n;

	pair_open(&p, c);
	warm_up(&p);

	ck_assert_int_eq(ktls_keys_from_session(p.a, 1, &rx), 0);
	ck_assert_int_eq(ktls_keys_from_session(p.a, 0, &tx), 0);
	ck_assert_uint_eq(rx.u.base.version, c->kversion);
	ck_assert_uint_eq(rx.u.base.cipher_type, c->ktype);
	ck_assert_uint_eq(tx.u.base.version, c->kversion);
	ck_assert_uint_eq(tx.u.base.cipher_type, c->ktype);
	rseq = info_seq(&rx);
	wseq = info_seq(&tx);
	/* Three records read, two written, plus whatever the handshake protected. */
	ck_assert_uint_ge(rseq, 3);
	ck_assert_uint_ge(wseq, 2);

	/* B -> A: GnuTLS seals, "the kernel" opens. */
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		fill(data, sizes[i], 7u + (unsigned)i);
		if (c->version == HANDOFF_TLS_1_3 && i == 1)
			/* Padded records must come out with the padding stripped. */
			ck_assert_int_eq(gnutls_record_send2(p.b, data, sizes[i], 40, 0), (ssize_t)sizes[i]);
		else
			ck_assert_int_eq(gnutls_record_send(p.b, data, sizes[i]), (ssize_t)sizes[i]);
		n = rc_read_record(p.fds[0], rec, sizeof(rec));
		ck_assert_int_gt(n, 0);
		out_len = sizeof(out);
		ck_assert_int_eq(rc_open(&rx, rseq + i, rec, (size_t)n, &type, out, &out_len), 0);
		ck_assert_uint_eq(type, KTLS_RECORD_APPLICATION_DATA);
		ck_assert_uint_eq(out_len, sizes[i]);
		ck_assert_mem_eq(out, data, sizes[i]);
		/* The same record under the wrong sequence number must not open. */
		out_len = sizeof(out);
		ck_assert_int_eq(rc_open(&rx, rseq + i + 1, rec, (size_t)n, &type, out, &out_len),
				 -EBADMSG);
	}

	/* A -> B: "the kernel" seals, GnuTLS opens. */
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		fill(data, sizes[i], 50u + (unsigned)i);
		rec_len = sizeof(rec);
		ck_assert_int_eq(rc_seal(&tx, wseq + i, KTLS_RECORD_APPLICATION_DATA, data, sizes[i],
					 c->version == HANDOFF_TLS_1_3 && sizes[i] < RC_MAX_PLAINTEXT ? 3 * i : 0,
					 rec, &rec_len), 0);
		ck_assert_int_eq(rc_write_all(p.fds[0], rec, rec_len), 0);
		n = gnutls_record_recv(p.b, out, sizeof(out));
		ck_assert_msg(n == (ssize_t)sizes[i], "%s: record %zu: %s", c->name, i,
			      n < 0 ? gnutls_strerror((int)n) : "short");
		ck_assert_mem_eq(out, data, sizes[i]);
	}

	/* An alert sealed by "the kernel": close_notify ends B's stream cleanly. */
	rec_len = sizeof(rec);
	ck_assert_int_eq(rc_seal(&tx, wseq + ARRAY_SIZE(sizes), KTLS_RECORD_ALERT,
				 (const uint8_t[]){ 1, 0 }, 2, 0, rec, &rec_len), 0);
	ck_assert_int_eq(rc_write_all(p.fds[0], rec, rec_len), 0);
	ck_assert_int_eq(gnutls_record_recv(p.b, out, sizeof(out)), 0);

	/* And B's own close_notify, opened with its content type. */
	ck_assert_int_eq(gnutls_bye(p.b, GNUTLS_SHUT_WR), 0);
	n = rc_read_record(p.fds[0], rec, sizeof(rec));
	ck_assert_int_gt(n, 0);
	out_len = sizeof(out);
	ck_assert_int_eq(rc_open(&rx, rseq + ARRAY_SIZE(sizes), rec, (size_t)n, &type, out, &out_len), 0);
	ck_assert_uint_eq(type, KTLS_RECORD_ALERT);
	ck_assert_uint_eq(out_len, 2);
	ck_assert_uint_eq(out[0], 1);
	ck_assert_uint_eq(out[1], 0);

	pair_close(&p);
}
END_TEST

/* ------------------------------------------------------------ the field layout */

/* Where each field lives, per cipher, read straight from the kernel structs. */
struct view {
	const uint8_t *iv, *key, *salt, *seq;
	size_t iv_len, key_len, salt_len, size;
};

static struct view view_of(const struct ktls_crypto_info *ci)
{
#define V(m, pfx) (struct view){ ci->u.m.iv, ci->u.m.key, ci->u.m.salt, ci->u.m.rec_seq,     \
				 pfx##_IV_SIZE, pfx##_KEY_SIZE, pfx##_SALT_SIZE, sizeof(ci->u.m) }
	switch (ci->u.base.cipher_type) {
	case TLS_CIPHER_AES_GCM_128: return V(aes_gcm_128, TLS_CIPHER_AES_GCM_128);
	case TLS_CIPHER_AES_GCM_256: return V(aes_gcm_256, TLS_CIPHER_AES_GCM_256);
	case TLS_CIPHER_AES_CCM_128: return V(aes_ccm_128, TLS_CIPHER_AES_CCM_128);
	default: return V(chacha20_poly1305, TLS_CIPHER_CHACHA20_POLY1305);
	}
#undef V
}

static const uint8_t k_key[32] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
	0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20 };
static const uint8_t k_iv[12] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9,
	0xaa, 0xab };
static const uint8_t k_seq[8] = { 0, 0, 0, 0, 0, 0, 0x01, 0x02 };

static const struct {
	enum handoff_tls_version v;
	enum handoff_cipher c;
	size_t key_len, iv_len;		/* what GnuTLS hands over */
	uint16_t kver, ktype;
	bool iv_is_seq;			/* TLS 1.2 salt ciphers: kernel iv = explicit nonce = seq */
} layouts[] = {
	{ HANDOFF_TLS_1_2, HANDOFF_CIPHER_AES_128_GCM, 16, 4, TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128, true },
	{ HANDOFF_TLS_1_2, HANDOFF_CIPHER_AES_256_GCM, 32, 4, TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_256, true },
	{ HANDOFF_TLS_1_2, HANDOFF_CIPHER_AES_128_CCM, 16, 4, TLS_1_2_VERSION, TLS_CIPHER_AES_CCM_128, true },
	{ HANDOFF_TLS_1_2, HANDOFF_CIPHER_CHACHA20_POLY1305, 32, 12, TLS_1_2_VERSION,
	  TLS_CIPHER_CHACHA20_POLY1305, false },
	{ HANDOFF_TLS_1_3, HANDOFF_CIPHER_AES_128_GCM, 16, 12, TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128, false },
	{ HANDOFF_TLS_1_3, HANDOFF_CIPHER_AES_256_GCM, 32, 12, TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_256, false },
	{ HANDOFF_TLS_1_3, HANDOFF_CIPHER_AES_128_CCM, 16, 12, TLS_1_3_VERSION, TLS_CIPHER_AES_CCM_128, false },
	{ HANDOFF_TLS_1_3, HANDOFF_CIPHER_CHACHA20_POLY1305, 32, 12, TLS_1_3_VERSION,
	  TLS_CIPHER_CHACHA20_POLY1305, false },
};

START_TEST(test_build_layout)
{
	struct ktls_crypto_info ci;
	struct view v;

	memset(&ci, 0xee, sizeof(ci));
	ck_assert_int_eq(ktls_crypto_info_build(&ci, layouts[_i].v, layouts[_i].c, k_key,
						layouts[_i].key_len, k_iv, layouts[_i].iv_len, k_seq), 0);
	ck_assert_uint_eq(ci.u.base.version, layouts[_i].kver);
	ck_assert_uint_eq(ci.u.base.cipher_type, layouts[_i].ktype);
	v = view_of(&ci);
	ck_assert_uint_eq(ci.len, v.size);
	ck_assert_uint_eq(v.key_len, layouts[_i].key_len);
	ck_assert_mem_eq(v.key, k_key, v.key_len);
	ck_assert_mem_eq(v.seq, k_seq, 8);
	ck_assert_mem_eq(v.salt, k_iv, v.salt_len);
	if (layouts[_i].iv_is_seq)
		ck_assert_mem_eq(v.iv, k_seq, 8);
	else
		ck_assert_mem_eq(v.iv, k_iv + v.salt_len, v.iv_len);
	/* Nothing of the old contents survives past the struct (no stale key bytes). */
	for (size_t i = v.size; i < sizeof(ci.u); i++)
		ck_assert_uint_eq(((const uint8_t *)&ci.u)[i], 0);
}
END_TEST

static const struct {
	const char *what;
	int v, c;
	size_t key_len, iv_len;
	bool null_key;
	int want;
} bad_builds[] = {
	{ "1.2 GCM-128 key 15", HANDOFF_TLS_1_2, HANDOFF_CIPHER_AES_128_GCM, 15, 4, false, -EINVAL },
	{ "1.2 GCM-128 key 32", HANDOFF_TLS_1_2, HANDOFF_CIPHER_AES_128_GCM, 32, 4, false, -EINVAL },
	{ "1.2 GCM-128 iv 12", HANDOFF_TLS_1_2, HANDOFF_CIPHER_AES_128_GCM, 16, 12, false, -EINVAL },
	{ "1.2 GCM-256 key 16", HANDOFF_TLS_1_2, HANDOFF_CIPHER_AES_256_GCM, 16, 4, false, -EINVAL },
	{ "1.2 CCM iv 0", HANDOFF_TLS_1_2, HANDOFF_CIPHER_AES_128_CCM, 16, 0, false, -EINVAL },
	{ "1.2 ChaCha iv 4", HANDOFF_TLS_1_2, HANDOFF_CIPHER_CHACHA20_POLY1305, 32, 4, false, -EINVAL },
	{ "1.3 GCM-128 iv 4", HANDOFF_TLS_1_3, HANDOFF_CIPHER_AES_128_GCM, 16, 4, false, -EINVAL },
	{ "1.3 GCM-128 iv 8", HANDOFF_TLS_1_3, HANDOFF_CIPHER_AES_128_GCM, 16, 8, false, -EINVAL },
	{ "1.3 GCM-256 key 0", HANDOFF_TLS_1_3, HANDOFF_CIPHER_AES_256_GCM, 0, 12, false, -EINVAL },
	{ "1.3 ChaCha key 16", HANDOFF_TLS_1_3, HANDOFF_CIPHER_CHACHA20_POLY1305, 16, 12, false, -EINVAL },
	{ "1.3 CCM iv 11", HANDOFF_TLS_1_3, HANDOFF_CIPHER_AES_128_CCM, 16, 11, false, -EINVAL },
	{ "NULL key", HANDOFF_TLS_1_3, HANDOFF_CIPHER_AES_128_GCM, 16, 12, true, -EINVAL },
	{ "cipher COUNT", HANDOFF_TLS_1_3, HANDOFF_CIPHER_COUNT, 16, 12, false, -EOPNOTSUPP },
	{ "cipher -1", HANDOFF_TLS_1_3, -1, 16, 12, false, -EOPNOTSUPP },
	{ "cipher 99", HANDOFF_TLS_1_2, 99, 16, 4, false, -EOPNOTSUPP },
	{ "version COUNT", HANDOFF_TLS_VERSION_COUNT, HANDOFF_CIPHER_AES_128_GCM, 16, 12, false, -EOPNOTSUPP },
	{ "version 7", 7, HANDOFF_CIPHER_AES_128_GCM, 16, 4, false, -EOPNOTSUPP },
};

START_TEST(test_build_rejects)
{
	struct ktls_crypto_info ci, before;

	memset(&ci, 0x5a, sizeof(ci));
	before = ci;
	ck_assert_msg(ktls_crypto_info_build(&ci, (enum handoff_tls_version)bad_builds[_i].v,
					     (enum handoff_cipher)bad_builds[_i].c,
					     bad_builds[_i].null_key ? NULL : k_key,
					     bad_builds[_i].key_len, k_iv, bad_builds[_i].iv_len,
					     k_seq) == bad_builds[_i].want,
		      "%s", bad_builds[_i].what);
	/* Output untouched on failure. */
	ck_assert_mem_eq(&ci, &before, sizeof(ci));
}
END_TEST

static const struct {
	gnutls_cipher_algorithm_t g;
	int want;
	enum handoff_cipher c;
} cipher_map[] = {
	{ GNUTLS_CIPHER_AES_128_GCM, 0, HANDOFF_CIPHER_AES_128_GCM },
	{ GNUTLS_CIPHER_AES_256_GCM, 0, HANDOFF_CIPHER_AES_256_GCM },
	{ GNUTLS_CIPHER_CHACHA20_POLY1305, 0, HANDOFF_CIPHER_CHACHA20_POLY1305 },
	{ GNUTLS_CIPHER_AES_128_CCM, 0, HANDOFF_CIPHER_AES_128_CCM },
	{ GNUTLS_CIPHER_AES_128_CBC, -EOPNOTSUPP, 0 },
	{ GNUTLS_CIPHER_AES_256_CBC, -EOPNOTSUPP, 0 },
	{ GNUTLS_CIPHER_AES_128_CCM_8, -EOPNOTSUPP, 0 },
	{ GNUTLS_CIPHER_AES_256_CCM, -EOPNOTSUPP, 0 },
	{ GNUTLS_CIPHER_3DES_CBC, -EOPNOTSUPP, 0 },
	{ GNUTLS_CIPHER_NULL, -EOPNOTSUPP, 0 },
	{ GNUTLS_CIPHER_UNKNOWN, -EOPNOTSUPP, 0 },
	{ (gnutls_cipher_algorithm_t)12345, -EOPNOTSUPP, 0 },
};

START_TEST(test_cipher_from_gnutls)
{
	enum handoff_cipher out = (enum handoff_cipher)77;

	ck_assert_int_eq(ktls_cipher_from_gnutls(cipher_map[_i].g, &out), cipher_map[_i].want);
	if (cipher_map[_i].want == 0)
		ck_assert_int_eq(out, cipher_map[_i].c);
	else
		ck_assert_int_eq(out, 77);
}
END_TEST

static const struct {
	gnutls_protocol_t g;
	int want;
	enum handoff_tls_version v;
} version_map[] = {
	{ GNUTLS_TLS1_2, 0, HANDOFF_TLS_1_2 },
	{ GNUTLS_TLS1_3, 0, HANDOFF_TLS_1_3 },
	{ GNUTLS_SSL3, -EOPNOTSUPP, 0 },
	{ GNUTLS_TLS1_0, -EOPNOTSUPP, 0 },
	{ GNUTLS_TLS1_1, -EOPNOTSUPP, 0 },
	{ GNUTLS_DTLS1_2, -EOPNOTSUPP, 0 },
	{ GNUTLS_VERSION_UNKNOWN, -EOPNOTSUPP, 0 },
};

START_TEST(test_version_from_gnutls)
{
	enum handoff_tls_version out = (enum handoff_tls_version)77;

	ck_assert_int_eq(ktls_version_from_gnutls(version_map[_i].g, &out), version_map[_i].want);
	ck_assert_int_eq(out, version_map[_i].want == 0 ? (int)version_map[_i].v : 77);
}
END_TEST

/* ------------------------------------------------------------ recordcrypt itself */

static void make_info(struct ktls_crypto_info *ci, int row)
{
	ck_assert_int_eq(ktls_crypto_info_build(ci, layouts[row].v, layouts[row].c, k_key,
						layouts[row].key_len, k_iv, layouts[row].iv_len,
						k_seq), 0);
}

enum mangle { M_NONE, M_HDR_TYPE, M_HDR_VERSION, M_HDR_LEN, M_NONCE, M_BODY, M_TAG,
	      M_TRUNCATE, M_EXTEND, M_SEQ, M_TINY_OUT, M_SHORT };

static const struct {
	const char *what;
	enum mangle m;
	int want;
} mangles[] = {
	{ "intact", M_NONE, 0 },
	{ "header type", M_HDR_TYPE, -EBADMSG },
	{ "header version", M_HDR_VERSION, -EBADMSG },
	{ "header length", M_HDR_LEN, -EBADMSG },
	{ "first fragment byte", M_NONCE, -EBADMSG },
	{ "middle byte", M_BODY, -EBADMSG },
	{ "tag byte", M_TAG, -EBADMSG },
	{ "truncated by one", M_TRUNCATE, -EBADMSG },
	{ "one byte extra", M_EXTEND, -EBADMSG },
	{ "wrong seq", M_SEQ, -EBADMSG },
	{ "output too small", M_TINY_OUT, -EMSGSIZE },
	{ "header only", M_SHORT, -EBADMSG },
};

START_TEST(test_rc_mangled)
{
	const uint8_t msg[] = "sixteen byte msg and then some";
	uint8_t rec[256], out[256], type;
	size_t rec_len, out_len;
	struct ktls_crypto_info ci;
	uint64_t seq = 0x102;

	for (size_t row = 0; row < ARRAY_SIZE(layouts); row++) {
		make_info(&ci, (int)row);
		rec_len = sizeof(rec);
		ck_assert_int_eq(rc_seal(&ci, seq + 5, KTLS_RECORD_HANDSHAKE, msg, sizeof(msg), 0,
					 rec, &rec_len), 0);
		out_len = sizeof(out);
		switch (mangles[_i].m) {
		case M_NONE: break;
		case M_HDR_TYPE: rec[0] ^= 1; break;
		case M_HDR_VERSION: rec[2] = 1; break;
		case M_HDR_LEN: rec[4] ^= 1; break;
		case M_NONCE: rec[5] ^= 0x80; break;
		case M_BODY: rec[rec_len / 2] ^= 0x01; break;
		case M_TAG: rec[rec_len - 1] ^= 0x40; break;
		case M_TRUNCATE: rec_len--; rec[4]--; break;
		case M_EXTEND: rec[rec_len++] = 0; rec[4]++; break;
		case M_SEQ: seq++; break;
		case M_TINY_OUT: out_len = sizeof(msg) - 1; break;
		case M_SHORT: rec_len = 5; rec[3] = rec[4] = 0; break;
		}
		memset(out, 0xcc, sizeof(out));
		ck_assert_msg(rc_open(&ci, seq + 5, rec, rec_len, &type, out, &out_len) ==
			      mangles[_i].want, "%s, layout %zu", mangles[_i].what, row);
		if (mangles[_i].want == 0) {
			ck_assert_uint_eq(type, KTLS_RECORD_HANDSHAKE);
			ck_assert_uint_eq(out_len, sizeof(msg));
			ck_assert_mem_eq(out, msg, sizeof(msg));
		}
		if (mangles[_i].m == M_SEQ)
			seq--;
	}
}
END_TEST

START_TEST(test_rc_edges)
{
	uint8_t rec[RC_MAX_RECORD + 16], out[RC_MAX_PLAINTEXT + 16], type = 0;
	static uint8_t big[RC_MAX_PLAINTEXT + 1];
	struct ktls_crypto_info ci, bad;
	size_t rec_len, out_len;

	/* TLS 1.3 AES-128-GCM */
	make_info(&ci, 4);

	/* An inner plaintext of nothing but zeros has no content type. */
	rec_len = sizeof(rec);
	ck_assert_int_eq(rc_seal(&ci, 9, 0, NULL, 0, 5, rec, &rec_len), 0);
	out_len = sizeof(out);
	ck_assert_int_eq(rc_open(&ci, 9, rec, rec_len, &type, out, &out_len), -EBADMSG);

	/* Empty application data is legal and opens to zero bytes. */
	rec_len = sizeof(rec);
	ck_assert_int_eq(rc_seal(&ci, 10, KTLS_RECORD_APPLICATION_DATA, NULL, 0, 0, rec, &rec_len), 0);
	ck_assert_uint_eq(rec_len, RC_HEADER_LEN + 1 + RC_TAG_LEN);
	out_len = 0;
	ck_assert_int_eq(rc_open(&ci, 10, rec, rec_len, &type, NULL, &out_len), 0);
	ck_assert_uint_eq(out_len, 0);
	ck_assert_uint_eq(type, KTLS_RECORD_APPLICATION_DATA);

	/* Too much plaintext, too much padding, too little room. */
	rec_len = sizeof(rec);
	ck_assert_int_eq(rc_seal(&ci, 1, 23, big, sizeof(big), 0, rec, &rec_len), -EMSGSIZE);
	rec_len = sizeof(rec);
	ck_assert_int_eq(rc_seal(&ci, 1, 23, big, 10, RC_MAX_PLAINTEXT - 9, rec, &rec_len), -EMSGSIZE);
	rec_len = sizeof(rec);
	ck_assert_int_eq(rc_seal(&ci, 1, 23, big, 10, RC_MAX_PLAINTEXT - 10, rec, &rec_len), 0);
	rec_len = 20;
	ck_assert_int_eq(rc_seal(&ci, 1, 23, big, 10, 0, rec, &rec_len), -EMSGSIZE);

	/* TLS 1.2 has no padding. */
	make_info(&bad, 0);
	rec_len = sizeof(rec);
	ck_assert_int_eq(rc_seal(&bad, 1, 23, big, 10, 1, rec, &rec_len), -EINVAL);

	/* A crypto_info the kernel would refuse is refused here too. */
	bad = ci;
	bad.len--;
	rec_len = sizeof(rec);
	ck_assert_int_eq(rc_seal(&bad, 1, 23, big, 10, 0, rec, &rec_len), -EINVAL);
	bad = ci;
	bad.u.base.version = 0x0302;
	ck_assert_int_eq(rc_seal(&bad, 1, 23, big, 10, 0, rec, &rec_len), -EINVAL);
	bad = ci;
	bad.u.base.cipher_type = 55;
	ck_assert_int_eq(rc_seal(&bad, 1, 23, big, 10, 0, rec, &rec_len), -EINVAL);

	/* Another key does not open it. */
	rec_len = sizeof(rec);
	ck_assert_int_eq(rc_seal(&ci, 3, 23, big, 100, 0, rec, &rec_len), 0);
	bad = ci;
	bad.u.aes_gcm_128.key[0] ^= 1;
	out_len = sizeof(out);
	ck_assert_int_eq(rc_open(&bad, 3, rec, rec_len, &type, out, &out_len), -EBADMSG);
	bad = ci;
	bad.u.aes_gcm_128.salt[3] ^= 1;
	ck_assert_int_eq(rc_open(&bad, 3, rec, rec_len, &type, out, &out_len), -EBADMSG);
}
END_TEST

/* TLS 1.2 AES: the explicit nonce follows the kernel, counting up from ci's iv. */
START_TEST(test_rc_explicit_nonce)
{
	uint8_t rec[128];
	size_t rec_len = sizeof(rec);
	struct ktls_crypto_info ci;

	make_info(&ci, 0);	/* iv = rec_seq = 0x102 */
	ck_assert_int_eq(rc_seal(&ci, 0x102 + 3, 23, (const uint8_t *)"x", 1, 0, rec, &rec_len), 0);
	ck_assert_uint_eq(rec_len, RC_HEADER_LEN + 8 + 1 + RC_TAG_LEN);
	ck_assert_mem_eq(rec + RC_HEADER_LEN, ((const uint8_t[]){ 0, 0, 0, 0, 0, 0, 0x01, 0x05 }), 8);
}
END_TEST

/* ------------------------------------------------------------ the socket side */

START_TEST(test_attach_ulp)
{
	int fds[2];

	tu_tcp_pair(fds);
	if (have_ktls())
		ck_assert_int_eq(ktls_attach_ulp(fds[0]), 0);
	else
		/* This host's kernel is built without CONFIG_TLS (docs/vm-notes.md). */
		ck_assert_int_eq(ktls_attach_ulp(fds[0]), -ENOENT);
	ck_assert_int_eq(ktls_attach_ulp(-1), -EBADF);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(test_set_crypto_rejects)
{
	struct ktls_crypto_info ci;
	int fds[2];

	make_info(&ci, 4);
	tu_tcp_pair(fds);
	ck_assert_int_eq(ktls_set_crypto(fds[0], 0, &ci), -EINVAL);
	ck_assert_int_eq(ktls_set_crypto(fds[0], 3, &ci), -EINVAL);
	ck_assert_int_eq(ktls_set_crypto(fds[0], TLS_TX, NULL), -EINVAL);
	ci.len = 0;
	ck_assert_int_eq(ktls_set_crypto(fds[0], TLS_TX, &ci), -EINVAL);
	ci.len = sizeof(ci.u) + 1;
	ck_assert_int_eq(ktls_set_crypto(fds[0], TLS_RX, &ci), -EINVAL);
	/* Without the ULP, SOL_TLS is not a level TCP knows. */
	make_info(&ci, 4);
	ck_assert_int_eq(ktls_set_crypto(fds[0], TLS_TX, &ci), -ENOPROTOOPT);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

START_TEST(test_install_wipes)
{
	struct ktls_crypto_info tx, rx;
	const char *step = NULL;
	int fds[2], ret;

	tu_tcp_pair(fds);
	make_info(&tx, 4);
	make_info(&rx, 5);
	/* A TX the kernel refuses, so the VM run fails at TLS_TX instead of succeeding. */
	tx.u.base.cipher_type = 9999;
	ret = ktls_install_infos(fds[0], &tx, &rx, &step);
	if (have_ktls()) {
		ck_assert_int_lt(ret, 0);
		ck_assert_str_eq(step, "TLS_TX");
	} else {
		ck_assert_int_eq(ret, -ENOENT);
		ck_assert_str_eq(step, "TCP_ULP");
	}
	ck_assert(all_zero(&tx, sizeof(tx)));
	ck_assert(all_zero(&rx, sizeof(rx)));

	/* A bad descriptor fails first, and still wipes. */
	make_info(&tx, 1);
	make_info(&rx, 2);
	step = NULL;
	ck_assert_int_eq(ktls_install_infos(-1, &tx, &rx, &step), -EBADF);
	ck_assert_str_eq(step, "TCP_ULP");
	ck_assert(all_zero(&tx, sizeof(tx)));
	ck_assert(all_zero(&rx, sizeof(rx)));
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(test_install_session)
{
	const char *step = NULL;
	uint8_t buf[32];
	struct pair p;
	int ret;

	pair_open(&p, &combos[4]);	/* TLS 1.3 AES-128-GCM: what every kTLS kernel has */
	ret = ktls_install(p.fds[0], p.a, &step);
	if (have_ktls()) {
		ck_assert_msg(ret == 0, "ktls_install: %d at %s", ret, step ? step : "?");
		/* The kernel now seals what we write; B's GnuTLS must read it. */
		ck_assert_int_eq(write(p.fds[0], "through the kernel", 18), 18);
		ck_assert_int_eq(gnutls_record_recv(p.b, buf, sizeof(buf)), 18);
		ck_assert_mem_eq(buf, "through the kernel", 18);
	} else {
		ck_assert_int_eq(ret, -ENOENT);
		ck_assert_str_eq(step, "TCP_ULP");
	}
	pair_close(&p);
}
END_TEST

START_TEST(test_record_io_plain)
{
	uint8_t buf[16], type = 0;
	int fds[2];

	/*
	 * On a socket without kTLS no control message arrives: the bytes are
	 * application data.  (The cmsg paths need the kernel; the VM covers them.)
	 */
	tu_tcp_pair(fds);
	ck_assert_int_eq(write(fds[1], "hello", 5), 5);
	ck_assert_int_eq(ktls_recv_record(fds[0], buf, sizeof(buf), 0, &type), 5);
	ck_assert_uint_eq(type, KTLS_RECORD_APPLICATION_DATA);
	ck_assert_mem_eq(buf, "hello", 5);

	type = 0;
	ck_assert_int_eq(ktls_recv_record(fds[0], buf, sizeof(buf), MSG_DONTWAIT, &type), -EAGAIN);
	ck_assert_uint_eq(type, 0);
	ck_assert_int_eq(ktls_recv_record(fds[0], buf, sizeof(buf), 0, NULL), -EINVAL);
	ck_assert_int_eq(ktls_recv_record(-1, buf, sizeof(buf), 0, &type), -EBADF);
	ck_assert_int_eq(ktls_send_record(-1, KTLS_RECORD_ALERT, "\1\0", 2, 0), -EBADF);
	ck_assert_int_eq(ktls_send_record(fds[0], KTLS_RECORD_ALERT, NULL, 2, 0), -EINVAL);

	/* The peer is gone: an error, never SIGPIPE. */
	close(fds[1]);
	ck_assert_int_eq(ktls_recv_record(fds[0], buf, sizeof(buf), 0, &type), 0);
	for (int i = 0; i < 4; i++) {
		ssize_t n = ktls_send_record(fds[0], KTLS_RECORD_ALERT, "\1\0", 2, 0);

		if (n < 0) {
			ck_assert(n == -EPIPE || n == -ECONNRESET);
			break;
		}
		ck_assert_int_eq(n, 2);
		usleep(10000);
	}
	close(fds[0]);
}
END_TEST

static Suite *keys_suite(void)
{
	Suite *s = suite_create("keys");
	TCase *tc;

	tc = tcase_create("gnutls");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_gnutls_roundtrip, 0, ARRAY_SIZE(combos));
	tcase_add_test(tc, test_install_session);
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	tcase_add_loop_test(tc, test_build_layout, 0, ARRAY_SIZE(layouts));
	tcase_add_loop_test(tc, test_build_rejects, 0, ARRAY_SIZE(bad_builds));
	tcase_add_loop_test(tc, test_cipher_from_gnutls, 0, ARRAY_SIZE(cipher_map));
	tcase_add_loop_test(tc, test_version_from_gnutls, 0, ARRAY_SIZE(version_map));
	suite_add_tcase(s, tc);

	tc = tcase_create("recordcrypt");
	tcase_add_loop_test(tc, test_rc_mangled, 0, ARRAY_SIZE(mangles));
	tcase_add_test(tc, test_rc_edges);
	tcase_add_test(tc, test_rc_explicit_nonce);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_add_test(tc, test_attach_ulp);
	tcase_add_test(tc, test_set_crypto_rejects);
	tcase_add_test(tc, test_install_wipes);
	tcase_add_test(tc, test_record_io_plain);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(keys_suite());
}
