/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Records the kernel hands back after the hand-off: everything that is not
 * application data.  Alerts, TLS 1.3 NewSessionTicket and KeyUpdate are
 * fed to the GnuTLS session that did the handshake (kept alive for this),
 * so GnuTLS stays the only TLS state machine; the kernel's keys follow.
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

/* Prepare h->session to take post-handshake messages; call once after install. */
int posthandshake_begin(struct handoff *h);

/*
 * posthandshake_record - handle one non-data record (type, plaintext).
 * Returns 0 if handled (keep reading), 1 on close_notify (EOF), or -1 with
 * the connection failed and the reason on h (fatal alert, unexpected
 * message, re-key impossible on this kernel).
 */
int posthandshake_record(struct handoff *h, uint8_t type, const uint8_t *data, size_t len);

#endif
