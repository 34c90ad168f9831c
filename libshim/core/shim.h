/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every part of the shim shares: the configuration, the re-entry
 * guard, and the connection object the hooks act on.
 *
 * Per-fd state (and why it is safe across fork, exec and fd passing):
 * the kernel holds everything a TLS socket needs to carry data once the
 * keys are in; the shim keeps, per fd, only what the kernel cannot do:
 * the handshake in progress, the engine's post-hand-off state (tickets
 * and KeyUpdate: see libshim/README.md), and whether close_notify was sent.
 *  - fork: the child gets a copy of the table and of each connection; the
 *    parent marks its copies as shared, so that the parent closing its fd
 *    (as forking servers do) sends no close_notify under the child.
 *  - exec: the table is gone; the new image has the preload again (the
 *    environment carries it) but knows none of the inherited fds.  Data
 *    still flows (the kernel does it); see libshim/README.md for what a
 *    non-data record does there.
 *  - fd passing (SCM_RIGHTS) and dup: the kernel state travels with the
 *    file; dup'd fds share the connection (hooks/dup.c).
 */
#ifndef SHIM_CORE_SHIM_H
#define SHIM_CORE_SHIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config/conf.h"
#include "handoff.h"

/* The config, set once before main() runs; NULL when the shim is off. */
extern struct shim_conf *shim_conf;

/*
 * The re-entry guard.  While the shim itself runs (the engine reading the
 * socket during a handshake, syslog() connecting), every hook passes
 * straight to libc.  shim_enter() returns the previous value for
 * shim_leave().
 */
extern __thread int shim_busy __attribute__((tls_model("initial-exec")));

static inline int shim_enter(void)
{
	int was = shim_busy;

	shim_busy = 1;
	return was;
}

static inline void shim_leave(int was)
{
	shim_busy = was;
}

enum shim_state {
	SHIM_HANDSHAKE,		/* accepted or connected; handshake not finished */
	SHIM_READY,		/* the kernel carries the records */
	SHIM_FAILED,		/* handshake or session failed: every call gets err */
	SHIM_EOF,		/* the peer's close_notify arrived: reads are 0 */
};

/* Data the program wrote while its handshake ran, sent right after it. */
#define SHIM_PENDING_MAX (64 * 1024)

/*
 * One TLS connection of the program.  Memory is never returned to the
 * allocator while the process runs (released connections are recycled),
 * so a hook racing a close() on another thread reads a stale but valid
 * object, never freed memory; everything but `state` is read under lock.
 */
struct shim_conn {
	int state;			/* enum shim_state; atomic */
	int fd;
	unsigned gen;			/* bumped at each reuse: tells a recycled object from the one seen */
	unsigned fds;			/* fds referring to it (dup); under lock */
	pthread_mutex_t lock;
	const struct shim_rule *rule;
	struct handoff *h;		/* NULL once released */
	bool is_server;
	bool nonblock_kicked;		/* client: the watcher sent ClientHello */
	bool timed_out;			/* the watcher shut the socket down */
	bool forked;			/* a fork copied it: closing sends no close_notify */
	bool closed_notify;		/* our close_notify went out */
	bool record_err_logged;		/* the kernel refused a record: said once */
	bool stdio;			/* wrapped in a FILE: see fdopen.c */
	bool watched;			/* on the watcher's list; under the watcher's lock */
	bool inherited;			/* came through exec already TLS: no session (inherit.c) */
	bool blocked;			/* atomic: its owner waits in a blocking handshake's wait (conn.c) */
	bool fork_orphan;		/* child: another thread was in its handshake at fork() */
	bool fork_orphan_logged;
	bool fork_torn;			/* child: ready, but another thread acted on a control record at fork() */
	int err;			/* errno every call gets once SHIM_FAILED */
	short want;			/* POLLIN / POLLOUT: what the handshake waits for */
	char peer[64];			/* "addr:port" for log lines */
	char *pending;
	size_t pending_len;
	unsigned long long deadline_ms;	/* CLOCK_MONOTONIC; 0 = none */
	struct shim_conn *next;		/* free list */
	struct shim_conn *watch_next;	/* watcher list; under the watcher's lock */
	struct shim_conn *all_next;	/* every connection ever made (fork) */
	/*
	 * Delegated mode (rule->delegate): handoffd does the handshake; h is
	 * NULL until its answer, then the engine's adopted connection (adopt.c).
	 */
	int custody_fd;			/* the exchange with handoffd in progress; -1: none */
	bool custody_retry;		/* its backlog was full: the watcher tries again */
	char servername[254];		/* client: the name handoffd sends and verifies */
};

static inline int shim_state(const struct shim_conn *c)
{
	return __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
}

/*
 * conn_attach - make fd a TLS connection under rule (server: accepted;
 * client: connecting to servername).  0, or -1 with errno: the caller
 * must not hand the fd to the program as if it were protected.
 */
int conn_attach(int fd, const struct shim_rule *rule, bool is_server, const char *servername,
		const struct sockaddr *peer);

/*
 * conn_before_io - called by a hook before its real call on a connection
 * that is not ready yet: drives the handshake (blocking fds: to the end).
 * 0: go ahead with the real call; -1 with errno (EAGAIN while a
 * non-blocking handshake waits, or the failure's errno); 1: the stream is
 * at its end (reads return 0).
 */
int conn_before_io(struct shim_conn *c);

/*
 * conn_buffer_write - a non-blocking write while the handshake waits: keep
 * the bytes for after it.  Returns how many were kept, or -1 with EAGAIN
 * when the buffer is full.
 */
ssize_t conn_buffer_write(struct shim_conn *c, const void *buf, size_t len);

/*
 * conn_after_read - a read-like real call on fd returned n: -1 with EIO
 * (a non-data record is next) or 0 (an empty record, or the end).
 * Returns 0 to make the real call again, 1 for the end of the stream
 * (return 0), or -1 with errno to return.
 */
/*
 * A read failed with EBADMSG or EMSGSIZE: the kernel refused a record from
 * the peer and the program gets that errno; this logs why, once per
 * connection.  errno is err on return.
 */
void conn_record_error(struct shim_conn *c, int err);
int conn_after_read(struct shim_conn *c, int fd, ssize_t n);

/* conn_forget - fd's entry was stale (libc closed the fd behind our back): drop it, no I/O. */
void conn_forget(int fd, struct shim_conn *c);

/* shutdown(SHUT_WR or SHUT_RDWR): send close_notify first. */
void conn_close_notify(struct shim_conn *c);

/* close() of one of the connection's fds. */
void conn_release(int fd, struct shim_conn *c);

/* dup: newfd now refers to c as well (c is oldfd's connection). */
void conn_dup(struct shim_conn *c, int newfd);

/*
 * conn_finish_inherited - before exec.  A connection on stdin, stdout or
 * stderr (the inetd convention) finishes its handshake, waiting up to its
 * deadline (one that fails is shut down); any other connection still in
 * its handshake is made close-on-exec.  The new image never inherits a
 * connection it could write plaintext to.
 */
void conn_finish_inherited(void);

/*
 * conn_adopt - fd came through exec already a kTLS connection (inherit.c):
 * it joins the table with an engine connection of its own (adopt.c: no
 * session, no secrets, no known role), its records handled by the engine
 * like a delegated connection's.  same: the connection of another fd of
 * the same socket, adopted before (stdin and stdout of an inetd child), or
 * NULL.  Returns the connection, or NULL (out of memory, fd out of the
 * table's range, the engine cannot take it): the fd then stays as it was,
 * outside the table.
 */
struct shim_conn *conn_adopt(int fd, struct shim_conn *same);

/* inherit.c: at start-up, conn_adopt() every kTLS socket this image inherited. */
void conn_adopt_inherited(void);

/* fork handlers (registered by init). */
void conn_atfork_parent(void);
void conn_atfork_child(void);

/*
 * conn_kick - the watcher saw a non-blocking client's socket connect: send
 * the ClientHello now, for programs that wait for the server to speak
 * first.  Never blocks (a busy connection is left to its owner).
 */
void conn_kick(struct shim_conn *c, unsigned gen);
/*
 * For poll() and select() (hooks/poll.c): the events the handshake of c
 * waits for; and, once the real poll reported `had` on fd, a handshake
 * step (never blocking) and the events to report for what the program
 * `asked`: none while the handshake goes on, the data's own readiness
 * once it is done, everything asked once it failed (the program's call
 * then says why).
 */
short conn_handshake_events(struct shim_conn *c);
short conn_poll_settle(struct shim_conn *c, int fd, short asked, short had);

/* How many connections are in their handshake (poll and select look only then). */
extern unsigned shim_handshaking;

/* conn_for_stdio - the program wraps c in a FILE: a client then asks for no tickets (see fdopen.c). */
void conn_for_stdio(struct shim_conn *c);

/* conn_expire - the handshake deadline passed: shut the socket down so the program wakes. */
void conn_expire(struct shim_conn *c);

/*
 * Delegated mode (delegate.c): one step of the exchange with handoffd, or
 * all of it when wait.  0: handoffd answered success and the kernel has
 * both keys (rep says what was agreed); -EAGAIN: still going; -EINTR: a
 * signal without SA_RESTART cut a blocking wait (still going, as
 * -EAGAIN); another negative errno: failed, why says so.  Under c->lock.
 */
struct custody_reply;
int delegate_step(struct shim_conn *c, bool wait, struct custody_reply *rep, char *why,
		  size_t why_size);
/* Give up the exchange (closes the custody connection; handoffd's answer is lost). */
void delegate_abandon(struct shim_conn *c);
/* Whether the kernel holds both directions' keys for fd. */
bool delegate_ktls_ready(int fd);
/* The watcher: handoffd's answer arrived (or a retry is due) for a non-blocking connection. */
void conn_delegate_poke(struct shim_conn *c, unsigned gen);

/*
 * adopt_delegated - after handoffd's success answer (delegate_step() 0):
 * the engine's connection for c's socket (adopt.c), the traffic secrets of
 * rep taken in if it carries them.  rep's secrets are wiped here on every
 * path.  NULL with why when the engine cannot take the socket over: the
 * connection must then fail (its records would have no one to handle them).
 */
struct handoff *adopt_delegated(struct shim_conn *c, struct custody_reply *rep, char *why,
				size_t why_size);

/*
 * adopt_inherited - the engine's connection for fd, a kTLS socket this
 * image inherited through exec (adopt.c): no secrets (a KeyUpdate fails
 * it closed), no known role.  NULL with why when the engine cannot take it.
 */
struct handoff *adopt_inherited(int fd, char *why, size_t why_size);

/* The watcher thread: handshake deadlines and first flights of non-blocking clients. */
/* watch_add: false when the watcher cannot run (its eventfd or thread could not be made). */
bool watch_add(struct shim_conn *c);
void watch_remove(struct shim_conn *c);
void watch_atfork_child(void);
/* Something the watcher polls for changed (a connection now waits for handoffd): look again. */
void watch_wake(void);

/* Host names the program resolved, by address (hooks/resolve.c fills it). */
void names_remember(const struct sockaddr *sa, const char *name);
/* Copies the name for sa's address into buf; false if none is known. */
bool names_lookup(const struct sockaddr *sa, char *buf, size_t len);

#endif
