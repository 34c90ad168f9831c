/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memscan - find known secret bytes anywhere in this process's memory, for
 * the key-residue tests (tests/ktls/ktls_keysearch, keysearch_shim).
 *
 * Every readable private or anonymous mapping is read through
 * /proc/self/mem: heap, stacks, anonymous mmaps, the writable data of every
 * loaded object.  Read-only file mappings (code, constants) cannot hold a
 * secret we made and are skipped, and so is the scanner's own arena: the
 * test keeps its reference copies and its read buffer there, so they are
 * never found.
 */
#ifndef HANDOFF_MEMSCAN_H
#define HANDOFF_MEMSCAN_H

#include <stddef.h>
#include <stdint.h>

/* The arena: one mmap holding the needles and the read buffer. */
#define MS_ARENA_SIZE (1u << 20)
#define MS_NEEDLE_MAX 4096
#define MS_MAX_NEEDLES 32
#define MS_MAX_HITS 256

struct ms_needle {
	char name[48];
	size_t len;
	uint8_t bytes[MS_NEEDLE_MAX];
};

struct ms_hit {
	uintptr_t addr;
	unsigned needle;
	char where[64];		/* the mapping's name: [heap], [stack], a file, or "anon" */
};

struct ms_arena {
	unsigned n_needles;
	struct ms_needle needle[MS_MAX_NEEDLES];
	unsigned n_hits;
	struct ms_hit hit[MS_MAX_HITS];
	size_t bytes_scanned;
	unsigned regions;
	uint8_t buf[];		/* the rest of the arena: the read buffer */
};

/* The arena (mmap'd, never freed); NULL on failure. */
struct ms_arena *ms_arena(void);

/* Add a needle (copied into the arena); its index, or -1 if full / too long / too short. */
int ms_add(struct ms_arena *a, const char *name, const void *bytes, size_t len);

/* Drop every needle and hit. */
void ms_reset(struct ms_arena *a);

/*
 * ms_scan - search the process for every needle; hits are in a->hit
 * (a->n_hits, at most MS_MAX_HITS).  0, or -errno if the maps could not
 * be read.
 */
int ms_scan(struct ms_arena *a);

#endif
