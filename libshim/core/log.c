/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where the shim's lines go.  For syslog the shim keeps a datagram socket
 * of its own to /dev/log instead of calling glibc's syslog():
 *  - glibc connects at the first line, and a process at its fd limit
 *    (EMFILE) lost exactly the line that says why its connections fail.
 *    Ours is made at start-up: the one fd the shim's log takes, once;
 *  - glibc's socket, ident and options are the program's too (its own
 *    openlog() or closelog() would move ours), and glibc trusts the fd
 *    number it cached: a daemon that closes every fd and opens sockets of
 *    its own could have a line sent down one of them.  Before each line
 *    we check that the fd is still the socket we made (its inode); if the
 *    program closed it, the next line makes a new one;
 *  - syslogd restarting (a new /dev/log) needs no new fd: a datagram
 *    socket connects again.
 * The line is what glibc's syslog() sent for us before: the program's
 * name as the tag, then "handoff-preload[PID]: ".  It never blocks: a
 * syslogd that does not keep up loses lines, the program does not wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/real.h"
#include "core/shim.h"

#define SYSLOG_PATH "/dev/log"

static enum shim_log_target target = SHIM_LOG_SYSLOG;
static int log_fd = -1;
static int debug_on;

/* The syslog socket: made by us, still ours while its inode is the one we saw. */
static pthread_mutex_t sys_lock = PTHREAD_MUTEX_INITIALIZER;
static int sys_fd = -1;
static dev_t sys_dev;
static ino_t sys_ino;
static bool sys_connected;

/* Under sys_lock. */
static bool sys_still_ours(void)
{
	struct stat st;

	return fstat(sys_fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == sys_dev &&
	       st.st_ino == sys_ino;
}

/* Under sys_lock: (re)connect to syslogd's socket; a datagram socket may do so again. */
static bool sys_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = SYSLOG_PATH };

	sys_connected = SHIM_REAL(connect)(sys_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	return sys_connected;
}

/* Under sys_lock.  Kept even when no syslogd listens yet: the fd is taken once. */
static void sys_open(void)
{
	struct stat st;
	int fd;

	fd = SHIM_REAL(socket)(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0) {
		SHIM_REAL(close)(fd);
		return;
	}
	sys_fd = fd;
	sys_dev = st.st_dev;
	sys_ino = st.st_ino;
	(void)sys_connect();
}

/* The child of a fork with another thread in sys_send(): the lock is reborn free. */
static void sys_atfork_child(void)
{
	pthread_mutex_init(&sys_lock, NULL);
}

static void sys_send(int level, const char *line)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char out[1200];
	struct tm tm;
	time_t now = time(NULL);
	int n;

	localtime_r(&now, &tm);	/* the zone was read at setup: no fd here */
	n = snprintf(out, sizeof(out), "<%d>%s %2d %02d:%02d:%02d %s: handoff-preload[%d]: %s",
		     LOG_DAEMON | level, months[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, program_invocation_short_name, (int)getpid(), line);
	if (n < 0)
		return;
	if (n > (int)sizeof(out) - 1)
		n = (int)sizeof(out) - 1;
	pthread_mutex_lock(&sys_lock);
	if (sys_fd >= 0 && !sys_still_ours())
		sys_fd = -1;	/* the program closed it; the number is not ours to close */
	if (sys_fd < 0)
		sys_open();
	if (sys_fd >= 0 && (sys_connected || sys_connect()) &&
	    SHIM_REAL(send)(sys_fd, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
	    errno != EAGAIN && sys_connect())
		/* syslogd restarted: its socket is a new one. */
		(void)SHIM_REAL(send)(sys_fd, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	pthread_mutex_unlock(&sys_lock);
}

void shim_log_setup(const struct shim_conf *conf, int debug)
{
	debug_on = debug || (conf && conf->debug);
	target = conf ? conf->log : SHIM_LOG_STDERR;
	if (target == SHIM_LOG_FILE) {
		log_fd = open(conf->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (log_fd < 0)
			target = SHIM_LOG_SYSLOG;	/* still somewhere an operator looks */
	}
	/* Debugging means watching it happen. */
	if (debug_on && target == SHIM_LOG_SYSLOG)
		target = SHIM_LOG_STDERR;
	if (target == SHIM_LOG_SYSLOG) {
		tzset();	/* the time zone file is read now, not at a line with no fd left */
		pthread_atfork(NULL, NULL, sys_atfork_child);
		pthread_mutex_lock(&sys_lock);
		sys_open();
		pthread_mutex_unlock(&sys_lock);
	}
}

void shim_log(int level, const char *fmt, ...)
{
	char line[1024];
	int saved = errno, n, busy;
	va_list ap;

	if (level == LOG_DEBUG && !debug_on)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Our own sockets and writes: keep our hooks out of them. */
	busy = shim_enter();
	if (target == SHIM_LOG_SYSLOG) {
		sys_send(level, line);
	} else {
		char out[1100];

		n = snprintf(out, sizeof(out), "handoff-preload[%d]: %s\n", (int)getpid(), line);
		if (n > (int)sizeof(out) - 1)
			n = (int)sizeof(out) - 1;
		(void)!SHIM_REAL(write)(target == SHIM_LOG_FILE ? log_fd : 2, out, (size_t)n);
	}
	shim_leave(busy);
	errno = saved;
}
