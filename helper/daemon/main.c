/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoffd - answers the kernel's TLS handshake upcalls (NFS, NVMe-TCP),
 * a drop-in for ktls-utils' tlshd: the same flags (-c -s -v -h) and the
 * same config file, plus our own options.
 */
#include "common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/status.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: handoffd [-c FILE] [-s] [--workers N] [--max-handshakes N] [--status-socket PATH]\n"
		"       handoffd --check-config [-c FILE]\n"
		"       handoffd -v | -h\n"
		"\n"
		"  -c, --config FILE     config file (default: the first of\n"
		"                        /etc/handoff/handoffd.conf, /etc/tlshd/config, /etc/tlshd.conf)\n"
		"  -s, --stderr          log to stderr instead of syslog\n"
		"      --workers N       handshake threads (overrides [handoffd] workers)\n"
		"      --max-handshakes N  accepted and unfinished at most (overrides the config)\n"
		"      --status-socket PATH  where `handoff status` reads the counters\n"
		"                        (default " HD_STATUS_SOCKET_DEFAULT "; \"none\": no socket)\n"
		"      --fork-per-request  a process per handshake instead of the worker pool;\n"
		"                        only for comparing the two in the benchmark\n"
		"      --check-config    load the config, check the files it names, explain, exit\n"
		"  -v, --version         print the version\n"
		"  -h, --help            this text\n");
}

static unsigned parse_count(const char *arg, const char *what)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);

	if (!*arg || *end || v == 0 || v > 65536) {
		fprintf(stderr, "handoffd: %s: \"%s\" is not a number from 1 to 65536\n", what, arg);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	enum { OPT_WORKERS = 256, OPT_MAX, OPT_CHECK, OPT_STATUS, OPT_FORK };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "stderr", no_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "max-handshakes", required_argument, NULL, OPT_MAX },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "status-socket", required_argument, NULL, OPT_STATUS },
		{ "fork-per-request", no_argument, NULL, OPT_FORK },
		{ NULL, 0, NULL, 0 },
	};
	struct hd_options opts = { 0 };
	bool check = false;
	int c;

	while ((c = getopt_long(argc, argv, "c:svh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opts.config = optarg;
			break;
		case 's':
			opts.to_stderr = true;
			break;
		case 'v':
			printf("handoffd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_WORKERS:
			opts.workers = parse_count(optarg, "--workers");
			break;
		case OPT_MAX:
			opts.max_handshakes = parse_count(optarg, "--max-handshakes");
			break;
		case OPT_CHECK:
			check = true;
			break;
		case OPT_STATUS:
			opts.status_socket = optarg;
			break;
		case OPT_FORK:
			opts.fork_per_request = true;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (check) {
		opts.to_stderr = true;
		return hd_check_config(&opts);
	}
	return hd_daemon_run(&opts);
}
