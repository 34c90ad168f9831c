/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The custody socket: local processes pass handoffd a connected TCP socket
 * and the name of an identity; handoffd checks who they are against the
 * policy, does the handshake with the identity's key on a worker of the
 * same pool as the kernel's upcalls, through the same engine calls
 * (hd_handshake_drive()), installs kernel TLS, answers, and closes its
 * copy of the socket.  The protocol is helper/custody/wire.h.
 *
 * Nothing a caller does may stall the main loop or exhaust the daemon:
 *  - the main loop never blocks on a caller: connections are non-blocking
 *    and a request is read only when it is there;
 *  - a caller that connects and says nothing holds one of max-pending
 *    slots for at most PENDING_TIMEOUT_MS; when every slot is taken the
 *    oldest silent one is dropped.  A well-behaved caller (the shim) sends
 *    its request right after connect(), so it is already there when we
 *    accept and never waits in a slot;
 *  - at most max-requests handshakes for callers are in flight; past
 *    that we stop accepting and the rest waits in the socket's backlog
 *    (the caller's connect() then says EAGAIN), as upcalls wait in the
 *    kernel's queue.  The upcalls' own bound is separate, so a flood of
 *    callers never takes the kernel's handshakes' places;
 *  - one uid never takes every place: at most max-per-uid of its
 *    handshakes run at once (the others' requests are dispatched past its
 *    queued ones), and at most max-queued-per-uid of its requests are
 *    queued or running; past that it is answered EAGAIN at once.  A
 *    compromised program can make stalled handshakes at will (a TCP
 *    socket to a peer that never speaks): each would hold its place for
 *    the identity's whole timeout, and without the share a handful would
 *    stall every other program's handshakes for as long.
 */
#include "common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/frontdoor.h"
#include "daemon/config.h"
#include "daemon/custody.h"
#include "daemon/handshake.h"
#include "daemon/log.h"
#include "util/wipe.h"

#define PENDING_TIMEOUT_MS 1000	/* a request comes with connect(): anything slower is not ours to wait for */
#define LISTEN_BACKLOG 128
#define MAX_GROUPS 64
#define ACCEPT_ROUNDS 64
#define ACCEPT_BATCH 256
#define EV_LISTEN UINT64_MAX
#define EV_TIMER (UINT64_MAX - 1)

enum slot_state { SLOT_FREE, SLOT_WAITING, SLOT_READY };

struct hd_custody_job {
	struct hd_custody *cu;
	int conn;			/* the caller's UNIX connection */
	int fd;				/* the TCP socket it passed */
	struct ucred cred;
	gid_t groups[MAX_GROUPS];	/* primary and supplementary */
	size_t n_groups;
	struct custody_request req;
};

struct slot {
	enum slot_state state;
	uint64_t seq;			/* accept order: the oldest is dropped first */
	unsigned long deadline_ms;
	struct hd_custody_job job;
};

/* A uid with handshakes running, and how many. */
struct running {
	uid_t uid;
	unsigned n;			/* 0: the entry is free */
};

struct hd_custody {
	int listen_fd, ep, timer_fd;
	bool listening;			/* listen_fd in the epoll set */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned max_requests, max_pending, max_per_uid, max_queued_per_uid;
	atomic_uint in_flight;
	unsigned evicted, expired;	/* silent callers dropped, for one log line per round */
	unsigned busy;			/* requests answered EAGAIN this round (one log line) */
	uid_t busy_uid;			/* ... the last of whose uids */
	struct slot *slots;
	uint64_t seq;
	/* Workers end jobs, the main loop starts them: max-requests entries at most are used. */
	pthread_mutex_t running_lock;
	struct running *running;
};

static unsigned long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000 + (unsigned long)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ opening */

/* A socket file left by a handoffd that died is replaced; a live one, or anything else, is not. */
static int clear_path(const char *path, char *why, size_t why_size)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, why_size, "%s exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (ret == 0) {
		snprintf(why, why_size, "%s: another process listens there", path);
		return -EADDRINUSE;
	}
	return unlink(path) < 0 ? -errno : 0;
}

int hd_custody_open(const struct hd_custody_conf *cc, struct hd_custody **out, char *why,
		    size_t why_size)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	struct hd_custody *cu;
	int ret;

	*out = NULL;
	if (!cc || !cc->socket)
		return 0;
	snprintf(why, why_size, "%s", "");
	cu = calloc(1, sizeof(*cu));
	if (!cu)
		return -ENOMEM;
	cu->slots = calloc(cc->max_pending, sizeof(*cu->slots));
	cu->running = calloc(cc->max_requests, sizeof(*cu->running));
	cu->listen_fd = cu->ep = cu->timer_fd = -1;
	pthread_mutex_init(&cu->running_lock, NULL);
	if (!cu->slots || !cu->running) {
		ret = -ENOMEM;
		goto err;
	}
	cu->max_requests = cc->max_requests;
	cu->max_pending = cc->max_pending;
	cu->max_per_uid = cc->max_per_uid ? cc->max_per_uid : cc->max_requests;
	cu->max_queued_per_uid = cc->max_queued_per_uid ? cc->max_queued_per_uid : cc->max_pending;
	atomic_init(&cu->in_flight, 0);
	snprintf(cu->path, sizeof(cu->path), "%s", cc->socket);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", cc->socket);

	ret = clear_path(cu->path, why, why_size);
	if (ret < 0)
		goto err;
	cu->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cu->listen_fd < 0 || bind(cu->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		goto err;
	}
	/* bind() made it under our umask; the policy, not the file mode, says who is served. */
	if (chmod(cu->path, cc->mode) < 0 || listen(cu->listen_fd, LISTEN_BACKLOG) < 0) {
		ret = -errno;
		goto err_bound;
	}
	cu->ep = epoll_create1(EPOLL_CLOEXEC);
	cu->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (cu->ep < 0 || cu->timer_fd < 0) {
		ret = -errno;
		goto err_bound;
	}
	ev.data.u64 = EV_LISTEN;
	if (epoll_ctl(cu->ep, EPOLL_CTL_ADD, cu->listen_fd, &ev) < 0) {
		ret = -errno;
		goto err_bound;
	}
	cu->listening = true;
	ev.data.u64 = EV_TIMER;
	if (epoll_ctl(cu->ep, EPOLL_CTL_ADD, cu->timer_fd, &ev) < 0) {
		ret = -errno;
		goto err_bound;
	}
	*out = cu;
	return 0;

err_bound:
	unlink(cu->path);
err:
	if (!why[0])
		snprintf(why, why_size, "%s: %s", cc->socket, strerror(-ret));
	if (cu->listen_fd >= 0)
		close(cu->listen_fd);
	if (cu->ep >= 0)
		close(cu->ep);
	if (cu->timer_fd >= 0)
		close(cu->timer_fd);
	pthread_mutex_destroy(&cu->running_lock);
	free(cu->running);
	free(cu->slots);
	free(cu);
	return ret;
}

int hd_custody_fd(const struct hd_custody *cu)
{
	return cu ? cu->ep : -1;
}

/* ------------------------------------------------ one uid's share */

static unsigned running_count(struct hd_custody *cu, uid_t uid)
{
	unsigned n = 0;

	pthread_mutex_lock(&cu->running_lock);
	for (unsigned i = 0; i < cu->max_requests; i++)
		if (cu->running[i].n && cu->running[i].uid == uid)
			n = cu->running[i].n;
	pthread_mutex_unlock(&cu->running_lock);
	return n;
}

/* Called only below max-requests in flight, so a free entry is there when the uid has none. */
static void running_add(struct hd_custody *cu, uid_t uid)
{
	struct running *free_entry = NULL;

	pthread_mutex_lock(&cu->running_lock);
	for (unsigned i = 0; i < cu->max_requests; i++) {
		if (cu->running[i].n && cu->running[i].uid == uid) {
			cu->running[i].n++;
			pthread_mutex_unlock(&cu->running_lock);
			return;
		}
		if (!cu->running[i].n && !free_entry)
			free_entry = &cu->running[i];
	}
	if (free_entry)
		*free_entry = (struct running){ .uid = uid, .n = 1 };
	pthread_mutex_unlock(&cu->running_lock);
}

static void running_done(struct hd_custody *cu, uid_t uid)
{
	pthread_mutex_lock(&cu->running_lock);
	for (unsigned i = 0; i < cu->max_requests; i++)
		if (cu->running[i].n && cu->running[i].uid == uid) {
			cu->running[i].n--;
			break;
		}
	pthread_mutex_unlock(&cu->running_lock);
}

/* Requests of uid queued (read, not yet running). */
static unsigned queued_count(const struct hd_custody *cu, uid_t uid)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cu->max_pending; i++)
		if (cu->slots[i].state == SLOT_READY && cu->slots[i].job.cred.uid == uid)
			n++;
	return n;
}

/* --------------------------------------------------------- main loop */

static void slot_close(struct hd_custody *cu, struct slot *s)
{
	if (s->state == SLOT_WAITING)
		epoll_ctl(cu->ep, EPOLL_CTL_DEL, s->job.conn, NULL);
	if (s->job.conn >= 0)
		close(s->job.conn);
	if (s->job.fd >= 0)
		close(s->job.fd);
	s->job.conn = s->job.fd = -1;
	s->state = SLOT_FREE;
}

/* The answer to a request that never reaches a worker, and its log line. */
static void refuse_early(struct slot *s, uint32_t status, const char *why)
{
	struct custody_reply rep = { .status = status };
	uint8_t buf[CUSTODY_REPLY_MAX];
	size_t len;

	snprintf(rep.cause, sizeof(rep.cause), "%s", why);
	len = custody_reply_encode(&rep, buf, sizeof(buf));
	if (send(s->job.conn, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		hd_debug("custody: reply not delivered: %s", strerror(errno));
	hd_notice("custody pid=%d uid=%u: refused %s: bad request: %s", (int)s->job.cred.pid,
		  (unsigned)s->job.cred.uid, custody_status_name(status), why);
}

/* The request on a slot's connection, if it is there: READY, still WAITING, or answered and freed. */
static void read_request(struct hd_custody *cu, struct slot *s)
{
	uint8_t buf[CUSTODY_REQ_MAX + 1];
	const char *why = "";
	ssize_t n;
	int ret;

	n = custody_recv_request(s->job.conn, buf, sizeof(buf), &s->job.fd, &why);
	if (n == -EAGAIN)
		return;
	if (n == -ECONNRESET) {
		hd_debug("custody pid=%d uid=%u: %s", (int)s->job.cred.pid,
			 (unsigned)s->job.cred.uid, why);
		slot_close(cu, s);
		return;
	}
	if (n < 0) {
		refuse_early(s, n == -EPROTO ? EPROTO : (uint32_t)-n, why);
		slot_close(cu, s);
		return;
	}
	ret = custody_request_decode(buf, (size_t)n, &s->job.req, &why);
	if (ret < 0) {
		refuse_early(s, (uint32_t)-ret, why);
		slot_close(cu, s);
		return;
	}
	if (queued_count(cu, s->job.cred.uid) + running_count(cu, s->job.cred.uid) >=
	    cu->max_queued_per_uid) {
		struct custody_reply rep = { .status = EAGAIN };
		uint8_t out[CUSTODY_REPLY_MAX];
		size_t len;

		/* No log line per request: a flood would become one; service() sums them up. */
		snprintf(rep.cause, sizeof(rep.cause), "uid %u has %u custody requests queued or "
			 "running (max-queued-per-uid): try again", (unsigned)s->job.cred.uid,
			 cu->max_queued_per_uid);
		len = custody_reply_encode(&rep, out, sizeof(out));
		(void)send(s->job.conn, out, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		cu->busy++;
		cu->busy_uid = s->job.cred.uid;
		slot_close(cu, s);
		return;
	}
	if (s->state == SLOT_WAITING)
		epoll_ctl(cu->ep, EPOLL_CTL_DEL, s->job.conn, NULL);
	s->state = SLOT_READY;
}

static struct slot *free_slot(struct hd_custody *cu)
{
	struct slot *oldest = NULL;

	for (unsigned i = 0; i < cu->max_pending; i++) {
		struct slot *s = &cu->slots[i];

		if (s->state == SLOT_FREE)
			return s;
		if (s->state == SLOT_WAITING && (!oldest || s->seq < oldest->seq))
			oldest = s;
	}
	if (oldest) {
		cu->evicted++;
		slot_close(cu, oldest);
	}
	return oldest;
}

static void take_credentials(struct slot *s)
{
	socklen_t len = sizeof(s->job.cred);
	gid_t groups[MAX_GROUPS - 1];

	s->job.cred = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	if (getsockopt(s->job.conn, SOL_SOCKET, SO_PEERCRED, &s->job.cred, &len) < 0)
		s->job.cred = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	s->job.groups[0] = s->job.cred.gid;
	s->job.n_groups = 1;
	/* Supplementary groups as they were at connect(), from the kernel too (Linux 4.13). */
	len = sizeof(groups);
	if (getsockopt(s->job.conn, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		for (size_t i = 0; i < len / sizeof(gid_t); i++)
			s->job.groups[s->job.n_groups++] = groups[i];
	}
}

/* New connections while there is a slot; false when the backlog is empty. */
static bool accept_some(struct hd_custody *cu)
{
	for (unsigned taken = 0; taken < ACCEPT_BATCH; taken++) {
		struct slot *s = free_slot(cu);
		struct epoll_event ev = { .events = EPOLLIN };
		int conn;

		if (!s)
			return true;	/* every slot holds a request waiting for room */
		conn = accept4(cu->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (conn < 0) {
			if (errno == ECONNABORTED || errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				hd_err("custody: accept: %s", strerror(errno));
			return false;
		}
		memset(s, 0, sizeof(*s));
		s->job.cu = cu;
		s->job.conn = conn;
		s->job.fd = -1;
		s->seq = ++cu->seq;
		s->deadline_ms = now_ms() + PENDING_TIMEOUT_MS;
		take_credentials(s);
		ev.data.u64 = (uint64_t)(s - cu->slots);
		if (epoll_ctl(cu->ep, EPOLL_CTL_ADD, conn, &ev) < 0) {
			close(conn);
			s->state = SLOT_FREE;
			continue;
		}
		s->state = SLOT_WAITING;
		read_request(cu, s);	/* a well-behaved caller's request is already here */
		if (s->state == SLOT_READY)
			return true;	/* dispatch it before taking more */
	}
	return true;
}

static void dispatch(struct hd_custody *cu, hd_custody_submit_fn submit, void *ctx)
{
	while (atomic_load(&cu->in_flight) < cu->max_requests) {
		struct slot *first = NULL;
		struct hd_custody_job *job;

		/* The oldest request whose uid is below its share; the rest wait their turn. */
		for (unsigned i = 0; i < cu->max_pending; i++)
			if (cu->slots[i].state == SLOT_READY &&
			    (!first || cu->slots[i].seq < first->seq) &&
			    running_count(cu, cu->slots[i].job.cred.uid) < cu->max_per_uid)
				first = &cu->slots[i];
		if (!first)
			return;
		job = malloc(sizeof(*job));
		if (!job)
			return;	/* try again at the next wake-up */
		*job = first->job;
		first->job.conn = first->job.fd = -1;
		first->state = SLOT_FREE;
		running_add(cu, job->cred.uid);
		atomic_fetch_add(&cu->in_flight, 1);
		submit(job, ctx);
	}
}

static void set_listening(struct hd_custody *cu, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.u64 = EV_LISTEN };

	if (on != cu->listening && epoll_ctl(cu->ep, EPOLL_CTL_MOD, cu->listen_fd, &ev) == 0)
		cu->listening = on;
}

void hd_custody_service(struct hd_custody *cu, hd_custody_submit_fn submit, void *ctx)
{
	struct epoll_event evs[32];
	struct itimerspec its = { 0 };
	unsigned long now, next = 0;
	uint64_t ticks;
	bool more = true;
	int n;

	if (!cu)
		return;
	if (read(cu->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		hd_debug("custody timer: %s", strerror(errno));
	n = epoll_wait(cu->ep, evs, 32, 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u64 == EV_LISTEN || evs[i].data.u64 == EV_TIMER)
			continue;
		if (evs[i].data.u64 < cu->max_pending &&
		    cu->slots[evs[i].data.u64].state == SLOT_WAITING)
			read_request(cu, &cu->slots[evs[i].data.u64]);
	}
	dispatch(cu, submit, ctx);
	/* Bounded, so that the other sources of the main loop get their turn in a flood. */
	for (unsigned round = 0; more && round < ACCEPT_ROUNDS &&
	     atomic_load(&cu->in_flight) < cu->max_requests; round++) {
		more = accept_some(cu);
		dispatch(cu, submit, ctx);
	}
	if (more)
		set_listening(cu, true);	/* the backlog may hold more: poll says so again */
	/* Silent callers past their time go; the timer wakes us for the next one. */
	now = now_ms();
	for (unsigned i = 0; i < cu->max_pending; i++) {
		struct slot *s = &cu->slots[i];

		if (s->state != SLOT_WAITING)
			continue;
		if (now >= s->deadline_ms) {
			cu->expired++;
			slot_close(cu, s);
		} else if (!next || s->deadline_ms < next) {
			next = s->deadline_ms;
		}
	}
	/* One line per round, not per caller: a flood must not become a flood of log lines. */
	if (cu->evicted || cu->expired)
		hd_notice("custody: dropped %u callers that sent no request (%u: all %u slots taken, "
			  "%u: none within %u ms)", cu->evicted + cu->expired, cu->evicted,
			  cu->max_pending, cu->expired, PENDING_TIMEOUT_MS);
	cu->evicted = cu->expired = 0;
	if (cu->busy)
		hd_notice("custody: answered %u requests EAGAIN: uid %u (or another) was at its share "
			  "of %u queued or running (max-queued-per-uid)", cu->busy,
			  (unsigned)cu->busy_uid, cu->max_queued_per_uid);
	cu->busy = 0;
	if (next) {
		its.it_value.tv_sec = (time_t)((next - now) / 1000);
		its.it_value.tv_nsec = (long)((next - now) % 1000) * 1000000L + 1;
	}
	timerfd_settime(cu->timer_fd, 0, &its, NULL);
	/* No room: the backlog waits (level-triggered, it would only spin the loop). */
	set_listening(cu, atomic_load(&cu->in_flight) < cu->max_requests);
}

/* ------------------------------------------------------------ workers */

static void describe_peer(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *in = (const void *)&ss;

			inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (const void *)&ss;

			inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(buf, size, "%s:%u", ip, port);
}

/* The fd must be what the engine expects: a connected TCP socket with no TLS yet. */
static const char *check_socket(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int);
	int type = 0, proto = 0, domain = 0;
	char ulp[16] = "";

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return "the fd passed is not a socket";
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
	if (type != SOCK_STREAM || proto != IPPROTO_TCP || (domain != AF_INET && domain != AF_INET6))
		return "the fd passed is not a TCP socket";
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return "the TCP socket passed is not connected";
	len = sizeof(ulp);
	if (getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &len) == 0 && ulp[0])
		return "the TCP socket passed already has a ULP (TLS) on it";
	return NULL;
}

static void set_reply_cause(struct custody_reply *rep, uint32_t status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_reply_cause(struct custody_reply *rep, uint32_t status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->cause, sizeof(rep->cause), fmt, ap);
	va_end(ap);
	rep->status = status;
}

/* Policy, then the handshake: fills rep (fail closed: EACCES until a handshake says 0). */
static void serve(struct hd_custody_job *job, const struct hd_conf *conf, unsigned long waited,
		  struct custody_reply *rep, char *detail, size_t detail_size)
{
	const struct custody_request *req = &job->req;
	bool server = req->role == CUSTODY_ROLE_SERVER;
	const struct hd_custody_identity *id = hd_custody_identity_find(conf->custody, req->identity);
	const char *bad, *name;
	struct handoff *h;
	unsigned budget;
	int ret;

	rep->status = EACCES;
	if (!id) {
		set_reply_cause(rep, EACCES, "no identity \"%s\" in %s", req->identity,
				conf->path ? conf->path : "the config");
		return;
	}
	if (!hd_custody_allowed(id, job->cred.uid, job->groups, job->n_groups)) {
		set_reply_cause(rep, EACCES, "uid %u (gid %u) may not use identity \"%s\" "
			       "(allow-uid/allow-gid)", (unsigned)job->cred.uid,
			       (unsigned)job->cred.gid, id->name);
		return;
	}
	if (server && !id->can_serve) {
		set_reply_cause(rep, EINVAL, "identity \"%s\" has no certificate and key: it cannot "
			       "serve", id->name);
		return;
	}
	if (!server && id->servername && req->servername[0] &&
	    strcasecmp(id->servername, req->servername) != 0) {
		set_reply_cause(rep, EACCES, "identity \"%s\" connects only to %s, not %s", id->name,
				id->servername, req->servername);
		return;
	}
	if ((bad = check_socket(job->fd))) {
		set_reply_cause(rep, EINVAL, "%s", bad);
		return;
	}
	budget = id->timeout_ms;
	if (req->timeout_ms && req->timeout_ms < budget)
		budget = req->timeout_ms;
	if (waited >= budget) {
		set_reply_cause(rep, ETIMEDOUT, "the deadline passed while the request was queued");
		return;
	}
	name = id->servername ? id->servername : req->servername[0] ? req->servername : NULL;
	h = server ? handoff_server(id->cfg, job->fd) : handoff_client(id->cfg, job->fd, name);
	if (!h) {
		set_reply_cause(rep, ECONNABORTED, "cannot start the handshake: %s", strerror(errno));
		return;
	}
	/* A ticket would arrive after the hand-off, at a caller with no session to keep it in. */
	if (!server)
		handoff_conn_no_tickets(h);
	ret = hd_handshake_drive(h, (unsigned)(budget - waited));
	if (ret == -ETIMEDOUT) {
		set_reply_cause(rep, ETIMEDOUT, "no handshake within %lu ms", budget - waited);
	} else if (ret < 0) {
		ret = handoff_error_code(h);
		set_reply_cause(rep, ret > 0 ? (uint32_t)ret : ECONNABORTED, "%s",
				handoff_error(h) ? handoff_error(h) : "handshake failed");
	} else {
		rep->status = 0;
		snprintf(rep->tls_version, sizeof(rep->tls_version), "%s", handoff_conn_version(h));
		snprintf(rep->cipher, sizeof(rep->cipher), "%s", handoff_conn_cipher(h));
		snprintf(rep->alpn, sizeof(rep->alpn), "%s",
			 handoff_conn_alpn(h) ? handoff_conn_alpn(h) : "");
		snprintf(rep->peer, sizeof(rep->peer), "%s",
			 handoff_conn_peer_subject(h) ? handoff_conn_peer_subject(h) : "");
		hd_handshake_describe(h, detail, detail_size);
		/*
		 * The caller follows the peer's KeyUpdates itself once we are gone.
		 * None for TLS 1.2 or a no-key-update identity: its KeyUpdate then
		 * fails closed there.  Only the length reaches the log.
		 */
		if (req->flags & CUSTODY_FLAG_SECRETS) {
			ret = handoff_conn_traffic_secrets(h, rep->write_secret, rep->read_secret,
							   sizeof(rep->write_secret));
			rep->secret_len = ret > 0 ? (uint8_t)ret : 0;
		}
	}
	handoff_free(h);
}

void hd_custody_run(struct hd_custody_job *job, const struct hd_conf *conf, uint64_t id,
		    unsigned long waited_ms, struct hd_stats_event *ev)
{
	struct custody_reply rep = { 0 };
	uint8_t buf[CUSTODY_REPLY_MAX];
	unsigned long start = now_ms();
	char peer[INET6_ADDRSTRLEN + 8], detail[320] = "";
	const char *sent = "";
	size_t len;

	describe_peer(job->fd, peer, sizeof(peer));
	serve(job, conf, waited_ms, &rep, detail, sizeof(detail));
	len = custody_reply_encode(&rep, buf, sizeof(buf));
	if (send(job->conn, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
		sent = " (the caller had gone: reply not delivered)";
	wipe(buf, sizeof(buf));
	wipe(rep.write_secret, sizeof(rep.write_secret));
	wipe(rep.read_secret, sizeof(rep.read_secret));
	close(job->conn);
	/* Our copy only: the caller's fd is the same socket and carries on. */
	close(job->fd);
	if (rep.status == 0)
		hd_info("custody #%llu pid=%d uid=%u identity=%s %s peer=%s: ok %s%s (%lu ms)%s",
			(unsigned long long)id, (int)job->cred.pid, (unsigned)job->cred.uid,
			job->req.identity, job->req.role == CUSTODY_ROLE_SERVER ? "server" : "client",
			peer, detail,
			!(job->req.flags & CUSTODY_FLAG_SECRETS) ? "" :
			rep.secret_len ? ", traffic secrets passed for KeyUpdate" :
					 ", no traffic secrets to pass (KeyUpdate fails closed)",
			now_ms() - start + waited_ms, sent);
	else
		hd_notice("custody #%llu pid=%d uid=%u identity=%s %s peer=%s: %s %s: %s (%lu ms)%s",
			  (unsigned long long)id, (int)job->cred.pid, (unsigned)job->cred.uid,
			  job->req.identity, job->req.role == CUSTODY_ROLE_SERVER ? "server" : "client",
			  peer, rep.status == EACCES ? "refused" : "failed",
			  custody_status_name(rep.status), rep.cause, now_ms() - start + waited_ms, sent);
	*ev = (struct hd_stats_event){
		.id = id,
		.status = (uint32_t)rep.status,
		.ms = (uint32_t)(now_ms() - start + waited_ms),
		.role = job->req.role == CUSTODY_ROLE_SERVER ? HD_STATS_SERVER : HD_STATS_CLIENT,
	};
	snprintf(ev->consumer, sizeof(ev->consumer), "custody");
	snprintf(ev->peer, sizeof(ev->peer), "%.*s", (int)sizeof(ev->peer) - 1, peer);
	snprintf(ev->cause, sizeof(ev->cause), "%.*s", (int)sizeof(ev->cause) - 1, rep.cause);
	running_done(job->cu, job->cred.uid);
	atomic_fetch_sub(&job->cu->in_flight, 1);
	free(job);
}

void hd_custody_close(struct hd_custody *cu)
{
	if (!cu)
		return;
	for (unsigned i = 0; i < cu->max_pending; i++)
		if (cu->slots[i].state != SLOT_FREE)
			slot_close(cu, &cu->slots[i]);
	close(cu->listen_fd);
	close(cu->ep);
	close(cu->timer_fd);
	unlink(cu->path);
	pthread_mutex_destroy(&cu->running_lock);
	free(cu->running);
	free(cu->slots);
	free(cu);
}
