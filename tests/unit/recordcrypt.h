/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * recordcrypt - a test-only TLS record layer that plays the kernel.
 *
 * The host that runs the unit tests has no kTLS, so we cannot ask the
 * kernel whether the struct ktls_crypto_info we would give it is right.
 * This module answers the same question: it seals and opens TLS 1.2 and
 * TLS 1.3 records (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305,
 * AES-128-CCM) using nothing but that struct and a record sequence number,
 * exactly the inputs the kernel has.  If GnuTLS accepts what rc_seal makes
 * and rc_open reads what GnuTLS makes, the kernel would too.
 *
 * Built on nettle, written from RFC 5246 / 5288 / 6655 / 7905 (TLS 1.2)
 * and RFC 8446 (TLS 1.3).  Not constant-time where it does not matter and
 * not for production use.
 *
 * Sequence numbers: ci's rec_seq is the number of the first record after
 * the hand-over.  Callers pass the absolute number of the record they seal
 * or open (rec_seq + 0, rec_seq + 1, ...), so they can also skip or repeat
 * numbers on purpose.
 *
 * All functions return 0 on success or a negative errno:
 *   -EINVAL    ci is not a crypto_info the kernel would accept (unknown
 *              version or cipher, len not the size of the cipher's struct)
 *   -EMSGSIZE  the output buffer is too small, or the plaintext too long
 *              for one record
 *   -EBADMSG   the record is malformed or does not authenticate (wrong
 *              key, nonce, sequence number, tampered bytes, bad header, a
 *              TLS 1.3 inner plaintext of only padding)
 */
#ifndef HANDOFF_TESTS_RECORDCRYPT_H
#define HANDOFF_TESTS_RECORDCRYPT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ktls/ktls.h"

#define RC_HEADER_LEN 5
#define RC_TAG_LEN 16
/* Largest plaintext one record carries (RFC 8446 5.1, RFC 5246 6.2.1). */
#define RC_MAX_PLAINTEXT 16384
/* Most bytes a record adds around its plaintext: header, explicit nonce or inner type, tag. */
#define RC_MAX_OVERHEAD (RC_HEADER_LEN + 8 + RC_TAG_LEN)
/* A buffer that holds any record rc_seal makes or rc_open accepts. */
#define RC_MAX_RECORD (RC_HEADER_LEN + RC_MAX_PLAINTEXT + 2048)

/*
 * rc_open - authenticate and decrypt one record.
 * record/record_len: the whole record as on the wire, 5-byte header
 * included; record_len must be exactly 5 + the header's length.
 * On success *type is the content type (for TLS 1.3 the inner type, the
 * padding stripped), out holds the plaintext and *out_len its length.
 * On entry *out_len is the capacity of out.  out may not overlap record.
 */
int rc_open(const struct ktls_crypto_info *ci, uint64_t seq,
	    const uint8_t *record, size_t record_len,
	    uint8_t *type, uint8_t *out, size_t *out_len);

/*
 * rc_seal - make one record of content type type from in/in_len.
 * For TLS 1.3 the header says application_data and type goes inside, with
 * pad zero bytes of padding after it (RFC 8446 5.4); pad must be 0 for
 * TLS 1.2.  For TLS 1.2 AES-GCM/CCM the explicit nonce is the kernel's
 * choice: ci's iv advanced by (seq - rec_seq).
 * On entry *record_len is the capacity of record; on success the record's
 * full length.  in may be NULL when in_len is 0.
 */
int rc_seal(const struct ktls_crypto_info *ci, uint64_t seq, uint8_t type,
	    const uint8_t *in, size_t in_len, size_t pad,
	    uint8_t *record, size_t *record_len);

/*
 * rc_read_record - read exactly one whole record from a stream socket into
 * buf (capacity cap).  Returns its length, 0 on EOF before the first byte,
 * or a negative errno (-EMSGSIZE if it does not fit, -EPIPE on EOF inside
 * a record).  Blocks; EINTR is retried.
 */
ssize_t rc_read_record(int fd, uint8_t *buf, size_t cap);

/* rc_write_all - write all of buf to fd (EINTR retried); 0 or a negative errno. */
int rc_write_all(int fd, const uint8_t *buf, size_t len);

#endif
