/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Record I/O on a socket whose record layer the kernel owns.  Plain
 * read()/write() carry application data only; the content type of anything
 * else (alerts, post-handshake messages) travels in a control message.
 */
#include "common.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "ktls/ktls.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

/* One byte of cmsg data, aligned for struct cmsghdr. */
union record_cmsg {
	char buf[CMSG_SPACE(sizeof(unsigned char))];
	struct cmsghdr align;
};

ssize_t ktls_recv_record(int fd, void *buf, size_t len, int flags, uint8_t *type)
{
	union record_cmsg control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg;
	struct cmsghdr *cmsg;
	uint8_t rtype = KTLS_RECORD_APPLICATION_DATA;
	bool typed = false;
	ssize_t n;

	if (!type || (!buf && len))
		return -EINVAL;

	do {
		memset(&msg, 0, sizeof(msg));
		memset(&control, 0, sizeof(control));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		n = recvmsg(fd, &msg, flags);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_TLS || cmsg->cmsg_type != TLS_GET_RECORD_TYPE)
			continue;
		if (cmsg->cmsg_len < CMSG_LEN(sizeof(unsigned char)))
			return -EPROTO;
		rtype = *(const unsigned char *)CMSG_DATA(cmsg);
		typed = true;
	}
	/*
	 * A truncated control area may have lost the record type, and the
	 * bytes are consumed already: calling them application data could
	 * hand an alert or a handshake message to the application.  Fail
	 * closed; the connection is unusable either way.
	 */
	if ((msg.msg_flags & MSG_CTRUNC) && !typed)
		return -EPROTO;
	/*
	 * 0 bytes with a record type means the kernel took records that held
	 * nothing (zero-length application data) and stopped before a record
	 * of another type or a FIN; 0 bytes without one is the FIN itself.
	 * Measured on 6.12 and 7.3: see ktls_recv_record() in ktls.h.
	 */
	if (n == 0 && !typed)
		rtype = KTLS_RECORD_NONE;

	*type = rtype;
	return n;
}

ssize_t ktls_send_record(int fd, uint8_t type, const void *buf, size_t len, int flags)
{
	union record_cmsg control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg;
	struct cmsghdr *cmsg;
	ssize_t n;

	if (!buf && len)
		return -EINVAL;

	memset(&control, 0, sizeof(control));
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_TLS;
	cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(sizeof(unsigned char));
	*(unsigned char *)CMSG_DATA(cmsg) = type;

	/* A closed peer must be an error return, never a SIGPIPE in the host process. */
	do
		n = sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n;
}
