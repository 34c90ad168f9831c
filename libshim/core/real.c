/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "core/real.h"

/*
 * Until resolve() has run, each pointer leads to a trampoline that runs it
 * and then makes the call, so a hook never tests for NULL: libraries the
 * shim depends on (GnuTLS) initialise before our constructor and already
 * call read() and close() through our hooks.
 */
#define FIRST(ret, name, params, args)                                         \
	static ret first_##name params                                         \
	{                                                                       \
		shim_real_resolve();                                            \
		return shim_real.name args;                                     \
	}
FIRST(int, accept, (int a, struct sockaddr *b, socklen_t *c), (a, b, c))
FIRST(int, accept4, (int a, struct sockaddr *b, socklen_t *c, int d), (a, b, c, d))
FIRST(int, connect, (int a, const struct sockaddr *b, socklen_t c), (a, b, c))
FIRST(ssize_t, read, (int a, void *b, size_t c), (a, b, c))
FIRST(ssize_t, readv, (int a, const struct iovec *b, int c), (a, b, c))
FIRST(ssize_t, recv, (int a, void *b, size_t c, int d), (a, b, c, d))
FIRST(ssize_t, recvfrom, (int a, void *b, size_t c, int d, struct sockaddr *e, socklen_t *f),
      (a, b, c, d, e, f))
FIRST(ssize_t, recvmsg, (int a, struct msghdr *b, int c), (a, b, c))
FIRST(ssize_t, write, (int a, const void *b, size_t c), (a, b, c))
FIRST(ssize_t, writev, (int a, const struct iovec *b, int c), (a, b, c))
FIRST(ssize_t, send, (int a, const void *b, size_t c, int d), (a, b, c, d))
FIRST(ssize_t, sendto, (int a, const void *b, size_t c, int d, const struct sockaddr *e,
			socklen_t f), (a, b, c, d, e, f))
FIRST(ssize_t, sendmsg, (int a, const struct msghdr *b, int c), (a, b, c))
FIRST(ssize_t, sendfile, (int a, int b, off_t *c, size_t d), (a, b, c, d))
FIRST(ssize_t, splice, (int a, off64_t *b, int c, off64_t *d, size_t e, unsigned int f),
      (a, b, c, d, e, f))
FIRST(int, close, (int a), (a))
FIRST(int, shutdown, (int a, int b), (a, b))
FIRST(int, dup, (int a), (a))
FIRST(int, dup2, (int a, int b), (a, b))
FIRST(int, dup3, (int a, int b, int c), (a, b, c))
FIRST(int, getaddrinfo, (const char *a, const char *b, const struct addrinfo *c,
			 struct addrinfo **d), (a, b, c, d))
FIRST(int, socket, (int a, int b, int c), (a, b, c))
FIRST(FILE *, fdopen, (int a, const char *b), (a, b))
FIRST(int, execve, (const char *a, char *const b[], char *const c[]), (a, b, c))
FIRST(int, execv, (const char *a, char *const b[]), (a, b))
FIRST(int, execvp, (const char *a, char *const b[]), (a, b))
FIRST(int, execvpe, (const char *a, char *const b[], char *const c[]), (a, b, c))
FIRST(int, fexecve, (int a, char *const b[], char *const c[]), (a, b, c))
FIRST(int, posix_spawn, (pid_t *a, const char *b, const posix_spawn_file_actions_t *c,
			 const posix_spawnattr_t *d, char *const e[], char *const f[]),
      (a, b, c, d, e, f))
FIRST(int, posix_spawnp, (pid_t *a, const char *b, const posix_spawn_file_actions_t *c,
			  const posix_spawnattr_t *d, char *const e[], char *const f[]),
      (a, b, c, d, e, f))
FIRST(int, system, (const char *a), (a))
FIRST(int, poll, (struct pollfd *a, nfds_t b, int c), (a, b, c))
FIRST(int, ppoll, (struct pollfd *a, nfds_t b, const struct timespec *c, const sigset_t *d),
      (a, b, c, d))
FIRST(int, select, (int a, fd_set *b, fd_set *c, fd_set *d, struct timeval *e), (a, b, c, d, e))
FIRST(int, pselect, (int a, fd_set *b, fd_set *c, fd_set *d, const struct timespec *e,
		     const sigset_t *f), (a, b, c, d, e, f))
FIRST(FILE *, popen, (const char *a, const char *b), (a, b))
#undef FIRST

struct shim_real shim_real = {
	.accept = first_accept,
	.accept4 = first_accept4,
	.connect = first_connect,
	.read = first_read,
	.readv = first_readv,
	.recv = first_recv,
	.recvfrom = first_recvfrom,
	.recvmsg = first_recvmsg,
	.write = first_write,
	.writev = first_writev,
	.send = first_send,
	.sendto = first_sendto,
	.sendmsg = first_sendmsg,
	.sendfile = first_sendfile,
	.splice = first_splice,
	.close = first_close,
	.shutdown = first_shutdown,
	.dup = first_dup,
	.dup2 = first_dup2,
	.dup3 = first_dup3,
	.getaddrinfo = first_getaddrinfo,
	.socket = first_socket,
	.fdopen = first_fdopen,
	.execve = first_execve,
	.execv = first_execv,
	.execvp = first_execvp,
	.execvpe = first_execvpe,
	.fexecve = first_fexecve,
	.posix_spawn = first_posix_spawn,
	.posix_spawnp = first_posix_spawnp,
	.system = first_system,
	.poll = first_poll,
	.ppoll = first_ppoll,
	.select = first_select,
	.pselect = first_pselect,
	.popen = first_popen,
	/* Optional ones start NULL; the hooks that use them call shim_real_resolve() first. */
};

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
	REQ(execve);
	REQ(execv);
	REQ(execvp);
	REQ(execvpe);
	REQ(fexecve);
	REQ(posix_spawn);
	REQ(posix_spawnp);
	REQ(system);
	REQ(poll);
	REQ(ppoll);
	REQ(select);
	REQ(pselect);
	REQ(popen);
	OPT(__read_chk);
	OPT(__recv_chk);
	OPT(__recvfrom_chk);
	OPT(__poll_chk);
	OPT(__ppoll_chk);
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
