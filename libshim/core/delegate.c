/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Delegated mode (key custody): the handshake of a connection is done by
 * handoffd, which holds the identity's private key; the program never
 * does.  The shim passes the connection's socket to handoffd's custody
 * socket (SCM_RIGHTS, helper/custody/wire.h), handoffd handshakes on it,
 * installs kernel TLS and answers.  The fd refers to the same open
 * socket, so once the answer says 0 the program's own fd carries TLS; no
 * fd comes back.
 *
 * The exchange keeps the shim's contract: it runs inside the program's
 * own calls (never in accept or connect), on a blocking fd to the end
 * (bounded by the handshake deadline), on a non-blocking fd one step per
 * call with EAGAIN in between.  The watcher (watch.c) takes the answer of
 * a non-blocking connection nobody calls us for, and sends what the
 * program wrote meanwhile.
 *
 * One edge case decides a detail: handoffd's last act is TLS_RX, and the
 * kernel then announces a record that is already queued (an edge for an
 * edge-triggered epoll loop) a moment before handoffd's answer is sent.
 * A read made on that edge must not say EAGAIN: no further edge would
 * come for that record.  So a non-blocking step waits for the answer when
 * the kernel already has both keys, which means handoffd is done but for
 * its send().
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/tls.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/real.h"
#include "core/shim.h"
#include "custody/wire.h"
#include "util/wipe.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define CONNECT_RETRY_MS 10	/* the custody socket's backlog was full: try again */

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000ULL;
}

/* Whether the kernel has this direction's key (only the 4-byte header is asked for: no key is copied). */
static bool has_key(int fd, int dir)
{
	struct tls_crypto_info info;
	socklen_t len = sizeof(info);

	return getsockopt(fd, SOL_TLS, dir, &info, &len) == 0 && info.cipher_type != 0;
}

bool delegate_ktls_ready(int fd)
{
	return has_key(fd, TLS_TX) && has_key(fd, TLS_RX);
}

/* ms left before c's deadline: -1 for none, 0 when it passed. */
static int time_left(const struct shim_conn *c)
{
	unsigned long long now;

	if (!c->deadline_ms)
		return -1;
	now = now_ms();
	return now >= c->deadline_ms ? 0 : (int)(c->deadline_ms - now);
}

/* Connect to handoffd and send the request with the socket.  0, -EAGAIN (backlog full), or -errno. */
static int send_request(struct shim_conn *c, char *why, size_t why_size)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct custody_request req = { 0 };
	const char *what = "";
	int s, ret, left;

	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		ret = -errno;
		snprintf(why, why_size, "cannot make a UNIX socket: %s", strerror(errno));
		return ret;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", c->rule->delegate);
	if (SHIM_REAL(connect)(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		SHIM_REAL(close)(s);
		if (ret == -EAGAIN)
			return ret;
		snprintf(why, why_size, "handoffd's custody socket %s: %s%s", c->rule->delegate,
			 strerror(-ret), ret == -ENOENT || ret == -ECONNREFUSED ?
			 " (is handoffd running, with [custody] socket set?)" : "");
		/* No handoffd is no handshake: the connection is refused, not left open. */
		return ret == -EACCES || ret == -EPERM ? -EACCES : -ECONNREFUSED;
	}
	req.role = c->is_server ? CUSTODY_ROLE_SERVER : CUSTODY_ROLE_CLIENT;
	/* For the peer's KeyUpdates: the engine follows them with these (adopt.c). */
	req.flags = CUSTODY_FLAG_SECRETS;
	left = time_left(c);
	req.timeout_ms = left > 0 ? (uint32_t)left : 0;
	snprintf(req.identity, sizeof(req.identity), "%s", c->rule->identity);
	if (!c->is_server)
		snprintf(req.servername, sizeof(req.servername), "%s", c->servername);
	ret = custody_send_request(s, c->fd, &req, &what);
	if (ret < 0) {
		SHIM_REAL(close)(s);
		snprintf(why, why_size, "request to handoffd (%s): %s: %s", c->rule->delegate, what,
			 strerror(-ret));
		return ret == -EINVAL ? -ECONNABORTED : -ECONNREFUSED;
	}
	__atomic_store_n(&c->custody_fd, s, __ATOMIC_RELEASE);
	return 0;
}

/* handoffd's status as the program's errno: the shim's usual classes. */
static int program_errno(uint32_t status)
{
	switch (status) {
	case EACCES:
	case ETIMEDOUT:
	case ECONNRESET:
	case EBADMSG:
	case ECONNABORTED:
		return (int)status;
	}
	return ECONNABORTED;
}

static int take_reply(struct shim_conn *c, struct custody_reply *rep, char *why, size_t why_size)
{
	uint8_t buf[CUSTODY_REPLY_MAX + 1];
	const char *what = "";
	ssize_t n;
	int ret;

	n = recv(c->custody_fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -EAGAIN;
	delegate_abandon(c);
	if (n <= 0) {
		snprintf(why, why_size, "handoffd closed the custody connection without an answer%s%s",
			 n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
		return -ECONNABORTED;
	}
	if ((size_t)n > CUSTODY_REPLY_MAX) {
		snprintf(why, why_size, "handoffd's answer is longer than any valid one");
		return -ECONNABORTED;
	}
	ret = custody_reply_decode(buf, (size_t)n, rep, &what);
	wipe(buf, (size_t)n);
	if (ret < 0) {
		snprintf(why, why_size, "handoffd's answer is malformed: %s", what);
		return -ECONNABORTED;
	}
	if (rep->status == EAGAIN)
		return -EBUSY;	/* this uid's share is taken: ask again (delegate_step) */
	if (rep->status) {
		snprintf(why, why_size, "handoffd %s the handshake (identity %s): %s: %s",
			 rep->status == EACCES ? "refused" : "failed", c->rule->identity,
			 custody_status_name(rep->status), rep->cause[0] ? rep->cause : "no reason given");
		return -program_errno(rep->status);
	}
	/* Never take the word for it: plaintext would go out if the keys were not in. */
	if (!delegate_ktls_ready(c->fd)) {
		wipe(rep->write_secret, sizeof(rep->write_secret));
		wipe(rep->read_secret, sizeof(rep->read_secret));
		snprintf(why, why_size, "handoffd answered success but the socket has no kernel TLS keys");
		return -ECONNABORTED;
	}
	return 0;
}

/*
 * The wait for handoffd's answer inside a blocking program's read() or
 * write(): the program's own call would be blocked in the kernel, so this
 * one is too, in a blocking recv(MSG_PEEK) on the custody socket, which
 * the kernel restarts after a handler installed with SA_RESTART and fails
 * with EINTR after one without (signal(7)); poll() would always fail.
 * The custody socket is ours alone and was non-blocking only for the
 * connect (a full backlog must not block): every other read of it says
 * MSG_DONTWAIT.  No SO_RCVTIMEO: with one the kernel fails the recv with
 * EINTR whatever SA_RESTART says.  The deadline is the watcher's, as for
 * a local handshake: it shuts the custody socket down (conn_expire()) and
 * the recv returns.  0 (look at the answer), -EINTR (the exchange stays:
 * the next call waits for the same answer), or -EAGAIN when the watcher
 * cannot run (no fd for its eventfd): then the caller's bounded poll().
 */
static int wait_like_the_program(struct shim_conn *c)
{
	int s = c->custody_fd, fl;
	ssize_t n;
	char byte;

	if (!watch_add(c))
		return -EAGAIN;
	fl = fcntl(s, F_GETFL);
	if (fl < 0 || ((fl & O_NONBLOCK) && fcntl(s, F_SETFL, fl & ~O_NONBLOCK) < 0))
		return -EAGAIN;
	__atomic_store_n(&c->blocked, true, __ATOMIC_SEQ_CST);
	/* The watcher may have expired us just before it could see `blocked`. */
	n = __atomic_load_n(&c->timed_out, __ATOMIC_SEQ_CST) ? 0 :
	    SHIM_REAL(recv)(s, &byte, 1, MSG_PEEK);
	__atomic_store_n(&c->blocked, false, __ATOMIC_SEQ_CST);
	return n < 0 && errno == EINTR ? -EINTR : 0;
}

/*
 * handoffd could not take the request now (its backlog was full, or this
 * uid had its share queued or running): ask again CONNECT_RETRY_MS later,
 * until the deadline.  0 after the wait (ask again), -EAGAIN for a
 * non-blocking step (the watcher asks again), or -ETIMEDOUT with why
 * ("WHAT until the handshake deadline") once the deadline has passed.
 */
static int ask_again_later(struct shim_conn *c, bool wait, const char *what, char *why,
			   size_t why_size)
{
	int left = time_left(c);

	if (left == 0) {
		snprintf(why, why_size, "%s until the handshake deadline", what);
		c->custody_retry = false;
		return -ETIMEDOUT;
	}
	c->custody_retry = true;
	if (!wait)
		return -EAGAIN;
	SHIM_REAL(poll)(NULL, 0, left < 0 || left > CONNECT_RETRY_MS ? CONNECT_RETRY_MS : left);
	return 0;
}

int delegate_step(struct shim_conn *c, bool wait, struct custody_reply *rep, char *why,
		  size_t why_size)
{
	struct pollfd pfd = { .events = POLLIN };
	char what[160];
	int ret, left;

	c->want = 0;	/* nothing the handshake needs happens on the program's fd */
again:
	while (c->custody_fd < 0) {
		ret = send_request(c, why, why_size);
		c->custody_retry = ret == -EAGAIN;
		if (ret == 0)
			break;
		if (ret != -EAGAIN)
			return ret;
		snprintf(what, sizeof(what), "handoffd's custody socket %s stayed full",
			 c->rule->delegate);
		ret = ask_again_later(c, wait, what, why, why_size);
		if (ret < 0)
			return ret;
	}
	for (;;) {
		/* Before the reply: the watcher's shutdown at the deadline reads as handoffd's close. */
		if (!__atomic_load_n(&c->timed_out, __ATOMIC_ACQUIRE)) {
			ret = take_reply(c, rep, why, why_size);
			if (ret == -EBUSY) {
				/* This uid's share was taken: nothing was done with the socket. */
				ret = ask_again_later(c, wait, "handoffd stayed busy with this uid's "
						      "requests (max-queued-per-uid)", why, why_size);
				if (ret < 0)
					return ret;
				goto again;
			}
			if (ret != -EAGAIN)
				return ret;
			if (!wait && !delegate_ktls_ready(c->fd))
				return -EAGAIN;
		}
		left = time_left(c);
		if (left == 0 || __atomic_load_n(&c->timed_out, __ATOMIC_ACQUIRE)) {
			delegate_abandon(c);
			snprintf(why, why_size, "handoffd did not answer within the handshake timeout");
			return -ETIMEDOUT;
		}
		/*
		 * A blocking program's call waits as its own call would (see
		 * wait_like_the_program()); the short wait of a non-blocking step
		 * (handoffd is done but for its send) is not the program's to cut.
		 */
		if (wait && (ret = wait_like_the_program(c)) != -EAGAIN) {
			if (ret == -EINTR)
				return ret;
			continue;
		}
		pfd.fd = c->custody_fd;
		if (SHIM_REAL(poll)(&pfd, 1, left) < 0 && errno != EINTR) {
			ret = -errno;
			delegate_abandon(c);
			snprintf(why, why_size, "waiting for handoffd: %s", strerror(-ret));
			return ret;
		}
	}
}

void delegate_abandon(struct shim_conn *c)
{
	int s = __atomic_exchange_n(&c->custody_fd, -1, __ATOMIC_ACQ_REL);

	if (s >= 0)
		SHIM_REAL(close)(s);
	c->custody_retry = false;
}
