/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one JSON string writer of the CLI's --json outputs (check, status). */
#ifndef HANDOFF_CLI_JSON_H
#define HANDOFF_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>

/*
 * Writes s to stdout as a JSON string: at most n bytes, ending early at a
 * NUL; quotes, backslashes and control characters escaped.  NULL is null.
 */
void json_string(const char *s, size_t n);

/* A NUL-terminated string (or NULL). */
static inline void json_cstr(const char *s)
{
	json_string(s, SIZE_MAX);
}

#endif
