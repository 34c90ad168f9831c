/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fixed array of entries, one per key: a worker needs at most a few
 * (server or client, certificate or not, NFS's ALPN or not), so there is
 * nothing to evict but what a reload or a changed file makes stale.
 */
#include "common.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/credcache.h"

struct file_id {
	bool present;		/* a path was given */
	bool ok;		/* stat(2) succeeded */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct entry {
	struct handoff_config *cfg;	/* NULL: empty */
	unsigned long generation;
	struct file_id files[HD_CREDCACHE_FILES];
};

struct hd_credcache {
	struct entry entries[HD_CREDCACHE_KEYS];
	unsigned long builds;
};

struct hd_credcache *hd_credcache_new(void)
{
	return calloc(1, sizeof(struct hd_credcache));
}

static void drop(struct entry *e)
{
	handoff_config_free(e->cfg);
	memset(e, 0, sizeof(*e));
}

void hd_credcache_free(struct hd_credcache *cache)
{
	if (!cache)
		return;
	for (size_t i = 0; i < HD_CREDCACHE_KEYS; i++)
		drop(&cache->entries[i]);
	free(cache);
}

unsigned long hd_credcache_builds(const struct hd_credcache *cache)
{
	return cache ? cache->builds : 0;
}

static void identify(const char *path, struct file_id *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if (!path)
		return;
	id->present = true;
	if (stat(path, &st) < 0)
		return;
	id->ok = true;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
}

static bool same(const struct file_id *a, const struct file_id *b)
{
	/* A file we could not stat is never "unchanged": build, and let that fail. */
	if (a->present != b->present)
		return false;
	if (!a->present)
		return true;
	return a->ok && b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

struct handoff_config *hd_credcache_get(struct hd_credcache *cache, unsigned key,
					unsigned long generation, const char *const *files,
					size_t n, hd_credcache_build_fn build, void *arg,
					int *owned)
{
	struct file_id now[HD_CREDCACHE_FILES];
	struct handoff_config *cfg;
	struct entry *e;
	bool fresh;

	*owned = 1;
	if (!cache || key >= HD_CREDCACHE_KEYS || n > HD_CREDCACHE_FILES) {
		if (cache)
			cache->builds++;
		return build(arg);
	}
	e = &cache->entries[key];
	for (size_t i = 0; i < HD_CREDCACHE_FILES; i++)
		identify(i < n ? files[i] : NULL, &now[i]);
	fresh = e->cfg && e->generation == generation;
	for (size_t i = 0; fresh && i < HD_CREDCACHE_FILES; i++)
		fresh = same(&e->files[i], &now[i]);
	if (fresh) {
		*owned = 0;
		return e->cfg;
	}
	drop(e);
	/*
	 * Stat before the build: a file replaced while it is being read is
	 * then seen as changed at the next request, never cached as current.
	 */
	cache->builds++;
	cfg = build(arg);
	if (!cfg)
		return NULL;
	e->cfg = cfg;
	e->generation = generation;
	memcpy(e->files, now, sizeof(now));
	*owned = 0;
	return cfg;
}
