/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The record-bounded pull (transport_pull) on an arbitrary byte stream.
 *
 * Input: n (1 byte), then n request sizes (1 byte each), then the stream.
 * The stream goes into one end of a socketpair, written as fast as the
 * socket takes it; transport_pull() reads the other end with the request
 * sizes in turn, until the stream is used up.  The harness keeps its own
 * reading of the record headers and checks after every call:
 *  - it never returns more than was asked;
 *  - what it returns is the next bytes of the stream, and never runs past
 *    the end of a record header or of a record body;
 *  - the socket still holds everything it did not return (no byte taken
 *    and kept back), and transport_mid_record() agrees with the harness;
 *  - its count of whole records (empty ones too) agrees with the harness.
 * A request size byte s asks for s + 1 bytes when s < 0x80 (the small
 * reads around a header) and (s - 0x7f) * 256 otherwise (GnuTLS's large
 * buffer reads).
 *
 * With the top bit of n set (n & 0x7f sizes), the transport is in the mode
 * of a TLS 1.2 hand-off to user space (transport_hold_tls12()): handshake
 * records (type 22, a length TLS 1.2 allows) must never come out of the
 * pull, only whole through transport_take_held() after an EAGAIN; all else
 * as above, with the bytes the transport holds (a header being gathered, a
 * handshake record being read) counted as neither returned nor queued.
 */
#include "common.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "handshake/transport.h"

/* The harness's own record reader: the truth transport_pull is held to. */
struct model {
	size_t pos;		/* stream bytes returned so far */
	size_t header_got;
	uint8_t header[TRANSPORT_RECORD_HEADER];
	size_t body_left;
	uint64_t records;	/* whole records returned, empty ones included */
	size_t rec_start;	/* stream offset of the record being returned */
};

#define HOLD_MAX_BODY (16384 + 2048)

/* Hold mode: whether the record starting at off is one the transport must keep from GnuTLS. */
static bool holdable(const uint8_t *stream, size_t stream_len, size_t off)
{
	return off + TRANSPORT_RECORD_HEADER <= stream_len && stream[off] == 22 &&
	       ((size_t)stream[off + 3] << 8 | stream[off + 4]) <= HOLD_MAX_BODY;
}

/* How many bytes from the model's position the current piece (header or body) still has. */
static size_t piece_left(const struct model *m)
{
	return m->body_left ? m->body_left : TRANSPORT_RECORD_HEADER - m->header_got;
}

static void model_take(struct model *m, const uint8_t *p, size_t n)
{
	size_t k;

	for (; n; n -= k, p += k) {
		if (!m->body_left && !m->header_got)
			m->rec_start = m->pos;
		k = piece_left(m);
		if (k > n)
			k = n;
		if (m->body_left) {
			m->body_left -= k;
			if (!m->body_left)
				m->records++;
		} else {
			memcpy(m->header + m->header_got, p, k);
			m->header_got += k;
			if (m->header_got == TRANSPORT_RECORD_HEADER) {
				m->body_left = (size_t)m->header[3] << 8 | m->header[4];
				m->header_got = 0;
				if (!m->body_left)
					m->records++;
			}
		}
		m->pos += k;
	}
}

static size_t request_size(uint8_t s)
{
	return s < 0x80 ? (size_t)s + 1 : (size_t)(s - 0x7f) * 256;
}

static size_t socket_queued(int fd)
{
	int n = 0;

	FUZZ_CHECK(ioctl(fd, FIONREAD, &n) == 0);
	return (size_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[(0xff - 0x7f) * 256];
	const uint8_t *sizes, *stream;
	size_t n_sizes, stream_len, written = 0, want, i = 0;
	struct model m = { 0 };
	struct transport t;
	bool eof = false, hold;
	const uint8_t *held;
	size_t held_len, inside;
	int sv[2];
	ssize_t n;

	if (size < 1)
		return 0;
	hold = data[0] & 0x80;
	n_sizes = data[0] & 0x7f;
	if (n_sizes == 0 || n_sizes > size - 1)
		return 0;
	sizes = data + 1;
	stream = sizes + n_sizes;
	stream_len = size - 1 - n_sizes;

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	/* The reading end non-blocking: an empty socket is EAGAIN, never a hang. */
	FUZZ_CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
	FUZZ_CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
	transport_init(&t, sv[0]);
	if (hold)
		transport_hold_tls12(&t, NULL);

	while (!eof) {
		if (written < stream_len) {
			n = send(sv[1], stream + written, stream_len - written, MSG_NOSIGNAL);
			FUZZ_CHECK(n > 0 || (n < 0 && errno == EAGAIN));
			if (n > 0)
				written += (size_t)n;
			if (written == stream_len)
				shutdown(sv[1], SHUT_WR);
		} else if (stream_len == 0 && written == 0) {
			shutdown(sv[1], SHUT_WR);
		}

		want = request_size(sizes[i++ % n_sizes]);
		n = hold ? transport_pull_tls12(&t, buf, want) : transport_pull(&t, buf, want);
		/* Bytes the transport took from the socket but has not given out yet. */
		inside = hold ? t.header_got - t.header_given + t.held_len : 0;
		if (n < 0) {
			FUZZ_CHECK(errno == EAGAIN);
			held = hold ? transport_take_held(&t, &held_len) : NULL;
			if (held) {
				/* Exactly the next record of the stream, whole, and one to hold. */
				FUZZ_CHECK(!m.header_got && !m.body_left);
				FUZZ_CHECK(holdable(stream, stream_len, m.pos));
				FUZZ_CHECK(held_len == TRANSPORT_RECORD_HEADER +
						       ((size_t)stream[m.pos + 3] << 8 | stream[m.pos + 4]));
				FUZZ_CHECK(memcmp(held, stream + m.pos, held_len) == 0);
				model_take(&m, held, held_len);
				FUZZ_CHECK(t.records == m.records);
				continue;
			}
			/* Only an empty socket with more still to come. */
			FUZZ_CHECK(written < stream_len && m.pos + inside == written);
			continue;
		}
		FUZZ_CHECK((size_t)n <= want);
		if (n == 0) {
			/* End of stream: only when every byte went by (or sits in a cut-off record). */
			FUZZ_CHECK(m.pos + inside == stream_len && written == stream_len);
			FUZZ_CHECK(!hold || !t.held_ready);
			eof = true;
			continue;
		}
		FUZZ_CHECK((size_t)n <= piece_left(&m));
		FUZZ_CHECK(m.pos + (size_t)n <= written);
		FUZZ_CHECK(memcmp(buf, stream + m.pos, (size_t)n) == 0);
		model_take(&m, buf, (size_t)n);
		/* A record to hold never reaches GnuTLS, not even its first byte. */
		FUZZ_CHECK(!hold || !holdable(stream, stream_len, m.rec_start));
		/* Whatever it did not return is still in the socket (or held, in hold mode). */
		inside = hold ? t.header_got - t.header_given + t.held_len : 0;
		FUZZ_CHECK(socket_queued(sv[0]) + inside == written - m.pos);
		if (!hold) {
			FUZZ_CHECK(transport_mid_record(&t) == (m.header_got != 0 || m.body_left != 0));
			FUZZ_CHECK(t.body_left == m.body_left && t.header_got == m.header_got);
		}
		FUZZ_CHECK(t.records == m.records);
	}
	transport_release(&t);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
