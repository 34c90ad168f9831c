/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The names the program resolved, by address, so that connect() knows
 * which name to send as SNI and verify: the one the program asked for,
 * never a reverse lookup.  A small ring: the newest resolution of an
 * address wins, the oldest entries fall out.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/shim.h"

#define NAMES_MAX 256
#define NAME_LEN 256

struct name_entry {
	int family;
	uint8_t addr[16];
	char name[NAME_LEN];
};

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static struct name_entry names[NAMES_MAX];
static unsigned names_next;

static int key(const struct sockaddr *sa, int *family, uint8_t addr[16])
{
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (!memcmp(a, mapped, sizeof(mapped))) {
			*family = AF_INET;
			memcpy(addr, a + 12, 4);
		} else {
			*family = AF_INET6;
			memcpy(addr, a, 16);
		}
		return 0;
	}
	return -1;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

void names_remember(const struct sockaddr *sa, const char *name)
{
	struct name_entry *e = NULL;
	uint8_t addr[16];
	int family;
	unsigned i;

	if (!name || strlen(name) >= NAME_LEN || key(sa, &family, addr) < 0)
		return;
	pthread_mutex_lock(&names_lock);
	for (i = 0; i < NAMES_MAX; i++) {
		if (names[i].family == family && !memcmp(names[i].addr, addr, addr_len(family))) {
			e = &names[i];
			break;
		}
	}
	if (!e)
		e = &names[names_next++ % NAMES_MAX];
	e->family = family;
	memcpy(e->addr, addr, addr_len(family));
	snprintf(e->name, sizeof(e->name), "%s", name);
	pthread_mutex_unlock(&names_lock);
}

bool names_lookup(const struct sockaddr *sa, char *buf, size_t len)
{
	uint8_t addr[16];
	int family;
	unsigned i;
	bool found = false;

	if (key(sa, &family, addr) < 0)
		return false;
	pthread_mutex_lock(&names_lock);
	for (i = 0; i < NAMES_MAX; i++) {
		if (names[i].family == family && !memcmp(names[i].addr, addr, addr_len(family))) {
			snprintf(buf, len, "%s", names[i].name);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&names_lock);
	return found;
}
