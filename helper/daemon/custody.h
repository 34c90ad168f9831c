/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Key custody: handoffd holds the private keys of named identities and
 * does handshakes for local processes that pass it a connected TCP socket
 * over a UNIX socket (the protocol is helper/custody/wire.h).  The caller
 * is whoever the kernel says it is (SO_PEERCRED, SO_PEERGROUPS); the
 * policy says which uids and gids may use which identity.
 *
 * handoffd.conf:
 *	[custody]
 *	socket = /run/handoffd/custody.sock	off unless set
 *	mode = 0666		the socket file's permissions (the policy, not
 *				the file mode, decides who is served)
 *	max-requests = 4	handshakes for callers in flight at most (the
 *				rest wait in the socket's backlog)
 *	max-pending = 64	accepted connections that have not sent their
 *				request yet; past that the oldest is dropped
 *	max-per-uid = 3		one uid's handshakes in flight at most
 *				(default: max-requests - 1): the others'
 *				requests go first while it is at its share
 *	max-queued-per-uid = 32	one uid's requests queued and in flight at
 *				most (default: half of max-pending); past
 *				that its requests are answered EAGAIN (the
 *				shim tries again until its deadline)
 *	[identity NAME]		NAME: 1-64 of A-Z a-z 0-9 . _ -
 *	allow-uid = 33 www-data	who may use it (user names or numbers)
 *	allow-gid = ssl-cert	... or members of these groups
 *	cert, key, ca-file, verify-client, alpn, protocols, timeout, ...
 *				the TLS policy (helper/settings: the same
 *				keys as the shim's rules and the CLI's flags)
 *
 * Nobody is allowed anything unless a rule says so; root is no exception.
 */
#ifndef HANDOFFD_CUSTODY_H
#define HANDOFFD_CUSTODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "custody/wire.h"
#include "daemon/stats.h"

#define HD_CUSTODY_MAX_IDS 64	/* uids, and gids, per identity */

struct handoff_config;
struct settings;
struct hd_conf;

struct hd_custody_identity {
	char *name;
	unsigned line;			/* its first key's, for messages about the whole */
	struct settings *set;		/* while the file is read */
	struct handoff_config *cfg;	/* after: shared by every handshake (refcounted) */
	bool can_serve;			/* a certificate and key (or a PSK) */
	char *servername;		/* a client identity pinned to one server name */
	char *warnings;			/* settings_warnings() of its files, or NULL (logged at load) */
	unsigned timeout_ms;
	uid_t uids[HD_CUSTODY_MAX_IDS];
	size_t n_uids;
	gid_t gids[HD_CUSTODY_MAX_IDS];
	size_t n_gids;
};

struct hd_custody_conf {
	char *socket;
	mode_t mode;
	unsigned max_requests;
	unsigned max_pending;
	unsigned max_per_uid;		/* 0 until hd_custody_conf_finish() sets the default */
	unsigned max_queued_per_uid;
	struct hd_custody_identity *ids;
	size_t n_ids;
};

/*
 * hd_custody_conf_key - one key of [custody] or [identity NAME].  Returns
 * 1 when the section is not ours, 0 when taken, -1 with why filled (the
 * caller adds file, line, section and key).  *cc is created on first use.
 */
int hd_custody_conf_key(struct hd_custody_conf **cc, const char *section, const char *key,
			const char *value, unsigned line, char *why, size_t why_size);

/*
 * hd_custody_conf_finish - at the end of the file: build each identity's
 * TLS config (a key that does not load fails here, not at the first
 * request).  0, or -1 with why naming the identity and *line its header.
 */
int hd_custody_conf_finish(struct hd_custody_conf *cc, char *why, size_t why_size, unsigned *line);

void hd_custody_conf_free(struct hd_custody_conf *cc);

/* The identity called name, or NULL. */
const struct hd_custody_identity *hd_custody_identity_find(const struct hd_custody_conf *cc,
							   const char *name);

/* Whether uid, or one of the groups, may use id. */
bool hd_custody_allowed(const struct hd_custody_identity *id, uid_t uid, const gid_t *gids,
			size_t n_gids);

/* ------------------------------------------------ the socket (custody.c) */

struct hd_custody;
struct hd_custody_job;

/*
 * hd_custody_open - bind and listen on cc->socket (a stale socket file is
 * replaced; anything else there is an error).  0 and *out, or a negative
 * errno with why.
 */
int hd_custody_open(const struct hd_custody_conf *cc, struct hd_custody **out, char *why,
		    size_t why_size);

/* The one fd the main loop polls for it (POLLIN); -1 for NULL. */
int hd_custody_fd(const struct hd_custody *cu);

typedef void (*hd_custody_submit_fn)(struct hd_custody_job *job, void *ctx);

/*
 * hd_custody_service - from the main loop, when hd_custody_fd() is
 * readable or a custody job ended: take new connections and requests
 * while fewer than max-requests are in flight, answer malformed ones,
 * drop idlers past their deadline, and hand each good request to submit
 * (which queues it for a worker).  Never blocks.
 */
void hd_custody_service(struct hd_custody *cu, hd_custody_submit_fn submit, void *ctx);

/*
 * hd_custody_run - on a worker: policy, handshake, reply, one log line;
 * frees job.  conf is the configuration the job was accepted under.  ev
 * gets the result for the status counters (consumer "custody").
 */
void hd_custody_run(struct hd_custody_job *job, const struct hd_conf *conf, uint64_t id,
		    unsigned long waited_ms, struct hd_stats_event *ev);

/* Close the socket, unlink it, drop pending callers.  After the pool has ended. NULL allowed. */
void hd_custody_close(struct hd_custody *cu);

#endif
