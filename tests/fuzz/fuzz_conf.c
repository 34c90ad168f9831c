/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hd_conf_parse_string() (handoffd's config, both formats) on arbitrary text.
 * Input: one byte choosing the format (bit 0: tlshd's), then the file.
 */
#include "common.h"

#include <string.h>

#include "daemon/config.h"
#include "fuzz.h"

static void ignore(void *ctx, const char *text)
{
	(void)ctx;
	FUZZ_CHECK(text && *text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hd_conf conf;
	char err[512];
	char *text;
	int ret;

	if (size < 1)
		return 0;
	text = malloc(size);
	FUZZ_CHECK(text);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	err[0] = '\0';
	ret = hd_conf_parse_string(&conf, "fuzz.conf", text,
				   (data[0] & 1) ? HD_CONF_TLSHD : HD_CONF_HANDOFFD,
				   ignore, NULL, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENOMEM);
	if (ret == 0) {
		FUZZ_CHECK(conf.workers >= 1 && conf.max_handshakes >= conf.workers);
		FUZZ_CHECK(conf.n_keyrings <= HD_CONF_MAX_KEYRINGS);
		for (size_t i = 0; i < conf.n_keyrings; i++)
			FUZZ_CHECK(conf.keyrings[i][0] != '\0');
	} else {
		/* Every failure says where. */
		FUZZ_CHECK(strncmp(err, "fuzz.conf", 9) == 0);
		FUZZ_CHECK(conf.path == NULL && conf.n_keyrings == 0);
	}
	hd_conf_free(&conf);
	free(text);
	return 0;
}
