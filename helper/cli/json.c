/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common.h"

#include <stdio.h>

#include "json.h"

void json_string(const char *s, size_t n)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}
