/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One mutex for everything: a record is a few stores, a snapshot a copy
 * of 4 KiB and a sort, both far cheaper than the handshake they count, so
 * finer locking would buy nothing.  "busy" is atomic because it changes
 * at both ends of every handshake and is read without the lock.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/stats.h"

void hd_stats_init(struct hd_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	pthread_mutex_init(&stats->lock, NULL);
	atomic_init(&stats->busy, 0);
}

void hd_stats_destroy(struct hd_stats *stats)
{
	pthread_mutex_destroy(&stats->lock);
}

static void count_status(struct hd_stats *stats, uint32_t status)
{
	for (unsigned i = 0; i < stats->n_status; i++)
		if (stats->by_status[i].status == status) {
			stats->by_status[i].n++;
			return;
		}
	if (stats->n_status < HD_STATS_STATUSES) {
		stats->by_status[stats->n_status].status = status;
		stats->by_status[stats->n_status].n = 1;
		stats->n_status++;
		return;
	}
	stats->other_status++;
}

void hd_stats_record(struct hd_stats *stats, const struct hd_stats_event *ev)
{
	unsigned role = ev->role < HD_STATS_ROLES ? ev->role : HD_STATS_CLIENT;

	pthread_mutex_lock(&stats->lock);
	if (ev->status == 0) {
		stats->ok[role]++;
	} else {
		stats->failed[role]++;
		count_status(stats, ev->status);
		stats->recent[stats->recent_next] = *ev;
		/* The cause came from a pipe in fork mode: never trust its terminator. */
		stats->recent[stats->recent_next].cause[sizeof(ev->cause) - 1] = '\0';
		stats->recent[stats->recent_next].consumer[sizeof(ev->consumer) - 1] = '\0';
		stats->recent[stats->recent_next].peer[sizeof(ev->peer) - 1] = '\0';
		stats->recent_next = (stats->recent_next + 1) % HD_STATS_RECENT;
		if (stats->recent_count < HD_STATS_RECENT)
			stats->recent_count++;
	}
	stats->window[stats->win_next] = ev->ms;
	stats->win_next = (stats->win_next + 1) % HD_STATS_WINDOW;
	if (stats->win_count < HD_STATS_WINDOW)
		stats->win_count++;
	pthread_mutex_unlock(&stats->lock);
}

void hd_stats_busy_inc(struct hd_stats *stats)
{
	atomic_fetch_add(&stats->busy, 1);
}

void hd_stats_busy_dec(struct hd_stats *stats)
{
	atomic_fetch_sub(&stats->busy, 1);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

uint32_t hd_stats_percentile(const uint32_t *sorted, unsigned n, unsigned pct)
{
	unsigned long rank;

	if (!n)
		return 0;
	if (pct > 100)
		pct = 100;
	/* Nearest rank: ceil(pct/100 * n), at least 1. */
	rank = ((unsigned long)pct * n + 99) / 100;
	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

void hd_stats_snapshot(struct hd_stats *stats, struct hd_stats_snapshot *out)
{
	uint32_t sorted[HD_STATS_WINDOW];
	unsigned n;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&stats->lock);
	memcpy(out->ok, stats->ok, sizeof(out->ok));
	memcpy(out->failed, stats->failed, sizeof(out->failed));
	memcpy(out->by_status, stats->by_status, sizeof(out->by_status));
	out->n_status = stats->n_status;
	out->other_status = stats->other_status;
	n = stats->win_count;
	memcpy(sorted, stats->window, n * sizeof(sorted[0]));
	for (unsigned i = 0; i < stats->recent_count; i++) {
		unsigned at = (stats->recent_next + HD_STATS_RECENT - 1 - i) % HD_STATS_RECENT;

		out->recent[i] = stats->recent[at];
	}
	out->n_recent = stats->recent_count;
	pthread_mutex_unlock(&stats->lock);

	qsort(sorted, n, sizeof(sorted[0]), cmp_u32);
	out->window = n;
	out->p50_ms = hd_stats_percentile(sorted, n, 50);
	out->p90_ms = hd_stats_percentile(sorted, n, 90);
	out->p99_ms = hd_stats_percentile(sorted, n, 99);
	out->max_ms = n ? sorted[n - 1] : 0;
	out->busy = atomic_load(&stats->busy);
}

const char *hd_stats_status_name(uint32_t status, char *buf, unsigned size)
{
	const char *name;

	if (status == 0)
		return "ok";
	name = status < 4096 ? strerrorname_np((int)status) : NULL;
	if (name)
		return name;
	snprintf(buf, size, "errno %u", status);
	return buf;
}
