/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Connections this image inherited through exec, already TLS in the
 * kernel: an inetd-style child (socat ... SYSTEM:...,nofork, a
 * fork-and-exec daemon) gets its client on stdin and stdout after the
 * exec hooks finished the handshake (hooks/exec.c).  The kernel goes on
 * doing the records for data, but a plain read fails with EIO at the
 * first record that is not data: the peer's close_notify would reach the
 * program as an I/O error instead of the end of the stream.  So at
 * start-up every inherited kTLS socket joins the table without a session
 * (conn_adopt) as an engine connection without a session (adopt.c), and
 * the engine handles its records as a delegated connection's: close_notify
 * reads as the end, alerts as errors, tickets are dropped, renegotiation
 * declined; a TLS 1.3 KeyUpdate ends the connection, since the traffic
 * secrets stayed in the process before exec.  Which end we are is not
 * known here, so the engine takes what either end may receive.
 *
 * Only the kernel's TLS state tells; nothing crosses exec in the
 * environment.  getsockopt(TLS_RX) with room for its header alone returns
 * the version and cipher and no key bytes.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/tls.h>

#include "core/fdtable.h"
#include "core/log.h"
#include "core/shim.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

/* Where /proc is not mounted, the fds below this are looked at. */
#define NO_PROC_FD_LIMIT 1024
#define MAX_SOCKETS 4096

struct seen {
	dev_t dev;
	ino_t ino;
	struct shim_conn *c;
};

static bool is_ktls(int fd, struct stat *st)
{
	struct tls_crypto_info info;
	socklen_t len = sizeof(info);
	char ulp[16] = "";
	socklen_t ulen = sizeof(ulp);

	return fstat(fd, st) == 0 && S_ISSOCK(st->st_mode) &&
	       getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &ulen) == 0 && !strcmp(ulp, "tls") &&
	       getsockopt(fd, SOL_TLS, TLS_RX, &info, &len) == 0;
}

/* *seen is taken at the first kTLS fd: most programs inherit none. */
static void adopt(int fd, struct seen **seen, unsigned *n_seen)
{
	struct shim_conn *same = NULL, *c;
	struct stat st;
	unsigned i;

	if (!is_ktls(fd, &st))
		return;
	if (!*seen)
		*seen = calloc(MAX_SOCKETS, sizeof(**seen));
	for (i = 0; i < *n_seen; i++)
		if ((*seen)[i].dev == st.st_dev && (*seen)[i].ino == st.st_ino)
			same = (*seen)[i].c;
	c = conn_adopt(fd, same);
	if (!c) {
		shim_log(LOG_WARNING, "fd %d: a TLS connection inherited across exec could not be "
			 "tracked: its non-data records will read as EIO", fd);
		return;
	}
	shim_log(LOG_DEBUG, "fd %d: TLS connection with %s inherited across exec", fd, c->peer);
	if (!same && *seen && *n_seen < MAX_SOCKETS)
		(*seen)[(*n_seen)++] = (struct seen){ st.st_dev, st.st_ino, c };
}

void conn_adopt_inherited(void)
{
	struct seen *seen = NULL;
	unsigned n_seen = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	d = opendir("/proc/self/fd");
	if (d) {
		while ((de = readdir(d))) {
			char *end;
			long v = strtol(de->d_name, &end, 10);

			if (de->d_name[0] == '.' || *end || v < 0 || v == dirfd(d))
				continue;
			adopt((int)v, &seen, &n_seen);
		}
		closedir(d);
	} else {
		for (fd = 0; fd < NO_PROC_FD_LIMIT; fd++)
			adopt(fd, &seen, &n_seen);
	}
	free(seen);
}
