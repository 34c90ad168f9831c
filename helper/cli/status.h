/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading handoffd's status socket (the format is described in
 * helper/daemon/status.h): `handoff status` prints it, `handoff check`
 * asks whether a daemon answers.
 */
#ifndef HANDOFF_CLI_STATUS_H
#define HANDOFF_CLI_STATUS_H

#include <stddef.h>

/* Where handoffd listens unless told otherwise (helper/daemon/status.h). */
#define CLI_STATUS_SOCKET_DEFAULT "/run/handoffd/status.sock"

/*
 * status_fetch - connect to path and read one whole report into buf
 * (NUL-terminated), within timeout_ms.  Returns its length, or a negative
 * errno: what connect() said (-ENOENT no socket, -ECONNREFUSED nobody
 * listening, -EACCES not allowed), -ETIMEDOUT, -EPROTO when the report is
 * not a handoffd status report or is cut short, -EMSGSIZE when buf is too
 * small.
 */
int status_fetch(const char *path, char *buf, size_t size, unsigned timeout_ms);

/* status_value - the value of key in a fetched report, or NULL. */
const char *status_value(const char *report, const char *key, char *out, size_t size);

#endif
