/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef HANDOFF_UTIL_PEM_H
#define HANDOFF_UTIL_PEM_H

#include <stddef.h>
#include <stdint.h>

/*
 * pem_private_key - the DER of the private key block in a PEM text.
 *
 * Why we decode it ourselves: GnuTLS's PEM decoder copies the base64 body
 * into a buffer it frees without wiping, which left the private key
 * readable in freed heap for the life of the process
 * (tests/ktls/ktls_keysearch).  Here the text is read in place and the
 * DER goes into memory the caller wipes.
 *
 * Takes the first block labelled "PRIVATE KEY", "RSA PRIVATE KEY" or
 * "EC PRIVATE KEY" (other blocks, such as "EC PARAMETERS", are skipped).
 * On success returns 0 and *der (malloc'd, *der_len bytes) is the
 * caller's to wipe_free().  On failure returns -1, *der is NULL and *why
 * says why in words (static text): no key block, an encrypted key, bad
 * base64, or out of memory.
 */
int pem_private_key(const uint8_t *text, size_t len, uint8_t **der, size_t *der_len,
		    const char **why);

#endif
