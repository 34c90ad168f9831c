/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resolving a generic-netlink family by name.  The kernel's own in-kernel
 * TLS consumers (NFS, NVMe-TCP) ask user space for handshakes over the
 * "handshake" family; whether it exists says whether they can.
 */
#include "common.h"

#include <libmnl/libmnl.h>
#include <limits.h>
#include <linux/genetlink.h>
#include <string.h>
#include <time.h>

#include "probe/genl.h"
#include "probe/probe.h"

/* Large enough for any controller reply; sized statically to avoid a VLA. */
#define GENL_BUF_SIZE 8192

struct family_reply {
	uint16_t id;
	bool seen;
};

static int family_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	/* Newer kernels add attributes; an older helper must not trip on them. */
	if (mnl_attr_type_valid(attr, CTRL_ATTR_MAX) < 0)
		return MNL_CB_OK;

	switch (type) {
	case CTRL_ATTR_FAMILY_ID:
		if (mnl_attr_validate(attr, MNL_TYPE_U16) < 0)
			goto err_invalid;
		break;
	case CTRL_ATTR_FAMILY_NAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			goto err_invalid;
		break;
	default:
		return MNL_CB_OK;
	}
	tb[type] = attr;
	return MNL_CB_OK;

err_invalid:
	errno = EPROTO;
	return MNL_CB_ERROR;
}

static int family_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1] = { NULL };
	struct family_reply *reply = data;
	const struct genlmsghdr *genl;
	uint16_t id;

	if (nlh->nlmsg_type != GENL_ID_CTRL ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*genl))
		goto err_proto;
	genl = mnl_nlmsg_get_payload(nlh);
	if (genl->cmd != CTRL_CMD_NEWFAMILY)
		goto err_proto;
	if (mnl_attr_parse(nlh, sizeof(*genl), family_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (!tb[CTRL_ATTR_FAMILY_ID])
		goto err_proto;
	id = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	/* Ids below GENL_MIN_ID are netlink control messages, never a family. */
	if (id < GENL_MIN_ID)
		goto err_proto;
	reply->id = id;
	reply->seen = true;
	return MNL_CB_OK;

err_proto:
	errno = EPROTO;
	return MNL_CB_ERROR;
}

int probe_genl_build_request(void *buf, size_t size, const char *name,
			     uint32_t seq)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *genl;
	size_t name_len;

	if (!name)
		return -EINVAL;
	name_len = strlen(name);
	if (name_len == 0 || name_len >= GENL_NAMSIZ)
		return -EINVAL;
	if (size < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*genl)) +
		   MNL_ATTR_HDRLEN + MNL_ALIGN(name_len + 1))
		return -ENOSPC;

	memset(buf, 0, size);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	/* Ask for an ACK so the end of the exchange is explicit. */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_GETFAMILY;
	genl->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);
	return (int)nlh->nlmsg_len;
}

/*
 * A datagram from the kernel is whole, padded messages.  mnl_cb_run()
 * quietly stops at a short trailing message, mnl_nlmsg_ok() compares
 * nlmsg_len as an int (so 0x80000000 and up pass, and mnl_nlmsg_next()
 * then loops or runs off the buffer), and libmnl walks attributes up to
 * the aligned end of a message, past an unaligned last one.  (The last two
 * were found by handoffd's ACCEPT fuzzer.)
 */
int probe_genl_check_datagram(const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int left;

	if (!buf || len == 0 || len > INT_MAX)
		return -EPROTO;
	left = (int)len;
	while (mnl_nlmsg_ok(nlh, left)) {
		if (nlh->nlmsg_len > (uint32_t)left || MNL_ALIGN(nlh->nlmsg_len) > (uint32_t)left)
			return -EPROTO;
		/*
		 * The kernel's error field is 0 or -errno; libmnl would report a
		 * positive one as an errno of the kernel's.
		 */
		if (nlh->nlmsg_type == NLMSG_ERROR &&
		    mnl_nlmsg_get_payload_len(nlh) >= sizeof(int32_t) &&
		    *(const int32_t *)mnl_nlmsg_get_payload(nlh) > 0)
			return -EPROTO;
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	return left > 0 ? -EPROTO : 0;
}

int probe_genl_parse_reply(const void *buf, size_t len, uint32_t seq,
			   uint32_t portid, uint16_t *family_id)
{
	struct family_reply reply = { 0 };
	int ret;

	ret = probe_genl_check_datagram(buf, len);
	if (ret < 0)
		return ret;

	errno = 0;
	ret = mnl_cb_run(buf, len, seq, portid, family_msg_cb, &reply);
	if (ret < 0) {
		ret = errno;
		/*
		 * libmnl says EBADMSG for a short error message: damage too.  So
		 * is an error field that is no -errno: libmnl passes it on as is.
		 */
		if (ret <= 0 || ret >= 4096 || ret == EBADMSG)
			ret = EPROTO;
		return -ret;
	}
	if (reply.seen)
		*family_id = reply.id;
	return ret > MNL_CB_STOP ? 1 : 0;
}

int probe_genl_family(const char *name)
{
	uint8_t buf[GENL_BUF_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct mnl_socket *nl;
	uint16_t id = 0;
	uint32_t seq, portid;
	ssize_t n;
	int len;
	int ret;

	len = probe_genl_build_request(buf, sizeof(buf), name, 0);
	if (len < 0)
		return len;

	nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto err_socket;
	}
	portid = mnl_socket_get_portid(nl);
	seq = (uint32_t)time(NULL);
	((struct nlmsghdr *)buf)->nlmsg_seq = seq;

	if (mnl_socket_sendto(nl, buf, (size_t)len) < 0) {
		ret = -errno;
		goto err_socket;
	}
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			ret = -errno;
			goto err_socket;
		}
		ret = probe_genl_parse_reply(buf, (size_t)n, seq, portid, &id);
	} while (ret > 0);
	if (ret == 0 && id == 0)
		ret = -EPROTO;	/* acknowledged, but no family in the reply */
	else if (ret == 0)
		ret = id;

err_socket:
	mnl_socket_close(nl);
	return ret;
}
