/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hd_psk_hash() / hd_psk_usable() (handoffd, helper/daemon/psk.c): the
 * hash a PSK binds with, from its identity and key length.  On the
 * target's side the identity is the one a client put in its ClientHello.
 *
 * Input: one byte, the key length; then the identity's bytes (cut at the
 * first NUL, as the keyring and GnuTLS hand it over).
 *
 * Invariants: the answer is the one the rule in psk.h gives, as written
 * again below without looking at psk.c: an identity "NVMe" digit [RG]
 * digit digit space names the hash (01 SHA-256 with 32 bytes, 02 SHA-384
 * with 48 bytes, anything else refused); other identities go by length
 * (48 SHA-384, else SHA-256); an empty key is refused.  hd_psk_usable()
 * is 0 exactly for SHA-256, -EOPNOTSUPP for SHA-384, the same refusal
 * otherwise; every refusal gives a terminated, non-empty reason.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "daemon/psk.h"
#include "fuzz.h"

static int model(const char *id, size_t len)
{
	if (len == 0)
		return -EKEYREJECTED;
	if (strlen(id) >= 9 && memcmp(id, "NVMe", 4) == 0 && id[4] >= '0' && id[4] <= '9' &&
	    (id[5] == 'R' || id[5] == 'G') && id[6] >= '0' && id[6] <= '9' && id[7] >= '0' &&
	    id[7] <= '9' && id[8] == ' ') {
		if (id[6] == '0' && id[7] == '1')
			return len == 32 ? HD_PSK_SHA256 : -EKEYREJECTED;
		if (id[6] == '0' && id[7] == '2')
			return len == 48 ? HD_PSK_SHA384 : -EKEYREJECTED;
		return -EKEYREJECTED;
	}
	return len == 48 ? HD_PSK_SHA384 : HD_PSK_SHA256;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[300], why[200];
	size_t len, n;
	int hash, usable, want;

	if (size < 1)
		return 0;
	len = data[0];
	n = size - 1 < sizeof(id) - 1 ? size - 1 : sizeof(id) - 1;
	memcpy(id, data + 1, n);
	id[n] = '\0';

	want = model(id, len);
	memset(why, 'x', sizeof(why));
	hash = hd_psk_hash(id, len, why, sizeof(why));
	FUZZ_CHECK(hash == want);
	if (hash < 0)
		FUZZ_CHECK(memchr(why, 0, sizeof(why)) && why[0]);

	memset(why, 'x', sizeof(why));
	usable = hd_psk_usable(id, len, why, sizeof(why));
	if (want == HD_PSK_SHA256)
		FUZZ_CHECK(usable == 0);
	else if (want == HD_PSK_SHA384)
		FUZZ_CHECK(usable == -EOPNOTSUPP && strstr(why, "SHA-384"));
	else
		FUZZ_CHECK(usable == want);
	if (usable < 0)
		FUZZ_CHECK(memchr(why, 0, sizeof(why)) && why[0]);
	return 0;
}
