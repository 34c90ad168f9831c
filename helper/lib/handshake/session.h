/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Session resumption: the client cache (public struct handoff_cache), the
 * server's TLS 1.2 session-ID store, and ticket keys.
 */
#ifndef HANDOFF_HANDSHAKE_SESSION_H
#define HANDOFF_HANDSHAKE_SESSION_H

#include "core/conn.h"

struct session_db;

struct session_db *session_db_new(size_t max_entries);
void session_db_free(struct session_db *db);

/* Before the handshake: tickets + session-ID store (server). 0 or -1. */
int session_server_setup(struct handoff *h);
/* Before the handshake: offer a cached session if there is one (client). 0 or -1. */
int session_client_setup(struct handoff *h);
/*
 * Store the session for later resumption (client).  Called after the
 * handshake (TLS 1.2) and whenever a TLS 1.3 ticket has been processed.
 */
void session_client_store(struct handoff *h);

#endif
