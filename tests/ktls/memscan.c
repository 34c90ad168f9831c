/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memscan.h"

/* Shorter needles would match by chance somewhere in megabytes of memory. */
#define MS_NEEDLE_MIN 12

struct ms_arena *ms_arena(void)
{
	static struct ms_arena *a;
	void *p;

	if (a)
		return a;
	p = mmap(NULL, MS_ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = p;
	return a;
}

int ms_add(struct ms_arena *a, const char *name, const void *bytes, size_t len)
{
	struct ms_needle *n;

	if (a->n_needles == MS_MAX_NEEDLES || len < MS_NEEDLE_MIN || len > MS_NEEDLE_MAX)
		return -1;
	n = &a->needle[a->n_needles];
	snprintf(n->name, sizeof(n->name), "%s", name);
	memcpy(n->bytes, bytes, len);
	n->len = len;
	return (int)a->n_needles++;
}

void ms_reset(struct ms_arena *a)
{
	memset(a->needle, 0, sizeof(a->needle));
	a->n_needles = 0;
	a->n_hits = 0;
}

static void add_hit(struct ms_arena *a, uintptr_t addr, unsigned needle, const char *where)
{
	struct ms_hit *h;
	unsigned i;

	/* A region read in overlapping chunks can show the same hit twice. */
	for (i = 0; i < a->n_hits; i++)
		if (a->hit[i].addr == addr && a->hit[i].needle == needle)
			return;
	if (a->n_hits == MS_MAX_HITS)
		return;
	h = &a->hit[a->n_hits++];
	h->addr = addr;
	h->needle = needle;
	snprintf(h->where, sizeof(h->where), "%s", where);
}

static void scan_chunk(struct ms_arena *a, const uint8_t *buf, size_t len, uintptr_t base,
		       const char *where)
{
	const uint8_t *p, *end = buf + len;
	unsigned i;

	for (i = 0; i < a->n_needles; i++) {
		const struct ms_needle *n = &a->needle[i];

		for (p = buf; p + n->len <= end; p++) {
			p = memmem(p, (size_t)(end - p), n->bytes, n->len);
			if (!p)
				break;
			add_hit(a, base + (uintptr_t)(p - buf), i, where);
		}
	}
}

static void scan_region(struct ms_arena *a, int mem, uintptr_t lo, uintptr_t hi, const char *where)
{
	size_t cap = MS_ARENA_SIZE - sizeof(*a), overlap = MS_NEEDLE_MAX, want;
	uintptr_t at = lo;
	ssize_t n;

	a->regions++;
	while (at < hi) {
		want = hi - at < cap ? hi - at : cap;
		n = pread(mem, a->buf, want, (off_t)at);
		if (n <= 0)
			return;	/* a guard page or a mapping that went away: nothing to read */
		a->bytes_scanned += (size_t)n;
		scan_chunk(a, a->buf, (size_t)n, at, where);
		if ((size_t)n < want || at + (uintptr_t)n >= hi)
			break;
		/* Overlap the next chunk so a needle across the seam is found. */
		at += (uintptr_t)n - overlap;
	}
	/* The buffer now holds whatever it read: leave nothing of it for the next scan to meet. */
	memset(a->buf, 0, cap);
}

int ms_scan(struct ms_arena *a)
{
	uintptr_t self_lo = (uintptr_t)a, self_hi = self_lo + MS_ARENA_SIZE, lo, hi;
	char line[512], perms[8], path[256];
	unsigned long long off;
	FILE *maps;
	int mem, fields;

	a->n_hits = 0;
	a->bytes_scanned = 0;
	a->regions = 0;
	maps = fopen("/proc/self/maps", "re");
	mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	if (!maps || mem < 0) {
		int err = errno;

		if (maps)
			fclose(maps);
		if (mem >= 0)
			close(mem);
		return -err;
	}
	while (fgets(line, sizeof(line), maps)) {
		path[0] = '\0';
		fields = sscanf(line, "%lx-%lx %7s %llx %*s %*s %255s", &lo, &hi, perms, &off, path);
		if (fields < 4 || perms[0] != 'r')
			continue;
		if (lo == self_lo || (lo < self_hi && hi > self_lo))
			continue;
		if (!strcmp(path, "[vvar]") || !strcmp(path, "[vsyscall]") || !strcmp(path, "[vdso]") ||
		    !strcmp(path, "[vvar_vclock]"))
			continue;
		/* Read-only file mappings are code and constants from disk. */
		if (path[0] == '/' && perms[1] != 'w')
			continue;
		scan_region(a, mem, lo, hi, path[0] ? path : "anon");
	}
	fclose(maps);
	close(mem);
	return 0;
}
