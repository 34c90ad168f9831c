/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The flags both commands understand, turned into a struct handoff_config.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "settings/settings.h"

/* The shared flags are the settings keys (helper/settings): --ca-file F is `ca-file = F`. */
#define OPT_SETTING CLI_OPT_SETTING

const struct option cli_setting_options[] = {
	{ "ca-file", required_argument, NULL, OPT_SETTING },
	{ "ca-dir", required_argument, NULL, OPT_SETTING },
	{ "system-ca", no_argument, NULL, OPT_SETTING },
	{ "crl", required_argument, NULL, OPT_SETTING },
	{ "cert", required_argument, NULL, OPT_SETTING },
	{ "key", required_argument, NULL, OPT_SETTING },
	{ "psk-identity", required_argument, NULL, OPT_SETTING },
	{ "psk-file", required_argument, NULL, OPT_SETTING },
	{ "protocols", required_argument, NULL, OPT_SETTING },
	{ "ciphers", required_argument, NULL, OPT_SETTING },
	{ "alpn", required_argument, NULL, OPT_SETTING },
	{ "verify-client", no_argument, NULL, OPT_SETTING },
	{ "verify-client-optional", no_argument, NULL, OPT_SETTING },
	{ "timeout", required_argument, NULL, OPT_SETTING },
	{ "ticket-key", required_argument, NULL, OPT_SETTING },
	{ "no-tickets", no_argument, NULL, OPT_SETTING },
	{ "kernel-tx-zerocopy", no_argument, NULL, OPT_SETTING },
	{ "kernel-rx-no-pad", no_argument, NULL, OPT_SETTING },
	{ "no-key-update", no_argument, NULL, OPT_SETTING },
	{ "insecure-noverifycert", no_argument, NULL, OPT_SETTING },
	{ "insecure-noverifyname", no_argument, NULL, OPT_SETTING },
	{ "insecure-noverifytime", no_argument, NULL, OPT_SETTING },
	{ "insecure-userspace-fallback", no_argument, NULL, OPT_SETTING },
	{ "servername", required_argument, NULL, OPT_SETTING },
	{ NULL, 0, NULL, 0 },
};

static const struct option other_options[] = {
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
};

const char cli_config_usage[] =
	"Trust and identity:\n"
	"  --ca-file FILE          trust the CAs in FILE (PEM; repeatable)\n"
	"  --ca-dir DIR            trust every *.pem / *.crt in DIR (repeatable)\n"
	"  --system-ca             also trust the system store (the default when\n"
	"                          no --ca-file / --ca-dir is given)\n"
	"  --crl FILE              check peers against this CRL (PEM; repeatable)\n"
	"  --cert FILE --key FILE  our certificate chain (leaf first) and key;\n"
	"                          repeat the pair to serve several names: the\n"
	"                          client's SNI picks (case aside, *.x for one label,\n"
	"                          exact before wildcard), the first pair is the default\n"
	"  --psk-identity NAME     TLS 1.3 external PSK identity\n"
	"  --psk-file FILE         the PSK, in hex (or IDENTITY:HEX, as gnutls-serv)\n"
	"Negotiation:\n"
	"  --protocols LIST        tls1.2,tls1.3 (default both)\n"
	"  --ciphers LIST          AES-128-GCM,AES-256-GCM,CHACHA20-POLY1305,AES-128-CCM\n"
	"  --alpn LIST             ALPN protocols, comma separated\n"
	"  --servername NAME       name to send (SNI) and verify (default: HOST)\n"
	"  --verify-client         require a client certificate (serve)\n"
	"  --verify-client-optional  ask for one, verify it if sent (serve)\n"
	"  --timeout MS            handshake timeout in ms (default 30000, 0 = none)\n"
	"  --ticket-key FILE       64-byte session ticket key, shared by a fleet\n"
	"  --no-tickets            issue no session tickets (serve)\n"
	"Kernel data path (where the kernel has them; see handoff.h):\n"
	"  --kernel-tx-zerocopy    TLS_TX_ZEROCOPY_RO: sendfile without the kernel's\n"
	"                          copy; only if files sent are never modified meanwhile\n"
	"  --kernel-rx-no-pad      TLS_RX_EXPECT_NO_PAD: TLS 1.3 receive decrypts in\n"
	"                          place; a padded record is decrypted twice\n"
	"  --no-key-update         keep no TLS 1.3 traffic secrets after the hand-off;\n"
	"                          a peer's KeyUpdate then ends the connection\n"
	"Weaker, for tests only:\n"
	"  --insecure-noverifycert accept any peer certificate\n"
	"  --insecure-noverifyname do not check the server name\n"
	"  --insecure-noverifytime accept expired / not yet valid certificates\n"
	"  --insecure-userspace-fallback  keep encrypting in user space when the\n"
	"                          kernel cannot take the keys\n"
	"Other:\n"
	"  -q, --quiet             no handshake summary\n"
	"  -h, --help              this text\n";

static void usage_to(FILE *f, const struct cli_command *cmd)
{
	fprintf(f, "%s\n%s", cmd->usage, cli_config_usage);
}

int cli_parse(int argc, char **argv, const struct cli_command *cmd,
	      struct cli_common *common, int *status)
{
	size_t n_settings = sizeof(cli_setting_options) / sizeof(cli_setting_options[0]) - 1;
	size_t n_other = sizeof(other_options) / sizeof(other_options[0]);
	size_t n_extra = 0;
	struct option *all;
	struct settings *set;
	int opt, idx, ret;

	memset(common, 0, sizeof(*common));
	*status = CLI_EXIT_FAIL;

	while (cmd->longopts && cmd->longopts[n_extra].name)
		n_extra++;
	all = calloc(n_settings + n_other + n_extra + 1, sizeof(*all));
	set = settings_new();
	if (!all || !set) {
		fprintf(stderr, "handoff: cannot create a TLS config: %s\n", strerror(errno));
		goto err;
	}
	memcpy(all, cli_setting_options, n_settings * sizeof(*all));
	memcpy(all + n_settings, other_options, sizeof(other_options));
	if (n_extra)
		memcpy(all + n_settings + n_other, cmd->longopts, n_extra * sizeof(*all));

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+qh", all, &idx)) != -1) {
		if (opt == 'h') {
			usage_to(stdout, cmd);
			*status = CLI_EXIT_OK;
			goto err;
		}
		if (opt == '?') {
			usage_to(stderr, cmd);
			*status = CLI_EXIT_USAGE;
			goto err;
		}
		if (opt == 'q') {
			common->quiet = 1;
			continue;
		}
		if (opt == OPT_SETTING) {
			if (!strcmp(all[idx].name, "servername"))
				common->servername = optarg;
			ret = settings_set(set, all[idx].name, optarg);
			if (ret < 0)
				fprintf(stderr, "handoff: --%s%s%s: %s\n", all[idx].name,
					optarg ? " " : "", optarg ? optarg : "", settings_error(set));
		} else {
			ret = cmd->handle ? cmd->handle(cmd->ctx, opt, optarg) : -1;
		}
		if (ret < 0) {
			/* A bad value is a usage error; a file that fails to load is not. */
			*status = CLI_EXIT_USAGE;
			goto err;
		}
	}
	if (settings_finish(set) < 0) {
		fprintf(stderr, "handoff: %s\n", settings_error(set));
		*status = CLI_EXIT_USAGE;
		goto err;
	}
	if (settings_warnings(set))
		fprintf(stderr, "handoff: warning: %s\n", settings_warnings(set));
	common->timeout_ms = settings_timeout_ms(set);
	common->cfg = settings_take_config(set);
	settings_free(set);
	free(all);
	return optind;

err:
	settings_free(set);
	free(all);
	return -1;
}
