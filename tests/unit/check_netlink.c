/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoffd's handshake-family wire format: the ACCEPT and DONE builders,
 * and the ACCEPT reply parser fed every attribute, repeated ones, unknown
 * ones, wrong types and lengths, truncations and missing required ones.
 * The datagrams are crafted here the way net/handshake/tlshd.c writes them.
 */
#include "common.h"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <unistd.h>

#include "daemon/netlink.h"
#include "daemon/nlsock.h"
#include "testutil.h"

#define SEQ 0x1234u
#define PORTID 4242u
#define FAMILY 0x1f

typedef size_t (*build_fn)(uint8_t *buf);

/* ------------------------------------------------------------ builders */

START_TEST(test_build_accept)
{
	uint8_t buf[128] __attribute__((aligned(4)));
	const struct nlmsghdr *nlh = (const void *)buf;
	const struct genlmsghdr *genl;
	const struct nlattr *attr;
	int len = hd_nl_build_accept(buf, sizeof(buf), FAMILY, SEQ);

	ck_assert_int_gt(len, 0);
	ck_assert_uint_eq(nlh->nlmsg_len, (unsigned)len);
	ck_assert_uint_eq(nlh->nlmsg_type, FAMILY);
	ck_assert_uint_eq(nlh->nlmsg_flags, NLM_F_REQUEST);
	ck_assert_uint_eq(nlh->nlmsg_seq, SEQ);
	genl = mnl_nlmsg_get_payload(nlh);
	ck_assert_uint_eq(genl->cmd, HS_CMD_ACCEPT);
	ck_assert_uint_eq(genl->version, HS_FAMILY_VERSION);
	attr = mnl_nlmsg_get_payload_offset(nlh, sizeof(*genl));
	ck_assert_uint_eq(mnl_attr_get_type(attr), HS_A_ACCEPT_HANDLER_CLASS);
	ck_assert_int_eq(mnl_attr_validate(attr, MNL_TYPE_U32), 0);
	ck_assert_uint_eq(mnl_attr_get_u32(attr), HS_HANDLER_CLASS_TLSHD);
	ck_assert_int_eq(hd_nl_build_accept(buf, 16, FAMILY, SEQ), -ENOSPC);
}
END_TEST

/*
 * DONE as the kernel reads it (tls_handshake_remote_peerids): status,
 * sockfd, then one remote-auth u32 per identity, in order.  Rows: an
 * X.509 success names the key holding the peer's certificate; a PSK one
 * the PSK's serial; a failure or an unauthenticated peer none; the most
 * the kernel keeps (5).
 */
static const struct {
	const char *what;
	uint32_t status;
	int sockfd;
	unsigned n;
	uint32_t ra[HS_MAX_PEER_IDENTITIES];
} done_rows[] = {
	{ "x509 peer certificate key", 0, 7, 1, { 0x2a5e1c07 } },
	{ "psk serial", 0, 9, 1, { 0x11111111 } },
	{ "no peer identity", 0, 3, 0, { 0 } },
	{ "failure", EKEYREJECTED, 7, 0, { 0 } },
	{ "two identities", EACCES, 7, 2, { 0x11111111, 0x22222222 } },
	{ "the kernel's maximum", 0, 0, HS_MAX_PEER_IDENTITIES, { 1, 2, 3, 4, 0x7fffffff } },
};

START_TEST(test_build_done)
{
	uint8_t buf[256] __attribute__((aligned(4)));
	const struct nlmsghdr *nlh = (const void *)buf;
	const struct nlattr *attr;
	unsigned i = 0, n = done_rows[_i].n;
	int len = hd_nl_build_done(buf, sizeof(buf), FAMILY, SEQ, done_rows[_i].sockfd,
				   done_rows[_i].status, done_rows[_i].ra, n);

	ck_assert_msg(len > 0, "%s: %d", done_rows[_i].what, len);
	ck_assert_uint_eq(nlh->nlmsg_len, (unsigned)len);
	ck_assert_uint_eq(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	ck_assert_uint_eq(((const struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->cmd,
			  HS_CMD_DONE);
	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		uint32_t want_type = i == 0 ? HS_A_DONE_STATUS :
				     i == 1 ? HS_A_DONE_SOCKFD : HS_A_DONE_REMOTE_AUTH;
		uint32_t want = i == 0 ? done_rows[_i].status :
				i == 1 ? (uint32_t)done_rows[_i].sockfd : done_rows[_i].ra[i - 2];

		ck_assert_uint_lt(i, 2 + n);
		ck_assert_int_eq(mnl_attr_validate(attr, MNL_TYPE_U32), 0);
		ck_assert_msg(mnl_attr_get_type(attr) == want_type && mnl_attr_get_u32(attr) == want,
			      "%s: attribute %u is %u=%u, want %u=%u", done_rows[_i].what, i,
			      mnl_attr_get_type(attr), mnl_attr_get_u32(attr), want_type, want);
		i++;
	}
	ck_assert_uint_eq(i, 2 + n);
}
END_TEST

static const struct {
	int sockfd;
	unsigned n;
	size_t size;
	int want;
} done_errors[] = {
	{ -1, 0, 256, -EINVAL },
	{ 3, HS_MAX_PEER_IDENTITIES + 1, 256, -EINVAL },
	{ 3, 0, 20, -ENOSPC },
	{ 3, HS_MAX_PEER_IDENTITIES, 256, 0 },
	{ 0, 0, 256, 0 },
};

START_TEST(test_build_done_errors)
{
	uint8_t buf[256] __attribute__((aligned(4)));
	uint32_t ra[HS_MAX_PEER_IDENTITIES + 1] = { 0 };
	int ret = hd_nl_build_done(buf, done_errors[_i].size, FAMILY, SEQ,
				   done_errors[_i].sockfd, 0, ra, done_errors[_i].n);

	if (done_errors[_i].want == 0)
		ck_assert_int_gt(ret, 0);
	else
		ck_assert_int_eq(ret, done_errors[_i].want);
}
END_TEST

/* ------------------------------------------------------- ACCEPT replies */

static struct nlmsghdr *put_reply(uint8_t *buf, uint8_t cmd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = FAMILY;
	nlh->nlmsg_seq = SEQ;
	nlh->nlmsg_pid = PORTID;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = HS_FAMILY_VERSION;
	return nlh;
}

static void put_cert(struct nlmsghdr *nlh, uint32_t cert, uint32_t key)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, HS_A_ACCEPT_CERTIFICATE);

	mnl_attr_put_u32(nlh, HS_A_X509_CERT, cert);
	mnl_attr_put_u32(nlh, HS_A_X509_PRIVKEY, key);
	mnl_attr_nest_end(nlh, nest);
}

/* The three attributes every request has, as the kernel orders them. */
static struct nlmsghdr *put_base(uint8_t *buf, uint32_t type, uint32_t auth)
{
	struct nlmsghdr *nlh = put_reply(buf, HS_CMD_ACCEPT);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_SOCKFD, 9);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_MESSAGE_TYPE, type);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_TIMEOUT, 15000);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_AUTH_MODE, auth);
	return nlh;
}

static size_t b_x509_client(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_X509);

	put_cert(nlh, 0x100, 0x200);
	mnl_attr_put_strz(nlh, HS_A_ACCEPT_PEERNAME, "nfs.example.org");
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_KEYRING, 0x300);
	return nlh->nlmsg_len;
}

static size_t b_psk_client(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_PSK);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_PEER_IDENTITY, 0x501);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_PEER_IDENTITY, 0x502);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_PEER_IDENTITY, 0x503);
	return nlh->nlmsg_len;
}

static size_t b_server_unauth(uint8_t *buf)
{
	return put_base(buf, HS_MSG_TYPE_SERVERHELLO, HS_AUTH_UNAUTH)->nlmsg_len;
}

/* The kernel before 6.7: no peername, no keyring, no timeout. */
static size_t b_minimal(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, HS_CMD_ACCEPT);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_AUTH_MODE, HS_AUTH_UNAUTH);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_MESSAGE_TYPE, HS_MSG_TYPE_CLIENTHELLO);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_SOCKFD, 9);
	return nlh->nlmsg_len;
}

static size_t b_unknown_attrs(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_X509);
	struct nlattr *nest;

	mnl_attr_put_strz(nlh, HS_A_ACCEPT_MAX + 1, "from the future");
	mnl_attr_put_u64(nlh, 200, 1);
	nest = mnl_attr_nest_start(nlh, HS_A_ACCEPT_CERTIFICATE);
	mnl_attr_put_u32(nlh, HS_A_X509_CERT, 0x100);
	mnl_attr_put_u32(nlh, HS_A_X509_PRIVKEY, 0x200);
	mnl_attr_put_u64(nlh, 3, 0);	/* unknown inner attribute */
	mnl_attr_nest_end(nlh, nest);
	return nlh->nlmsg_len;
}

static size_t b_handler_class(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_UNAUTH);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_HANDLER_CLASS, HS_HANDLER_CLASS_TLSHD);
	return nlh->nlmsg_len;
}

static size_t b_handler_class_wrong(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_UNAUTH);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_HANDLER_CLASS, 7);
	return nlh->nlmsg_len;
}

static size_t b_two_certs(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_SERVERHELLO, HS_AUTH_X509);

	put_cert(nlh, 0x100, 0x200);
	put_cert(nlh, 0x101, 0x201);
	return nlh->nlmsg_len;
}

static size_t b_too_many_certs(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_SERVERHELLO, HS_AUTH_X509);

	for (unsigned i = 0; i <= HS_MAX_CERTIFICATES; i++)
		put_cert(nlh, 0x100 + i, 0x200 + i);
	return nlh->nlmsg_len;
}

static size_t b_too_many_peerids(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_PSK);

	for (unsigned i = 0; i <= HS_MAX_PEER_IDENTITIES; i++)
		mnl_attr_put_u32(nlh, HS_A_ACCEPT_PEER_IDENTITY, 0x500 + i);
	return nlh->nlmsg_len;
}

static size_t b_cert_no_key(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_X509);
	struct nlattr *nest = mnl_attr_nest_start(nlh, HS_A_ACCEPT_CERTIFICATE);

	mnl_attr_put_u32(nlh, HS_A_X509_CERT, 0x100);
	mnl_attr_nest_end(nlh, nest);
	return nlh->nlmsg_len;
}

static size_t b_cert_inner_u16(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_X509);
	struct nlattr *nest = mnl_attr_nest_start(nlh, HS_A_ACCEPT_CERTIFICATE);

	mnl_attr_put_u16(nlh, HS_A_X509_CERT, 0x100);
	mnl_attr_nest_end(nlh, nest);
	return nlh->nlmsg_len;
}

static size_t b_cert_not_nested(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_X509);

	mnl_attr_put(nlh, HS_A_ACCEPT_CERTIFICATE, 2, "\x01\x02");
	return nlh->nlmsg_len;
}

/* A nest whose last inner attribute claims more than the nest holds. */
static size_t b_cert_inner_cut(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_X509);
	struct nlattr *nest = mnl_attr_nest_start(nlh, HS_A_ACCEPT_CERTIFICATE);
	struct nlattr *inner;

	mnl_attr_put_u32(nlh, HS_A_X509_CERT, 0x100);
	inner = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u32(nlh, HS_A_X509_PRIVKEY, 0x200);
	inner->nla_len = 12;
	mnl_attr_nest_end(nlh, nest);
	return nlh->nlmsg_len;
}

static size_t b_no_sockfd(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, HS_CMD_ACCEPT);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_MESSAGE_TYPE, HS_MSG_TYPE_CLIENTHELLO);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_AUTH_MODE, HS_AUTH_UNAUTH);
	return nlh->nlmsg_len;
}

static size_t b_no_msg_type(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, HS_CMD_ACCEPT);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_SOCKFD, 9);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_AUTH_MODE, HS_AUTH_UNAUTH);
	return nlh->nlmsg_len;
}

static size_t b_no_auth(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, HS_CMD_ACCEPT);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_SOCKFD, 9);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_MESSAGE_TYPE, HS_MSG_TYPE_SERVERHELLO);
	return nlh->nlmsg_len;
}

static size_t b_sockfd_u16(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, HS_CMD_ACCEPT);

	mnl_attr_put_u16(nlh, HS_A_ACCEPT_SOCKFD, 9);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_MESSAGE_TYPE, HS_MSG_TYPE_CLIENTHELLO);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_AUTH_MODE, HS_AUTH_UNAUTH);
	return nlh->nlmsg_len;
}

static size_t b_sockfd_huge(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, HS_CMD_ACCEPT);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_SOCKFD, 0x80000000u);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_MESSAGE_TYPE, HS_MSG_TYPE_CLIENTHELLO);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_AUTH_MODE, HS_AUTH_UNAUTH);
	return nlh->nlmsg_len;
}

static size_t b_sockfd_twice(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_UNAUTH);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_SOCKFD, 10);
	return nlh->nlmsg_len;
}

static size_t b_timeout_u64(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, HS_CMD_ACCEPT);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_SOCKFD, 9);
	mnl_attr_put_u64(nlh, HS_A_ACCEPT_TIMEOUT, 1000);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_MESSAGE_TYPE, HS_MSG_TYPE_CLIENTHELLO);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_AUTH_MODE, HS_AUTH_UNAUTH);
	return nlh->nlmsg_len;
}

/* The damage comes before the sockfd: the fd must still be reported. */
static size_t b_bad_before_sockfd(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, HS_CMD_ACCEPT);

	mnl_attr_put_u8(nlh, HS_A_ACCEPT_MESSAGE_TYPE, HS_MSG_TYPE_CLIENTHELLO);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_AUTH_MODE, HS_AUTH_UNAUTH);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_SOCKFD, 9);
	return nlh->nlmsg_len;
}

static size_t b_msg_type_unknown(uint8_t *buf)
{
	return put_base(buf, 3, HS_AUTH_UNAUTH)->nlmsg_len;
}

static size_t b_msg_type_unspec(uint8_t *buf)
{
	return put_base(buf, HS_MSG_TYPE_UNSPEC, HS_AUTH_UNAUTH)->nlmsg_len;
}

static size_t b_auth_unknown(uint8_t *buf)
{
	return put_base(buf, HS_MSG_TYPE_CLIENTHELLO, 4)->nlmsg_len;
}

static size_t b_peername_no_nul(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_X509);

	mnl_attr_put(nlh, HS_A_ACCEPT_PEERNAME, 4, "host");
	return nlh->nlmsg_len;
}

static size_t b_peername_long(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_X509);
	char name[HD_PEERNAME_MAX + 1];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	mnl_attr_put_strz(nlh, HS_A_ACCEPT_PEERNAME, name);
	return nlh->nlmsg_len;
}

static size_t b_peername_twice(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_X509);

	mnl_attr_put_strz(nlh, HS_A_ACCEPT_PEERNAME, "a");
	mnl_attr_put_strz(nlh, HS_A_ACCEPT_PEERNAME, "b");
	return nlh->nlmsg_len;
}

static size_t b_keyring_twice(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_X509);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_KEYRING, 1);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_KEYRING, 2);
	return nlh->nlmsg_len;
}

static size_t b_truncated(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_X509);

	return nlh->nlmsg_len - 6;	/* cuts the auth-mode attribute */
}

/* The message claims less than it holds: the last attribute is cut inside it. */
static size_t b_attr_cut(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_X509);

	nlh->nlmsg_len -= 4;
	return nlh->nlmsg_len;
}

static size_t b_attr_len_over(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, HS_CMD_ACCEPT);
	struct nlattr *attr;

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_SOCKFD, 9);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_MESSAGE_TYPE, HS_MSG_TYPE_CLIENTHELLO);
	attr = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u32(nlh, HS_A_ACCEPT_AUTH_MODE, HS_AUTH_UNAUTH);
	attr->nla_len = 64;
	return nlh->nlmsg_len;
}

static size_t b_header_only(uint8_t *buf)
{
	return 10 + 0 * put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_UNAUTH)->nlmsg_len;
}

static size_t b_no_genl_header(uint8_t *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = FAMILY;
	nlh->nlmsg_seq = SEQ;
	nlh->nlmsg_pid = PORTID;
	return nlh->nlmsg_len;
}

static size_t b_wrong_cmd(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, HS_CMD_READY);

	mnl_attr_put_u32(nlh, HS_A_ACCEPT_HANDLER_CLASS, HS_HANDLER_CLASS_TLSHD);
	return nlh->nlmsg_len;
}

static size_t b_wrong_family(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_UNAUTH);

	nlh->nlmsg_type = FAMILY + 1;
	return nlh->nlmsg_len;
}

static size_t b_foreign_seq(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_UNAUTH);

	nlh->nlmsg_seq = SEQ + 1;
	return nlh->nlmsg_len;
}

static size_t b_foreign_pid(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_base(buf, HS_MSG_TYPE_CLIENTHELLO, HS_AUTH_UNAUTH);

	nlh->nlmsg_pid = PORTID + 1;
	return nlh->nlmsg_len;
}

static size_t b_two_replies(uint8_t *buf)
{
	size_t len = b_server_unauth(buf);

	return len + b_server_unauth(buf + len);
}

static size_t b_trailing(uint8_t *buf)
{
	size_t len = b_server_unauth(buf);

	memset(buf + len, 0, 8);
	return len + 8;
}

static size_t put_error(uint8_t *buf, int error)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *err;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = SEQ;
	nlh->nlmsg_pid = PORTID;
	err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));
	err->error = error;
	return nlh->nlmsg_len;
}

static size_t b_eagain(uint8_t *buf)
{
	return put_error(buf, -EAGAIN);
}

static size_t b_eperm(uint8_t *buf)
{
	return put_error(buf, -EPERM);
}

static size_t b_error_positive(uint8_t *buf)
{
	return put_error(buf, ENODATA);
}

static size_t b_enodata(uint8_t *buf)
{
	return put_error(buf, -ENODATA);
}

static size_t b_ack_only(uint8_t *buf)
{
	return put_error(buf, 0);
}

static size_t b_empty(uint8_t *buf)
{
	(void)buf;
	return 0;
}

static const struct {
	const char *name;
	build_fn build;
	int want;
	int bad_attr;
	int sockfd;		/* what req->sockfd must say, also on errors */
} accept_cases[] = {
	{ "x509 client", b_x509_client, 0, 0, 9 },
	{ "psk client", b_psk_client, 0, 0, 9 },
	{ "server unauth", b_server_unauth, 0, 0, 9 },
	{ "minimal (6.4)", b_minimal, 0, 0, 9 },
	{ "unknown attributes", b_unknown_attrs, 0, 0, 9 },
	{ "handler class echoed", b_handler_class, 0, 0, 9 },
	{ "two certificates", b_two_certs, 0, 0, 9 },
	{ "certificate without key", b_cert_no_key, 0, 0, 9 },
	{ "handler class not ours", b_handler_class_wrong, -EPROTO, HS_A_ACCEPT_HANDLER_CLASS, 9 },
	{ "too many certificates", b_too_many_certs, -E2BIG, HS_A_ACCEPT_CERTIFICATE, 9 },
	{ "too many peer ids", b_too_many_peerids, -E2BIG, HS_A_ACCEPT_PEER_IDENTITY, 9 },
	{ "cert serial u16", b_cert_inner_u16, -EPROTO, HS_A_ACCEPT_CERTIFICATE, 9 },
	{ "cert not nested", b_cert_not_nested, -EPROTO, HS_A_ACCEPT_CERTIFICATE, 9 },
	{ "cert inner cut", b_cert_inner_cut, -EPROTO, HS_A_ACCEPT_CERTIFICATE, 9 },
	{ "no sockfd", b_no_sockfd, -ENODATA, HS_A_ACCEPT_SOCKFD, -1 },
	{ "no message type", b_no_msg_type, -ENODATA, HS_A_ACCEPT_MESSAGE_TYPE, 9 },
	{ "no auth mode", b_no_auth, -ENODATA, HS_A_ACCEPT_AUTH_MODE, 9 },
	{ "sockfd u16", b_sockfd_u16, -EPROTO, HS_A_ACCEPT_SOCKFD, -1 },
	{ "sockfd > INT_MAX", b_sockfd_huge, -EPROTO, HS_A_ACCEPT_SOCKFD, -1 },
	{ "sockfd twice", b_sockfd_twice, -EPROTO, HS_A_ACCEPT_SOCKFD, 9 },
	{ "timeout u64", b_timeout_u64, -EPROTO, HS_A_ACCEPT_TIMEOUT, 9 },
	{ "damage before sockfd", b_bad_before_sockfd, -EPROTO, HS_A_ACCEPT_MESSAGE_TYPE, 9 },
	{ "message type 3", b_msg_type_unknown, -EOPNOTSUPP, HS_A_ACCEPT_MESSAGE_TYPE, 9 },
	{ "message type unspec", b_msg_type_unspec, -EOPNOTSUPP, HS_A_ACCEPT_MESSAGE_TYPE, 9 },
	{ "auth mode 4", b_auth_unknown, -EOPNOTSUPP, HS_A_ACCEPT_AUTH_MODE, 9 },
	{ "peername without NUL", b_peername_no_nul, -EPROTO, HS_A_ACCEPT_PEERNAME, 9 },
	{ "peername too long", b_peername_long, -ENAMETOOLONG, HS_A_ACCEPT_PEERNAME, 9 },
	{ "peername twice", b_peername_twice, -EPROTO, HS_A_ACCEPT_PEERNAME, 9 },
	{ "keyring twice", b_keyring_twice, -EPROTO, HS_A_ACCEPT_KEYRING, 9 },
	{ "datagram truncated", b_truncated, -EPROTO, 0, -1 },
	{ "attribute cut by nlmsg_len", b_attr_cut, -EPROTO, 0, 9 },
	{ "attribute length over", b_attr_len_over, -EPROTO, 0, 9 },
	{ "header only", b_header_only, -EPROTO, 0, -1 },
	{ "no genl header", b_no_genl_header, -EPROTO, 0, -1 },
	{ "READY instead of reply", b_wrong_cmd, -EPROTO, 0, -1 },
	{ "wrong family", b_wrong_family, -EPROTO, 0, -1 },
	{ "foreign sequence", b_foreign_seq, -EPROTO, 0, -1 },
	{ "foreign port id", b_foreign_pid, -ESRCH, 0, -1 },
	{ "two replies", b_two_replies, -EPROTO, 0, 9 },
	{ "trailing bytes", b_trailing, -EPROTO, 0, -1 },
	{ "nothing queued", b_eagain, -EAGAIN, 0, -1 },
	{ "not permitted", b_eperm, -EPERM, 0, -1 },
	{ "positive error field", b_error_positive, -EPROTO, 0, -1 },
	{ "kernel ENODATA", b_enodata, -EPROTO, 0, -1 },
	{ "ACK instead of reply", b_ack_only, -EPROTO, 0, -1 },
	{ "empty", b_empty, -EPROTO, 0, -1 },
};

START_TEST(test_parse_accept)
{
	uint8_t buf[2048] __attribute__((aligned(4)));
	struct hd_request req;
	size_t len;
	int ret;

	memset(buf, 0, sizeof(buf));
	len = accept_cases[_i].build(buf);
	ret = hd_nl_parse_accept(buf, len, SEQ, PORTID, FAMILY, &req);
	ck_assert_msg(ret == accept_cases[_i].want, "%s: got %d, want %d",
		      accept_cases[_i].name, ret, accept_cases[_i].want);
	ck_assert_msg(req.sockfd == accept_cases[_i].sockfd, "%s: sockfd %d, want %d",
		      accept_cases[_i].name, req.sockfd, accept_cases[_i].sockfd);
	if (ret < 0 && ret != -EAGAIN && ret != -EPERM)
		ck_assert_msg(req.bad_attr == accept_cases[_i].bad_attr,
			      "%s: bad_attr %d (%s), want %d", accept_cases[_i].name,
			      req.bad_attr, hd_accept_attr_name(req.bad_attr),
			      accept_cases[_i].bad_attr);
}
END_TEST

START_TEST(test_parse_x509_values)
{
	uint8_t buf[1024] __attribute__((aligned(4)));
	struct hd_request req;

	ck_assert_int_eq(hd_nl_parse_accept(buf, b_x509_client(buf), SEQ, PORTID, FAMILY, &req), 0);
	ck_assert_int_eq(req.sockfd, 9);
	ck_assert_uint_eq(req.msg_type, HS_MSG_TYPE_CLIENTHELLO);
	ck_assert_uint_eq(req.auth_mode, HS_AUTH_X509);
	ck_assert_uint_eq(req.timeout_ms, 15000);
	ck_assert_uint_eq(req.n_certs, 1);
	ck_assert_uint_eq(req.certs[0].cert, 0x100);
	ck_assert_uint_eq(req.certs[0].privkey, 0x200);
	ck_assert_str_eq(req.peername, "nfs.example.org");
	ck_assert_uint_eq(req.keyring, 0x300);
	ck_assert_uint_eq(req.n_peerids, 0);
	ck_assert_int_eq(req.bad_attr, 0);
}
END_TEST

START_TEST(test_parse_psk_values)
{
	uint8_t buf[1024] __attribute__((aligned(4)));
	struct hd_request req;

	ck_assert_int_eq(hd_nl_parse_accept(buf, b_psk_client(buf), SEQ, PORTID, FAMILY, &req), 0);
	ck_assert_uint_eq(req.auth_mode, HS_AUTH_PSK);
	ck_assert_uint_eq(req.n_peerids, 3);
	ck_assert_uint_eq(req.peerids[0], 0x501);
	ck_assert_uint_eq(req.peerids[2], 0x503);
	ck_assert_str_eq(req.peername, "");
	ck_assert_uint_eq(req.keyring, HS_NO_KEY);
}
END_TEST

START_TEST(test_parse_minimal_defaults)
{
	uint8_t buf[1024] __attribute__((aligned(4)));
	struct hd_request req;

	ck_assert_int_eq(hd_nl_parse_accept(buf, b_minimal(buf), SEQ, PORTID, FAMILY, &req), 0);
	ck_assert_uint_eq(req.timeout_ms, 0);
	ck_assert_uint_eq(req.n_certs, 0);
	ck_assert_str_eq(req.peername, "");
}
END_TEST

START_TEST(test_parse_cert_partial)
{
	uint8_t buf[1024] __attribute__((aligned(4)));
	struct hd_request req;

	ck_assert_int_eq(hd_nl_parse_accept(buf, b_cert_no_key(buf), SEQ, PORTID, FAMILY, &req), 0);
	ck_assert_uint_eq(req.n_certs, 1);
	ck_assert_uint_eq(req.certs[0].cert, 0x100);
	ck_assert_uint_eq(req.certs[0].privkey, HS_NO_KEY);
}
END_TEST

/* Every prefix of a good reply fails cleanly; none is taken as a request. */
START_TEST(test_parse_every_truncation)
{
	uint8_t good[1024] __attribute__((aligned(4)));
	size_t len = b_x509_client(good);

	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		struct hd_request req;

		memcpy(copy, good, cut);
		ck_assert_int_lt(hd_nl_parse_accept(copy, cut, SEQ, PORTID, FAMILY, &req), 0);
		free(copy);
	}
}
END_TEST

/* ------------------------------------------------ family and DONE's ACK */

static size_t family_reply(uint8_t *buf, bool with_group)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;
	struct nlattr *groups, *grp;

	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_seq = SEQ;
	nlh->nlmsg_pid = PORTID;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_NEWFAMILY;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "handshake");
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, FAMILY);
	if (with_group) {
		groups = mnl_attr_nest_start(nlh, CTRL_ATTR_MCAST_GROUPS);
		grp = mnl_attr_nest_start(nlh, 1);
		mnl_attr_put_strz(nlh, CTRL_ATTR_MCAST_GRP_NAME, "none");
		mnl_attr_put_u32(nlh, CTRL_ATTR_MCAST_GRP_ID, 7);
		mnl_attr_nest_end(nlh, grp);
		grp = mnl_attr_nest_start(nlh, 2);
		mnl_attr_put_strz(nlh, CTRL_ATTR_MCAST_GRP_NAME, "tlshd");
		mnl_attr_put_u32(nlh, CTRL_ATTR_MCAST_GRP_ID, 8);
		mnl_attr_nest_end(nlh, grp);
		mnl_attr_nest_end(nlh, groups);
	}
	return nlh->nlmsg_len;
}

START_TEST(test_parse_family)
{
	uint8_t buf[1024] __attribute__((aligned(4)));
	uint16_t family = 0;
	uint32_t group = 0;
	size_t len = family_reply(buf, true);

	ck_assert_int_eq(hd_nl_parse_family(buf, len, SEQ, PORTID, &family, &group), 1);
	ck_assert_uint_eq(family, FAMILY);
	ck_assert_uint_eq(group, 8);
	len = put_error(buf, 0);
	ck_assert_int_eq(hd_nl_parse_family(buf, len, SEQ, PORTID, &family, &group), 0);
	len = put_error(buf, -ENOENT);
	ck_assert_int_eq(hd_nl_parse_family(buf, len, SEQ, PORTID, &family, &group), -ENOENT);

	group = 0;
	len = family_reply(buf, false);
	ck_assert_int_eq(hd_nl_parse_family(buf, len, SEQ, PORTID, &family, &group), 1);
	ck_assert_uint_eq(group, 0);
	ck_assert_int_eq(hd_nl_parse_family(buf, len - 3, SEQ, PORTID, &family, &group), -EPROTO);
}
END_TEST

START_TEST(test_parse_ack)
{
	uint8_t buf[1024] __attribute__((aligned(4)));

	ck_assert_int_eq(hd_nl_parse_ack(buf, put_error(buf, 0), SEQ, PORTID), 0);
	ck_assert_int_eq(hd_nl_parse_ack(buf, put_error(buf, -EBADF), SEQ, PORTID), -EBADF);
	ck_assert_int_eq(hd_nl_parse_ack(buf, put_error(buf, -EBUSY), SEQ, PORTID), -EBUSY);
	ck_assert_int_eq(hd_nl_parse_ack(buf, b_server_unauth(buf), SEQ, PORTID), -EPROTO);
	ck_assert_int_eq(hd_nl_parse_ack(buf, 0, SEQ, PORTID), -EPROTO);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(hd_msg_type_name(HS_MSG_TYPE_CLIENTHELLO), "clienthello");
	ck_assert_str_eq(hd_msg_type_name(99), "unknown");
	ck_assert_str_eq(hd_auth_name(HS_AUTH_PSK), "psk");
	ck_assert_str_eq(hd_auth_name(HS_AUTH_X509), "x509");
	ck_assert_str_eq(hd_auth_name(99), "unknown");
	ck_assert_str_eq(hd_accept_attr_name(HS_A_ACCEPT_PEERNAME), "peername");
	ck_assert_str_eq(hd_accept_attr_name(HS_A_ACCEPT_KEYRING), "keyring");
	ck_assert_str_eq(hd_accept_attr_name(0), "unknown");
	ck_assert_str_eq(hd_accept_attr_name(HS_A_ACCEPT_MAX + 1), "unknown");
}
END_TEST

/* ----------------------------------------------------- the live kernel */

static bool in_ktls_vm(void)
{
	const char *v = getenv("HANDOFF_TEST_KTLS");

	return v && strcmp(v, "1") == 0;
}

/*
 * Against the running kernel: the VM's (6.12+) has the family, its tlshd
 * group, nothing queued, and refuses DONE for a socket it never handed
 * out; the build host has no family at all.
 */
START_TEST(test_live)
{
	struct hd_nl nl, listen;
	struct hd_request req;
	int ret, fd;

	ret = hd_nl_open(&nl);
	if (!in_ktls_vm()) {
		if (ret == 0)
			hd_nl_close(&nl);
		ck_assert_msg(ret == -ENOENT || ret == 0, "hd_nl_open: %s", strerror(-ret));
		return;
	}
	ck_assert_msg(ret == 0, "hd_nl_open: %s", strerror(-ret));
	ck_assert_uint_ge(nl.family, GENL_MIN_ID);
	ck_assert_uint_ne(nl.group, 0);
	ck_assert_int_eq(hd_nl_open(&listen), 0);
	ck_assert_int_eq(hd_nl_join(&listen), 0);
	ck_assert_int_eq(hd_nl_drain(&listen), 0);
	ck_assert_int_eq(hd_nl_accept(&nl, &req), -EAGAIN);
	ck_assert_int_eq(req.sockfd, -1);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(hd_nl_done(&nl, fd, 0, NULL, 0), -EBUSY);
	ck_assert_int_eq(hd_nl_done(&nl, 9999, 0, NULL, 0), -EBADF);
	close(fd);
	hd_nl_close(&listen);
	hd_nl_close(&nl);
}
END_TEST

static Suite *netlink_suite(void)
{
	Suite *s = suite_create("netlink");
	TCase *tc;

	tc = tcase_create("build");
	tcase_add_test(tc, test_build_accept);
	tcase_add_loop_test(tc, test_build_done, 0, ARRAY_SIZE(done_rows));
	tcase_add_loop_test(tc, test_build_done_errors, 0, ARRAY_SIZE(done_errors));
	suite_add_tcase(s, tc);

	tc = tcase_create("accept");
	tcase_add_loop_test(tc, test_parse_accept, 0, ARRAY_SIZE(accept_cases));
	tcase_add_test(tc, test_parse_x509_values);
	tcase_add_test(tc, test_parse_psk_values);
	tcase_add_test(tc, test_parse_minimal_defaults);
	tcase_add_test(tc, test_parse_cert_partial);
	tcase_add_test(tc, test_parse_every_truncation);
	suite_add_tcase(s, tc);

	tc = tcase_create("other");
	tcase_add_test(tc, test_parse_family);
	tcase_add_test(tc, test_parse_ack);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_live);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(netlink_suite());
}
