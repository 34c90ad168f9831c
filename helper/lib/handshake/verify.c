/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <arpa/inet.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handshake/verify.h"

static bool is_ip_literal(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* The allow-list, checked before the handshake ends (and the keys leave). */
static int check_subject(struct handoff *h, gnutls_session_t session)
{
	const struct handoff_config *cfg = h->cfg;
	const gnutls_datum_t *peers;
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = { NULL, 0 };
	unsigned n = 0;
	bool ok = false;

	if (!cfg->n_allowed_subjects)
		return 0;
	peers = gnutls_certificate_get_peers(session, &n);
	if (!peers || !n || gnutls_x509_crt_init(&crt) < 0)
		return -1;
	if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
		for (size_t i = 0; i < cfg->n_allowed_subjects; i++)
			if (strlen(cfg->allowed_subjects[i]) == dn.size &&
			    memcmp(cfg->allowed_subjects[i], dn.data, dn.size) == 0)
				ok = true;
		if (!ok && !h->peer_subject) {
			h->peer_subject = malloc(dn.size + 1);
			if (h->peer_subject) {
				memcpy(h->peer_subject, dn.data, dn.size);
				h->peer_subject[dn.size] = '\0';
			}
		}
		gnutls_free(dn.data);
	}
	gnutls_x509_crt_deinit(crt);
	if (!ok)
		h->subject_refused = true;
	return ok ? 0 : -1;
}

/*
 * Called by GnuTLS once the peer's certificate message is in.  One function
 * for both roles, so a client certificate that is optional can be absent
 * without that counting as a failed verification.
 */
static int verify_peer(gnutls_session_t session)
{
	struct handoff *h = gnutls_session_get_ptr(session);
	gnutls_typed_vdata_st data[2] = { { 0 } };	/* size 0: GnuTLS takes strlen() */
	const char *name = NULL;
	unsigned n = 0, n_data = 0;
	int ret;

	if (gnutls_auth_get_type(session) != GNUTLS_CRD_CERTIFICATE)
		return 0;	/* PSK: the key itself authenticated the peer */
	if (!gnutls_certificate_get_peers(session, &n) || n == 0)
		/* Required certificates are enforced by GnuTLS before we are called. */
		return h->is_server ? 0 : -1;
	if (!h->is_server && !h->cfg->insecure_noverifyname)
		name = h->servername;
	/*
	 * The peer's role is checked too: a server must hold a serverAuth
	 * certificate and a client a clientAuth one, along the whole chain
	 * (a CA whose EKU is limited to servers cannot vouch for a client).
	 * verify_peers3 alone checks no purpose.  A certificate with no EKU
	 * is good for any (RFC 5280 4.2.1.12).  GnuTLS checks an IP literal
	 * against IP-address SANs, a name against DNS SANs.
	 */
	data[n_data].type = GNUTLS_DT_KEY_PURPOSE_OID;
	data[n_data++].data = (void *)(h->is_server ? GNUTLS_KP_TLS_WWW_CLIENT : GNUTLS_KP_TLS_WWW_SERVER);
	if (name) {
		data[n_data].type = GNUTLS_DT_DNS_HOSTNAME;
		data[n_data++].data = (void *)name;
	}
	ret = gnutls_certificate_verify_peers(session, data, n_data, &h->verify_status);
	if (ret < 0) {
		h->verify_status = GNUTLS_CERT_INVALID;
		return -1;
	}
	if (h->verify_status)
		return -1;
	return check_subject(h, session);
}

int verify_setup(struct handoff *h)
{
	struct handoff_config *cfg = h->cfg;
	int ret;

	if (h->is_server) {
		/* An allow-list needs a certificate to check. */
		enum verify_client_mode mode = cfg->n_allowed_subjects ? VERIFY_CLIENT_REQUIRED :
									 cfg->verify_client;

		if (mode == VERIFY_CLIENT_NONE)
			return 0;
		ret = config_x509_ready(cfg, &h->err);
		if (ret < 0)
			return conn_fail(h, "client certificates requested but %s", errbuf_get(&h->err));
		gnutls_certificate_server_set_request(h->session,
						      mode == VERIFY_CLIENT_REQUIRED ?
							      GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST);
		gnutls_session_set_verify_function(h->session, verify_peer);
		return 0;
	}

	/* SNI carries host names only (RFC 6066 section 3). */
	if (h->servername && !is_ip_literal(h->servername)) {
		ret = gnutls_server_name_set(h->session, GNUTLS_NAME_DNS, h->servername,
					     strlen(h->servername));
		if (ret < 0)
			return conn_fail(h, "server name \"%s\": %s", h->servername,
					 gnutls_strerror(ret));
	}
	if (cfg->insecure_noverifycert)
		return 0;
	/* A PSK-only client never sees a certificate: nothing to trust. */
	if (cfg->psk_identity && !cfg->have_keypair && cfg->n_ca == 0)
		return 0;
	if (config_x509_ready(cfg, &h->err) < 0)
		return -1;
	if (!h->servername && !cfg->insecure_noverifyname)
		return conn_fail(h, "no server name to verify the certificate against "
				    "(give one, or use insecure_noverifyname)");
	gnutls_session_set_verify_function(h->session, verify_peer);
	return 0;
}

static const struct {
	unsigned bit;
	const char *text;
} reasons[] = {
	{ GNUTLS_CERT_REVOKED, "it is revoked (listed in a CRL)" },
	{ GNUTLS_CERT_EXPIRED, "it has expired" },
	{ GNUTLS_CERT_NOT_ACTIVATED, "it is not yet valid" },
	{ GNUTLS_CERT_SIGNER_NOT_FOUND, "it is not signed by a trusted CA" },
	{ GNUTLS_CERT_SIGNER_NOT_CA, "its issuer is not a CA" },
	{ GNUTLS_CERT_INSECURE_ALGORITHM, "it uses an insecure algorithm" },
	{ GNUTLS_CERT_SIGNATURE_FAILURE, "its signature does not verify" },
	{ GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED, "the CRL is superseded" },
	{ GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE, "the CRL is issued in the future" },
	{ GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "its issuer's constraints forbid it" },
	{ GNUTLS_CERT_MISSING_OCSP_STATUS, "the required OCSP status is missing" },
};

int verify_explain(struct handoff *h, int gnutls_err)
{
	char text[400];
	size_t used = 0, i;
	unsigned status;

	if (gnutls_err != GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR &&
	    gnutls_err != GNUTLS_E_CERTIFICATE_ERROR)
		return 0;
	if (h->subject_refused) {
		conn_fail(h, "%s certificate \"%s\" is not among the allowed subjects",
			  h->is_server ? "client" : "server", h->peer_subject ? h->peer_subject : "?");
		return 1;
	}
	status = h->verify_status;
	text[0] = '\0';
	if (status & GNUTLS_CERT_UNEXPECTED_OWNER)
		used += (size_t)snprintf(text, sizeof(text), "it is not valid for the name \"%s\"",
					 h->servername ? h->servername : "");
	/* An untrusted chain fails every purpose too: name the purpose only when the chain is trusted. */
	if (status & GNUTLS_CERT_PURPOSE_MISMATCH && !(status & GNUTLS_CERT_SIGNER_NOT_FOUND) &&
	    used < sizeof(text))
		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "%sits chain's extended key usage does not allow a TLS %s",
					 used ? "; " : "", h->is_server ? "client" : "server");
	for (i = 0; i < ARRAY_SIZE(reasons) && used < sizeof(text); i++) {
		if (!(status & reasons[i].bit))
			continue;
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s",
					 used ? "; " : "", reasons[i].text);
	}
	if (!used && !status)
		snprintf(text, sizeof(text), "it was not sent");
	else if (!used)
		snprintf(text, sizeof(text), "status 0x%x", status);
	conn_fail(h, "%s certificate rejected: %s", h->is_server ? "client" : "server", text);
	return 1;
}
