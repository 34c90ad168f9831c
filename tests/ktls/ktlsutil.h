/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared helpers for the tests that need the kernel's TLS record layer
 * (tests/ktls/ktls_*): they run for real inside the VM (tests/vm), and skip
 * on a host whose kernel has no kTLS.
 */
#ifndef HANDOFF_KTLSUTIL_H
#define HANDOFF_KTLSUTIL_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handoff.h"
#include "testutil.h"

#define KT_EXIT_SKIP 77
/* Bound on any single wait for the peer: a broken kernel path fails, never hangs. */
#define KT_IO_TIMEOUT_S 60

/*
 * Exit 77 at once unless the kernel can take TLS keys.  With
 * HANDOFF_TEST_KTLS=1 (the VM) nothing is skipped: a kernel without kTLS
 * then fails the tests instead.
 */
void kt_require_ktls(void);

/* One counter of /proc/net/tls_stat ("TlsCurrTxSw" ...); -1 if absent. */
long kt_tls_stat(const char *name);

/* The four AEADs the kernel takes, and the two versions. */
extern const char *const kt_cipher[HANDOFF_CIPHER_COUNT];
extern const unsigned kt_protocol[HANDOFF_TLS_VERSION_COUNT];
/* "TLSv1.3/AES-128-GCM" for combination i of kt_protocol x kt_cipher. */
#define KT_COMBOS (HANDOFF_TLS_VERSION_COUNT * HANDOFF_CIPHER_COUNT)
unsigned kt_combo_protocol(int i);
const char *kt_combo_cipher(int i);

/*
 * Our configs for one version and cipher with the test PKI.  A client
 * without a cache asks for no tickets, so nothing but data reaches a plain
 * read(); a server issues none when no_tickets is set.
 */
struct handoff_config *kt_client_config(unsigned protocols, const char *cipher,
					struct handoff_cache *cache);
struct handoff_config *kt_server_config(unsigned protocols, const char *cipher, bool no_tickets);

/* SO_RCVTIMEO / SO_SNDTIMEO of KT_IO_TIMEOUT_S on fd. */
void kt_set_timeouts(int fd);

/* A user-space GnuTLS peer on a plain socket. */
struct kt_peer {
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	int fd;
	int hs_ret;
};

/* flags go to gnutls_init (GNUTLS_NO_TICKETS ...); GnuTLS cipher name e.g. "AES-128-GCM". */
void kt_peer_init(struct kt_peer *p, int fd, bool server, unsigned protocols,
		  const char *cipher, unsigned flags);
int kt_peer_handshake(void *peer);	/* for tu_spawn; sets hs_ret */
void kt_peer_free(struct kt_peer *p);

/* Run both handshakes of ours (client fds[0], server fds[1]) in two threads. */
void kt_handshake_pair(struct handoff *client, struct handoff *server);

/*
 * One direction of a checked byte stream.  The writer sends len bytes of a
 * pattern in chunks of varying size (so records and reads cut it anywhere)
 * and hashes what it sent; the reader hashes what arrives.  With a
 * GnuTLS session set the bytes go through it, otherwise plain write()/read().
 */
struct kt_stream {
	int fd;
	gnutls_session_t s;	/* NULL: the kernel path, plain write()/read() */
	uint64_t len;
	unsigned max_chunk;	/* largest write/read; 0: up to 256 KiB */
	uint8_t digest[32];
	int err;		/* errno-style on failure, 0 on success */
	char what[96];		/* what failed */
};
int kt_stream_send(void *stream);	/* for tu_spawn */
int kt_stream_recv(void *stream);

/* Both directions at once: a->b and b->a, len bytes each; fails the test on mismatch. */
void kt_exchange(struct kt_stream *a_send, struct kt_stream *b_recv,
		 struct kt_stream *b_send, struct kt_stream *a_recv);

/* Monotonic seconds. */
double kt_now(void);

#endif
