/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/credcache.h"
#include "daemon/custody.h"
#include "daemon/daemon.h"
#include "daemon/forkreq.h"
#include "daemon/handshake.h"
#include "daemon/keyring.h"
#include "daemon/log.h"
#include "daemon/nlsock.h"
#include "daemon/pool.h"
#include "daemon/privs.h"
#include "daemon/stats.h"
#include "daemon/status.h"
#include "settings/settings.h"

const char *const hd_default_configs[] = {
	"/etc/handoff/handoffd.conf",
	"/etc/tlshd/config",
	"/etc/tlshd.conf",
	NULL,
};

/* A config shared by the jobs accepted under it; a reload makes a new one. */
struct hd_conf_ref {
	struct hd_conf conf;
	atomic_int refs;
};

struct daemon {
	const struct hd_options *opts;
	struct hd_conf_ref *conf;	/* main thread only; jobs hold their own ref */
	struct hd_nl listen, accept;
	/*
	 * accept is the main loop's, and a worker's fallback for DONE when it
	 * could not open a netlink socket of its own (no fd for it): a request
	 * and its reply at a time.
	 */
	pthread_mutex_t accept_lock;
	struct hd_pool *pool;
	int wake_fd;			/* eventfd: a worker finished a job */
	struct hd_custody *custody;	/* [custody] socket; NULL when not configured */
	atomic_uint in_flight;
	uint64_t next_id;
	struct hd_stats stats;
	int status_fd;			/* -1: no status socket */
	unsigned long started_ms;
	int results[2];			/* --fork-per-request: children's counters */
};

static unsigned long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000 + (unsigned long)ts.tv_nsec / 1000000;
}

static void conf_put(struct hd_conf_ref *ref)
{
	if (ref && atomic_fetch_sub(&ref->refs, 1) == 1) {
		hd_conf_free(&ref->conf);
		free(ref);
	}
}

static struct hd_conf_ref *conf_get(struct hd_conf_ref *ref)
{
	atomic_fetch_add(&ref->refs, 1);
	return ref;
}

const char *hd_config_path(const struct hd_options *opts)
{
	if (opts->config)
		return opts->config;
	for (size_t i = 0; hd_default_configs[i]; i++)
		if (access(hd_default_configs[i], F_OK) == 0)
			return hd_default_configs[i];
	return NULL;
}

static void log_note(void *ctx, const char *text)
{
	(void)ctx;
	hd_warn("%s", text);
}

/*
 * A private key that every local user may read is warned about, not
 * refused, as by every front door (settings_file_exposed() says why); the
 * custody identities' files were judged by the settings that loaded them.
 */
static void warn_exposed_keys(const struct hd_conf *c)
{
	const char *keys[2] = { c->client.private_key, c->server.private_key };
	unsigned mode;

	for (size_t i = 0; i < 2; i++)
		if (settings_file_exposed(keys[i], &mode))
			hd_warn("private key %s is readable by every user (mode %04o): chmod 600 it "
				"and replace the key, it may have been copied", keys[i], mode);
	for (size_t i = 0; c->custody && i < c->custody->n_ids; i++)
		if (c->custody->ids[i].warnings)
			hd_warn("[identity %s]: %s", c->custody->ids[i].name,
				c->custody->ids[i].warnings);
}

/* Loads the config the options name; NULL (logged) when it is broken. */
static struct hd_conf_ref *load_config(const struct hd_options *opts)
{
	struct hd_conf_ref *ref = calloc(1, sizeof(*ref));
	const char *path = hd_config_path(opts);
	char err[512];

	if (!ref) {
		hd_err("out of memory");
		return NULL;
	}
	atomic_init(&ref->refs, 1);
	if (!path) {
		hd_conf_init(&ref->conf);
		hd_notice("no config file (%s, %s, %s): built-in defaults", hd_default_configs[0],
			  hd_default_configs[1], hd_default_configs[2]);
	} else if (hd_conf_load(&ref->conf, path, hd_conf_format_for(path), log_note, NULL, err,
				sizeof(err)) < 0) {
		hd_err("config: %s", err);
		free(ref);
		return NULL;
	}
	warn_exposed_keys(&ref->conf);
	if (opts->workers)
		ref->conf.workers = opts->workers;
	if (opts->max_handshakes)
		ref->conf.max_handshakes = opts->max_handshakes;
	if (ref->conf.max_handshakes < ref->conf.workers)
		ref->conf.max_handshakes = ref->conf.workers;
	return ref;
}

static bool check_file(const char *what, const char *path)
{
	if (!path)
		return true;
	if (access(path, R_OK) == 0) {
		printf("  %-28s %s\n", what, path);
		return true;
	}
	printf("  %-28s %s: %s\n", what, path, strerror(errno));
	return false;
}

static bool check_key(const char *what, const char *path)
{
	unsigned mode;

	if (!check_file(what, path))
		return false;
	if (settings_file_exposed(path, &mode))
		printf("  WARNING: %s %s is readable by every user (mode %04o): chmod 600 it "
		       "and replace the key, it may have been copied\n", what, path, mode);
	return true;
}

int hd_check_config(const struct hd_options *opts)
{
	const char *path = hd_config_path(opts);
	struct hd_conf_ref *ref;
	struct hd_conf *c;
	bool ok = true;

	hd_log_open(opts->to_stderr, 0);
	ref = load_config(opts);
	if (!ref)
		return 1;
	c = &ref->conf;
	printf("%s: %s format\n", path ? path : "(built-in defaults)",
	       c->format == HD_CONF_TLSHD ? "tlshd's" : "handoffd's");
	printf("  workers %u, at most %u handshakes in flight, default timeout %u ms\n",
	       c->workers, c->max_handshakes, c->timeout_ms);
	printf("  keyrings: .nfs .nfsd .nvme");
	for (size_t i = 0; i < c->n_keyrings; i++)
		printf(" %s", c->keyrings[i]);
	printf("\n");
	ok &= check_file("client trust store", c->client.truststore);
	ok &= check_file("client CRL", c->client.crl);
	ok &= check_file("client certificate", c->client.certificate);
	ok &= check_key("client private key", c->client.private_key);
	ok &= check_file("server trust store", c->server.truststore);
	ok &= check_file("server CRL", c->server.crl);
	ok &= check_file("server certificate", c->server.certificate);
	ok &= check_key("server private key", c->server.private_key);
	if (!c->server.certificate)
		printf("  no [authenticate.server] certificate: server handshakes need one from the kernel\n");
	if (!c->client.truststore)
		printf("  no [authenticate.client] x509.truststore: servers are checked against the system store\n");
	if (c->custody) {
		printf("  custody socket %s (mode %04o), at most %u requests in flight, %u per uid "
		       "(%u queued or running)\n", c->custody->socket, (unsigned)c->custody->mode,
		       c->custody->max_requests, c->custody->max_per_uid,
		       c->custody->max_queued_per_uid);
		for (size_t i = 0; i < c->custody->n_ids; i++)
			printf("  identity %-19s %s, %zu uids, %zu gids may use it\n",
			       c->custody->ids[i].name,
			       c->custody->ids[i].can_serve ? "serves and connects" : "connects only",
			       c->custody->ids[i].n_uids, c->custody->ids[i].n_gids);
	}
	printf("%s\n", ok ? "config OK" : "config has problems (see above)");
	conf_put(ref);
	return ok ? 0 : 1;
}

/* ------------------------------------------------------------- workers */

static const char *errno_name(uint32_t status)
{
	switch (status) {
	case 0:
		return "ok";
	case EACCES:
		return "EACCES";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EKEYREJECTED:
		return "EKEYREJECTED";
	case EINVAL:
		return "EINVAL";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	case ENOMEM:
		return "ENOMEM";
	case EIO:
		return "EIO";
	}
	return "error";
}

/* DONE, close, and the one log line: every request ends here, exactly once. */
static void finish(struct hd_nl *nl, const struct hd_job *job,
		   const struct hd_result *res)
{
	unsigned long ms = now_ms() - job->accepted_ms;
	int ret = -ENOTCONN;

	if (nl)
		ret = hd_nl_done(nl, job->req.sockfd, res->status, res->remote_auth,
				 res->n_remote_auth);
	close(job->req.sockfd);
	if (res->status == 0)
		hd_info("handshake #%llu %s %s peer=%s auth=%s: ok %s (%lu ms)",
			(unsigned long long)job->id, res->consumer,
			job->req.msg_type == HS_MSG_TYPE_SERVERHELLO ? "server" : "client",
			res->peer, hd_auth_name(job->req.auth_mode), res->detail, ms);
	else
		hd_notice("handshake #%llu %s %s peer=%s auth=%s: failed %s: %s (%lu ms)",
			  (unsigned long long)job->id, res->consumer,
			  job->req.msg_type == HS_MSG_TYPE_SERVERHELLO ? "server" : "client",
			  res->peer, hd_auth_name(job->req.auth_mode), errno_name(res->status),
			  res->cause, ms);
	if (ret < 0)
		hd_err("handshake #%llu: DONE not delivered: %s", (unsigned long long)job->id,
		       strerror(-ret));
}

static void count(struct daemon *d, const struct hd_job *job, const struct hd_result *res)
{
	struct hd_stats_event ev = {
		.id = job->id,
		.status = res->status,
		.ms = (uint32_t)(now_ms() - job->accepted_ms),
		.role = job->req.msg_type == HS_MSG_TYPE_SERVERHELLO ? HD_STATS_SERVER : HD_STATS_CLIENT,
	};

	/* Cut to the counters' sizes: the full text is in the log line. */
	snprintf(ev.consumer, sizeof(ev.consumer), "%.*s", (int)sizeof(ev.consumer) - 1, res->consumer);
	snprintf(ev.peer, sizeof(ev.peer), "%.*s", (int)sizeof(ev.peer) - 1, res->peer);
	snprintf(ev.cause, sizeof(ev.cause), "%.*s", (int)sizeof(ev.cause) - 1, res->cause);
	if (d->opts->fork_per_request)
		hd_fork_report(d->results[1], &ev);	/* we are the child */
	else
		hd_stats_record(&d->stats, &ev);
}

static void wake_main(struct daemon *d)
{
	uint64_t one = 1;

	if (write(d->wake_fd, &one, sizeof(one)) < 0)
		hd_debug("wake-up lost: %s", strerror(errno));
}

static void job_done(struct daemon *d)
{
	atomic_fetch_sub(&d->in_flight, 1);
	wake_main(d);
}

/* A worker's own state (the pool's slot): never shared between threads. */
struct worker {
	struct hd_nl *nl;		/* for DONE; NULL: the main loop's, under accept_lock */
	struct hd_credcache *cache;	/* configs built from files (credcache.h) */
};

static void run_job(struct hd_job *job, void **slot, void *ctx)
{
	struct daemon *d = ctx;
	struct hd_conf *conf = &job->conf->conf;
	struct worker *w = *slot;
	struct hd_nl *nl;
	struct hd_result res;
	unsigned long waited = now_ms() - job->accepted_ms;
	unsigned timeout = job->req.timeout_ms ? job->req.timeout_ms : conf->timeout_ms;
	int ret;

	if (job->custody) {
		/* A local caller's request: the custody socket's own bound, not the upcalls'. */
		struct hd_stats_event ev;

		hd_stats_busy_inc(&d->stats);
		hd_custody_run(job->custody, conf, job->id, waited, &ev);
		hd_stats_busy_dec(&d->stats);
		hd_stats_record(&d->stats, &ev);
		conf_put(job->conf);
		wake_main(d);
		return;
	}

	if (!w) {
		/* Without it the job still runs: DONE through the main socket, no cache. */
		w = calloc(1, sizeof(*w));
		*slot = w;
	}
	if (w && !w->cache)
		w->cache = hd_credcache_new();
	if (w && !w->nl) {
		w->nl = calloc(1, sizeof(*w->nl));
		ret = w->nl ? hd_nl_open(w->nl) : -ENOMEM;
		if (ret < 0) {
			/* Tried again at the next job; meanwhile DONE goes through the main socket. */
			hd_warn("handshake #%llu: no netlink socket for this worker: %s; its DONE goes "
				"through the main loop's", (unsigned long long)job->id, strerror(-ret));
			free(w->nl);
			w->nl = NULL;
		}
	}
	nl = w ? w->nl : NULL;
	ret = hd_keyring_link(job->req.keyring, conf->keyrings, conf->n_keyrings);
	if (ret < 0)
		hd_warn("handshake #%llu: cannot link the keyrings (the request's: %u): %s",
			(unsigned long long)job->id, job->req.keyring, strerror(-ret));
	hd_stats_busy_inc(&d->stats);
	hd_handshake(&job->req, conf, w ? w->cache : NULL,
		     waited >= timeout ? 0 : (unsigned)(timeout - waited), &res);
	hd_stats_busy_dec(&d->stats);
	/* Counted before DONE: a consumer that saw its handshake end finds it counted. */
	count(d, job, &res);
	if (nl) {
		finish(nl, job, &res);
	} else {
		/* Without DONE the consumer would wait out its own timeout. */
		pthread_mutex_lock(&d->accept_lock);
		finish(&d->accept, job, &res);
		pthread_mutex_unlock(&d->accept_lock);
	}
	conf_put(job->conf);
	job_done(d);
}

static void fini_worker(void *slot, void *ctx)
{
	struct worker *w = slot;

	(void)ctx;
	if (!w)
		return;
	if (w->nl) {
		hd_nl_close(w->nl);
		free(w->nl);
	}
	hd_credcache_free(w->cache);
	free(w);
}

/* ---------------------------------------------------------- main loop */

static void submit(struct daemon *d, struct hd_job *job)
{
	pid_t pid;
	int ret;

	if (!d->opts->fork_per_request) {
		hd_pool_submit(d->pool, job);
		return;
	}
	pid = hd_fork_job(job, run_job, fini_worker, d);
	conf_put(job->conf);	/* the child has its own copy */
	if (pid > 0)
		return;
	hd_err("handshake #%llu: fork: %s", (unsigned long long)job->id, strerror(-pid));
	pthread_mutex_lock(&d->accept_lock);
	ret = hd_nl_done(&d->accept, job->req.sockfd, ENOMEM, NULL, 0);
	pthread_mutex_unlock(&d->accept_lock);
	close(job->req.sockfd);
	atomic_fetch_sub(&d->in_flight, 1);
	if (ret < 0)
		hd_err("handshake #%llu: DONE not delivered: %s", (unsigned long long)job->id,
		       strerror(-ret));
}

/* SIGCHLD: children that ended free their places. */
static void reap(struct daemon *d)
{
	unsigned n;

	hd_fork_collect(d->results[0], &d->stats);
	n = hd_fork_reap();
	atomic_fetch_sub(&d->in_flight, n);
}

static uint32_t status_for_parse_error(int err)
{
	return err == -ENOKEY ? EKEYREJECTED : EINVAL;
}

/* ACCEPT while there is room; false when the kernel has nothing more for us. */
static bool accept_some(struct daemon *d)
{
	while (atomic_load(&d->in_flight) < d->conf->conf.max_handshakes) {
		struct hd_job job = { 0 };
		int ret;

		pthread_mutex_lock(&d->accept_lock);
		ret = hd_nl_accept(&d->accept, &job.req);
		pthread_mutex_unlock(&d->accept_lock);
		if (ret == -EAGAIN)
			return false;
		job.id = ++d->next_id;
		job.accepted_ms = now_ms();
		if (ret < 0) {
			if (job.req.sockfd < 0 && (ret == -EMFILE || ret == -ENFILE)) {
				/*
				 * The kernel had no fd to give us the socket in, took the
				 * request off its queue and failed it (EIO) itself.  While
				 * handshakes of ours run, one ending frees an fd and wakes
				 * us; with none running nothing of ours will, and waiting
				 * would only leave the rest of the queue to time out: try
				 * the next (it fails as fast, and its consumer retries).
				 */
				hd_err("ACCEPT: no fd for the handshake socket: %s (%u handshakes in "
				       "flight); the kernel failed that request (EIO): raise the fd limit "
				       "(LimitNOFILE) or lower max-handshakes", strerror(-ret),
				       atomic_load(&d->in_flight));
				if (atomic_load(&d->in_flight) > 0)
					return false;
				continue;
			}
			if (job.req.sockfd < 0) {
				hd_err("ACCEPT failed: %s", strerror(-ret));
				return false;
			}
			/* A socket came with a request we cannot read: refuse it, never keep it. */
			hd_notice("handshake #%llu: bad request (%s%s%s): %s", (unsigned long long)job.id,
				  job.req.bad_attr ? "attribute " : "",
				  job.req.bad_attr ? hd_accept_attr_name(job.req.bad_attr) : "",
				  job.req.bad_attr ? "" : "message", strerror(-ret));
			pthread_mutex_lock(&d->accept_lock);
			ret = hd_nl_done(&d->accept, job.req.sockfd, status_for_parse_error(ret),
					 NULL, 0);
			pthread_mutex_unlock(&d->accept_lock);
			close(job.req.sockfd);
			if (ret < 0)
				hd_err("handshake #%llu: DONE not delivered: %s",
				       (unsigned long long)job.id, strerror(-ret));
			continue;
		}
		job.conf = conf_get(d->conf);
		atomic_fetch_add(&d->in_flight, 1);
		submit(d, &job);
	}
	return true;
}

/* A custody request ready for a worker (custody.c bounds how many are in flight). */
static void custody_submit(struct hd_custody_job *cj, void *ctx)
{
	struct daemon *d = ctx;
	struct hd_job job = { .custody = cj };

	job.id = ++d->next_id;
	job.accepted_ms = now_ms();
	job.conf = conf_get(d->conf);
	job.req.sockfd = -1;
	hd_pool_submit(d->pool, &job);
}

static void reload(struct daemon *d)
{
	struct hd_conf_ref *fresh = load_config(d->opts);

	if (!fresh) {
		hd_err("reload failed: still serving with %s",
		       d->conf->conf.path ? d->conf->conf.path : "the built-in defaults");
		return;
	}
	if (fresh->conf.workers != d->conf->conf.workers)
		hd_warn("reload: the number of workers changes only at restart");
	hd_log_set_debug(fresh->conf.loglevel);
	fresh->conf.generation = d->conf->conf.generation + 1;
	conf_put(d->conf);
	d->conf = fresh;
	hd_notice("reloaded %s", fresh->conf.path ? fresh->conf.path : "the built-in defaults");
}

static void answer_status(struct daemon *d)
{
	struct hd_status_info info = {
		.pid = (long)getpid(),
		.mode = d->opts->fork_per_request ? "fork-per-request" : "pool",
		.uptime_s = (now_ms() - d->started_ms) / 1000,
		.config = d->conf->conf.path,
		.config_generation = (unsigned)d->conf->conf.generation,
		.workers = d->conf->conf.workers,
		.max_handshakes = d->conf->conf.max_handshakes,
		.in_flight = atomic_load(&d->in_flight),
	};
	struct hd_stats_snapshot snap;
	char report[8192];
	int len, ret;

	if (d->opts->fork_per_request) {
		hd_fork_collect(d->results[0], &d->stats);
		info.workers = d->conf->conf.max_handshakes;	/* children at most */
	}
	hd_stats_snapshot(&d->stats, &snap);
	if (d->opts->fork_per_request)
		snap.busy = info.in_flight;	/* every child is busy */
	len = hd_status_format(report, sizeof(report), &info, &snap);
	if (len < 0)
		len = (int)strlen(report);
	/* A few readers per wake-up: an accept that keeps failing (EMFILE) must not spin here. */
	for (int i = 0; i < 16; i++) {
		ret = hd_status_answer(d->status_fd, report, (size_t)len);
		if (ret == -EAGAIN)
			break;
		if (ret < 0)
			hd_debug("status reader: %s", strerror(-ret));
	}
}

static int open_status(struct daemon *d)
{
	const char *path = d->opts->status_socket ? d->opts->status_socket : HD_STATUS_SOCKET_DEFAULT;

	d->status_fd = -1;
	if (!strcmp(path, "none"))
		return -1;
	d->status_fd = hd_status_listen(path);
	/* Diagnostics only: handshakes are served without it. */
	if (d->status_fd < 0)
		hd_warn("status socket %s: %s; `handoff status` will not reach this daemon", path,
			strerror(-d->status_fd));
	return d->status_fd;
}

int hd_daemon_run(const struct hd_options *opts)
{
	struct daemon d = { .opts = opts, .wake_fd = -1, .status_fd = -1,
			    .results = { -1, -1 }, .accept_lock = PTHREAD_MUTEX_INITIALIZER };
	struct pollfd pfd[5];
	unsigned custody_max = 0;
	sigset_t mask;
	bool pending = true;	/* requests may be queued from before we started */
	int sig_fd = -1, ret, status = 1;
	char why[512];

	hd_log_open(opts->to_stderr, 0);
	d.conf = load_config(opts);
	if (!d.conf)
		return 1;
	d.conf->conf.generation = 1;
	hd_log_set_debug(d.conf->conf.loglevel);
	hd_stats_init(&d.stats);
	d.started_ms = now_ms();

	ret = hd_nl_open(&d.listen);
	if (ret < 0) {
		hd_err("the kernel's handshake netlink family: %s%s", strerror(-ret),
		       ret == -ENOENT ? " (it needs Linux 6.4 or later with CONFIG_NET_HANDSHAKE)" : "");
		goto err_conf;
	}
	ret = hd_nl_join(&d.listen);
	if (ret < 0) {
		hd_err("joining the \"%s\" multicast group: %s", HS_MCGRP_TLSHD, strerror(-ret));
		goto err_listen;
	}
	ret = hd_nl_open(&d.accept);
	if (ret < 0) {
		hd_err("netlink: %s", strerror(-ret));
		goto err_listen;
	}
	d.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (opts->fork_per_request)
		sigaddset(&mask, SIGCHLD);
	if (d.wake_fd < 0 || sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		hd_err("event fds: %s", strerror(errno));
		goto err_fds;
	}
	open_status(&d);
	ret = hd_custody_open(d.conf->conf.custody, &d.custody, why, sizeof(why));
	if (ret < 0) {
		hd_err("custody socket: %s", why);
		goto err_fds;
	}
	if (d.custody && opts->fork_per_request) {
		/* Custody requests run on the pool's threads; that mode has none. */
		hd_err("custody socket: not served with --fork-per-request (a benchmark mode)");
		goto err_fds;
	}
	if (d.custody) {
		custody_max = d.conf->conf.custody->max_requests;
		hd_notice("custody socket %s: %zu identities, at most %u requests in flight",
			  d.conf->conf.custody->socket, d.conf->conf.custody->n_ids, custody_max);
	}
	/*
	 * All that needs more than CAP_NET_ADMIN is open: drop the rest
	 * (privs.h), before any thread is made, since threads inherit it.
	 */
	ret = hd_privs_drop(why, sizeof(why));
	if (ret < 0) {
		hd_err("dropping privileges: %s", why);
		goto err_fds;
	}
	hd_privs_describe(why, sizeof(why));
	hd_notice("capabilities left: %s; no_new_privs set", why);
	if (opts->fork_per_request) {
		ret = hd_fork_pipe(d.results);
		if (ret < 0) {
			hd_err("pipe: %s", strerror(-ret));
			goto err_fds;
		}
		hd_warn("--fork-per-request: one process per handshake, for comparison only");
	} else {
		/* Workers inherit the blocked signals: only the main loop sees them. */
		d.pool = hd_pool_new(d.conf->conf.workers, d.conf->conf.max_handshakes + custody_max,
				     run_job, fini_worker, &d);
		if (!d.pool) {
			hd_err("worker threads: %s", strerror(errno));
			goto err_fds;
		}
	}
	hd_notice("serving handshake upcalls: %u workers, at most %u in flight, config %s",
		  d.conf->conf.workers, d.conf->conf.max_handshakes,
		  d.conf->conf.path ? d.conf->conf.path : "built-in");

	pfd[0] = (struct pollfd){ .fd = hd_nl_fd(&d.listen), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = d.wake_fd, .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
	pfd[3] = (struct pollfd){ .fd = d.status_fd, .events = POLLIN };
	pfd[4] = (struct pollfd){ .fd = hd_custody_fd(d.custody), .events = POLLIN };
	for (;;) {
		if (pending)
			pending = accept_some(&d);
		if (poll(pfd, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			hd_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents) {
			ret = hd_nl_drain(&d.listen);
			if (ret < 0)
				hd_err("netlink notifications: %s", strerror(-ret));
			pending = true;
		}
		if (pfd[1].revents) {
			uint64_t n;

			if (read(d.wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
				hd_debug("eventfd: %s", strerror(errno));
			/* Room again: anything READY announced while we were full is still queued. */
			pending = true;
		}
		if (pfd[3].revents)
			answer_status(&d);
		if (pfd[1].revents || pfd[4].revents)
			hd_custody_service(d.custody, custody_submit, &d);
		if (pfd[2].revents) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				reload(&d);
				continue;
			}
			if (si.ssi_signo == SIGCHLD) {
				reap(&d);
				pending = true;
				continue;
			}
			hd_notice("signal %u: finishing %u handshakes in flight, then exiting",
				  si.ssi_signo, atomic_load(&d.in_flight));
			status = 0;
			break;
		}
	}
	hd_pool_free(d.pool);
	while (opts->fork_per_request && wait(NULL) > 0)
		;

err_fds:
	hd_custody_close(d.custody);	/* after the pool: its jobs answered their callers */
	hd_status_close(d.status_fd, opts->status_socket ? opts->status_socket :
				     HD_STATUS_SOCKET_DEFAULT);
	if (d.results[0] >= 0) {
		close(d.results[0]);
		close(d.results[1]);
	}
	if (sig_fd >= 0)
		close(sig_fd);
	if (d.wake_fd >= 0)
		close(d.wake_fd);
	hd_nl_close(&d.accept);
err_listen:
	hd_nl_close(&d.listen);
err_conf:
	hd_stats_destroy(&d.stats);
	conf_put(d.conf);
	return status;
}
