/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * poll, ppoll, select, pselect: readiness of a connection still in its
 * handshake means readiness of the program's data, not of handshake bytes.
 *
 * A program that waits in poll() or select() and then reads a blocking fd
 * trusts that the read will not block.  The ClientHello makes the socket
 * readable, but once the handshake has consumed it there may be no data
 * at all: a server-first program (it writes a banner once the client is
 * there) would then sit in read() forever.  So while a connection
 * handshakes, the real poll waits for what its handshake needs, the
 * handshake takes its step here (never blocking: the fd is made
 * non-blocking for that step), and the program hears of the connection
 * only when what it asked for is true of the data.
 *
 * None of this runs while no connection of the process is handshaking:
 * then these are the real calls behind one load.  epoll is not here: its
 * events name the program's cookie, not the fd, and event-loop programs
 * use non-blocking sockets, which the read and write hooks serve already.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* The original events of the entries we rewrote, for the way back. */
struct watch {
	nfds_t i;
	short events;
	struct shim_conn *c;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Any handshaking connection among fds?  Rewrites their events; returns how many. */
static size_t rewrite(struct pollfd *fds, nfds_t n, struct watch *w)
{
	struct shim_conn *c;
	size_t k = 0;
	nfds_t i;

	for (i = 0; i < n; i++) {
		c = fdtable_get(fds[i].fd);
		if (!c || shim_state(c) != SHIM_HANDSHAKE || !(fds[i].events & (POLLIN | POLLOUT)))
			continue;
		w[k].i = i;
		w[k].events = fds[i].events;
		w[k].c = c;
		k++;
		fds[i].events = (short)((fds[i].events & ~(POLLIN | POLLOUT)) | conn_handshake_events(c));
	}
	return k;
}

/* After the real poll: step the handshakes that can move, report what the program asked. */
static int settle(struct pollfd *fds, struct watch *w, size_t k, int ready)
{
	size_t j;

	for (j = 0; j < k; j++) {
		struct pollfd *p = &fds[w[j].i];
		short had = p->revents;

		p->events = w[j].events;
		if (!had)
			continue;
		p->revents = conn_poll_settle(w[j].c, p->fd, w[j].events, had);
		if (!p->revents)
			ready--;
	}
	return ready;
}

static int poll_through(struct pollfd *fds, nfds_t n, int timeout, const sigset_t *mask)
{
	struct watch stack[16], *w = stack;
	long long end = timeout > 0 ? now_ms() + timeout : 0;
	struct timespec ts;
	int ready, left = timeout;
	size_t k;

	if (n > sizeof(stack) / sizeof(stack[0]) && !(w = malloc(n * sizeof(*w)))) {
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		k = rewrite(fds, n, w);
		if (mask) {
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (long)(left % 1000) * 1000000L;
			ready = SHIM_REAL(ppoll)(fds, n, left < 0 ? NULL : &ts, mask);
		} else {
			ready = SHIM_REAL(poll)(fds, n, left);
		}
		if (ready > 0 && k)
			ready = settle(fds, w, k, ready);
		else
			settle(fds, w, k, 0);	/* puts the events back */
		if (ready != 0 || timeout == 0)
			break;
		if (timeout > 0 && (left = (int)(end - now_ms())) <= 0)
			break;	/* 0: the time ran out with nothing the program asked for */
	}
	if (w != stack)
		free(w);
	return ready;
}

static bool involved(void)
{
	return __atomic_load_n(&shim_handshaking, __ATOMIC_RELAXED) && !shim_busy;
}

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (SHIM_LIKELY(!involved()))
		return SHIM_REAL(poll)(fds, n, timeout);
	return poll_through(fds, n, timeout, NULL);
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo,
		      const sigset_t *mask)
{
	long long ms;

	if (SHIM_LIKELY(!involved()))
		return SHIM_REAL(ppoll)(fds, n, tmo, mask);
	ms = tmo ? (long long)tmo->tv_sec * 1000 + (tmo->tv_nsec + 999999) / 1000000 : -1;
	if (ms > 0x7fffffff)
		ms = 0x7fffffff;
	/* Without a mask ppoll is poll with a finer timeout. */
	return poll_through(fds, n, (int)ms, mask);
}

/* _FORTIFY_SOURCE builds call these when the array's size is known. */
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask,
		size_t fdslen);

SHIM_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	shim_real_resolve();
	if (fdslen / sizeof(*fds) < n && shim_real.__poll_chk)
		return shim_real.__poll_chk(fds, n, timeout, fdslen);	/* glibc stops the program */
	return poll(fds, n, timeout);
}

SHIM_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *tmo,
			    const sigset_t *mask, size_t fdslen)
{
	shim_real_resolve();
	if (fdslen / sizeof(*fds) < n && shim_real.__ppoll_chk)
		return shim_real.__ppoll_chk(fds, n, tmo, mask, fdslen);
	return ppoll(fds, n, tmo, mask);
}

/* select through poll, only when a handshaking connection is in the sets. */
static bool sets_involved(int nfds, fd_set *r, fd_set *w)
{
	struct shim_conn *c;
	int fd;

	for (fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
		if (!(r && FD_ISSET(fd, r)) && !(w && FD_ISSET(fd, w)))
			continue;
		c = fdtable_get(fd);
		if (c && shim_state(c) == SHIM_HANDSHAKE)
			return true;
	}
	return false;
}

static int select_through(int nfds, fd_set *r, fd_set *w, fd_set *e, int timeout,
			  const sigset_t *mask)
{
	struct pollfd stack[64], *p = stack;
	nfds_t n = 0, i;
	int fd, ready;

	if (nfds > FD_SETSIZE)
		nfds = FD_SETSIZE;
	if ((size_t)nfds > sizeof(stack) / sizeof(stack[0]) && !(p = calloc((size_t)nfds, sizeof(*p)))) {
		errno = ENOMEM;
		return -1;
	}
	for (fd = 0; fd < nfds; fd++) {
		short ev = (short)((r && FD_ISSET(fd, r) ? POLLIN : 0) |
				   (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
				   (e && FD_ISSET(fd, e) ? POLLPRI : 0));

		if (!ev)
			continue;
		p[n].fd = fd;
		p[n].events = ev;
		p[n].revents = 0;
		n++;
	}
	ready = poll_through(p, n, timeout, mask);
	if (ready >= 0) {
		for (i = 0; i < n; i++) {
			if (p[i].revents & POLLNVAL) {
				ready = -1;
				errno = EBADF;
				break;
			}
		}
	}
	if (ready >= 0) {
		if (r)
			FD_ZERO(r);
		if (w)
			FD_ZERO(w);
		if (e)
			FD_ZERO(e);
		ready = 0;
		for (i = 0; i < n; i++) {
			short rev = p[i].revents;

			/* select() calls an error or a hang-up readable (and writable, if asked). */
			if (rev & (POLLERR | POLLHUP))
				rev |= (short)(p[i].events & (POLLIN | POLLOUT));
			if (r && (rev & POLLIN) && (p[i].events & POLLIN)) {
				FD_SET(p[i].fd, r);
				ready++;
			}
			if (w && (rev & POLLOUT) && (p[i].events & POLLOUT)) {
				FD_SET(p[i].fd, w);
				ready++;
			}
			if (e && (rev & POLLPRI)) {
				FD_SET(p[i].fd, e);
				ready++;
			}
		}
	}
	if (p != stack)
		free(p);
	return ready;
}

SHIM_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	long long ms;

	if (SHIM_LIKELY(!involved()) || !sets_involved(nfds, r, w))
		return SHIM_REAL(select)(nfds, r, w, e, tv);
	ms = tv ? (long long)tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000 : -1;
	if (ms > 0x7fffffff)
		ms = 0x7fffffff;
	/* Linux's select() leaves the time not slept in *tv; nobody should rely on it here. */
	return select_through(nfds, r, w, e, (int)ms, NULL);
}

SHIM_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *tmo,
			const sigset_t *mask)
{
	long long ms;
	sigset_t cur;

	if (SHIM_LIKELY(!involved()) || !sets_involved(nfds, r, w))
		return SHIM_REAL(pselect)(nfds, r, w, e, tmo, mask);
	ms = tmo ? (long long)tmo->tv_sec * 1000 + (tmo->tv_nsec + 999999) / 1000000 : -1;
	if (ms > 0x7fffffff)
		ms = 0x7fffffff;
	if (!mask) {
		pthread_sigmask(SIG_SETMASK, NULL, &cur);
		mask = &cur;
	}
	return select_through(nfds, r, w, e, (int)ms, mask);
}
