/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoff check - tell an operator whether this kernel can take TLS keys,
 * and what to do about it when it cannot.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "handoff.h"
#include "probe/advice.h"

#include "checkdaemon.h"
#include "json.h"
#include "commands.h"
#include "status.h"

enum {
	CHECK_USABLE = 0,
	CHECK_UNUSABLE = 1,
	CHECK_USAGE = 2,
};

static void usage(FILE *out)
{
	fputs("usage: handoff check [--json | --quiet] [--socket PATH]\n"
	      "\n"
	      "Probe the running kernel for kernel TLS (kTLS): the \"tls\" TCP ULP,\n"
	      "every cipher for TLS 1.2 and 1.3 in both directions, the \"handshake\"\n"
	      "generic-netlink family and /proc/net/tls_stat, with advice for\n"
	      "anything missing.  Then the daemon side of the kernel's handshake\n"
	      "upcalls: whether handoffd answers on its status socket (or a tlshd or\n"
	      "handoffd runs), and which of the .nfs, .nfsd and .nvme keyrings this\n"
	      "user can see, with the serial, type and description of each key in\n"
	      "them (never a key's bytes).\n"
	      "\n"
	      "  --json    machine-readable output (one JSON object)\n"
	      "  --socket PATH  handoffd's status socket (default " CLI_STATUS_SOCKET_DEFAULT ")\n"
	      "  --quiet   no output; the exit status only\n"
	      "  --help    this text\n"
	      "\n"
	      "Exit status: 0 if the kernel takes keys in both directions (TX and RX)\n"
	      "for at least one cipher and TLS version, 1 if it takes none (or the\n"
	      "probe could not run), 2 on a usage error.\n", out);
}

/* "ENOENT" rather than a sentence: short enough for a table cell. */
static const char *errno_name(int err, char *buf, size_t len)
{
	const char *name = strerrorname_np(err);

	if (name)
		return name;
	snprintf(buf, len, "errno %d", err);
	return buf;
}

static int count_usable(const struct handoff_kernel_info *info)
{
	int n = 0;

	for (int v = 0; v < HANDOFF_TLS_VERSION_COUNT; v++)
		for (int c = 0; c < HANDOFF_CIPHER_COUNT; c++)
			n += handoff_kernel_supports(info, v, c);
	return n;
}

/* ----------------------------------------------------------- text */

static void cell_text(const struct handoff_kernel_info *info, int v, int c,
		      char *buf, size_t len)
{
	int tx = info->tx_errno[v][c], rx = info->rx_errno[v][c];
	char b1[32], b2[32];

	if (tx == 0 && rx == 0)
		snprintf(buf, len, "ok");
	else if (info->ulp_errno)
		snprintf(buf, len, "no kTLS");
	else if (tx == rx)
		snprintf(buf, len, "%s", errno_name(tx, b1, sizeof(b1)));
	else
		snprintf(buf, len, "TX %s RX %s",
			 tx ? errno_name(tx, b1, sizeof(b1)) : "ok",
			 rx ? errno_name(rx, b2, sizeof(b2)) : "ok");
}

/*
 * Advice under the table: once for a missing cipher module (it concerns
 * many cells at once), once per cell for anything the kernel itself cannot do.
 */
static void cipher_notes(const struct handoff_kernel_info *info)
{
	bool module_missing = false;
	char b[32];

	for (int v = 0; v < HANDOFF_TLS_VERSION_COUNT; v++) {
		for (int c = 0; c < HANDOFF_CIPHER_COUNT; c++) {
			int err = info->tx_errno[v][c] ? info->tx_errno[v][c]
						       : info->rx_errno[v][c];
			const char *cipher = handoff_cipher_name(c);
			const char *version = handoff_tls_version_name(v);

			if (err == 0)
				continue;
			if (err == ENOENT) {
				module_missing = true;
			} else if (err == EINVAL || err == EOPNOTSUPP) {
				printf("  -> this kernel does not support %s for %s (%s)\n",
				       cipher, version, errno_name(err, b, sizeof(b)));
			} else {
				printf("  -> %s for %s (%s): %s\n", cipher, version,
				       errno_name(err, b, sizeof(b)),
				       probe_advice_words("cipher", err));
			}
		}
	}
	if (module_missing)
		printf("  -> ENOENT: %s\n", probe_advice_words("cipher", ENOENT));
}

static void print_text(const struct handoff_kernel_info *info, const struct checkd_report *daemon)
{
	char cell[80], b[32];

	printf("kernel release:            %s\n", info->release);

	if (info->ulp_errno == 0) {
		printf("kTLS ULP (TCP_ULP \"tls\"):  ok\n");
	} else {
		printf("kTLS ULP (TCP_ULP \"tls\"):  missing (%s)\n",
		       errno_name(info->ulp_errno, b, sizeof(b)));
		printf("  -> %s\n", probe_advice_words("ulp", info->ulp_errno));
	}

	printf("ciphers (TX and RX):      ");
	for (int v = 0; v < HANDOFF_TLS_VERSION_COUNT; v++)
		printf(" %-20s", handoff_tls_version_name(v));
	printf("\n");
	for (int c = 0; c < HANDOFF_CIPHER_COUNT; c++) {
		printf("  %-24s", handoff_cipher_name(c));
		for (int v = 0; v < HANDOFF_TLS_VERSION_COUNT; v++) {
			cell_text(info, v, c, cell, sizeof(cell));
			printf(" %-20s", cell);
		}
		printf("\n");
	}
	/* Without the ULP the cells only repeat the ULP's answer. */
	if (info->ulp_errno == 0)
		cipher_notes(info);

	if (info->handshake_family_errno == 0) {
		printf("handshake netlink family:  present\n");
	} else {
		printf("handshake netlink family:  absent (%s)\n",
		       errno_name(info->handshake_family_errno, b, sizeof(b)));
		printf("  -> %s\n", probe_advice_words("handshake", info->handshake_family_errno));
	}

	if (info->tls_stat_errno == 0)
		printf("/proc/net/tls_stat:        present\n");
	else
		printf("/proc/net/tls_stat:        absent (%s)\n",
		       errno_name(info->tls_stat_errno, b, sizeof(b)));

	int n = count_usable(info);
	checkd_print_text(daemon);
	printf("verdict:                   %s (%d of %d cipher/version pairs)\n",
	       n ? "kTLS usable" : "kTLS NOT usable", n,
	       HANDOFF_TLS_VERSION_COUNT * HANDOFF_CIPHER_COUNT);
}

/* ----------------------------------------------------------- JSON */

/* "<prefix>errno": N, "<prefix>error": "ENOENT" (null when N is 0). */
static void json_errno(const char *prefix, int err)
{
	char b[32];

	printf("\"%serrno\": %d, \"%serror\": ", prefix, err, prefix);
	json_cstr(err ? errno_name(err, b, sizeof(b)) : NULL);
}

static void print_json(const struct handoff_kernel_info *info, const struct checkd_report *daemon)
{
	bool first = true;

	printf("{\n  \"release\": ");
	json_cstr(info->release);

	printf(",\n  \"ulp\": { \"ok\": %s, ", info->ulp_errno ? "false" : "true");
	json_errno("", info->ulp_errno);
	printf(", \"advice\": ");
	json_cstr(probe_advice_words("ulp", info->ulp_errno));
	printf(" },\n  \"ciphers\": [");
	for (int v = 0; v < HANDOFF_TLS_VERSION_COUNT; v++) {
		for (int c = 0; c < HANDOFF_CIPHER_COUNT; c++) {
			int tx = info->tx_errno[v][c], rx = info->rx_errno[v][c];

			printf("%s\n    { \"version\": ", first ? "" : ",");
			first = false;
			json_cstr(handoff_tls_version_name(v));
			printf(", \"cipher\": ");
			json_cstr(handoff_cipher_name(c));
			printf(", \"ok\": %s, ",
			       handoff_kernel_supports(info, v, c) ? "true" : "false");
			json_errno("tx_", tx);
			printf(", ");
			json_errno("rx_", rx);
			printf(", \"advice\": ");
			json_cstr(info->ulp_errno ? NULL
				 : probe_advice_words("cipher", tx ? tx : rx));
			printf(" }");
		}
	}
	printf("\n  ],\n  \"handshake_family\": { \"present\": %s, ",
	       info->handshake_family_errno ? "false" : "true");
	json_errno("", info->handshake_family_errno);
	printf(", \"advice\": ");
	json_cstr(probe_advice_words("handshake", info->handshake_family_errno));
	printf(" },\n  \"tls_stat\": { \"present\": %s, ",
	       info->tls_stat_errno ? "false" : "true");
	json_errno("", info->tls_stat_errno);
	printf(" }");
	checkd_print_json(daemon);
	printf(",\n  \"usable_pairs\": %d,\n  \"usable\": %s\n}\n",
	       count_usable(info), count_usable(info) ? "true" : "false");
}

int cmd_check(int argc, char **argv)
{
	struct handoff_kernel_info info;
	struct checkd_report daemon;
	const char *socket = CLI_STATUS_SOCKET_DEFAULT;
	bool json = false, quiet = false;

	/* Parsed by hand: no getopt state shared with the other commands. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			socket = argv[++i];
		} else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
			quiet = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return CHECK_USABLE;
		} else {
			fprintf(stderr, "handoff check: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return CHECK_USAGE;
		}
	}
	if (json && quiet) {
		fprintf(stderr, "handoff check: --json and --quiet exclude each other\n");
		usage(stderr);
		return CHECK_USAGE;
	}

	if (handoff_kernel_probe(&info, 0) < 0) {
		if (!quiet)
			fprintf(stderr, "handoff check: cannot probe the kernel: %s\n",
				strerror(errno));
		return CHECK_UNUSABLE;
	}

	/* Reported, not judged: the exit status stays about the kernel. */
	if (!quiet)
		checkd_probe(&daemon, socket);
	if (json)
		print_json(&info, &daemon);
	else if (!quiet)
		print_text(&info, &daemon);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "handoff check: writing the report: %s\n", strerror(errno));
		return CHECK_UNUSABLE;
	}
	return count_usable(&info) ? CHECK_USABLE : CHECK_UNUSABLE;
}
