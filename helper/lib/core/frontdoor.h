/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine as the front doors see it, beyond handoff.h.
 *
 * The shim (libshim/) and handoffd reach the handshake and the key
 * hand-off through the public API like any other caller.  What they need
 * on top is here, and only here: a preloaded program reads a kTLS socket
 * with its own read(2), readv(2) or recvmsg(2), so the shim must be able to
 * let the engine act on the one record the kernel handed back instead of
 * data, and to tell the end of the stream from an empty record, without
 * handoff_read() taking the data itself.
 */
#ifndef HANDOFF_CORE_FRONTDOOR_H
#define HANDOFF_CORE_FRONTDOOR_H

#include "handoff.h"

/*
 * handoff_take_control_record - after the program's read on a kTLS socket
 * failed with EIO (the next record is not data): read that record and act
 * on it as handoff_read() would (ticket stored, KeyUpdate re-keyed, alert
 * mapped).  Never blocks and never consumes application data.
 * Returns 0 when the program may read again, 1 when it was the peer's
 * close_notify (end of stream), HANDOFF_WANT_POLLIN when nothing is
 * there, or -1 with handoff_error() / handoff_error_code().
 */
int handoff_take_control_record(struct handoff *h);

/*
 * handoff_zero_read - the program's read on a kTLS socket returned 0.
 * Returns 0 if the stream goes on (an empty record was read: read again),
 * 1 if it ended after the peer's close_notify, or -1 (ECONNRESET) if the
 * peer closed without one: truncation.
 */
int handoff_zero_read(struct handoff *h);

/*
 * handoff_set_fd - the connection's socket is now reached through fd: the
 * program dup'd it and closed the number the connection was made with
 * (a forking server's child doing dup2(fd, 0); close(fd)).  fd must refer
 * to the same socket.  0, or -1 with errno EINVAL.
 */
int handoff_set_fd(struct handoff *h, int fd);

/*
 * handoff_conn_no_tickets - before the handshake starts: a client asks
 * the server for no session tickets (a TLS 1.3 ticket arrives after the
 * hand-off, as a record a reader outside our reach would take for an
 * error: a program reading through stdio under the shim).  No effect
 * once the handshake has begun, or on a server.
 */
void handoff_conn_no_tickets(struct handoff *h);

/*
 * handoff_config_refuse_alpn_mismatch - a server with an ALPN list
 * (handoff_config_set_alpn) refuses, inside the handshake, a client whose
 * own ALPN list names none of its protocols (no_application_protocol,
 * RFC 7301 3.2).  A client that sends no ALPN at all is still served:
 * GnuTLS's GNUTLS_ALPN_MANDATORY (measured with 3.7.9).  For RFC 9289's
 * "sunrpc", which Linux's tlshd-era NFS clients do not send.  Clients
 * ignore it: GnuTLS already refuses a protocol the client did not offer.
 */
void handoff_config_refuse_alpn_mismatch(struct handoff_config *cfg);

/*
 * handoff_config_keep_peer_cert - connections made with cfg keep the DER
 * bytes of the peer's leaf certificate past the hand-off (the session that
 * held them is released there), for handoffd to put into a kernel key as
 * the remote peer's identity.  Off by default: a connection would
 * otherwise carry a copy nobody reads.
 *
 * handoff_conn_peer_cert - those bytes once the handshake has completed,
 * with their length in *len (len may be NULL); NULL (and *len 0) when the
 * peer sent no certificate, before the handshake ends, or when cfg did not
 * ask to keep it.  Owned by h: valid until handoff_free(h).
 */
void handoff_config_keep_peer_cert(struct handoff_config *cfg);
const uint8_t *handoff_conn_peer_cert(struct handoff *h, size_t *len);

/*
 * A socket that already carries kernel TLS, its handshake done elsewhere
 * (handoffd for a delegated connection of the shim): what the engine needs
 * to go on with it.  The secrets are the TLS 1.3 application traffic
 * secrets as they are now, from this end's point of view (write = ours,
 * read = the peer's), secret_len bytes each (32, or 48 for AES-256-GCM's
 * SHA-384); NULL (and 0) when they did not come, and always for TLS 1.2.
 */
struct handoff_ktls_params {
	int is_server;
	/*
	 * Which end we are is not known (a socket inherited through exec: the
	 * kernel's TLS state does not say): what either end may receive is
	 * taken (a ticket dropped, a renegotiation request of either kind
	 * declined); is_server is then ignored.
	 */
	int role_unknown;
	enum handoff_tls_version version;
	enum handoff_cipher cipher;
	const uint8_t *write_secret;
	const uint8_t *read_secret;
	size_t secret_len;
};

/*
 * handoff_adopt_ktls - a struct handoff for fd in the lean post-hand-off
 * state (no GnuTLS session): its records then go through the calls above
 * and handoff_read/write/close like those of a connection the engine made.
 * With the secrets, a peer's KeyUpdate re-keys the kernel (Linux 6.14+;
 * older kernels fail the connection with "needs Linux 6.14+"); without
 * them it fails the connection closed.  The kernel's own TLS_TX and TLS_RX
 * must hold p's version and cipher, or nothing is made.  The secrets are
 * copied (the caller wipes its own); cfg is referenced (for its timeouts).
 * Returns the connection (free with handoff_free(), which wipes the
 * copies), or NULL with errno: EINVAL (bad arguments, secrets that do not
 * fit the version or cipher, or a socket whose kernel TLS state is not
 * p's), ENOMEM, or the socket's own error.
 */
struct handoff *handoff_adopt_ktls(struct handoff_config *cfg, int fd,
				   const struct handoff_ktls_params *p);

/*
 * handoff_conn_traffic_secrets - the current TLS 1.3 application traffic
 * secrets of a completed lean connection, copied into write_secret (ours)
 * and read_secret (the peer's), each of size bytes at least 48.  The caller
 * wipes them (they are the whole connection's keys).  Returns their length
 * (32 or 48), or -1 with errno EINVAL (bad arguments) or ENOKEY (the
 * connection keeps none: TLS 1.2, no-key-update, a session kept, not
 * complete, or failed).
 */
int handoff_conn_traffic_secrets(struct handoff *h, uint8_t *write_secret,
				 uint8_t *read_secret, size_t size);

#endif
