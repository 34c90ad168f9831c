/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one handshake engine.  Every front door (the library API, handoffd
 * after a netlink ACCEPT, the preload shim) hands a connected fd and a
 * config to these functions; policy arrives as configuration only.
 */
#ifndef HANDOFF_HANDSHAKE_ENGINE_H
#define HANDOFF_HANDSHAKE_ENGINE_H

#include "core/conn.h"

/* The GnuTLS priority string for h (its config and kernel) into buf.  0 or -1 (reason on h). */
int engine_priority(struct handoff *h, char *buf, size_t len);

/* Create and configure h->session from h->cfg.  0 or -1 (reason on h). */
int engine_setup(struct handoff *h);

/*
 * Drive the handshake.  0 when it completed and what was negotiated is
 * recorded on h; -1 on failure (reason on h, alert sent where one applies);
 * HANDOFF_WANT_POLLIN / HANDOFF_WANT_POLLOUT on a non-blocking fd.
 */
int engine_handshake(struct handoff *h);

#endif
