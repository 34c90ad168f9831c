/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/errbuf.h"

static const char oom_text[] = "out of memory (and the error message with it)";

/* The buffer to write into, or NULL: then e says oom_text. */
static char *buffer(struct errbuf *e)
{
	if (e->msg && e->msg != oom_text)
		return e->msg;
	e->msg = malloc(ERRBUF_MAX);
	if (!e->msg) {
		e->msg = (char *)oom_text;
		return NULL;
	}
	return e->msg;
}

static void vset(struct errbuf *e, bool with_errno, int err, const char *fmt, va_list ap)
{
	char *m = buffer(e);
	size_t n;

	e->set = 1;
	if (!m)
		return;
	vsnprintf(m, ERRBUF_MAX, fmt, ap);
	if (with_errno) {
		n = strlen(m);
		snprintf(m + n, ERRBUF_MAX - n, ": %s", strerror(err < 0 ? -err : err));
	}
}

int errbuf_set(struct errbuf *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, false, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int errbuf_set_errno(struct errbuf *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, true, err, fmt, ap);
	va_end(ap);
	return -1;
}

void errbuf_clear(struct errbuf *e)
{
	if (e->msg && e->msg != oom_text)
		e->msg[0] = '\0';
	e->set = 0;
}

const char *errbuf_get(const struct errbuf *e)
{
	return e->set && e->msg ? e->msg : NULL;
}

void errbuf_release(struct errbuf *e)
{
	if (e->msg != oom_text)
		free(e->msg);
	e->msg = NULL;
	e->set = 0;
}
