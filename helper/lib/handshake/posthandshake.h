/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Records the kernel hands back after the hand-off: everything that is not
 * application data.  Two paths (core/conn.c chooses, before the handshake):
 *  - lean (the default): the GnuTLS session is gone.  Alerts are parsed
 *    here, TLS 1.2 renegotiation declined here, and TLS 1.3 KeyUpdate
 *    followed from the traffic secrets kept for it (handshake/secrets.c);
 *    a client ignores tickets (it has no cache).
 *  - with the session (a client that stores tickets): TLS 1.3 messages go
 *    to the GnuTLS session that did the handshake, so GnuTLS parses them
 *    and derives the next keys; the kernel's keys follow.
 * TLS 1.2 handshake messages (renegotiation) are declined here on both,
 * also those the user-space transport holds back from GnuTLS
 * (transport_hold_tls12()).
 */
#ifndef HANDOFF_HANDSHAKE_POSTHANDSHAKE_H
#define HANDOFF_HANDSHAKE_POSTHANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "core/conn.h"

/*
 * posthandshake_hook - the GnuTLS handshake hook (GNUTLS_HOOK_POST, any
 * message) that fills h->seen while h->seen.active is set.
 */
int posthandshake_hook(gnutls_session_t session, unsigned int htype, unsigned when,
		       unsigned int incoming, const gnutls_datum_t *msg);

/* The session path: prepare h->session to take post-handshake messages; once, after install. */
int posthandshake_begin(struct handoff *h);

/*
 * posthandshake_record - handle one non-data record (type, plaintext); a
 * zero-length application data record is accepted too, as nothing.
 * Returns 0 if handled (keep reading), 1 on close_notify (EOF), or -1 with
 * the connection failed and the reason on h (fatal alert, unexpected
 * message, re-key impossible on this kernel).
 */
int posthandshake_record(struct handoff *h, uint8_t type, const uint8_t *data, size_t len);

/*
 * posthandshake_open_tls12 - authenticate and decrypt one whole TLS 1.2
 * record (header included) with session's current read key and sequence
 * number, then move that number on, as GnuTLS would have.  For the
 * handshake records the user-space transport keeps from GnuTLS
 * (transport_hold_tls12()).  On entry *out_len is the capacity of out, on
 * success the plaintext length.  0, or -EBADMSG (forged or corrupted),
 * -EMSGSIZE (out too small), -EOPNOTSUPP (not an AEAD we negotiate),
 * -EINVAL (not one record), -EIO (GnuTLS refused).
 */
int posthandshake_open_tls12(gnutls_session_t session, const uint8_t *rec, size_t rec_len,
			     uint8_t *out, size_t *out_len);

#endif
