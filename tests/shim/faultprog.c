/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * faultprog - plaintext servers that meet a fault while the shim would be
 * in a TLS handshake, for tests/shim/faults.sh.  They know nothing about
 * TLS; the script runs them under `handoff run` (and some without it, as
 * the baseline of what libc alone does).  Every result is one line on
 * stdout: what the call returned, errno by name, and the elapsed time, so
 * that the script asserts exactly what the program saw.
 *
 *   faultprog emfile PORT        accept() with no fd left, then with one
 *   faultprog signal PORT MODE   SIGALRM (MODE restart | norestart) during
 *                                a blocking read() whose handshake waits
 *   faultprog forkthread PORT    fork() while another thread is in a handshake
 *   faultprog forkeach PORT N    a forking server that took one handshake
 *                                step before fork (non-blocking read)
 *   faultprog forkready PORT GO  fork() while another thread acts on a control
 *                                record of a ready connection (its reply is
 *                                stuck on a full send buffer); waits for the
 *                                file GO before it fills that buffer
 *
 * Not a test by itself: built by `make check`, run only inside kTLS kernels.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct timespec t0;

static long elapsed_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
}

/* One line, written at once (a forked child and its parent share stdout). */
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(1, line, (size_t)n);
}

static const char *errname(int e)
{
	switch (e) {
	case EMFILE: return "EMFILE";
	case ENFILE: return "ENFILE";
	case EINTR: return "EINTR";
	case EAGAIN: return "EAGAIN";
	case ECONNABORTED: return "ECONNABORTED";
	case ECONNRESET: return "ECONNRESET";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EPIPE: return "EPIPE";
	case EBADF: return "EBADF";
	case EIO: return "EIO";
	case ENOTCONN: return "ENOTCONN";
	}
	return "other";
}

/* "N bytes: TEXT" or "ERR errno=N NAME", for a read-like result. */
static void report(const char *what, ssize_t n, int err, const char *buf)
{
	int shown = (int)(n > 80 ? 80 : n);

	if (n < 0) {
		say("%s: ERR errno=%d %s (%ld ms)", what, err, errname(err), elapsed_ms());
		return;
	}
	while (shown > 0 && buf[shown - 1] == '\n')
		shown--;	/* one line per result */
	say("%s: %zd bytes: %.*s (%ld ms)", what, n, shown, buf, elapsed_ms());
}

/* "ok (fd N)" or "ERR errno=N NAME", for a call that returns an fd. */
static void report_fd(const char *what, int fd, int err)
{
	if (fd < 0)
		say("%s: ERR errno=%d %s (%ld ms)", what, err, errname(err), elapsed_ms());
	else
		say("%s: ok (fd %d)", what, fd);
}

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
		say("listen: %s", strerror(errno));
		exit(2);
	}
	say("listening on %d", port);
	return fd;
}

/* Wait (bounded) until fd is readable: a client is there, or its bytes are. */
static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

/* Wait (bounded) until fd has bytes queued, without a call the shim hooks. */
static void wait_bytes(int fd, int ms)
{
	int queued = 0;

	for (; ms > 0 && (ioctl(fd, FIONREAD, &queued) < 0 || queued == 0); ms -= 10)
		usleep(10 * 1000);
}

/* Open fds, counted without opening one (/proc/self/fd would need one). */
static int count_fds(void)
{
	struct rlimit rl;
	int n = 0;

	getrlimit(RLIMIT_NOFILE, &rl);
	for (rlim_t fd = 0; fd < rl.rlim_cur && fd < 65536; fd++)
		if (fcntl((int)fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* Echo one message back: a whole read, then a whole write. */
static void echo_once(int fd, const char *what)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	int err = errno;

	report(what, n, err, buf);
	if (n > 0) {
		ssize_t w = write(fd, buf, (size_t)n);

		if (w != n)
			say("%s: write back: %s", what, w < 0 ? strerror(errno) : "short");
	}
}

/* ------------------------------------------------------------- emfile */

static int filler[65536];
static int n_filler;

static void fill_fds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		filler[n_filler++] = fd;
	say("fds full: %d open (%s)", count_fds(), strerror(errno));
}

static void free_fds(int n)
{
	while (n-- > 0 && n_filler > 0)
		close(filler[--n_filler]);
}

/* A client for phase: wait for it, accept, echo once, close.  -1 when none came. */
static int serve_one(int lfd, const char *phase)
{
	char what[64];
	int fd, err;

	say("%s: waiting for a client", phase);
	if (!wait_readable(lfd, 60000)) {
		say("%s: no client came", phase);
		return -1;
	}
	fd = accept(lfd, NULL, NULL);
	err = errno;
	snprintf(what, sizeof(what), "%s: accept", phase);
	report_fd(what, fd, err);
	if (fd >= 0) {
		snprintf(what, sizeof(what), "%s: read", phase);
		echo_once(fd, what);
		close(fd);
	}
	return 0;
}

/*
 * 1. no fd left: accept() fails with EMFILE, twice, and no fd appears;
 * 2. one fd free: accept() takes it; then the program reads (a shim's
 *    first handshake probes the kernel with sockets of its own);
 * 3. fds free: a connection is served;
 * 4. no fd left again but the one accept() takes: served (the probe is done).
 */
static int m_emfile(int port)
{
	struct rlimit rl = { 64, 64 };
	int lfd, fd, before, after, err;

	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		say("setrlimit: %s", strerror(errno));
		return 2;
	}
	lfd = listen_on(port);
	fill_fds();
	say("phase 1: waiting for a client");
	if (!wait_readable(lfd, 60000)) {
		say("phase 1: no client came");
		return 1;
	}
	before = count_fds();
	fd = accept(lfd, NULL, NULL);
	err = errno;
	report_fd("phase 1: accept", fd, err);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	err = errno;
	report_fd("phase 1: accept4", fd, err);
	after = count_fds();
	say("phase 1: fds before %d, after %d", before, after);

	free_fds(1);
	fd = accept(lfd, NULL, NULL);
	err = errno;
	report_fd("phase 2: accept", fd, err);
	if (fd >= 0) {
		echo_once(fd, "phase 2: read");
		close(fd);
	}
	say("phase 2: fds now %d", count_fds());

	free_fds(16);
	if (serve_one(lfd, "phase 3") < 0)
		return 1;

	fill_fds();
	free_fds(1);
	if (serve_one(lfd, "phase 4") < 0)
		return 1;
	free_fds(n_filler);
	say("done: fds %d", count_fds());
	return 0;
}

/* ------------------------------------------------------------- signal */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/*
 * A blocking read() on a fresh connection: under the shim, the handshake
 * runs in it.  SIGALRM comes 1.5 s in, while the client holds back its
 * Finished.  Without SA_RESTART the read must fail with EINTR (and a
 * second read go on with the connection); with it, the read must go on.
 */
static int m_signal(int port, const char *mode)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { 1, 500000 } };
	char buf[4096];
	int lfd, fd, err, reads = 0;
	ssize_t n;

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = !strcmp(mode, "restart") ? SA_RESTART : 0;
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		return 2;
	lfd = listen_on(port);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		say("accept: %s", strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	setitimer(ITIMER_REAL, &it, NULL);
	do {
		n = read(fd, buf, sizeof(buf));
		err = errno;
		reads++;
		report(reads == 1 ? "read 1" : "read 2", n, err, buf);
		say("alarms so far: %d", (int)alarms);
	} while (n < 0 && err == EINTR && reads < 2);
	if (n > 0 && write(fd, buf, (size_t)n) != n)
		say("write back: %s", strerror(errno));
	close(fd);
	return 0;
}

/* ---------------------------------------------------------------- fork */

static void *reader(void *arg)
{
	int fd = *(int *)arg;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	echo_once(fd, "parent thread: read");
	return NULL;
}

/*
 * One thread reads a fresh connection (its handshake runs in that read and
 * waits for the client's Finished); a second thread forks meanwhile.  The
 * child tries the connection: it must not take over the half-done
 * handshake, and nothing it writes may reach the client.
 */
static int m_forkthread(int port)
{
	static const char secret[] = "CHILD-WRITES-THIS\n";
	char buf[256];
	pthread_t t;
	pid_t pid;
	int lfd, fd, st;
	ssize_t n;

	lfd = listen_on(port);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		say("accept: %s", strerror(errno));
		return 1;
	}
	pthread_create(&t, NULL, reader, &fd);
	usleep(1000 * 1000);	/* the reader is in its handshake: the client waits 3 s */
	pid = fork();
	if (pid == 0) {
		n = write(fd, secret, sizeof(secret) - 1);
		report("child: write", n < 0 ? -1 : n, errno, secret);
		n = read(fd, buf, sizeof(buf));
		report("child: read", n, errno, buf);
		close(fd);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	say("child exited %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	pthread_join(t, NULL);
	close(fd);
	return 0;
}

/*
 * A forking server: each connection is made non-blocking and read once
 * after its ClientHello came (a handshake step in the parent), then the
 * child finishes it and echoes, and the parent closes its copy.
 */
static int m_forkeach(int port, int count)
{
	char buf[64];
	int lfd, fd, i, st, fl;
	ssize_t n;
	pid_t pid;

	lfd = listen_on(port);
	for (i = 0; i < count; i++) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			say("accept: %s", strerror(errno));
			return 1;
		}
		fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		/*
		 * Until the ClientHello is in.  Not poll(): under the shim, poll()
		 * on a connection in its handshake drives the whole handshake
		 * (libshim/README.md), and the one step before fork() would be
		 * all of it.  FIONREAD is no hooked call.
		 */
		wait_bytes(fd, 10000);
		n = read(fd, buf, sizeof(buf));
		report("parent: non-blocking read", n, errno, buf);
		pid = fork();
		if (pid == 0) {
			fcntl(fd, F_SETFL, fl);
			clock_gettime(CLOCK_MONOTONIC, &t0);
			echo_once(fd, "child: read");
			close(fd);
			_exit(0);
		}
		close(fd);
		waitpid(pid, &st, 0);
		say("child %d exited %d", i, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	return 0;
}

/* ------------------------------------------------------ fork, ready */

static pid_t ctl_tid;

/*
 * One non-blocking read with a control record next (the client's
 * renegotiation request): under the shim, acting on it sends a refusal,
 * which waits for room on the full send buffer, with the connection's
 * lock held.  Once sent, the read looks again and finds nothing.
 */
static void *ctl_reader(void *arg)
{
	int fd = *(int *)arg;
	char buf[256];
	ssize_t n;

	__atomic_store_n(&ctl_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	report("parent thread: recv", n, errno, buf);
	return NULL;
}

/* Whether thread tid is blocked in system call nr (/proc/self/task/TID/syscall). */
static int in_syscall(pid_t tid, long nr)
{
	char path[64], line[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	line[n] = '\0';
	return strtol(line, NULL, 10) == nr;
}

/*
 * A ready TLS 1.2 connection: the client asks to renegotiate, then stops
 * reading (the script stops it, then creates GO).  The server fills its
 * send buffer, and a thread's read meets the renegotiation request: the
 * shim declines it, and that alert waits for room with the connection's
 * lock held.  The main thread forks right then (seen in /proc: the thread
 * is in sendmsg).  The child tries a write (data: the kernel's, untouched)
 * and a read, which meets the next control record (the client's fatal
 * alert, once it runs again): the child's copy of the session was taken
 * in the middle of the parent's update, so it must not act on it.
 */
static int m_forkready(int port, const char *go)
{
	static char chunk[16384];
	int lfd, fd, fl, st, small = 8192, i;
	char buf[256];
	size_t filled = 0;
	pthread_t t;
	pid_t pid, tid = 0;
	ssize_t n;

	lfd = listen_on(port);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		say("accept: %s", strerror(errno));
		return 1;
	}
	n = read(fd, buf, sizeof(buf));
	report("parent: read", n, errno, buf);
	if (n <= 0)
		return 1;
	say("parent: a record is queued: %s", wait_readable(fd, 20000) ? "yes" : "no");
	for (i = 0; i < 2000 && access(go, F_OK) != 0; i++)
		usleep(10 * 1000);
	/* A small buffer: the client's window and this fill quickly (TCG encrypts slowly). */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	memset(chunk, 'x', sizeof(chunk));
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while ((n = write(fd, chunk, sizeof(chunk))) > 0)
		filled += (size_t)n;
	say("parent: filled %zu bytes: %s", filled, strerror(errno));
	fcntl(fd, F_SETFL, fl);
	pthread_create(&t, NULL, ctl_reader, &fd);
	for (i = 0; i < 1000; i++) {
		tid = __atomic_load_n(&ctl_tid, __ATOMIC_ACQUIRE);
		if (tid && in_syscall(tid, SYS_sendmsg))
			break;
		usleep(10 * 1000);
	}
	say("parent: the reader thread waits in sendmsg: %s", i < 1000 ? "yes" : "no");
	pid = fork();
	if (pid == 0) {
		say("child: forked");
		n = send(fd, "child", 5, MSG_DONTWAIT);
		report("child: non-blocking write", n < 0 ? -1 : n, errno, "child");
		n = read(fd, buf, sizeof(buf));
		report("child: read", n, errno, buf);
		close(fd);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	say("child exited %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	pthread_join(t, NULL);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	clock_gettime(CLOCK_MONOTONIC, &t0);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && !strcmp(argv[1], "emfile"))
		return m_emfile(atoi(argv[2]));
	if (argc >= 4 && !strcmp(argv[1], "signal"))
		return m_signal(atoi(argv[2]), argv[3]);
	if (argc >= 3 && !strcmp(argv[1], "forkthread"))
		return m_forkthread(atoi(argv[2]));
	if (argc >= 4 && !strcmp(argv[1], "forkeach"))
		return m_forkeach(atoi(argv[2]), atoi(argv[3]));
	if (argc >= 4 && !strcmp(argv[1], "forkready"))
		return m_forkready(atoi(argv[2]), argv[3]);
	fprintf(stderr, "usage: faultprog emfile PORT | signal PORT restart|norestart | "
			"forkthread PORT | forkeach PORT N | forkready PORT GOFILE\n");
	return 2;
}
