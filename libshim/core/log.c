/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/real.h"
#include "core/shim.h"

static enum shim_log_target target = SHIM_LOG_SYSLOG;
static int log_fd = -1;
static int debug_on;

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
	/* syslog() connects a socket of its own: keep our hooks out of it. */
	busy = shim_enter();
	if (target == SHIM_LOG_SYSLOG) {
		syslog(LOG_DAEMON | level, "handoff-preload[%d]: %s", (int)getpid(), line);
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
