/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <gnutls/crypto.h>
#include <string.h>

#include "handshake/secrets.h"
#include "util/wipe.h"

#define IV_LEN 12

/* GnuTLS calls this as it installs each pair of secrets; read or write may come alone. */
static int on_secret(gnutls_session_t session, gnutls_record_encryption_level_t level,
		     const void *secret_read, const void *secret_write, size_t secret_size)
{
	struct handoff *h = gnutls_session_get_ptr(session);

	if (level != GNUTLS_ENCRYPTION_LEVEL_APPLICATION)
		return 0;
	/* SHA-256 or SHA-384: anything else is not a suite we negotiate; the session path stays. */
	if (secret_size != 32 && secret_size != 48)
		return 0;
	if (h->secret_have && h->secret_len != secret_size)
		return 0;
	h->secret_len = (uint8_t)secret_size;
	if (secret_write) {
		memcpy(h->secret[0], secret_write, secret_size);
		h->secret_have |= 1;
	}
	if (secret_read) {
		memcpy(h->secret[1], secret_read, secret_size);
		h->secret_have |= 2;
	}
	return 0;
}

void secrets_capture(struct handoff *h)
{
	gnutls_handshake_set_secret_function(h->session, on_secret);
}

bool secrets_have(const struct handoff *h)
{
	return h->secret_have == 3;
}

/* RFC 8446 7.1: HKDF-Expand-Label(secret, label, "", len) with the suite's hash. */
static int expand_label(const struct handoff *h, const uint8_t *secret, const char *label,
			uint8_t *out, size_t len)
{
	uint8_t info[2 + 1 + 6 + 16 + 1];
	size_t llen = strlen(label), n = 0;
	gnutls_datum_t key = { (unsigned char *)secret, h->secret_len };
	gnutls_datum_t inf;
	int ret;

	if (llen > 16)
		return -EINVAL;
	info[n++] = (uint8_t)(len >> 8);
	info[n++] = (uint8_t)len;
	info[n++] = (uint8_t)(6 + llen);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, llen);
	n += llen;
	info[n++] = 0;	/* empty context */
	inf.data = info;
	inf.size = (unsigned)n;
	ret = gnutls_hkdf_expand(h->secret_len == 48 ? GNUTLS_MAC_SHA384 : GNUTLS_MAC_SHA256, &key,
				 &inf, out, len);
	return ret < 0 ? -EIO : 0;
}

static size_t key_len(enum handoff_cipher c)
{
	return c == HANDOFF_CIPHER_AES_256_GCM || c == HANDOFF_CIPHER_CHACHA20_POLY1305 ? 32 : 16;
}

int secrets_crypto_info(const struct handoff *h, int read, struct ktls_crypto_info *ci)
{
	static const uint8_t seq0[8];
	uint8_t key[32], iv[IV_LEN];
	size_t klen = key_len(h->cipher);
	int ret;

	if (!secrets_have(h) || h->version != HANDOFF_TLS_1_3)
		return -ENOKEY;
	ret = expand_label(h, h->secret[read ? 1 : 0], "key", key, klen);
	if (ret == 0)
		ret = expand_label(h, h->secret[read ? 1 : 0], "iv", iv, sizeof(iv));
	if (ret == 0)
		ret = ktls_crypto_info_build(ci, HANDOFF_TLS_1_3, h->cipher, key, klen, iv,
					     sizeof(iv), seq0);
	wipe(key, sizeof(key));
	wipe(iv, sizeof(iv));
	return ret;
}

int secrets_advance(struct handoff *h, int read)
{
	uint8_t next[48];
	uint8_t *cur = h->secret[read ? 1 : 0];
	int ret;

	if (!secrets_have(h))
		return -ENOKEY;
	ret = expand_label(h, cur, "traffic upd", next, h->secret_len);
	if (ret == 0)
		memcpy(cur, next, h->secret_len);
	wipe(next, sizeof(next));
	return ret;
}

void secrets_set(struct handoff *h, const uint8_t *write_secret, const uint8_t *read_secret,
		 size_t len)
{
	memcpy(h->secret[0], write_secret, len);
	memcpy(h->secret[1], read_secret, len);
	h->secret_len = (uint8_t)len;
	h->secret_have = 3;
}

int secrets_get(const struct handoff *h, uint8_t *write_secret, uint8_t *read_secret)
{
	if (!secrets_have(h))
		return -ENOKEY;
	memcpy(write_secret, h->secret[0], h->secret_len);
	memcpy(read_secret, h->secret[1], h->secret_len);
	return h->secret_len;
}

void secrets_wipe(struct handoff *h)
{
	wipe(h->secret, sizeof(h->secret));
	h->secret_have = 0;
}

void secrets_stop(struct handoff *h)
{
	/* GnuTLS would hand over the next secrets at each KeyUpdate it runs itself. */
	if (h->session)
		gnutls_handshake_set_secret_function(h->session, NULL);
	secrets_wipe(h);
}
