/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fixed set of worker threads and a bounded queue of handshake jobs.
 */
#ifndef HANDOFFD_POOL_H
#define HANDOFFD_POOL_H

#include <stdint.h>

#include "daemon/netlink.h"

struct hd_conf_ref;
struct hd_custody_job;

struct hd_job {
	uint64_t id;		/* request number, for the log */
	struct hd_request req;
	unsigned long accepted_ms;	/* CLOCK_MONOTONIC, when ACCEPT returned it */
	struct hd_conf_ref *conf;	/* the config at accept time (a reference) */
	struct hd_custody_job *custody;	/* a local caller's request instead of req (custody.h) */
};

struct hd_pool;

/*
 * run(job, slot, ctx) is called on a worker thread; *slot is that
 * worker's own pointer (NULL at first), for state that must not be shared
 * (a netlink socket).  fini(slot, ctx) releases it when the worker ends.
 */
typedef void (*hd_pool_run_fn)(struct hd_job *job, void **slot, void *ctx);
typedef void (*hd_pool_fini_fn)(void *slot, void *ctx);

/* hd_pool_new - workers threads, a queue of capacity jobs.  NULL + errno. */
struct hd_pool *hd_pool_new(unsigned workers, unsigned capacity, hd_pool_run_fn run,
			    hd_pool_fini_fn fini, void *ctx);

/*
 * hd_pool_submit - queue a copy of job.  Blocks while the queue is full
 * (the caller bounds what it accepts, so this is a backstop, not a path).
 */
void hd_pool_submit(struct hd_pool *pool, const struct hd_job *job);

/* hd_pool_free - finish the queued jobs, then end the workers. NULL allowed. */
void hd_pool_free(struct hd_pool *pool);

#endif
