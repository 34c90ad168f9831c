/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Encoding and checking the custody messages (wire.h).  Every field is
 * read by offset from a length that was checked first; nothing here
 * trusts a length it did not compare with what arrived.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "custody/wire.h"

static const uint8_t req_magic[4] = { 'H', 'O', 'c', 'R' };
static const uint8_t rep_magic[4] = { 'H', 'O', 'c', 'A' };

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool identity_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static bool servername_char(uint8_t c)
{
	return identity_char(c) || c == ':';
}

static bool all(const uint8_t *s, size_t n, bool (*ok)(uint8_t))
{
	for (size_t i = 0; i < n; i++)
		if (!ok(s[i]))
			return false;
	return true;
}

ssize_t custody_request_encode(const struct custody_request *req, uint8_t *buf, size_t size,
			       const char **why)
{
	size_t il = strnlen(req->identity, sizeof(req->identity));
	size_t sl = strnlen(req->servername, sizeof(req->servername));

	if (req->role != CUSTODY_ROLE_CLIENT && req->role != CUSTODY_ROLE_SERVER) {
		*why = "the role is neither client nor server";
		return -EINVAL;
	}
	if (il == 0 || il > CUSTODY_IDENTITY_MAX ||
	    !all((const uint8_t *)req->identity, il, identity_char)) {
		*why = "an identity name is 1 to 64 of A-Z a-z 0-9 . _ -";
		return -EINVAL;
	}
	if (sl > CUSTODY_SERVERNAME_MAX ||
	    !all((const uint8_t *)req->servername, sl, servername_char)) {
		*why = "a server name is up to 253 of A-Z a-z 0-9 . _ - :";
		return -EINVAL;
	}
	if (req->role == CUSTODY_ROLE_SERVER && sl) {
		*why = "a server sends no server name";
		return -EINVAL;
	}
	if (size < CUSTODY_REQ_HEADER + il + sl) {
		*why = "buffer too small";
		return -EINVAL;
	}
	memcpy(buf, req_magic, 4);
	put16(buf + 4, CUSTODY_VERSION);
	buf[6] = req->role;
	if (req->flags & ~CUSTODY_FLAGS_KNOWN) {
		*why = "unknown request flags";
		return -EINVAL;
	}
	buf[7] = req->flags;
	put32(buf + 8, req->timeout_ms);
	buf[12] = (uint8_t)il;
	buf[13] = (uint8_t)sl;
	put16(buf + 14, 0);
	memcpy(buf + CUSTODY_REQ_HEADER, req->identity, il);
	memcpy(buf + CUSTODY_REQ_HEADER + il, req->servername, sl);
	return (ssize_t)(CUSTODY_REQ_HEADER + il + sl);
}

int custody_request_decode(const uint8_t *buf, size_t len, struct custody_request *req,
			   const char **why)
{
	size_t il, sl;

	memset(req, 0, sizeof(*req));
	if (len < 6 || memcmp(buf, req_magic, 4) != 0) {
		*why = "not a custody request (bad magic or too short)";
		return -EPROTO;
	}
	if (get16(buf + 4) != CUSTODY_VERSION) {
		*why = "protocol version not supported (this handoffd speaks version 1)";
		return -EPROTONOSUPPORT;
	}
	if (len < CUSTODY_REQ_HEADER) {
		*why = "request shorter than its header";
		return -EPROTO;
	}
	il = buf[12];
	sl = buf[13];
	if (len != CUSTODY_REQ_HEADER + il + sl) {
		*why = "request length does not match its field lengths";
		return -EPROTO;
	}
	if ((buf[7] & ~CUSTODY_FLAGS_KNOWN) || get16(buf + 14) != 0) {
		*why = "unknown flags or reserved bits set";
		return -EPROTO;
	}
	req->flags = buf[7];
	req->role = buf[6];
	if (req->role != CUSTODY_ROLE_CLIENT && req->role != CUSTODY_ROLE_SERVER) {
		*why = "role is neither client (1) nor server (2)";
		return -EPROTO;
	}
	if (il == 0 || il > CUSTODY_IDENTITY_MAX || !all(buf + CUSTODY_REQ_HEADER, il, identity_char)) {
		*why = "identity name empty, too long, or not A-Z a-z 0-9 . _ -";
		return -EPROTO;
	}
	if (sl > CUSTODY_SERVERNAME_MAX || !all(buf + CUSTODY_REQ_HEADER + il, sl, servername_char)) {
		*why = "server name too long or not A-Z a-z 0-9 . _ - :";
		return -EPROTO;
	}
	if (req->role == CUSTODY_ROLE_SERVER && sl) {
		*why = "a server request carries a server name";
		return -EPROTO;
	}
	req->timeout_ms = get32(buf + 8);
	memcpy(req->identity, buf + CUSTODY_REQ_HEADER, il);
	memcpy(req->servername, buf + CUSTODY_REQ_HEADER + il, sl);
	return 0;
}

/* Printable text into the message; returns its length (cut at max). */
static size_t put_text(uint8_t *dst, const char *src, size_t max)
{
	size_t n = strnlen(src, max);

	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)src[i];

		dst[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	return n;
}

static bool secret_len_ok(size_t n)
{
	return n == 0 || n == 32 || n == 48;
}

size_t custody_reply_encode(const struct custody_reply *rep, uint8_t *buf, size_t size)
{
	uint8_t *p = buf + CUSTODY_REPLY_HEADER;
	size_t n;

	if (size < CUSTODY_REPLY_MAX)
		return 0;
	memset(buf, 0, CUSTODY_REPLY_HEADER);
	memcpy(buf, rep_magic, 4);
	put16(buf + 4, CUSTODY_VERSION);
	put32(buf + 8, rep->status);
	n = put_text(p, rep->tls_version, CUSTODY_TLSVER_MAX);
	buf[12] = (uint8_t)n;
	p += n;
	n = put_text(p, rep->cipher, CUSTODY_CIPHER_MAX);
	buf[13] = (uint8_t)n;
	p += n;
	n = put_text(p, rep->alpn, CUSTODY_ALPN_MAX);
	buf[14] = (uint8_t)n;
	p += n;
	n = put_text(p, rep->peer, CUSTODY_PEER_MAX);
	put16(buf + 16, (uint16_t)n);
	p += n;
	n = put_text(p, rep->cause, CUSTODY_CAUSE_MAX);
	put16(buf + 18, (uint16_t)n);
	p += n;
	if (rep->status == 0 && secret_len_ok(rep->secret_len) && rep->secret_len) {
		buf[15] = rep->secret_len;
		memcpy(p, rep->write_secret, rep->secret_len);
		p += rep->secret_len;
		memcpy(p, rep->read_secret, rep->secret_len);
		p += rep->secret_len;
	}
	return (size_t)(p - buf);
}

static bool printable(uint8_t c)
{
	return c >= 0x20 && c < 0x7f;
}

/* One text field of a reply: checked, copied, NUL-terminated. */
static int take_text(const uint8_t **p, size_t n, size_t max, char *out)
{
	if (n > max || !all(*p, n, printable))
		return -1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n;
	return 0;
}

int custody_reply_decode(const uint8_t *buf, size_t len, struct custody_reply *rep,
			 const char **why)
{
	size_t vl, cl, al, pl, ml, sl;
	const uint8_t *p = buf + CUSTODY_REPLY_HEADER;

	memset(rep, 0, sizeof(*rep));
	if (len < 6 || memcmp(buf, rep_magic, 4) != 0) {
		*why = "not a custody reply (bad magic or too short)";
		return -EPROTO;
	}
	if (get16(buf + 4) != CUSTODY_VERSION) {
		*why = "handoffd answered in another protocol version";
		return -EPROTONOSUPPORT;
	}
	if (len < CUSTODY_REPLY_HEADER) {
		*why = "reply shorter than its header";
		return -EPROTO;
	}
	vl = buf[12];
	cl = buf[13];
	al = buf[14];
	pl = get16(buf + 16);
	ml = get16(buf + 18);
	sl = buf[15];
	if (len != CUSTODY_REPLY_HEADER + vl + cl + al + pl + ml + 2 * sl) {
		*why = "reply length does not match its field lengths";
		return -EPROTO;
	}
	if (get16(buf + 6) || get32(buf + 20)) {
		*why = "reserved bytes set in the reply";
		return -EPROTO;
	}
	if (take_text(&p, vl, CUSTODY_TLSVER_MAX, rep->tls_version) < 0 ||
	    take_text(&p, cl, CUSTODY_CIPHER_MAX, rep->cipher) < 0 ||
	    take_text(&p, al, CUSTODY_ALPN_MAX, rep->alpn) < 0 ||
	    take_text(&p, pl, CUSTODY_PEER_MAX, rep->peer) < 0 ||
	    take_text(&p, ml, CUSTODY_CAUSE_MAX, rep->cause) < 0) {
		*why = "a reply field is too long or not printable";
		return -EPROTO;
	}
	rep->status = get32(buf + 8);
	if (rep->status > 4095) {
		*why = "the status is not an errno";
		return -EPROTO;
	}
	if (!secret_len_ok(sl)) {
		*why = "traffic secrets of a length no TLS 1.3 suite has (32 or 48)";
		return -EPROTO;
	}
	if (sl && rep->status) {
		*why = "traffic secrets in a reply that says the handshake failed";
		return -EPROTO;
	}
	rep->secret_len = (uint8_t)sl;
	memcpy(rep->write_secret, p, sl);
	memcpy(rep->read_secret, p + sl, sl);
	return 0;
}

int custody_send_request(int sock, int fd, const struct custody_request *req, const char **why)
{
	uint8_t buf[CUSTODY_REQ_MAX];
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov;
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	ssize_t len = custody_request_encode(req, buf, sizeof(buf), why);

	if (len < 0)
		return (int)len;
	iov.iov_base = buf;
	iov.iov_len = (size_t)len;
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.space;
	msg.msg_controllen = sizeof(ctl.space);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) != len) {
		*why = "sending the request failed";
		return errno ? -errno : -EIO;
	}
	return 0;
}

/* Closes every fd a control message carried; returns how many there were. */
static unsigned close_fds(struct msghdr *msg, int *keep)
{
	unsigned n = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (keep && n == 0 && *keep == -2)
				*keep = fd;	/* the first one, if it turns out to be the only one */
			else
				close(fd);
			n++;
		}
	}
	return n;
}

ssize_t custody_recv_request(int sock, uint8_t *buf, size_t size, int *fd, const char **why)
{
	/* Room for more fds than allowed, so that extra ones arrive (and are closed) rather than vanish. */
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(8 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr msg = { 0 };
	ssize_t n;
	unsigned count;
	int keep = -2;

	*fd = -1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.space;
	msg.msg_controllen = sizeof(ctl.space);
	n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		*why = "reading the request failed";
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	count = close_fds(&msg, &keep);
	if (n == 0 && count == 0) {
		*why = "the caller closed the connection without a request";
		return -ECONNRESET;
	}
	if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC) || count != 1 || (size_t)n >= size) {
		if (keep >= 0)
			close(keep);
		*why = msg.msg_flags & MSG_CTRUNC ? "control message cut (too many fds)" :
		       count == 0 ? "no socket passed with the request (SCM_RIGHTS)" :
		       count > 1 ? "more than one fd passed with the request" :
				   "request longer than any valid one";
		return -EPROTO;
	}
	*fd = keep;
	return n;
}

const char *custody_status_name(uint32_t status)
{
	switch (status) {
	case 0:
		return "ok";
	case EACCES:
		return "EACCES";
	case EPROTO:
		return "EPROTO";
	case EPROTONOSUPPORT:
		return "EPROTONOSUPPORT";
	case EINVAL:
		return "EINVAL";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case ECONNRESET:
		return "ECONNRESET";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case EBADMSG:
		return "EBADMSG";
	case ECONNABORTED:
		return "ECONNABORTED";
	case ENOMEM:
		return "ENOMEM";
	case EAGAIN:
		return "EAGAIN";
	}
	return "error";
}
