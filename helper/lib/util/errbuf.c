/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/errbuf.h"

int errbuf_set(struct errbuf *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->set = 1;
	return -1;
}

int errbuf_set_errno(struct errbuf *e, int err, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	if (err < 0)
		err = -err;
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(err));
	e->set = 1;
	return -1;
}

void errbuf_clear(struct errbuf *e)
{
	e->msg[0] = '\0';
	e->set = 0;
}

const char *errbuf_get(const struct errbuf *e)
{
	return e->set ? e->msg : NULL;
}
