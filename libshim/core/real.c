/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "core/real.h"

struct shim_real shim_real;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int resolve_status;

static void *next(const char *name, int required)
{
	void *fn = dlsym(RTLD_NEXT, name);
	static const char pre[] = "handoff-preload: libc has no ";

	if (!fn && required) {
		/* Nothing else can report this: no config and no log exist yet. */
		(void)!write(2, pre, sizeof(pre) - 1);
		(void)!write(2, name, strlen(name));
		(void)!write(2, "\n", 1);
		resolve_status = -1;
	}
	return fn;
}

static void resolve(void)
{
	struct shim_real r;

#define REQ(f) (*(void **)&r.f = next(#f, 1))
#define OPT(f) (*(void **)&r.f = next(#f, 0))
	REQ(accept);
	REQ(accept4);
	REQ(connect);
	REQ(read);
	REQ(readv);
	REQ(recv);
	REQ(recvfrom);
	REQ(recvmsg);
	REQ(write);
	REQ(writev);
	REQ(send);
	REQ(sendto);
	REQ(sendmsg);
	REQ(sendfile);
	OPT(sendfile64);
	REQ(splice);
	REQ(close);
	REQ(shutdown);
	OPT(close_range);	/* glibc 2.34+ */
	REQ(dup);
	REQ(dup2);
	REQ(dup3);
	REQ(getaddrinfo);
	REQ(socket);
	REQ(fdopen);
	OPT(__read_chk);
	OPT(__recv_chk);
	OPT(__recvfrom_chk);
#undef REQ
#undef OPT
	/*
	 * A libc without these is not one we can stand in front of, and a
	 * hook has no way to report it: stop before the program runs on.
	 */
	if (resolve_status < 0)
		_exit(127);
	/* Pointer-sized stores: a hook in another thread sees NULL (and waits in pthread_once) or the function. */
	shim_real = r;
}

void shim_real_resolve(void)
{
	pthread_once(&once, resolve);
}
