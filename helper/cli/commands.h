/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The subcommands of `handoff`.  Each takes argv with argv[0] the command
 * name and returns the process exit status: 0 success, 1 failure (TLS,
 * network, files), 2 usage error.
 */
#ifndef HANDOFF_CLI_COMMANDS_H
#define HANDOFF_CLI_COMMANDS_H

int cmd_check(int argc, char **argv);	/* what the kernel offers (check.c) */
int cmd_connect(int argc, char **argv);	/* a TLS client: connect.c */
int cmd_serve(int argc, char **argv);	/* a TLS server: serve.c */
int cmd_run(int argc, char **argv);	/* a program under the shim: run.c */
int cmd_status(int argc, char **argv);	/* a running handoffd's counters: status.c */

#endif
