/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel probing: the names and the support table, the operator advice,
 * the generic-netlink reply parser fed good, malformed and truncated
 * datagrams, and the live probe checked against what this kernel is known
 * to be (HANDOFF_TEST_KTLS=1 inside the VM, the kTLS-less host otherwise).
 */
#include "common.h"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <fcntl.h>
#include <unistd.h>

#include "probe/genl.h"
#include "probe/probe.h"
#include "testutil.h"

static bool in_ktls_vm(void)
{
	const char *v = getenv("HANDOFF_TEST_KTLS");

	return v && strcmp(v, "1") == 0;
}

/* ------------------------------------------------------------- names */

static const struct {
	int value;
	const char *want;
} cipher_names[] = {
	{ HANDOFF_CIPHER_AES_128_GCM, "AES-128-GCM" },
	{ HANDOFF_CIPHER_AES_256_GCM, "AES-256-GCM" },
	{ HANDOFF_CIPHER_CHACHA20_POLY1305, "CHACHA20-POLY1305" },
	{ HANDOFF_CIPHER_AES_128_CCM, "AES-128-CCM" },
	{ HANDOFF_CIPHER_COUNT, NULL },
	{ -1, NULL },
	{ 1000, NULL },
};

START_TEST(test_cipher_name)
{
	const char *got = handoff_cipher_name((enum handoff_cipher)cipher_names[_i].value);

	if (!cipher_names[_i].want)
		ck_assert_ptr_null(got);
	else
		ck_assert_str_eq(got, cipher_names[_i].want);
}
END_TEST

static const struct {
	int value;
	const char *want;
} version_names[] = {
	{ HANDOFF_TLS_1_2, "TLSv1.2" },
	{ HANDOFF_TLS_1_3, "TLSv1.3" },
	{ HANDOFF_TLS_VERSION_COUNT, NULL },
	{ -1, NULL },
};

START_TEST(test_version_name)
{
	const char *got = handoff_tls_version_name(
		(enum handoff_tls_version)version_names[_i].value);

	if (!version_names[_i].want)
		ck_assert_ptr_null(got);
	else
		ck_assert_str_eq(got, version_names[_i].want);
}
END_TEST

/* ----------------------------------------------------------- supports */

static const struct {
	int version, cipher;
	int tx, rx;		/* errnos put in the table at [version][cipher] */
	int want;
} supports_cases[] = {
	{ HANDOFF_TLS_1_3, HANDOFF_CIPHER_AES_128_GCM, 0, 0, 1 },
	{ HANDOFF_TLS_1_2, HANDOFF_CIPHER_AES_128_CCM, 0, 0, 1 },
	{ HANDOFF_TLS_1_3, HANDOFF_CIPHER_AES_256_GCM, 0, EINVAL, 0 },
	{ HANDOFF_TLS_1_2, HANDOFF_CIPHER_CHACHA20_POLY1305, ENOENT, 0, 0 },
	{ HANDOFF_TLS_1_3, HANDOFF_CIPHER_AES_128_CCM, EOPNOTSUPP, EOPNOTSUPP, 0 },
	{ HANDOFF_TLS_VERSION_COUNT, HANDOFF_CIPHER_AES_128_GCM, 0, 0, 0 },
	{ HANDOFF_TLS_1_3, HANDOFF_CIPHER_COUNT, 0, 0, 0 },
	{ -1, HANDOFF_CIPHER_AES_128_GCM, 0, 0, 0 },
};

START_TEST(test_supports)
{
	struct handoff_kernel_info info;
	int v = supports_cases[_i].version, c = supports_cases[_i].cipher;

	/* Everything else fails, so only the named cell can make it say yes. */
	memset(&info, 0, sizeof(info));
	for (int i = 0; i < HANDOFF_TLS_VERSION_COUNT; i++) {
		for (int j = 0; j < HANDOFF_CIPHER_COUNT; j++) {
			info.tx_errno[i][j] = EINVAL;
			info.rx_errno[i][j] = EINVAL;
		}
	}
	if (v >= 0 && v < HANDOFF_TLS_VERSION_COUNT && c >= 0 && c < HANDOFF_CIPHER_COUNT) {
		info.tx_errno[v][c] = supports_cases[_i].tx;
		info.rx_errno[v][c] = supports_cases[_i].rx;
	}
	ck_assert_int_eq(handoff_kernel_supports(&info, (enum handoff_tls_version)v,
						 (enum handoff_cipher)c),
			 supports_cases[_i].want);
}
END_TEST

START_TEST(test_supports_null)
{
	ck_assert_int_eq(handoff_kernel_supports(NULL, HANDOFF_TLS_1_3,
						 HANDOFF_CIPHER_AES_128_GCM), 0);
}
END_TEST

/* ------------------------------------------------------------- advice */

static const struct {
	const char *what;
	int err;
	const char *want;	/* substring; NULL: no advice expected */
} advice_cases[] = {
	{ "ulp", ENOENT, "modprobe tls" },
	{ "ulp", -ENOENT, "modprobe tls" },
	{ "ulp", EEXIST, "upper-layer protocol" },
	{ "ulp", EPERM, "tls ULP" },
	{ "ulp", 0, NULL },
	{ "cipher", ENOENT, "modprobe gcm" },
	{ "cipher", ENOENT, "modprobe chacha20poly1305" },
	{ "cipher", EINVAL, "does not support" },
	{ "cipher", EOPNOTSUPP, "does not support" },
	{ "cipher", EBUSY, "refused" },
	{ "cipher", 0, NULL },
	{ "handshake", ENOENT, "CONFIG_NET_HANDSHAKE=y" },
	{ "handshake", ENOENT, "6.4" },
	{ "handshake", EPROTONOSUPPORT, "generic netlink" },
	{ "handshake", EPERM, "privileges" },
	{ "handshake", EIO, "handshake family" },
	{ "handshake", 0, NULL },
	{ "tls_stat", ENOENT, "modprobe tls" },
	{ "tls_stat", EACCES, "not readable" },
	{ "nonsense", ENOENT, NULL },
	{ NULL, ENOENT, NULL },
};

START_TEST(test_advice)
{
	const char *got = probe_advice(advice_cases[_i].what, advice_cases[_i].err);

	if (!advice_cases[_i].want) {
		ck_assert_ptr_null(got);
		return;
	}
	ck_assert_ptr_nonnull(got);
	ck_assert_msg(strstr(got, advice_cases[_i].want),
		      "advice for %s/%d is \"%s\", lacks \"%s\"",
		      advice_cases[_i].what, advice_cases[_i].err, got,
		      advice_cases[_i].want);
}
END_TEST

/* ------------------------------------------- genl request and replies */

#define SEQ 0x1234u
#define PORTID 4242u
#define FAMILY 0x1d

START_TEST(test_genl_request)
{
	uint8_t buf[256] __attribute__((aligned(4)));
	const struct nlmsghdr *nlh = (const void *)buf;
	const struct genlmsghdr *genl;
	const struct nlattr *attr;
	int len;

	len = probe_genl_build_request(buf, sizeof(buf), "handshake", SEQ);
	ck_assert_int_gt(len, 0);
	ck_assert_uint_eq(nlh->nlmsg_len, (unsigned)len);
	ck_assert_uint_eq(nlh->nlmsg_type, GENL_ID_CTRL);
	ck_assert_uint_eq(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	ck_assert_uint_eq(nlh->nlmsg_seq, SEQ);
	genl = mnl_nlmsg_get_payload(nlh);
	ck_assert_uint_eq(genl->cmd, CTRL_CMD_GETFAMILY);
	attr = mnl_nlmsg_get_payload_offset(nlh, sizeof(*genl));
	ck_assert(mnl_attr_ok(attr, (int)((const uint8_t *)mnl_nlmsg_get_payload_tail(nlh) -
					  (const uint8_t *)attr)));
	ck_assert_uint_eq(mnl_attr_get_type(attr), CTRL_ATTR_FAMILY_NAME);
	ck_assert_int_eq(mnl_attr_validate(attr, MNL_TYPE_NUL_STRING), 0);
	ck_assert_str_eq(mnl_attr_get_str(attr), "handshake");
}
END_TEST

static const struct {
	const char *name;
	size_t size;
	int want;
} request_errors[] = {
	{ "", 256, -EINVAL },
	{ NULL, 256, -EINVAL },
	{ "sixteen-chars-xx", 256, -EINVAL },	/* no room for the NUL in GENL_NAMSIZ */
	{ "fifteen-chars-x", 256, 0 },
	{ "handshake", 16, -ENOSPC },
};

START_TEST(test_genl_request_errors)
{
	uint8_t buf[256] __attribute__((aligned(4)));
	int ret = probe_genl_build_request(buf, request_errors[_i].size,
					   request_errors[_i].name, SEQ);

	if (request_errors[_i].want == 0)
		ck_assert_int_gt(ret, 0);
	else
		ck_assert_int_eq(ret, request_errors[_i].want);
}
END_TEST

/* Message builders for the reply table; each returns the datagram length. */

static struct nlmsghdr *put_reply(uint8_t *buf, uint8_t cmd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_seq = SEQ;
	nlh->nlmsg_pid = PORTID;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = 2;
	return nlh;
}

static size_t put_ack(uint8_t *buf, int error, size_t payload)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *err;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = SEQ;
	nlh->nlmsg_pid = PORTID;
	err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));
	err->error = error;
	/* A short error message: pretend the kernel sent less than nlmsgerr. */
	nlh->nlmsg_len = (uint32_t)(MNL_NLMSG_HDRLEN + payload);
	return nlh->nlmsg_len;
}

static size_t good_reply(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, CTRL_CMD_NEWFAMILY);

	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "handshake");
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, FAMILY);
	mnl_attr_put_u32(nlh, CTRL_ATTR_VERSION, 1);
	return nlh->nlmsg_len;
}

static size_t build_good(uint8_t *buf)
{
	return good_reply(buf);
}

static size_t build_good_then_ack(uint8_t *buf)
{
	size_t len = good_reply(buf);

	return len + put_ack(buf + len, 0, sizeof(struct nlmsgerr));
}

static size_t build_ack_only(uint8_t *buf)
{
	return put_ack(buf, 0, sizeof(struct nlmsgerr));
}

static size_t build_enoent(uint8_t *buf)
{
	return put_ack(buf, -ENOENT, sizeof(struct nlmsgerr));
}

static size_t build_short_error(uint8_t *buf)
{
	return put_ack(buf, -ENOENT, 2);
}

static size_t build_no_id(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, CTRL_CMD_NEWFAMILY);

	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "handshake");
	mnl_attr_put_u32(nlh, CTRL_ATTR_VERSION, 1);
	return nlh->nlmsg_len;
}

static size_t build_id_too_long(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, CTRL_CMD_NEWFAMILY);

	mnl_attr_put_u32(nlh, CTRL_ATTR_FAMILY_ID, FAMILY);
	return nlh->nlmsg_len;
}

static size_t build_id_too_short(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, CTRL_CMD_NEWFAMILY);

	mnl_attr_put_u8(nlh, CTRL_ATTR_FAMILY_ID, FAMILY);
	return nlh->nlmsg_len;
}

static size_t build_id_zero(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, CTRL_CMD_NEWFAMILY);

	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, 0);
	return nlh->nlmsg_len;
}

static size_t build_name_unterminated(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, CTRL_CMD_NEWFAMILY);

	mnl_attr_put(nlh, CTRL_ATTR_FAMILY_NAME, 4, "tls!");
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, FAMILY);
	return nlh->nlmsg_len;
}

static size_t build_unknown_attrs(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, CTRL_CMD_NEWFAMILY);
	struct nlattr *nest;

	/* A type from a future kernel, with a size no known type has. */
	mnl_attr_put(nlh, CTRL_ATTR_MAX + 7, 5, "abcde");
	mnl_attr_put_u32(nlh, CTRL_ATTR_HDRSIZE, 0);
	nest = mnl_attr_nest_start(nlh, CTRL_ATTR_OPS);
	mnl_attr_put_u32(nlh, 1, 7);
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, FAMILY);
	mnl_attr_put(nlh, 0x7ff, 0, NULL);
	return nlh->nlmsg_len;
}

static size_t build_wrong_cmd(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, CTRL_CMD_GETFAMILY);

	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, FAMILY);
	return nlh->nlmsg_len;
}

static size_t build_wrong_type(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, CTRL_CMD_NEWFAMILY);

	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, FAMILY);
	nlh->nlmsg_type = GENL_ID_CTRL + 1;
	return nlh->nlmsg_len;
}

static size_t build_no_genl_header(uint8_t *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_seq = SEQ;
	nlh->nlmsg_pid = PORTID;
	nlh->nlmsg_len += 2;
	return nlh->nlmsg_len;
}

/* An attribute claiming more bytes than the message holds, before the id. */
static size_t build_attr_overrun(uint8_t *buf)
{
	struct nlmsghdr *nlh = put_reply(buf, CTRL_CMD_NEWFAMILY);
	struct nlattr *attr = mnl_nlmsg_get_payload_tail(nlh);

	mnl_attr_put_u32(nlh, CTRL_ATTR_VERSION, 1);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, FAMILY);
	attr->nla_len = 200;
	return nlh->nlmsg_len;
}

static size_t build_wrong_seq(uint8_t *buf)
{
	size_t len = good_reply(buf);

	((struct nlmsghdr *)buf)->nlmsg_seq = SEQ + 1;
	return len;
}

static size_t build_wrong_portid(uint8_t *buf)
{
	size_t len = good_reply(buf);

	((struct nlmsghdr *)buf)->nlmsg_pid = PORTID + 1;
	return len;
}

static const struct {
	const char *name;
	size_t (*build)(uint8_t *buf);
	size_t trim;		/* bytes cut off the end: truncation */
	size_t keep;		/* if set, only the first keep bytes */
	int want;
	uint16_t want_id;	/* 0: *family_id must stay untouched */
} reply_cases[] = {
	{ "reply, ACK still to come", build_good, 0, 0, 1, FAMILY },
	{ "reply and ACK in one datagram", build_good_then_ack, 0, 0, 0, FAMILY },
	{ "ACK alone", build_ack_only, 0, 0, 0, 0 },
	{ "no such family", build_enoent, 0, 0, -ENOENT, 0 },
	{ "error message too short", build_short_error, 0, 0, -EPROTO, 0 },
	{ "no CTRL_ATTR_FAMILY_ID", build_no_id, 0, 0, -EPROTO, 0 },
	{ "family id 4 bytes", build_id_too_long, 0, 0, -EPROTO, 0 },
	{ "family id 1 byte", build_id_too_short, 0, 0, -EPROTO, 0 },
	{ "family id 0", build_id_zero, 0, 0, -EPROTO, 0 },
	{ "name without NUL", build_name_unterminated, 0, 0, -EPROTO, 0 },
	{ "unknown attributes skipped", build_unknown_attrs, 0, 0, 1, FAMILY },
	{ "wrong command", build_wrong_cmd, 0, 0, -EPROTO, 0 },
	{ "wrong message type", build_wrong_type, 0, 0, -EPROTO, 0 },
	{ "no genl header", build_no_genl_header, 0, 0, -EPROTO, 0 },
	{ "attribute overruns message", build_attr_overrun, 0, 0, -EPROTO, 0 },
	{ "wrong sequence number", build_wrong_seq, 0, 0, -EPROTO, 0 },
	{ "foreign port id", build_wrong_portid, 0, 0, -ESRCH, 0 },
	{ "truncated by 4 bytes", build_good, 4, 0, -EPROTO, 0 },
	{ "truncated ACK", build_good_then_ack, 8, 0, -EPROTO, 0 },
	{ "half a header", build_good, 0, 10, -EPROTO, 0 },
	{ "header only", build_good, 0, sizeof(struct nlmsghdr), -EPROTO, 0 },
	{ "empty datagram", build_good, 0, 0xffff, -EPROTO, 0 },
};

START_TEST(test_genl_parse)
{
	uint8_t buf[512] __attribute__((aligned(4)));
	uint16_t id = 0;
	size_t len;
	int ret;

	memset(buf, 0, sizeof(buf));
	len = reply_cases[_i].build(buf);
	ck_assert_uint_lt(len, sizeof(buf));
	len -= reply_cases[_i].trim;
	if (reply_cases[_i].keep == 0xffff)
		len = 0;
	else if (reply_cases[_i].keep)
		len = reply_cases[_i].keep;

	ret = probe_genl_parse_reply(buf, len, SEQ, PORTID, &id);
	ck_assert_msg(ret == reply_cases[_i].want, "%s: got %d, want %d",
		      reply_cases[_i].name, ret, reply_cases[_i].want);
	ck_assert_msg(id == reply_cases[_i].want_id, "%s: id %u, want %u",
		      reply_cases[_i].name, id, reply_cases[_i].want_id);
}
END_TEST

/* --------------------------------------------------- the live kernel */

static const struct {
	const char *name;
	int want;	/* > 0: exact id; 0: any id > 0 */
} family_cases[] = {
	{ "nlctrl", GENL_ID_CTRL },	/* the controller always exists, at a fixed id */
	{ "handoff-nosuch", -ENOENT },
	{ "", -EINVAL },
	{ "name-far-too-long-for-genl", -EINVAL },
};

START_TEST(test_genl_family_live)
{
	ck_assert_int_eq(probe_genl_family(family_cases[_i].name), family_cases[_i].want);
}
END_TEST

/*
 * The handshake family arrived in Linux 6.4 (always built in where the
 * kernel has it).  In the VM the release decides what is right: 6.1 is the
 * matrix's "kTLS but no handshake upcall" kernel.
 */
static bool kernel_has_handshake_family(void)
{
	struct utsname uts;
	unsigned major = 0, minor = 0;

	ck_assert_int_eq(uname(&uts), 0);
	ck_assert_int_eq(sscanf(uts.release, "%u.%u", &major, &minor), 2);
	return major > 6 || (major == 6 && minor >= 4);
}

START_TEST(test_genl_handshake_live)
{
	int ret = probe_genl_family("handshake");

	if (in_ktls_vm() && kernel_has_handshake_family())
		ck_assert_int_gt(ret, 0);
	else
		ck_assert_int_eq(ret, -ENOENT);
}
END_TEST

START_TEST(test_probe_this_kernel)
{
	struct handoff_kernel_info info;
	struct utsname uts;

	ck_assert_int_eq(handoff_kernel_probe(&info, 1), 0);
	ck_assert_int_eq(uname(&uts), 0);
	ck_assert_str_eq(info.release, uts.release);

	if (in_ktls_vm()) {
		/* The VM harness loads tls, gcm and friends. */
		ck_assert_int_eq(info.ulp_errno, 0);
		ck_assert_int_eq(info.tx_errno[HANDOFF_TLS_1_3][HANDOFF_CIPHER_AES_128_GCM], 0);
		ck_assert_int_eq(info.rx_errno[HANDOFF_TLS_1_3][HANDOFF_CIPHER_AES_128_GCM], 0);
		ck_assert(handoff_kernel_supports(&info, HANDOFF_TLS_1_3,
						  HANDOFF_CIPHER_AES_128_GCM));
		ck_assert(handoff_kernel_supports(&info, HANDOFF_TLS_1_2,
						  HANDOFF_CIPHER_AES_128_GCM));
		ck_assert_int_eq(info.handshake_family_errno,
				 kernel_has_handshake_family() ? 0 : ENOENT);
		ck_assert_int_eq(info.tls_stat_errno, 0);
		return;
	}

	/* The build host: CONFIG_TLS unset, so every key attempt has the ULP's answer. */
	ck_assert_int_eq(info.ulp_errno, ENOENT);
	for (int v = 0; v < HANDOFF_TLS_VERSION_COUNT; v++) {
		for (int c = 0; c < HANDOFF_CIPHER_COUNT; c++) {
			ck_assert_int_eq(info.tx_errno[v][c], info.ulp_errno);
			ck_assert_int_eq(info.rx_errno[v][c], info.ulp_errno);
			ck_assert(!handoff_kernel_supports(&info, v, c));
		}
	}
	ck_assert_int_eq(info.handshake_family_errno, ENOENT);
	ck_assert_int_eq(info.tls_stat_errno, ENOENT);
}
END_TEST

START_TEST(test_probe_null)
{
	errno = 0;
	ck_assert_int_eq(handoff_kernel_probe(NULL, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* The lowest free descriptor number: with RLIMIT_NOFILE there, no new fd fits. */
static rlim_t lowest_free_fd(void)
{
	int fd = 0;

	while (fcntl(fd, F_GETFD) != -1)
		fd++;
	return (rlim_t)fd;
}

/*
 * The cache, seen from outside: with no descriptors left a real probe
 * cannot run, so a call that still succeeds was answered from the cache,
 * and a refresh that fails with EMFILE really tried to probe again.
 */
START_TEST(test_probe_cache)
{
	struct handoff_kernel_info first, again;
	struct rlimit saved, tight;

	ck_assert_int_eq(handoff_kernel_probe(&first, 0), 0);

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	tight = saved;
	tight.rlim_cur = lowest_free_fd();
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &tight), 0);

	memset(&again, 0xa5, sizeof(again));
	ck_assert_int_eq(handoff_kernel_probe(&again, 0), 0);
	ck_assert_mem_eq(&again, &first, sizeof(first));

	memset(&again, 0xa5, sizeof(again));
	errno = 0;
	ck_assert_int_eq(handoff_kernel_probe(&again, 1), -1);
	ck_assert_int_eq(errno, EMFILE);
	/* Output untouched on failure. */
	for (size_t i = 0; i < sizeof(again); i++)
		ck_assert_uint_eq(((uint8_t *)&again)[i], 0xa5);

	/* A failed refresh keeps the last good answer. */
	ck_assert_int_eq(handoff_kernel_probe(&again, 0), 0);
	ck_assert_mem_eq(&again, &first, sizeof(first));

	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	ck_assert_int_eq(handoff_kernel_probe(&again, 1), 0);
	ck_assert_mem_eq(&again, &first, sizeof(first));
}
END_TEST

/* The probe opens and closes its own sockets: none may leak. */
START_TEST(test_probe_no_fd_leak)
{
	struct handoff_kernel_info info;
	rlim_t before = lowest_free_fd();

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(handoff_kernel_probe(&info, 1), 0);
	ck_assert_uint_eq(lowest_free_fd(), before);
}
END_TEST

static Suite *probe_suite(void)
{
	Suite *s = suite_create("probe");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_loop_test(tc, test_cipher_name, 0, ARRAY_SIZE(cipher_names));
	tcase_add_loop_test(tc, test_version_name, 0, ARRAY_SIZE(version_names));
	tcase_add_loop_test(tc, test_supports, 0, ARRAY_SIZE(supports_cases));
	tcase_add_test(tc, test_supports_null);
	tcase_add_loop_test(tc, test_advice, 0, ARRAY_SIZE(advice_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("genl");
	tcase_add_test(tc, test_genl_request);
	tcase_add_loop_test(tc, test_genl_request_errors, 0, ARRAY_SIZE(request_errors));
	tcase_add_loop_test(tc, test_genl_parse, 0, ARRAY_SIZE(reply_cases));
	tcase_add_loop_test(tc, test_genl_family_live, 0, ARRAY_SIZE(family_cases));
	tcase_add_test(tc, test_genl_handshake_live);
	suite_add_tcase(s, tc);

	tc = tcase_create("kernel");
	/* Under TCG the first probe also pays for the kernel crypto self-tests. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_probe_this_kernel);
	tcase_add_test(tc, test_probe_null);
	tcase_add_test(tc, test_probe_cache);
	tcase_add_test(tc, test_probe_no_fd_leak);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(probe_suite());
}
