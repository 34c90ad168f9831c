/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoffd's privilege drop, in a forked child so the test runner keeps
 * its own: afterwards /proc/self/status must show CAP_NET_ADMIN alone
 * (when it was held) in the effective, permitted and bounding sets, none
 * inheritable or ambient, and no_new_privs, in the thread that dropped and
 * in a thread made after it.  Without root it checks that the drop still
 * succeeds and leaves nothing.
 */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/privs.h"
#include "testutil.h"

#define NET_ADMIN_MASK 0x1000ULL	/* 1 << CAP_NET_ADMIN (12) */

static unsigned long long field(const char *name)
{
	char line[256], path[64];
	unsigned long long v = ~0ULL;
	size_t n = strlen(name);
	FILE *f;

	/* The calling thread's own view: capabilities are per thread. */
	snprintf(path, sizeof(path), "/proc/thread-self/status");
	f = fopen(path, "re");
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':')
			v = strtoull(line + n + 1, NULL, strncmp(name, "Cap", 3) ? 10 : 16);
	fclose(f);
	return v;
}

/* 0 when the sets are as they must be; else a bit per wrong field. */
static int check_sets(unsigned long long want)
{
	int bad = 0;

	bad |= (field("CapEff") != want) << 0;
	bad |= (field("CapPrm") != want) << 1;
	bad |= (field("CapInh") != 0) << 2;
	bad |= (field("CapAmb") != 0) << 3;
	bad |= (field("NoNewPrivs") != 1) << 4;
	return bad;
}

static unsigned long long expect;

static void *later_thread(void *arg)
{
	*(int *)arg = check_sets(expect);
	return NULL;
}

START_TEST(test_drop)
{
	bool had_admin = (field("CapEff") & NET_ADMIN_MASK) != 0;
	bool had_setpcap = (field("CapEff") & (1ULL << 8)) != 0;
	pid_t pid;
	int status;

	expect = had_admin ? NET_ADMIN_MASK : 0;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char why[256];
		pthread_t t;
		int in_thread = -1, code = 0;

		if (hd_privs_drop(why, sizeof(why)) < 0) {
			fprintf(stderr, "hd_privs_drop: %s\n", why);
			_exit(100);
		}
		code = check_sets(expect);
		/* With CAP_SETPCAP the bounding set goes too. */
		if (had_setpcap && field("CapBnd") != expect)
			code |= 1 << 5;
		if (pthread_create(&t, NULL, later_thread, &in_thread) != 0 || pthread_join(t, NULL))
			_exit(101);
		code |= in_thread << 6;
		hd_privs_describe(why, sizeof(why));
		if (had_admin && !strstr(why, "net_admin"))
			code |= 1 << 7;
		_exit(code);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) == 0, "wrong after the drop: code 0x%x (bits: eff prm inh amb "
		      "nnp bnd thread describe)", WEXITSTATUS(status));
}
END_TEST

static Suite *privs_suite(void)
{
	Suite *s = suite_create("daemon_privs");
	TCase *tc = tcase_create("drop");

	tcase_add_test(tc, test_drop);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(privs_suite());
}
