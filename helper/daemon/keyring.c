/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <errno.h>
#include <keyutils.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/keyring.h"
#include "util/wipe.h"

/* The kernel's own consumers keep their keys here; tlshd links them always. */
/* "TLS x509 " and a peer name (a DNS name or an IPv6 literal with a scope). */
#define HD_PEER_DESC_MAX 300

static const char *const wellknown[] = { ".nfs", ".nfsd", ".nvme" };

/*
 * A keyring that does not exist is normal (no NFS server here: no .nfsd).
 * One that could not be looked for is not: libkeyutils reads /proc/keys to
 * find it, which takes an fd, and without it the handshake would fail as
 * "no PSK", far from the cause.  -errno then.
 */
static int link_named(const char *name)
{
	key_serial_t ring;

	errno = 0;
	ring = find_key_by_type_and_desc("keyring", name, 0);
	if (ring >= 0) {
		keyctl_link(ring, KEY_SPEC_PROCESS_KEYRING);
		return 0;
	}
	return errno == EMFILE || errno == ENFILE || errno == ENOMEM ? -errno : 0;
}

int hd_keyring_link(uint32_t request_keyring, char *const *names, size_t n_names)
{
	int ret = 0, err;

	for (size_t i = 0; i < ARRAY_SIZE(wellknown); i++)
		if ((err = link_named(wellknown[i])) < 0 && !ret)
			ret = err;
	for (size_t i = 0; i < n_names; i++)
		if ((err = link_named(names[i])) < 0 && !ret)
			ret = err;
	if (request_keyring &&
	    keyctl_link((key_serial_t)request_keyring, KEY_SPEC_PROCESS_KEYRING) < 0)
		return -errno;
	return ret;
}

int hd_keyring_read(uint32_t serial, uint8_t **data, size_t *len)
{
	void *buf = NULL;
	long n;

	if (!serial || serial > INT32_MAX)
		return -ENOKEY;
	n = keyctl_read_alloc((key_serial_t)serial, &buf);
	if (n < 0)
		return -errno;
	*data = buf;
	*len = (size_t)n;
	return 0;
}

void hd_keyring_free(uint8_t *data, size_t len)
{
	wipe_free(data, len);
}

int hd_keyring_search(const char *type, const char *desc)
{
	long serial = keyctl_search(KEY_SPEC_PROCESS_KEYRING, type, desc, 0);

	return serial < 0 ? -errno : (int)serial;
}

int hd_keyring_describe(uint32_t serial, char *type, size_t type_size, char *desc,
			size_t desc_size)
{
	char *text = NULL, *p;
	size_t n;

	if (!serial || serial > INT32_MAX)
		return -ENOKEY;
	if (keyctl_describe_alloc((key_serial_t)serial, &text) < 0)
		return -errno;
	/* "type;uid;gid;perm;description": the description may hold ';'. */
	n = strcspn(text, ";");
	snprintf(type, type_size, "%.*s", (int)n, text);
	p = text;
	for (int i = 0; i < 4 && p; i++) {
		p = strchr(p, ';');
		if (p)
			p++;
	}
	snprintf(desc, desc_size, "%s", p ? p : "");
	free(text);
	return 0;
}

int hd_keyring_add_peer_cert(const uint8_t *der, size_t len, const char *peer)
{
	char desc[HD_PEER_DESC_MAX];
	key_serial_t serial;
	int n;

	if (!der || !len || !peer)
		return -EINVAL;
	n = snprintf(desc, sizeof(desc), "TLS x509 %s", peer);
	if (n < 0 || (size_t)n >= sizeof(desc))
		return -ENAMETOOLONG;
	/*
	 * The user keyring, as tlshd: the key outlives the request (the
	 * consumer may look at it later), and one per peer name is kept,
	 * since a key of the same type and description replaces the last.
	 */
	serial = add_key("asymmetric", desc, der, len, KEY_SPEC_USER_KEYRING);
	if (serial < 0)
		return -errno;
	/* A certificate is public, but nobody but root should change or link it. */
	if (keyctl_setperm(serial, KEY_USR_VIEW | KEY_USR_READ | KEY_POS_VIEW | KEY_POS_READ) < 0) {
		int err = -errno;

		keyctl_unlink(serial, KEY_SPEC_USER_KEYRING);
		return err;
	}
	return (int)serial;
}
