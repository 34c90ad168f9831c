/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program's TLS connection, from accept()/connect() to close(): the
 * handshake driven from the program's own calls, the records the kernel
 * hands back, close_notify, and what errno the program sees when it fails.
 *
 * The handshake runs in the thread that touches the connection, inside the
 * program's own read/write: on a non-blocking fd one step per call (EAGAIN
 * in between, as a socket with no data would say), on a blocking fd to the
 * end.  That keeps an edge-triggered event loop honest: a call returns
 * EAGAIN only after the socket itself said so, so the next byte from the
 * peer is a new edge.  accept() and connect() never wait for a handshake.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>

#include "core/fdtable.h"
#include "core/frontdoor.h"
#include "core/log.h"
#include "core/real.h"
#include "core/shim.h"
#include "custody/wire.h"

/* Released connections, reused before new memory is taken (see struct shim_conn). */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_conn *pool_free;
static struct shim_conn *pool_all;

unsigned shim_handshaking;

/*
 * Every state change goes through here (under c->lock, or before c is
 * visible), so that shim_handshaking counts the connections still in their
 * handshake: poll() and select() look only while it is not zero.
 */
static void set_state(struct shim_conn *c, int state)
{
	int old = shim_state(c);

	if (old == SHIM_HANDSHAKE && state != SHIM_HANDSHAKE)
		__atomic_sub_fetch(&shim_handshaking, 1, __ATOMIC_RELAXED);
	else if (old != SHIM_HANDSHAKE && state == SHIM_HANDSHAKE)
		__atomic_add_fetch(&shim_handshaking, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->state, state, __ATOMIC_RELEASE);
}

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000ULL;
}

static struct shim_conn *conn_alloc(void)
{
	struct shim_conn *c;

	pthread_mutex_lock(&pool_lock);
	c = pool_free;
	if (c) {
		pool_free = c->next;
	} else if ((c = calloc(1, sizeof(*c)))) {
		pthread_mutex_init(&c->lock, NULL);
		c->state = SHIM_FAILED;	/* not handshaking: see set_state() */
		c->all_next = pool_all;
		pool_all = c;
	}
	pthread_mutex_unlock(&pool_lock);
	if (c)
		c->next = NULL;
	return c;
}

/* Back to the pool; the caller holds no lock on c and has taken it out of the table. */
static void conn_recycle(struct shim_conn *c)
{
	pthread_mutex_lock(&pool_lock);
	c->next = pool_free;
	pool_free = c;
	pthread_mutex_unlock(&pool_lock);
}

static void describe_peer(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (!sa) {
		snprintf(buf, len, "?");
		return;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		snprintf(buf, len, "?");
	}
}

/*
 * Every field of a connection (fresh or recycled) that is not its engine
 * state, its server name or its state: set before it enters the table.
 */
static void conn_reset(struct shim_conn *c, int fd, const struct shim_rule *rule, bool is_server,
		       const struct sockaddr *peer)
{
	c->fd = fd;
	__atomic_add_fetch(&c->gen, 1, __ATOMIC_RELEASE);
	c->fds = 1;
	c->rule = rule;
	c->is_server = is_server;
	c->nonblock_kicked = false;
	c->timed_out = false;
	c->forked = false;
	c->closed_notify = false;
	c->record_err_logged = false;
	c->inherited = false;
	c->stdio = false;
	c->blocked = false;
	c->fork_orphan = false;
	c->fork_orphan_logged = false;
	c->fork_torn = false;
	c->err = 0;
	c->want = 0;
	c->pending = NULL;
	c->pending_len = 0;
	c->custody_fd = -1;
	c->custody_retry = false;
	describe_peer(peer, c->peer, sizeof(c->peer));
	c->deadline_ms = rule->timeout_ms ? now_ms() + rule->timeout_ms : 0;
}

int conn_attach(int fd, const struct shim_rule *rule, bool is_server, const char *servername,
		const struct sockaddr *peer)
{
	struct shim_conn *c = conn_alloc();
	int was, err;

	if (!c) {
		errno = ENOMEM;
		return -1;
	}
	c->servername[0] = '\0';
	if (rule->delegate) {
		/* handoffd does the handshake (delegate.c): no engine state here. */
		c->h = NULL;
		if (servername && strlen(servername) >= sizeof(c->servername)) {
			conn_recycle(c);
			errno = ENAMETOOLONG;
			return -1;
		}
		snprintf(c->servername, sizeof(c->servername), "%s", servername ? servername : "");
		goto attached;
	}
	was = shim_enter();
	c->h = is_server ? handoff_server(rule->cfg, fd) : handoff_client(rule->cfg, fd, servername);
	err = errno;
	shim_leave(was);
	if (!c->h) {
		conn_recycle(c);
		errno = err;
		return -1;
	}
attached:
	conn_reset(c, fd, rule, is_server, peer);
	set_state(c, SHIM_HANDSHAKE);
	if (!fdtable_set(fd, c)) {
		set_state(c, SHIM_FAILED);
		was = shim_enter();
		handoff_free(c->h);
		shim_leave(was);
		c->h = NULL;
		conn_recycle(c);
		errno = EMFILE;
		return -1;
	}
	watch_add(c);
	shim_log(LOG_DEBUG, "fd %d: TLS %s for %s (rule [%s %s])", fd, is_server ? "server" : "client",
		 c->peer, rule->kind == SHIM_RULE_ACCEPT ? "accept" : "connect", rule->spec);
	return 0;
}

/*
 * The rule of a connection inherited through exec: it matched none of ours
 * (the process that made it did), and is named so in the log.
 */
static const struct shim_rule inherited_rule = {
	.kind = SHIM_RULE_ACCEPT,
	.spec = (char *)"inherited across exec",
};

struct shim_conn *conn_adopt(int fd, struct shim_conn *same)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct shim_conn *c;
	char why[200];
	int was;

	if (same) {
		conn_dup(same, fd);
		return fdtable_get(fd) == same ? same : NULL;
	}
	c = conn_alloc();
	if (!c)
		return NULL;
	was = shim_enter();
	c->h = adopt_inherited(fd, why, sizeof(why));
	shim_leave(was);
	if (!c->h) {
		shim_log(LOG_WARNING, "fd %d: inherited across exec: %s", fd, why);
		conn_recycle(c);
		return NULL;
	}
	c->servername[0] = '\0';
	conn_reset(c, fd, &inherited_rule, false,
		   getpeername(fd, (struct sockaddr *)&ss, &len) == 0 ? (struct sockaddr *)&ss : NULL);
	c->inherited = true;
	/*
	 * The process that exec'd us, or its other children, may hold the
	 * same socket and go on using it: closing ours sends no close_notify.
	 */
	c->forked = true;
	set_state(c, SHIM_READY);
	if (!fdtable_set(fd, c)) {
		set_state(c, SHIM_FAILED);
		was = shim_enter();
		handoff_free(c->h);
		shim_leave(was);
		c->h = NULL;
		conn_recycle(c);
		return NULL;
	}
	return c;
}

/* Under c->lock: the connection is over for the program; every call now gets err. */
static int conn_fail_locked(struct shim_conn *c, int err)
{
	c->err = err;
	set_state(c, SHIM_FAILED);
	free(c->pending);
	c->pending = NULL;
	c->pending_len = 0;
	/* The peer (and the program's event loop) learn of it now, not at close(). */
	SHIM_REAL(shutdown)(c->fd, SHUT_RDWR);
	errno = err;
	return -1;
}

/* The engine failed the connection: log its words, give the program its class. */
static int engine_failed(struct shim_conn *c, const char *what)
{
	int code = handoff_error_code(c->h);
	const char *why = handoff_error(c->h);

	if (!code)
		code = ECONNABORTED;
	if (c->timed_out && (code == ECONNRESET || code == ECONNABORTED))
		code = ETIMEDOUT;
	shim_log(LOG_WARNING, "%s %s %s failed: %s",
		 c->inherited ? "inherited" : c->is_server ? "client" : "server", c->peer,
		 what, c->timed_out ? "handshake timed out" : why ? why : strerror(code));
	return conn_fail_locked(c, code);
}

/* Under c->lock, right after the handshake: what the program wrote meanwhile. */
static int flush_pending(struct shim_conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
	size_t off = 0;
	ssize_t n;
	int timeout = c->rule->timeout_ms ? (int)c->rule->timeout_ms : -1;

	while (off < c->pending_len) {
		n = SHIM_REAL(send)(c->fd, c->pending + off, c->pending_len - off,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* The program was told these bytes were written: wait for room, bounded. */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    SHIM_REAL(poll)(&pfd, 1, timeout) > 0)
			continue;
		shim_log(LOG_WARNING, "%s %s: sending data written during the handshake failed: %s",
			 c->is_server ? "client" : "server", c->peer,
			 n < 0 ? strerror(errno) : "no progress");
		return conn_fail_locked(c, n < 0 && errno != EAGAIN ? errno : ECONNRESET);
	}
	free(c->pending);
	c->pending = NULL;
	c->pending_len = 0;
	return 0;
}

static void log_established(struct shim_conn *c)
{
	struct handoff *h = c->h;
	const char *alpn = handoff_conn_alpn(h), *sni = handoff_conn_servername(h);
	const char *subject = handoff_conn_peer_subject(h);

	shim_log(LOG_INFO, "%s %s: %s %s%s%s%s%s%s%s, kernel TLS", c->is_server ? "client" : "server",
		 c->peer, handoff_conn_version(h), handoff_conn_cipher(h),
		 handoff_conn_resumed(h) ? ", resumed" : "", sni ? ", name " : "", sni ? sni : "",
		 alpn ? ", ALPN " : "", alpn ? alpn : "",
		 subject ? ", peer certificate verified" : "");
}

/*
 * A non-blocking connect() may still be under way when the program first
 * writes; the handshake must not start before TCP is up (the kernel
 * refuses the TLS ULP on an unconnected socket).  -1 with EAGAIN while it
 * connects, or with connect's own error once it failed.
 */
static bool connected(struct shim_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int err = 0;

	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0)
		return true;
	len = sizeof(err);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
		shim_log(LOG_WARNING, "server %s: connect failed: %s", c->peer, strerror(err));
		conn_fail_locked(c, err);
		return false;
	}
	c->want = POLLOUT;	/* connect's completion */
	errno = EAGAIN;
	return false;
}

/*
 * Under c->lock, delegated mode: the exchange with handoffd, a step at a
 * time or (wait) to its end.  As handshake_step().
 */
static int delegated_step(struct shim_conn *c, bool wait)
{
	struct custody_reply rep;
	char why[800];
	int ret, was;
	bool had_fd, had_retry, secrets;

	if (c->timed_out) {
		delegate_abandon(c);
		shim_log(LOG_WARNING, "%s %s handshake failed: handshake timed out",
			 c->is_server ? "client" : "server", c->peer);
		return conn_fail_locked(c, ETIMEDOUT);
	}
	if (!c->is_server && !connected(c))
		return -1;
	had_fd = c->custody_fd >= 0;
	had_retry = c->custody_retry;
	was = shim_enter();
	ret = delegate_step(c, wait, &rep, why, sizeof(why));
	shim_leave(was);
	if (ret == -EAGAIN || ret == -EINTR) {
		/*
		 * The watcher takes the answer (or retries) if the program does not
		 * call again.  EINTR: a signal cut a blocking wait, as it would the
		 * program's own call; the exchange stays, and the next call waits
		 * for the same answer (the request is not sent again).
		 */
		if ((!had_fd && c->custody_fd >= 0) || (!had_retry && c->custody_retry))
			watch_wake();
		errno = -ret;
		return -1;
	}
	if (ret < 0) {
		shim_log(LOG_WARNING, "%s %s handshake failed: %s", c->is_server ? "client" : "server",
			 c->peer, why);
		return conn_fail_locked(c, -ret);
	}
	secrets = rep.secret_len != 0;
	was = shim_enter();
	c->h = adopt_delegated(c, &rep, why, sizeof(why));
	shim_leave(was);
	if (!c->h) {
		shim_log(LOG_WARNING, "%s %s connection failed: %s", c->is_server ? "client" : "server",
			 c->peer, why);
		return conn_fail_locked(c, ECONNABORTED);
	}
	set_state(c, SHIM_READY);
	shim_log(LOG_INFO, "%s %s: %s %s%s%s%s%s, kernel TLS, handshake by handoffd (identity %s)%s",
		 c->is_server ? "client" : "server", c->peer, rep.tls_version, rep.cipher,
		 c->servername[0] ? ", name " : "", c->servername, rep.alpn[0] ? ", ALPN " : "",
		 rep.alpn, c->rule->identity,
		 secrets ? ", KeyUpdate followed" : "");
	return c->pending_len ? flush_pending(c) : 0;
}

static bool fd_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && !(fl & O_NONBLOCK);
}

/*
 * Under c->lock: wait for what a blocking program's handshake needs next,
 * the way the program's own blocking call would wait, so that a signal
 * does to the program's read() or write() what it would do without us:
 * a blocking recv(MSG_PEEK) on the socket, which the kernel restarts
 * after a handler installed with SA_RESTART and fails with EINTR after
 * one without (signal(7)).  poll() cannot tell the two apart: it always
 * fails with EINTR.  The deadline is the watcher's: it shuts the socket
 * down (conn_expire()), and the recv returns.  When the watcher cannot
 * run (no fd for its eventfd), or for room to write, poll() up to the
 * deadline instead, restarting after a signal.  0 to step again; -1 with
 * EINTR for the program, or with errno once the socket failed (the
 * connection failed with it).
 */
static int wait_blocking(struct shim_conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = c->want ? c->want : POLLIN };
	unsigned long long now;
	ssize_t n;
	char byte;
	int was;

	if (pfd.events == POLLIN && watch_add(c)) {
		__atomic_store_n(&c->blocked, true, __ATOMIC_SEQ_CST);
		was = shim_enter();
		n = SHIM_REAL(recv)(c->fd, &byte, 1, MSG_PEEK);
		shim_leave(was);
		__atomic_store_n(&c->blocked, false, __ATOMIC_SEQ_CST);
		if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;	/* bytes or the end: the next step says which */
		if (errno == EINTR)
			return -1;
		/*
		 * The socket's error (a reset) was reported to this recv and is
		 * gone from the socket: the engine would now read a plain end of
		 * stream.  Fail as the engine fails on that error (engine.c).
		 */
		shim_log(LOG_WARNING, "%s %s handshake failed: connection to the %s failed during the "
			 "handshake: %s", c->is_server ? "client" : "server", c->peer,
			 c->is_server ? "client" : "server", strerror(errno));
		conn_fail_locked(c, errno == ETIMEDOUT ? ETIMEDOUT : ECONNRESET);
		return -1;
	}
	for (;;) {
		now = now_ms();
		if (c->deadline_ms && now >= c->deadline_ms) {
			__atomic_store_n(&c->timed_out, true, __ATOMIC_RELEASE);
			return 0;
		}
		if (SHIM_REAL(poll)(&pfd, 1, c->deadline_ms ? (int)(c->deadline_ms - now) : -1) >= 0 ||
		    errno != EINTR)
			return 0;
	}
}

/* Under c->lock: one engine step that never blocks, whatever the fd's mode. */
static int engine_step(struct shim_conn *c, bool make_nonblocking)
{
	int ret, was, fl = -1, err;

	if (make_nonblocking) {
		fl = fcntl(c->fd, F_GETFL);
		if (fl >= 0)
			fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
	}
	was = shim_enter();
	ret = handoff_handshake(c->h);
	err = errno;
	shim_leave(was);
	if (fl >= 0)
		fcntl(c->fd, F_SETFL, fl);
	errno = err;
	return ret;
}

/* Under c->lock, in SHIM_HANDSHAKE: one step (or, on a blocking fd, all of it). */
static int handshake_step(struct shim_conn *c)
{
	bool blocking;
	int ret;

	if (c->rule->delegate)
		return delegated_step(c, fd_blocking(c->fd));
	blocking = fd_blocking(c->fd);
	for (;;) {
		if (__atomic_load_n(&c->timed_out, __ATOMIC_ACQUIRE))
			return engine_failed(c, "handshake");
		if (!c->is_server && !connected(c)) {
			if (!blocking || errno != EAGAIN)
				return -1;
		} else {
			ret = engine_step(c, blocking);
			if (ret != HANDOFF_WANT_POLLIN && ret != HANDOFF_WANT_POLLOUT)
				break;
			c->want = ret == HANDOFF_WANT_POLLIN ? POLLIN : POLLOUT;
			if (!blocking) {
				errno = EAGAIN;
				return -1;
			}
		}
		/* A blocking fd: the program's call waits here, as its own would. */
		if (wait_blocking(c) < 0)
			return -1;
	}
	if (ret == 0) {
		set_state(c, SHIM_READY);
		log_established(c);
		return c->pending_len ? flush_pending(c) : 0;
	}
	return engine_failed(c, "handshake");
}

int conn_before_io(struct shim_conn *c)
{
	int ret;

	pthread_mutex_lock(&c->lock);
	switch (shim_state(c)) {
	case SHIM_READY:
		ret = 0;
		break;
	case SHIM_EOF:
		ret = 1;
		break;
	case SHIM_FAILED:
		if (c->fork_orphan && !c->fork_orphan_logged) {
			c->fork_orphan_logged = true;
			shim_log(LOG_WARNING, "fd %d (%s %s): was in its TLS handshake in another thread "
				 "at fork(); this process cannot take it over (the parent finishes it): %s",
				 c->fd, c->is_server ? "client" : "server", c->peer, strerror(c->err));
		}
		errno = c->err;
		ret = -1;
		break;
	default:
		ret = handshake_step(c);
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

short conn_handshake_events(struct shim_conn *c)
{
	short want = __atomic_load_n(&c->want, __ATOMIC_RELAXED);

	if (want)
		return want;
	return c->is_server ? POLLIN : POLLOUT;	/* the ClientHello to read, or to send */
}

short conn_poll_settle(struct shim_conn *c, int fd, short asked, short had)
{
	short out = (short)(had & ~(POLLIN | POLLOUT));
	struct pollfd q = { .fd = fd, .events = (short)(asked & (POLLIN | POLLOUT)) };
	int fl, st;

	/* Its owner is in the handshake right now: nothing for this caller yet. */
	if (pthread_mutex_trylock(&c->lock) != 0)
		return out;
	if (shim_state(c) == SHIM_HANDSHAKE && c->fd >= 0 && c->rule->delegate) {
		/*
		 * handoffd's answer comes on a socket the program does not poll:
		 * wait for it here, bounded by the deadline (libshim/README.md).
		 */
		(void)delegated_step(c, true);
	} else if (shim_state(c) == SHIM_HANDSHAKE && c->fd >= 0) {
		fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		(void)handshake_step(c);
		if (fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(fd, F_SETFL, fl);
	}
	st = shim_state(c);
	pthread_mutex_unlock(&c->lock);
	if (st == SHIM_HANDSHAKE)
		return out;
	if (st != SHIM_READY)
		return (short)(out | q.events);	/* the program's call says what happened */
	/* kTLS's own poll says POLLIN only for a whole record: ask it. */
	if (SHIM_REAL(poll)(&q, 1, 0) > 0)
		out |= (short)(q.revents & (POLLIN | POLLOUT));
	return out;
}

void conn_for_stdio(struct shim_conn *c)
{
	pthread_mutex_lock(&c->lock);
	c->stdio = true;
	if (c->h && !c->is_server)
		handoff_conn_no_tickets(c->h);
	pthread_mutex_unlock(&c->lock);
}

void conn_kick(struct shim_conn *c, unsigned gen)
{
	int fl, saved = errno;

	if (__atomic_load_n(&c->gen, __ATOMIC_ACQUIRE) != gen)
		return;
	/*
	 * One look per connection, whatever comes of it: a blocking socket, or
	 * one whose owner is in its handshake right now, is the owner's to
	 * drive, and looking again would only spin on a writable socket.
	 */
	__atomic_store_n(&c->nonblock_kicked, true, __ATOMIC_RELEASE);
	if (pthread_mutex_trylock(&c->lock) != 0)
		return;
	if (c->gen == gen && shim_state(c) == SHIM_HANDSHAKE && !c->is_server && c->fd >= 0 &&
	    (fl = fcntl(c->fd, F_GETFL)) >= 0 && (fl & O_NONBLOCK))
		(void)handshake_step(c);
	pthread_mutex_unlock(&c->lock);
	errno = saved;
}

void conn_delegate_poke(struct shim_conn *c, unsigned gen)
{
	int saved = errno;

	if (__atomic_load_n(&c->gen, __ATOMIC_ACQUIRE) != gen || pthread_mutex_trylock(&c->lock) != 0)
		return;	/* recycled, or its owner is in a call and takes the answer itself */
	/*
	 * A blocking fd too: its owner is in no call (the lock was free), so a
	 * signal took it out of its wait (EINTR), and the answer waits for its
	 * next call; taking it now keeps the watcher from polling it again and
	 * again meanwhile.
	 */
	if (c->gen == gen && shim_state(c) == SHIM_HANDSHAKE && c->fd >= 0 && c->rule->delegate)
		(void)delegated_step(c, false);
	pthread_mutex_unlock(&c->lock);
	errno = saved;
}

void conn_expire(struct shim_conn *c)
{
	if (pthread_mutex_trylock(&c->lock) != 0) {
		/*
		 * Its owner is in the handshake.  In an engine step it enforces
		 * the deadline itself; in wait_blocking(), or blocked waiting for
		 * handoffd's answer (delegate.c), only the shutdown wakes it (and
		 * the lock it holds keeps c->fd and the custody socket the
		 * connection's).
		 */
		if (__atomic_load_n(&c->blocked, __ATOMIC_SEQ_CST) &&
		    !__atomic_exchange_n(&c->timed_out, true, __ATOMIC_ACQ_REL)) {
			int s = __atomic_load_n(&c->custody_fd, __ATOMIC_ACQUIRE);

			shim_log(LOG_WARNING, "%s %s: handshake timed out after %u ms; shutting the "
				 "socket down", c->is_server ? "client" : "server", c->peer,
				 c->rule->timeout_ms);
			SHIM_REAL(shutdown)(c->rule->delegate && s >= 0 ? s : c->fd, SHUT_RDWR);
		}
		return;
	}
	if (shim_state(c) == SHIM_HANDSHAKE && c->fd >= 0 && !c->timed_out) {
		c->timed_out = true;
		shim_log(LOG_WARNING, "%s %s: handshake timed out after %u ms; shutting the socket down",
			 c->is_server ? "client" : "server", c->peer, c->rule->timeout_ms);
		SHIM_REAL(shutdown)(c->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&c->lock);
}

ssize_t conn_buffer_write(struct shim_conn *c, const void *buf, size_t len)
{
	size_t room;
	char *grown;

	pthread_mutex_lock(&c->lock);
	room = SHIM_PENDING_MAX - c->pending_len;
	if (shim_state(c) != SHIM_HANDSHAKE || room == 0) {
		pthread_mutex_unlock(&c->lock);
		errno = EAGAIN;
		return -1;
	}
	if (len > room)
		len = room;
	grown = realloc(c->pending, c->pending_len + len);
	if (!grown) {
		pthread_mutex_unlock(&c->lock);
		errno = ENOMEM;
		return -1;
	}
	memcpy(grown + c->pending_len, buf, len);
	c->pending = grown;
	c->pending_len += len;
	pthread_mutex_unlock(&c->lock);
	return (ssize_t)len;
}

/*
 * Whether fd is still a kTLS socket.  libc closes some fds without calling
 * close() (fclose() on an fdopen'd socket), so an entry can outlive its
 * socket and the number come back as a file or a plain socket; the slow
 * paths check before they act.
 */
static bool still_tls(int fd)
{
	char ulp[16] = "";
	socklen_t len = sizeof(ulp);

	return getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &len) == 0 && !strcmp(ulp, "tls");
}

void conn_record_error(struct shim_conn *c, int err)
{
	pthread_mutex_lock(&c->lock);
	if (!c->record_err_logged) {
		c->record_err_logged = true;
		shim_log(LOG_WARNING, "%s %s connection failed: the kernel refused a record from the "
			 "peer: %s (%s)", c->is_server ? "client" : "server", c->peer,
			 err == EBADMSG ? "it does not decrypt (forged or corrupted)" :
					  "it is longer than TLS allows",
			 err == EBADMSG ? "EBADMSG" : "EMSGSIZE");
	}
	pthread_mutex_unlock(&c->lock);
	errno = err;
}

int conn_after_read(struct shim_conn *c, int fd, ssize_t n)
{
	int ret, was, saved = errno;

	if (!still_tls(fd)) {
		conn_forget(fd, c);
		errno = saved;
		return n == 0 ? 1 : -1;
	}
	pthread_mutex_lock(&c->lock);
	if (shim_state(c) == SHIM_EOF) {
		pthread_mutex_unlock(&c->lock);
		return 1;
	}
	if (shim_state(c) == SHIM_FAILED) {
		errno = c->err;
		pthread_mutex_unlock(&c->lock);
		return -1;
	}
	if (c->fork_torn) {
		/*
		 * Not conn_fail_locked(): no shutdown(), the socket is the
		 * parent's too, and its copy of the session is the sound one.
		 */
		shim_log(LOG_WARNING, "fd %d (%s %s): another thread was acting on a TLS control "
			 "record of it (ticket, KeyUpdate, alert) at fork(); this process's copy of "
			 "the session is a half-done snapshot, so it does not act on the next one "
			 "(%s): %s", c->fd, c->is_server ? "client" : "server", c->peer,
			 n == 0 ? "the end of the stream" : "a record that is not data",
			 strerror(ECONNABORTED));
		c->err = ECONNABORTED;
		set_state(c, SHIM_FAILED);
		pthread_mutex_unlock(&c->lock);
		errno = ECONNABORTED;
		return -1;
	}
	was = shim_enter();
	ret = n == 0 ? handoff_zero_read(c->h) : handoff_take_control_record(c->h);
	shim_leave(was);
	if (ret == HANDOFF_WANT_POLLIN) {
		/* Someone else took the record (another thread): nothing to read now. */
		errno = EAGAIN;
		ret = -1;
	} else if (ret == 1) {
		set_state(c, SHIM_EOF);
		shim_log(LOG_DEBUG, "fd %d: the peer sent close_notify", c->fd);
	} else if (ret < 0) {
		ret = engine_failed(c, "connection");
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

/* Under c->lock. */
static void send_close_notify(struct shim_conn *c)
{
	int was, st = shim_state(c);

	/* Inherited connections are always `forked`: the process before exec closes them. */
	if (c->closed_notify || c->forked || !c->h || (st != SHIM_READY && st != SHIM_EOF))
		return;
	was = shim_enter();
	if (handoff_close(c->h) == 0)
		c->closed_notify = true;
	shim_leave(was);
}

void conn_close_notify(struct shim_conn *c)
{
	pthread_mutex_lock(&c->lock);
	send_close_notify(c);
	pthread_mutex_unlock(&c->lock);
}

/*
 * One fd of c is gone.  The last one ends the connection: close_notify
 * first when notify is set (a real close() by the program), nothing on
 * the wire when not (the fd was stale: its number may be someone else's).
 */
static void drop(int fd, struct shim_conn *c, bool notify)
{
	struct handoff *h;
	int was;

	pthread_mutex_lock(&c->lock);
	if (c->fds > 1) {
		c->fds--;
		/*
		 * The number the engine uses is going away; another fd of the
		 * same socket lives on (dup2(fd, 0); close(fd) in a forking
		 * server's child): the engine goes on through that one.
		 */
		if (c->fd == fd) {
			c->fd = fdtable_find(c, fd);
			if (c->fd >= 0 && c->h)
				handoff_set_fd(c->h, c->fd);
		}
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (notify)
		send_close_notify(c);
	delegate_abandon(c);
	h = c->h;
	c->h = NULL;
	c->fds = 0;
	free(c->pending);
	c->pending = NULL;
	c->pending_len = 0;
	c->err = EBADF;
	set_state(c, SHIM_FAILED);
	pthread_mutex_unlock(&c->lock);
	watch_remove(c);
	was = shim_enter();
	handoff_free(h);
	shim_leave(was);
	conn_recycle(c);
}

void conn_release(int fd, struct shim_conn *c)
{
	drop(fd, c, true);
}

void conn_forget(int fd, struct shim_conn *c)
{
	if (fdtable_get(fd) == c)
		fdtable_take(fd);
	drop(fd, c, false);
}

void conn_dup(struct shim_conn *c, int newfd)
{
	pthread_mutex_lock(&c->lock);
	if (!fdtable_set(newfd, c)) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->fds++;
	if (c->fd < 0) {
		c->fd = newfd;
		if (c->h)
			handoff_set_fd(c->h, newfd);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Under c->lock: drive the handshake to its end, whatever the fd's mode, within its deadline. */
static void finish_locked(struct shim_conn *c)
{
	struct pollfd pfd = { .fd = c->fd };
	unsigned long long now;
	int timeout;

	if (c->rule->delegate) {
		/* The exec goes ahead whatever a signal says: the handshake must end first. */
		while (delegated_step(c, true) < 0 && errno == EINTR)
			;
		return;
	}
	while (shim_state(c) == SHIM_HANDSHAKE) {
		/* The exec goes ahead whatever a signal says: the handshake must end first. */
		if (handshake_step(c) == 0 || (errno != EAGAIN && errno != EINTR))
			return;
		now = now_ms();
		if (c->deadline_ms && now >= c->deadline_ms) {
			c->timed_out = true;
			(void)engine_failed(c, "handshake");
			return;
		}
		timeout = c->deadline_ms ? (int)(c->deadline_ms - now) : -1;
		pfd.events = c->want ? c->want : POLLIN;	/* 0: still connecting, nothing to send yet */
		pfd.revents = 0;
		if (SHIM_REAL(poll)(&pfd, 1, timeout) < 0 && errno != EINTR)
			return;
	}
}

void conn_finish_inherited(void)
{
	struct shim_conn *c;
	int fd, fl, n = fdtable_high();

	/*
	 * stdin, stdout, stderr: the inetd convention.  The new image will
	 * speak over them, so their handshake finishes now.
	 */
	for (fd = 0; fd < 3 && fd < n; fd++) {
		c = fdtable_get(fd);
		if (!c || shim_state(c) != SHIM_HANDSHAKE)
			continue;
		fl = fcntl(fd, F_GETFD);
		if (fl < 0 || (fl & FD_CLOEXEC))
			continue;
		pthread_mutex_lock(&c->lock);
		if (c->fd >= 0)
			finish_locked(c);
		pthread_mutex_unlock(&c->lock);
	}
	/*
	 * Any other handshaking connection is most likely just leaked into the
	 * new image (a forked helper of a program that goes on serving it:
	 * socat's EXEC), and its handshake belongs to the process that goes on.
	 * Driving it here would race that process; inheriting it would hand
	 * the new image a socket it could write plaintext to.  So this image's
	 * copy of the fd closes at exec (FD_CLOEXEC is per process: the owner's
	 * fd stays open).
	 */
	for (fd = 3; fd < n; fd++) {
		c = fdtable_get(fd);
		if (!c || (shim_state(c) != SHIM_HANDSHAKE && !c->fork_orphan))
			continue;
		fl = fcntl(fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC)) {
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
			shim_log(LOG_DEBUG, "fd %d: not handed to the new program: its TLS handshake "
					    "has not run", fd);
		}
	}
}

/*
 * After fork() in the parent: the child has copies of every connection.
 * A forking server closes its copy in the parent right away; that close
 * must not end the child's TLS session with a close_notify.
 */
void conn_atfork_parent(void)
{
	struct shim_conn *c;

	pthread_mutex_lock(&pool_lock);
	for (c = pool_all; c; c = c->all_next)
		if (c->h || c->fds)	/* a delegated one has no h until handoffd answers */
			c->forked = true;
	pthread_mutex_unlock(&pool_lock);
}

/*
 * In the child only this thread exists: locks another thread held are
 * reborn free.  A connection whose lock was held was in the middle of
 * something in that thread; in its handshake, that thread (in the parent)
 * goes on with it, and the child's copy of the engine state is a snapshot
 * of a half-done exchange that two processes must not drive over one
 * socket.  So the child's copy fails closed, without a shutdown() (the
 * socket is the parent's too) or a word on the wire; its calls get
 * ECONNABORTED and the log says why at the first one.  A handshake
 * between steps (a forking server that read once before fork()) has no
 * such thread: the child may take it over.
 *
 * A ready connection's lock is held only off the data path, while a
 * thread acts on a control record (a ticket stored, a KeyUpdate re-keying
 * the kernel, an alert, a declined renegotiation, close_notify): the
 * child's copy of the session (traffic secrets, what was sent) is then a
 * snapshot of an update the parent finishes.  Data needs no session (the
 * kernel carries it), so the child's reads and writes go on untouched;
 * its next control record fails closed (conn_after_read()), and closing
 * it sends nothing (the session that would say close_notify is the
 * parent's).  A delegated or inherited connection has no session to tear.
 */
void conn_atfork_child(void)
{
	struct shim_conn *c;
	bool held;

	pthread_mutex_init(&pool_lock, NULL);
	for (c = pool_all; c; c = c->all_next) {
		held = pthread_mutex_trylock(&c->lock) != 0;
		pthread_mutex_init(&c->lock, NULL);
		if (held && c->fds && c->h && (shim_state(c) == SHIM_READY || shim_state(c) == SHIM_EOF)) {
			c->fork_torn = true;
			c->forked = true;
		} else if (held && c->fds && shim_state(c) == SHIM_HANDSHAKE) {
			c->err = ECONNABORTED;
			c->fork_orphan = true;
			c->blocked = false;
			free(c->pending);	/* the parent sends its own copy */
			c->pending = NULL;
			c->pending_len = 0;
			set_state(c, SHIM_FAILED);
		}
	}
}
