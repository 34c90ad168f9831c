/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoffd's counters: handshakes by result and by role, the causes of the
 * recent failures, and per-handshake latency over a bounded window of the
 * most recent handshakes (so a percentile describes now, not the whole
 * uptime, and the memory is fixed).  Workers record; the status socket
 * reads a snapshot.  No I/O and no logging here.
 */
#ifndef HANDOFFD_STATS_H
#define HANDOFFD_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Latencies kept for the percentiles: the most recent this many. */
#define HD_STATS_WINDOW 1024
/* Distinct failure statuses counted separately; the rest go to "other". */
#define HD_STATS_STATUSES 8
/* Failures remembered with their cause. */
#define HD_STATS_RECENT 8

enum hd_stats_role {
	HD_STATS_CLIENT,
	HD_STATS_SERVER,
	HD_STATS_ROLES,
};

/* One finished handshake, as a worker (or a forked child) reports it. */
struct hd_stats_event {
	uint64_t id;
	uint32_t status;	/* DONE status: 0 or a positive errno */
	uint32_t ms;		/* ACCEPT to DONE */
	uint8_t role;		/* enum hd_stats_role */
	char consumer[16];
	char peer[64];		/* truncated: for the operator, not an identity */
	char cause[160];	/* "" on success */
};

struct hd_stats_status_count {
	uint32_t status;
	uint64_t n;
};

struct hd_stats_snapshot {
	uint64_t ok[HD_STATS_ROLES], failed[HD_STATS_ROLES];
	struct hd_stats_status_count by_status[HD_STATS_STATUSES];
	unsigned n_status;
	uint64_t other_status;	/* failures whose status did not fit by_status */
	unsigned window;	/* latencies the percentiles are over */
	uint32_t p50_ms, p90_ms, p99_ms, max_ms;
	struct hd_stats_event recent[HD_STATS_RECENT];	/* newest first */
	unsigned n_recent;
	unsigned busy;		/* workers inside a handshake now */
};

struct hd_stats {
	pthread_mutex_t lock;
	uint64_t ok[HD_STATS_ROLES], failed[HD_STATS_ROLES];
	struct hd_stats_status_count by_status[HD_STATS_STATUSES];
	unsigned n_status;
	uint64_t other_status;
	uint32_t window[HD_STATS_WINDOW];	/* ring of the latest latencies */
	unsigned win_next, win_count;
	struct hd_stats_event recent[HD_STATS_RECENT];	/* ring of the latest failures */
	unsigned recent_next, recent_count;
	atomic_uint busy;
};

void hd_stats_init(struct hd_stats *stats);
void hd_stats_destroy(struct hd_stats *stats);

/* hd_stats_record - count one finished handshake.  Thread-safe. */
void hd_stats_record(struct hd_stats *stats, const struct hd_stats_event *ev);

/* A worker starts / ends a handshake (the "busy" figure).  Thread-safe. */
void hd_stats_busy_inc(struct hd_stats *stats);
void hd_stats_busy_dec(struct hd_stats *stats);

/* hd_stats_snapshot - a consistent copy with the percentiles computed. */
void hd_stats_snapshot(struct hd_stats *stats, struct hd_stats_snapshot *out);

/*
 * hd_stats_percentile - the nearest-rank percentile pct (1..100) of the n
 * values in sorted (ascending): the smallest value with at least pct% of
 * the values at or below it.  0 when n is 0.
 */
uint32_t hd_stats_percentile(const uint32_t *sorted, unsigned n, unsigned pct);

/* hd_stats_status_name - "EACCES" for EACCES, "ok" for 0, "errno N" otherwise (buf). */
const char *hd_stats_status_name(uint32_t status, char *buf, unsigned size);

#endif
