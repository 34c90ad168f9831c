/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * After the hand-off the kernel decrypts every record, but it only
 * understands application data: alerts and post-handshake messages come
 * back to us (recvmsg with TLS_GET_RECORD_TYPE).  On the lean path (no
 * session left, see posthandshake.h) TLS 1.3 messages are parsed here
 * (on_handshake_tls13_lean).  Otherwise they go into
 * the GnuTLS session that did the handshake through the QUIC-style API
 * (gnutls_handshake_write), so GnuTLS parses, buffers and validates them
 * and derives the next keys; we only move those keys into the kernel.
 *
 * Facts this relies on (GnuTLS 3.7.9 source):
 *  - gnutls_handshake_write() after the initial negotiation runs
 *    _gnutls13_recv_async_handshake(), which loops over every complete
 *    message buffered (coalesced messages) and returns GNUTLS_E_AGAIN when
 *    a message is still incomplete (fragmented across records) instead of
 *    reading the transport, because a handshake read function is set.
 *  - A received KeyUpdate switches GnuTLS's read epoch at once: the new
 *    read key with sequence number 0 is what gnutls_record_get_state()
 *    returns right after.  With update_requested GnuTLS only schedules its
 *    reply for the next gnutls_record_send(), which kTLS never calls, so we
 *    send it ourselves with gnutls_session_key_update(session, 0).
 *  - Everything GnuTLS then writes as a handshake message reaches the read
 *    function, not the transport; it has to be sent under the old write
 *    key, before the new one goes into the kernel.
 *  - gnutls_handshake_write() refuses TLS 1.2 sessions once the handshake
 *    is over, so TLS 1.2 records are parsed here (only renegotiation can
 *    arrive, and kTLS cannot renegotiate).  GnuTLS's own record layer
 *    cannot decline one and go on either, so on the user-space path the
 *    transport holds TLS 1.2 handshake records back and they come here too.
 */
#include "common.h"

#include <gnutls/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handshake/alert.h"
#include "handshake/posthandshake.h"
#include "handshake/secrets.h"
#include "handshake/session.h"
#include "ktls/ktls.h"
#include "util/wipe.h"

#define HS_HEADER 4
/*
 * The most we let GnuTLS hold of a post-handshake message that has not
 * ended yet.  A NewSessionTicket is at most ~130 KiB by its length fields
 * and a few hundred bytes in practice; a KeyUpdate is 5 bytes.  GnuTLS
 * itself would buffer a claimed 16 MiB message.
 */
#define PH_MAX_PARTIAL (128 * 1024)
#define HS_HELLO_REQUEST 0
#define HS_CLIENT_HELLO 1

/*
 * Once the kernel owns the socket, bytes GnuTLS read or wrote itself would
 * be kernel-decrypted plaintext taken for records, or plaintext put on the
 * wire.  Nothing in this file needs the transport, so make any use of it a
 * hard error instead of a silent corruption.
 */
static ssize_t refuse_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	(void)ptr;
	(void)buf;
	(void)len;
	errno = EIO;
	return -1;
}

static ssize_t refuse_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
	(void)ptr;
	(void)buf;
	(void)len;
	errno = EIO;
	return -1;
}

static int refuse_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	(void)ptr;
	(void)ms;
	errno = EIO;
	return -1;
}

/* Post-handshake sends are a few bytes; a full send buffer is waited out, bounded by the handshake timeout. */
static int wait_writable(struct handoff *h)
{
	int timeout = h->cfg->timeout_ms ? (int)h->cfg->timeout_ms : -1;
	struct pollfd pfd = { .fd = h->fd, .events = POLLOUT };
	int ret;

	do
		ret = poll(&pfd, 1, timeout);
	while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	return ret == 0 ? -ETIMEDOUT : 0;
}

static int send_record(struct handoff *h, uint8_t type, const void *buf, size_t len)
{
	ssize_t n;
	int ret;

	for (;;) {
		n = ktls_send_record(h->fd, type, buf, len, 0);
		if (n >= 0)
			break;
		if (n != -EAGAIN && n != -EWOULDBLOCK)
			return (int)n;
		ret = wait_writable(h);
		if (ret < 0)
			return ret;
	}
	/* A record type travels per sendmsg: a remainder sent later would be a second record. */
	return (size_t)n == len ? 0 : -EIO;
}

/* An alert through whoever owns the record layer: the kernel, or GnuTLS (user-space fallback). */
static int send_alert_record(struct handoff *h, gnutls_alert_level_t level,
			     gnutls_alert_description_t desc)
{
	uint8_t alert[2] = { (uint8_t)level, (uint8_t)desc };
	int ret;

	if (h->state != CONN_USERSPACE)
		return send_record(h, KTLS_RECORD_ALERT, alert, sizeof(alert));
	/* GnuTLS keeps a record it could not send whole; calling again sends the rest. */
	for (;;) {
		ret = gnutls_alert_send(h->session, level, desc);
		if (ret == 0)
			return 0;
		if (ret == GNUTLS_E_INTERRUPTED)
			continue;
		if (ret != GNUTLS_E_AGAIN)
			return -EIO;
		ret = wait_writable(h);
		if (ret < 0)
			return ret;
	}
}

static void send_alert(struct handoff *h, gnutls_alert_level_t level,
		       gnutls_alert_description_t desc)
{
	/* Best effort: we are failing the connection anyway. */
	(void)send_alert_record(h, level, desc);
}

static int fail_fatal(struct handoff *h, gnutls_alert_description_t desc, const char *what)
{
	send_alert(h, GNUTLS_AL_FATAL, desc);
	return conn_fail(h, "%s", what);
}

static bool is_tls13(const struct handoff *h)
{
	return h->version == HANDOFF_TLS_1_3;
}

/* An adopted connection may not know which end it is: it then takes what either may receive. */
static bool may_be_client(const struct handoff *h)
{
	return !h->is_server || h->role_unknown;
}

static bool may_be_server(const struct handoff *h)
{
	return h->is_server || h->role_unknown;
}

static int on_alert(struct handoff *h, const uint8_t *data, size_t len)
{
	char name[128];
	unsigned level, desc;

	if (len != 2) {
		send_alert(h, GNUTLS_AL_FATAL, GNUTLS_A_DECODE_ERROR);
		return conn_fail(h, "peer sent a malformed alert record (%zu bytes, an alert is 2)", len);
	}
	level = data[0];
	desc = data[1];
	if (level != GNUTLS_AL_WARNING && level != GNUTLS_AL_FATAL) {
		send_alert(h, GNUTLS_AL_FATAL, GNUTLS_A_ILLEGAL_PARAMETER);
		return conn_fail(h, "peer sent an alert with invalid level %u", level);
	}
	if (desc == GNUTLS_A_CLOSE_NOTIFY) {
		h->state = CONN_CLOSED;
		return 1;
	}
	/*
	 * user_canceled announces a close_notify; TLS 1.2 warnings such as
	 * no_renegotiation do not end the connection.  In TLS 1.3 every other
	 * alert is fatal whatever level it claims (RFC 8446 6).
	 */
	if (desc == GNUTLS_A_USER_CANCELED || (!is_tls13(h) && level == GNUTLS_AL_WARNING))
		return 0;
	return conn_fail_code(h, ECONNRESET, "peer sent fatal alert: %s%s",
			      alert_describe(desc, name, sizeof(name)),
			      h->reneg_declined ? " after we declined its renegotiation" : "");
}

/*
 * TLS 1.2 after the handshake: only renegotiation can start here (a
 * HelloRequest to a client, a ClientHello to a server).  The record state
 * cannot be swapped under a running connection (not the kernel's, and
 * GnuTLS cannot decline and go on), so we decline politely (RFC 5246
 * 7.2.2, 7.4.1.1) and carry on.  A message may span records, with data
 * records between its fragments (RFC 5246 6.2.1): the header is kept and
 * the body counted across calls, and the refusal goes out once the message
 * is whole.  The body is never parsed, so nothing of it is kept.
 */
static int on_handshake_tls12(struct handoff *h, const uint8_t *data, size_t len)
{
	size_t off = 0, take, body;
	uint8_t type;
	char msg[160];
	int ret;

	while (off < len) {
		if (h->reneg_header_got < HS_HEADER) {
			take = HS_HEADER - h->reneg_header_got;
			if (take > len - off)
				take = len - off;
			memcpy(h->reneg_header + h->reneg_header_got, data + off, take);
			h->reneg_header_got += take;
			off += take;
			if (h->reneg_header_got < HS_HEADER)
				break;
			type = h->reneg_header[0];
			body = ((size_t)h->reneg_header[1] << 16) | ((size_t)h->reneg_header[2] << 8) |
			       h->reneg_header[3];
			if (!((type == HS_HELLO_REQUEST && body == 0 && may_be_client(h)) ||
			      (type == HS_CLIENT_HELLO && may_be_server(h)))) {
				snprintf(msg, sizeof(msg),
					 "peer sent an unexpected handshake message after the handshake: %s",
					 gnutls_handshake_description_get_name(type));
				return fail_fatal(h, GNUTLS_A_UNEXPECTED_MESSAGE, msg);
			}
			if (body > PH_MAX_PARTIAL - HS_HEADER) {
				snprintf(msg, sizeof(msg),
					 "peer sent a TLS 1.2 renegotiation ClientHello of %zu bytes "
					 "(more than 128 KiB)", HS_HEADER + body);
				return fail_fatal(h, GNUTLS_A_RECORD_OVERFLOW, msg);
			}
			h->reneg_body_left = body;
		}
		take = h->reneg_body_left < len - off ? h->reneg_body_left : len - off;
		h->reneg_body_left -= take;
		off += take;
		if (h->reneg_body_left)
			break;
		h->reneg_header_got = 0;
		ret = send_alert_record(h, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
		if (ret < 0)
			return conn_fail(h, "declining renegotiation failed: %s", strerror(-ret));
		h->reneg_declined = true;
	}
	return 0;
}

/* GnuTLS's outgoing post-handshake messages (our KeyUpdate) land here. */
static int ph_send_handshake(gnutls_session_t session, gnutls_record_encryption_level_t level,
			     gnutls_handshake_description_t htype, const void *data, size_t len)
{
	struct handoff *h = gnutls_session_get_ptr(session);
	int ret;

	(void)level;
	(void)htype;
	ret = send_record(h, KTLS_RECORD_HANDSHAKE, data, len);
	if (ret < 0) {
		if (h->seen.active)
			h->seen.send_err = ret;
		return GNUTLS_E_PUSH_ERROR;
	}
	return 0;
}

int posthandshake_hook(gnutls_session_t session, unsigned int htype, unsigned when,
		       unsigned int incoming, const gnutls_datum_t *msg)
{
	struct handoff *h = gnutls_session_get_ptr(session);
	struct conn_seen *seen = &h->seen;

	(void)when;
	if (!incoming || !seen->active)
		return 0;
	seen->messages++;
	if (seen->key_update)
		seen->after_key_update = true;
	if (htype == GNUTLS_HANDSHAKE_NEW_SESSION_TICKET) {
		seen->tickets++;
	} else if (htype == GNUTLS_HANDSHAKE_KEY_UPDATE) {
		seen->key_update = true;
		/* GnuTLS checked the length already; byte 1 means "update yours too". */
		if (msg && msg->size == 1 && msg->data[0] == 1)
			seen->update_requested = true;
	}
	return 0;
}

/* Give the kernel the key GnuTLS just derived for one direction. */
static int rekey(struct handoff *h, int read)
{
	struct ktls_crypto_info ci;
	int ret;

	if (!h->in_kernel)
		return 0;	/* nothing was installed (tests): GnuTLS's state is the whole truth */
	ret = ktls_keys_from_session(h->session, read, &ci);
	if (ret < 0)
		return conn_fail(h, "cannot take the new %s key from GnuTLS after a KeyUpdate: %s",
				 read ? "receive" : "send", strerror(-ret));
	ret = ktls_set_crypto(h->fd, read ? TLS_RX : TLS_TX, &ci);
	wipe(&ci, sizeof(ci));
	/* Before 6.14 a second TLS_RX/TLS_TX is refused: crypto info can be set only once. */
	if (ret == -EBUSY)
		return conn_fail(h, "peer sent a TLS 1.3 KeyUpdate, but this kernel cannot re-key "
				    "kernel TLS (needs Linux 6.14+)");
	if (ret < 0)
		return conn_fail(h, "installing the new %s key after a KeyUpdate failed: %s",
				 read ? "receive" : "send", strerror(-ret));
	return 0;
}

static int on_handshake_tls13(struct handoff *h, const uint8_t *data, size_t len)
{
	struct conn_seen *seen = &h->seen;
	char msg[200];
	int ret, alert, level;

	memset(seen, 0, sizeof(*seen));
	seen->active = true;
	ret = gnutls_handshake_write(h->session, GNUTLS_ENCRYPTION_LEVEL_APPLICATION, data, len);
	seen->active = false;
	/* The record ended inside a message: GnuTLS keeps the part until the rest arrives. */
	if (ret == GNUTLS_E_AGAIN) {
		/* A message ended in this record: only what follows it is unfinished. */
		if (seen->tickets || seen->key_update)
			h->ph_partial = 0;
		h->ph_partial += len;
		if (h->ph_partial > PH_MAX_PARTIAL)
			return fail_fatal(h, GNUTLS_A_RECORD_OVERFLOW,
					  "peer sent a post-handshake message larger than 128 KiB");
		ret = 0;
	} else {
		h->ph_partial = 0;
	}
	if (ret < 0) {
		if (ret == GNUTLS_E_UNEXPECTED_PACKET)
			snprintf(msg, sizeof(msg),
				 "peer sent an unexpected handshake message after the handshake: %s",
				 gnutls_handshake_description_get_name(
					 gnutls_handshake_get_last_in(h->session)));
		else
			snprintf(msg, sizeof(msg), "peer sent an invalid post-handshake message: %s",
				 gnutls_strerror(ret));
		alert = gnutls_error_to_alert(ret, &level);
		if (alert < 0)
			alert = GNUTLS_A_INTERNAL_ERROR;
		return fail_fatal(h, (gnutls_alert_description_t)alert, msg);
	}

	if (seen->tickets && !h->is_server)
		session_client_store(h);

	if (!seen->key_update)
		return 0;
	/*
	 * RFC 8446 5.1: handshake messages must not span a key change.
	 * GnuTLS rejects a whole message after a KeyUpdate but keeps a
	 * partial one (under 4 bytes) for later, which would then be
	 * completed by bytes sent under the new key, and it takes a second
	 * KeyUpdate in the same record.  The KeyUpdate has to be the last
	 * thing in its record.
	 */
	if (seen->after_key_update ||
	    (len >= 5 && (data[len - 5] != GNUTLS_HANDSHAKE_KEY_UPDATE || data[len - 4] != 0 ||
			 data[len - 3] != 0 || data[len - 2] != 1)))
		return fail_fatal(h, GNUTLS_A_UNEXPECTED_MESSAGE,
				  "peer sent handshake data after a KeyUpdate in the same record");
	/* The peer already sends under its new key: the kernel must decrypt with it next. */
	if (rekey(h, 1) < 0)
		return -1;
	if (!seen->update_requested)
		return 0;
	seen->active = true;
	ret = gnutls_session_key_update(h->session, 0);
	seen->active = false;
	if (ret < 0) {
		if (seen->send_err)
			return conn_fail(h, "sending our KeyUpdate failed: %s", strerror(-seen->send_err));
		return conn_fail(h, "answering the peer's KeyUpdate failed: %s", gnutls_strerror(ret));
	}
	/* Our KeyUpdate went out under the old key; everything after it uses the new one. */
	return rekey(h, 0);
}

/* ------------------------------------------- TLS 1.3 without a session */

/*
 * GnuTLS's own bound (lib/tls13/key_update.c): a peer that re-keys more
 * often than this makes us spend CPU on key derivation for nothing.
 */
#define KU_WINDOW_MS 1000
#define KU_PER_WINDOW 8

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool key_update_flood(struct handoff *h)
{
	uint64_t now = now_ms();

	if (!h->ku_window_ms || now - h->ku_window_ms > KU_WINDOW_MS) {
		h->ku_window_ms = now;
		h->ku_count = 0;
	}
	return ++h->ku_count > KU_PER_WINDOW;
}

/* One direction moves to its next secret, and the kernel to its key. */
static int rekey_lean(struct handoff *h, int read)
{
	struct ktls_crypto_info ci;
	int ret;

	ret = secrets_advance(h, read);
	if (ret == 0 && h->in_kernel) {
		ret = secrets_crypto_info(h, read, &ci);
		if (ret == 0)
			ret = ktls_set_crypto(h->fd, read ? TLS_RX : TLS_TX, &ci);
		wipe(&ci, sizeof(ci));
	}
	if (ret == -EBUSY)
		return conn_fail(h, "peer sent a TLS 1.3 KeyUpdate, but this kernel cannot re-key "
				    "kernel TLS (needs Linux 6.14+)");
	if (ret < 0)
		return conn_fail(h, "installing the new %s key after a KeyUpdate failed: %s",
				 read ? "receive" : "send", strerror(-ret));
	return 0;
}

static int on_key_update_lean(struct handoff *h, bool requested)
{
	static const uint8_t ku_not_requested[5] = { GNUTLS_HANDSHAKE_KEY_UPDATE, 0, 0, 1, 0 };
	int ret;

	if (!secrets_have(h) && h->adopted)
		return fail_fatal(h, GNUTLS_A_INTERNAL_ERROR,
				  "peer sent a TLS 1.3 KeyUpdate, but the traffic secrets are not in "
				  "this process (the handshake ran elsewhere and did not pass them on), "
				  "so the kernel cannot be re-keyed");
	if (!secrets_have(h))
		return fail_fatal(h, GNUTLS_A_INTERNAL_ERROR,
				  "peer sent a TLS 1.3 KeyUpdate, but this connection keeps no traffic "
				  "secrets to follow it (no-key-update, handoff_config_no_key_update)");
	if (key_update_flood(h))
		return fail_fatal(h, GNUTLS_A_UNEXPECTED_MESSAGE,
				  "peer sent more than 8 KeyUpdates within a second");
	/* The peer already sends under its new key: the kernel must decrypt with it next. */
	if (rekey_lean(h, 1) < 0)
		return -1;
	if (!requested)
		return 0;
	/* Ours goes out under the old key; everything after it under the new one. */
	ret = send_record(h, KTLS_RECORD_HANDSHAKE, ku_not_requested, sizeof(ku_not_requested));
	if (ret < 0)
		return conn_fail(h, "sending our KeyUpdate failed: %s", strerror(-ret));
	return rekey_lean(h, 0);
}

/*
 * The same messages GnuTLS would take after a TLS 1.3 handshake, parsed
 * here: KeyUpdate (RFC 8446 4.6.3) to either side, NewSessionTicket to a
 * client (which has no cache to keep it in: ignored, as GnuTLS ignores
 * tickets it was not asked for), nothing else (we never offer
 * post-handshake authentication).  Messages may be cut across records or
 * share one; the header, and a KeyUpdate's one byte, wait in h->ph_msg, a
 * ticket's body is only counted.  A KeyUpdate must end its record (RFC
 * 8446 5.1: no message spans a key change).
 */
static int on_handshake_tls13_lean(struct handoff *h, const uint8_t *data, size_t len)
{
	size_t off = 0, take;
	uint32_t body;
	uint8_t type;
	char msg[160];

	while (off < len) {
		if (h->ph_skip) {
			take = h->ph_skip < len - off ? h->ph_skip : len - off;
			h->ph_skip -= (uint32_t)take;
			off += take;
			continue;
		}
		if (h->ph_msg_got < HS_HEADER) {
			take = HS_HEADER - h->ph_msg_got;
			if (take > len - off)
				take = len - off;
			memcpy(h->ph_msg + h->ph_msg_got, data + off, take);
			h->ph_msg_got = (uint8_t)(h->ph_msg_got + take);
			off += take;
			if (h->ph_msg_got < HS_HEADER)
				break;
			type = h->ph_msg[0];
			body = ((uint32_t)h->ph_msg[1] << 16) | ((uint32_t)h->ph_msg[2] << 8) |
			       h->ph_msg[3];
			if (type == GNUTLS_HANDSHAKE_KEY_UPDATE) {
				if (body != 1) {
					snprintf(msg, sizeof(msg),
						 "peer sent an invalid post-handshake message: a KeyUpdate "
						 "of %u bytes (1 expected)", (unsigned)body);
					return fail_fatal(h, GNUTLS_A_DECODE_ERROR, msg);
				}
				continue;	/* its one byte next */
			}
			if (type == GNUTLS_HANDSHAKE_NEW_SESSION_TICKET && may_be_client(h)) {
				if (body > PH_MAX_PARTIAL - HS_HEADER)
					return fail_fatal(h, GNUTLS_A_RECORD_OVERFLOW,
							  "peer sent a post-handshake message larger than 128 KiB");
				h->ph_skip = body;
				h->ph_msg_got = 0;
				continue;
			}
			snprintf(msg, sizeof(msg),
				 "peer sent an unexpected handshake message after the handshake: %s",
				 gnutls_handshake_description_get_name(type));
			return fail_fatal(h, GNUTLS_A_UNEXPECTED_MESSAGE, msg);
		}
		/* The KeyUpdate's request byte. */
		h->ph_msg[HS_HEADER] = data[off++];
		h->ph_msg_got = 0;
		if (h->ph_msg[HS_HEADER] > 1) {
			snprintf(msg, sizeof(msg),
				 "peer sent an invalid post-handshake message: KeyUpdate request %u",
				 h->ph_msg[HS_HEADER]);
			return fail_fatal(h, GNUTLS_A_ILLEGAL_PARAMETER, msg);
		}
		if (off != len)
			return fail_fatal(h, GNUTLS_A_UNEXPECTED_MESSAGE,
					  "peer sent handshake data after a KeyUpdate in the same record");
		return on_key_update_lean(h, h->ph_msg[HS_HEADER] == 1);
	}
	return 0;
}

/*
 * RFC 5246 6.2.3.3 with the AEADs we negotiate: the nonce is the 4-byte
 * implicit salt and the record's 8-byte explicit part (AES-GCM, AES-CCM,
 * RFC 5288 / 6655), or the 12-byte IV XOR the sequence number
 * (ChaCha20-Poly1305, RFC 7905); the additional data is sequence number,
 * type, version and plaintext length; the tag is 16 bytes.
 */
#define OPEN_TAG 16
#define OPEN_EXPLICIT 8

int posthandshake_open_tls12(gnutls_session_t session, const uint8_t *rec, size_t rec_len,
			     uint8_t *out, size_t *out_len)
{
	gnutls_cipher_algorithm_t alg = gnutls_cipher_get(session);
	gnutls_aead_cipher_hd_t aead;
	gnutls_datum_t iv, key;
	uint8_t seq[8], nonce[12], aad[13];
	const uint8_t *ct;
	size_t ct_len, pt_len, explicit, i;
	int ret;

	if (rec_len < 5 || (((size_t)rec[3] << 8) | rec[4]) != rec_len - 5)
		return -EINVAL;
	if (gnutls_record_get_state(session, 1, NULL, &iv, &key, seq) < 0)
		return -EIO;
	switch (alg) {
	case GNUTLS_CIPHER_AES_128_GCM:
	case GNUTLS_CIPHER_AES_256_GCM:
	case GNUTLS_CIPHER_AES_128_CCM:
		if (iv.size != 4)
			return -EIO;
		explicit = OPEN_EXPLICIT;
		if (rec_len - 5 < explicit)
			return -EBADMSG;
		memcpy(nonce, iv.data, 4);
		memcpy(nonce + 4, rec + 5, explicit);
		break;
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		if (iv.size != sizeof(nonce))
			return -EIO;
		explicit = 0;
		memcpy(nonce, iv.data, sizeof(nonce));
		for (i = 0; i < sizeof(seq); i++)
			nonce[4 + i] ^= seq[i];
		break;
	default:
		return -EOPNOTSUPP;
	}
	ct = rec + 5 + explicit;
	ct_len = rec_len - 5 - explicit;
	if (ct_len < OPEN_TAG)
		return -EBADMSG;
	pt_len = ct_len - OPEN_TAG;
	if (*out_len < pt_len)
		return -EMSGSIZE;
	memcpy(aad, seq, sizeof(seq));
	memcpy(aad + 8, rec, 3);
	aad[11] = (uint8_t)(pt_len >> 8);
	aad[12] = (uint8_t)pt_len;

	if (gnutls_aead_cipher_init(&aead, alg, &key) < 0)
		return -EIO;
	ret = gnutls_aead_cipher_decrypt(aead, nonce, sizeof(nonce), aad, sizeof(aad), OPEN_TAG,
					 ct, ct_len, out, out_len);
	gnutls_aead_cipher_deinit(aead);
	wipe(nonce, sizeof(nonce));
	if (ret < 0)
		return -EBADMSG;
	/* GnuTLS opens the next record: with the next number. */
	for (i = sizeof(seq); i-- > 0;)
		if (++seq[i])
			break;
	if (gnutls_record_set_state(session, 1, seq) < 0)
		return -EIO;
	return 0;
}

int posthandshake_begin(struct handoff *h)
{
	gnutls_transport_set_pull_function(h->session, refuse_pull);
	gnutls_transport_set_pull_timeout_function(h->session, refuse_pull_timeout);
	gnutls_transport_set_push_function(h->session, refuse_push);
	if (!is_tls13(h))
		return 0;
	/*
	 * Only now: set during the handshake, the read function would have
	 * taken GnuTLS's outgoing handshake messages off the wire.
	 */
	gnutls_handshake_set_read_function(h->session, ph_send_handshake);
	gnutls_handshake_set_hook_function(h->session, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_POST,
					   posthandshake_hook);
	return 0;
}

int posthandshake_record(struct handoff *h, uint8_t type, const uint8_t *data, size_t len)
{
	char msg[120];

	if (!data && len)
		return conn_fail(h, "internal error: post-handshake record without data");
	switch (type) {
	case KTLS_RECORD_ALERT:
		return on_alert(h, data, len);
	case KTLS_RECORD_HANDSHAKE:
		/* RFC 8446 5.1 / RFC 5246 6.2.1: no zero-length handshake fragments. */
		if (len == 0)
			return fail_fatal(h, GNUTLS_A_UNEXPECTED_MESSAGE,
					  "peer sent an empty handshake record after the handshake");
		if (!is_tls13(h))
			return on_handshake_tls12(h, data, len);
		return h->lean ? on_handshake_tls13_lean(h, data, len) :
				 on_handshake_tls13(h, data, len);
	case KTLS_RECORD_CHANGE_CIPHER_SPEC:
		return fail_fatal(h, GNUTLS_A_UNEXPECTED_MESSAGE,
				  "peer sent ChangeCipherSpec after the handshake");
	case KTLS_RECORD_APPLICATION_DATA:
		/* RFC 8446 5.1 / RFC 5246 6.2.1: zero-length application data is legal, and nothing. */
		if (len == 0)
			return 0;
		return conn_fail(h, "internal error: application data passed as a post-handshake record");
	default:
		snprintf(msg, sizeof(msg), "peer sent a record of unknown content type %u", type);
		return fail_fatal(h, GNUTLS_A_UNEXPECTED_MESSAGE, msg);
	}
}
