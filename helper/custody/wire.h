/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The key-custody protocol between a caller (the shim, in delegated mode)
 * and handoffd: one header, shared by both sides.
 *
 * Transport: a SOCK_SEQPACKET UNIX socket ([custody] socket in
 * handoffd.conf).  Message boundaries are the kernel's, so a request can
 * be neither split nor run into the next one, and a reply is read whole
 * or not at all.  One connection carries exactly one exchange:
 *
 *   caller -> handoffd   one request message, with exactly one fd in an
 *                        SCM_RIGHTS control message: a connected TCP
 *                        socket with no TLS on it yet;
 *   handoffd -> caller   one reply message, no fd; then handoffd closes.
 *
 * handoffd does the handshake on that socket with the named identity's
 * key, installs kernel TLS on it and closes its own copy.  Nothing is
 * passed back: the fd names the open socket itself, so the caller's fd
 * already is the kTLS socket once the reply says 0.  (Passing a new fd
 * back would put a second number for the same socket into a program that
 * does not know about it, a leak waiting to happen, and would tell the
 * caller nothing its own fd does not.)
 *
 * Who the caller is comes from the kernel (SO_PEERCRED), never from the
 * message.
 *
 * Request, version 1 (integers little-endian, no padding; the length of
 * the message must be exactly 16 + identity_len + servername_len):
 *
 *   0  4  magic "HOcR"
 *   4  2  version (1)
 *   6  1  role: 1 = TLS client, 2 = TLS server
 *   7  1  flags: bit 0 CUSTODY_FLAG_SECRETS, "send the traffic secrets"
 *         (see the reply); every other bit is refused (EPROTO): no silent
 *         extension
 *   8  4  timeout_ms: the caller's own deadline for the handshake (0 = none);
 *         handoffd never waits longer than its identity's timeout either
 *  12  1  identity_len, 1..64: [A-Za-z0-9._-]
 *  13  1  servername_len, 0..253: the name a client sends (SNI) and
 *         verifies; letters, digits, '.', '-', '_', ':' (an address)
 *  14  2  reserved, 0
 *  16  .  identity, then servername (no NULs)
 *
 * Reply, version 1 (exactly 24 + the five lengths + 2 * secret_len):
 *
 *   0  4  magic "HOcA"
 *   4  2  version (1)
 *   6  2  reserved, 0
 *   8  4  status: 0, or a positive errno (see below)
 *  12  1  tls_version_len (<= 31)    "TLS1.3"
 *  13  1  cipher_len (<= 63)         "AES-128-GCM"
 *  14  1  alpn_len (<= 255)          the protocol agreed, or empty
 *  15  1  secret_len: 0, or 32 / 48 (SHA-256 / SHA-384 suites)
 *  16  2  peer_len (<= 511)          the peer certificate's subject, or empty
 *  18  2  cause_len (<= 511)         why it failed, in words; empty on success
 *  20  4  reserved, 0
 *  24  .  tls_version, cipher, alpn, peer, cause (printable, no NULs),
 *         then the caller's write secret and its read secret, secret_len
 *         bytes each
 *
 * The secrets are the TLS 1.3 application traffic secrets as they are when
 * handoffd hands the socket back, from the caller's point of view (its
 * write secret is the one its kernel encrypts with): what the caller needs
 * to follow the peer's KeyUpdates (RFC 8446 4.6.3) after handoffd is gone.
 * They come only when the request had CUSTODY_FLAG_SECRETS, the status is
 * 0, the version is TLS 1.3 and handoffd's identity keeps them (not
 * no-key-update); otherwise secret_len is 0 and a KeyUpdate fails the
 * caller's connection closed.  Whoever holds a buffer or struct with them
 * wipes it.
 *
 * Still version 1: a shim and handoffd come from the same build, the flag
 * is how the caller asks, and a handoffd that does not know it refuses the
 * request with EPROTO (unknown flags) rather than ignore it; a caller from
 * before the flag would refuse a reply with secrets (byte 15 was reserved,
 * 0), and handoffd sends them only when asked.
 *
 * Statuses: EPROTO (the request is malformed), EPROTONOSUPPORT (another
 * version), EACCES (the policy refuses this uid/gid the identity, or there
 * is no such identity), EINVAL (the fd is not a connected TCP socket, or
 * the identity cannot play that role), EAGAIN (this uid has its share of
 * requests queued or running: nothing was done with the socket, ask again),
 * and the handshake's own class (handoff_error_code()): ETIMEDOUT,
 * ECONNRESET, EBADMSG, ECONNABORTED.
 */
#ifndef HANDOFF_CUSTODY_WIRE_H
#define HANDOFF_CUSTODY_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CUSTODY_VERSION 1

#define CUSTODY_REQ_HEADER 16
#define CUSTODY_IDENTITY_MAX 64
#define CUSTODY_SERVERNAME_MAX 253
#define CUSTODY_REQ_MAX (CUSTODY_REQ_HEADER + CUSTODY_IDENTITY_MAX + CUSTODY_SERVERNAME_MAX)

#define CUSTODY_REPLY_HEADER 24
#define CUSTODY_TLSVER_MAX 31
#define CUSTODY_CIPHER_MAX 63
#define CUSTODY_ALPN_MAX 255
#define CUSTODY_PEER_MAX 511
#define CUSTODY_CAUSE_MAX 511
#define CUSTODY_SECRET_MAX 48
#define CUSTODY_REPLY_MAX (CUSTODY_REPLY_HEADER + CUSTODY_TLSVER_MAX + CUSTODY_CIPHER_MAX + \
			   CUSTODY_ALPN_MAX + CUSTODY_PEER_MAX + CUSTODY_CAUSE_MAX + \
			   2 * CUSTODY_SECRET_MAX)

/* Request flags. */
#define CUSTODY_FLAG_SECRETS 0x01	/* put the traffic secrets into the reply */
#define CUSTODY_FLAGS_KNOWN CUSTODY_FLAG_SECRETS

enum custody_role {
	CUSTODY_ROLE_CLIENT = 1,
	CUSTODY_ROLE_SERVER = 2,
};

struct custody_request {
	uint8_t role;			/* enum custody_role */
	uint8_t flags;			/* CUSTODY_FLAG_* */
	uint32_t timeout_ms;
	char identity[CUSTODY_IDENTITY_MAX + 1];
	char servername[CUSTODY_SERVERNAME_MAX + 1];	/* "" for servers */
};

struct custody_reply {
	uint32_t status;		/* 0 or a positive errno */
	char tls_version[CUSTODY_TLSVER_MAX + 1];
	char cipher[CUSTODY_CIPHER_MAX + 1];
	char alpn[CUSTODY_ALPN_MAX + 1];
	char peer[CUSTODY_PEER_MAX + 1];
	char cause[CUSTODY_CAUSE_MAX + 1];
	uint8_t secret_len;		/* 0, 32 or 48 */
	uint8_t write_secret[CUSTODY_SECRET_MAX];	/* the caller's (wipe after use) */
	uint8_t read_secret[CUSTODY_SECRET_MAX];	/* the peer's (wipe after use) */
};

/*
 * custody_request_encode - req into buf (at least CUSTODY_REQ_MAX bytes).
 * Returns the message length, or -EINVAL with *why when a field breaks the
 * rules above (the caller's config is wrong: say so before sending).
 */
ssize_t custody_request_encode(const struct custody_request *req, uint8_t *buf, size_t size,
			       const char **why);

/*
 * custody_request_decode - one received message of len bytes.  0 and *req,
 * or a negative errno (-EPROTO, -EPROTONOSUPPORT) with *why in words;
 * *req is then unspecified.  Never reads past len.
 */
int custody_request_decode(const uint8_t *buf, size_t len, struct custody_request *req,
			   const char **why);

/*
 * custody_reply_encode - rep into buf (at least CUSTODY_REPLY_MAX bytes).
 * Over-long text is cut at its field's maximum (the cause is words for a
 * log line, not data); bytes outside printable ASCII become '?'.  The
 * secrets go only with status 0 and a secret_len of 32 or 48 (otherwise
 * none).  Returns the length; the caller wipes buf once sent.
 */
size_t custody_reply_encode(const struct custody_reply *rep, uint8_t *buf, size_t size);

/*
 * custody_reply_decode - as custody_request_decode, for a reply.  A
 * secret_len other than 0, 32 or 48, or secrets with a failure status, is
 * -EPROTO.  Whether the caller asked for secrets is its own check.
 */
int custody_reply_decode(const uint8_t *buf, size_t len, struct custody_reply *rep,
			 const char **why);

/*
 * custody_send_request - encode req and send it on sock with fd attached
 * (SCM_RIGHTS), MSG_DONTWAIT | MSG_NOSIGNAL.  0 or a negative errno
 * (-EINVAL with *why for a bad field; -EAGAIN; the socket's error).
 */
int custody_send_request(int sock, int fd, const struct custody_request *req, const char **why);

/*
 * custody_recv_request - receive one request message from sock
 * (MSG_DONTWAIT) into buf (size >= CUSTODY_REQ_MAX + 1, so that an
 * over-long message shows) and take the fd it carries.  Returns the
 * message length with *fd >= 0; or a negative errno with *fd == -1 and
 * *why: -EAGAIN (nothing yet), -ECONNRESET (the caller went away),
 * -EPROTO (no fd, more than one fd, a cut control message, a cut
 * message).  Every fd that came with a bad message is closed here: none
 * leaks into handoffd.
 */
ssize_t custody_recv_request(int sock, uint8_t *buf, size_t size, int *fd, const char **why);

/* custody_status_name - "EACCES" for EACCES ...; "errno N" style text for others. */
const char *custody_status_name(uint32_t status);

#endif
