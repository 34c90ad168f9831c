/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoffd's per-worker config cache (helper/daemon/credcache.c): a config
 * is built once and kept while the config generation and its files stay
 * the same; a reload, a file rewritten, replaced, removed or brought back
 * makes it build again; a failed build is never kept.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "daemon/credcache.h"
#include "testutil.h"

struct builder {
	int calls;
	int fail;	/* the next build fails */
};

static struct handoff_config *build(void *arg)
{
	struct builder *b = arg;

	b->calls++;
	if (b->fail)
		return NULL;
	return handoff_config_new();
}

static char dir[64], file_a[96], file_b[96];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void setup(void)
{
	strcpy(dir, "/tmp/check_credcache.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file_a, sizeof(file_a), "%s/cert.pem", dir);
	snprintf(file_b, sizeof(file_b), "%s/key.pem", dir);
	write_file(file_a, "certificate\n");
	write_file(file_b, "key\n");
}

static void teardown(void)
{
	unlink(file_a);
	unlink(file_b);
	rmdir(dir);
}

static struct handoff_config *get(struct hd_credcache *c, unsigned key, unsigned long gen,
				  struct builder *b, int *owned)
{
	const char *files[] = { file_a, NULL, file_b };

	return hd_credcache_get(c, key, gen, files, ARRAY_SIZE(files), build, b, owned);
}

/* Built once, then the same config while nothing changes. */
START_TEST(test_kept)
{
	struct hd_credcache *c = hd_credcache_new();
	struct builder b = { 0 };
	struct handoff_config *first, *again;
	int owned = -1;

	first = get(c, 3, 1, &b, &owned);
	ck_assert_ptr_nonnull(first);
	ck_assert_int_eq(owned, 0);
	for (int i = 0; i < 5; i++) {
		again = get(c, 3, 1, &b, &owned);
		ck_assert_ptr_eq(again, first);
		ck_assert_int_eq(owned, 0);
	}
	ck_assert_int_eq(b.calls, 1);
	ck_assert_uint_eq(hd_credcache_builds(c), 1);
	/* Another key is another entry. */
	ck_assert_ptr_ne(get(c, 4, 1, &b, &owned), first);
	ck_assert_int_eq(b.calls, 2);
	ck_assert_ptr_eq(get(c, 3, 1, &b, &owned), first);
	hd_credcache_free(c);
}
END_TEST

/* A reload (new generation) builds again. */
START_TEST(test_generation)
{
	struct hd_credcache *c = hd_credcache_new();
	struct builder b = { 0 };
	int owned;

	get(c, 0, 1, &b, &owned);
	get(c, 0, 2, &b, &owned);
	ck_assert_int_eq(b.calls, 2);
	get(c, 0, 2, &b, &owned);
	ck_assert_int_eq(b.calls, 2);
	hd_credcache_free(c);
}
END_TEST

/* Rewritten in place (new mtime), replaced by rename, removed and back. */
START_TEST(test_files)
{
	struct hd_credcache *c = hd_credcache_new();
	struct builder b = { 0 };
	struct timespec later[2] = { { 0, UTIME_OMIT }, { 2000000000, 0 } };
	char tmp[128];
	int owned;

	get(c, 1, 7, &b, &owned);
	ck_assert_int_eq(b.calls, 1);

	/* Same size, only the modification time moves: a renewal written in place. */
	ck_assert_int_eq(utimensat(AT_FDCWD, file_a, later, 0), 0);
	get(c, 1, 7, &b, &owned);
	ck_assert_int_eq(b.calls, 2);

	/* Replaced by rename (new inode), as certbot and most deploy tools do. */
	snprintf(tmp, sizeof(tmp), "%s/new.pem", dir);
	write_file(tmp, "key\n");
	ck_assert_int_eq(rename(tmp, file_b), 0);
	get(c, 1, 7, &b, &owned);
	ck_assert_int_eq(b.calls, 3);
	get(c, 1, 7, &b, &owned);
	ck_assert_int_eq(b.calls, 3);

	/* Gone: never served from the cache; the build decides (here it fails). */
	ck_assert_int_eq(unlink(file_a), 0);
	b.fail = 1;
	ck_assert_ptr_null(get(c, 1, 7, &b, &owned));
	ck_assert_ptr_null(get(c, 1, 7, &b, &owned));
	ck_assert_int_eq(b.calls, 5);

	/* Back: built and kept again. */
	write_file(file_a, "certificate\n");
	b.fail = 0;
	ck_assert_ptr_nonnull(get(c, 1, 7, &b, &owned));
	get(c, 1, 7, &b, &owned);
	ck_assert_int_eq(b.calls, 6);
	hd_credcache_free(c);
}
END_TEST

/* A failed build is not kept: the next request builds (and reports) again. */
START_TEST(test_failure_not_kept)
{
	struct hd_credcache *c = hd_credcache_new();
	struct builder b = { .fail = 1 };
	int owned;

	ck_assert_ptr_null(get(c, 2, 1, &b, &owned));
	ck_assert_ptr_null(get(c, 2, 1, &b, &owned));
	ck_assert_int_eq(b.calls, 2);
	b.fail = 0;
	ck_assert_ptr_nonnull(get(c, 2, 1, &b, &owned));
	ck_assert_ptr_nonnull(get(c, 2, 1, &b, &owned));
	ck_assert_int_eq(b.calls, 3);
	hd_credcache_free(c);
}
END_TEST

/* No cache (a request with the kernel's own keys), or a key out of range: the caller owns a fresh config. */
START_TEST(test_uncached)
{
	struct hd_credcache *c = hd_credcache_new();
	struct builder b = { 0 };
	struct handoff_config *cfg;
	int owned = 0;

	cfg = get(NULL, 0, 1, &b, &owned);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(owned, 1);
	handoff_config_free(cfg);
	cfg = get(c, HD_CREDCACHE_KEYS, 1, &b, &owned);
	ck_assert_int_eq(owned, 1);
	handoff_config_free(cfg);
	ck_assert_int_eq(b.calls, 2);
	hd_credcache_free(c);
	hd_credcache_free(NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("credcache");
	TCase *tc = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_kept);
	tcase_add_test(tc, test_generation);
	tcase_add_test(tc, test_files);
	tcase_add_test(tc, test_failure_not_kept);
	tcase_add_test(tc, test_uncached);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
