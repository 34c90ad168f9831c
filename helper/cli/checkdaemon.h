/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon half of `handoff check`: is a handshake daemon there to
 * answer the kernel's upcalls (handoffd's status socket, or a tlshd or
 * handoffd process), and which of the kernel consumers' keyrings this
 * user can see, with what in them (serials, types and descriptions: never
 * a key's bytes).
 */
#ifndef HANDOFF_CLI_CHECKDAEMON_H
#define HANDOFF_CLI_CHECKDAEMON_H

#include <stdint.h>

#define CHECKD_MAX_KEYS 16
#define CHECKD_MAX_PROCS 8

struct checkd_key {
	int32_t serial;
	char type[32];
	char description[160];
};

struct checkd_keyring {
	const char *name;	/* ".nfs", ".nfsd", ".nvme" */
	int32_t serial;		/* 0: not visible */
	int err;		/* reading its contents: 0 or an errno */
	unsigned n_keys;	/* in it, even past CHECKD_MAX_KEYS */
	struct checkd_key keys[CHECKD_MAX_KEYS];
};

struct checkd_proc {
	long pid;
	char name[16];		/* "tlshd" or "handoffd" */
};

struct checkd_report {
	const char *socket;
	int status_err;		/* 0: handoffd answered on socket */
	char pid[24], mode[32], uptime[24], handshakes[24], ok[24], failed[24];
	struct checkd_proc procs[CHECKD_MAX_PROCS];
	unsigned n_procs;
	struct checkd_keyring rings[3];
};

/* checkd_probe - fill r: ask the status socket, look for daemons and keyrings. */
void checkd_probe(struct checkd_report *r, const char *socket);

/* checkd_print_text - the section of the text report. */
void checkd_print_text(const struct checkd_report *r);

/* checkd_print_json - ,"daemon": {...} (a member, for the caller's object). */
void checkd_print_json(const struct checkd_report *r);

#endif
