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
static int high;	/* highest fd ever stored + 1 */

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
	int h;

	if (fd < 0 || (unsigned)fd >= shim_fdtable_size)
		return false;
	__atomic_store_n(&shim_fdtable[fd], c, __ATOMIC_RELEASE);
	for (h = __atomic_load_n(&high, __ATOMIC_RELAXED); c && fd >= h;)
		if (__atomic_compare_exchange_n(&high, &h, fd + 1, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			break;
	return true;
}

struct shim_conn *fdtable_take(int fd)
{
	if (fd < 0 || (unsigned)fd >= shim_fdtable_size)
		return 0;
	return __atomic_exchange_n(&shim_fdtable[fd], (struct shim_conn *)0, __ATOMIC_ACQ_REL);
}

int fdtable_find(const struct shim_conn *c, int except)
{
	int fd, n = __atomic_load_n(&high, __ATOMIC_RELAXED);

	for (fd = 0; fd < n; fd++)
		if (fd != except && __atomic_load_n(&shim_fdtable[fd], __ATOMIC_ACQUIRE) == c)
			return fd;
	return -1;
}

int fdtable_high(void)
{
	return __atomic_load_n(&high, __ATOMIC_RELAXED);
}
