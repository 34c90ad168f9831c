/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/nlsock.h"
#include "probe/genl.h"

/* An ACCEPT reply is a few hundred bytes; controller replies about 1 KiB. */
#define NL_BUF_SIZE 8192

static uint32_t next_seq(struct hd_nl *nl)
{
	/* 0 would switch off libmnl's sequence check. */
	if (++nl->seq == 0)
		nl->seq = 1;
	return nl->seq;
}

static int resolve_family(struct hd_nl *nl)
{
	uint8_t buf[NL_BUF_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	uint32_t seq = next_seq(nl);
	uint16_t family = 0;
	uint32_t group = 0;
	ssize_t n;
	int len, ret;

	len = probe_genl_build_request(buf, sizeof(buf), HS_FAMILY_NAME, seq);
	if (len < 0)
		return len;
	if (mnl_socket_sendto(nl->sock, buf, (size_t)len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = hd_nl_parse_family(buf, (size_t)n, seq, nl->portid, &family, &group);
	} while (ret > 0);
	if (ret < 0)
		return ret;
	if (!family)
		return -EPROTO;
	nl->family = family;
	nl->group = group;
	return 0;
}

int hd_nl_open(struct hd_nl *nl)
{
	int ret;

	memset(nl, 0, sizeof(*nl));
	nl->seq = (uint32_t)time(NULL);
	nl->sock = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto err_socket;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	ret = resolve_family(nl);
	if (ret < 0)
		goto err_socket;
	return 0;

err_socket:
	mnl_socket_close(nl->sock);
	nl->sock = NULL;
	return ret;
}

void hd_nl_close(struct hd_nl *nl)
{
	if (nl && nl->sock) {
		mnl_socket_close(nl->sock);
		nl->sock = NULL;
	}
}

int hd_nl_fd(const struct hd_nl *nl)
{
	return mnl_socket_get_fd(nl->sock);
}

int hd_nl_join(struct hd_nl *nl)
{
	int group = (int)nl->group;
	int fd = hd_nl_fd(nl);
	int flags;

	if (!nl->group)
		return -ENOENT;
	if (mnl_socket_setsockopt(nl->sock, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
		return -errno;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int hd_nl_drain(struct hd_nl *nl)
{
	uint8_t buf[NL_BUF_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	int ready = 0;
	ssize_t n;

	for (;;) {
		n = recv(hd_nl_fd(nl), buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return ready;
			if (errno == ENOBUFS) {
				ready++;
				continue;
			}
			return -errno;
		}
		/*
		 * Only a wake-up: what is queued is learnt from ACCEPT, so a
		 * datagram's content cannot make us do anything else.
		 */
		ready++;
	}
}

int hd_nl_accept(struct hd_nl *nl, struct hd_request *req)
{
	uint8_t buf[NL_BUF_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	uint32_t seq = next_seq(nl);
	ssize_t n;
	int len;

	memset(req, 0, sizeof(*req));
	req->sockfd = -1;
	len = hd_nl_build_accept(buf, sizeof(buf), nl->family, seq);
	if (len < 0)
		return len;
	if (mnl_socket_sendto(nl->sock, buf, (size_t)len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	return hd_nl_parse_accept(buf, (size_t)n, seq, nl->portid, nl->family, req);
}

int hd_nl_done(struct hd_nl *nl, int sockfd, uint32_t status,
	       const uint32_t *remote_auth, unsigned n_remote_auth)
{
	uint8_t buf[NL_BUF_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	uint32_t seq = next_seq(nl);
	ssize_t n;
	int len;

	len = hd_nl_build_done(buf, sizeof(buf), nl->family, seq, sockfd, status,
			       remote_auth, n_remote_auth);
	if (len < 0)
		return len;
	if (mnl_socket_sendto(nl->sock, buf, (size_t)len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	return hd_nl_parse_ack(buf, (size_t)n, seq, nl->portid);
}
