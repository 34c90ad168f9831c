/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A pool worker's cache of the handshake configs it builds from files
 * (trust store, CRL, certificate and private key).
 *
 * Why: building one (reading and parsing the PEM files, importing the key)
 * costs more CPU than the full handshake it serves: 0.41 ms against 0.27 ms
 * of server CPU per handshake, measured on the host.  tlshd pays it for
 * every request, in every forked child; a worker that lives on need not.
 *
 * Never stale: an entry is used only for the config generation it was built
 * under (a reload makes a new one) and while every file it was built from
 * is unchanged (device, inode, size, modification time: one stat(2) each
 * per request).  A certificate renewed on disk is used from the next
 * handshake on, as with tlshd, SIGHUP or not.  A build that fails is not
 * kept: each request tries again and reports why.
 *
 * Not thread-safe: one cache per worker thread.  A --fork-per-request
 * child starts with an empty one, so it builds every config as tlshd does.
 */
#ifndef HANDOFFD_CREDCACHE_H
#define HANDOFFD_CREDCACHE_H

#include <stddef.h>

#include "handoff.h"

#define HD_CREDCACHE_KEYS 8	/* keys are 0 .. HD_CREDCACHE_KEYS - 1 */
#define HD_CREDCACHE_FILES 4	/* files an entry depends on, at most */

struct hd_credcache;

/* hd_credcache_new - an empty cache; NULL when out of memory. */
struct hd_credcache *hd_credcache_new(void);

/* hd_credcache_free - frees every config in it.  NULL is allowed. */
void hd_credcache_free(struct hd_credcache *cache);

/* Builds a config; NULL on failure (the reason is the builder's to keep). */
typedef struct handoff_config *(*hd_credcache_build_fn)(void *arg);

/*
 * hd_credcache_get - the config kept under key, if it was built for
 * generation and none of files[0 .. n) (NULL entries skipped) changed
 * since; else build(arg), kept under key when it is not NULL.
 * The cache owns the config: the caller may change per-request settings
 * on it (a timeout) but must not free it, and it stays valid until the
 * next call on this cache.  A NULL cache builds every time, and the caller
 * then owns (and frees) what it returns: *owned says which.
 */
struct handoff_config *hd_credcache_get(struct hd_credcache *cache, unsigned key,
					unsigned long generation, const char *const *files,
					size_t n, hd_credcache_build_fn build, void *arg,
					int *owned);

/* hd_credcache_builds - configs built through this cache so far (tests, logs). */
unsigned long hd_credcache_builds(const struct hd_credcache *cache);

#endif
