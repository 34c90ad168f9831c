/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What we know of each keypair a config holds, beside GnuTLS's copy.
 *
 * A server's pair is chosen per handshake by the client's name (SNI) under
 * RFC 6125's rules, which GnuTLS alone does not follow (it compares names
 * byte for byte and never expands a wildcard): core/certselect.c steers
 * GnuTLS with these records.  Each keeps the pair's names and key type, the
 * chain (public) and a borrowed handle on GnuTLS's private key, so that
 * certselect can give GnuTLS the pairs in the order a name calls for.
 *
 * The names also let us refuse, when a pair is added, one that makes the
 * choice ambiguous: a name (or the same wildcard) that a pair with the same
 * key type already has, case aside (the later one would never be
 * presented for it), or no name at all behind an earlier pair of its type
 * (it could never be chosen).  The error names both files.
 */
#ifndef HANDOFF_CORE_KEYPAIRS_H
#define HANDOFF_CORE_KEYPAIRS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/errbuf.h"

struct config_keypair {
	char *label;			/* the certificate file, for messages */
	gnutls_pk_algorithm_t pk;	/* the leaf's key type */
	unsigned bits;			/* its size (the curve, for ECDSA) */
	unsigned key_usage;		/* the leaf's keyUsage bits; 0: none given */
	char **names;			/* matched against the SNI (keypair_name_match) */
	size_t n_names;
	gnutls_datum_t *chain;		/* DER, leaf first: certselect's copies come from it */
	unsigned n_chain;
	gnutls_privkey_t key;		/* GnuTLS's, borrowed: freed with the credentials */
};

/* How a pair's name answers a client's: */
enum keypair_match {
	KEYPAIR_MATCH_NONE,
	KEYPAIR_MATCH_WILDCARD,	/* "*.b.test" for "x.b.test": one whole leftmost label */
	KEYPAIR_MATCH_EXACT,	/* the same name, ASCII case aside */
};

/*
 * keypair_name_match - RFC 6125 (6.4.1, 6.4.3) for a server choosing its
 * certificate: DNS names compare without regard to ASCII case, and a
 * wildcard "*." prefix stands for exactly one non-empty leftmost label
 * ("*.b.test" matches "x.b.test", neither "b.test" nor "y.x.b.test").  A
 * "*" anywhere else is an ordinary character.  host need not be
 * NUL-terminated.
 */
enum keypair_match keypair_name_match(const char *name, const char *host, size_t host_len);

/*
 * keypair_describe - read the leaf (the first certificate) of cert: its key
 * type, size and usage, and the names matched against the SNI (its DNS
 * subjectAltNames, or its CN when it has none, as GnuTLS reads them).  0, or
 * -1 with the reason in err; on success *out owns copies of label and the
 * names (keypair_clear()).  The chain and key are the caller's to set.
 */
int keypair_describe(const gnutls_datum_t *cert, gnutls_x509_crt_fmt_t fmt, const char *label,
		     struct config_keypair *out, struct errbuf *err);

/*
 * keypair_conflict - 0 if kp may join the n pairs already in pairs; else -1
 * with err naming both certificates and the name they share (or saying that
 * kp has none).  Names are compared as strings without regard to case: the
 * same wildcard twice is a conflict, a wildcard and a name under it are not
 * (the exact name wins for itself, the wildcard keeps the others).
 */
int keypair_conflict(const struct config_keypair *pairs, size_t n,
		     const struct config_keypair *kp, struct errbuf *err);

/* Whether key is the private half of pub (their SHA-256 key IDs agree). */
bool keypair_key_matches(gnutls_privkey_t key, gnutls_pubkey_t pub);

/* Free what keypair_describe() copied and the chain (not the borrowed key).  Safe on a zeroed struct. */
void keypair_clear(struct config_keypair *kp);

/* A short name for a key type: "ECDSA", "RSA", "RSA-PSS", "Ed25519", ... */
const char *keypair_type_name(gnutls_pk_algorithm_t pk);

#endif
