/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "testutil.h"

#include "common.h"
#include "core/conn.h"
#include "ktls/ktls.h"
#include "recordcrypt.h"
#include "util/wipe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * One listener per process, like a real server: clients that cache sessions
 * by address and port find the same port on every connection.
 */
static int listener(struct sockaddr_in *sa)
{
	static int l = -1;
	static struct sockaddr_in addr;
	socklen_t len = sizeof(addr);

	if (l < 0) {
		addr.sin_family = AF_INET;
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(l, 0);
		ck_assert_int_eq(bind(l, (struct sockaddr *)&addr, sizeof(addr)), 0);
		ck_assert_int_eq(listen(l, 16), 0);
		ck_assert_int_eq(getsockname(l, (struct sockaddr *)&addr, &len), 0);
	}
	*sa = addr;
	return l;
}

void tu_tcp_pair(int fds[2])
{
	struct sockaddr_in sa;
	int l, c, s, one = 1;

	l = listener(&sa);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(s, 0);
	/* Small records must not sit in Nagle's buffer while a test waits. */
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fds[0] = c;
	fds[1] = s;
}

const char *tu_pki(const char *name)
{
	static __thread char ring[16][512];
	static __thread unsigned next;
	const char *dir = getenv("HANDOFF_PKI");
	char *out = ring[next++ % 16];

	ck_assert_msg(dir && *dir, "HANDOFF_PKI is not set (run through make check)");
	snprintf(out, sizeof(ring[0]), "%s/%s", dir, name);
	return out;
}

struct trampoline {
	int (*fn)(void *);
	void *arg;
};

static void *run_trampoline(void *p)
{
	struct trampoline t = *(struct trampoline *)p;

	free(p);
	return (void *)(intptr_t)t.fn(t.arg);
}

pthread_t tu_spawn(int (*fn)(void *), void *arg)
{
	struct trampoline *t = malloc(sizeof(*t));
	pthread_t th;

	ck_assert_ptr_nonnull(t);
	t->fn = fn;
	t->arg = arg;
	ck_assert_int_eq(pthread_create(&th, NULL, run_trampoline, t), 0);
	return th;
}

int tu_join(pthread_t t)
{
	void *ret;

	ck_assert_int_eq(pthread_join(t, &ret), 0);
	return (int)(intptr_t)ret;
}

static int server_handshake(void *arg)
{
	struct tu_pair *p = arg;

	p->srv_ret = handoff_handshake(p->srv);
	return 0;
}

void tu_handshake_pair(struct tu_pair *p, struct handoff_config *ccfg,
		       struct handoff_config *scfg, const char *servername, unsigned test_flags)
{
	pthread_t t;

	tu_tcp_pair(p->fds);
	p->cli = handoff_client(ccfg, p->fds[0], servername);
	p->srv = handoff_server(scfg, p->fds[1]);
	ck_assert_ptr_nonnull(p->cli);
	ck_assert_ptr_nonnull(p->srv);
	conn_set_test_flags(p->cli, test_flags);
	conn_set_test_flags(p->srv, test_flags);
	t = tu_spawn(server_handshake, p);
	p->cli_ret = handoff_handshake(p->cli);
	if (p->cli_ret != 0)
		shutdown(p->fds[0], SHUT_RDWR);
	tu_join(t);
}

void tu_pair_free(struct tu_pair *p)
{
	handoff_free(p->cli);
	handoff_free(p->srv);
	close(p->fds[0]);
	close(p->fds[1]);
	p->cli = p->srv = NULL;
}

int tu_cork_before_finished(gnutls_session_t session, unsigned htype, unsigned when,
			    unsigned incoming, const gnutls_datum_t *msg)
{
	int fd = (int)(intptr_t)gnutls_session_get_ptr(session), on = 1;

	(void)htype;
	(void)when;
	(void)msg;
	if (!incoming)
		setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
	return 0;
}

void tu_send_record(gnutls_session_t s, int fd, unsigned char type, const void *data,
		    size_t len)
{
	struct ktls_crypto_info ci;
	uint8_t rec[RC_MAX_RECORD];
	size_t rec_len = sizeof(rec);
	unsigned char seq[8];
	uint64_t v = 0;
	int i;

	ck_assert_int_eq(ktls_keys_from_session(s, 0, &ci), 0);
	ck_assert_int_eq(gnutls_record_get_state(s, 0, NULL, NULL, NULL, seq), 0);
	for (i = 0; i < 8; i++)
		v = (v << 8) | seq[i];
	ck_assert_int_eq(rc_seal(&ci, v, type, data, len, 0, rec, &rec_len), 0);
	wipe(&ci, sizeof(ci));
	ck_assert_int_eq(rc_write_all(fd, rec, rec_len), 0);
	for (i = 7, v++; i >= 0; i--, v >>= 8)
		seq[i] = (unsigned char)v;
	ck_assert_int_eq(gnutls_record_set_state(s, 0, seq), 0);
}

int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
