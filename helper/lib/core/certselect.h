/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which of a server's keypairs a client is shown, by the name it asked for
 * (SNI), under RFC 6125's rules: DNS names compare without regard to case,
 * a wildcard stands for one leftmost label, an exact name beats a wildcard.
 * GnuTLS 3.7 compares byte for byte and never expands a wildcard, so for
 * the names where its choice would differ we hand the session, for the
 * time of the choice, credentials that hold the pairs in the order the name
 * calls for (certselect.c says why this way).  The key-type checks stay
 * GnuTLS's own.
 */
#ifndef HANDOFF_CORE_CERTSELECT_H
#define HANDOFF_CORE_CERTSELECT_H

#include <stddef.h>

struct handoff;
struct handoff_config;

/* A config's cache of steering credentials (one per name that needs one). */
struct certselect;

/* NULL when out of memory. */
struct certselect *certselect_new(void);

/* Frees every credentials object made.  Safe on NULL. */
void certselect_free(struct certselect *cs);

/*
 * certselect_attach - for a server session (h->session, whose pointer is
 * h) of a config with more than one pair: choose by name when the
 * ClientHello is in.  Nothing to undo.
 */
void certselect_attach(struct handoff *h);

/* How many steering credentials cfg holds, and how many pair copies in all (tests, bench). */
size_t certselect_count(const struct handoff_config *cfg, size_t *pairs);

#endif
