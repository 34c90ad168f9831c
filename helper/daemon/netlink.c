/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ACCEPT and DONE on the wire.  Parsing follows libmnl's attribute-table
 * pattern, with one twist: a bad attribute does not stop the walk at once,
 * because the kernel may already have installed a socket in our fd table
 * and the sockfd attribute may come after the damage.  Losing that fd
 * would leave the kernel consumer waiting for a DONE that never comes.
 */
#include "common.h"

#include <libmnl/libmnl.h>
#include <limits.h>
#include <linux/genetlink.h>
#include <string.h>

#include "daemon/netlink.h"
#include "probe/genl.h"

/* --------------------------------------------------------------- names */

const char *hd_msg_type_name(uint32_t msg_type)
{
	switch (msg_type) {
	case HS_MSG_TYPE_CLIENTHELLO:
		return "clienthello";
	case HS_MSG_TYPE_SERVERHELLO:
		return "serverhello";
	case HS_MSG_TYPE_UNSPEC:
		return "unspec";
	}
	return "unknown";
}

const char *hd_auth_name(uint32_t auth_mode)
{
	switch (auth_mode) {
	case HS_AUTH_UNAUTH:
		return "unauth";
	case HS_AUTH_PSK:
		return "psk";
	case HS_AUTH_X509:
		return "x509";
	case HS_AUTH_UNSPEC:
		return "unspec";
	}
	return "unknown";
}

const char *hd_accept_attr_name(int attr)
{
	static const char *const names[] = {
		[HS_A_ACCEPT_SOCKFD] = "sockfd",
		[HS_A_ACCEPT_HANDLER_CLASS] = "handler-class",
		[HS_A_ACCEPT_MESSAGE_TYPE] = "message-type",
		[HS_A_ACCEPT_TIMEOUT] = "timeout",
		[HS_A_ACCEPT_AUTH_MODE] = "auth-mode",
		[HS_A_ACCEPT_PEER_IDENTITY] = "peer-identity",
		[HS_A_ACCEPT_CERTIFICATE] = "certificate",
		[HS_A_ACCEPT_PEERNAME] = "peername",
		[HS_A_ACCEPT_KEYRING] = "keyring",
	};

	if (attr <= 0 || (size_t)attr >= ARRAY_SIZE(names))
		return "unknown";
	return names[attr];
}

/* ------------------------------------------------------------ builders */

static struct nlmsghdr *put_genl(void *buf, uint16_t family, uint8_t cmd, uint32_t seq,
				 uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = HS_FAMILY_VERSION;
	return nlh;
}

#define GENL_HDR_SPACE (MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct genlmsghdr)))
#define U32_ATTR_SPACE (MNL_ATTR_HDRLEN + MNL_ALIGN(sizeof(uint32_t)))

int hd_nl_build_accept(void *buf, size_t size, uint16_t family, uint32_t seq)
{
	struct nlmsghdr *nlh;

	if (size < GENL_HDR_SPACE + U32_ATTR_SPACE)
		return -ENOSPC;
	memset(buf, 0, GENL_HDR_SPACE + U32_ATTR_SPACE);
	/* No NLM_F_ACK: the reply (or the error) is the whole answer. */
	nlh = put_genl(buf, family, HS_CMD_ACCEPT, seq, NLM_F_REQUEST);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_HANDLER_CLASS, HS_HANDLER_CLASS_TLSHD);
	return (int)nlh->nlmsg_len;
}

int hd_nl_build_done(void *buf, size_t size, uint16_t family, uint32_t seq,
		     int sockfd, uint32_t status, const uint32_t *remote_auth,
		     unsigned n_remote_auth)
{
	size_t need;
	struct nlmsghdr *nlh;

	if (sockfd < 0 || n_remote_auth > HS_MAX_PEER_IDENTITIES ||
	    (n_remote_auth && !remote_auth))
		return -EINVAL;
	need = GENL_HDR_SPACE + (2 + n_remote_auth) * U32_ATTR_SPACE;
	if (size < need)
		return -ENOSPC;
	memset(buf, 0, need);
	/* The ACK tells us whether the kernel found the request (EBADF, EBUSY). */
	nlh = put_genl(buf, family, HS_CMD_DONE, seq, NLM_F_REQUEST | NLM_F_ACK);
	mnl_attr_put_u32(nlh, HS_A_DONE_STATUS, status);
	mnl_attr_put_u32(nlh, HS_A_DONE_SOCKFD, (uint32_t)sockfd);
	for (unsigned i = 0; i < n_remote_auth; i++)
		mnl_attr_put_u32(nlh, HS_A_DONE_REMOTE_AUTH, remote_auth[i]);
	return (int)nlh->nlmsg_len;
}

/* ------------------------------------------------------------- parsing */


/* errno after a failed mnl_cb_run(), as a negative errno we can trust. */
static int kernel_error(int err)
{
	/*
	 * libmnl says EBADMSG for a short error message, and passes on an
	 * error field that is no -errno as it is: both are damage.
	 */
	if (err <= 0 || err >= 4096 || err == EBADMSG)
		return -EPROTO;
	return -err;
}

/* Everything after the attributes libmnl accepted must be padding only. */
static bool attrs_consumed(const struct nlattr *attr, const void *tail)
{
	return (const uint8_t *)tail - (const uint8_t *)attr <= 0;
}

struct accept_ctx {
	struct hd_request *req;
	uint32_t seen;		/* bit per single attribute seen */
	int err;		/* first error, negative errno */
	bool replied;
	uint16_t family;
};

static void accept_fail(struct accept_ctx *ctx, int err, int attr)
{
	if (ctx->err)
		return;
	ctx->err = err;
	ctx->req->bad_attr = attr;
}

static int x509_attr_cb(const struct nlattr *attr, void *data)
{
	struct hd_cert_ids *ids = data;

	switch (mnl_attr_get_type(attr)) {
	case HS_A_X509_CERT:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		ids->cert = mnl_attr_get_u32(attr);
		break;
	case HS_A_X509_PRIVKEY:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		ids->privkey = mnl_attr_get_u32(attr);
		break;
	default:
		break;	/* newer kernels may add more; not ours to judge */
	}
	return MNL_CB_OK;
}

static void parse_certificate(struct accept_ctx *ctx, const struct nlattr *attr)
{
	struct hd_request *req = ctx->req;
	struct hd_cert_ids ids = { HS_NO_KEY, HS_NO_KEY };
	const struct nlattr *inner;
	int left;

	if (mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0) {
		accept_fail(ctx, -EPROTO, HS_A_ACCEPT_CERTIFICATE);
		return;
	}
	if (req->n_certs >= HS_MAX_CERTIFICATES) {
		accept_fail(ctx, -E2BIG, HS_A_ACCEPT_CERTIFICATE);
		return;
	}
	if (mnl_attr_parse_nested(attr, x509_attr_cb, &ids) < 0) {
		accept_fail(ctx, -EPROTO, HS_A_ACCEPT_CERTIFICATE);
		return;
	}
	/* mnl_attr_parse_nested() stops silently at a cut inner attribute. */
	left = (int)mnl_attr_get_payload_len(attr);
	inner = mnl_attr_get_payload(attr);
	while (mnl_attr_ok(inner, left)) {
		left -= (int)MNL_ALIGN(inner->nla_len);
		inner = mnl_attr_next(inner);
	}
	if (left > 0) {
		accept_fail(ctx, -EPROTO, HS_A_ACCEPT_CERTIFICATE);
		return;
	}
	req->certs[req->n_certs++] = ids;
}

static int accept_attr_cb(const struct nlattr *attr, void *data)
{
	struct accept_ctx *ctx = data;
	struct hd_request *req = ctx->req;
	int type = mnl_attr_get_type(attr);
	uint32_t v;

	/* Attributes of a newer kernel: skipped, so an old daemon keeps working. */
	if (type <= 0 || type > HS_A_ACCEPT_MAX)
		return MNL_CB_OK;

	if (type == HS_A_ACCEPT_CERTIFICATE) {
		parse_certificate(ctx, attr);
		return MNL_CB_OK;
	}
	if (type == HS_A_ACCEPT_PEERNAME) {
		if (ctx->seen & (1u << type)) {
			accept_fail(ctx, -EPROTO, type);
			return MNL_CB_OK;
		}
		ctx->seen |= 1u << type;
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0) {
			accept_fail(ctx, -EPROTO, type);
			return MNL_CB_OK;
		}
		if (strlen(mnl_attr_get_str(attr)) >= sizeof(req->peername)) {
			accept_fail(ctx, -ENAMETOOLONG, type);
			return MNL_CB_OK;
		}
		strcpy(req->peername, mnl_attr_get_str(attr));
		return MNL_CB_OK;
	}

	/* Every other attribute of the set is a u32. */
	if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) {
		accept_fail(ctx, -EPROTO, type);
		return MNL_CB_OK;
	}
	v = mnl_attr_get_u32(attr);
	if (type == HS_A_ACCEPT_PEER_IDENTITY) {
		if (req->n_peerids >= HS_MAX_PEER_IDENTITIES)
			accept_fail(ctx, -E2BIG, type);
		else
			req->peerids[req->n_peerids++] = v;
		return MNL_CB_OK;
	}
	if (ctx->seen & (1u << type)) {
		accept_fail(ctx, -EPROTO, type);
		return MNL_CB_OK;
	}
	ctx->seen |= 1u << type;

	switch (type) {
	case HS_A_ACCEPT_SOCKFD:
		if (v > INT_MAX)
			accept_fail(ctx, -EPROTO, type);
		else
			req->sockfd = (int)v;
		break;
	case HS_A_ACCEPT_HANDLER_CLASS:
		/* The kernel does not echo it today; if it does, it must be ours. */
		if (v != HS_HANDLER_CLASS_TLSHD)
			accept_fail(ctx, -EPROTO, type);
		break;
	case HS_A_ACCEPT_MESSAGE_TYPE:
		if (v != HS_MSG_TYPE_CLIENTHELLO && v != HS_MSG_TYPE_SERVERHELLO)
			accept_fail(ctx, -EOPNOTSUPP, type);
		req->msg_type = v;
		break;
	case HS_A_ACCEPT_TIMEOUT:
		req->timeout_ms = v;
		break;
	case HS_A_ACCEPT_AUTH_MODE:
		if (v != HS_AUTH_UNAUTH && v != HS_AUTH_PSK && v != HS_AUTH_X509)
			accept_fail(ctx, -EOPNOTSUPP, type);
		req->auth_mode = v;
		break;
	case HS_A_ACCEPT_KEYRING:
		req->keyring = v;
		break;
	}
	return MNL_CB_OK;
}

static int accept_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct accept_ctx *ctx = data;
	const struct genlmsghdr *genl;
	const struct nlattr *attr;

	if (ctx->replied || nlh->nlmsg_type != ctx->family ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*genl)) {
		accept_fail(ctx, -EPROTO, 0);
		return MNL_CB_OK;
	}
	genl = mnl_nlmsg_get_payload(nlh);
	if (genl->cmd != HS_CMD_ACCEPT) {
		accept_fail(ctx, -EPROTO, 0);
		return MNL_CB_OK;
	}
	ctx->replied = true;
	mnl_attr_for_each(attr, nlh, sizeof(*genl))
		accept_attr_cb(attr, ctx);
	if (!attrs_consumed(attr, mnl_nlmsg_get_payload_tail(nlh)))
		accept_fail(ctx, -EPROTO, 0);
	return MNL_CB_OK;
}

int hd_nl_parse_accept(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		       uint16_t family, struct hd_request *req)
{
	struct accept_ctx ctx = { .req = req, .family = family };
	static const int required[] = {
		HS_A_ACCEPT_SOCKFD, HS_A_ACCEPT_MESSAGE_TYPE, HS_A_ACCEPT_AUTH_MODE,
	};
	int ret;

	memset(req, 0, sizeof(*req));
	req->sockfd = -1;
	ret = probe_genl_check_datagram(buf, len);
	if (ret < 0)
		return ret;

	errno = 0;
	ret = mnl_cb_run(buf, len, seq, portid, accept_msg_cb, &ctx);
	if (ret < 0 && !ctx.err) {
		ret = kernel_error(errno);
		/* ACCEPT never fails with ENODATA; ours means "attribute missing". */
		return ret == -ENODATA ? -EPROTO : ret;
	}
	if (ctx.err)
		return ctx.err;
	if (!ctx.replied)
		return -EPROTO;
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		if (!(ctx.seen & (1u << required[i]))) {
			req->bad_attr = required[i];
			return -ENODATA;
		}
	}
	return 0;
}

/* ------------------------------------------------- family and its group */

struct family_ctx {
	uint16_t *family;
	uint32_t *group;
	int err;
};

static int mcast_grp_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	switch (type) {
	case CTRL_ATTR_MCAST_GRP_NAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_ERROR;
		break;
	case CTRL_ATTR_MCAST_GRP_ID:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		break;
	default:
		return MNL_CB_OK;
	}
	tb[type] = attr;
	return MNL_CB_OK;
}

static int mcast_groups_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr *tb[CTRL_ATTR_MCAST_GRP_ID + 1] = { NULL };
	struct family_ctx *ctx = data;

	if (mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0 ||
	    mnl_attr_parse_nested(attr, mcast_grp_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (tb[CTRL_ATTR_MCAST_GRP_NAME] && tb[CTRL_ATTR_MCAST_GRP_ID] &&
	    strcmp(mnl_attr_get_str(tb[CTRL_ATTR_MCAST_GRP_NAME]), HS_MCGRP_TLSHD) == 0)
		*ctx->group = mnl_attr_get_u32(tb[CTRL_ATTR_MCAST_GRP_ID]);
	return MNL_CB_OK;
}

static int family_attr_cb(const struct nlattr *attr, void *data)
{
	struct family_ctx *ctx = data;

	switch (mnl_attr_get_type(attr)) {
	case CTRL_ATTR_FAMILY_ID:
		if (mnl_attr_validate(attr, MNL_TYPE_U16) < 0 ||
		    mnl_attr_get_u16(attr) < GENL_MIN_ID)
			return MNL_CB_ERROR;
		*ctx->family = mnl_attr_get_u16(attr);
		break;
	case CTRL_ATTR_MCAST_GROUPS:
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0 ||
		    mnl_attr_parse_nested(attr, mcast_groups_cb, ctx) < 0)
			return MNL_CB_ERROR;
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

static int family_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct family_ctx *ctx = data;
	const struct genlmsghdr *genl;

	if (nlh->nlmsg_type != GENL_ID_CTRL ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*genl))
		goto err_proto;
	genl = mnl_nlmsg_get_payload(nlh);
	if (genl->cmd != CTRL_CMD_NEWFAMILY)
		goto err_proto;
	if (mnl_attr_parse(nlh, sizeof(*genl), family_attr_cb, ctx) < 0)
		goto err_proto;
	return MNL_CB_OK;

err_proto:
	ctx->err = -EPROTO;
	return MNL_CB_ERROR;
}

int hd_nl_parse_family(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		       uint16_t *family, uint32_t *group)
{
	struct family_ctx ctx = { .family = family, .group = group };
	int ret;

	ret = probe_genl_check_datagram(buf, len);
	if (ret < 0)
		return ret;
	errno = 0;
	ret = mnl_cb_run(buf, len, seq, portid, family_msg_cb, &ctx);
	if (ctx.err)
		return ctx.err;
	if (ret < 0)
		return kernel_error(errno);
	return ret > MNL_CB_STOP ? 1 : 0;
}

static int no_data_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	*(bool *)data = true;
	return MNL_CB_OK;
}

int hd_nl_parse_ack(const void *buf, size_t len, uint32_t seq, uint32_t portid)
{
	bool data = false;
	int ret;

	ret = probe_genl_check_datagram(buf, len);
	if (ret < 0)
		return ret;
	errno = 0;
	ret = mnl_cb_run(buf, len, seq, portid, no_data_cb, &data);
	if (ret < 0)
		return kernel_error(errno);
	/* DONE has no reply message: anything but the ACK is not ours. */
	if (data || ret != MNL_CB_STOP)
		return -EPROTO;
	return 0;
}
