/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which hash a kernel consumer's PSK binds with, and whether this build
 * can bind with it.  TLS 1.3 ties every external PSK to one hash (RFC 8446
 * 4.2.11); NVMe names it in the identity ("NVMe0R01 ..." SHA-256,
 * "NVMe0R02 ..." SHA-384, NVMe/TCP 3.6.1.3) and sizes the key to match
 * (32 or 48 bytes).  A PSK bound with the wrong hash would still complete
 * a handshake against another GnuTLS 3.7 peer: that must never happen
 * silently, so a PSK we cannot bind correctly is refused by name.
 */
#ifndef HANDOFFD_PSK_H
#define HANDOFFD_PSK_H

#include <stddef.h>

enum hd_psk_hash {
	HD_PSK_SHA256 = 1,
	HD_PSK_SHA384 = 2,
};

/*
 * hd_psk_hash - the hash of the PSK with this identity and key length:
 * from an NVMe identity's hash field, which the length must match; for
 * other identities from the length (48 bytes SHA-384, else SHA-256).
 * Returns HD_PSK_SHA256 or HD_PSK_SHA384, or -EKEYREJECTED with the
 * reason in why (an empty key, an NVMe hash field we do not know, a
 * length that contradicts the identity).
 */
int hd_psk_hash(const char *identity, size_t key_len, char *why, size_t why_size);

/*
 * hd_psk_usable - 0 when this build binds the PSK with its own hash;
 * -EKEYREJECTED as hd_psk_hash, or -EOPNOTSUPP for a SHA-384 PSK: Debian
 * 12's GnuTLS (3.7.9) binds every external PSK with SHA-256 (choosing the
 * hash, gnutls_psk_allocate_client_credentials2, came in GnuTLS 3.8.1).
 * why says which, in words.
 */
int hd_psk_usable(const char *identity, size_t key_len, char *why, size_t why_size);

#endif
