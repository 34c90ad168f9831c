/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The handshake engine: config in, negotiated GnuTLS session out.  Key
 * installation is the caller's next step (core/conn.c), so handoffd and the
 * shim reuse exactly this code.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/x509.h>

#include "core/certselect.h"
#include "handshake/alert.h"
#include "handshake/engine.h"
#include "handshake/priority.h"
#include "handshake/session.h"
#include "handshake/verify.h"
#include "ktls/ktls.h"

static int set_credentials(struct handoff *h)
{
	struct handoff_config *cfg = h->cfg;
	int ret;

	if (h->is_server && !cfg->have_keypair && !config_has_psk(cfg, true))
		return conn_fail(h, "a server needs a certificate and key, or a PSK");

	/* A PSK-only client must not hold X.509 credentials: it would then offer certificates too. */
	if (h->is_server || cfg->have_keypair || !cfg->psk_identity || cfg->n_ca > 0) {
		ret = gnutls_credentials_set(h->session, GNUTLS_CRD_CERTIFICATE, cfg->x509);
		if (ret < 0)
			return conn_fail(h, "certificate credentials: %s", gnutls_strerror(ret));
		/* Which pair by the client's name: RFC 6125's rules, not GnuTLS's bytes. */
		if (h->is_server && cfg->n_keypairs > 1)
			certselect_attach(h);
	}
	if (config_has_psk(cfg, h->is_server)) {
		ret = gnutls_credentials_set(h->session, GNUTLS_CRD_PSK,
					     h->is_server ? (void *)cfg->psk_server :
							    (void *)cfg->psk_client);
		if (ret < 0)
			return conn_fail(h, "PSK credentials: %s", gnutls_strerror(ret));
	}
	return 0;
}

int engine_priority(struct handoff *h, char *buf, size_t len)
{
	const struct handoff_kernel_info *kinfo = NULL;

	/* Offer only what the kernel can take over, unless user space may keep it. */
	if (h->hs->kernel_known && !h->cfg->insecure_userspace_fallback)
		kinfo = &h->hs->kernel;
	return priority_build(h->cfg, kinfo, h->is_server, buf, len, &h->err);
}

int engine_setup(struct handoff *h)
{
	struct handoff_config *cfg = h->cfg;
	char prio[512];
	const char *errpos = NULL;
	unsigned flags;
	int ret;

	flags = (h->is_server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_SIGNAL;
	/* Without a cache a client cannot use tickets; asking for none keeps them off the wire. */
	if (!h->is_server && (!cfg->client_cache || h->no_tickets))
		flags |= GNUTLS_NO_TICKETS;
	if (h->is_server && cfg->tickets_disabled)
		flags |= GNUTLS_NO_TICKETS;
	ret = gnutls_init(&h->session, flags);
	if (ret < 0) {
		h->session = NULL;
		return conn_fail(h, "gnutls_init: %s", gnutls_strerror(ret));
	}
	gnutls_session_set_ptr(h->session, h);
	transport_init(&h->hs->transport, h->fd);
	h->hs->transport.deadline = h->hs->deadline;
	transport_attach(&h->hs->transport, h->session);

	if (engine_priority(h, prio, sizeof(prio)) < 0)
		return conn_fail(h, "%s", errbuf_get(&h->err));
	ret = config_priority_set(cfg, h->session, prio, &errpos);
	if (ret < 0)
		return conn_fail(h, "priority \"%s\" at \"%s\": %s", prio, errpos ? errpos : "",
				 gnutls_strerror(ret));

	if (set_credentials(h) < 0 || verify_setup(h) < 0)
		return -1;
	if (cfg->n_alpn) {
		unsigned alpn_flags = h->is_server ? GNUTLS_ALPN_SERVER_PRECEDENCE : 0;

		if (h->is_server && cfg->alpn_refuse_mismatch)
			alpn_flags |= GNUTLS_ALPN_MANDATORY;
		ret = gnutls_alpn_set_protocols(h->session, cfg->alpn, (unsigned)cfg->n_alpn, alpn_flags);
		if (ret < 0)
			return conn_fail(h, "ALPN: %s", gnutls_strerror(ret));
	}
	if (h->is_server ? session_server_setup(h) < 0 : session_client_setup(h) < 0)
		return -1;
	if (cfg->timeout_ms)
		gnutls_handshake_set_timeout(h->session, cfg->timeout_ms);
	return 0;
}

/*
 * GnuTLS refuses a TLS 1.2 ServerHello whose random ends in "DOWNGRD"
 * when we offered 1.3, but only says "illegal parameter".  The random is
 * stored before that check, so look at it to name the attack.
 */
static bool downgrade_sentinel(struct handoff *h, int err)
{
	static const uint8_t sentinel[7] = { 'D', 'O', 'W', 'N', 'G', 'R', 'D' };
	gnutls_datum_t client, server;

	if (h->is_server || err != GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER)
		return false;
	gnutls_session_get_random(h->session, &client, &server);
	return server.size == 32 && memcmp(server.data + 24, sentinel, sizeof(sentinel)) == 0 &&
	       (server.data[31] == 0 || server.data[31] == 1);
}

/* Words for the ways a handshake fails that users meet most. */
static int explain_failure(struct handoff *h, int err)
{
	const char *who = h->is_server ? "client" : "server";

	if (verify_explain(h, err))
		return -1;
	if (h->hs->transport.timed_out)
		return conn_fail_code(h, ETIMEDOUT, "handshake timed out after %u ms", h->cfg->timeout_ms);
	if (h->psk_unknown)
		return conn_fail(h, "unknown PSK identity \"%s\" from the client",
				 h->psk_identity ? h->psk_identity : "?");
	if (downgrade_sentinel(h, err))
		return conn_fail(h, "the server's random carries the TLS 1.3 downgrade sentinel "
				    "(RFC 8446 4.1.3): someone forced an older version between us");
	switch (err) {
	case GNUTLS_E_TIMEDOUT:
		return conn_fail_code(h, ETIMEDOUT, "handshake timed out after %u ms", h->cfg->timeout_ms);
	case GNUTLS_E_FATAL_ALERT_RECEIVED: {
		char name[128];

		return conn_fail_code(h, ECONNRESET, "%s sent fatal alert: %s", who,
				 alert_describe(gnutls_alert_get(h->session), name, sizeof(name)));
	}
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
		return conn_fail(h, "%s offers no protocol version we accept (TLS 1.2 or 1.3 required)",
				 who);
	case GNUTLS_E_NO_CIPHER_SUITES:
	case GNUTLS_E_UNKNOWN_CIPHER_SUITE:
	case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
		return conn_fail(h, "no cipher suite in common with the %s "
				    "(we offer only AEAD suites kernel TLS runs): %s",
				 who, gnutls_strerror(err));
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_CERTIFICATE_REQUIRED:
		return conn_fail(h, "%s sent no certificate, but one is required", who);
	case GNUTLS_E_PREMATURE_TERMINATION:
		return conn_fail_code(h, ECONNRESET, "%s closed the connection during the handshake",
				      who);
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		return conn_fail_code(h, errno == ETIMEDOUT ? ETIMEDOUT : ECONNRESET,
				      "connection to the %s failed during the handshake: %s", who,
				      strerror(errno));
	case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
	case GNUTLS_E_UNEXPECTED_PACKET:
	case GNUTLS_E_UNEXPECTED_HANDSHAKE_PACKET:
	case GNUTLS_E_RECORD_OVERFLOW:
		return conn_fail(h, "%s did not speak TLS (malformed record: %s)", who,
				 gnutls_strerror(err));
	default:
		return conn_fail(h, "TLS handshake failed: %s", gnutls_strerror(err));
	}
}

static char *dup_datum(const gnutls_datum_t *d)
{
	char *s = malloc(d->size + 1);

	if (s) {
		memcpy(s, d->data, d->size);
		s[d->size] = '\0';
	}
	return s;
}

static int collect(struct handoff *h)
{
	gnutls_session_t s = h->session;
	gnutls_datum_t d;
	const gnutls_datum_t *peers;
	unsigned n_peers = 0;
	int ret;

	ret = ktls_version_from_gnutls(gnutls_protocol_get_version(s), &h->version);
	if (ret < 0)
		return conn_fail(h, "negotiated %s, which kernel TLS cannot carry",
				 gnutls_protocol_get_name(gnutls_protocol_get_version(s)));
	ret = ktls_cipher_from_gnutls(gnutls_cipher_get(s), &h->cipher);
	if (ret < 0)
		return conn_fail(h, "negotiated cipher %s, which kernel TLS cannot carry",
				 gnutls_cipher_get_name(gnutls_cipher_get(s)));
	h->resumed = gnutls_session_is_resumed(s);
	h->negotiated = true;

	if (gnutls_alpn_get_selected_protocol(s, &d) == 0 && !(h->alpn = dup_datum(&d)))
		goto err_nomem;
	peers = gnutls_certificate_get_peers(s, &n_peers);
	if (peers && n_peers) {
		gnutls_x509_crt_t crt;

		if (gnutls_x509_crt_init(&crt) == 0) {
			if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) == 0 &&
			    gnutls_x509_crt_get_dn3(crt, &d, 0) == 0) {
				h->peer_subject = dup_datum(&d);
				gnutls_free(d.data);
			}
			gnutls_x509_crt_deinit(crt);
		}
		/* The session goes at the hand-off: a caller who needs the certificate asked to keep it. */
		if (h->cfg->keep_peer_cert) {
			free(h->peer_cert);
			h->peer_cert_len = 0;
			h->peer_cert = malloc(peers[0].size ? peers[0].size : 1);
			if (!h->peer_cert)
				goto err_nomem;
			memcpy(h->peer_cert, peers[0].data, peers[0].size);
			h->peer_cert_len = peers[0].size;
		}
	}
	if (gnutls_auth_get_type(s) == GNUTLS_CRD_PSK) {
		const char *id = h->is_server ? gnutls_psk_server_get_username(s) :
						h->cfg->psk_identity;

		free(h->psk_identity);	/* an identity tried before this one, if any */
		h->psk_identity = NULL;
		if (id && !(h->psk_identity = strdup(id)))
			goto err_nomem;
	}
	if (h->is_server && !h->servername) {
		char name[256];
		size_t len = sizeof(name);
		unsigned type;

		if (gnutls_server_name_get(s, name, &len, &type, 0) == 0 && type == GNUTLS_NAME_DNS &&
		    !(h->servername = strdup(name)))
			goto err_nomem;
	}
	if (!h->is_server)
		session_client_store(h);
	return 0;

err_nomem:
	return conn_fail(h, "out of memory");
}

int engine_handshake(struct handoff *h)
{
	unsigned tries = 0;
	int ret;

	transport_pin_mode(&h->hs->transport);
	do
		ret = gnutls_handshake(h->session);
	while (ret == GNUTLS_E_INTERRUPTED || ret == GNUTLS_E_WARNING_ALERT_RECEIVED ||
	       ret == GNUTLS_E_GOT_APPLICATION_DATA ||
	       (ret == GNUTLS_E_AGAIN && transport_retry_again(h->fd, &tries)));
	transport_unpin_mode(&h->hs->transport);

	if (ret == GNUTLS_E_AGAIN)
		return gnutls_record_get_direction(h->session) ? HANDOFF_WANT_POLLOUT :
								  HANDOFF_WANT_POLLIN;
	if (ret < 0) {
		/* Tell the peer why, unless it told us or the line is gone. */
		if (ret != GNUTLS_E_FATAL_ALERT_RECEIVED && ret != GNUTLS_E_PREMATURE_TERMINATION &&
		    ret != GNUTLS_E_PUSH_ERROR && ret != GNUTLS_E_PULL_ERROR &&
		    ret != GNUTLS_E_TIMEDOUT)
			gnutls_alert_send_appropriate(h->session, ret);
		return explain_failure(h, ret);
	}
	/* The deadline bounds the handshake only; reads after it wait as long as the caller does. */
	h->hs->transport.deadline = (struct timespec){ 0, 0 };
	return collect(h);
}
