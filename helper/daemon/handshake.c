/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fail closed: the status starts as EACCES and only a completed handshake
 * with the keys in the kernel turns it into 0.  Everything TLS is done by
 * libhandoff; this file only chooses what to ask it for.
 */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/frontdoor.h"
#include "daemon/credcache.h"
#include "daemon/handshake.h"
#include "daemon/keyring.h"
#include "daemon/psk.h"

/* Ports of the kernel's TLS consumers: the kernel does not name them. */
#define NFS_PORT 2049
#define NVME_TCP_PORT 4420
#define NVME_DISC_PORT 8009

#define PSK_IDENTITY_MAX 256

static void __attribute__((format(printf, 3, 4)))
set_cause(struct hd_result *res, uint32_t status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->cause, sizeof(res->cause), fmt, ap);
	va_end(ap);
	res->status = status;
}

/* A reason, cut to the buffer: the log line has room for the gist. */
static void __attribute__((format(printf, 3, 4)))
put_text(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static int addr_text(const struct sockaddr_storage *ss, char *buf, size_t size,
		     unsigned *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		*port = ntohs(in->sin_port);
		return inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)size) ? 0 : -1;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		*port = ntohs(in6->sin6_port);
		return inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)size) ? 0 : -1;
	}
	return -1;
}

/* Who is at the other end, and which consumer asked: from the socket only. */
static void identify(const struct hd_request *req, struct hd_result *res, char *ip,
		     size_t ip_size)
{
	struct sockaddr_storage local, peer;
	socklen_t len = sizeof(peer);
	unsigned lport = 0, pport = 0;
	char lip[INET6_ADDRSTRLEN];

	ip[0] = '\0';
	snprintf(res->consumer, sizeof(res->consumer), "?");
	if (getpeername(req->sockfd, (struct sockaddr *)&peer, &len) == 0)
		addr_text(&peer, ip, ip_size, &pport);
	len = sizeof(local);
	if (getsockname(req->sockfd, (struct sockaddr *)&local, &len) == 0)
		addr_text(&local, lip, sizeof(lip), &lport);
	if (lport == NFS_PORT || pport == NFS_PORT)
		snprintf(res->consumer, sizeof(res->consumer), "nfs");
	else if (lport == NVME_TCP_PORT || pport == NVME_TCP_PORT || lport == NVME_DISC_PORT ||
		 pport == NVME_DISC_PORT)
		snprintf(res->consumer, sizeof(res->consumer), "nvme");
	if (req->peername[0])
		snprintf(res->peer, sizeof(res->peer), "%s", req->peername);
	else
		snprintf(res->peer, sizeof(res->peer), "%s", ip[0] ? ip : "?");
}

static int use_kernel_keypair(struct handoff_config *cfg, const struct hd_cert_ids *ids,
			      struct hd_result *res)
{
	uint8_t *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	int ret;

	ret = hd_keyring_read(ids->cert, &cert, &cert_len);
	if (ret < 0) {
		set_cause(res, EACCES, "no certificate with serial %u in our keyrings: %s",
			  ids->cert, strerror(-ret));
		return -1;
	}
	ret = hd_keyring_read(ids->privkey, &key, &key_len);
	if (ret < 0) {
		set_cause(res, EACCES, "no private key with serial %u in our keyrings: %s",
			  ids->privkey, strerror(-ret));
		hd_keyring_free(cert, cert_len);
		return -1;
	}
	ret = handoff_config_set_keypair_mem(cfg, cert, cert_len, key, key_len);
	hd_keyring_free(cert, cert_len);
	hd_keyring_free(key, key_len);
	if (ret < 0) {
		set_cause(res, EACCES, "keys %u/%u: %s", ids->cert, ids->privkey,
			  handoff_config_error(cfg));
		return -1;
	}
	return 0;
}

static int setup_x509(struct handoff_config *cfg, const struct hd_request *req,
		      const struct hd_conf_side *side, bool server, struct hd_result *res)
{
	const char *section = server ? "authenticate.server" : "authenticate.client";

	if (side->truststore && handoff_config_add_ca_file(cfg, side->truststore) < 0)
		goto err_config;
	if (side->crl && handoff_config_add_crl_file(cfg, side->crl) < 0)
		goto err_config;

	/*
	 * Like tlshd: ask every client for a certificate, verify it if sent;
	 * with an allow-list, a client without one is refused.
	 */
	if (server && side->n_allowed_subjects) {
		/*
		 * Checked by the library inside the handshake: a DONE error after
		 * the keys went to the kernel crashed 6.12's nfsd in our tests.
		 */
		for (size_t i = 0; i < side->n_allowed_subjects; i++)
			if (handoff_config_allow_peer_subject(cfg, side->allowed_subjects[i]) < 0)
				goto err_config;
	} else if (server) {
		handoff_config_verify_client_optional(cfg);
	}
	if (req->auth_mode == HS_AUTH_X509 && req->n_certs && req->certs[0].cert != HS_NO_KEY)
		return use_kernel_keypair(cfg, &req->certs[0], res);
	/* An unauthenticated client (xprtsec=tls) presents no certificate, as in tlshd. */
	if (!server && req->auth_mode != HS_AUTH_X509)
		return 0;
	if (side->certificate && side->private_key) {
		if (handoff_config_set_keypair_file(cfg, side->certificate, side->private_key) < 0)
			goto err_config;
	} else if (!server) {
		/*
		 * Mutual TLS asked for and nothing to present: refuse here.  A
		 * server that only asks for a certificate would let the mount go
		 * on as plain xprtsec=tls, which is not what the consumer asked.
		 */
		set_cause(res, EACCES, "mtls: no client certificate: the kernel sent none and "
				       "[%s] x509.certificate / x509.private_key are not set", section);
		return -1;
	} else {
		set_cause(res, EACCES, "no server certificate: the kernel sent none and "
				       "[%s] x509.certificate / x509.private_key are not set", section);
		return -1;
	}
	return 0;

err_config:
	set_cause(res, EACCES, "[%s]: %s", section, handoff_config_error(cfg));
	return -1;
}

/*
 * One offered PSK, if we can use it: its identity and key into cfg.
 * 0, or -1 with the reason in why.
 */
static int try_psk(struct handoff_config *cfg, uint32_t serial, char *why, size_t why_size)
{
	char type[32], identity[PSK_IDENTITY_MAX], reason[256];
	uint8_t *key = NULL;
	size_t key_len = 0;
	int ret;

	ret = hd_keyring_describe(serial, type, sizeof(type), identity, sizeof(identity));
	if (ret == 0)
		ret = hd_keyring_read(serial, &key, &key_len);
	if (ret < 0) {
		put_text(why, why_size, "no PSK with serial %u in our keyrings: %s", serial,
			 strerror(-ret));
		return -1;
	}
	if (hd_psk_usable(identity, key_len, reason, sizeof(reason)) < 0) {
		hd_keyring_free(key, key_len);
		put_text(why, why_size, "PSK %u (\"%s\"): %s", serial, identity, reason);
		return -1;
	}
	ret = handoff_config_set_psk(cfg, identity, key, key_len);
	hd_keyring_free(key, key_len);
	if (ret < 0) {
		put_text(why, why_size, "PSK %u (\"%s\"): %s", serial, identity,
			 handoff_config_error(cfg));
		return -1;
	}
	return 0;
}

/*
 * The kernel may offer several PSKs.  A ClientHello carries one external
 * identity with GnuTLS (its client credentials hold one), and a refused
 * handshake leaves no connection to try the next on; so the first one we
 * can use is offered, and the ones before it are skipped, each for a
 * reason the log line gives (missing, unreadable, a hash we cannot bind).
 */
static int setup_psk_client(struct handoff_config *cfg, const struct hd_request *req,
			    struct hd_result *res, char *skipped, size_t skipped_size)
{
	char why[HS_MAX_PEER_IDENTITIES][sizeof(res->cause)];
	size_t used = 0;

	if (!req->n_peerids) {
		set_cause(res, EINVAL, "PSK handshake without a peer identity");
		return -1;
	}
	for (unsigned i = 0; i < req->n_peerids; i++) {
		if (try_psk(cfg, req->peerids[i], why[i], sizeof(why[i])) == 0) {
			res->remote_auth[0] = req->peerids[i];
			res->n_remote_auth = 1;
			for (unsigned j = 0; j < i && used < skipped_size; j++) {
				put_text(skipped + used, skipped_size - used, " (skipped %s)", why[j]);
				used += strlen(skipped + used);
			}
			return 0;
		}
	}
	if (req->n_peerids == 1) {
		set_cause(res, EKEYREJECTED, "%s", why[0]);
		return -1;
	}
	set_cause(res, EKEYREJECTED, "none of the %u offered PSKs is usable:", req->n_peerids);
	used = strlen(res->cause);
	for (unsigned i = 0; i < req->n_peerids && used < sizeof(res->cause); i++) {
		put_text(res->cause + used, sizeof(res->cause) - used, " %u) %s", i + 1, why[i]);
		used += strlen(res->cause + used);
	}
	return -1;
}

/* A server's PSKs: the identity the client offers names a "psk" key. */
struct psk_lookup {
	uint32_t serial;	/* of the key found last */
	int err;		/* of the last failed lookup */
	char why[256];		/* a key found but refused: why */
};

static int psk_from_keyring(void *arg, const char *identity, uint8_t *key, size_t *key_len)
{
	struct psk_lookup *ctx = arg;
	uint8_t *data = NULL;
	size_t len = 0;
	int serial, ret;

	serial = hd_keyring_search("psk", identity);
	if (serial < 0) {
		ctx->err = serial;
		return -1;
	}
	ret = hd_keyring_read((uint32_t)serial, &data, &len);
	if (ret < 0 || len > *key_len) {
		ctx->err = ret < 0 ? ret : -EMSGSIZE;
		hd_keyring_free(data, len);
		return -1;
	}
	/* Known, but not to be bound with SHA-256: the client hears unknown_psk_identity. */
	ret = hd_psk_usable(identity, len, ctx->why, sizeof(ctx->why));
	if (ret < 0) {
		ctx->err = ret;
		ctx->serial = (uint32_t)serial;
		hd_keyring_free(data, len);
		return -1;
	}
	memcpy(key, data, len);
	*key_len = len;
	hd_keyring_free(data, len);
	ctx->serial = (uint32_t)serial;
	return 0;
}

/*
 * The peer's verified certificate goes back to the consumer as a key, as
 * tlshd does: nfsd marks a transport peer-authenticated (what an export
 * with xprtsec=mtls asks for) only when DONE names a remote identity.
 * The session keys are in the kernel by now, so a key we cannot make does
 * not fail the handshake (a DONE error at this point crashed 6.12's nfsd
 * in our tests): DONE then names no identity, which such an export
 * refuses, and the log line says why.  Only the leaf: it is the peer.
 */
static void report_peer_cert(struct handoff *h, struct hd_result *res)
{
	size_t used = strlen(res->detail), len = 0;
	const uint8_t *der = handoff_conn_peer_cert(h, &len);
	int serial;

	if (!der)
		return;
	serial = hd_keyring_add_peer_cert(der, len, res->peer);
	if (serial < 0) {
		snprintf(res->detail + used, sizeof(res->detail) - used,
			 " remote-auth=none (cannot store the peer certificate in a key: %s)",
			 strerror(-serial));
		return;
	}
	res->remote_auth[0] = (uint32_t)serial;
	res->n_remote_auth = 1;
	snprintf(res->detail + used, sizeof(res->detail) - used, " remote-auth=%d", serial);
}

/*
 * RFC 9289 (RPC-with-TLS) has the client offer ALPN "sunrpc" and the
 * server answer with it.  Linux's NFS client and server under tlshd send
 * no ALPN at all, so a client that sends none is still served and a
 * server that answers with none is still accepted: refusing them would
 * break mounts against every Linux peer.  What we do refuse is a client
 * that asks for other protocols only (no_application_protocol, inside the
 * handshake, before any key reaches the kernel).  The consumer is known
 * from the port (2049), as the kernel does not name it.
 */
static int use_sunrpc_alpn(struct handoff_config *cfg, bool server, struct hd_result *res)
{
	if (handoff_config_set_alpn(cfg, "sunrpc") < 0) {
		set_cause(res, EACCES, "ALPN \"sunrpc\": %s", handoff_config_error(cfg));
		return -1;
	}
	if (server)
		handoff_config_refuse_alpn_mismatch(cfg);
	return 0;
}

static uint32_t status_for(const char *why)
{
	/* ETIMEDOUT tells the consumer to try again; EACCES that it is refused. */
	if (strstr(why, "timed out"))
		return ETIMEDOUT;
	if (strstr(why, "unknown_psk_identity") || strstr(why, "unknown PSK") ||
	    strstr(why, "password/key file"))
		return EKEYREJECTED;
	return EACCES;
}

static unsigned long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000 + (unsigned long)ts.tv_nsec / 1000000;
}

int hd_handshake_drive(struct handoff *h, unsigned budget_ms)
{
	unsigned long deadline = now_ms() + budget_ms;
	int ret;

	/* The kernel hands over a blocking socket; a non-blocking one is polled. */
	while ((ret = handoff_handshake(h)) == HANDOFF_WANT_POLLIN || ret == HANDOFF_WANT_POLLOUT) {
		struct pollfd pfd = {
			.fd = handoff_conn_fd(h),
			.events = ret == HANDOFF_WANT_POLLIN ? POLLIN : POLLOUT,
		};
		unsigned long t = now_ms();

		if (t >= deadline || poll(&pfd, 1, (int)(deadline - t)) == 0)
			return -ETIMEDOUT;
	}
	return ret;
}

void hd_handshake_describe(struct handoff *h, char *buf, size_t size)
{
	snprintf(buf, size, "%s %s%s%s%s%s%s%s",
		 handoff_conn_version(h), handoff_conn_cipher(h),
		 handoff_conn_peer_subject(h) ? " peer-cert=\"" : "",
		 handoff_conn_peer_subject(h) ? handoff_conn_peer_subject(h) : "",
		 handoff_conn_peer_subject(h) ? "\"" : "",
		 handoff_conn_psk_identity(h) ? " psk=\"" : "",
		 handoff_conn_psk_identity(h) ? handoff_conn_psk_identity(h) : "",
		 handoff_conn_psk_identity(h) ? "\"" : "");
}

/* What every kernel consumer's handshake starts from; NULL, with the cause in res. */
static struct handoff_config *base_config(bool server, bool nfs, struct hd_result *res)
{
	struct handoff_config *cfg = handoff_config_new();

	if (!cfg) {
		set_cause(res, ENOMEM, "out of memory");
		return NULL;
	}
	/* Kernel consumers speak TLS 1.3 only (RFC 9289 for NFS, TP 8011 for NVMe). */
	handoff_config_set_protocols(cfg, HANDOFF_PROTOCOL_TLSv1_3);
	handoff_config_disable_tickets(cfg);
	if (nfs && use_sunrpc_alpn(cfg, server, res) < 0) {
		handoff_config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* An X.509 (or unauthenticated) handshake's config: the part a worker may keep. */
struct x509_build {
	const struct hd_request *req;
	const struct hd_conf_side *side;
	bool server, nfs;
	struct hd_result *res;
};

static struct handoff_config *build_x509(void *arg)
{
	struct x509_build *b = arg;
	struct handoff_config *cfg = base_config(b->server, b->nfs, b->res);

	if (!cfg)
		return NULL;
	if (setup_x509(cfg, b->req, b->side, b->server, b->res) < 0) {
		handoff_config_free(cfg);
		return NULL;
	}
	handoff_config_keep_peer_cert(cfg);
	return cfg;
}

/*
 * The config for an X.509 or unauthenticated request: from the worker's
 * cache when it comes from files only; built for this request alone when
 * the kernel named the certificate and key (serials differ per request).
 */
static struct handoff_config *x509_config(const struct hd_request *req, const struct hd_conf *conf,
					  const struct hd_conf_side *side, bool server, bool nfs,
					  struct hd_credcache *cache, struct hd_result *res, int *owned)
{
	struct x509_build b = { .req = req, .side = side, .server = server, .nfs = nfs, .res = res };
	bool kernel_keys = req->auth_mode == HS_AUTH_X509 && req->n_certs &&
			   req->certs[0].cert != HS_NO_KEY;
	const char *files[HD_CREDCACHE_FILES] = {
		side->truststore, side->crl, side->certificate, side->private_key,
	};
	unsigned key = (server ? 1u : 0u) | (req->auth_mode == HS_AUTH_X509 ? 2u : 0u) |
		       (nfs ? 4u : 0u);

	return hd_credcache_get(kernel_keys ? NULL : cache, key, conf->generation, files,
				HD_CREDCACHE_FILES, build_x509, &b, owned);
}

uint32_t hd_handshake(const struct hd_request *req, const struct hd_conf *conf,
		      struct hd_credcache *cache, unsigned budget_ms, struct hd_result *res)
{
	bool server = req->msg_type == HS_MSG_TYPE_SERVERHELLO;
	const struct hd_conf_side *side = server ? &conf->server : &conf->client;
	struct psk_lookup psk = { 0 };
	struct handoff_config *cfg = NULL;
	struct handoff *h = NULL;
	char ip[INET6_ADDRSTRLEN], skipped[320] = "";
	const char *name;
	int owned = 1, ret;
	bool nfs;

	memset(res, 0, sizeof(*res));
	res->status = EACCES;
	identify(req, res, ip, sizeof(ip));
	nfs = strcmp(res->consumer, "nfs") == 0;

	if (budget_ms == 0) {
		set_cause(res, ETIMEDOUT, "timeout: the kernel's deadline passed while queued");
		return res->status;
	}

	switch (req->auth_mode) {
	case HS_AUTH_UNAUTH:
	case HS_AUTH_X509:
		cfg = x509_config(req, conf, side, server, nfs, cache, res, &owned);
		if (!cfg)
			goto out;
		break;
	case HS_AUTH_PSK:
		cfg = base_config(server, nfs, res);
		if (!cfg)
			goto out;
		if (server) {
			/* The kernel names no key: the client's identity does (NVMe target). */
			handoff_config_set_psk_lookup(cfg, psk_from_keyring, &psk);
		} else if (setup_psk_client(cfg, req, res, skipped, sizeof(skipped)) < 0) {
			goto out;
		}
		break;
	default:
		set_cause(res, EOPNOTSUPP, "auth mode %u is not supported", req->auth_mode);
		goto out;
	}
	/* Per request, so also on a kept config: this worker's alone until we return. */
	handoff_config_set_handshake_timeout(cfg, budget_ms);

	if (server) {
		h = handoff_server(cfg, req->sockfd);
	} else {
		/* The name the consumer was given; else the address, checked against IP SANs. */
		name = req->peername[0] ? req->peername : ip[0] ? ip : NULL;
		h = handoff_client(cfg, req->sockfd, name);
	}
	if (!h) {
		set_cause(res, EACCES, "cannot start the handshake: %s", strerror(errno));
		goto out;
	}
	ret = hd_handshake_drive(h, budget_ms);
	if (ret == -ETIMEDOUT) {
		set_cause(res, ETIMEDOUT, "timeout: no handshake within %u ms", budget_ms);
		goto out;
	}
	if (ret < 0) {
		if (server && req->auth_mode == HS_AUTH_PSK && psk.err && psk.why[0])
			/* The identity is long (two NQNs): the key's serial names it, the reason must fit. */
			set_cause(res, EKEYREJECTED, "PSK identity refused: key %u: %s", psk.serial,
				  psk.why);
		else if (server && req->auth_mode == HS_AUTH_PSK && psk.err)
			set_cause(res, EKEYREJECTED, "PSK identity unknown: %s (%s)",
				  handoff_error(h), strerror(-psk.err));
		else
			set_cause(res, status_for(handoff_error(h)), "%s", handoff_error(h));
		res->n_remote_auth = 0;
		goto out;
	}
	if (server && req->auth_mode == HS_AUTH_PSK) {
		/* The target learns which host it talks to from the key's serial. */
		res->remote_auth[0] = psk.serial;
		res->n_remote_auth = 1;
	}
	hd_handshake_describe(h, res->detail, sizeof(res->detail));
	if (handoff_conn_alpn(h)) {
		size_t used = strlen(res->detail);

		put_text(res->detail + used, sizeof(res->detail) - used, " alpn=%s", handoff_conn_alpn(h));
	}
	if (req->auth_mode != HS_AUTH_PSK)
		report_peer_cert(h, res);
	if (skipped[0]) {
		size_t used = strlen(res->detail);

		put_text(res->detail + used, sizeof(res->detail) - used, "%s", skipped);
	}
	res->status = 0;
	res->cause[0] = '\0';

out:
	if (res->status)
		res->n_remote_auth = 0;
	handoff_free(h);
	if (owned)
		handoff_config_free(cfg);
	return res->status;
}
