/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The watcher: one thread, started with the first TLS connection, that
 * does the two things a program's own calls cannot.
 *
 *  - Deadlines.  A non-blocking program never calls us for a peer that
 *    sends nothing, so nothing inside its calls can time that handshake
 *    out.  At the deadline the watcher shuts the socket down: the program's
 *    event loop wakes, reads, and gets ETIMEDOUT.  shutdown(), not close():
 *    the fd number stays the program's.
 *  - First flights.  A non-blocking client that waits for the server to
 *    speak first (SMTP, IMAP, a banner) never writes, so its ClientHello
 *    would never go out: once the socket connects, the watcher sends it.
 *
 * It touches a connection only with trylock and only while it is still
 * handshaking; the data path never meets it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/real.h"
#include "core/shim.h"

#define WATCH_MAX_POLL 1024	/* client sockets polled at once for "connected" */
#define DELEGATE_RETRY_MS 20	/* handoffd's backlog was full: look again this soon */

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_conn *watching;
static int wake_fd = -1;
static bool started;

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000ULL;
}

static void wake(void)
{
	uint64_t one = 1;

	if (wake_fd >= 0)
		(void)!SHIM_REAL(write)(wake_fd, &one, sizeof(one));
}

/* Under watch_lock: drop connections that no longer handshake; fill the poll set. */
static int collect(struct pollfd *pfds, struct shim_conn **who, unsigned *gens, bool *answer,
		   int *n, unsigned long long now)
{
	int s;

	struct shim_conn **link = &watching, *c;
	unsigned long long next = 0;
	int timeout;

	*n = 0;
	while ((c = *link)) {
		if (shim_state(c) != SHIM_HANDSHAKE || c->timed_out) {
			*link = c->watch_next;
			c->watched = false;
			continue;
		}
		if (c->deadline_ms && (!next || c->deadline_ms < next))
			next = c->deadline_ms;
		/* Delegated: handoffd's answer for a program that may not call us (delegate.c). */
		s = __atomic_load_n(&c->custody_fd, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&c->custody_retry, __ATOMIC_RELAXED) &&
		    (!next || now + DELEGATE_RETRY_MS < next))
			next = now + DELEGATE_RETRY_MS;
		if (s >= 0 && *n < WATCH_MAX_POLL) {
			pfds[*n + 1].fd = s;
			pfds[*n + 1].events = POLLIN;
			pfds[*n + 1].revents = 0;
			who[*n] = c;
			gens[*n] = __atomic_load_n(&c->gen, __ATOMIC_ACQUIRE);
			answer[*n] = true;
			(*n)++;
			link = &c->watch_next;
			continue;
		}
		if (!c->is_server && !c->nonblock_kicked && c->fd >= 0 && *n < WATCH_MAX_POLL) {
			pfds[*n + 1].fd = c->fd;
			pfds[*n + 1].events = POLLOUT;
			pfds[*n + 1].revents = 0;
			who[*n] = c;
			gens[*n] = __atomic_load_n(&c->gen, __ATOMIC_ACQUIRE);
			answer[*n] = false;
			(*n)++;
		}
		link = &c->watch_next;
	}
	if (!next)
		return -1;
	timeout = next > now ? (int)(next - now) : 0;
	return timeout;
}

static void *watcher(void *arg)
{
	static struct pollfd pfds[WATCH_MAX_POLL + 1];
	static struct shim_conn *who[WATCH_MAX_POLL];
	static unsigned gens[WATCH_MAX_POLL];
	static bool answer[WATCH_MAX_POLL];
	struct shim_conn *c;
	unsigned long long now;
	uint64_t drain;
	int n, i, timeout;

	(void)arg;
	shim_busy = 1;	/* everything this thread does is the shim's own */
	for (;;) {
		pthread_mutex_lock(&watch_lock);
		timeout = collect(pfds, who, gens, answer, &n, now_ms());
		pfds[0].fd = wake_fd;
		pfds[0].events = POLLIN;
		pfds[0].revents = 0;
		pthread_mutex_unlock(&watch_lock);

		if (poll(pfds, (nfds_t)n + 1, timeout) < 0 && errno != EINTR)
			continue;
		if (pfds[0].revents & POLLIN)
			(void)!SHIM_REAL(read)(wake_fd, &drain, sizeof(drain));

		now = now_ms();
		pthread_mutex_lock(&watch_lock);
		/*
		 * A who[] entry may have been closed and reused since (objects are
		 * recycled, never freed): conn_kick() acts only on the same generation.
		 */
		for (i = 0; i < n; i++) {
			if (answer[i] && pfds[i + 1].revents)
				conn_delegate_poke(who[i], gens[i]);
			else if (!answer[i] && pfds[i + 1].revents & (POLLOUT | POLLERR | POLLHUP))
				conn_kick(who[i], gens[i]);
		}
		for (c = watching; c; c = c->watch_next)
			if (__atomic_load_n(&c->custody_retry, __ATOMIC_RELAXED))
				conn_delegate_poke(c, __atomic_load_n(&c->gen, __ATOMIC_ACQUIRE));
		for (c = watching; c; c = c->watch_next)
			if (c->deadline_ms && now >= c->deadline_ms && shim_state(c) == SHIM_HANDSHAKE)
				conn_expire(c);
		pthread_mutex_unlock(&watch_lock);
	}
	return NULL;
}

/* Under watch_lock. */
static void start(void)
{
	sigset_t all, old;
	pthread_t t;
	pthread_attr_t attr;

	if (wake_fd < 0)
		wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd < 0) {
		shim_log(LOG_ERR, "cannot create the watcher's eventfd: %s; handshake deadlines "
				  "of non-blocking programs are not enforced", strerror(errno));
		return;
	}
	/* The program's signals are the program's: none may land on our thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&t, &attr, watcher, NULL) == 0)
		started = true;
	else
		shim_log(LOG_ERR, "cannot start the watcher thread; handshake deadlines of "
				  "non-blocking programs are not enforced");
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void watch_wake(void)
{
	wake();
}

bool watch_add(struct shim_conn *c)
{
	bool running;

	pthread_mutex_lock(&watch_lock);
	if (!started)
		start();
	if (!c->watched) {
		c->watched = true;
		c->watch_next = watching;
		watching = c;
	}
	wake();
	running = started;
	pthread_mutex_unlock(&watch_lock);
	return running;
}

void watch_remove(struct shim_conn *c)
{
	struct shim_conn **link;

	pthread_mutex_lock(&watch_lock);
	if (c->watched) {
		for (link = &watching; *link; link = &(*link)->watch_next) {
			if (*link == c) {
				*link = c->watch_next;
				break;
			}
		}
		c->watched = false;
	}
	pthread_mutex_unlock(&watch_lock);
}

/* The child has no watcher thread (fork copies one thread); the next connection starts one. */
void watch_atfork_child(void)
{
	pthread_mutex_init(&watch_lock, NULL);
	started = false;
	if (wake_fd >= 0)
		SHIM_REAL(close)(wake_fd);
	wake_fd = -1;
}
