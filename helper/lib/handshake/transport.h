/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The socket as GnuTLS sees it during the handshake.
 *
 * The pull side never reads past the end of the TLS record it is in: it
 * reads the 5-byte header, then exactly the record's length.  So when the
 * handshake ends, every byte the peer sent after its Finished (application
 * data, a NewSessionTicket, an alert) is still in the kernel's socket
 * buffer, where kTLS will find it.  A generous read would swallow them into
 * GnuTLS's buffers and they would be lost at the hand-off.
 */
#ifndef HANDOFF_HANDSHAKE_TRANSPORT_H
#define HANDOFF_HANDSHAKE_TRANSPORT_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TRANSPORT_RECORD_HEADER 5

struct transport {
	int fd;
	uint8_t header[TRANSPORT_RECORD_HEADER];
	size_t header_got;	/* bytes of the current header read so far */
	size_t body_left;	/* bytes of the current record body still unread */
	int nonblock;		/* the fd's O_NONBLOCK for this call into GnuTLS; -1: ask each time */
};

void transport_init(struct transport *t, int fd);

/* Install pull/push/pull_timeout functions on session, with t as their pointer. */
void transport_attach(struct transport *t, gnutls_session_t session);

/*
 * transport_pin_mode / transport_unpin_mode - around one call into GnuTLS:
 * read the fd's blocking mode once instead of before every wait (an fcntl
 * per record read, 6 per server handshake: tests/bench).  The caller may
 * change the mode between calls, never during one.
 */
void transport_pin_mode(struct transport *t);
void transport_unpin_mode(struct transport *t);

/* 1 if a record is partly read (header or body), 0 on a record boundary. */
int transport_mid_record(const struct transport *t);

/*
 * transport_retry_again - after GNUTLS_E_AGAIN, whether to call GnuTLS again
 * at once.  GnuTLS also says "again" on a blocking fd when part of a flight
 * went out and the rest failed (its writev emulation drops that error); the
 * retry then reports the real error.  Only blocking fds retry, at most
 * TRANSPORT_MAX_RETRIES times per call (*tries counts).
 */
#define TRANSPORT_MAX_RETRIES 64
bool transport_retry_again(int fd, unsigned *tries);

/* The GnuTLS callbacks, exposed for unit tests. */
ssize_t transport_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len);
ssize_t transport_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len);
ssize_t transport_push_vec(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt);
int transport_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms);

#endif
