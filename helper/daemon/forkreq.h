/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * --fork-per-request: one child process per handshake, as tlshd runs
 * them.  It exists only so that the benchmark can set the worker pool
 * (pool.c, and why it is the default) against the alternative in the same
 * kernel and the same run; it is not a hardening option.
 *
 * The parent ACCEPTs (the socket lands in its fd table), forks, and closes
 * its copy; the child inherits the socket, runs the job exactly as a pool
 * worker would (its own netlink socket for DONE), sends its counters back
 * over a pipe and exits.  The parent reaps on SIGCHLD.
 *
 * How close that is to tlshd (read in ktls-utils 1.x: src/tlshd/netlink.c
 * tlshd_genl_event_handler and tlshd_genl_get_handshake_parms,
 * handshake.c tlshd_service_socket, server.c and client.c): tlshd forks
 * the warm daemon on each READY notification; the child opens a netlink
 * socket and resolves the family to ACCEPT, calls gnutls_global_init (a
 * reference count: the library's constructor already initialised it),
 * builds its credentials from the files (trust store, or the system one
 * when none is configured; certificate; key), runs the handshake, and
 * opens another netlink socket for DONE.  Our child builds the same
 * credentials the same way (it starts with an empty credcache.h cache,
 * which a pool worker keeps across requests: that, and no fork, is what
 * the pool saves) and opens one netlink socket, since the parent
 * ACCEPTed: one socket and one family lookup fewer, a few system calls.
 * So nothing was added here to imitate tlshd: the comparison is with what
 * tlshd does per request.
 */
#ifndef HANDOFFD_FORKREQ_H
#define HANDOFFD_FORKREQ_H

#include <sys/types.h>

#include "daemon/pool.h"
#include "daemon/stats.h"

/*
 * hd_fork_job - fork; the child calls run(job, &slot, ctx), then fini(slot,
 * ctx), then _exit(0).  The parent closes job->req.sockfd.  Returns the
 * child's pid, or a negative errno (nothing forked; the socket is still
 * open for the caller to refuse).
 */
pid_t hd_fork_job(struct hd_job *job, hd_pool_run_fn run, hd_pool_fini_fn fini, void *ctx);

/* hd_fork_reap - collect every child that ended.  Returns how many. */
unsigned hd_fork_reap(void);

/*
 * The counters' way back: pipe_fds[0] (non-blocking) for the parent,
 * pipe_fds[1] for the children.  One event is far below PIPE_BUF, so
 * children writing at once never interleave.
 */
int hd_fork_pipe(int pipe_fds[2]);
void hd_fork_report(int wr_fd, const struct hd_stats_event *ev);
/* hd_fork_collect - record every event waiting in rd_fd. */
void hd_fork_collect(int rd_fd, struct hd_stats *stats);

#endif
