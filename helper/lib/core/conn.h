/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * struct handoff: one TLS endpoint on a caller-owned fd, through its life:
 * handshake in GnuTLS, then either the kernel (kTLS) or, when the caller
 * allowed it, GnuTLS in user space carries the records.
 */
#ifndef HANDOFF_CORE_CONN_H
#define HANDOFF_CORE_CONN_H

#include <gnutls/gnutls.h>
#include <time.h>

#include "common.h"
#include "core/config.h"
#include "handshake/transport.h"
#include "util/errbuf.h"

enum conn_state {
	CONN_NEW,		/* created, handshake not started */
	CONN_HANDSHAKING,	/* handshake under way (WANT_POLL* given) */
	CONN_KTLS,		/* kernel owns the record layer */
	CONN_USERSPACE,		/* GnuTLS owns it (insecure_userspace_fallback) */
	CONN_CLOSED,		/* the peer's close_notify seen (ours: sent_close) */
	CONN_FAILED,		/* unusable; only handoff_free() is left */
};

/* Internal test switches (never set by the public API). */
#define CONN_TEST_NO_INSTALL (1u << 0)	/* stop after the handshake, keys not installed */
#define CONN_TEST_NO_PROBE (1u << 1)	/* do not filter ciphers by the kernel probe */
#define CONN_TEST_USERSPACE (1u << 2)	/* take the user-space fallback even where kTLS works */
#define CONN_TEST_LEAN (1u << 3)	/* with NO_INSTALL: drop the session at the hand-off all the same */
#define CONN_TEST_KEEP_SESSION (1u << 4)	/* keep the session where it would be dropped */

/*
 * What GnuTLS's handshake hook saw during one call into GnuTLS after the
 * hand-off (posthandshake_hook(), used by handshake/posthandshake.c and
 * core/io.c).  The hook finds the connection with gnutls_session_get_ptr();
 * it records only while `active` is set around such a call.
 */
struct conn_seen {
	bool active;
	unsigned messages;	/* every message GnuTLS took in */
	unsigned tickets;
	bool key_update;
	bool update_requested;
	bool after_key_update;	/* a message followed a KeyUpdate in the same record */
	int send_err;		/* negative errno from sending our KeyUpdate */
};

/*
 * What only the handshake needs, and GnuTLS's transport for as long as the
 * session lives: released with the session at a lean hand-off (conn.c).
 */
struct conn_hs {
	struct transport transport;
	struct timespec deadline;	/* handshake deadline (CLOCK_MONOTONIC), 0 = none */
	/* The kernel probe, taken once when the handshake starts (unless CONN_TEST_NO_PROBE). */
	struct handoff_kernel_info kernel;
	bool kernel_known;
};

struct handoff {
	struct handoff_config *cfg;	/* referenced */
	int fd;				/* not owned */
	bool is_server;
	char *servername;		/* client: what we asked for; server: SNI seen */
	enum conn_state state;
	struct errbuf err;
	int err_code;			/* positive errno classifying the failure (handoff_error_code) */

	gnutls_session_t session;	/* NULL once released (lean) */
	struct conn_hs *hs;		/* NULL once released (lean) */

	/* Filled when the handshake completes; kept if the connection later fails. */
	bool negotiated;
	enum handoff_tls_version version;
	enum handoff_cipher cipher;
	bool resumed;
	char *alpn;
	char *peer_subject;
	uint8_t *peer_cert;		/* DER of the peer's leaf, if cfg->keep_peer_cert */
	size_t peer_cert_len;
	char *psk_identity;
	char *cache_key;		/* client session cache key (name|addr|port) */
	unsigned verify_status;		/* gnutls_certificate_status_t bits of the peer */
	bool psk_unknown;		/* server: the client's PSK identity (psk_identity, made printable) is not ours */
	bool subject_refused;		/* verified, but not an allowed subject (peer_subject says who) */

	bool no_tickets;		/* client: ask for no tickets (handoff_conn_no_tickets) */
	bool sent_close;
	struct conn_seen seen;
	size_t ph_partial;		/* bytes of an unfinished post-handshake message fed to GnuTLS */
	/*
	 * A TLS 1.2 handshake message (renegotiation) arriving after the
	 * hand-off, maybe in fragments: its header, then how much of its
	 * body is still to come.  Declined once whole.
	 */
	uint8_t reneg_header[4];
	size_t reneg_header_got;
	size_t reneg_body_left;
	bool reneg_declined;		/* we sent no_renegotiation at least once */
	bool in_kernel;			/* keys went to the kernel (stays true after close) */
	bool adopted;			/* handoff_adopt_ktls(): the handshake ran elsewhere */
	bool role_unknown;		/* adopted without knowing which end we are (exec) */

	/*
	 * The lean post-hand-off state (conn.c says when): the GnuTLS session
	 * is released once the keys are in the kernel, and only this stays to
	 * handle what the kernel hands back (handshake/posthandshake.c).  The
	 * TLS 1.3 application traffic secrets follow the peer's KeyUpdates
	 * (handshake/secrets.c); they are wiped when the connection fails or
	 * is freed.
	 */
	bool lean_planned;		/* capture the secrets; release the session at the hand-off */
	bool lean;			/* the session is released */
	uint8_t secret_have;		/* bit 0: ours (write), bit 1: the peer's (read) */
	uint8_t secret_len;		/* 32 (SHA-256 suites) or 48 (SHA-384) */
	uint8_t secret[2][48];		/* [0] ours, [1] the peer's */
	uint8_t ph_msg[5];		/* TLS 1.3: header (and KeyUpdate body) of the message being read */
	uint8_t ph_msg_got;
	uint8_t ku_count;		/* KeyUpdates in the current window */
	uint32_t ph_skip;		/* body bytes of an ignored message still to come */
	uint64_t ku_window_ms;		/* start of that window (CLOCK_MONOTONIC) */
	unsigned test_flags;		/* CONN_TEST_* */
};

/*
 * conn_adopt_ktls - handoff_adopt_ktls() with test switches from the
 * start: under CONN_TEST_NO_INSTALL the kernel's state is not checked and
 * no key goes to it (the unit tests play the kernel).
 */
struct handoff_ktls_params;
struct handoff *conn_adopt_ktls(struct handoff_config *cfg, int fd,
				const struct handoff_ktls_params *p, unsigned test_flags);

/* Set a test switch; used by tests/unit only. */
void conn_set_test_flags(struct handoff *h, unsigned flags);

/*
 * Mark the connection failed with a message; returns -1.  conn_fail()
 * classifies the failure as ECONNABORTED (we gave up on the peer: it failed
 * verification, broke the protocol, or the kernel could not take the keys);
 * conn_fail_code() names another class (see handoff_error_code()).
 */
int conn_fail(struct handoff *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int conn_fail_code(struct handoff *h, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
