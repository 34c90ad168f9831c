/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim_conf_load_string() on arbitrary text: the shim's INI file, the one
 * input an operator (or whoever can write that file) hands the preloaded
 * program before it starts.
 *
 * Input: the file's bytes.  Keys that would make one input take seconds
 * (a CA directory of the whole disk, the system trust store) are skipped:
 * they are file loading, not parsing.  Invariants: 0 means a usable
 * config (at least one rule, every rule a port, every TLS rule a config);
 * -1 means a message that starts with the file's name; nothing else.
 */
#include <string.h>

#include "config/conf.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shim_conf *conf = NULL;
	char err[1024] = "", *text;
	size_t i;
	int ret;

	text = malloc(size + 1);
	FUZZ_CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0';
	if (strstr(text, "ca-dir") || strstr(text, "system-ca")) {
		free(text);
		return 0;
	}
	ret = shim_conf_load_string(text, "f", &conf, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == -1);
	if (ret == 0) {
		FUZZ_CHECK(conf && conf->n_rules > 0);
		FUZZ_CHECK(conf->n_accept + conf->n_connect == conf->n_rules);
		for (i = 0; i < conf->n_rules; i++) {
			FUZZ_CHECK(conf->rules[i].port != 0);
			/* Plaintext, or TLS in the program, or TLS by handoffd (delegated: no cfg). */
			FUZZ_CHECK(conf->rules[i].plaintext + !!conf->rules[i].cfg +
				   !!conf->rules[i].delegate == 1);
		}
	} else {
		FUZZ_CHECK(!conf);
		FUZZ_CHECK(!strncmp(err, "f:", 2) || !strncmp(err, "f: ", 3));
	}
	shim_conf_free(conf);
	free(text);
	return 0;
}
