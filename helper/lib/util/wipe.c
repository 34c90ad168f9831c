/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "util/wipe.h"

void wipe(void *p, size_t len)
{
	if (!p || !len)
		return;
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, len);
#else
	memset(p, 0, len);
	/* The barrier tells the compiler the zeros are observed. */
	__asm__ __volatile__("" : : "r"(p) : "memory");
#endif
}

void wipe_free(void *p, size_t len)
{
	wipe(p, len);
	free(p);
}
