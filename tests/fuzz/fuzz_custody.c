/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The key-custody messages between the shim and handoffd
 * (helper/custody/wire.h): custody_request_decode() (what handoffd reads
 * from any local process), custody_reply_decode() (what the shim reads),
 * and custody_recv_request() (the message and its SCM_RIGHTS fds).
 *
 * Input: one control byte, then the message.  Bits 0-1 of the control
 * byte: how many fds go with the message (0-3) when it is passed through
 * a real socketpair to custody_recv_request(); bit 2: do that at all.
 * Invariants: a decoded request re-encodes to exactly the same bytes, and
 * so does a decoded reply (texts, status and traffic secrets); every
 * decoded string is NUL-terminated and of the allowed characters; secrets
 * only of 32 or 48 bytes and only with status 0;
 * custody_recv_request() leaves no fd open but the one it returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "custody/wire.h"
#include "fuzz.h"

static int sv[2] = { -1, -1 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	return 0;
}

static void through_socket(const uint8_t *msg, size_t len, unsigned n_fds)
{
	char ctl[CMSG_SPACE(3 * sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint8_t buf[CUSTODY_REQ_MAX + 1];
	int fds[3], fd = -5, lowest;
	const char *why = NULL;
	ssize_t n;

	FUZZ_CHECK((lowest = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
	close(lowest);

	for (unsigned i = 0; i < n_fds; i++)
		FUZZ_CHECK((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
	if (n_fds) {
		struct cmsghdr *cm;

		m.msg_control = ctl;
		m.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n_fds * sizeof(int));
	}
	if (sendmsg(sv[0], &m, MSG_DONTWAIT) < 0) {
		for (unsigned i = 0; i < n_fds; i++)
			close(fds[i]);
		return;	/* too long for the socket: the kernel refuses it before handoffd sees it */
	}
	for (unsigned i = 0; i < n_fds; i++)
		close(fds[i]);
	n = custody_recv_request(sv[1], buf, sizeof(buf), &fd, &why);
	if (n >= 0) {
		FUZZ_CHECK(n_fds == 1 && fd >= 0 && (size_t)n == len);
		close(fd);
	} else {
		FUZZ_CHECK(fd == -1 && why);
		/* An empty message with no fd reads as the caller's close: both are refused. */
		FUZZ_CHECK(n == -EPROTO || (n == -ECONNRESET && len == 0 && n_fds == 0));
	}
	/* Nothing left behind: the next fd number is the one just freed. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	FUZZ_CHECK(fd == lowest);
	close(fd);
}

static void check_text(const char *s, size_t max, const char *allowed_extra)
{
	size_t n = strnlen(s, max + 1);

	FUZZ_CHECK(n <= max);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (allowed_extra)
			FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				   (c >= '0' && c <= '9') || strchr(allowed_extra, c));
		else
			FUZZ_CHECK(c >= 0x20 && c < 0x7f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct custody_request req;
	struct custody_reply rep;
	uint8_t again[CUSTODY_REQ_MAX];
	static uint8_t reply[CUSTODY_REPLY_MAX];
	const char *why = NULL;
	ssize_t n;

	if (sv[0] < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 1)
		return 0;

	if (custody_request_decode(data + 1, size - 1, &req, &why) == 0) {
		FUZZ_CHECK(req.role == CUSTODY_ROLE_CLIENT || req.role == CUSTODY_ROLE_SERVER);
		FUZZ_CHECK(!(req.flags & ~CUSTODY_FLAGS_KNOWN));
		check_text(req.identity, CUSTODY_IDENTITY_MAX, "._-");
		FUZZ_CHECK(req.identity[0]);
		check_text(req.servername, CUSTODY_SERVERNAME_MAX, "._-:");
		n = custody_request_encode(&req, again, sizeof(again), &why);
		FUZZ_CHECK(n == (ssize_t)(size - 1) && memcmp(again, data + 1, size - 1) == 0);
	} else {
		FUZZ_CHECK(why != NULL);
	}

	why = NULL;
	if (custody_reply_decode(data + 1, size - 1, &rep, &why) == 0) {
		FUZZ_CHECK(rep.status < 4096);
		check_text(rep.tls_version, CUSTODY_TLSVER_MAX, NULL);
		check_text(rep.cipher, CUSTODY_CIPHER_MAX, NULL);
		check_text(rep.alpn, CUSTODY_ALPN_MAX, NULL);
		check_text(rep.peer, CUSTODY_PEER_MAX, NULL);
		check_text(rep.cause, CUSTODY_CAUSE_MAX, NULL);
		FUZZ_CHECK(rep.secret_len == 0 || rep.secret_len == 32 || rep.secret_len == 48);
		FUZZ_CHECK(rep.secret_len == 0 || rep.status == 0);
		n = (ssize_t)custody_reply_encode(&rep, reply, sizeof(reply));
		FUZZ_CHECK(n == (ssize_t)(size - 1) && memcmp(reply, data + 1, size - 1) == 0);
	} else {
		FUZZ_CHECK(why != NULL);
	}

	if (data[0] & 0x04)
		through_socket(data + 1, size - 1, data[0] & 0x03);
	return 0;
}
