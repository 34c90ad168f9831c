/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The status socket: a UNIX stream socket where handoffd answers every
 * connection with one report of its counters and closes it.  The reader
 * sends nothing.  `handoff status` is its client.
 *
 * The report is text, one "key value" pair a line, so that a shell (nc -U,
 * socat) can read it too and a new key does not break an old client:
 *
 *	handoffd-status 1		always first: the format's version
 *	pid 1234
 *	...
 *	failure <id> <role> <consumer> <peer> <STATUS> <cause...>
 *	end				always last: the report is whole
 *
 * Clients skip keys they do not know.
 *
 * Who may read it: the socket is made mode 0660 in a 0755 folder, owned
 * by the daemon's user and group (root unless the unit says otherwise).
 * The report holds no key material, but it does name peers and the causes
 * of failed handshakes (certificate subjects), so it is not for everyone:
 * grant an operator group with `chgrp` or the unit's Group=.
 */
#ifndef HANDOFFD_STATUS_H
#define HANDOFFD_STATUS_H

#include <stddef.h>

#include "daemon/stats.h"

#define HD_STATUS_SOCKET_DEFAULT "/run/handoffd/status.sock"
#define HD_STATUS_VERSION 1

/* What the daemon knows about itself, besides the counters. */
struct hd_status_info {
	long pid;
	const char *mode;	/* "pool" or "fork-per-request" */
	unsigned long uptime_s;
	const char *config;	/* path, or NULL for the built-in defaults */
	unsigned config_generation;	/* 1 at start, +1 per successful reload */
	unsigned workers;
	unsigned max_handshakes;
	unsigned in_flight;	/* accepted, not yet DONE (busy + queued) */
};

/*
 * hd_status_format - the report for info and snap into buf.
 * Returns its length, or -ENOSPC when buf is too small.
 */
int hd_status_format(char *buf, size_t size, const struct hd_status_info *info,
		     const struct hd_stats_snapshot *snap);

/*
 * hd_status_listen - make the socket at path (its folder too, 0755, when
 * missing).  A stale socket file is replaced; one a live daemon answers on
 * is not (-EADDRINUSE).  Returns the listening fd (non-blocking,
 * close-on-exec) or a negative errno.
 */
int hd_status_listen(const char *path);

/*
 * hd_status_answer - accept one reader on listen_fd and send it report
 * (len bytes), never blocking the caller: a reader too slow to take a few
 * KiB at once gets a cut report (no "end" line).  Returns 0 or a negative
 * errno (-EAGAIN: nobody was there).
 */
int hd_status_answer(int listen_fd, const char *report, size_t len);

/* hd_status_close - close fd (if >= 0) and remove the socket file. */
void hd_status_close(int fd, const char *path);

#endif
