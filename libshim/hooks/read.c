/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * read, readv, recv, recvfrom, recvmsg (and glibc's fortified twins).
 *
 * On a ready connection the real call reads kernel-decrypted data.  It
 * fails with EIO when the next record is not data (an alert, a ticket, a
 * KeyUpdate): the engine takes that record and the call is made again, so
 * the program sees data, 0 after close_notify, or an errno, never EIO.
 */
#include <sys/socket.h>
#include <unistd.h>

#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/*
 * Each hook is a fast path (one lookup, then a tail call into libc) and a
 * slow path kept out of line, so that the fast path needs no stack frame.
 */
static SHIM_SLOW ssize_t read_slow(struct shim_conn *c, int fd, void *buf, size_t len)
{
	ssize_t n;

	if (shim_busy)
		return SHIM_REAL(read)(fd, buf, len);
	do {
		if (!gate_read(c, &n))
			return n;
		n = SHIM_REAL(read)(fd, buf, len);
	} while (again_read(c, fd, &n, len));
	return n;
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	struct shim_conn *c = fdtable_get(fd);

	if (SHIM_LIKELY(!c))
		return SHIM_REAL(read)(fd, buf, len);
	return read_slow(c, fd, buf, len);
}

static SHIM_SLOW ssize_t readv_slow(struct shim_conn *c, int fd, const struct iovec *iov, int iovcnt)
{
	ssize_t n;

	if (shim_busy)
		return SHIM_REAL(readv)(fd, iov, iovcnt);
	do {
		if (!gate_read(c, &n))
			return n;
		n = SHIM_REAL(readv)(fd, iov, iovcnt);
	} while (again_read(c, fd, &n, iovcnt > 0 ? iov_total(iov, iovcnt) : 0));
	return n;
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct shim_conn *c = fdtable_get(fd);

	if (SHIM_LIKELY(!c))
		return SHIM_REAL(readv)(fd, iov, iovcnt);
	return readv_slow(c, fd, iov, iovcnt);
}

static SHIM_SLOW ssize_t recv_slow(struct shim_conn *c, int fd, void *buf, size_t len, int flags)
{
	ssize_t n;

	if (shim_busy)
		return SHIM_REAL(recv)(fd, buf, len, flags);
	do {
		if (!gate_read(c, &n))
			return n;
		n = SHIM_REAL(recv)(fd, buf, len, flags);
	} while (again_read(c, fd, &n, len));
	return n;
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct shim_conn *c = fdtable_get(fd);

	if (SHIM_LIKELY(!c))
		return SHIM_REAL(recv)(fd, buf, len, flags);
	return recv_slow(c, fd, buf, len, flags);
}

static SHIM_SLOW ssize_t recvfrom_slow(struct shim_conn *c, int fd, void *buf, size_t len,
				       int flags, struct sockaddr *addr, socklen_t *alen)
{
	ssize_t n;

	if (shim_busy)
		return SHIM_REAL(recvfrom)(fd, buf, len, flags, addr, alen);
	do {
		if (!gate_read(c, &n))
			return n;
		n = SHIM_REAL(recvfrom)(fd, buf, len, flags, addr, alen);
	} while (again_read(c, fd, &n, len));
	return n;
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
			     socklen_t *alen)
{
	struct shim_conn *c = fdtable_get(fd);

	if (SHIM_LIKELY(!c))
		return SHIM_REAL(recvfrom)(fd, buf, len, flags, addr, alen);
	return recvfrom_slow(c, fd, buf, len, flags, addr, alen);
}

static SHIM_SLOW ssize_t recvmsg_slow(struct shim_conn *c, int fd, struct msghdr *msg, int flags)
{
	ssize_t n;

	if (shim_busy)
		return SHIM_REAL(recvmsg)(fd, msg, flags);
	do {
		if (!gate_read(c, &n))
			return n;
		n = SHIM_REAL(recvmsg)(fd, msg, flags);
	} while (again_read(c, fd, &n, msg && msg->msg_iovlen > 0 ?
					iov_total(msg->msg_iov, (int)msg->msg_iovlen) : 0));
	return n;
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct shim_conn *c = fdtable_get(fd);

	if (SHIM_LIKELY(!c))
		return SHIM_REAL(recvmsg)(fd, msg, flags);
	return recvmsg_slow(c, fd, msg, flags);
}

/* glibc declares these only inside its own fortify headers. */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *addr, socklen_t *alen);

/*
 * _FORTIFY_SOURCE builds call these when the buffer size is known.  A
 * length past the buffer goes to glibc's own, which stops the program as
 * it always would; the rest is the plain call above.
 */
SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	shim_real_resolve();
	if (len > buflen && shim_real.__read_chk)
		return shim_real.__read_chk(fd, buf, len, buflen);
	return read(fd, buf, len);
}

SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	shim_real_resolve();
	if (len > buflen && shim_real.__recv_chk)
		return shim_real.__recv_chk(fd, buf, len, buflen, flags);
	return recv(fd, buf, len, flags);
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
				   struct sockaddr *addr, socklen_t *alen)
{
	shim_real_resolve();
	if (len > buflen && shim_real.__recvfrom_chk)
		return shim_real.__recvfrom_chk(fd, buf, len, buflen, flags, addr, alen);
	return recvfrom(fd, buf, len, flags, addr, alen);
}
