/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The keyrings are found in /proc/keys (every key this user may view) and
 * read with keyctl(2) directly: KEYCTL_READ on a keyring gives its
 * members' serials, KEYCTL_DESCRIBE their type and description.  Neither
 * ever returns a key's payload, so nothing secret can reach the report.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "checkdaemon.h"
#include "json.h"
#include "status.h"

static const char *const ring_names[3] = { ".nfs", ".nfsd", ".nvme" };

static void ask_status(struct checkd_report *r)
{
	char *report = malloc(16384);
	int ret;

	if (!report) {
		r->status_err = ENOMEM;
		return;
	}
	ret = status_fetch(r->socket, report, 16384, 3000);
	if (ret < 0) {
		r->status_err = -ret;
		free(report);
		return;
	}
	status_value(report, "pid", r->pid, sizeof(r->pid));
	status_value(report, "mode", r->mode, sizeof(r->mode));
	status_value(report, "uptime", r->uptime, sizeof(r->uptime));
	status_value(report, "handshakes", r->handshakes, sizeof(r->handshakes));
	status_value(report, "ok", r->ok, sizeof(r->ok));
	status_value(report, "failed", r->failed, sizeof(r->failed));
	free(report);
}

/* Daemons by name: a tlshd has no status socket, and a handoffd may use another path. */
static void find_procs(struct checkd_report *r)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir)) && r->n_procs < CHECKD_MAX_PROCS) {
		char path[300], comm[32] = "";
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
		if (strcmp(comm, "tlshd") && strcmp(comm, "handoffd"))
			continue;
		r->procs[r->n_procs].pid = strtol(de->d_name, NULL, 10);
		snprintf(r->procs[r->n_procs].name, sizeof(r->procs[0].name), "%s", comm);
		r->n_procs++;
	}
	closedir(dir);
}

static long keyctl4(int op, long a, long b, long c)
{
	return syscall(SYS_keyctl, op, a, b, c, 0L);
}

/* "type;uid;gid;perm;description" -> type and description. */
static void describe(struct checkd_key *k)
{
	char buf[512], *p, *q;
	long n = keyctl4(KEYCTL_DESCRIBE, k->serial, (long)buf, sizeof(buf) - 1);
	int field = 0;

	snprintf(k->type, sizeof(k->type), "?");
	k->description[0] = '\0';
	if (n < 0)
		return;
	buf[n < (long)sizeof(buf) ? n : (long)sizeof(buf) - 1] = '\0';
	for (p = buf; field < 4 && (q = strchr(p, ';')); field++) {
		if (field == 0)
			snprintf(k->type, sizeof(k->type), "%.*s", (int)(q - p), p);
		p = q + 1;
	}
	if (field == 4)
		snprintf(k->description, sizeof(k->description), "%.*s", (int)sizeof(k->description) - 1, p);
}

static void read_ring(struct checkd_keyring *ring)
{
	int32_t serials[256];
	long n = keyctl4(KEYCTL_READ, ring->serial, (long)serials, sizeof(serials));

	if (n < 0) {
		ring->err = errno;
		return;
	}
	ring->n_keys = (unsigned)(n / (long)sizeof(serials[0]));
	for (unsigned i = 0; i < ring->n_keys && i < CHECKD_MAX_KEYS && i < 256; i++) {
		ring->keys[i].serial = serials[i];
		describe(&ring->keys[i]);
	}
}

/* /proc/keys: "SERIAL FLAGS USAGE EXPIRY PERM UID GID TYPE DESCRIPTION: SUMMARY". */
static void find_keyrings(struct checkd_report *r)
{
	FILE *f = fopen("/proc/keys", "re");
	char line[512];

	for (int i = 0; i < 3; i++)
		r->rings[i].name = ring_names[i];
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char type[32], desc[256];
		unsigned serial;

		if (sscanf(line, "%x %*s %*s %*s %*s %*s %*s %31s %255[^:]", &serial, type, desc) != 3 ||
		    strcmp(type, "keyring"))
			continue;
		for (int i = 0; i < 3; i++)
			if (!strcmp(desc, ring_names[i]) && !r->rings[i].serial)
				r->rings[i].serial = (int32_t)serial;
	}
	fclose(f);
	for (int i = 0; i < 3; i++)
		if (r->rings[i].serial)
			read_ring(&r->rings[i]);
}

void checkd_probe(struct checkd_report *r, const char *socket)
{
	memset(r, 0, sizeof(*r));
	r->socket = socket;
	ask_status(r);
	find_procs(r);
	find_keyrings(r);
}

/* ----------------------------------------------------------- text */

static const char *ring_hint(const char *name)
{
	if (!strcmp(name, ".nvme"))
		return "made when nvme_keyring loads";
	if (!strcmp(name, ".nfsd"))
		return "made when nfsd loads";
	return "made when the NFS client loads";
}

void checkd_print_text(const struct checkd_report *r)
{
	printf("handshake daemon:          ");
	if (r->status_err == 0)
		printf("handoffd answers on %s (pid %s, %s mode, up %s s, %s handshakes: %s ok, %s failed)\n",
		       r->socket, r->pid, r->mode, r->uptime, r->handshakes, r->ok, r->failed);
	else
		printf("no status at %s (%s)\n", r->socket, strerror(r->status_err));
	for (unsigned i = 0; i < r->n_procs; i++)
		printf("  running: %s (pid %ld)\n", r->procs[i].name, r->procs[i].pid);
	if (r->status_err && !r->n_procs)
		printf("  -> no tlshd or handoffd runs: the kernel's TLS consumers (NFS xprtsec=tls,\n"
		       "     NVMe/TCP tls) will fail their handshakes; start handoffd.service\n");
	for (int i = 0; i < 3; i++) {
		const struct checkd_keyring *ring = &r->rings[i];

		printf("keyring %-18s ", ring->name);
		if (!ring->serial) {
			printf("not visible (%s)\n", ring_hint(ring->name));
			continue;
		}
		if (ring->err) {
			printf("serial %d, contents unreadable (%s)\n", ring->serial, strerror(ring->err));
			continue;
		}
		printf("serial %d, %u key%s\n", ring->serial, ring->n_keys, ring->n_keys == 1 ? "" : "s");
		for (unsigned k = 0; k < ring->n_keys && k < CHECKD_MAX_KEYS; k++)
			printf("  %d %s \"%s\"\n", ring->keys[k].serial, ring->keys[k].type,
			       ring->keys[k].description);
		if (ring->n_keys > CHECKD_MAX_KEYS)
			printf("  ... and %u more\n", ring->n_keys - CHECKD_MAX_KEYS);
	}
}

/* ----------------------------------------------------------- JSON */

void checkd_print_json(const struct checkd_report *r)
{
	printf(",\n  \"daemon\": { \"status_socket\": ");
	json_cstr(r->socket);
	printf(", \"answers\": %s", r->status_err ? "false" : "true");
	if (r->status_err) {
		printf(", \"error\": ");
		json_cstr(strerror(r->status_err));
	} else {
		printf(", \"pid\": %s, \"mode\": ", r->pid[0] ? r->pid : "null");
		json_cstr(r->mode);
		printf(", \"handshakes\": %s, \"ok\": %s, \"failed\": %s",
		       r->handshakes[0] ? r->handshakes : "null", r->ok[0] ? r->ok : "null",
		       r->failed[0] ? r->failed : "null");
	}
	printf(", \"running\": [");
	for (unsigned i = 0; i < r->n_procs; i++) {
		printf("%s{ \"name\": ", i ? ", " : "");
		json_cstr(r->procs[i].name);
		printf(", \"pid\": %ld }", r->procs[i].pid);
	}
	printf("] },\n  \"keyrings\": [");
	for (int i = 0; i < 3; i++) {
		const struct checkd_keyring *ring = &r->rings[i];

		printf("%s\n    { \"name\": ", i ? "," : "");
		json_cstr(ring->name);
		printf(", \"visible\": %s", ring->serial ? "true" : "false");
		if (ring->serial) {
			printf(", \"serial\": %d, \"readable\": %s, \"count\": %u, \"keys\": [",
			       ring->serial, ring->err ? "false" : "true", ring->n_keys);
			for (unsigned k = 0; k < ring->n_keys && k < CHECKD_MAX_KEYS; k++) {
				printf("%s{ \"serial\": %d, \"type\": ", k ? ", " : "", ring->keys[k].serial);
				json_cstr(ring->keys[k].type);
				printf(", \"description\": ");
				json_cstr(ring->keys[k].description);
				printf(" }");
			}
			printf("]");
		}
		printf(" }");
	}
	printf("\n  ]");
}
