/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The flags `handoff connect` and `handoff serve` share, which build a
 * struct handoff_config.
 */
#ifndef HANDOFF_CLI_OPTIONS_H
#define HANDOFF_CLI_OPTIONS_H

#include <getopt.h>
#include <stddef.h>

#include "handoff.h"

/* Exit statuses: the shell can tell a bad command line from a bad peer. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Command-specific long options use values from here up. */
#define CLI_OPT_CMD_BASE 0x1000

struct cli_common {
	struct handoff_config *cfg;
	const char *servername;	/* --servername, NULL if not given */
	unsigned timeout_ms;	/* --timeout, as given to the config */
	int quiet;		/* -q: no summary */
};

struct cli_command {
	const char *name;		/* "connect" */
	const char *usage;		/* printed by --help and on usage errors */
	const struct option *longopts;	/* extra options, {0} terminated, may be NULL */
	/* One extra option; 0, or -1 after printing why it is wrong. */
	int (*handle)(void *ctx, int opt, const char *arg);
	void *ctx;
};

/*
 * cli_parse - parse argv with the shared flags plus cmd's own.  Fills *common
 * (common->cfg is a new config the caller frees).  Returns the index of the
 * first operand, or -1 with the exit status in *status: the reason has been
 * printed (or the usage, for --help, with *status 0).
 */
int cli_parse(int argc, char **argv, const struct cli_command *cmd,
	      struct cli_common *common, int *status);

/*
 * The flags that are settings keys (helper/settings), {0}-terminated; their
 * getopt value is CLI_OPT_SETTING.  `handoff run` writes them into the
 * shim's INI text under the same names.
 */
#define CLI_OPT_SETTING 0x100
extern const struct option cli_setting_options[];

/* The usage lines of the shared flags, for the commands' --help. */
extern const char cli_config_usage[];

#endif
