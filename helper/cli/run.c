/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoff run [OPTIONS] -- PROGRAM [ARGS...] - run an unmodified plaintext
 * program with the shim (libhandoff-preload.so) preloaded: connections on
 * the --accept listeners become TLS servers, connections to the --connect
 * destinations TLS clients, and the kernel does the record crypto.
 *
 * With --config FILE the shim reads that INI file; otherwise the flags are
 * written into INI text (the same keys under the same names) and handed
 * over in HANDOFF_SHIM_INI.  Either way the configuration is loaded here
 * first, so a mistake stops us before the program starts, not at its
 * first connection.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "config/conf.h"
#include "options.h"

#define PRELOAD_NAME "libhandoff-preload.so"

enum {
	OPT_ACCEPT = CLI_OPT_CMD_BASE,
	OPT_CONNECT,
	OPT_CONFIG,
	OPT_CHECK_CONFIG,
	OPT_DEBUG,
	OPT_LOG,
	OPT_INSECURE_PLAINTEXT,
	OPT_VERIFY_ADDRESS,
	OPT_DELEGATE,
	OPT_IDENTITY,
};

static const struct option run_options[] = {
	{ "accept", required_argument, NULL, OPT_ACCEPT },
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "debug", no_argument, NULL, OPT_DEBUG },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "verify-address", no_argument, NULL, OPT_VERIFY_ADDRESS },
	{ "delegate", required_argument, NULL, OPT_DELEGATE },
	{ "identity", required_argument, NULL, OPT_IDENTITY },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char run_usage[] =
	"usage: handoff run [OPTIONS] -- PROGRAM [ARGS...]\n"
	"  Run PROGRAM with TLS put under its TCP connections by the kernel.\n"
	"  --accept [ADDR:]PORT    connections accepted on this listener become TLS\n"
	"                          servers (repeatable; needs --cert/--key or a PSK)\n"
	"  --connect [HOST:]PORT   connections to this destination become TLS clients\n"
	"                          (repeatable); HOST may be a name, *.domain or an address\n"
	"  --verify-address        (connect) with no name resolved, verify the address\n"
	"  --delegate SOCKET       key custody: handoffd does every handshake on its\n"
	"                          custody socket and the program never holds the key\n"
	"  --identity NAME         the handoffd identity to use (with --delegate; then\n"
	"                          no --cert/--key/--ca-file...: the policy is handoffd's)\n"
	"  --config FILE           the shim's INI file instead of flags (handoff-preload(7))\n"
	"  --check-config          load the configuration, report, and exit\n"
	"  --log syslog|stderr|FILE  where the shim logs (default syslog)\n"
	"  --debug                 log every connection to stderr\n"
	"  The trust and identity flags below apply to every --accept and --connect.\n";

struct run_args {
	char *settings;		/* "key = value\n" lines */
	size_t settings_len;
	char **accept, **connect;
	size_t n_accept, n_connect;
	const char *config, *log;
	bool check, debug, verify_address;
};

static int add_line(struct run_args *a, const char *key, const char *value)
{
	size_t need = strlen(key) + (value ? strlen(value) : 3) + 5;
	char *grown;

	/* A value is one INI line: a newline in it would be a line of its own. */
	if (value && strpbrk(value, "\r\n")) {
		fprintf(stderr, "handoff run: --%s: a value cannot contain a line break\n", key);
		return -1;
	}
	grown = realloc(a->settings, a->settings_len + need + 1);
	if (!grown)
		return -1;
	a->settings = grown;
	a->settings_len += (size_t)snprintf(a->settings + a->settings_len, need + 1, "%s = %s\n", key,
					    value ? value : "yes");
	return 0;
}

/* [V6]:PORT on the command line is `V6 PORT` in a section name (see conf.h). */
static int add_spec(char ***list, size_t *n, const char *spec)
{
	char **grown = realloc(*list, (*n + 1) * sizeof(**list));
	const char *close;
	char *copy;

	if (!grown)
		return -1;
	*list = grown;
	if (spec[0] == '[' && (close = strchr(spec, ']')) && close[1] == ':') {
		if (asprintf(&copy, "%.*s %s", (int)(close - spec - 1), spec + 1, close + 2) < 0)
			return -1;
	} else if (!(copy = strdup(spec))) {
		return -1;
	}
	if (strpbrk(copy, "[]\r\n")) {
		fprintf(stderr, "handoff run: '%s' is not [ADDR:]PORT\n", spec);
		free(copy);
		return -1;
	}
	(*list)[(*n)++] = copy;
	return 0;
}

/* The INI text for the flags; NULL (after saying why) on failure. */
static char *build_ini(const struct run_args *a)
{
	size_t len = 64, i, off = 0;
	char *ini;

	len += a->log ? strlen(a->log) : 0;
	for (i = 0; i < a->n_accept; i++)
		len += strlen(a->accept[i]) + 16 + a->settings_len;
	for (i = 0; i < a->n_connect; i++)
		len += strlen(a->connect[i]) + 40 + a->settings_len;
	ini = malloc(len);
	if (!ini)
		return NULL;
	off += (size_t)snprintf(ini + off, len - off, "[shim]\nlog = %s\ndebug = %s\n",
				a->log ? a->log : "syslog", a->debug ? "yes" : "no");
	for (i = 0; i < a->n_accept; i++)
		off += (size_t)snprintf(ini + off, len - off, "[accept %s]\n%s", a->accept[i],
					a->settings ? a->settings : "");
	for (i = 0; i < a->n_connect; i++)
		off += (size_t)snprintf(ini + off, len - off, "[connect %s]\n%s%s", a->connect[i],
					a->verify_address ? "verify-address = yes\n" : "",
					a->settings ? a->settings : "");
	return ini;
}

/* The file execvp() would run for name, in buf; false if none. */
static bool find_program(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;

	if (strchr(name, '/')) {
		snprintf(buf, len, "%s", name);
		return access(buf, X_OK) == 0;
	}
	for (p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		snprintf(buf, len, "%.*s/%s", (int)(end - p), p == end ? "." : p, name);
		if (access(buf, X_OK) == 0)
			return true;
	}
	return false;
}

/*
 * Whether the dynamic loader will load the shim into path.  A statically
 * linked program never reads LD_PRELOAD and a set-id one ignores it: run
 * under us, either would serve plaintext on a port the operator believes
 * is TLS.  Scripts are judged by their interpreter.  NULL if fine, else why not.
 */
static const char *not_preloadable(const char *path, int depth)
{
	static char why[600];
	unsigned char hdr[128];
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	struct stat st;
	ssize_t n;
	int fd, i;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, sizeof(why), "%s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_mode & (S_ISUID | S_ISGID)) {
		snprintf(why, sizeof(why), "%s is set-user/group-ID: the loader ignores LD_PRELOAD there",
			 path);
		goto out;
	}
	n = pread(fd, hdr, sizeof(hdr) - 1, 0);
	if (n >= 2 && hdr[0] == '#' && hdr[1] == '!' && depth < 4) {
		char interp[256];
		size_t k = 2, j = 0;

		hdr[n] = '\0';
		while (k < (size_t)n && (hdr[k] == ' ' || hdr[k] == '\t'))
			k++;
		while (k < (size_t)n && hdr[k] != ' ' && hdr[k] != '\t' && hdr[k] != '\n' &&
		       j < sizeof(interp) - 1)
			interp[j++] = (char)hdr[k++];
		interp[j] = '\0';
		close(fd);
		return not_preloadable(interp, depth + 1);
	}
	if (n < (ssize_t)sizeof(eh) || memcmp(hdr, ELFMAG, SELFMAG) || hdr[EI_CLASS] != ELFCLASS64) {
		close(fd);
		return NULL;	/* not ours to judge: exec will say what it is */
	}
	memcpy(&eh, hdr, sizeof(eh));
	for (i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (Elf64_Off)i * eh.e_phentsize)) !=
		    (ssize_t)sizeof(ph))
			break;
		if (ph.p_type == PT_INTERP) {
			close(fd);
			return NULL;
		}
	}
	snprintf(why, sizeof(why), "%s is statically linked: LD_PRELOAD cannot reach it, so its "
		 "connections would not be protected", path);
out:
	if (fd >= 0)
		close(fd);
	return why;
}

/* Where the shim is: $HANDOFF_PRELOAD, else where `make install` put it. */
static const char *preload_path(void)
{
	const char *env = getenv("HANDOFF_PRELOAD");

	return env && *env ? env : PKGLIBDIR "/" PRELOAD_NAME;
}

static int parse(int argc, char **argv, struct run_args *a)
{
	size_t n_settings = 0;
	struct option *all;
	int opt, idx, ret = -1;

	while (cli_setting_options[n_settings].name)
		n_settings++;
	all = calloc(n_settings + sizeof(run_options) / sizeof(run_options[0]), sizeof(*all));
	if (!all)
		return -1;
	memcpy(all, cli_setting_options, n_settings * sizeof(*all));
	memcpy(all + n_settings, run_options, sizeof(run_options));

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", all, &idx)) != -1) {
		switch (opt) {
		case 'h':
			printf("%s\n%s", run_usage, cli_config_usage);
			exit(CLI_EXIT_OK);
		case '?':
			fprintf(stderr, "%s\n%s", run_usage, cli_config_usage);
			goto out;
		case CLI_OPT_SETTING:
			if (add_line(a, all[idx].name, optarg) < 0)
				goto out;
			break;
		case OPT_ACCEPT:
			if (add_spec(&a->accept, &a->n_accept, optarg) < 0)
				goto out;
			break;
		case OPT_CONNECT:
			if (add_spec(&a->connect, &a->n_connect, optarg) < 0)
				goto out;
			break;
		case OPT_CONFIG:
			a->config = optarg;
			break;
		case OPT_CHECK_CONFIG:
			a->check = true;
			break;
		case OPT_DEBUG:
			a->debug = true;
			break;
		case OPT_LOG:
			a->log = optarg;
			break;
		case OPT_VERIFY_ADDRESS:
			a->verify_address = true;
			break;
		case OPT_DELEGATE:
			if (add_line(a, "delegate", optarg) < 0)
				goto out;
			break;
		case OPT_IDENTITY:
			if (add_line(a, "identity", optarg) < 0)
				goto out;
			break;
		}
	}
	if (a->config && (a->n_accept || a->n_connect || a->settings)) {
		fprintf(stderr, "handoff run: --config FILE says everything; drop the other flags "
				"(or drop --config)\n");
		goto out;
	}
	if (!a->config && !a->n_accept && !a->n_connect) {
		fprintf(stderr, "handoff run: nothing to protect: give --accept, --connect or --config\n");
		goto out;
	}
	ret = optind;
out:
	free(all);
	return ret;
}

int cmd_run(int argc, char **argv)
{
	struct run_args a = { 0 };
	struct shim_conf *conf = NULL;
	char err[1024], *ini = NULL, *preload_env = NULL;
	const char *preload, *old, *why;
	char exe[4096];
	int first, ret;

	first = parse(argc, argv, &a);
	if (first < 0) {
		ret = CLI_EXIT_USAGE;
		goto out;
	}
	if (!a.config && !(ini = build_ini(&a))) {
		fprintf(stderr, "handoff run: out of memory\n");
		ret = CLI_EXIT_FAIL;
		goto out;
	}
	if (a.config)
		ret = shim_conf_load_file(a.config, &conf, err, sizeof(err));
	else
		ret = shim_conf_load_string(ini, "handoff run", &conf, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "handoff run: %s\n", err);
		ret = CLI_EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < conf->n_rules; i++)
		if (conf->rules[i].warnings)
			fprintf(stderr, "handoff run: warning: [%s %s]: %s\n",
				conf->rules[i].kind == SHIM_RULE_ACCEPT ? "accept" : "connect",
				conf->rules[i].spec, conf->rules[i].warnings);
	if (a.check) {
		printf("configuration ok: %u accept and %u connect rules\n", conf->n_accept,
		       conf->n_connect);
		for (size_t i = 0; i < conf->n_rules; i++) {
			const struct shim_rule *r = &conf->rules[i];
			struct stat st;

			if (!r->delegate)
				continue;
			/* Not an error: handoffd may start after the program. */
			printf("  [%s %s]: handshakes by handoffd at %s, identity %s (%s)\n",
			       r->kind == SHIM_RULE_ACCEPT ? "accept" : "connect", r->spec, r->delegate,
			       r->identity, stat(r->delegate, &st) < 0 ? strerror(errno) :
			       S_ISSOCK(st.st_mode) ? "socket present" : "not a socket");
		}
		ret = CLI_EXIT_OK;
		goto out;
	}
	if (first >= argc) {
		fprintf(stderr, "handoff run: no program to run (handoff run [OPTIONS] -- PROGRAM ...)\n");
		ret = CLI_EXIT_USAGE;
		goto out;
	}
	if (!find_program(argv[first], exe, sizeof(exe))) {
		fprintf(stderr, "handoff run: %s: not found\n", argv[first]);
		ret = 127;
		goto out;
	}
	if ((why = not_preloadable(exe, 0))) {
		fprintf(stderr, "handoff run: refusing to run it: %s\n", why);
		ret = CLI_EXIT_FAIL;
		goto out;
	}
	preload = preload_path();
	if (access(preload, R_OK) < 0) {
		fprintf(stderr, "handoff run: %s: %s (set HANDOFF_PRELOAD to the shim's path)\n",
			preload, strerror(errno));
		ret = CLI_EXIT_FAIL;
		goto out;
	}
	old = getenv("LD_PRELOAD");
#ifdef HANDOFF_ASAN_RUNTIME
	/*
	 * A sanitizer build (--enable-sanitizers): the shim needs the ASan
	 * runtime, which must be the first library loaded, and the program
	 * under it was built without one.
	 */
	if (asprintf(&preload_env, "%s:%s%s%s", HANDOFF_ASAN_RUNTIME, preload,
		     old && *old ? ":" : "", old ? old : "") < 0 ||
	    /*
	     * The program is not ours: what it leaves allocated at exit (a
	     * Python interpreter leaves plenty) is not what this build looks
	     * for; the shim's own leaks are the soak tests' to find.  And
	     * ASan's default 256 MiB of freed memory held back per process
	     * would not fit an nginx with workers in a small test VM.
	     */
	    (!getenv("ASAN_OPTIONS") &&
	     setenv("ASAN_OPTIONS", "detect_leaks=0:quarantine_size_mb=32", 1) < 0)) {
#else
	if (asprintf(&preload_env, "%s%s%s", preload, old && *old ? ":" : "", old ? old : "") < 0) {
#endif
		ret = CLI_EXIT_FAIL;
		goto out;
	}
	if (setenv("LD_PRELOAD", preload_env, 1) < 0 ||
	    (a.config ? setenv("HANDOFF_SHIM_CONFIG", a.config, 1) : unsetenv("HANDOFF_SHIM_CONFIG")) < 0 ||
	    (a.config ? unsetenv("HANDOFF_SHIM_INI") : setenv("HANDOFF_SHIM_INI", ini, 1)) < 0 ||
	    (a.debug && setenv("HANDOFF_SHIM_DEBUG", "1", 1) < 0)) {
		fprintf(stderr, "handoff run: cannot set the environment: %s\n", strerror(errno));
		ret = CLI_EXIT_FAIL;
		goto out;
	}
	/* handoff ignores SIGPIPE for itself; the program gets the disposition it expects. */
	signal(SIGPIPE, SIG_DFL);
	shim_conf_free(conf);
	conf = NULL;
	execvp(argv[first], argv + first);
	fprintf(stderr, "handoff run: %s: %s\n", argv[first], strerror(errno));
	ret = errno == ENOENT ? 127 : 126;
out:
	shim_conf_free(conf);
	free(ini);
	free(preload_env);
	free(a.settings);
	for (size_t i = 0; i < a.n_accept; i++)
		free(a.accept[i]);
	for (size_t i = 0; i < a.n_connect; i++)
		free(a.connect[i]);
	free(a.accept);
	free(a.connect);
	return ret;
}
