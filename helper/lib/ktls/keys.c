/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GnuTLS record state -> the struct the kernel wants for TLS_TX / TLS_RX.
 *
 * The kernel's four crypto_info structs share one shape (iv, key, salt,
 * rec_seq after the common header) but differ in field sizes, so each
 * cipher is described once in a table and filled through offsets.
 *
 * What goes where (Documentation/networking/tls.rst, net/tls/tls_sw.c and
 * GnuTLS lib/cipher.c agree on this):
 *  - TLS 1.2 AES-GCM / AES-CCM (RFC 5288, RFC 6655): the nonce is a 4-byte
 *    implicit part from the key block (the salt) followed by an 8-byte
 *    explicit part sent in each record.  GnuTLS's record state gives only
 *    the 4-byte implicit part as its IV.  The kernel sends its own explicit
 *    parts starting from crypto_info.iv and counting up per record; GnuTLS
 *    uses the record sequence number there, so we give the kernel the
 *    sequence number as iv and the two stay in step.
 *  - TLS 1.3, any AEAD (RFC 8446 5.3): the 12-byte IV is XORed with the
 *    sequence number; the kernel keeps it split as salt (4) + iv (8).
 *  - ChaCha20-Poly1305, both versions (RFC 7905 / RFC 8446): the same XOR
 *    construction; the kernel's struct has no salt and a 12-byte iv.
 */
#include "common.h"

#include <string.h>

#include "ktls/ktls.h"

struct cipher_layout {
	uint16_t type;		/* TLS_CIPHER_* */
	size_t size;		/* sizeof the kernel struct */
	size_t key_len;
	size_t salt_len;
	size_t iv_len;		/* the kernel struct's iv field */
	size_t off_iv, off_key, off_salt, off_seq;
};

#define LAYOUT(ctype, st, pfx)                                         \
	{                                                              \
		.type = (ctype),                                       \
		.size = sizeof(struct st),                             \
		.key_len = pfx##_KEY_SIZE,                             \
		.salt_len = pfx##_SALT_SIZE,                           \
		.iv_len = pfx##_IV_SIZE,                               \
		.off_iv = offsetof(struct st, iv),                     \
		.off_key = offsetof(struct st, key),                   \
		.off_salt = offsetof(struct st, salt),                 \
		.off_seq = offsetof(struct st, rec_seq),               \
	}

static const struct cipher_layout layouts[HANDOFF_CIPHER_COUNT] = {
	[HANDOFF_CIPHER_AES_128_GCM] = LAYOUT(TLS_CIPHER_AES_GCM_128,
		tls12_crypto_info_aes_gcm_128, TLS_CIPHER_AES_GCM_128),
	[HANDOFF_CIPHER_AES_256_GCM] = LAYOUT(TLS_CIPHER_AES_GCM_256,
		tls12_crypto_info_aes_gcm_256, TLS_CIPHER_AES_GCM_256),
	[HANDOFF_CIPHER_CHACHA20_POLY1305] = LAYOUT(TLS_CIPHER_CHACHA20_POLY1305,
		tls12_crypto_info_chacha20_poly1305, TLS_CIPHER_CHACHA20_POLY1305),
	[HANDOFF_CIPHER_AES_128_CCM] = LAYOUT(TLS_CIPHER_AES_CCM_128,
		tls12_crypto_info_aes_ccm_128, TLS_CIPHER_AES_CCM_128),
};

int ktls_cipher_from_gnutls(gnutls_cipher_algorithm_t alg, enum handoff_cipher *out)
{
	enum handoff_cipher c;

	switch (alg) {
	case GNUTLS_CIPHER_AES_128_GCM:
		c = HANDOFF_CIPHER_AES_128_GCM;
		break;
	case GNUTLS_CIPHER_AES_256_GCM:
		c = HANDOFF_CIPHER_AES_256_GCM;
		break;
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		c = HANDOFF_CIPHER_CHACHA20_POLY1305;
		break;
	case GNUTLS_CIPHER_AES_128_CCM:
		c = HANDOFF_CIPHER_AES_128_CCM;
		break;
	default:
		return -EOPNOTSUPP;
	}
	*out = c;
	return 0;
}

int ktls_version_from_gnutls(gnutls_protocol_t proto, enum handoff_tls_version *out)
{
	switch (proto) {
	case GNUTLS_TLS1_2:
		*out = HANDOFF_TLS_1_2;
		return 0;
	case GNUTLS_TLS1_3:
		*out = HANDOFF_TLS_1_3;
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

/* True when the nonce is "IV XOR sequence number" rather than salt || explicit. */
static bool nonce_is_xor(enum handoff_tls_version version, enum handoff_cipher cipher)
{
	return version == HANDOFF_TLS_1_3 || cipher == HANDOFF_CIPHER_CHACHA20_POLY1305;
}

int ktls_crypto_info_build(struct ktls_crypto_info *info,
			   enum handoff_tls_version version, enum handoff_cipher cipher,
			   const uint8_t *key, size_t key_len,
			   const uint8_t *iv, size_t iv_len,
			   const uint8_t seq[8])
{
	const struct cipher_layout *l;
	uint8_t *base;
	size_t want_iv;

	if (!info || !key || !iv || !seq)
		return -EINVAL;
	if ((unsigned)cipher >= HANDOFF_CIPHER_COUNT)
		return -EOPNOTSUPP;
	if (version != HANDOFF_TLS_1_2 && version != HANDOFF_TLS_1_3)
		return -EOPNOTSUPP;

	l = &layouts[cipher];
	/* GnuTLS hands over only the implicit 4 bytes for the TLS 1.2 salt ciphers. */
	want_iv = nonce_is_xor(version, cipher) ? l->salt_len + l->iv_len : l->salt_len;
	if (key_len != l->key_len || iv_len != want_iv)
		return -EINVAL;

	memset(info, 0, sizeof(*info));
	base = (uint8_t *)&info->u;
	info->u.base.version = version == HANDOFF_TLS_1_3 ? TLS_1_3_VERSION : TLS_1_2_VERSION;
	info->u.base.cipher_type = l->type;
	memcpy(base + l->off_key, key, l->key_len);
	memcpy(base + l->off_salt, iv, l->salt_len);
	if (nonce_is_xor(version, cipher))
		memcpy(base + l->off_iv, iv + l->salt_len, l->iv_len);
	else
		memcpy(base + l->off_iv, seq, l->iv_len);
	memcpy(base + l->off_seq, seq, 8);
	info->len = l->size;
	return 0;
}

int ktls_keys_from_session(gnutls_session_t session, int read,
			   struct ktls_crypto_info *info)
{
	enum handoff_tls_version version;
	enum handoff_cipher cipher;
	gnutls_datum_t iv, key;
	uint8_t seq[8];
	int ret;

	ret = ktls_version_from_gnutls(gnutls_protocol_get_version(session), &version);
	if (ret < 0)
		return ret;
	ret = ktls_cipher_from_gnutls(gnutls_cipher_get(session), &cipher);
	if (ret < 0)
		return ret;

	/* iv and key point into the session; they are not ours to wipe or free. */
	ret = gnutls_record_get_state(session, read ? 1 : 0, NULL, &iv, &key, seq);
	if (ret < 0)
		return -EIO;

	return ktls_crypto_info_build(info, version, cipher, key.data, key.size,
				      iv.data, iv.size, seq);
}
