/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The records the kernel hands back on a connection this image inherited
 * through exec (inherit.c): it has no GnuTLS session, no traffic secrets
 * (nothing crosses exec), and no known role (the process before exec made
 * it; the kernel's TLS state does not say which end we are), while the
 * engine's session-less path (handoff_adopt_ktls(), which delegated
 * connections use) is role-specific: a server refuses a ticket, a client a
 * ClientHello.  So these records are still dealt with here, taking
 * whatever either role may receive.
 *
 * kTLS has already decrypted the record; only its meaning is ours:
 *  - alert close_notify: the end of the stream (reads return 0);
 *    user_canceled and TLS 1.2 warnings: nothing; any other: ECONNRESET;
 *  - NewSessionTicket: dropped (there is no session to resume with; the
 *    caller asked for none, but a server may send one anyway);
 *  - HelloRequest (TLS 1.2 renegotiation): declined with a warning
 *    no_renegotiation, as the engine does;
 *  - KeyUpdate (TLS 1.3): the new keys derive from a traffic secret that
 *    only the process before exec had.  Fail closed (ECONNABORTED): going
 *    on would read the peer's next records with a key it no longer uses;
 *  - anything else after the handshake: ECONNABORTED.
 * No close_notify goes out from here: an inherited connection is the
 * owner's before exec to close (conn_adopt() marks it forked).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/shim.h"
#include "ktls/ktls.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define ALERT_WARNING 1
#define ALERT_CLOSE_NOTIFY 0
#define ALERT_USER_CANCELED 90
#define ALERT_NO_RENEGOTIATION 100
#define HS_HELLO_REQUEST 0
#define HS_NEW_SESSION_TICKET 4
#define HS_KEY_UPDATE 24
#define RECORD_MAX (16384 + 256)

static int fail(char *why, size_t size, int err, const char *text)
{
	snprintf(why, size, "%s", text);
	return -err;
}

/* One record's handshake messages (a record may hold several, each whole here). */
static int handshake_record(int fd, const uint8_t *p, size_t n, bool tls13, char *why, size_t size)
{
	static const uint8_t no_reneg[2] = { ALERT_WARNING, ALERT_NO_RENEGOTIATION };

	while (n) {
		size_t len;

		if (n < 4)
			return fail(why, size, ECONNABORTED, "a cut handshake message after the handshake");
		len = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		if (len > n - 4)
			return fail(why, size, ECONNABORTED,
				    "a handshake message split across records after the handshake "
				    "(not supported without a session)");
		switch (p[0]) {
		case HS_NEW_SESSION_TICKET:
			break;	/* nothing to resume with: the session stayed in handoffd */
		case HS_KEY_UPDATE:
			snprintf(why, size, "the peer sent a TLS 1.3 KeyUpdate: the traffic secrets "
				 "are not in this process (they stayed in the process that exec'd "
				 "this one), so the kernel cannot be re-keyed; connection closed");
			return -ECONNABORTED;
		case HS_HELLO_REQUEST:
			if (!tls13 && len == 0 &&
			    ktls_send_record(fd, KTLS_RECORD_ALERT, no_reneg, 2, MSG_DONTWAIT) == 2)
				break;
			return fail(why, size, ECONNABORTED, "renegotiation request could not be declined");
		default:
			snprintf(why, size, "unexpected handshake message %u after the handshake", p[0]);
			return -ECONNABORTED;
		}
		p += 4 + len;
		n -= 4 + len;
	}
	return 0;
}

int records_take_control(int fd, char *why, size_t size)
{
	uint8_t peek, type, *buf;
	ssize_t n;
	int ret = 0;
	bool tls13;
	struct tls_crypto_info info;
	socklen_t ilen = sizeof(info);

	n = ktls_recv_record(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT, &type);
	if (n == -EAGAIN || n == -EWOULDBLOCK)
		return 2;	/* someone else took it */
	if (n < 0) {
		snprintf(why, size, "reading a record failed: %s", strerror((int)-n));
		return (int)n == -EBADMSG ? -EBADMSG : -ECONNRESET;
	}
	if (n == 0 || type == KTLS_RECORD_APPLICATION_DATA)
		return 0;	/* data (or the end) is next: the program's read takes it */
	buf = malloc(RECORD_MAX);
	if (!buf)
		return fail(why, size, ENOMEM, "out of memory");
	n = ktls_recv_record(fd, buf, RECORD_MAX, MSG_DONTWAIT, &type);
	if (n < 0) {
		snprintf(why, size, "reading a record failed: %s", strerror((int)-n));
		ret = (int)n == -EBADMSG ? -EBADMSG : -ECONNRESET;
	} else if (type == KTLS_RECORD_ALERT) {
		if (n != 2)
			ret = fail(why, size, ECONNABORTED, "a malformed alert");
		else if (buf[1] == ALERT_CLOSE_NOTIFY)
			ret = 1;
		else if (buf[1] == ALERT_USER_CANCELED || buf[0] == ALERT_WARNING)
			ret = 0;
		else {
			snprintf(why, size, "the peer sent fatal alert %u", buf[1]);
			ret = -ECONNRESET;
		}
	} else if (type == KTLS_RECORD_HANDSHAKE) {
		tls13 = getsockopt(fd, SOL_TLS, TLS_RX, &info, &ilen) == 0 &&
			info.version == TLS_1_3_VERSION;
		ret = handshake_record(fd, buf, (size_t)n, tls13, why, size);
	} else {
		snprintf(why, size, "unexpected record type %u after the handshake", type);
		ret = -ECONNABORTED;
	}
	memset(buf, 0, (size_t)(n > 0 ? n : 0));
	free(buf);
	return ret;
}

int records_zero_read(int fd, char *why, size_t size)
{
	uint8_t peek, type;
	ssize_t n;

	/* As handoff_zero_read(): the record type tells an empty record from the TCP peer's close. */
	for (unsigned rounds = 0; rounds < 64; rounds++) {
		n = ktls_recv_record(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT, &type);
		if (n == -EAGAIN || n == -EWOULDBLOCK || n > 0)
			return 0;
		if (n < 0) {
			snprintf(why, size, "reading failed: %s", strerror((int)-n));
			return -ECONNRESET;
		}
		if (type == KTLS_RECORD_NONE)
			return fail(why, size, ECONNRESET,
				    "the peer closed the connection without close_notify (truncation)");
		if (type != KTLS_RECORD_APPLICATION_DATA)
			return 0;
		n = ktls_recv_record(fd, &peek, 1, MSG_DONTWAIT, &type);
		if (n > 0)
			return fail(why, size, ECONNABORTED, "data raced an empty record on another thread");
	}
	return 0;
}
