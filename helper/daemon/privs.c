/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <cap-ng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "daemon/privs.h"

int hd_privs_drop(char *why, size_t why_size)
{
	bool admin, setpcap;

	if (capng_get_caps_process() < 0) {
		snprintf(why, why_size, "cannot read our capabilities");
		return -EIO;
	}
	admin = capng_have_capability(CAPNG_PERMITTED, CAP_NET_ADMIN);
	setpcap = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_ALL);
	if (admin && capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
				  CAP_NET_ADMIN) < 0) {
		snprintf(why, why_size, "libcap-ng refused CAP_NET_ADMIN");
		return -EINVAL;
	}
	if (capng_apply(setpcap ? CAPNG_SELECT_ALL : CAPNG_SELECT_CAPS) < 0) {
		snprintf(why, why_size, "capset: %s", strerror(errno ? errno : EPERM));
		return errno ? -errno : -EPERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(why, why_size, "no_new_privs: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

void hd_privs_describe(char *buf, size_t size)
{
	char *text;

	if (capng_get_caps_process() < 0) {
		snprintf(buf, size, "unknown");
		return;
	}
	text = capng_print_caps_text(CAPNG_PRINT_BUFFER, CAPNG_EFFECTIVE);
	snprintf(buf, size, "%s", text && *text ? text : "none");
	free(text);
}
