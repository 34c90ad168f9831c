/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef HANDOFF_UTIL_ERRBUF_H
#define HANDOFF_UTIL_ERRBUF_H

/*
 * The error text kept on a config or connection object.  Library code never
 * prints: it records what went wrong here and returns -1; the caller asks.
 */
struct errbuf {
	char msg[512];
	int set;
};

/* Record a message (printf format); returns -1 so callers can `return errbuf_set(...)`. */
int errbuf_set(struct errbuf *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Same, with ": <strerror(err)>" appended; err is a positive or negative errno. */
int errbuf_set_errno(struct errbuf *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void errbuf_clear(struct errbuf *e);
/* The message, or NULL if none is set. */
const char *errbuf_get(const struct errbuf *e);

#endif
