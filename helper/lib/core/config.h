/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * struct handoff_config: policy only (who we are, whom we trust, what we
 * offer).  The handshake engine reads it; it never holds per-connection
 * state.  Shared by connections through a reference count.
 */
#ifndef HANDOFF_CORE_CONFIG_H
#define HANDOFF_CORE_CONFIG_H

#include <gnutls/gnutls.h>
#include <pthread.h>

#include "common.h"
#include "core/keypairs.h"
#include "util/errbuf.h"

struct session_db;
struct certselect;

enum verify_client_mode {
	VERIFY_CLIENT_NONE,
	VERIFY_CLIENT_OPTIONAL,
	VERIFY_CLIENT_REQUIRED,
};

#define CONFIG_MAX_ALPN 8

/*
 * Parsed GnuTLS priorities, by their string.  Parsing one costs about as
 * much as 4% of a full ECDSA/X25519 handshake (callgrind, tests/bench), and
 * the string changes only with the config or the kernel probe: a handful
 * per config over its life (server and client, one per probe answer).
 */
#define CONFIG_PRIO_SLOTS 4
struct config_prio {
	char *text;
	gnutls_priority_t prio;
};

struct handoff_config {
	int refs;			/* atomic */
	struct errbuf err;

	/* X.509: one credentials object collects every CA, CRL and keypair. */
	gnutls_certificate_credentials_t x509;
	unsigned n_ca;			/* trust anchors loaded so far */
	bool system_ca;			/* system store added */
	bool have_keypair;
	/* Beside GnuTLS's copy, in the order added: to refuse an ambiguous pair (keypairs.h). */
	struct config_keypair *keypairs;
	size_t n_keypairs;
	struct certselect *select;	/* a server's pair by the client's name (certselect.h) */
	pthread_mutex_t x509_lock;	/* guards lazy system-CA loading */

	/* TLS 1.3 external PSK (identity + raw key). */
	char *psk_identity;
	gnutls_datum_t psk_key;		/* wiped on free */
	gnutls_psk_client_credentials_t psk_client;
	gnutls_psk_server_credentials_t psk_server;
	handoff_psk_lookup_fn psk_lookup;	/* servers: a key per identity */
	void *psk_lookup_arg;

	unsigned protocols;		/* HANDOFF_PROTOCOL_* */
	enum handoff_cipher ciphers[HANDOFF_CIPHER_COUNT];
	size_t n_ciphers;

	gnutls_datum_t alpn[CONFIG_MAX_ALPN];
	size_t n_alpn;
	char *alpn_buf;			/* backing store of alpn[].data */

	enum verify_client_mode verify_client;
	char **allowed_subjects;	/* peer subject DNs; none: any verified peer */
	size_t n_allowed_subjects;
	unsigned timeout_ms;

	/* Resumption. */
	gnutls_datum_t ticket_key;	/* server; wiped on free */
	bool tickets_disabled;
	struct session_db *server_db;	/* TLS 1.2 session-ID cache */
	struct handoff_cache *client_cache;

	/* Kernel data-path options, set at the hand-off (handoff_config_kernel_*). */
	bool kernel_tx_zerocopy;
	bool kernel_rx_no_pad;
	bool no_key_update;		/* wipe the traffic secrets at the hand-off */
	bool alpn_refuse_mismatch;	/* server: GNUTLS_ALPN_MANDATORY (handoff_config_refuse_alpn_mismatch) */
	bool keep_peer_cert;		/* keep the peer's leaf certificate (handoff_config_keep_peer_cert) */

	struct config_prio prio_cache[CONFIG_PRIO_SLOTS];
	pthread_mutex_t prio_lock;

	bool insecure_noverifycert;
	bool insecure_noverifyname;
	bool insecure_noverifytime;
	bool insecure_userspace_fallback;
};

/* Whether this side of a handshake can use a PSK at all. */
static inline bool config_has_psk(const struct handoff_config *cfg, bool is_server)
{
	return cfg->psk_identity || (is_server && cfg->psk_lookup);
}

/* Take / drop a reference (connections hold one). */
struct handoff_config *config_ref(struct handoff_config *cfg);
void config_unref(struct handoff_config *cfg);

/*
 * config_x509_ready - make sure trust anchors exist (the system store when
 * the caller set none) before a handshake needs them.  0 or negative errno;
 * the reason goes to err.
 */
int config_x509_ready(struct handoff_config *cfg, struct errbuf *err);

/*
 * config_priority_set - give session the priority parsed from text, parsing
 * it once per config.  GnuTLS error code (0 on success); *errpos as
 * gnutls_priority_set_direct() sets it.
 */
int config_priority_set(struct handoff_config *cfg, gnutls_session_t session, const char *text,
			const char **errpos);

#endif
