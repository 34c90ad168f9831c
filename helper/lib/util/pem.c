/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The private key block of a PEM text, decoded without a stray copy (see
 * pem.h).  Base64 is nettle's, which skips the line breaks in place.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>

#include "util/pem.h"
#include "util/wipe.h"

static const char begin[] = "-----BEGIN ";
static const char dashes[] = "-----";

/* find: the first occurrence of s in [p, end), or NULL. */
static const uint8_t *find(const uint8_t *p, const uint8_t *end, const char *s)
{
	return p < end ? memmem(p, (size_t)(end - p), s, strlen(s)) : NULL;
}

static bool is_key_label(const uint8_t *label, size_t n)
{
	static const char *const ok[] = { "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (n == strlen(ok[i]) && !memcmp(label, ok[i], n))
			return true;
	return false;
}

int pem_private_key(const uint8_t *text, size_t len, uint8_t **der, size_t *der_len,
		    const char **why)
{
	const uint8_t *end = text + len, *p = text, *label, *label_end, *body, *stop;
	struct base64_decode_ctx ctx;
	char end_marker[64];
	size_t n, out_len;

	*der = NULL;
	*der_len = 0;
	for (;;) {
		p = find(p, end, begin);
		if (!p) {
			*why = "no PEM private key block in it";
			return -1;
		}
		label = p + strlen(begin);
		label_end = find(label, end, dashes);
		if (!label_end) {
			*why = "a PEM block without the end of its BEGIN line";
			return -1;
		}
		n = (size_t)(label_end - label);
		if (n == strlen("ENCRYPTED PRIVATE KEY") && !memcmp(label, "ENCRYPTED PRIVATE KEY", n)) {
			*why = "the key is encrypted (ENCRYPTED PRIVATE KEY): give it unencrypted";
			return -1;
		}
		if (is_key_label(label, n))
			break;
		p = label_end;
	}
	if (n + strlen("-----END -----") + 1 > sizeof(end_marker)) {
		*why = "a PEM label too long";
		return -1;
	}
	memcpy(end_marker, "-----END ", 9);
	memcpy(end_marker + 9, label, n);
	memcpy(end_marker + 9 + n, dashes, sizeof(dashes));
	body = label_end + strlen(dashes);
	stop = find(body, end, end_marker);
	if (!stop) {
		*why = "the key's PEM block has no END line";
		return -1;
	}
	/* OpenSSL's legacy encryption puts headers in the block. */
	if (find(body, stop, "Proc-Type:") || find(body, stop, "DEK-Info:")) {
		*why = "the key is encrypted (Proc-Type/DEK-Info headers): give it unencrypted";
		return -1;
	}
	n = (size_t)(stop - body);
	*der = malloc(BASE64_DECODE_LENGTH(n) + 1);
	if (!*der) {
		*why = "out of memory";
		return -1;
	}
	out_len = BASE64_DECODE_LENGTH(n) + 1;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &out_len, *der, n, (const char *)body) ||
	    !base64_decode_final(&ctx) || out_len == 0) {
		wipe_free(*der, BASE64_DECODE_LENGTH(n) + 1);
		*der = NULL;
		wipe(&ctx, sizeof(ctx));
		*why = "the key's PEM block is not valid base64";
		return -1;
	}
	wipe(&ctx, sizeof(ctx));
	*der_len = out_len;
	return 0;
}
