/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef HANDOFF_HANDSHAKE_VERIFY_H
#define HANDOFF_HANDSHAKE_VERIFY_H

#include "core/conn.h"

/* Apply the peer-verification policy of h->cfg to h->session. 0 or -1. */
int verify_setup(struct handoff *h);

/*
 * After a failed handshake: if certificate verification was the cause,
 * describe it (untrusted, expired, not yet valid, revoked, wrong name ...)
 * on h and return 1; otherwise 0.
 */
int verify_explain(struct handoff *h, int gnutls_err);

#endif
