/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Start-up, before the program's main(): find the real libc functions,
 * read the configuration, and refuse to let the program run unprotected.
 *
 * This is the one place the shim speaks on stderr unasked and stops the
 * process: a preloaded program whose TLS configuration is missing or
 * broken would otherwise start and serve plaintext, or fail at its first
 * connection far from the cause.  So it fails here, naming the file, the
 * line and the key.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/conf.h"
#include "core/fdtable.h"
#include "core/log.h"
#include "core/real.h"
#include "core/shim.h"

struct shim_conf *shim_conf;
__thread int shim_busy __attribute__((tls_model("initial-exec")));

/*
 * Before the first fork: probe the kernel's TLS here, once, so that the
 * children of a forking server inherit the answer instead of each setting
 * up sixteen kTLS sockets of its own at its first handshake.
 */
static void atfork_prepare(void)
{
	static bool probed;
	struct handoff_kernel_info info;
	int was, saved = errno;

	if (probed || !shim_conf || shim_busy)
		return;
	was = shim_enter();
	(void)handoff_kernel_probe(&info, 0);
	shim_leave(was);
	probed = true;
	errno = saved;
}

static void atfork_child(void)
{
	conn_atfork_child();
	watch_atfork_child();
}

static void die(const char *what)
{
	char line[1200];
	int n;

	n = snprintf(line, sizeof(line), "handoff-preload: %s\n", what);
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	(void)!write(2, line, (size_t)n);
	_exit(1);
}

__attribute__((constructor)) static void shim_init(void)
{
	const char *path = secure_getenv("HANDOFF_SHIM_CONFIG");
	const char *text = secure_getenv("HANDOFF_SHIM_INI");
	const char *dbg = secure_getenv("HANDOFF_SHIM_DEBUG");
	struct shim_conf *conf = NULL;
	char err[1024];
	int ret;

	shim_real_resolve();
	shim_busy = 1;
	if (path && *path)
		ret = shim_conf_load_file(path, &conf, err, sizeof(err));
	else if (text && *text)
		ret = shim_conf_load_string(text, "handoff run", &conf, err, sizeof(err));
	else {
		snprintf(err, sizeof(err), "no configuration: set HANDOFF_SHIM_CONFIG to the "
			 "shim's INI file, or start the program with 'handoff run'");
		ret = -1;
	}
	if (ret < 0)
		die(err);
	ret = fdtable_init();
	if (ret < 0) {
		snprintf(err, sizeof(err), "cannot map the fd table: %s", strerror(-ret));
		die(err);
	}
	shim_log_setup(conf, dbg && *dbg && strcmp(dbg, "0"));
	if (pthread_atfork(atfork_prepare, conn_atfork_parent, atfork_child) != 0)
		die("cannot register the fork handlers");
	shim_conf = conf;
	conn_adopt_inherited();
	shim_busy = 0;
	for (size_t i = 0; i < conf->n_rules; i++)
		if (conf->rules[i].warnings)
			shim_log(LOG_WARNING, "[%s %s]: %s",
				 conf->rules[i].kind == SHIM_RULE_ACCEPT ? "accept" : "connect",
				 conf->rules[i].spec, conf->rules[i].warnings);
	shim_log(LOG_DEBUG, "active: %u accept and %u connect rules", conf->n_accept, conf->n_connect);
}
