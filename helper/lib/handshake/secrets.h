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

/* Forget both secrets (zeros); safe to call more than once. */
void secrets_wipe(struct handoff *h);

/* The session stays (no lean state): forget the secrets and take no more from it. */
void secrets_stop(struct handoff *h);

#endif
