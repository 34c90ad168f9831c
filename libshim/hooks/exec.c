/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The exec family (and posix_spawn, system, popen, which exec in a child).
 *
 * A new program image starts with an empty table: it cannot know that an
 * inherited fd is a TLS connection whose handshake has not run yet, and
 * would write to it in plaintext (inetd-style servers: socat ... SYSTEM:
 * with nofork, a fork-and-exec daemon).  So before the image changes, a
 * connection on stdin/stdout/stderr finishes its handshake here, and any
 * other one still handshaking is not inherited (conn_finish_inherited()).
 * After that the kernel encrypts whatever the new program writes; a
 * handshake that fails shuts the socket down, so the new program gets
 * errors, never a plaintext peer.
 */
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/real.h"
#include "hooks/gate.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* glibc's execl* take at most this many arguments here before we give up with E2BIG. */
#define EXECL_MAX_ARGS 4096

static void before_exec(void)
{
	if (!shim_busy && shim_conf)
		conn_finish_inherited();
}

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	before_exec();
	return SHIM_REAL(execve)(path, argv, envp);
}

SHIM_EXPORT int execv(const char *path, char *const argv[])
{
	before_exec();
	return SHIM_REAL(execv)(path, argv);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[])
{
	before_exec();
	return SHIM_REAL(execvp)(file, argv);
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	before_exec();
	return SHIM_REAL(execvpe)(file, argv, envp);
}

SHIM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	before_exec();
	return SHIM_REAL(fexecve)(fd, argv, envp);
}

/* The execl* forms: collect the list, then the matching execv* above. */
static char **collect(const char *arg0, va_list ap, char ***envp)
{
	char **argv = malloc(EXECL_MAX_ARGS * sizeof(*argv));
	size_t n = 0;

	if (!argv)
		return NULL;
	argv[n++] = (char *)arg0;
	while (arg0 && n < EXECL_MAX_ARGS && (argv[n] = va_arg(ap, char *)))
		n++;
	if (n == EXECL_MAX_ARGS) {
		free(argv);
		errno = E2BIG;
		return NULL;
	}
	argv[n] = NULL;
	if (envp)
		*envp = va_arg(ap, char **);
	return argv;
}

enum execl_kind { EXECL, EXECLP, EXECLE };

static int execl_any(enum execl_kind kind, const char *path, const char *arg, va_list ap)
{
	char **argv, **envp = NULL;
	int ret;

	argv = collect(arg, ap, kind == EXECLE ? &envp : NULL);
	if (!argv)
		return -1;
	if (kind == EXECLE)
		ret = execve(path, argv, envp);
	else if (kind == EXECLP)
		ret = execvp(path, argv);
	else
		ret = execv(path, argv);
	free(argv);
	return ret;
}

SHIM_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	int ret;

	va_start(ap, arg);
	ret = execl_any(EXECL, path, arg, ap);
	va_end(ap);
	return ret;
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	int ret;

	va_start(ap, arg);
	ret = execl_any(EXECLP, file, arg, ap);
	va_end(ap);
	return ret;
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	int ret;

	va_start(ap, arg);
	ret = execl_any(EXECLE, path, arg, ap);
	va_end(ap);
	return ret;
}

SHIM_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	before_exec();
	return SHIM_REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
}

SHIM_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			     const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	before_exec();
	return SHIM_REAL(posix_spawnp)(pid, file, fa, attr, argv, envp);
}

SHIM_EXPORT int system(const char *command)
{
	before_exec();
	return SHIM_REAL(system)(command);
}

SHIM_EXPORT FILE *popen(const char *command, const char *type)
{
	before_exec();
	return SHIM_REAL(popen)(command, type);
}
