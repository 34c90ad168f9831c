/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "core/fdtable.h"

/* Past a million fds a program is not one we size a flat table for. */
#define FDTABLE_MAX (1u << 20)

struct shim_conn **shim_fdtable;
unsigned shim_fdtable_size;

int fdtable_init(void)
{
	struct rlimit rl;
	rlim_t n = 65536;
	void *p;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY)
		n = rl.rlim_max > n ? rl.rlim_max : n;
	if (n > FDTABLE_MAX)
		n = FDTABLE_MAX;
	p = mmap(NULL, n * sizeof(*shim_fdtable), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	shim_fdtable = p;
	__atomic_store_n(&shim_fdtable_size, (unsigned)n, __ATOMIC_RELEASE);
	return 0;
}

bool fdtable_set(int fd, struct shim_conn *c)
{
	if (fd < 0 || (unsigned)fd >= shim_fdtable_size)
		return false;
	__atomic_store_n(&shim_fdtable[fd], c, __ATOMIC_RELEASE);
	return true;
}

struct shim_conn *fdtable_take(int fd)
{
	if (fd < 0 || (unsigned)fd >= shim_fdtable_size)
		return 0;
	return __atomic_exchange_n(&shim_fdtable[fd], (struct shim_conn *)0, __ATOMIC_ACQ_REL);
}
