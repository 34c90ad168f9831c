/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fd -> shim connection, for the hot path of every hooked call.
 *
 * A flat array indexed by fd, one atomic pointer per slot, sized once from
 * the hard RLIMIT_NOFILE and mapped lazily (untouched pages cost nothing).
 * A lookup is one bounds check and one load; fds the shim does not own pay
 * exactly that.  Writers (accept, connect, close, dup) are rare and only
 * ever store a pointer.
 */
#ifndef SHIM_CORE_FDTABLE_H
#define SHIM_CORE_FDTABLE_H

#include <stdbool.h>

struct shim_conn;

extern struct shim_conn **shim_fdtable;
extern unsigned shim_fdtable_size;

/* Map the table; 0 or negative errno.  Called once from the shim's init. */
int fdtable_init(void);

static inline struct shim_conn *fdtable_get(int fd)
{
	if ((unsigned)fd >= shim_fdtable_size)
		return (struct shim_conn *)0;
	return __atomic_load_n(&shim_fdtable[fd], __ATOMIC_ACQUIRE);
}

/* Store c (or NULL) for fd; false if fd is beyond the table. */
bool fdtable_set(int fd, struct shim_conn *c);

/* Take fd's entry out (returns what was there, or NULL). */
struct shim_conn *fdtable_take(int fd);

/*
 * Another fd than except that refers to c, or -1.  A scan up to the
 * highest fd ever stored: only for the rare close of a dup'd connection's
 * original number.
 */
int fdtable_find(const struct shim_conn *c, int except);

/* One past the highest fd ever stored: where a scan of the table may stop. */
int fdtable_high(void);

#endif
