/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/status.h"

struct out {
	char *buf;
	size_t size, len;
	bool full;
};

static void __attribute__((format(printf, 2, 3))) put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len) {
		o->full = true;
		return;
	}
	o->len += (size_t)n;
}

/* One line each: a peer or cause with a newline in it must not forge a key. */
static void put_word(struct out *o, const char *s, bool spaces)
{
	char clean[256];
	size_t i;

	for (i = 0; s[i] && i < sizeof(clean) - 1; i++)
		clean[i] = (s[i] == '\n' || s[i] == '\r' || (!spaces && s[i] == ' ')) ? '_' : s[i];
	clean[i] = '\0';
	put(o, "%s", i ? clean : "-");
}

int hd_status_format(char *buf, size_t size, const struct hd_status_info *info,
		     const struct hd_stats_snapshot *snap)
{
	static const char *const roles[HD_STATS_ROLES] = { "client", "server" };
	struct out o = { .buf = buf, .size = size };
	uint64_t ok = 0, failed = 0;
	char name[32];

	if (!size)
		return -ENOSPC;
	for (int r = 0; r < HD_STATS_ROLES; r++) {
		ok += snap->ok[r];
		failed += snap->failed[r];
	}
	put(&o, "handoffd-status %d\n", HD_STATUS_VERSION);
	put(&o, "version %s\n", PACKAGE_VERSION);
	put(&o, "pid %ld\n", info->pid);
	put(&o, "mode %s\n", info->mode);
	put(&o, "uptime %lu\n", info->uptime_s);
	put(&o, "config ");
	put_word(&o, info->config ? info->config : "built-in", true);
	put(&o, "\nconfig-generation %u\n", info->config_generation);
	put(&o, "workers %u\n", info->workers);
	put(&o, "workers-busy %u\n", snap->busy);
	put(&o, "max-handshakes %u\n", info->max_handshakes);
	put(&o, "in-flight %u\n", info->in_flight);
	put(&o, "queued %u\n", info->in_flight > snap->busy ? info->in_flight - snap->busy : 0);
	put(&o, "handshakes %llu\n", (unsigned long long)(ok + failed));
	put(&o, "ok %llu\n", (unsigned long long)ok);
	put(&o, "failed %llu\n", (unsigned long long)failed);
	for (int r = 0; r < HD_STATS_ROLES; r++) {
		put(&o, "%s-ok %llu\n", roles[r], (unsigned long long)snap->ok[r]);
		put(&o, "%s-failed %llu\n", roles[r], (unsigned long long)snap->failed[r]);
	}
	for (unsigned i = 0; i < snap->n_status; i++)
		put(&o, "failed-%s %llu\n",
		    hd_stats_status_name(snap->by_status[i].status, name, sizeof(name)),
		    (unsigned long long)snap->by_status[i].n);
	if (snap->other_status)
		put(&o, "failed-other %llu\n", (unsigned long long)snap->other_status);
	put(&o, "latency-window %u\n", snap->window);
	put(&o, "latency-p50-ms %u\n", snap->p50_ms);
	put(&o, "latency-p90-ms %u\n", snap->p90_ms);
	put(&o, "latency-p99-ms %u\n", snap->p99_ms);
	put(&o, "latency-max-ms %u\n", snap->max_ms);
	for (unsigned i = 0; i < snap->n_recent; i++) {
		const struct hd_stats_event *ev = &snap->recent[i];

		put(&o, "failure %llu %s ", (unsigned long long)ev->id,
		    ev->role < HD_STATS_ROLES ? roles[ev->role] : "?");
		put_word(&o, ev->consumer, false);
		put(&o, " ");
		put_word(&o, ev->peer, false);
		put(&o, " %s ", hd_stats_status_name(ev->status, name, sizeof(name)));
		put_word(&o, ev->cause, true);
		put(&o, "\n");
	}
	put(&o, "end\n");
	return o.full ? -ENOSPC : (int)o.len;
}

/* 0755 whatever the umask (a unit's UMask=0077 would make it 0700). */
static int make_dir(const char *dir)
{
	if (mkdir(dir, 0755) < 0)
		return errno == EEXIST ? 0 : -1;
	return chmod(dir, 0755);
}

/* mkdir -p for the socket's folder; only the folders we make get 0755. */
static int make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (make_dir(dir) < 0)
			return -errno;
		*p = '/';
	}
	return make_dir(dir) < 0 ? -errno : 0;
}

static int fill_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (!path[0] || strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

int hd_status_listen(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, probe, ret;

	ret = fill_addr(&sun, path);
	if (ret < 0)
		return ret;
	ret = make_parent(path);
	if (ret < 0)
		return ret;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;	/* not ours to remove */
		/* A daemon still answering there keeps its socket. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0)
			return -errno;
		ret = connect(probe, (struct sockaddr *)&sun, sizeof(sun));
		close(probe);
		if (ret == 0)
			return -EADDRINUSE;
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		goto err_socket;
	/* Owner and group only: see status.h for who that should be. */
	if (chmod(path, 0660) < 0 || listen(fd, 16) < 0)
		goto err_bound;
	return fd;

err_bound:
	ret = -errno;
	unlink(path);
	close(fd);
	return ret;
err_socket:
	ret = -errno;
	close(fd);
	return ret;
}

int hd_status_answer(int listen_fd, const char *report, size_t len)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	ssize_t n;
	int ret = 0;

	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	n = send(fd, report, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n < len)
		ret = -EMSGSIZE;
	close(fd);
	return ret;
}

void hd_status_close(int fd, const char *path)
{
	if (fd < 0)
		return;
	close(fd);
	if (path)
		unlink(path);
}
