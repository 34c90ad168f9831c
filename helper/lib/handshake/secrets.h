/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TLS 1.3 traffic secrets after the hand-off, for a connection that keeps
 * no GnuTLS session (the lean post-hand-off state, handshake/posthandshake.c).
 *
 * The kernel has the keys, but a peer's KeyUpdate (RFC 8446 4.6.3) needs
 * the next ones, and those come from the current application traffic
 * secret (RFC 8446 7.2):
 *   secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length)
 *   key = HKDF-Expand-Label(secret, "key", "", key_length)
 *   iv  = HKDF-Expand-Label(secret, "iv", "", 12)
 * GnuTLS hands the secrets out once, when it installs them during the
 * handshake (gnutls_handshake_set_secret_function); we keep only the
 * application ones, and wipe them when the connection no longer needs them.
 */
#ifndef HANDOFF_HANDSHAKE_SECRETS_H
#define HANDOFF_HANDSHAKE_SECRETS_H

#include "core/conn.h"
#include "ktls/ktls.h"

/* Ask h->session for its application traffic secrets as the handshake installs them. */
void secrets_capture(struct handoff *h);

/* Whether both application traffic secrets arrived (TLS 1.3 only). */
bool secrets_have(const struct handoff *h);

/*
 * secrets_crypto_info - the kernel's crypto info for one direction (read=1:
 * the peer's, read=0: ours) from the current secret, record number 0: the
 * state right after a KeyUpdate.  The caller wipes *ci.  0 or -errno.
 */
int secrets_crypto_info(const struct handoff *h, int read, struct ktls_crypto_info *ci);

/* secrets_advance - one direction moves to its next secret (a KeyUpdate); 0 or -errno. */
int secrets_advance(struct handoff *h, int read);

/*
 * secrets_set - a connection whose handshake ran elsewhere starts from the
 * two secrets given (len 32 or 48), copied in; secrets_get - copies both
 * out (the caller wipes them) and returns their length, or -ENOKEY when
 * the connection keeps none.  Ours is the write secret, the peer's the read.
 */
void secrets_set(struct handoff *h, const uint8_t *write_secret, const uint8_t *read_secret,
		 size_t len);
int secrets_get(const struct handoff *h, uint8_t *write_secret, uint8_t *read_secret);

/* Forget both secrets (zeros); safe to call more than once. */
void secrets_wipe(struct handoff *h);

/* The session stays (no lean state): forget the secrets and take no more from it. */
void secrets_stop(struct handoff *h);

#endif
