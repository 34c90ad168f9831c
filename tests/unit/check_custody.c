/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Key custody: the wire format shared by the shim and handoffd
 * (helper/custody/wire.h), table-driven with malformed and truncated
 * messages; taking the fd out of a request (no fd, two fds, nothing left
 * open behind); and handoffd's [custody] / [identity NAME] sections with
 * their policy.
 */
#include "common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/config.h"
#include "custody/wire.h"
#include "daemon/config.h"
#include "daemon/custody.h"
#include "testutil.h"

/* A request as bytes: header fields, then the two strings. */
static size_t req_bytes(uint8_t *buf, const char *magic, uint16_t version, uint8_t role,
			uint8_t flags, uint32_t timeout, const char *id, const char *name,
			int len_skew)
{
	size_t il = strlen(id), sl = strlen(name);

	memcpy(buf, magic, 4);
	buf[4] = (uint8_t)version;
	buf[5] = (uint8_t)(version >> 8);
	buf[6] = role;
	buf[7] = flags;
	buf[8] = (uint8_t)timeout;
	buf[9] = (uint8_t)(timeout >> 8);
	buf[10] = (uint8_t)(timeout >> 16);
	buf[11] = (uint8_t)(timeout >> 24);
	buf[12] = (uint8_t)il;
	buf[13] = (uint8_t)sl;
	buf[14] = buf[15] = 0;
	memcpy(buf + 16, id, il);
	memcpy(buf + 16 + il, name, sl);
	return (size_t)((int)(16 + il + sl) + len_skew);
}

START_TEST(test_request_roundtrip)
{
	struct custody_request in = { .role = CUSTODY_ROLE_CLIENT, .timeout_ms = 1234 }, out;
	uint8_t buf[CUSTODY_REQ_MAX];
	const char *why = NULL;
	ssize_t n;

	snprintf(in.identity, sizeof(in.identity), "web-1.prod_x");
	snprintf(in.servername, sizeof(in.servername), "www.example.com");
	n = custody_request_encode(&in, buf, sizeof(buf), &why);
	ck_assert_int_eq(n, 16 + 12 + 15);
	ck_assert_int_eq(custody_request_decode(buf, (size_t)n, &out, &why), 0);
	ck_assert_int_eq(out.role, CUSTODY_ROLE_CLIENT);
	ck_assert_uint_eq(out.timeout_ms, 1234);
	ck_assert_str_eq(out.identity, "web-1.prod_x");
	ck_assert_str_eq(out.servername, "www.example.com");
	/* Every cut of a good message is refused, none read past its length. */
	for (ssize_t cut = 0; cut < n; cut++)
		ck_assert_int_lt(custody_request_decode(buf, (size_t)cut, &out, &why), 0);
}
END_TEST

static const struct {
	const char *what;
	const char *magic;
	uint16_t version;
	uint8_t role, flags;
	const char *id, *name;
	int skew;
	int want;
} req_cases[] = {
	{ "server", "HOcR", 1, 2, 0, "web", "", 0, 0 },
	{ "client with address", "HOcR", 1, 1, 0, "out", "127.0.0.1", 0, 0 },
	{ "client without name", "HOcR", 1, 1, 0, "out", "", 0, 0 },
	{ "bad magic", "HOcA", 1, 2, 0, "web", "", 0, -EPROTO },
	{ "version 2", "HOcR", 2, 2, 0, "web", "", 0, -EPROTONOSUPPORT },
	{ "version 0", "HOcR", 0, 2, 0, "web", "", 0, -EPROTONOSUPPORT },
	{ "role 0", "HOcR", 1, 0, 0, "web", "", 0, -EPROTO },
	{ "role 3", "HOcR", 1, 3, 0, "web", "", 0, -EPROTO },
	{ "secrets flag", "HOcR", 1, 2, 1, "web", "", 0, 0 },
	{ "unknown flag 0x02", "HOcR", 1, 2, 2, "web", "", 0, -EPROTO },
	{ "unknown flag 0x80", "HOcR", 1, 1, 0x81, "out", "", 0, -EPROTO },
	{ "empty identity", "HOcR", 1, 2, 0, "", "", 0, -EPROTO },
	{ "identity with a slash", "HOcR", 1, 2, 0, "../etc", "", 0, -EPROTO },
	{ "identity with a space", "HOcR", 1, 2, 0, "a b", "", 0, -EPROTO },
	{ "identity of 65", "HOcR", 1, 2, 0,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", 0, -EPROTO },
	{ "identity of 64", "HOcR", 1, 2, 0,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", 0, 0 },
	{ "server with a name", "HOcR", 1, 2, 0, "web", "x.test", 0, -EPROTO },
	{ "name with a NUL", "HOcR", 1, 1, 0, "out", "a\001b", 0, -EPROTO },
	{ "name with a slash", "HOcR", 1, 1, 0, "out", "a/b", 0, -EPROTO },
	{ "one byte too long", "HOcR", 1, 2, 0, "web", "", 1, -EPROTO },
	{ "one byte short", "HOcR", 1, 2, 0, "web", "", -1, -EPROTO },
};

START_TEST(test_request_cases)
{
	uint8_t buf[CUSTODY_REQ_MAX + 16] = { 0 };
	struct custody_request out;
	const char *why = NULL;
	size_t len = req_bytes(buf, req_cases[_i].magic, req_cases[_i].version, req_cases[_i].role,
			       req_cases[_i].flags, 500, req_cases[_i].id, req_cases[_i].name,
			       req_cases[_i].skew);
	int ret = custody_request_decode(buf, len, &out, &why);

	ck_assert_msg(ret == req_cases[_i].want, "%s: got %d (%s), want %d", req_cases[_i].what, ret,
		      ret ? why : "ok", req_cases[_i].want);
	if (ret)
		ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(test_request_encode_refuses)
{
	struct custody_request r = { .role = CUSTODY_ROLE_SERVER };
	uint8_t buf[CUSTODY_REQ_MAX];
	const char *why = NULL;

	ck_assert_int_eq(custody_request_encode(&r, buf, sizeof(buf), &why), -EINVAL);	/* no identity */
	snprintf(r.identity, sizeof(r.identity), "web");
	snprintf(r.servername, sizeof(r.servername), "x.test");
	ck_assert_int_eq(custody_request_encode(&r, buf, sizeof(buf), &why), -EINVAL);	/* server + name */
	r.servername[0] = '\0';
	r.role = 7;
	ck_assert_int_eq(custody_request_encode(&r, buf, sizeof(buf), &why), -EINVAL);
	r.role = CUSTODY_ROLE_SERVER;
	ck_assert_int_eq(custody_request_encode(&r, buf, 10, &why), -EINVAL);	/* no room */
	ck_assert_int_eq(custody_request_encode(&r, buf, sizeof(buf), &why), 19);
	/* The flag travels; a flag this build does not know is not sent. */
	r.flags = CUSTODY_FLAG_SECRETS;
	ck_assert_int_eq(custody_request_encode(&r, buf, sizeof(buf), &why), 19);
	ck_assert_int_eq(buf[7], CUSTODY_FLAG_SECRETS);
	r.flags = 0x02;
	ck_assert_int_eq(custody_request_encode(&r, buf, sizeof(buf), &why), -EINVAL);
}
END_TEST

/*
 * The traffic secrets: after the five texts, the caller's write secret
 * then its read secret, secret_len (byte 15) each; only 32 or 48, only
 * with status 0, exact lengths.
 */
START_TEST(test_reply_secrets)
{
	struct custody_reply in = { .status = 0 }, out;
	uint8_t buf[CUSTODY_REPLY_MAX];
	const char *why = NULL;
	size_t n, base;

	snprintf(in.tls_version, sizeof(in.tls_version), "TLSv1.3");
	snprintf(in.cipher, sizeof(in.cipher), "AES-256-GCM");
	in.secret_len = 48;
	for (int i = 0; i < 48; i++) {
		in.write_secret[i] = (uint8_t)(0x10 + i);
		in.read_secret[i] = (uint8_t)(0xa0 + i);
	}
	n = custody_reply_encode(&in, buf, sizeof(buf));
	base = 24 + 7 + 11;
	ck_assert_uint_eq(n, base + 96);
	ck_assert_uint_eq(buf[15], 48);
	ck_assert_int_eq(memcmp(buf + base, in.write_secret, 48), 0);
	ck_assert_int_eq(memcmp(buf + base + 48, in.read_secret, 48), 0);
	ck_assert_int_eq(custody_reply_decode(buf, n, &out, &why), 0);
	ck_assert_uint_eq(out.secret_len, 48);
	ck_assert_int_eq(memcmp(out.write_secret, in.write_secret, 48), 0);
	ck_assert_int_eq(memcmp(out.read_secret, in.read_secret, 48), 0);
	/* Every cut is refused, and a cut reply leaves no secret behind. */
	for (size_t cut = 0; cut < n; cut++) {
		ck_assert_int_lt(custody_reply_decode(buf, cut, &out, &why), 0);
		ck_assert_uint_eq(out.secret_len, 0);
		for (int i = 0; i < 48; i++)
			ck_assert(!out.write_secret[i] && !out.read_secret[i]);
	}
	/* One byte more than the lengths say. */
	ck_assert_int_eq(custody_reply_decode(buf, n + 1, &out, &why), -EPROTO);
	/* A length no suite has, or 32 where 48 are there. */
	buf[15] = 16;
	ck_assert_int_eq(custody_reply_decode(buf, base + 32, &out, &why), -EPROTO);
	buf[15] = 32;
	ck_assert_int_eq(custody_reply_decode(buf, n, &out, &why), -EPROTO);
	ck_assert_int_eq(custody_reply_decode(buf, base + 64, &out, &why), 0);
	ck_assert_uint_eq(out.secret_len, 32);
	/* Secrets with a failure. */
	buf[15] = 48;
	buf[8] = EIO;
	ck_assert_int_eq(custody_reply_decode(buf, n, &out, &why), -EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "failed"));

	/* The encoder sends none with a failure, or of a length no suite has. */
	in.status = ECONNRESET;
	ck_assert_uint_eq(custody_reply_encode(&in, buf, sizeof(buf)), base);
	ck_assert_uint_eq(buf[15], 0);
	in.status = 0;
	in.secret_len = 40;
	ck_assert_uint_eq(custody_reply_encode(&in, buf, sizeof(buf)), base);
	ck_assert_uint_eq(buf[15], 0);
	in.secret_len = 32;
	ck_assert_uint_eq(custody_reply_encode(&in, buf, sizeof(buf)), base + 64);
}
END_TEST

START_TEST(test_reply_roundtrip)
{
	struct custody_reply in = { .status = 0 }, out;
	uint8_t buf[CUSTODY_REPLY_MAX];
	const char *why = NULL;
	size_t n;

	snprintf(in.tls_version, sizeof(in.tls_version), "TLSv1.3");
	snprintf(in.cipher, sizeof(in.cipher), "AES-128-GCM");
	snprintf(in.alpn, sizeof(in.alpn), "h2");
	snprintf(in.peer, sizeof(in.peer), "CN=client.test");
	n = custody_reply_encode(&in, buf, sizeof(buf));
	ck_assert_uint_eq(n, 24 + 7 + 11 + 2 + 14);
	ck_assert_int_eq(custody_reply_decode(buf, n, &out, &why), 0);
	ck_assert_uint_eq(out.status, 0);
	ck_assert_str_eq(out.cipher, "AES-128-GCM");
	ck_assert_str_eq(out.peer, "CN=client.test");
	for (size_t cut = 0; cut < n; cut++)
		ck_assert_int_lt(custody_reply_decode(buf, cut, &out, &why), 0);

	/* A cause with control characters and over the limit: cut and made printable. */
	memset(&in, 0, sizeof(in));
	in.status = EACCES;
	memset(in.cause, 'x', sizeof(in.cause) - 1);
	in.cause[3] = '\n';
	n = custody_reply_encode(&in, buf, sizeof(buf));
	ck_assert_int_eq(custody_reply_decode(buf, n, &out, &why), 0);
	ck_assert_uint_eq(out.status, EACCES);
	ck_assert_uint_eq(strlen(out.cause), CUSTODY_CAUSE_MAX);
	ck_assert_int_eq(out.cause[3], '?');

	/* Tampering: a non-printable byte, a status that is no errno, a reserved byte. */
	buf[CUSTODY_REPLY_HEADER] = 0x01;
	ck_assert_int_eq(custody_reply_decode(buf, n, &out, &why), -EPROTO);
	buf[CUSTODY_REPLY_HEADER] = 'x';
	buf[10] = 0xff;
	ck_assert_int_eq(custody_reply_decode(buf, n, &out, &why), -EPROTO);
	buf[10] = 0;
	buf[21] = 1;
	ck_assert_int_eq(custody_reply_decode(buf, n, &out, &why), -EPROTO);
	buf[21] = 0;
	buf[4] = 2;
	ck_assert_int_eq(custody_reply_decode(buf, n, &out, &why), -EPROTONOSUPPORT);
}
END_TEST

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void send_with(int sock, const void *buf, size_t len, const int *fds, int n_fds)
{
	char ctl[CMSG_SPACE(sizeof(int) * 4)] = { 0 };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (n_fds) {
		msg.msg_control = ctl;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n_fds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n_fds);
	}
	ck_assert_int_eq(sendmsg(sock, &msg, 0), (ssize_t)len);
}

START_TEST(test_recv_request)
{
	struct custody_request req = { .role = CUSTODY_ROLE_SERVER };
	uint8_t buf[CUSTODY_REQ_MAX + 1], big[CUSTODY_REQ_MAX + 8] = { 0 };
	int sv[2], p[2], fd = -7, before;
	const char *why = NULL;
	ssize_t n;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ck_assert_int_eq(pipe(p), 0);
	snprintf(req.identity, sizeof(req.identity), "web");
	before = open_fds();

	/* Nothing yet. */
	ck_assert_int_eq(custody_recv_request(sv[1], buf, sizeof(buf), &fd, &why), -EAGAIN);
	ck_assert_int_eq(fd, -1);

	/* The good case: the shim's own sender, one fd. */
	ck_assert_int_eq(custody_send_request(sv[0], p[0], &req, &why), 0);
	n = custody_recv_request(sv[1], buf, sizeof(buf), &fd, &why);
	ck_assert_int_eq(n, 19);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);

	/* No fd, two fds, an over-long message: refused, and no fd stays open. */
	send_with(sv[0], "HOcR", 4, NULL, 0);
	ck_assert_int_eq(custody_recv_request(sv[1], buf, sizeof(buf), &fd, &why), -EPROTO);
	ck_assert_int_eq(fd, -1);
	send_with(sv[0], "HOcR", 4, (int[]){ p[0], p[1] }, 2);
	ck_assert_int_eq(custody_recv_request(sv[1], buf, sizeof(buf), &fd, &why), -EPROTO);
	ck_assert_int_eq(fd, -1);
	send_with(sv[0], big, sizeof(big), (int[]){ p[0] }, 1);
	ck_assert_int_eq(custody_recv_request(sv[1], buf, sizeof(buf), &fd, &why), -EPROTO);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(open_fds(), before);

	/* The caller went away. */
	close(sv[0]);
	ck_assert_int_eq(custody_recv_request(sv[1], buf, sizeof(buf), &fd, &why), -ECONNRESET);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* ------------------------------------------------------------ config */

static char *conf_text(const char *extra)
{
	char *text;

	ck_assert_int_ge(asprintf(&text,
				  "[custody]\nsocket = /run/handoffd/custody.sock\nmode = 0660\n"
				  "max-requests = 3\n"
				  "[identity web]\nallow-uid = 33 root\nallow-gid = 4\ncert = %s\nkey = %s\n"
				  "[identity out]\nallow-uid = 1000\nca-file = %s\nservername = api.test\n%s",
				  tu_pki("server.pem"), tu_pki("server-key.pem"), tu_pki("ca.pem"),
				  extra), 0);
	return text;
}

START_TEST(test_conf_good)
{
	struct hd_conf conf;
	char err[512] = "", *text = conf_text("");
	const struct hd_custody_identity *web, *out;
	gid_t g4 = 4, g5 = 5;

	ck_assert_msg(hd_conf_parse_string(&conf, "handoffd.conf", text, HD_CONF_HANDOFFD, NULL, NULL,
					   err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(conf.custody);
	ck_assert_str_eq(conf.custody->socket, "/run/handoffd/custody.sock");
	ck_assert_uint_eq(conf.custody->mode, 0660);
	ck_assert_uint_eq(conf.custody->max_requests, 3);
	web = hd_custody_identity_find(conf.custody, "web");
	out = hd_custody_identity_find(conf.custody, "out");
	ck_assert_ptr_nonnull(web);
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_null(hd_custody_identity_find(conf.custody, "nope"));
	ck_assert(web->can_serve);
	ck_assert(!out->can_serve);
	ck_assert_str_eq(out->servername, "api.test");
	ck_assert_ptr_nonnull(web->cfg);
	/* uid 33 and root (by name), or group 4; nobody else. */
	ck_assert(hd_custody_allowed(web, 33, &g5, 1));
	ck_assert(hd_custody_allowed(web, 0, &g5, 1));
	ck_assert(hd_custody_allowed(web, 1000, &g4, 1));
	ck_assert(!hd_custody_allowed(web, 1000, &g5, 1));
	ck_assert(!hd_custody_allowed(out, 33, &g4, 1));
	hd_conf_free(&conf);
	ck_assert_ptr_null(conf.custody);
	free(text);
}
END_TEST

/* An identity serving several names: every pair loads (GnuTLS picks by SNI). */
START_TEST(test_conf_several_certs)
{
	struct hd_conf conf;
	char err[512] = "", *extra, *text;

	/* [identity web] holds server.pem: a second [identity web] block adds second.pem. */
	ck_assert_int_ge(asprintf(&extra, "[identity web]\ncert = %s\nkey = %s\n",
				  tu_pki("second.pem"), tu_pki("second-key.pem")), 0);
	text = conf_text(extra);
	ck_assert_msg(hd_conf_parse_string(&conf, "handoffd.conf", text, HD_CONF_HANDOFFD, NULL, NULL,
					   err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(hd_custody_identity_find(conf.custody, "web")->cfg->n_keypairs, 2);
	hd_conf_free(&conf);
	free(text);
	free(extra);

	/* chained.pem has server.pem's names and key type: refused, naming the file. */
	ck_assert_int_ge(asprintf(&extra, "[identity web]\ncert = %s\nkey = %s\n",
				  tu_pki("chained.pem"), tu_pki("chained-key.pem")), 0);
	text = conf_text(extra);
	ck_assert_int_eq(hd_conf_parse_string(&conf, "handoffd.conf", text, HD_CONF_HANDOFFD, NULL,
					      NULL, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "[identity web] key: certificate ") && strstr(err, "chained.pem") &&
		      strstr(err, "localhost already has an ECDSA certificate"), "%s", err);
	free(text);
	free(extra);
}
END_TEST

static const struct {
	const char *text;
	const char *err;
} conf_bad[] = {
	{ "[custody]\nsocket = relative.sock\n", "c:2: [custody] socket: \"relative.sock\": an absolute path" },
	{ "[custody]\nmode = 666\n", "c:2: [custody] mode: \"666\" is not an octal file mode" },
	{ "[custody]\nmax-requests = 0\n", "c:2: [custody] max-requests: \"0\" is not a number from 1" },
	{ "[custody]\nmax-per-uid = 0\n", "c:2: [custody] max-per-uid: \"0\" is not a number from 1" },
	{ "[custody]\nmax-queued-per-uid = -3\n", "c:2: [custody] max-queued-per-uid: \"-3\" is not a number from 1" },
	{ "[custody]\nfoo = 1\n", "c:2: [custody] foo: unknown key" },
	{ "[custody]\nsocket = /s\n[identity a/b]\nallow-uid = 1\n", "c:4: [identity a/b] allow-uid: \"a/b\": an identity name" },
	{ "[custody]\nsocket = /s\n[identity a]\nallow-uid = no-such-user-xyz\n", "c:4: [identity a] allow-uid: no user \"no-such-user-xyz\"" },
	{ "[custody]\nsocket = /s\n[identity a]\nallow-gid = no-such-group-xyz\n", "c:4: [identity a] allow-gid: no group \"no-such-group-xyz\"" },
	{ "[custody]\nsocket = /s\n[identity a]\nciphers = rot13\n", "c:4: [identity a] ciphers:" },
	{ "[custody]\nsocket = /s\n[identity a]\nbogus = 1\n", "c:4: [identity a] bogus: unknown key" },
	{ "[custody]\nsocket = /s\n[identity a]\ninsecure-userspace-fallback = yes\n", "c:4: [identity a] insecure-userspace-fallback: not possible" },
	/* What is wrong with a section as a whole is reported at its first key. */
	{ "[custody]\nsocket = /s\n[identity a]\ntickets = no\n", "c:4: [identity a]: nobody may use it" },
	{ "[identity a]\nallow-uid = 1\n", "c:2: [identity a]: no [custody] socket" },
	{ "[custody]\nsocket = /s\n[identity a]\nallow-uid = 1\npsk-identity = x\n", "c:4: [identity a]:" },
	{ "[custody]\nsocket = /s\n[identity a]\nallow-uid = 1\ncert = /nonexistent.pem\n", "c:5: [identity a] cert:" },
};

START_TEST(test_conf_bad)
{
	struct hd_conf conf;
	char err[512] = "";

	ck_assert_int_eq(hd_conf_parse_string(&conf, "c", conf_bad[_i].text, HD_CONF_HANDOFFD, NULL,
					      NULL, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strncmp(err, conf_bad[_i].err, strlen(conf_bad[_i].err)) == 0,
		      "case %d: got \"%s\", want \"%s...\"", _i, err, conf_bad[_i].err);
	ck_assert_ptr_null(conf.custody);
}
END_TEST

/* ------------------------------------------------------ one uid's share */

START_TEST(test_conf_share)
{
	struct hd_conf conf;
	char err[512] = "", *text = conf_text("");

	/* Defaults: all places but one (max-requests 3), half of the 64 queue slots. */
	ck_assert_msg(hd_conf_parse_string(&conf, "handoffd.conf", text, HD_CONF_HANDOFFD, NULL, NULL,
					   err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(conf.custody->max_per_uid, 2);
	ck_assert_uint_eq(conf.custody->max_queued_per_uid, 32);
	hd_conf_free(&conf);
	free(text);
	/* Set, and a share above the whole is the whole. */
	text = conf_text("[custody]\nmax-per-uid = 9\nmax-queued-per-uid = 5\n");
	ck_assert_msg(hd_conf_parse_string(&conf, "handoffd.conf", text, HD_CONF_HANDOFFD, NULL, NULL,
					   err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(conf.custody->max_per_uid, 3);
	ck_assert_uint_eq(conf.custody->max_queued_per_uid, 5);
	hd_conf_free(&conf);
	free(text);
}
END_TEST

struct submitted {
	struct hd_custody_job *jobs[8];
	unsigned n;
};

static void record_job(struct hd_custody_job *job, void *ctx)
{
	struct submitted *sub = ctx;

	ck_assert_uint_lt(sub->n, 8);
	sub->jobs[sub->n++] = job;
}

/* A caller's connection with its request sent (identity "nope": answered EACCES without a handshake). */
static int caller(const char *path, int fd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct custody_request req = { .role = CUSTODY_ROLE_SERVER };
	const char *why = "";
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(s, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ck_assert_int_eq(connect(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	snprintf(req.identity, sizeof(req.identity), "nope");
	ck_assert_msg(custody_send_request(s, fd, &req, &why) == 0, "%s", why);
	return s;
}

/* The status of the reply waiting on s, or -1 when none is there. */
static long reply_status(int s, char *cause, size_t size)
{
	uint8_t buf[CUSTODY_REPLY_MAX + 1];
	struct custody_reply rep;
	const char *why = "";
	ssize_t n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0)
		return -1;
	ck_assert_msg(custody_reply_decode(buf, (size_t)n, &rep, &why) == 0, "%s", why);
	snprintf(cause, size, "%s", rep.cause);
	return rep.status;
}

/*
 * One uid (this process) with max-per-uid 1 and max-queued-per-uid 2 of
 * max-requests 2: the first request runs, the second waits although a
 * place is free, the third is answered EAGAIN at once; when the first
 * ends, the second runs.
 */
START_TEST(test_share)
{
	struct hd_conf conf;
	struct hd_custody *cu;
	struct hd_stats_event ev;
	struct submitted sub = { .n = 0 };
	char err[512] = "", path[108], cause[CUSTODY_CAUSE_MAX + 1], *extra, *text;
	int p[2], c1, c2, c3;

	snprintf(path, sizeof(path), "%s/custody-share.%d.sock", getenv("TMPDIR") ? getenv("TMPDIR") :
		 "/tmp", (int)getpid());
	ck_assert_int_ge(asprintf(&extra, "[custody]\nsocket = %s\nmax-requests = 2\n"
				  "max-per-uid = 1\nmax-queued-per-uid = 2\n", path), 0);
	text = conf_text(extra);
	ck_assert_msg(hd_conf_parse_string(&conf, "handoffd.conf", text, HD_CONF_HANDOFFD, NULL, NULL,
					   err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(hd_custody_open(conf.custody, &cu, err, sizeof(err)), 0);
	ck_assert_int_eq(pipe(p), 0);

	c1 = caller(path, p[0]);
	c2 = caller(path, p[0]);
	c3 = caller(path, p[0]);
	hd_custody_service(cu, record_job, &sub);
	ck_assert_uint_eq(sub.n, 1);
	ck_assert_int_eq(reply_status(c2, cause, sizeof(cause)), -1);
	ck_assert_int_eq(reply_status(c3, cause, sizeof(cause)), EAGAIN);
	ck_assert_msg(strstr(cause, "max-queued-per-uid"), "%s", cause);

	/* The first ends (EACCES: no identity "nope"): the second may run now. */
	hd_custody_run(sub.jobs[0], &conf, 1, 0, &ev);
	ck_assert_int_eq(reply_status(c1, cause, sizeof(cause)), EACCES);
	hd_custody_service(cu, record_job, &sub);
	ck_assert_uint_eq(sub.n, 2);
	hd_custody_run(sub.jobs[1], &conf, 2, 0, &ev);
	ck_assert_int_eq(reply_status(c2, cause, sizeof(cause)), EACCES);

	hd_custody_close(cu);
	close(c1);
	close(c2);
	close(c3);
	close(p[0]);
	close(p[1]);
	hd_conf_free(&conf);
	free(text);
	free(extra);
}
END_TEST

static Suite *custody_suite(void)
{
	Suite *s = suite_create("custody");
	TCase *wire = tcase_create("wire"), *conf = tcase_create("conf");

	tcase_add_test(wire, test_request_roundtrip);
	tcase_add_loop_test(wire, test_request_cases, 0, ARRAY_SIZE(req_cases));
	tcase_add_test(wire, test_request_encode_refuses);
	tcase_add_test(wire, test_reply_roundtrip);
	tcase_add_test(wire, test_reply_secrets);
	tcase_add_test(wire, test_recv_request);
	suite_add_tcase(s, wire);
	tcase_add_test(conf, test_conf_good);
	tcase_add_test(conf, test_conf_several_certs);
	tcase_add_loop_test(conf, test_conf_bad, 0, ARRAY_SIZE(conf_bad));
	tcase_add_test(conf, test_conf_share);
	tcase_add_test(conf, test_share);
	suite_add_tcase(s, conf);
	return s;
}

int main(void)
{
	return tu_run(custody_suite());
}
