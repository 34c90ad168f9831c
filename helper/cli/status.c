/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoff status - what a running handoffd has done: handshakes by result
 * and role, the latency percentiles, its workers and queue, the causes of
 * its last failures.  Read from its status socket.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "json.h"
#include "options.h"
#include "status.h"

#define REPORT_MAX 16384

static void usage(FILE *out)
{
	fputs("usage: handoff status [--socket PATH] [--json]\n"
	      "\n"
	      "Ask a running handoffd for its counters: handshakes by result and by\n"
	      "role (client, server), failures by cause with the most recent ones,\n"
	      "per-handshake latency (p50/p90/p99 over the most recent handshakes),\n"
	      "workers busy, requests queued, uptime, and the config in force.\n"
	      "\n"
	      "  --socket PATH  handoffd's status socket (default " CLI_STATUS_SOCKET_DEFAULT ";\n"
	      "                 handoffd --status-socket changes it)\n"
	      "  --json         one JSON object instead of text\n"
	      "  --help         this text\n"
	      "\n"
	      "Exit status: 0 when the daemon answered, 1 when it did not, 2 on a\n"
	      "usage error.\n", out);
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

int status_fetch(const char *path, char *buf, size_t size, unsigned timeout_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timespec deadline;
	size_t len = 0;
	int fd, ret = 0;

	if (!path[0] || strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	if (size < 2)
		return -EMSGSIZE;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long left = ms_left(&deadline);
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			ret = -ETIMEDOUT;
			goto out;
		}
		if (len == size - 1) {
			ret = -EMSGSIZE;
			goto out;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	/* Whole and ours: the version line first, "end" last. */
	if (strncmp(buf, "handoffd-status ", 16) != 0 || len < 4 ||
	    strcmp(buf + len - 4, "end\n") != 0 || (len > 4 && buf[len - 5] != '\n'))
		ret = -EPROTO;
	else
		ret = (int)len;
out:
	close(fd);
	return ret;
}

const char *status_value(const char *report, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);

	for (const char *line = report; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *end;

		if (strncmp(line, key, klen) != 0 || line[klen] != ' ')
			continue;
		line += klen + 1;
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		snprintf(out, size, "%.*s", (int)(end - line), line);
		return out;
	}
	return NULL;
}

/* ----------------------------------------------------------- text */

static unsigned long num(const char *report, const char *key)
{
	char v[32];

	return status_value(report, key, v, sizeof(v)) ? strtoul(v, NULL, 10) : 0;
}

static const char *str(const char *report, const char *key, char *out, size_t size)
{
	const char *v = status_value(report, key, out, size);

	return v ? v : "?";
}

static void print_text(const char *report)
{
	char a[512], b[512], c[64];
	unsigned long up = num(report, "uptime");
	const char *line;

	printf("handoffd %s (pid %s), %s mode, up %lud %02lu:%02lu:%02lu\n",
	       str(report, "version", a, sizeof(a)), str(report, "pid", b, sizeof(b)),
	       str(report, "mode", c, sizeof(c)), up / 86400,
	       up / 3600 % 24, up / 60 % 60, up % 60);
	printf("config: %s (generation %lu: %s)\n", str(report, "config", a, sizeof(a)),
	       num(report, "config-generation"),
	       num(report, "config-generation") > 1 ? "reloaded since start" : "as started");
	printf("workers: %lu busy of %lu; %lu queued; %lu in flight (at most %lu)\n",
	       num(report, "workers-busy"), num(report, "workers"), num(report, "queued"),
	       num(report, "in-flight"), num(report, "max-handshakes"));
	printf("handshakes: %lu (%lu ok, %lu failed)\n", num(report, "handshakes"),
	       num(report, "ok"), num(report, "failed"));
	printf("  as client: %lu ok, %lu failed\n", num(report, "client-ok"),
	       num(report, "client-failed"));
	printf("  as server: %lu ok, %lu failed\n", num(report, "server-ok"),
	       num(report, "server-failed"));
	if (num(report, "failed")) {
		printf("  failed by status:");
		for (line = report; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
			if (!strncmp(line, "failed-", 7))
				printf(" %.*s", (int)strcspn(line + 7, "\n"), line + 7);
		printf("\n");
	}
	if (num(report, "latency-window"))
		printf("latency (ACCEPT to DONE, last %lu handshakes): p50 %lu ms, p90 %lu ms, "
		       "p99 %lu ms, max %lu ms\n",
		       num(report, "latency-window"), num(report, "latency-p50-ms"),
		       num(report, "latency-p90-ms"), num(report, "latency-p99-ms"),
		       num(report, "latency-max-ms"));
	else
		printf("latency: no handshake yet\n");
	if (strstr(report, "\nfailure "))
		printf("recent failures, newest first:\n");
	for (line = strstr(report, "\nfailure "); line; line = strstr(line + 1, "\nfailure "))
		printf("  #%.*s\n", (int)strcspn(line + 9, "\n"), line + 9);
}

/* ----------------------------------------------------------- JSON */

static bool all_digits(const char *s, size_t n)
{
	if (!n || n > 19)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* "failure ID ROLE CONSUMER PEER STATUS CAUSE..." as an object. */
static void json_failure(const char *f, size_t n)
{
	static const char *const fields[] = { "id", "role", "consumer", "peer", "status" };
	const char *end = f + n;

	putchar('{');
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t w = strcspn(f, " \n");

		if (f + w > end)
			w = (size_t)(end - f);
		printf("\"%s\":", fields[i]);
		if (i == 0 && all_digits(f, w))
			printf("%.*s", (int)w, f);
		else
			json_string(f, w);
		putchar(',');
		f += w;
		if (f < end)
			f++;
	}
	printf("\"cause\":");
	json_string(f, f < end ? (size_t)(end - f) : 0);
	putchar('}');
}

static void print_json(const char *report)
{
	const char *line = strchr(report, '\n');	/* past the version line */
	bool first = true, failures = false;

	printf("{");
	for (line = line ? line + 1 : NULL; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		size_t n = strcspn(line, "\n"), k = strcspn(line, " \n");
		const char *v = line + k + 1;
		size_t vn = k < n ? n - k - 1 : 0;

		if (!strncmp(line, "end\n", 4) || !strncmp(line, "failure ", 8))
			continue;
		printf("%s\"%.*s\":", first ? "" : ",", (int)k, line);
		if (all_digits(v, vn))
			printf("%.*s", (int)vn, v);
		else
			json_string(v, vn);
		first = false;
	}
	printf("%s\"failures\":[", first ? "" : ",");
	for (line = strstr(report, "\nfailure "); line; line = strstr(line + 1, "\nfailure ")) {
		if (failures)
			putchar(',');
		json_failure(line + 9, strcspn(line + 9, "\n"));
		failures = true;
	}
	printf("]}\n");
}

int cmd_status(int argc, char **argv)
{
	const char *path = CLI_STATUS_SOCKET_DEFAULT;
	bool json = false;
	char *report;
	int ret;

	/* Parsed by hand, as check is: two flags need no getopt state. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			path = argv[i] + 9;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return CLI_EXIT_OK;
		} else {
			fprintf(stderr, "handoff status: unknown or incomplete option '%s'\n", argv[i]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	report = malloc(REPORT_MAX);
	if (!report) {
		fprintf(stderr, "handoff status: out of memory\n");
		return CLI_EXIT_FAIL;
	}
	ret = status_fetch(path, report, REPORT_MAX, 5000);
	if (ret < 0) {
		fprintf(stderr, "handoff status: %s: %s%s\n", path, strerror(-ret),
			ret == -ENOENT || ret == -ECONNREFUSED ?
				" (is handoffd running? it listens there unless given --status-socket)" :
			ret == -EACCES ? " (the socket is for its owner and group: run as them)" :
			ret == -EPROTO ? " (not a handoffd status report, or cut short)" : "");
		free(report);
		return CLI_EXIT_FAIL;
	}
	if (json)
		print_json(report);
	else
		print_text(report);
	free(report);
	return CLI_EXIT_OK;
}
