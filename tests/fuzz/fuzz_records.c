/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a kTLS socket hands back after the hand-off, through the calls that
 * read it: handoff_read() (the library's readers) and the two the shim
 * makes after the program's own read, handoff_take_control_record() (the
 * read failed with EIO) and handoff_zero_read() (it returned 0).  Alerts,
 * tickets, KeyUpdates, empty records, records cut short or too big, errors
 * and the end of the stream, in any order.
 *
 * The kernel is played here: after a real PSK handshake (keys not
 * installed), recvmsg() on the target's socket answers from the input the
 * way kTLS does (record type in a TLS_GET_RECORD_TYPE control message;
 * consecutive data records merged, a partly read one kept; empty data
 * records skipped, or read as 0 bytes right before another type or the
 * end; MSG_PEEK leaves everything in place; the end of the input is the
 * peer's FIN).  The target's replies (alerts, its KeyUpdate) go out on the
 * real socket, and a thread drops them.
 *
 * Input: set-up byte (0x01 TLS 1.2, else 1.3; 0x02 the target is the
 * server); a count byte and that many call bytes; then records of
 *   type (1 byte), control (1 byte), length (2 bytes, big endian), data
 * (the last record takes what is left when the input ends early).
 * Call byte: low 2 bits 0 handoff_read (16 KiB), 1 handoff_read (1 to 64
 * bytes: the upper bits), 2 take_control_record, 3 zero_read.
 * Control byte: low 3 bits 1-6 make this "record" an error the kernel
 * reports instead (EAGAIN, EIO, EMSGSIZE, EBADMSG, EKEYEXPIRED,
 * ECONNRESET); 0x08 the control message is cut (MSG_CTRUNC, type lost).
 * After the calls, handoff_read() runs until the stream ends.
 *
 * Invariants: the bytes the program gets are exactly the data records'
 * bytes, in order (never a byte of an alert, ticket or KeyUpdate); 0 (the
 * end) only in state CLOSED, after a close_notify the kernel handed over;
 * -1 only in state FAILED with a reason; the end is reached.
 */
#include "common.h"

#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/conn.h"
#include "core/frontdoor.h"
#include "fuzz.h"
#include "ktls/ktls.h"
#include "pair.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define SETUP_TLS12 0x01
#define SETUP_TARGET_SERVER 0x02
#define MAX_PLAINTEXT 16384
#define WAIT_MS 10000
#define CTL_TRUNC 0x08

static const int errors[] = { 0, EAGAIN, EIO, EMSGSIZE, EBADMSG, EKEYEXPIRED, ECONNRESET, 0 };

struct record {
	uint8_t type, ctl;
	const uint8_t *data;
	size_t len, taken;
};

/* The played kernel: its socket, its records, what it handed over. */
static int fake_fd = -1;
static struct record *recs;
static size_t n_recs, cur;
static bool close_notify_given;
static uint8_t *app_expect;	/* every data byte the kernel holds, in order */
static size_t app_expect_len, app_got;

static void put_type(struct msghdr *msg, uint8_t type)
{
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg);

	if (!cmsg || msg->msg_controllen < CMSG_SPACE(1)) {
		msg->msg_flags |= MSG_CTRUNC;
		return;
	}
	cmsg->cmsg_level = SOL_TLS;
	cmsg->cmsg_type = TLS_GET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cmsg) = type;
	msg->msg_controllen = CMSG_SPACE(1);
}

static size_t copy_out(struct msghdr *msg, size_t off, const uint8_t *p, size_t n)
{
	size_t done = 0, i, skip = off;

	for (i = 0; i < msg->msg_iovlen && done < n; i++) {
		struct iovec *v = &msg->msg_iov[i];
		size_t room, k;

		if (skip >= v->iov_len) {
			skip -= v->iov_len;
			continue;
		}
		room = v->iov_len - skip;
		k = n - done < room ? n - done : room;
		memcpy((uint8_t *)v->iov_base + skip, p + done, k);
		done += k;
		skip = 0;
	}
	return done;
}

static size_t iov_room(const struct msghdr *msg)
{
	size_t n = 0;

	for (size_t i = 0; i < msg->msg_iovlen; i++)
		n += msg->msg_iov[i].iov_len;
	return n;
}

static ssize_t fake_recvmsg(struct msghdr *msg, int flags)
{
	bool peek = flags & MSG_PEEK;
	size_t i = cur, room = iov_room(msg), got = 0;
	struct record *r;

	msg->msg_flags = 0;
	/* Empty data records: skipped before data, read as 0 bytes before anything else. */
	while (i < n_recs && !errors[recs[i].ctl & 7] && recs[i].type == KTLS_RECORD_APPLICATION_DATA &&
	       recs[i].len == recs[i].taken && !(recs[i].ctl & CTL_TRUNC))
		i++;
	if (i == n_recs) {
		msg->msg_controllen = i > cur ? msg->msg_controllen : 0;
		if (i > cur) {
			put_type(msg, KTLS_RECORD_APPLICATION_DATA);
			if (!peek)
				cur = i;
		}
		return 0;	/* the FIN (after the empty records, if any) */
	}
	r = &recs[i];
	if (errors[r->ctl & 7]) {
		if (i > cur) {
			put_type(msg, KTLS_RECORD_APPLICATION_DATA);
			if (!peek)
				cur = i;
			return 0;
		}
		cur = i + 1;	/* an error is reported once, peeked or not */
		msg->msg_controllen = 0;
		errno = errors[r->ctl & 7];
		return -1;
	}
	if (r->type != KTLS_RECORD_APPLICATION_DATA && i > cur) {
		put_type(msg, KTLS_RECORD_APPLICATION_DATA);
		if (!peek)
			cur = i;
		return 0;
	}
	if (r->len > MAX_PLAINTEXT) {
		cur = i + 1;
		msg->msg_controllen = 0;
		errno = EMSGSIZE;
		return -1;
	}
	if (r->ctl & CTL_TRUNC) {
		msg->msg_controllen = 0;
		msg->msg_flags |= MSG_CTRUNC;
	} else {
		put_type(msg, r->type);
	}
	if (r->type != KTLS_RECORD_APPLICATION_DATA) {
		/* A record of another type comes alone; what does not fit is lost. */
		got = copy_out(msg, 0, r->data, r->len < room ? r->len : room);
		if (!peek) {
			if (r->type == KTLS_RECORD_ALERT && r->len >= 2 && r->data[1] == 0)
				close_notify_given = true;
			cur = i + 1;
		}
		return (ssize_t)got;
	}
	/* Data: this record and the data records after it, as far as the buffer goes. */
	for (; i < n_recs && got < room; i++) {
		r = &recs[i];
		if (errors[r->ctl & 7] || r->type != KTLS_RECORD_APPLICATION_DATA ||
		    r->len > MAX_PLAINTEXT || (got && (r->ctl & CTL_TRUNC)))
			break;
		size_t k = r->len - r->taken < room - got ? r->len - r->taken : room - got;

		copy_out(msg, got, r->data + r->taken, k);
		got += k;
		if (!peek) {
			r->taken += k;
			cur = r->taken == r->len ? i + 1 : i;
		}
		if (r->taken + (peek ? k : 0) < r->len)
			break;
	}
	return (ssize_t)got;
}

/* The engine's recvmsg on the target's socket is the played kernel; any other goes to the real one. */
ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (fd == fake_fd && fake_fd >= 0)
		return fake_recvmsg(msg, flags);
	return syscall(SYS_recvmsg, fd, msg, flags);
}

/* One return of handoff_read(): checked against the invariants; true while the stream goes on. */
static bool check_read(struct handoff *h, ssize_t n, const uint8_t *buf)
{
	if (n > 0) {
		FUZZ_CHECK(app_got + (size_t)n <= app_expect_len);
		FUZZ_CHECK(memcmp(buf, app_expect + app_got, (size_t)n) == 0);
		app_got += (size_t)n;
		return true;
	}
	if (n == 0) {
		FUZZ_CHECK(h->state == CONN_CLOSED && close_notify_given);
		return false;
	}
	if (n == HANDOFF_WANT_POLLIN)
		return true;
	FUZZ_CHECK(n == -1);
	FUZZ_CHECK(h->state == CONN_FAILED && handoff_error(h) && *handoff_error(h));
	return false;
}

static bool check_frontdoor(struct handoff *h, int ret)
{
	FUZZ_CHECK(ret == 0 || ret == 1 || ret == -1 || ret == HANDOFF_WANT_POLLIN);
	if (ret == 1)
		FUZZ_CHECK(h->state == CONN_CLOSED && close_notify_given);
	if (ret == -1)
		FUZZ_CHECK(h->state == CONN_FAILED && handoff_error(h) && *handoff_error(h));
	return ret == 0 || ret == HANDOFF_WANT_POLLIN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct handoff_cache *cache;
	struct handoff_config *ccfg, *scfg;
	struct handoff *c, *s, *target;
	uint8_t *buf;
	const uint8_t *calls;
	size_t off, n_calls, i, rounds;
	unsigned protocols;
	pthread_t drainer;
	int fds[2], peer_fd;
	bool going = true;

	if (size < 2)
		return 0;
	protocols = (data[0] & SETUP_TLS12) ? HANDOFF_PROTOCOL_TLSv1_2 : HANDOFF_PROTOCOL_TLSv1_3;
	n_calls = data[1];
	if (2 + n_calls > size)
		return 0;
	calls = data + 2;

	/* The records, and the data stream they carry. */
	recs = calloc(size, sizeof(*recs));
	app_expect = malloc(size);
	FUZZ_CHECK(recs && app_expect);
	n_recs = cur = app_expect_len = app_got = 0;
	close_notify_given = false;
	for (off = 2 + n_calls; off < size;) {
		struct record *r = &recs[n_recs++];

		r->type = data[off++];
		r->ctl = off < size ? data[off++] : 0;
		r->len = off < size ? (size_t)data[off++] << 8 : 0;
		r->len |= off < size ? data[off++] : 0;
		if (r->len > size - off)
			r->len = size - off;
		r->data = data + off;
		off += r->len;
		if (!errors[r->ctl & 7] && r->type == KTLS_RECORD_APPLICATION_DATA &&
		    r->len <= MAX_PLAINTEXT) {
			memcpy(app_expect + app_expect_len, r->data, r->len);
			app_expect_len += r->len;
		}
	}

	cache = handoff_cache_new(4);
	FUZZ_CHECK(cache);
	ccfg = fuzz_psk_config(protocols, cache, WAIT_MS);
	scfg = fuzz_psk_config(protocols, NULL, WAIT_MS);
	fuzz_tcp_pair(fds);
	c = handoff_client(ccfg, fds[0], "localhost");
	s = handoff_server(scfg, fds[1]);
	FUZZ_CHECK(c && s);
	conn_set_test_flags(c, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	conn_set_test_flags(s, CONN_TEST_NO_INSTALL | CONN_TEST_NO_PROBE);
	fuzz_handshake_both(c, s, fds, WAIT_MS);
	FUZZ_CHECK(c->state == CONN_KTLS && s->state == CONN_KTLS);

	target = (data[0] & SETUP_TARGET_SERVER) ? s : c;
	peer_fd = target == c ? fds[1] : fds[0];
	FUZZ_CHECK(pthread_create(&drainer, NULL, fuzz_drain, &peer_fd) == 0);
	buf = malloc(MAX_PLAINTEXT);
	FUZZ_CHECK(buf);
	fake_fd = target == c ? fds[0] : fds[1];

	for (i = 0; i < n_calls && going; i++) {
		uint8_t op = calls[i];
		size_t len = (op >> 2) + 1;

		switch (op & 3) {
		case 0:
			going = check_read(target, handoff_read(target, buf, MAX_PLAINTEXT), buf);
			break;
		case 1:
			going = check_read(target, handoff_read(target, buf, len), buf);
			break;
		case 2:
			going = check_frontdoor(target, handoff_take_control_record(target));
			break;
		default:
			going = check_frontdoor(target, handoff_zero_read(target));
			break;
		}
	}
	/* Then read to the end: every input ends, at the latest at the FIN. */
	for (rounds = 0; going; rounds++) {
		FUZZ_CHECK(rounds <= 2 * n_recs + 2);
		going = check_read(target, handoff_read(target, buf, MAX_PLAINTEXT), buf);
	}
	fake_fd = -1;

	shutdown(target == c ? fds[0] : fds[1], SHUT_WR);
	pthread_join(drainer, NULL);
	handoff_free(c);
	handoff_free(s);
	handoff_config_free(ccfg);
	handoff_config_free(scfg);
	handoff_cache_free(cache);
	fuzz_close_pair(fds);
	free(buf);
	free(recs);
	free(app_expect);
	return 0;
}
