/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test-only TLS record protection driven by a kernel crypto_info.
 *
 * The nonce, from the RFCs:
 *  - TLS 1.2 AES-GCM (RFC 5288 3) and AES-CCM (RFC 6655 3): 4-byte salt
 *    from the key block || 8-byte explicit nonce carried at the front of
 *    the record's fragment.
 *  - TLS 1.2 ChaCha20-Poly1305 (RFC 7905 2) and every TLS 1.3 AEAD
 *    (RFC 8446 5.3): the 12-byte IV XOR the sequence number, left-padded
 *    with zeros to 12 bytes; nothing explicit in the record.
 * The additional data:
 *  - TLS 1.2 (RFC 5246 6.2.3.3): seq (8) || type || version (2) ||
 *    plaintext length (2).
 *  - TLS 1.3 (RFC 8446 5.2): the record header itself, whose length
 *    field already counts the tag.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <nettle/ccm.h>
#include <nettle/chacha-poly1305.h>
#include <nettle/gcm.h>
#include <nettle/memops.h>

#include "recordcrypt.h"

/* The pieces of a crypto_info, whichever struct it is. */
struct rc_params {
	bool tls13;
	uint16_t cipher;
	const uint8_t *key;
	uint8_t base[12];	/* salt || iv: the XOR base, or salt || first explicit nonce */
	size_t salt_len;
	uint64_t rec_seq;
	bool xor_nonce;
};

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

#define TAKE(st, pfx)                                                   \
	do {                                                            \
		const struct st *s_ = (const struct st *)&ci->u;        \
		if (ci->len != sizeof(*s_))                             \
			return -EINVAL;                                 \
		p->key = s_->key;                                       \
		memcpy(p->base, s_->salt, pfx##_SALT_SIZE);             \
		memcpy(p->base + pfx##_SALT_SIZE, s_->iv, pfx##_IV_SIZE); \
		p->salt_len = pfx##_SALT_SIZE;                          \
		p->rec_seq = get_be64(s_->rec_seq);                     \
	} while (0)

static int params_from_info(const struct ktls_crypto_info *ci, struct rc_params *p)
{
	if (!ci)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	switch (ci->u.base.version) {
	case TLS_1_2_VERSION:
		break;
	case TLS_1_3_VERSION:
		p->tls13 = true;
		break;
	default:
		return -EINVAL;
	}
	p->cipher = ci->u.base.cipher_type;
	switch (p->cipher) {
	case TLS_CIPHER_AES_GCM_128:
		TAKE(tls12_crypto_info_aes_gcm_128, TLS_CIPHER_AES_GCM_128);
		break;
	case TLS_CIPHER_AES_GCM_256:
		TAKE(tls12_crypto_info_aes_gcm_256, TLS_CIPHER_AES_GCM_256);
		break;
	case TLS_CIPHER_AES_CCM_128:
		TAKE(tls12_crypto_info_aes_ccm_128, TLS_CIPHER_AES_CCM_128);
		break;
	case TLS_CIPHER_CHACHA20_POLY1305:
		TAKE(tls12_crypto_info_chacha20_poly1305, TLS_CIPHER_CHACHA20_POLY1305);
		break;
	default:
		return -EINVAL;
	}
	p->xor_nonce = p->tls13 || p->cipher == TLS_CIPHER_CHACHA20_POLY1305;
	return 0;
}

/* The XOR construction: base XOR (0000 || seq). */
static void xor_nonce(const struct rc_params *p, uint64_t seq, uint8_t nonce[12])
{
	uint8_t s[8];

	memcpy(nonce, p->base, 12);
	put_be64(s, seq);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= s[i];
}

/*
 * One AEAD operation.  encrypt: out = E(in), the tag written to tag_out.
 * decrypt: out = D(in), -EBADMSG unless the tag equals tag_in.
 */
static int aead(const struct rc_params *p, bool encrypt, const uint8_t nonce[12],
		const uint8_t *aad, size_t aad_len,
		const uint8_t *in, size_t len, uint8_t *out,
		const uint8_t *tag_in, uint8_t *tag_out)
{
	uint8_t digest[RC_TAG_LEN];

	switch (p->cipher) {
	case TLS_CIPHER_AES_GCM_128: {
		struct gcm_aes128_ctx c;

		gcm_aes128_set_key(&c, p->key);
		gcm_aes128_set_iv(&c, 12, nonce);
		gcm_aes128_update(&c, aad_len, aad);
		if (encrypt)
			gcm_aes128_encrypt(&c, len, out, in);
		else
			gcm_aes128_decrypt(&c, len, out, in);
		gcm_aes128_digest(&c, RC_TAG_LEN, digest);
		break;
	}
	case TLS_CIPHER_AES_GCM_256: {
		struct gcm_aes256_ctx c;

		gcm_aes256_set_key(&c, p->key);
		gcm_aes256_set_iv(&c, 12, nonce);
		gcm_aes256_update(&c, aad_len, aad);
		if (encrypt)
			gcm_aes256_encrypt(&c, len, out, in);
		else
			gcm_aes256_decrypt(&c, len, out, in);
		gcm_aes256_digest(&c, RC_TAG_LEN, digest);
		break;
	}
	case TLS_CIPHER_AES_CCM_128: {
		struct ccm_aes128_ctx c;

		/* CCM commits to every length up front (RFC 3610 2.2). */
		ccm_aes128_set_key(&c, p->key);
		ccm_aes128_set_nonce(&c, 12, nonce, aad_len, len, RC_TAG_LEN);
		ccm_aes128_update(&c, aad_len, aad);
		if (encrypt)
			ccm_aes128_encrypt(&c, len, out, in);
		else
			ccm_aes128_decrypt(&c, len, out, in);
		ccm_aes128_digest(&c, RC_TAG_LEN, digest);
		break;
	}
	case TLS_CIPHER_CHACHA20_POLY1305: {
		struct chacha_poly1305_ctx c;

		chacha_poly1305_set_key(&c, p->key);
		chacha_poly1305_set_nonce(&c, nonce);
		chacha_poly1305_update(&c, aad_len, aad);
		if (encrypt)
			chacha_poly1305_encrypt(&c, len, out, in);
		else
			chacha_poly1305_decrypt(&c, len, out, in);
		chacha_poly1305_digest(&c, RC_TAG_LEN, digest);
		break;
	}
	default:
		return -EINVAL;
	}

	if (encrypt) {
		memcpy(tag_out, digest, RC_TAG_LEN);
		return 0;
	}
	if (!memeql_sec(digest, tag_in, RC_TAG_LEN)) {
		/* Never hand out plaintext that did not authenticate. */
		memset(out, 0, len);
		return -EBADMSG;
	}
	return 0;
}

static void tls12_aad(uint8_t aad[13], uint64_t seq, uint8_t type, size_t len)
{
	put_be64(aad, seq);
	aad[8] = type;
	aad[9] = 3;
	aad[10] = 3;
	aad[11] = (uint8_t)(len >> 8);
	aad[12] = (uint8_t)len;
}

static int open12(const struct rc_params *p, uint64_t seq, const uint8_t *record,
		  size_t record_len, uint8_t *type, uint8_t *out, size_t *out_len)
{
	size_t explicit_len = p->xor_nonce ? 0 : 8;
	const uint8_t *frag = record + RC_HEADER_LEN;
	size_t frag_len = record_len - RC_HEADER_LEN;
	uint8_t nonce[12], aad[13];
	size_t len;
	int ret;

	if (frag_len > RC_MAX_PLAINTEXT + 2048 || frag_len < explicit_len + RC_TAG_LEN)
		return -EBADMSG;
	len = frag_len - explicit_len - RC_TAG_LEN;
	if (len > RC_MAX_PLAINTEXT)
		return -EBADMSG;
	if (len > *out_len)
		return -EMSGSIZE;

	if (p->xor_nonce) {
		xor_nonce(p, seq, nonce);
	} else {
		memcpy(nonce, p->base, 4);
		memcpy(nonce + 4, frag, 8);
	}
	tls12_aad(aad, seq, record[0], len);
	ret = aead(p, false, nonce, aad, sizeof(aad), frag + explicit_len, len, out,
		   frag + explicit_len + len, NULL);
	if (ret < 0)
		return ret;
	*type = record[0];
	*out_len = len;
	return 0;
}

static int open13(const struct rc_params *p, uint64_t seq, const uint8_t *record,
		  size_t record_len, uint8_t *type, uint8_t *out, size_t *out_len)
{
	const uint8_t *frag = record + RC_HEADER_LEN;
	size_t frag_len = record_len - RC_HEADER_LEN;
	uint8_t nonce[12], inner[RC_MAX_PLAINTEXT + 256];
	size_t len;
	int ret;

	/* Protected records always claim to be application data (RFC 8446 5.2). */
	if (record[0] != KTLS_RECORD_APPLICATION_DATA)
		return -EBADMSG;
	if (frag_len > RC_MAX_PLAINTEXT + 256 || frag_len < RC_TAG_LEN + 1)
		return -EBADMSG;
	len = frag_len - RC_TAG_LEN;

	xor_nonce(p, seq, nonce);
	ret = aead(p, false, nonce, record, RC_HEADER_LEN, frag, len, inner,
		   frag + len, NULL);
	if (ret < 0)
		return ret;
	if (len > RC_MAX_PLAINTEXT + 1)
		return -EBADMSG;

	/* The content type is the last non-zero byte; zeros after it are padding. */
	while (len > 0 && inner[len - 1] == 0)
		len--;
	if (len == 0)
		return -EBADMSG;
	len--;
	if (len > *out_len) {
		memset(inner, 0, sizeof(inner));
		return -EMSGSIZE;
	}
	*type = inner[len];
	if (len)
		memcpy(out, inner, len);
	*out_len = len;
	memset(inner, 0, sizeof(inner));
	return 0;
}

int rc_open(const struct ktls_crypto_info *ci, uint64_t seq,
	    const uint8_t *record, size_t record_len,
	    uint8_t *type, uint8_t *out, size_t *out_len)
{
	struct rc_params p;
	int ret;

	ret = params_from_info(ci, &p);
	if (ret < 0)
		return ret;
	if (!record || !type || !out_len || (!out && *out_len))
		return -EINVAL;
	if (record_len < RC_HEADER_LEN)
		return -EBADMSG;
	if (record[1] != 3 || record[2] != 3)
		return -EBADMSG;
	if (((size_t)record[3] << 8 | record[4]) != record_len - RC_HEADER_LEN)
		return -EBADMSG;

	if (p.tls13)
		return open13(&p, seq, record, record_len, type, out, out_len);
	return open12(&p, seq, record, record_len, type, out, out_len);
}

static void put_header(uint8_t *record, uint8_t type, size_t frag_len)
{
	record[0] = type;
	record[1] = 3;
	record[2] = 3;
	record[3] = (uint8_t)(frag_len >> 8);
	record[4] = (uint8_t)frag_len;
}

int rc_seal(const struct ktls_crypto_info *ci, uint64_t seq, uint8_t type,
	    const uint8_t *in, size_t in_len, size_t pad,
	    uint8_t *record, size_t *record_len)
{
	uint8_t nonce[12], aad[13];
	struct rc_params p;
	size_t frag_len, len;
	uint8_t *body;
	int ret;

	ret = params_from_info(ci, &p);
	if (ret < 0)
		return ret;
	if (!record || !record_len || (!in && in_len))
		return -EINVAL;
	if (in_len > RC_MAX_PLAINTEXT)
		return -EMSGSIZE;

	if (p.tls13) {
		/* RFC 8446 5.4: TLSInnerPlaintext may not exceed 2^14 + 1 bytes. */
		if (pad > RC_MAX_PLAINTEXT + 1 - in_len - 1)
			return -EMSGSIZE;
		len = in_len + 1 + pad;
		frag_len = len + RC_TAG_LEN;
		if (*record_len < RC_HEADER_LEN + frag_len)
			return -EMSGSIZE;
		body = record + RC_HEADER_LEN;
		if (in_len)
			memmove(body, in, in_len);
		body[in_len] = type;
		memset(body + in_len + 1, 0, pad);
		put_header(record, KTLS_RECORD_APPLICATION_DATA, frag_len);
		xor_nonce(&p, seq, nonce);
		ret = aead(&p, true, nonce, record, RC_HEADER_LEN, body, len, body,
			   NULL, body + len);
	} else {
		size_t explicit_len = p.xor_nonce ? 0 : 8;

		if (pad)
			return -EINVAL;
		frag_len = explicit_len + in_len + RC_TAG_LEN;
		if (*record_len < RC_HEADER_LEN + frag_len)
			return -EMSGSIZE;
		body = record + RC_HEADER_LEN + explicit_len;
		put_header(record, type, frag_len);
		if (p.xor_nonce) {
			xor_nonce(&p, seq, nonce);
		} else {
			/* The kernel counts its explicit nonces up from ci's iv, one per record. */
			memcpy(nonce, p.base, 4);
			put_be64(nonce + 4, get_be64(p.base + 4) + (seq - p.rec_seq));
			memcpy(record + RC_HEADER_LEN, nonce + 4, 8);
		}
		tls12_aad(aad, seq, type, in_len);
		if (in_len)
			memmove(body, in, in_len);
		ret = aead(&p, true, nonce, aad, sizeof(aad), body, in_len, body,
			   NULL, body + in_len);
	}
	if (ret < 0)
		return ret;
	*record_len = RC_HEADER_LEN + frag_len;
	return 0;
}

static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

ssize_t rc_read_record(int fd, uint8_t *buf, size_t cap)
{
	size_t frag_len;
	ssize_t n;

	if (cap < RC_HEADER_LEN)
		return -EMSGSIZE;
	n = read_full(fd, buf, RC_HEADER_LEN);
	if (n <= 0)
		return n;
	if (n < RC_HEADER_LEN)
		return -EPIPE;
	frag_len = (size_t)buf[3] << 8 | buf[4];
	if (frag_len > cap - RC_HEADER_LEN)
		return -EMSGSIZE;
	n = read_full(fd, buf + RC_HEADER_LEN, frag_len);
	if (n < 0)
		return n;
	if ((size_t)n < frag_len)
		return -EPIPE;
	return (ssize_t)(RC_HEADER_LEN + frag_len);
}

int rc_write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}
