/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's loop: READY wakes it, ACCEPT takes requests while fewer than
 * max-handshakes are in flight, workers run them and send DONE.
 */
#ifndef HANDOFFD_DAEMON_H
#define HANDOFFD_DAEMON_H

#include <stdbool.h>

struct hd_options {
	const char *config;	/* -c; NULL: the first that exists of the defaults */
	bool to_stderr;		/* -s */
	unsigned workers;	/* --workers; 0: from the config */
	unsigned max_handshakes;	/* --max-handshakes; 0: from the config */
	bool fork_per_request;	/* --fork-per-request: for the benchmark only (forkreq.h) */
	const char *status_socket;	/* --status-socket; NULL: the default, "none": off */
};

/* The files looked for when -c is not given, in order. */
extern const char *const hd_default_configs[];

/*
 * hd_config_path - opts->config, or the first default that exists, or
 * NULL when none does (the built-in defaults then apply).
 */
const char *hd_config_path(const struct hd_options *opts);

/* hd_check_config - --check-config: load, check every file it names, explain. 0 or 1. */
int hd_check_config(const struct hd_options *opts);

/* hd_daemon_run - serve until SIGTERM/SIGINT.  Returns the exit status. */
int hd_daemon_run(const struct hd_options *opts);

#endif
