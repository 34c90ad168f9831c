/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What we know of each keypair a config holds, beside GnuTLS's copy.
 *
 * GnuTLS chooses among a server's keypairs itself, per handshake: the first
 * pair one of whose names equals the client's SNI and whose key can sign
 * with an algorithm the client offers, else the first pair the client can
 * take at all.  We do not choose again.  We keep each pair's names and key
 * type only to refuse, when it is added, a pair that makes that choice
 * ambiguous: a name that a pair with the same key type already has (GnuTLS
 * would quietly keep serving the earlier one for it), or no name at all
 * behind an earlier pair of its type (it could never be chosen).  The error
 * names both files.
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
	char **names;			/* what GnuTLS matches the SNI against */
	size_t n_names;
};

/*
 * keypair_describe - read the leaf (the first certificate) of cert: its key
 * type and the names GnuTLS matches against the SNI (its DNS subjectAltNames,
 * or its CN when it has none).  0, or -1 with the reason in err; on success
 * *out owns copies of label and the names (keypair_clear()).
 */
int keypair_describe(const gnutls_datum_t *cert, gnutls_x509_crt_fmt_t fmt, const char *label,
		     struct config_keypair *out, struct errbuf *err);

/*
 * keypair_conflict - 0 if kp may join the n pairs already in pairs; else -1
 * with err naming both certificates and the name they share (or saying that
 * kp has none).  Names are compared without regard to case.
 */
int keypair_conflict(const struct config_keypair *pairs, size_t n,
		     const struct config_keypair *kp, struct errbuf *err);

/* Whether key is the private half of pub (their SHA-256 key IDs agree). */
bool keypair_key_matches(gnutls_privkey_t key, gnutls_pubkey_t pub);

/* Free what keypair_describe() copied.  Safe on a zeroed struct. */
void keypair_clear(struct config_keypair *kp);

/* A short name for a key type: "ECDSA", "RSA", "RSA-PSS", "Ed25519", ... */
const char *keypair_type_name(gnutls_pk_algorithm_t pk);

#endif
