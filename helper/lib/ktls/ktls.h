/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel TLS: turning a finished GnuTLS session into kernel crypto state,
 * and talking to a socket once the kernel owns its record layer.
 *
 * keys.c    GnuTLS record state -> struct tls12_crypto_info_* (pure, testable)
 * install.c TCP_ULP "tls", setsockopt(SOL_TLS, TLS_TX / TLS_RX)
 * record.c  recvmsg/sendmsg with TLS_GET_RECORD_TYPE / TLS_SET_RECORD_TYPE
 *
 * All functions return 0 / a length on success and a negative errno on
 * failure; none of them prints.
 */
#ifndef HANDOFF_KTLS_H
#define HANDOFF_KTLS_H

#include <gnutls/gnutls.h>
#include <linux/tls.h>
#include <stdint.h>
#include <sys/types.h>

#include "handoff.h"

/* One direction's kernel crypto parameters; len says how much of u is used. */
struct ktls_crypto_info {
	union {
		struct tls_crypto_info base;
		struct tls12_crypto_info_aes_gcm_128 aes_gcm_128;
		struct tls12_crypto_info_aes_gcm_256 aes_gcm_256;
		struct tls12_crypto_info_aes_ccm_128 aes_ccm_128;
		struct tls12_crypto_info_chacha20_poly1305 chacha20_poly1305;
	} u;
	size_t len;
};

/* Record content types (RFC 8446 5.1); NONE: no record at all (TCP EOF). */
#define KTLS_RECORD_NONE 0
#define KTLS_RECORD_CHANGE_CIPHER_SPEC 20
#define KTLS_RECORD_ALERT 21
#define KTLS_RECORD_HANDSHAKE 22
#define KTLS_RECORD_APPLICATION_DATA 23

/* GnuTLS cipher -> our enum; -EOPNOTSUPP for anything the kernel cannot take. */
int ktls_cipher_from_gnutls(gnutls_cipher_algorithm_t alg, enum handoff_cipher *out);
/* GnuTLS protocol -> our enum; -EOPNOTSUPP for anything but TLS 1.2 / 1.3. */
int ktls_version_from_gnutls(gnutls_protocol_t proto, enum handoff_tls_version *out);

/*
 * ktls_crypto_info_build - fill info for cipher/version from raw key
 * material as GnuTLS's record state gives it: the key; the IV (for TLS 1.2
 * AES-GCM/CCM only the 4-byte implicit part, otherwise the full 12 bytes);
 * and the 8-byte big-endian sequence number of the next record.  Lengths
 * must match the cipher exactly.
 */
int ktls_crypto_info_build(struct ktls_crypto_info *info,
			   enum handoff_tls_version version, enum handoff_cipher cipher,
			   const uint8_t *key, size_t key_len,
			   const uint8_t *iv, size_t iv_len,
			   const uint8_t seq[8]);

/*
 * ktls_keys_from_session - the read (read=1) or write (read=0) direction of
 * an established session, via gnutls_record_get_state().  The caller wipes
 * info when done (wipe(info, sizeof(*info))).
 */
int ktls_keys_from_session(gnutls_session_t session, int read,
			   struct ktls_crypto_info *info);

/* Attach the "tls" upper-layer protocol to a connected TCP socket. */
int ktls_attach_ulp(int fd);
/* Set TLS_TX or TLS_RX (dir) from info. */
int ktls_set_crypto(int fd, int dir, const struct ktls_crypto_info *info);

/*
 * ktls_get_params - the version and cipher the kernel holds for one
 * direction (TLS_TX or TLS_RX) of fd.  Only the crypto info's 4-byte
 * header is asked for, so no key byte is copied out.  0, -ENOKEY (no key
 * in that direction), -EOPNOTSUPP (a version or cipher we do not know), or
 * the getsockopt error.
 */
int ktls_get_params(int fd, int dir, enum handoff_tls_version *version,
		    enum handoff_cipher *cipher);

/*
 * TLS_TX_ZEROCOPY_RO / TLS_RX_EXPECT_NO_PAD on a socket whose keys are in:
 * 0 or negative errno (-ENOPROTOOPT: this kernel has no such option).
 */
int ktls_set_tx_zerocopy(int fd);
int ktls_set_rx_no_pad(int fd);

/*
 * ktls_install - the whole hand-off for an established session: attach the
 * ULP (unless it is attached already), set TLS_TX and TLS_RX from the
 * session's keys, wipe every copy.
 * On failure *step names what failed ("TCP_ULP", "TLS_TX", "TLS_RX").
 * If the ULP attached but a key could not be set the socket is unusable
 * for plain I/O; the caller must fail the connection.
 */
int ktls_install(int fd, gnutls_session_t session, const char **step);

/*
 * ktls_install_infos - the second half of ktls_install(), from extracted
 * parameters: attach, set TX, set RX, and wipe *tx and *rx on every path.
 * Exposed so the unit tests can prove the wiping.
 */
int ktls_install_infos(int fd, struct ktls_crypto_info *tx, struct ktls_crypto_info *rx,
		       const char **step);

/*
 * ktls_recv_record - recvmsg() on a kTLS socket.  Returns the payload
 * length and sets *type to the record's content type (application data
 * unless a TLS_GET_RECORD_TYPE control message says otherwise).  A
 * non-data record is returned whole and alone; data never straddles it.
 * flags as for recvmsg (MSG_DONTWAIT ...).
 *
 * 0 is ambiguous on a kTLS socket, and only the control message tells
 * the two apart.  Measured on Linux 6.12.95 and 7.3.4 (the same in both,
 * TLS 1.2 and 1.3, with and without MSG_PEEK): the kernel skips
 * zero-length application data records inside recvmsg.  Alone they give
 * EAGAIN (MSG_DONTWAIT; poll() said readable before, not after) or a
 * blocking read waits on for data; followed by data they are invisible
 * (even "ab", empty, "cd" reads as "abcd").  But empty data records
 * followed by a record of another type (alert, handshake) or by a FIN
 * make recvmsg return 0 with the record-type cmsg saying application
 * data (and MSG_EOR); a plain read() without a control buffer returns 0
 * there too (with MSG_CTRUNC), so an application reading the socket
 * directly takes it for EOF.  A real FIN gives 0 and no cmsg at all.
 * So: *type is KTLS_RECORD_APPLICATION_DATA for that 0 (nothing to read
 * yet, read again), KTLS_RECORD_NONE for the TCP peer's close.
 */
ssize_t ktls_recv_record(int fd, void *buf, size_t len, int flags, uint8_t *type);

/* ktls_send_record - send one record of the given content type (alert, handshake). */
ssize_t ktls_send_record(int fd, uint8_t type, const void *buf, size_t len, int flags);

#endif
