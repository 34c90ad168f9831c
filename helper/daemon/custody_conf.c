/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The custody sections of handoffd.conf: [custody] (the socket) and
 * [identity NAME] (a key, its TLS policy, and who may use it).  The TLS
 * keys are not ours: they go to helper/settings, the one vocabulary the
 * shim and the CLI speak too, so "ca-file" means the same everywhere.
 */
#include "common.h"

#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/custody.h"
#include "settings/settings.h"

#define DEFAULT_MODE 0666
#define DEFAULT_MAX_REQUESTS 4
#define DEFAULT_MAX_PENDING 64

static struct hd_custody_conf *conf_new(void)
{
	struct hd_custody_conf *cc = calloc(1, sizeof(*cc));

	if (!cc)
		return NULL;
	cc->mode = DEFAULT_MODE;
	cc->max_requests = DEFAULT_MAX_REQUESTS;
	cc->max_pending = DEFAULT_MAX_PENDING;
	return cc;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CUSTODY_IDENTITY_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

static int why_set(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int why_set(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -1;
}

static int get_uint(const char *value, unsigned min, unsigned max, unsigned *out, char *why,
		    size_t why_size)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(value, &end, 0);
	if (!*value || *end || errno || value[0] == '-' || v < min || v > max) {
		snprintf(why, why_size, "\"%s\" is not a number from %u to %u", value, min, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int custody_key(struct hd_custody_conf *cc, const char *key, const char *value, char *why,
		       size_t why_size)
{
	unsigned v;

	if (!strcmp(key, "socket")) {
		if (value[0] != '/' || strlen(value) >= 108)
			return why_set(why, why_size, "\"%s\": an absolute path, shorter than 108 bytes",
				       value);
		free(cc->socket);
		if (!(cc->socket = strdup(value)))
			return why_set(why, why_size, "%s", "out of memory");
		return 0;
	}
	if (!strcmp(key, "mode")) {
		if (value[0] != '0' || get_uint(value, 0, 0777, &v, why, why_size) < 0)
			return why_set(why, why_size, "\"%s\" is not an octal file mode (0600, 0666)", value);
		cc->mode = (mode_t)v;
		return 0;
	}
	if (!strcmp(key, "max-requests"))
		return get_uint(value, 1, 1024, &cc->max_requests, why, why_size);
	if (!strcmp(key, "max-pending"))
		return get_uint(value, 1, 4096, &cc->max_pending, why, why_size);
	if (!strcmp(key, "max-per-uid"))
		return get_uint(value, 1, 1024, &cc->max_per_uid, why, why_size);
	if (!strcmp(key, "max-queued-per-uid"))
		return get_uint(value, 1, 4096, &cc->max_queued_per_uid, why, why_size);
	return why_set(why, why_size, "%s", "unknown key (the [custody] keys are socket, mode, "
					     "max-requests, max-pending, max-per-uid and "
					     "max-queued-per-uid)");
}

/* "33 www-data, 1000": names resolved now, so a typo fails at load, not at a request. */
static int id_list(const char *value, bool groups, uint32_t *ids, size_t *n, char *why,
		   size_t why_size)
{
	char *copy = strdup(value), *tok, *save = NULL, *end;
	unsigned long v;
	int ret = 0;

	if (!copy)
		return why_set(why, why_size, "%s", "out of memory");
	for (tok = strtok_r(copy, " ,;\t", &save); tok; tok = strtok_r(NULL, " ,;\t", &save)) {
		errno = 0;
		v = strtoul(tok, &end, 10);
		if (*end || errno || tok[0] == '-' || v >= 0xffffffffUL) {
			struct passwd *pw = groups ? NULL : getpwnam(tok);
			struct group *gr = groups ? getgrnam(tok) : NULL;

			if (!pw && !gr) {
				ret = why_set(why, why_size, groups ? "no group \"%s\"" : "no user \"%s\"",
					      tok);
				break;
			}
			v = groups ? gr->gr_gid : pw->pw_uid;
		}
		if (*n >= HD_CUSTODY_MAX_IDS) {
			ret = why_set(why, why_size, "more than %d entries", HD_CUSTODY_MAX_IDS);
			break;
		}
		ids[(*n)++] = (uint32_t)v;
	}
	free(copy);
	return ret;
}

static struct hd_custody_identity *identity_get(struct hd_custody_conf *cc, const char *name,
						unsigned line, char *why, size_t why_size)
{
	struct hd_custody_identity *grown, *id;

	for (size_t i = 0; i < cc->n_ids; i++)
		if (!strcmp(cc->ids[i].name, name))
			return &cc->ids[i];
	if (!valid_name(name)) {
		why_set(why, why_size, "\"%s\": an identity name is 1 to 64 of A-Z a-z 0-9 . _ -", name);
		return NULL;
	}
	grown = realloc(cc->ids, (cc->n_ids + 1) * sizeof(*cc->ids));
	if (!grown) {
		why_set(why, why_size, "%s", "out of memory");
		return NULL;
	}
	cc->ids = grown;
	id = &cc->ids[cc->n_ids];
	memset(id, 0, sizeof(*id));
	id->line = line;
	id->name = strdup(name);
	id->set = settings_new();
	if (!id->name || !id->set) {
		free(id->name);
		settings_free(id->set);
		why_set(why, why_size, "%s", "out of memory");
		return NULL;
	}
	cc->n_ids++;
	return id;
}

int hd_custody_conf_key(struct hd_custody_conf **ccp, const char *section, const char *key,
			const char *value, unsigned line, char *why, size_t why_size)
{
	struct hd_custody_identity *id;
	bool custody = !strcmp(section, "custody");
	int ret;

	if (!custody && strncmp(section, "identity ", 9) != 0)
		return 1;
	if (!*ccp && !(*ccp = conf_new()))
		return why_set(why, why_size, "%s", "out of memory");
	if (custody)
		return custody_key(*ccp, key, value, why, why_size);
	id = identity_get(*ccp, section + 9, line, why, why_size);
	if (!id)
		return -1;
	if (!strcmp(key, "allow-uid"))
		return id_list(value, false, id->uids, &id->n_uids, why, why_size);
	if (!strcmp(key, "allow-gid"))
		return id_list(value, true, id->gids, &id->n_gids, why, why_size);
	/* handoffd installs kernel TLS or fails: the caller would read ciphertext otherwise. */
	if (!strcmp(key, "insecure-userspace-fallback"))
		return why_set(why, why_size, "%s", "not possible for a custody identity (the caller "
						   "reads the socket itself)");
	ret = settings_set(id->set, key, value);
	if (ret < 0)
		return why_set(why, why_size, "%s", settings_error(id->set));
	if (ret > 0)
		return why_set(why, why_size, "%s", "unknown key (allow-uid, allow-gid, or a TLS "
						   "setting: cert, key, ca-file, ...)");
	return 0;
}

int hd_custody_conf_finish(struct hd_custody_conf *cc, char *why, size_t why_size, unsigned *line)
{
	if (!cc)
		return 0;
	for (size_t i = 0; i < cc->n_ids; i++) {
		struct hd_custody_identity *id = &cc->ids[i];

		if (!id->set)
			continue;
		*line = id->line;
		if (settings_finish(id->set) < 0) {
			snprintf(why, why_size, "[identity %s]: %s", id->name, settings_error(id->set));
			return -1;
		}
		if (!id->n_uids && !id->n_gids) {
			snprintf(why, why_size, "[identity %s]: nobody may use it: add allow-uid or "
				 "allow-gid", id->name);
			return -1;
		}
		if ((settings_servername(id->set) &&
		     !(id->servername = strdup(settings_servername(id->set)))) ||
		    (settings_warnings(id->set) &&
		     !(id->warnings = strdup(settings_warnings(id->set))))) {
			snprintf(why, why_size, "out of memory");
			return -1;
		}
		id->can_serve = settings_has_identity(id->set);
		id->timeout_ms = settings_timeout_ms(id->set);
		id->cfg = settings_take_config(id->set);
		settings_free(id->set);
		id->set = NULL;
	}
	/*
	 * One uid's share.  By default it may fill all but one of the
	 * handshake places and half of the queue: a flood of stalled
	 * handshakes from one caller (a compromised program can make them at
	 * will) leaves room for everyone else, and a lone caller loses one
	 * place at most.  Set, a share above the whole is the whole.
	 */
	if (!cc->max_per_uid)
		cc->max_per_uid = cc->max_requests > 1 ? cc->max_requests - 1 : 1;
	if (cc->max_per_uid > cc->max_requests)
		cc->max_per_uid = cc->max_requests;
	if (!cc->max_queued_per_uid)
		cc->max_queued_per_uid = cc->max_pending > 1 ? cc->max_pending / 2 : 1;
	if (cc->max_queued_per_uid > cc->max_pending)
		cc->max_queued_per_uid = cc->max_pending;
	if (cc->n_ids && !cc->socket) {
		*line = cc->ids[0].line;
		snprintf(why, why_size, "[identity %s]: no [custody] socket: nobody could reach it",
			 cc->ids[0].name);
		return -1;
	}
	return 0;
}

void hd_custody_conf_free(struct hd_custody_conf *cc)
{
	if (!cc)
		return;
	for (size_t i = 0; i < cc->n_ids; i++) {
		settings_free(cc->ids[i].set);
		handoff_config_free(cc->ids[i].cfg);
		free(cc->ids[i].name);
		free(cc->ids[i].servername);
		free(cc->ids[i].warnings);
	}
	free(cc->ids);
	free(cc->socket);
	free(cc);
}

const struct hd_custody_identity *hd_custody_identity_find(const struct hd_custody_conf *cc,
							   const char *name)
{
	if (!cc)
		return NULL;
	for (size_t i = 0; i < cc->n_ids; i++)
		if (!strcmp(cc->ids[i].name, name))
			return &cc->ids[i];
	return NULL;
}

bool hd_custody_allowed(const struct hd_custody_identity *id, uid_t uid, const gid_t *gids,
			size_t n_gids)
{
	for (size_t i = 0; i < id->n_uids; i++)
		if (id->uids[i] == uid)
			return true;
	for (size_t i = 0; i < id->n_gids; i++)
		for (size_t j = 0; j < n_gids; j++)
			if (id->gids[i] == gids[j])
				return true;
	return false;
}
