/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoffd's log: syslog (daemon facility), or stderr with -s.  Only the
 * daemon's top levels log; the parts below return errors.
 */
#ifndef HANDOFFD_LOG_H
#define HANDOFFD_LOG_H

#include <stdbool.h>
#include <syslog.h>

void hd_log_open(bool to_stderr, int debug_level);
void hd_log_set_debug(int debug_level);
void hd_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define hd_err(...) hd_log(LOG_ERR, __VA_ARGS__)
#define hd_warn(...) hd_log(LOG_WARNING, __VA_ARGS__)
#define hd_notice(...) hd_log(LOG_NOTICE, __VA_ARGS__)
#define hd_info(...) hd_log(LOG_INFO, __VA_ARGS__)
#define hd_debug(...) hd_log(LOG_DEBUG, __VA_ARGS__)

#endif
