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
#include <time.h>

#define TRANSPORT_RECORD_HEADER 5

struct transport {
	int fd;
	uint8_t header[TRANSPORT_RECORD_HEADER];
	size_t header_got;	/* bytes of the current header read so far */
	size_t body_left;	/* bytes of the current record body still unread */
	uint64_t records;	/* whole records read so far */
	/* After a TLS 1.2 hand-off to user space (transport_hold_tls12()): */
	size_t header_given;	/* bytes of the complete header[] GnuTLS has taken */
	uint8_t *held;		/* a handshake record kept from GnuTLS, header included */
	size_t held_len;	/* bytes of it read so far */
	size_t held_want;	/* its whole length while it is being read, else 0 */
	bool held_ready;	/* held is complete: take it with transport_take_held() */
	int nonblock;		/* the fd's O_NONBLOCK for this call into GnuTLS; -1: ask each time */
	struct timespec deadline; /* CLOCK_MONOTONIC end of the handshake; 0: none */
	bool timed_out;		/* a blocking pull gave up at the deadline */
};

void transport_init(struct transport *t, int fd);

/* Install pull/push/pull_timeout functions on session, with t as their pointer. */
void transport_attach(struct transport *t, gnutls_session_t session);

/* Free what the transport holds (a held record); t stays usable. */
void transport_release(struct transport *t);

/*
 * transport_hold_tls12 - after a TLS 1.2 handshake that stays in user
 * space: from now on GnuTLS never sees a handshake record.  GnuTLS cannot
 * decline a renegotiation and carry on (a server gets GNUTLS_E_REHANDSHAKE
 * with the ClientHello stuck at the head of its record buffer, so the next
 * read is an "unexpected packet"; a later fragment of it is one too), so
 * the pull function keeps each whole handshake record back instead, and
 * says EAGAIN until the owner has taken it (transport_take_held()) and
 * handled it.  Every other record passes through as before, its header
 * given to GnuTLS only once it is complete.
 */
void transport_hold_tls12(struct transport *t, gnutls_session_t session);

/*
 * transport_take_held - the held record (header included) and its length,
 * or NULL if none is complete.  Valid until the next pull; the transport
 * reads on past it from then on.
 */
const uint8_t *transport_take_held(struct transport *t, size_t *len);

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
ssize_t transport_pull_tls12(gnutls_transport_ptr_t ptr, void *buf, size_t len);
ssize_t transport_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len);
ssize_t transport_push_vec(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt);
int transport_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms);

#endif
