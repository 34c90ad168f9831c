/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <ctype.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>

#include "daemon/psk.h"

#define SHA256_LEN 32
#define SHA384_LEN 48

/* "NVMe" version [RG] two-digit hash, then a space: 0 and the field, or -1 if not that form. */
static int nvme_hash_field(const char *identity, int *field)
{
	const char *p = identity;

	if (strncmp(p, "NVMe", 4) != 0)
		return -1;
	p += 4;
	if (!isdigit((unsigned char)p[0]) || (p[1] != 'R' && p[1] != 'G') ||
	    !isdigit((unsigned char)p[2]) || !isdigit((unsigned char)p[3]) || p[4] != ' ')
		return -1;
	*field = (p[2] - '0') * 10 + (p[3] - '0');
	return 0;
}

int hd_psk_hash(const char *identity, size_t key_len, char *why, size_t why_size)
{
	int field;

	if (key_len == 0) {
		snprintf(why, why_size, "the key is empty");
		return -EKEYREJECTED;
	}
	if (identity && nvme_hash_field(identity, &field) == 0) {
		size_t want = field == 1 ? SHA256_LEN : field == 2 ? SHA384_LEN : 0;

		if (!want) {
			snprintf(why, why_size, "NVMe identity with hash field %02d (01 is SHA-256, 02 SHA-384)",
				 field);
			return -EKEYREJECTED;
		}
		if (key_len != want) {
			snprintf(why, why_size, "NVMe identity says %s (%zu-byte key), but the key has %zu bytes",
				 field == 1 ? "SHA-256" : "SHA-384", want, key_len);
			return -EKEYREJECTED;
		}
		return field == 1 ? HD_PSK_SHA256 : HD_PSK_SHA384;
	}
	return key_len == SHA384_LEN ? HD_PSK_SHA384 : HD_PSK_SHA256;
}

int hd_psk_usable(const char *identity, size_t key_len, char *why, size_t why_size)
{
	int hash = hd_psk_hash(identity, key_len, why, why_size);
	int field;

	if (hash < 0)
		return hash;
	if (hash == HD_PSK_SHA384) {
		/*
		 * GnuTLS 3.7 gives every external PSK a SHA-256 binder and then
		 * no SHA-384 suite can carry it (measured: gnutls-cli against
		 * gnutls-serv, AES-256-GCM only, "No supported cipher suites").
		 */
		snprintf(why, why_size,
			 "a SHA-384 PSK (%zu-byte key%s), but GnuTLS %s binds external PSKs with "
			 "SHA-256 only (a chosen hash needs GnuTLS 3.8.1): refused, not bound with the wrong hash",
			 key_len, identity && nvme_hash_field(identity, &field) == 0 ? ", NVMe hash 02" : "",
			 gnutls_check_version(NULL));
		return -EOPNOTSUPP;
	}
	return 0;
}
