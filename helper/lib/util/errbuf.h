/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef HANDOFF_UTIL_ERRBUF_H
#define HANDOFF_UTIL_ERRBUF_H

/*
 * The error text kept on a config or connection object.  Library code never
 * prints: it records what went wrong here and returns -1; the caller asks.
 */
/*
 * The buffer is taken at the first error and kept (stable for the caller
 * of errbuf_get) until errbuf_release(): most connections never fail, and
 * an idle connection should not carry 512 unused bytes.  If it cannot be
 * had, the text is a fixed "out of memory" one.
 */
#define ERRBUF_MAX 512

struct errbuf {
	char *msg;		/* NULL until the first error */
	int set;
};

/* Free the buffer (the object goes away); e reads as empty afterwards. */
void errbuf_release(struct errbuf *e);

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
