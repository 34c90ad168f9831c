/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The connection object: creation, the handshake-then-hand-off sequence,
 * and what was negotiated.  I/O after the hand-off lives in core/io.c.
 */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/conn.h"
#include "core/frontdoor.h"
#include "handshake/engine.h"
#include "handshake/posthandshake.h"
#include "handshake/secrets.h"
#include "ktls/ktls.h"
#include "probe/probe.h"

static int conn_vfail(struct handoff *h, int code, const char *fmt, va_list ap)
{
	char msg[ERRBUF_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	errbuf_set(&h->err, "%s", msg);
	h->err_code = code;
	h->state = CONN_FAILED;
	/* Nothing follows a failure: no KeyUpdate will need these. */
	secrets_wipe(h);
	return -1;
}

int conn_fail(struct handoff *h, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = conn_vfail(h, ECONNABORTED, fmt, ap);
	va_end(ap);
	return ret;
}

int conn_fail_code(struct handoff *h, int code, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = conn_vfail(h, code, fmt, ap);
	va_end(ap);
	return ret;
}

void conn_set_test_flags(struct handoff *h, unsigned flags)
{
	h->test_flags = flags;
}

static struct handoff *conn_new(struct handoff_config *cfg, int fd, bool is_server,
				const char *servername)
{
	struct handoff *h;
	int type;
	socklen_t len = sizeof(type);

	if (!cfg || fd < 0) {
		errno = EINVAL;
		return NULL;
	}
	/* kTLS lives on stream sockets; refuse anything else before it can mislead. */
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return NULL;
	if (type != SOCK_STREAM) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->hs = calloc(1, sizeof(*h->hs));
	if (!h->hs) {
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	h->fd = fd;
	h->is_server = is_server;
	h->state = CONN_NEW;
	if (servername && !(h->servername = strdup(servername))) {
		free(h->hs);
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	h->cfg = config_ref(cfg);
	return h;
}

struct handoff *handoff_client(struct handoff_config *cfg, int fd, const char *servername)
{
	return conn_new(cfg, fd, false, servername);
}

struct handoff *handoff_server(struct handoff_config *cfg, int fd)
{
	return conn_new(cfg, fd, true, NULL);
}

/* The hash of a TLS 1.3 suite sets its secrets' length: SHA-384 for AES-256-GCM only. */
static size_t suite_secret_len(enum handoff_cipher cipher)
{
	return cipher == HANDOFF_CIPHER_AES_256_GCM ? 48 : 32;
}

static bool adopt_params_ok(const struct handoff_ktls_params *p)
{
	if ((unsigned)p->version >= HANDOFF_TLS_VERSION_COUNT ||
	    (unsigned)p->cipher >= HANDOFF_CIPHER_COUNT)
		return false;
	if (!p->write_secret && !p->read_secret)
		return p->secret_len == 0;
	/* Both or none: one direction alone could follow only half a KeyUpdate. */
	return p->write_secret && p->read_secret && p->version == HANDOFF_TLS_1_3 &&
	       p->secret_len == suite_secret_len(p->cipher);
}

/* The kernel must run what the caller says, in both directions: a wrong claim fails here. */
static bool kernel_holds(int fd, const struct handoff_ktls_params *p)
{
	enum handoff_tls_version v;
	enum handoff_cipher c;
	int dir[2] = { TLS_TX, TLS_RX };

	for (int i = 0; i < 2; i++)
		if (ktls_get_params(fd, dir[i], &v, &c) < 0 || v != p->version || c != p->cipher)
			return false;
	return true;
}

struct handoff *conn_adopt_ktls(struct handoff_config *cfg, int fd,
				const struct handoff_ktls_params *p, unsigned test_flags)
{
	struct handoff *h;

	if (!p || !adopt_params_ok(p)) {
		errno = EINVAL;
		return NULL;
	}
	if (!(test_flags & CONN_TEST_NO_INSTALL) && fd >= 0 && !kernel_holds(fd, p)) {
		errno = EINVAL;
		return NULL;
	}
	h = conn_new(cfg, fd, p->is_server, NULL);
	if (!h)
		return NULL;
	/* Straight to the state after a lean hand-off: nothing of a handshake is kept. */
	free(h->hs);
	h->hs = NULL;
	h->test_flags = test_flags;
	h->negotiated = true;
	h->version = p->version;
	h->cipher = p->cipher;
	h->state = CONN_KTLS;
	h->in_kernel = !(test_flags & CONN_TEST_NO_INSTALL);
	h->lean_planned = true;
	h->lean = true;
	h->adopted = true;
	h->role_unknown = p->role_unknown != 0;
	if (p->secret_len)
		secrets_set(h, p->write_secret, p->read_secret, p->secret_len);
	return h;
}

struct handoff *handoff_adopt_ktls(struct handoff_config *cfg, int fd,
				   const struct handoff_ktls_params *p)
{
	return conn_adopt_ktls(cfg, fd, p, 0);
}

int handoff_conn_traffic_secrets(struct handoff *h, uint8_t *write_secret,
				 uint8_t *read_secret, size_t size)
{
	int ret;

	if (!h || !write_secret || !read_secret || size < 48) {
		errno = EINVAL;
		return -1;
	}
	if (h->state != CONN_KTLS || !h->lean) {
		errno = ENOKEY;
		return -1;
	}
	ret = secrets_get(h, write_secret, read_secret);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

static int fail_no_ulp(struct handoff *h, int err)
{
	return conn_fail(h, "kernel TLS unavailable: TCP_ULP \"tls\": %s (%s)", strerror(err),
			 probe_advice("ulp", err));
}

/*
 * Probe the kernel once for the whole handshake (the engine filters the
 * ciphers with it, the hand-off checks the negotiated pair against it), and
 * fail before any byte goes out when the kernel could not take the keys.
 */
static int check_kernel(struct handoff *h)
{
	if (h->test_flags & CONN_TEST_NO_PROBE)
		return 0;
	h->hs->kernel_known = handoff_kernel_probe(&h->hs->kernel, 0) == 0;
	if (h->cfg->insecure_userspace_fallback)
		return 0;
	if (!h->hs->kernel_known)
		return conn_fail(h, "cannot probe kernel TLS support: %s", strerror(errno));
	if (h->hs->kernel.ulp_errno)
		return fail_no_ulp(h, h->hs->kernel.ulp_errno);
	return 0;
}

/*
 * The tls ULP goes on before the handshake, while the socket is surely
 * established.  A peer may send its last flight, data, close_notify and a
 * FIN all at once; by the time we hand off our socket is then in
 * CLOSE_WAIT, where the kernel refuses the ULP (ENOTCONN).  Without keys
 * the ULP passes bytes through untouched, so the handshake is unaffected.
 */
static int attach_ulp_early(struct handoff *h)
{
	int ret;

	if (h->test_flags & (CONN_TEST_NO_INSTALL | CONN_TEST_USERSPACE))
		return 0;
	ret = ktls_attach_ulp(h->fd);
	/* With the fallback allowed, the hand-off decides what a failure means. */
	if (ret == 0 || h->cfg->insecure_userspace_fallback)
		return 0;
	/* The kernel refuses the ULP once the peer's FIN is in: that is a hang-up, not a missing module. */
	if (ret == -ENOTCONN)
		return conn_fail_code(h, ECONNRESET, "the %s closed the connection before the handshake",
				      h->is_server ? "client" : "server");
	return fail_no_ulp(h, -ret);
}

static void set_deadline(struct handoff *h)
{
	unsigned ms = h->cfg->timeout_ms;

	if (!ms)
		return;
	clock_gettime(CLOCK_MONOTONIC, &h->hs->deadline);
	h->hs->deadline.tv_sec += ms / 1000;
	h->hs->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (h->hs->deadline.tv_nsec >= 1000000000L) {
		h->hs->deadline.tv_sec++;
		h->hs->deadline.tv_nsec -= 1000000000L;
	}
}

/* For non-blocking callers: GnuTLS only times out inside a blocking wait. */
static bool deadline_passed(const struct handoff *h)
{
	struct timespec now;

	if (!h->hs->deadline.tv_sec && !h->hs->deadline.tv_nsec)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > h->hs->deadline.tv_sec ||
	       (now.tv_sec == h->hs->deadline.tv_sec && now.tv_nsec >= h->hs->deadline.tv_nsec);
}

/*
 * When the session goes (the lean post-hand-off state, the default): once
 * the keys are in the kernel, on every connection except a client that
 * stores session tickets (a client with a session cache that did not ask
 * for no tickets): GnuTLS must read those to resume from them.  The
 * user-space fallback keeps the session too (GnuTLS carries the records).
 * What is left is handled in handshake/posthandshake.c without GnuTLS:
 * alerts, TLS 1.2 renegotiation (declined), TLS 1.3 KeyUpdate (followed
 * from the traffic secrets captured here) and tickets a client ignores.
 * Decided before the handshake, because the secrets are only handed out
 * during it.
 */
static void plan_lean(struct handoff *h)
{
	if (h->test_flags & (CONN_TEST_KEEP_SESSION | CONN_TEST_USERSPACE))
		return;
	if ((h->test_flags & CONN_TEST_NO_INSTALL) && !(h->test_flags & CONN_TEST_LEAN))
		return;
	if (!h->is_server && h->cfg->client_cache && !h->no_tickets)
		return;
	h->lean_planned = true;
	secrets_capture(h);
}

/*
 * Right after the hand-off: release the session (gnutls_deinit wipes its
 * keys; about 10 KiB per connection with its buffers) or keep it for
 * post-handshake messages.  A TLS 1.3 session whose secrets did not come
 * (not a suite we know) is kept: correctness before memory.
 */
static int after_hand_off(struct handoff *h)
{
	if (h->lean_planned && (h->version == HANDOFF_TLS_1_2 || secrets_have(h))) {
		if (h->version == HANDOFF_TLS_1_2 || h->cfg->no_key_update)
			secrets_wipe(h);
		gnutls_deinit(h->session);
		h->session = NULL;
		transport_release(&h->hs->transport);
		free(h->hs);
		h->hs = NULL;
		h->lean = true;
		return 0;
	}
	secrets_stop(h);
	return posthandshake_begin(h);
}

/*
 * Hand the record layer to the kernel, or (only when the caller chose it)
 * keep it in GnuTLS.  Once the ULP is attached there is no way back: a
 * failure after that point fails the connection.
 */
static int hand_off(struct handoff *h)
{
	const char *step = NULL;
	int ret;

	if ((h->test_flags & CONN_TEST_USERSPACE) && h->cfg->insecure_userspace_fallback)
		goto userspace;
	if (h->test_flags & CONN_TEST_NO_INSTALL) {
		h->state = CONN_KTLS;
		return after_hand_off(h);
	}
	if (h->hs->kernel_known && !handoff_kernel_supports(&h->hs->kernel, h->version, h->cipher)) {
		if (h->cfg->insecure_userspace_fallback)
			goto userspace;
		return conn_fail(h, "kernel TLS cannot run %s with %s (see 'handoff check')",
				 handoff_tls_version_name(h->version), handoff_cipher_name(h->cipher));
	}
	/* Bytes GnuTLS already decrypted would never reach the kernel's reader. */
	if (gnutls_record_check_pending(h->session) > 0)
		return conn_fail(h, "peer data arrived inside the handshake and cannot be handed to the kernel");
	ret = ktls_install(h->fd, h->session, &step);
	if (ret < 0) {
		if (step && strcmp(step, "TCP_ULP") == 0 && h->cfg->insecure_userspace_fallback)
			goto userspace;
		if (step && strcmp(step, "TCP_ULP") == 0)
			return fail_no_ulp(h, -ret);
		return conn_fail(h, "installing %s %s keys into the kernel failed at %s: %s",
				 handoff_tls_version_name(h->version),
				 handoff_cipher_name(h->cipher), step ? step : "?", strerror(-ret));
	}
	h->state = CONN_KTLS;
	h->in_kernel = true;
	/* Speed-ups only: a kernel without them carries the records just the same. */
	if (h->cfg->kernel_tx_zerocopy)
		(void)ktls_set_tx_zerocopy(h->fd);
	if (h->cfg->kernel_rx_no_pad && h->version == HANDOFF_TLS_1_3)
		(void)ktls_set_rx_no_pad(h->fd);
	return after_hand_off(h);

userspace:
	h->state = CONN_USERSPACE;
	secrets_stop(h);
	if (h->version == HANDOFF_TLS_1_2)
		transport_hold_tls12(&h->hs->transport, h->session);
	return 0;
}

int handoff_handshake(struct handoff *h)
{
	int ret;

	if (!h) {
		errno = EINVAL;
		return -1;
	}
	switch (h->state) {
	case CONN_KTLS:
	case CONN_USERSPACE:
		return 0;
	case CONN_CLOSED:
	case CONN_FAILED:
		if (!errbuf_get(&h->err))
			errbuf_set(&h->err, "connection is closed");
		return -1;
	case CONN_NEW:
		errbuf_clear(&h->err);
		set_deadline(h);
		if (check_kernel(h) < 0 || attach_ulp_early(h) < 0 || engine_setup(h) < 0)
			return -1;
		plan_lean(h);
		h->state = CONN_HANDSHAKING;
		break;
	case CONN_HANDSHAKING:
		if (deadline_passed(h))
			return conn_fail_code(h, ETIMEDOUT, "handshake timed out after %u ms",
					      h->cfg->timeout_ms);
		break;
	}
	ret = engine_handshake(h);
	if (ret != 0)
		return ret;
	return hand_off(h);
}

void handoff_free(struct handoff *h)
{
	if (!h)
		return;
	if (h->session)
		gnutls_deinit(h->session);	/* GnuTLS wipes its own key material */
	if (h->hs)
		transport_release(&h->hs->transport);
	free(h->hs);
	secrets_wipe(h);
	free(h->servername);
	free(h->alpn);
	free(h->peer_subject);
	free(h->peer_cert);
	free(h->psk_identity);
	free(h->cache_key);
	config_unref(h->cfg);
	errbuf_release(&h->err);
	free(h);
}

const char *handoff_error(struct handoff *h)
{
	return h ? errbuf_get(&h->err) : NULL;
}

void handoff_config_refuse_alpn_mismatch(struct handoff_config *cfg)
{
	if (cfg)
		cfg->alpn_refuse_mismatch = true;
}

void handoff_config_keep_peer_cert(struct handoff_config *cfg)
{
	if (cfg)
		cfg->keep_peer_cert = true;
}

const uint8_t *handoff_conn_peer_cert(struct handoff *h, size_t *len)
{
	if (!h || !h->peer_cert) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = h->peer_cert_len;
	return h->peer_cert;
}

void handoff_conn_no_tickets(struct handoff *h)
{
	if (h && h->state == CONN_NEW)
		h->no_tickets = true;
}

int handoff_set_fd(struct handoff *h, int fd)
{
	if (!h || fd < 0) {
		errno = EINVAL;
		return -1;
	}
	h->fd = fd;
	if (h->hs)
		h->hs->transport.fd = fd;	/* GnuTLS reaches the socket through this */
	return 0;
}

int handoff_error_code(struct handoff *h)
{
	return h && h->state == CONN_FAILED ? h->err_code : 0;
}

int handoff_conn_fd(struct handoff *h)
{
	return h->fd;
}

static bool established(const struct handoff *h)
{
	return h->negotiated;
}

const char *handoff_conn_version(struct handoff *h)
{
	return established(h) ? handoff_tls_version_name(h->version) : NULL;
}

const char *handoff_conn_cipher(struct handoff *h)
{
	return established(h) ? handoff_cipher_name(h->cipher) : NULL;
}

int handoff_conn_resumed(struct handoff *h)
{
	return established(h) && h->resumed;
}

const char *handoff_conn_alpn(struct handoff *h)
{
	return h->alpn;
}

const char *handoff_conn_servername(struct handoff *h)
{
	return h->servername;
}

const char *handoff_conn_psk_identity(struct handoff *h)
{
	return h->psk_identity;
}

const char *handoff_conn_peer_subject(struct handoff *h)
{
	return h->peer_subject;
}

int handoff_conn_ktls(struct handoff *h)
{
	return h->state == CONN_KTLS || (h->state == CONN_CLOSED && h->in_kernel);
}
