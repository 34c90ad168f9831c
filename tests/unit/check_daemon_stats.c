/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoffd's counters and status socket: nearest-rank percentiles on
 * known data, the bounded latency window, failures by status and the
 * recent-failure ring, the report's format (a hostile cause cannot forge a
 * line, a small buffer is an error), and the socket itself: a report read
 * back whole, a stale socket replaced, a live one and a non-socket kept;
 * and --fork-per-request's child reporting its counters over the pipe.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/forkreq.h"
#include "daemon/stats.h"
#include "daemon/status.h"
#include "testutil.h"

static const struct {
	unsigned n;		/* values 1..n, in a shuffled order */
	unsigned pct;
	uint32_t want;
} pct_cases[] = {
	{ 0, 50, 0 },
	{ 1, 50, 1 },
	{ 1, 99, 1 },
	{ 2, 50, 1 },
	{ 2, 51, 2 },
	{ 10, 50, 5 },
	{ 10, 90, 9 },
	{ 10, 99, 10 },
	{ 100, 50, 50 },
	{ 100, 90, 90 },
	{ 100, 99, 99 },
	{ 100, 100, 100 },
	{ 100, 1, 1 },
	{ 1000, 99, 990 },
	{ 7, 150, 7 },		/* over 100 is read as 100 */
};

/* Through the real path: record shuffled values, snapshot, compare. */
START_TEST(test_percentiles)
{
	struct hd_stats st;
	struct hd_stats_snapshot snap;
	unsigned n = pct_cases[_i].n;
	uint32_t sorted[1000];

	hd_stats_init(&st);
	for (unsigned i = 0; i < n; i++) {
		/* 7919 is prime, so this visits every value once in a scrambled order. */
		struct hd_stats_event ev = { .ms = (uint32_t)((i * 7919u) % n) + 1 };

		hd_stats_record(&st, &ev);
		sorted[i] = i + 1;
	}
	ck_assert_uint_eq(hd_stats_percentile(sorted, n, pct_cases[_i].pct), pct_cases[_i].want);
	hd_stats_snapshot(&st, &snap);
	ck_assert_uint_eq(snap.window, n);
	if (pct_cases[_i].pct == 50)
		ck_assert_uint_eq(snap.p50_ms, pct_cases[_i].want);
	if (pct_cases[_i].pct == 90)
		ck_assert_uint_eq(snap.p90_ms, pct_cases[_i].want);
	if (pct_cases[_i].pct == 99)
		ck_assert_uint_eq(snap.p99_ms, pct_cases[_i].want);
	ck_assert_uint_eq(snap.max_ms, n);
	hd_stats_destroy(&st);
}
END_TEST

/* The window keeps only the latest: old slow handshakes age out. */
START_TEST(test_window_bounded)
{
	struct hd_stats st;
	struct hd_stats_snapshot snap;
	struct hd_stats_event ev = { 0 };

	hd_stats_init(&st);
	ev.ms = 5000;
	for (unsigned i = 0; i < 100; i++)
		hd_stats_record(&st, &ev);
	ev.ms = 10;
	for (unsigned i = 0; i < HD_STATS_WINDOW; i++)
		hd_stats_record(&st, &ev);
	hd_stats_snapshot(&st, &snap);
	ck_assert_uint_eq(snap.window, HD_STATS_WINDOW);
	ck_assert_uint_eq(snap.p99_ms, 10);
	ck_assert_uint_eq(snap.max_ms, 10);
	/* The counts are for the whole uptime. */
	ck_assert_uint_eq(snap.ok[HD_STATS_CLIENT], 100 + HD_STATS_WINDOW);
	hd_stats_destroy(&st);
}
END_TEST

START_TEST(test_results_and_roles)
{
	static const uint32_t statuses[] = { EACCES, ETIMEDOUT, EKEYREJECTED, EINVAL, EIO,
					     ENOMEM, EOPNOTSUPP, EPERM, ENOENT, ENOKEY };
	struct hd_stats st;
	struct hd_stats_snapshot snap;
	struct hd_stats_event ev = { 0 };

	hd_stats_init(&st);
	ev.role = HD_STATS_SERVER;
	hd_stats_record(&st, &ev);
	ev.role = HD_STATS_CLIENT;
	hd_stats_record(&st, &ev);
	hd_stats_record(&st, &ev);
	/* Ten distinct statuses: eight counted by name, two as "other". */
	for (unsigned i = 0; i < ARRAY_SIZE(statuses); i++) {
		ev.id = 100 + i;
		ev.status = statuses[i];
		ev.role = i % 2 ? HD_STATS_SERVER : HD_STATS_CLIENT;
		snprintf(ev.cause, sizeof(ev.cause), "cause %u", i);
		hd_stats_record(&st, &ev);
	}
	ev.status = EACCES;
	ev.id = 200;
	hd_stats_record(&st, &ev);
	hd_stats_snapshot(&st, &snap);
	ck_assert_uint_eq(snap.ok[HD_STATS_CLIENT], 2);
	ck_assert_uint_eq(snap.ok[HD_STATS_SERVER], 1);
	ck_assert_uint_eq(snap.failed[HD_STATS_CLIENT], 5);
	ck_assert_uint_eq(snap.failed[HD_STATS_SERVER], 6);
	ck_assert_uint_eq(snap.n_status, HD_STATS_STATUSES);
	ck_assert_uint_eq(snap.by_status[0].status, EACCES);
	ck_assert_uint_eq(snap.by_status[0].n, 2);
	ck_assert_uint_eq(snap.other_status, 2);
	/* Newest first, at most HD_STATS_RECENT. */
	ck_assert_uint_eq(snap.n_recent, HD_STATS_RECENT);
	ck_assert_uint_eq(snap.recent[0].id, 200);
	ck_assert_uint_eq(snap.recent[1].id, 109);
	ck_assert_str_eq(snap.recent[1].cause, "cause 9");
	ck_assert_uint_eq(snap.recent[HD_STATS_RECENT - 1].id, 103);
	hd_stats_destroy(&st);
}
END_TEST

START_TEST(test_busy)
{
	struct hd_stats st;
	struct hd_stats_snapshot snap;

	hd_stats_init(&st);
	hd_stats_busy_inc(&st);
	hd_stats_busy_inc(&st);
	hd_stats_busy_dec(&st);
	hd_stats_snapshot(&st, &snap);
	ck_assert_uint_eq(snap.busy, 1);
	hd_stats_destroy(&st);
}
END_TEST

static const struct hd_status_info info = {
	.pid = 42, .mode = "pool", .uptime_s = 3723, .config = "/etc/tlshd.conf",
	.config_generation = 2, .workers = 4, .max_handshakes = 64, .in_flight = 3,
};

START_TEST(test_format)
{
	struct hd_stats st;
	struct hd_stats_snapshot snap;
	struct hd_stats_event ev = { .id = 7, .status = EKEYREJECTED, .ms = 12,
				     .role = HD_STATS_SERVER, .consumer = "nvme",
				     .peer = "127.0.0.1 x" };
	char buf[8192];
	int len;

	hd_stats_init(&st);
	/* A cause that tries to start a line of its own. */
	snprintf(ev.cause, sizeof(ev.cause), "PSK identity unknown\nok 999999");
	hd_stats_record(&st, &ev);
	ev.status = 0;
	ev.role = HD_STATS_CLIENT;
	hd_stats_record(&st, &ev);
	hd_stats_busy_inc(&st);
	hd_stats_snapshot(&st, &snap);
	len = hd_status_format(buf, sizeof(buf), &info, &snap);
	ck_assert_int_gt(len, 0);
	ck_assert_uint_eq(strlen(buf), (size_t)len);
	ck_assert(!strncmp(buf, "handoffd-status 1\n", 18));
	ck_assert_str_eq(buf + len - 4, "end\n");
	ck_assert_ptr_nonnull(strstr(buf, "\nhandshakes 2\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nok 1\nfailed 1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nserver-failed 1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nclient-ok 1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nfailed-EKEYREJECTED 1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nworkers-busy 1\nmax-handshakes 64\nin-flight 3\nqueued 2\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nconfig /etc/tlshd.conf\nconfig-generation 2\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nfailure 7 server nvme 127.0.0.1_x EKEYREJECTED "
					  "PSK identity unknown_ok 999999\n"));
	ck_assert_ptr_null(strstr(buf, "\nok 999999"));
	ck_assert_ptr_nonnull(strstr(buf, "\nlatency-p50-ms 12\n"));
	/* Too small: an error, never a cut report that looks whole. */
	ck_assert_int_eq(hd_status_format(buf, 100, &info, &snap), -ENOSPC);
	ck_assert_int_eq(hd_status_format(buf, 0, &info, &snap), -ENOSPC);
	hd_stats_destroy(&st);
}
END_TEST

static int connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%.100s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

START_TEST(test_socket)
{
	char dir[] = "/tmp/check_status.XXXXXX", path[128], got[256];
	const char report[] = "handoffd-status 1\nok 3\nend\n";
	struct stat st;
	int lfd, again, c;
	ssize_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* A folder that does not exist yet is made, 0755 even under umask 077. */
	snprintf(path, sizeof(path), "%s/run/status.sock", dir);
	umask(077);
	lfd = hd_status_listen(path);
	umask(022);
	ck_assert_int_ge(lfd, 0);
	snprintf(got, sizeof(got), "%s/run", dir);
	ck_assert_int_eq(stat(got, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0755);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0660);
	ck_assert_int_eq(hd_status_answer(lfd, report, strlen(report)), -EAGAIN);

	c = connect_to(path);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(hd_status_answer(lfd, report, strlen(report)), 0);
	n = read(c, got, sizeof(got) - 1);
	ck_assert_int_eq(n, (ssize_t)strlen(report));
	got[n] = '\0';
	ck_assert_str_eq(got, report);
	ck_assert_int_eq(read(c, got, sizeof(got)), 0);	/* closed after one report */
	close(c);

	/* A second daemon must not steal a live socket. */
	ck_assert_int_eq(hd_status_listen(path), -EADDRINUSE);
	/* A socket nobody answers on (a crashed daemon's) is replaced. */
	close(lfd);
	lfd = hd_status_listen(path);
	ck_assert_int_ge(lfd, 0);
	hd_status_close(lfd, path);
	ck_assert_int_ne(access(path, F_OK), 0);

	/* Never remove a file that is not a socket. */
	again = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(again, 0);
	close(again);
	ck_assert_int_eq(hd_status_listen(path), -EEXIST);
	ck_assert_int_eq(access(path, F_OK), 0);
	unlink(path);

	/* A path too long for sun_path is refused by name, not cut. */
	memset(got, 'a', sizeof(got) - 1);
	got[0] = '/';
	got[sizeof(got) - 1] = '\0';
	ck_assert_int_eq(hd_status_listen(got), -ENAMETOOLONG);
	snprintf(path, sizeof(path), "%s/run", dir);
	rmdir(path);
	rmdir(dir);
}
END_TEST

/* --fork-per-request: the child runs the job, its counters come back by pipe. */
static int report_fd = -1;

static void child_job(struct hd_job *job, void **slot, void *ctx)
{
	struct hd_stats_event ev = { .id = job->id, .status = ETIMEDOUT, .ms = 7,
				     .role = HD_STATS_SERVER };

	(void)slot;
	(void)ctx;
	snprintf(ev.cause, sizeof(ev.cause), "child of %d", (int)getppid());
	/* The socket is the child's to finish: still open here. */
	if (fcntl(job->req.sockfd, F_GETFD) < 0)
		ev.status = EBADF;
	hd_fork_report(report_fd, &ev);
}

START_TEST(test_fork_job)
{
	struct hd_stats st;
	struct hd_stats_snapshot snap;
	struct hd_job job = { .id = 5 };
	int results[2], sock[2];
	pid_t pid;
	char want[64];

	hd_stats_init(&st);
	ck_assert_int_eq(hd_fork_pipe(results), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sock), 0);
	report_fd = results[1];
	job.req.sockfd = sock[0];
	pid = hd_fork_job(&job, child_job, NULL, NULL);
	ck_assert_int_gt(pid, 0);
	/* The parent's copy is closed at once. */
	ck_assert_int_lt(fcntl(sock[0], F_GETFD), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_uint_eq(hd_fork_reap(), 0);	/* already collected by waitpid */
	hd_fork_collect(results[0], &st);
	hd_fork_collect(results[0], &st);	/* nothing more: non-blocking */
	hd_stats_snapshot(&st, &snap);
	ck_assert_uint_eq(snap.failed[HD_STATS_SERVER], 1);
	ck_assert_uint_eq(snap.n_recent, 1);
	ck_assert_uint_eq(snap.recent[0].id, 5);
	ck_assert_uint_eq(snap.recent[0].status, ETIMEDOUT);
	snprintf(want, sizeof(want), "child of %d", (int)getpid());
	ck_assert_str_eq(snap.recent[0].cause, want);
	close(sock[1]);

	/* A child that is not waited for is reaped by hd_fork_reap. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sock), 0);
	job.req.sockfd = sock[0];
	pid = hd_fork_job(&job, child_job, NULL, NULL);
	ck_assert_int_gt(pid, 0);
	for (int i = 0; i < 200 && hd_fork_reap() == 0; i++)
		usleep(10000);
	ck_assert_int_lt(waitpid(pid, NULL, WNOHANG), 0);	/* gone: reaped */
	close(sock[1]);
	close(results[0]);
	close(results[1]);
	hd_stats_destroy(&st);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("daemon_stats");
	TCase *tc = tcase_create("stats");

	tcase_add_loop_test(tc, test_percentiles, 0, ARRAY_SIZE(pct_cases));
	tcase_add_test(tc, test_window_bounded);
	tcase_add_test(tc, test_results_and_roles);
	tcase_add_test(tc, test_busy);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_socket);
	tcase_add_test(tc, test_fork_job);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(stats_suite());
}
