/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shim's only voice.  It never writes to the program's stdout or
 * stderr unless the config says `log = stderr` or `debug = yes` (or
 * HANDOFF_SHIM_DEBUG=1): by default lines go to syslog, or to a file.
 */
#ifndef SHIM_CORE_LOG_H
#define SHIM_CORE_LOG_H

#include <syslog.h>

#include "config/conf.h"

/* Set the target from the config (before any line is logged). */
void shim_log_setup(const struct shim_conf *conf, int debug);

/* LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG (only with debug on). */
void shim_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
