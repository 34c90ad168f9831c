/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/forkreq.h"

pid_t hd_fork_job(struct hd_job *job, hd_pool_run_fn run, hd_pool_fini_fn fini, void *ctx)
{
	void *slot = NULL;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		run(job, &slot, ctx);
		if (fini)
			fini(slot, ctx);
		/* No atexit handlers, no stdio flush of the parent's buffers. */
		_exit(0);
	}
	close(job->req.sockfd);
	return pid;
}

unsigned hd_fork_reap(void)
{
	unsigned n = 0;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		n++;
	return n;
}

int hd_fork_pipe(int pipe_fds[2])
{
	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK) < 0) {
		int err = -errno;

		close(pipe_fds[0]);
		close(pipe_fds[1]);
		return err;
	}
	return 0;
}

_Static_assert(sizeof(struct hd_stats_event) <= PIPE_BUF, "one event, one atomic pipe write");

void hd_fork_report(int wr_fd, const struct hd_stats_event *ev)
{
	/* Counters only: a lost event costs a count, never the handshake. */
	if (write(wr_fd, ev, sizeof(*ev)) < 0)
		return;
}

void hd_fork_collect(int rd_fd, struct hd_stats *stats)
{
	struct hd_stats_event ev;

	while (read(rd_fd, &ev, sizeof(ev)) == (ssize_t)sizeof(ev))
		hd_stats_record(stats, &ev);
}
