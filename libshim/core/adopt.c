/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An engine connection for a socket whose handshake ran elsewhere: in
 * handoffd (a delegated connection, delegate.c), whose answer may carry
 * the TLS 1.3 traffic secrets, or in the process before exec (a socket
 * this image inherited, inherit.c), with no secrets and no knowing which
 * end we are.  The kernel already has the keys and the program's process
 * has no GnuTLS session.  handoff_adopt_ktls() makes the engine's lean
 * connection, so that the records the kernel hands back (alerts, tickets,
 * renegotiation, KeyUpdate) go through the same engine calls as those of a
 * connection the shim made itself: one engine.
 *
 * The version and cipher come from the kernel (the 4-byte header of its
 * crypto info: no key is copied), not from handoffd's words; the engine
 * checks both directions against them again.
 */
#include <errno.h>
#include <linux/tls.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/frontdoor.h"
#include "core/shim.h"
#include "custody/wire.h"
#include "ktls/ktls.h"
#include "util/wipe.h"

/*
 * One config for every adopted connection: the engine reads only its
 * timeouts after a hand-off.  Made on first use, kept for the process
 * (a fork's child shares the copy).
 */
static struct handoff_config *adopt_cfg;
static pthread_once_t adopt_once = PTHREAD_ONCE_INIT;

static void adopt_cfg_make(void)
{
	adopt_cfg = handoff_config_new();
}

/* The kernel's version and cipher into p, then the engine's connection; NULL with why. */
static struct handoff *adopt(int fd, struct handoff_ktls_params *p, char *why, size_t why_size)
{
	struct handoff *h;
	int ret;

	ret = ktls_get_params(fd, TLS_TX, &p->version, &p->cipher);
	if (ret < 0) {
		snprintf(why, why_size, "cannot read the kernel's TLS state: %s", strerror(-ret));
		return NULL;
	}
	pthread_once(&adopt_once, adopt_cfg_make);
	if (!adopt_cfg) {
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	h = handoff_adopt_ktls(adopt_cfg, fd, p);
	if (!h)
		snprintf(why, why_size, "the engine cannot take the connection over: %s (%s%s)",
			 strerror(errno), handoff_tls_version_name(p->version),
			 p->secret_len ? ", with traffic secrets" : "");
	return h;
}

struct handoff *adopt_inherited(int fd, char *why, size_t why_size)
{
	struct handoff_ktls_params p = { .role_unknown = 1 };

	return adopt(fd, &p, why, why_size);
}

struct handoff *adopt_delegated(struct shim_conn *c, struct custody_reply *rep, char *why,
				size_t why_size)
{
	struct handoff_ktls_params p = { .is_server = c->is_server };
	struct handoff *h;

	if (rep->secret_len) {
		p.write_secret = rep->write_secret;
		p.read_secret = rep->read_secret;
		p.secret_len = rep->secret_len;
	}
	h = adopt(c->fd, &p, why, why_size);
	wipe(rep->write_secret, sizeof(rep->write_secret));
	wipe(rep->read_secret, sizeof(rep->read_secret));
	return h;
}
