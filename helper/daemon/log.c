/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "daemon/log.h"

static bool use_stderr;
static int debug;
/* One line at a time on stderr, whatever the number of workers. */
static pthread_mutex_t stderr_lock = PTHREAD_MUTEX_INITIALIZER;

void hd_log_open(bool to_stderr, int debug_level)
{
	use_stderr = to_stderr;
	debug = debug_level;
	if (!use_stderr)
		openlog("handoffd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void hd_log_set_debug(int debug_level)
{
	debug = debug_level;
}

void hd_log(int priority, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (priority == LOG_DEBUG && debug <= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!use_stderr) {
		syslog(priority, "%s", line);
		return;
	}
	pthread_mutex_lock(&stderr_lock);
	fprintf(stderr, "handoffd: %s\n", line);
	pthread_mutex_unlock(&stderr_lock);
}
