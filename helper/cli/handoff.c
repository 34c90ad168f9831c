/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoff - the command line front end: pick a subcommand and run it.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "handoff.h"
#include "commands.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *what;
} commands[] = {
	{ "check", cmd_check, "report what the running kernel's TLS layer can do" },
	{ "connect", cmd_connect, "TLS client: handshake, hand off to the kernel, relay stdin/stdout" },
	{ "serve", cmd_serve, "TLS server: accept, handshake, hand off; echo, send a file or run a command" },
	{ "run", cmd_run, "run an unmodified program with TLS under its connections (the shim)" },
	{ "status", cmd_status, "what a running handoffd has done: handshakes, failures, latency" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: handoff COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].what);
	fprintf(f, "\n'handoff COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	/* A peer that goes away must be an error return, not a silent death. */
	signal(SIGPIPE, SIG_IGN);

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("handoff %s (API %d)\n", PACKAGE_VERSION, HANDOFF_API_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "handoff: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
