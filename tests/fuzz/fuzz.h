/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libFuzzer entry points every harness in tests/fuzz provides.  The
 * same harness links either with libFuzzer (make fuzz, clang) or with
 * replay.c (make check, any compiler), which feeds it the checked-in
 * corpus.
 */
#ifndef HANDOFF_FUZZ_H
#define HANDOFF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A broken invariant or a broken harness: abort() so libFuzzer records a
 * crash and the replay driver dies loudly (a harness is not host code).
 */
#define FUZZ_CHECK(cond)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
				__LINE__, #cond);                               \
			abort();                                                \
		}                                                               \
	} while (0)

#endif
