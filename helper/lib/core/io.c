/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The public read/write/close after the hand-off.  With kTLS the kernel
 * carries application data and gives back, typed, every other record;
 * those go to handshake/posthandshake.c.  With the user-space fallback
 * GnuTLS does it all and we only translate its return codes.
 *
 * A TCP EOF that did not follow a close_notify is an error here, not an
 * EOF: an attacker who can inject a FIN must not be able to cut a message
 * short unnoticed (TLS truncation).  Peers that close without close_notify
 * therefore read as -1 "connection closed without close_notify".
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/conn.h"
#include "core/frontdoor.h"
#include "handshake/alert.h"
#include "handshake/posthandshake.h"
#include "handshake/session.h"
#include "ktls/ktls.h"
#include "util/wipe.h"

/* Largest record plaintext (RFC 8446 5.1, RFC 5246 6.2.1): a non-data record always fits. */
#define IO_MAX_PLAINTEXT 16384

static int not_ready(struct handoff *h)
{
	if (h->state == CONN_FAILED) {
		if (!errbuf_get(&h->err))
			errbuf_set(&h->err, "connection has failed");
		return -1;
	}
	return errbuf_set(&h->err, "the handshake has not completed");
}

/* Failures both record paths (kernel and user space) report in the same words. */
static int fail_truncated(struct handoff *h)
{
	return conn_fail_code(h, ECONNRESET,
			      "connection closed without close_notify (possible truncation attack)");
}

static int fail_bad_mac(struct handoff *h)
{
	return conn_fail_code(h, EBADMSG,
			      "a record failed authentication (bad record MAC): the data was "
			      "corrupted or forged; the connection is unusable");
}

/* The kernel says EMSGSIZE; GnuTLS record overflow or an invalid length. */
static int fail_oversized(struct handoff *h)
{
	return conn_fail(h, "peer sent a TLS record of an invalid length (longer than TLS "
			    "allows): the connection is unusable");
}

static int fail_concurrent(struct handoff *h)
{
	return conn_fail(h, "records changed under a read: concurrent reads on one connection "
			    "are not supported");
}

/* ------------------------------------------------------------ kernel */

/*
 * Whether the kernel path carries this connection, also once it is closed.
 * Under CONN_TEST_NO_INSTALL the unit tests play the kernel themselves.
 */
static bool kernel_path(const struct handoff *h)
{
	return h->in_kernel || (h->test_flags & CONN_TEST_NO_INSTALL);
}

static ssize_t kernel_read_error(struct handoff *h, ssize_t err)
{
	switch (-err) {
	case EAGAIN:
		return HANDOFF_WANT_POLLIN;
	case EKEYEXPIRED:
		/* We re-key as soon as we see a KeyUpdate; this means someone else consumed it. */
		return conn_fail(h, "the kernel waits for a new receive key after a KeyUpdate that "
				    "handoff_read did not see (was the socket read directly?)");
	case EBADMSG:
		return fail_bad_mac(h);
	case EMSGSIZE:
		return fail_oversized(h);
	case EIO:
		return conn_fail(h, "kernel TLS reported an I/O error reading a record");
	default:
		return conn_fail(h, "reading from kernel TLS failed: %s", strerror((int)-err));
	}
}

/* One whole non-data record: the caller's buffer may be too small to hold it. */
static int kernel_control_record(struct handoff *h)
{
	uint8_t *rec = malloc(IO_MAX_PLAINTEXT);
	uint8_t type;
	ssize_t n;
	int ret;

	if (!rec)
		return conn_fail(h, "out of memory reading a TLS control record");
	n = ktls_recv_record(h->fd, rec, IO_MAX_PLAINTEXT, 0, &type);
	if (n < 0) {
		wipe_free(rec, IO_MAX_PLAINTEXT);
		return (int)kernel_read_error(h, n);
	}
	if (type == KTLS_RECORD_APPLICATION_DATA) {
		wipe_free(rec, IO_MAX_PLAINTEXT);
		return fail_concurrent(h);
	}
	ret = posthandshake_record(h, type, rec, (size_t)n);
	wipe_free(rec, IO_MAX_PLAINTEXT);	/* tickets are secrets */
	return ret;
}

static ssize_t kernel_read(struct handoff *h, void *buf, size_t len)
{
	uint8_t peek, type;
	ssize_t n;
	int ret;

	for (;;) {
		/*
		 * A small buffer could cut a control record in two.  A one-byte
		 * peek tells its type first, so such records are read whole
		 * into our own buffer and data straight into the caller's.
		 */
		if (len < IO_MAX_PLAINTEXT) {
			n = ktls_recv_record(h->fd, &peek, 1, MSG_PEEK, &type);
			if (n < 0)
				return kernel_read_error(h, n);
			/* Empty alerts and handshake records too: they are malformed, not EOF. */
			if (type != KTLS_RECORD_APPLICATION_DATA && type != KTLS_RECORD_NONE) {
				ret = kernel_control_record(h);
				if (ret < 0)
					return -1;
				if (ret == 1)
					return 0;	/* close_notify */
				continue;
			}
		}
		n = ktls_recv_record(h->fd, buf, len, 0, &type);
		if (n < 0)
			return kernel_read_error(h, n);
		if (type == KTLS_RECORD_APPLICATION_DATA) {
			if (n > 0)
				return n;
			/*
			 * Zero-length data records the kernel skipped, up to a
			 * record of another type or a FIN (ktls.h): nothing to
			 * return, and what follows them is read next.
			 */
			continue;
		}
		if (n == 0 && type == KTLS_RECORD_NONE)
			return fail_truncated(h);
		if (len < IO_MAX_PLAINTEXT) {
			wipe(buf, len);
			return fail_concurrent(h);
		}
		ret = posthandshake_record(h, type, buf, (size_t)n);
		wipe(buf, (size_t)n);
		if (ret < 0)
			return -1;
		if (ret == 1)
			return 0;
	}
}

static ssize_t kernel_write(struct handoff *h, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(h->fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return HANDOFF_WANT_POLLOUT;
	return conn_fail(h, "writing to kernel TLS failed: %s", strerror(errno));
}

static int kernel_close(struct handoff *h)
{
	static const uint8_t close_notify[2] = { GNUTLS_AL_WARNING, GNUTLS_A_CLOSE_NOTIFY };
	ssize_t n;

	n = ktls_send_record(h->fd, KTLS_RECORD_ALERT, close_notify, sizeof(close_notify),
			     MSG_DONTWAIT);
	if (n == -EAGAIN || n == -EWOULDBLOCK)
		return HANDOFF_WANT_POLLOUT;
	if (n < 0)
		return errbuf_set_errno(&h->err, (int)n, "sending close_notify failed");
	if ((size_t)n != sizeof(close_notify))
		return errbuf_set(&h->err, "sending close_notify failed: short write");
	return 0;
}

/* --------------------------------------------------------- user space */

/*
 * gnutls_record_recv() says GNUTLS_E_AGAIN after it consumed a record that
 * held nothing for the caller, even on a blocking socket: a post-handshake
 * message (h->seen, filled by posthandshake_hook(), also notices tickets)
 * or, in TLS 1.3, a zero-length application data record (GnuTLS 3.7.9;
 * in TLS 1.2 it skips those itself, up to 200 in one call, then says
 * GNUTLS_E_TOO_MANY_EMPTY_PACKETS).  A record read from the socket during
 * the call (the transport counts them) tells that apart from a real "no
 * data yet", at no cost to calls that return data.
 */
static int user_want(struct handoff *h)
{
	return gnutls_record_get_direction(h->session) ? HANDOFF_WANT_POLLOUT : HANDOFF_WANT_POLLIN;
}

/*
 * A TLS 1.2 handshake record the transport kept from GnuTLS
 * (transport_hold_tls12()): opened here and handled like one the kernel
 * hands back, so renegotiation is declined the same way on both paths.
 */
static int user_handshake_record(struct handoff *h, const uint8_t *rec, size_t rec_len)
{
	size_t n = IO_MAX_PLAINTEXT;
	uint8_t *pt = malloc(n);
	int ret;

	if (!pt)
		return conn_fail(h, "out of memory reading a TLS handshake record");
	ret = posthandshake_open_tls12(h->session, rec, rec_len, pt, &n);
	if (ret == 0)
		ret = posthandshake_record(h, KTLS_RECORD_HANDSHAKE, pt, n);
	else if (ret == -EBADMSG)
		ret = fail_bad_mac(h);
	else if (ret == -EMSGSIZE)
		ret = fail_oversized(h);
	else
		ret = conn_fail(h, "cannot open a TLS 1.2 handshake record: %s", strerror(-ret));
	wipe_free(pt, IO_MAX_PLAINTEXT);
	return ret < 0 ? -1 : 0;
}

static ssize_t user_read(struct handoff *h, void *buf, size_t len)
{
	struct conn_seen *seen = &h->seen;
	const uint8_t *held;
	uint64_t records;
	size_t held_len;
	ssize_t n;

	gnutls_handshake_set_hook_function(h->session, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_POST,
					   posthandshake_hook);
	for (;;) {
		memset(seen, 0, sizeof(*seen));
		seen->active = true;
		records = h->hs->transport.records;
		n = gnutls_record_recv(h->session, buf, len);
		seen->active = false;
		if (seen->tickets && !h->is_server)
			session_client_store(h);
		if (n > 0)
			return n;
		if (n == 0) {
			h->state = CONN_CLOSED;
			return 0;
		}
		switch (n) {
		case GNUTLS_E_AGAIN:
			held = transport_take_held(&h->hs->transport, &held_len);
			if (held) {
				if (user_handshake_record(h, held, held_len) < 0)
					return -1;
				continue;
			}
			if (seen->messages || h->hs->transport.records != records ||
			    gnutls_record_check_pending(h->session))
				continue;
			return user_want(h);
		case GNUTLS_E_INTERRUPTED:
		case GNUTLS_E_TOO_MANY_EMPTY_PACKETS:
			continue;
		case GNUTLS_E_WARNING_ALERT_RECEIVED:
			continue;
		case GNUTLS_E_PREMATURE_TERMINATION:
			return fail_truncated(h);
		case GNUTLS_E_FATAL_ALERT_RECEIVED: {
			char name[128];

			return conn_fail_code(h, ECONNRESET, "peer sent fatal alert: %s%s",
					      alert_describe(gnutls_alert_get(h->session), name,
							     sizeof(name)),
					      h->reneg_declined ?
						      " after we declined its renegotiation" : "");
		}
		case GNUTLS_E_DECRYPTION_FAILED:
			return fail_bad_mac(h);
		case GNUTLS_E_RECORD_OVERFLOW:
		case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
			return fail_oversized(h);
		case GNUTLS_E_PULL_ERROR:
			return conn_fail(h, "reading from the socket failed: %s", strerror(errno));
		default:
			return conn_fail(h, "TLS read failed: %s", gnutls_strerror((int)n));
		}
	}
}

static ssize_t user_write(struct handoff *h, const void *buf, size_t len)
{
	unsigned tries = 0;
	ssize_t n;

	do
		n = gnutls_record_send(h->session, buf, len);
	while (n == GNUTLS_E_INTERRUPTED ||
	       (n == GNUTLS_E_AGAIN && transport_retry_again(h->fd, &tries)));
	if (n >= 0)
		return n;
	if (n == GNUTLS_E_AGAIN)
		return user_want(h);
	if (n == GNUTLS_E_PUSH_ERROR)
		return conn_fail(h, "writing to the socket failed: %s", strerror(errno));
	return conn_fail(h, "TLS write failed: %s", gnutls_strerror((int)n));
}

static int user_close(struct handoff *h)
{
	unsigned tries = 0;
	int ret;

	do
		ret = gnutls_bye(h->session, GNUTLS_SHUT_WR);
	while (ret == GNUTLS_E_INTERRUPTED ||
	       (ret == GNUTLS_E_AGAIN && transport_retry_again(h->fd, &tries)));
	if (ret == GNUTLS_E_AGAIN)
		return user_want(h);
	if (ret < 0)
		return errbuf_set(&h->err, "sending close_notify failed: %s", gnutls_strerror(ret));
	return 0;
}

/* ------------------------------------------------------------ public */

ssize_t handoff_read(struct handoff *h, void *buf, size_t len)
{
	if (!h || (!buf && len)) {
		errno = EINVAL;
		return -1;
	}
	switch (h->state) {
	case CONN_KTLS:
		/* recvmsg with an empty buffer reads as EOF: never ask it. */
		return len ? kernel_read(h, buf, len) : 0;
	case CONN_USERSPACE:
		return len ? user_read(h, buf, len) : 0;
	case CONN_CLOSED:
		return 0;	/* the peer's close_notify stays an EOF */
	default:
		return not_ready(h);
	}
}

ssize_t handoff_write(struct handoff *h, const void *buf, size_t len)
{
	if (!h || (!buf && len)) {
		errno = EINVAL;
		return -1;
	}
	if (h->sent_close && (h->state == CONN_KTLS || h->state == CONN_USERSPACE ||
			      h->state == CONN_CLOSED))
		return errbuf_set(&h->err, "cannot write: close_notify was already sent");
	switch (h->state) {
	case CONN_KTLS:
		return len ? kernel_write(h, buf, len) : 0;
	case CONN_USERSPACE:
		/* As write(2): nothing is sent (GnuTLS would call an empty write invalid). */
		return len ? user_write(h, buf, len) : 0;
	case CONN_CLOSED:
		/* The peer closed its direction; ours stays open until handoff_close(). */
		if (kernel_path(h))
			return len ? kernel_write(h, buf, len) : 0;
		if (h->session)
			return len ? user_write(h, buf, len) : 0;
		return not_ready(h);
	default:
		return not_ready(h);
	}
}

/*
 * Only our direction closes: state stays as it is (CONN_CLOSED means the
 * peer's close_notify arrived), so the caller may still read the peer's
 * last data and its close_notify after calling this.
 */
int handoff_close(struct handoff *h)
{
	int ret;

	if (!h) {
		errno = EINVAL;
		return -1;
	}
	if (h->sent_close)
		return 0;
	switch (h->state) {
	case CONN_KTLS:
		ret = kernel_close(h);
		break;
	case CONN_USERSPACE:
		ret = user_close(h);
		break;
	case CONN_CLOSED:
		if (kernel_path(h))
			ret = kernel_close(h);
		else if (h->session)
			ret = user_close(h);
		else
			return not_ready(h);
		break;
	default:
		return not_ready(h);
	}
	if (ret == 0)
		h->sent_close = true;
	return ret;
}

/* ------------------------------------------------- front doors (frontdoor.h) */

/* Both calls act on a kTLS connection only: 0 to go on, or what to return. */
static int frontdoor_state(struct handoff *h, int *ret)
{
	if (!h) {
		errno = EINVAL;
		*ret = -1;
	} else if (h->state == CONN_CLOSED) {
		*ret = 1;	/* the peer's close_notify stays the end */
	} else if (h->state != CONN_KTLS) {
		*ret = not_ready(h);
	} else {
		return 0;
	}
	return -1;
}

int handoff_take_control_record(struct handoff *h)
{
	uint8_t peek, type;
	ssize_t n;
	int ret;

	if (frontdoor_state(h, &ret) < 0)
		return ret;
	n = ktls_recv_record(h->fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT, &type);
	if (n < 0)
		return (int)kernel_read_error(h, n);
	/* Data (or the end of the stream) is next: the program's own read takes it. */
	if (n == 0 || type == KTLS_RECORD_APPLICATION_DATA)
		return 0;
	ret = kernel_control_record(h);
	if (ret < 0)
		return -1;
	return ret == 1 ? 1 : 0;
}

int handoff_zero_read(struct handoff *h)
{
	uint8_t peek, type;
	unsigned rounds;
	ssize_t n;
	int ret;

	if (frontdoor_state(h, &ret) < 0)
		return ret;
	/*
	 * A plain read(2) gives 0 for the TCP peer's FIN, and also for empty
	 * data records that come before an alert, a handshake record or a
	 * FIN (ktls.h).  The TCP state cannot tell them apart (measured: it is
	 * CLOSE_WAIT for "empty, close_notify, FIN" too); the record-type
	 * control message can: look at what is next without taking it, and
	 * take only empty records.
	 */
	for (rounds = 0; rounds < 64; rounds++) {
		n = ktls_recv_record(h->fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT, &type);
		if (n == -EAGAIN || n == -EWOULDBLOCK || n > 0)
			return 0;	/* nothing yet, or data / a record to act on: read again */
		if (n < 0)
			return (int)kernel_read_error(h, n);
		if (type == KTLS_RECORD_NONE)
			return fail_truncated(h);
		if (type != KTLS_RECORD_APPLICATION_DATA)
			return 0;	/* an empty alert or handshake record: the read path says it is malformed */
		/* Empty data records (MSG_PEEK leaves them): take them, then look again. */
		n = ktls_recv_record(h->fd, &peek, 1, MSG_DONTWAIT, &type);
		if (n > 0) {
			/* Data arrived between the two calls and one byte of it is ours now. */
			wipe(&peek, sizeof(peek));
			return fail_concurrent(h);
		}
		if (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK)
			return (int)kernel_read_error(h, n);
	}
	return 0;
}
