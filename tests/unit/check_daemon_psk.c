/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoffd's PSK hash choice (helper/daemon/psk.c): an NVMe identity names
 * its hash and the key length must agree; other identities go by length;
 * a SHA-384 PSK is refused by name on this GnuTLS, never bound with SHA-256.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "common.h"
#include "daemon/psk.h"
#include "testutil.h"

#define HOST "nqn.2014-08.org.nvmexpress:uuid:0c6f5c1e-0000-4000-8000-000000000001"
#define SUBSYS "nqn.2014-08.org.handoff:tls-test"

static const struct {
	const char *identity;
	size_t key_len;
	int hash;		/* hd_psk_hash */
	int usable;		/* hd_psk_usable */
	const char *why;	/* in the reason, when refused */
} rows[] = {
	{ "NVMe0R01 " HOST " " SUBSYS, 32, HD_PSK_SHA256, 0, NULL },
	{ "NVMe1R01 " HOST " " SUBSYS " digest=", 32, HD_PSK_SHA256, 0, NULL },
	{ "NVMe0G01 " HOST " " SUBSYS, 32, HD_PSK_SHA256, 0, NULL },
	{ "NVMe0R02 " HOST " " SUBSYS, 48, HD_PSK_SHA384, -EOPNOTSUPP, "SHA-384 PSK (48-byte key, NVMe hash 02)" },
	{ "NVMe0R01 " HOST " " SUBSYS, 48, -EKEYREJECTED, -EKEYREJECTED,
	  "says SHA-256 (32-byte key), but the key has 48 bytes" },
	{ "NVMe0R02 " HOST " " SUBSYS, 32, -EKEYREJECTED, -EKEYREJECTED,
	  "says SHA-384 (48-byte key), but the key has 32 bytes" },
	{ "NVMe0R03 " HOST " " SUBSYS, 32, -EKEYREJECTED, -EKEYREJECTED, "hash field 03" },
	{ "NVMe0R00 " HOST " " SUBSYS, 32, -EKEYREJECTED, -EKEYREJECTED, "hash field 00" },
	/* Not the NVMe form: the length decides. */
	{ "handoff-test", 32, HD_PSK_SHA256, 0, NULL },
	{ "handoff-test", 16, HD_PSK_SHA256, 0, NULL },
	{ "handoff-test", 48, HD_PSK_SHA384, -EOPNOTSUPP, "binds external PSKs with SHA-256 only" },
	{ "NVMe0X01 " HOST, 48, HD_PSK_SHA384, -EOPNOTSUPP, "SHA-384 PSK (48-byte key)" },
	{ "NVMe0R01", 32, HD_PSK_SHA256, 0, NULL },	/* no space after the field: not the form */
	/* Cut short at every byte of the form (the identity may come from the network). */
	{ "NVMe", 32, HD_PSK_SHA256, 0, NULL },
	{ "NVMe0", 32, HD_PSK_SHA256, 0, NULL },
	{ "NVMe0R", 32, HD_PSK_SHA256, 0, NULL },
	{ "NVMe0R0", 32, HD_PSK_SHA256, 0, NULL },
	{ "NVMe0R02", 32, HD_PSK_SHA256, 0, NULL },
	{ "NVMe0R02 ", 32, -EKEYREJECTED, -EKEYREJECTED, "says SHA-384" },
	{ "", 32, HD_PSK_SHA256, 0, NULL },
	{ "handoff-test", 0, -EKEYREJECTED, -EKEYREJECTED, "the key is empty" },
	{ NULL, 48, HD_PSK_SHA384, -EOPNOTSUPP, "SHA-384" },
};

START_TEST(test_psk_hash)
{
	char why[256] = "";
	int hash = hd_psk_hash(rows[_i].identity, rows[_i].key_len, why, sizeof(why));
	int usable;

	ck_assert_msg(hash == rows[_i].hash, "%s/%zu: hash %d, want %d (%s)",
		      rows[_i].identity, rows[_i].key_len, hash, rows[_i].hash, why);
	why[0] = '\0';
	usable = hd_psk_usable(rows[_i].identity, rows[_i].key_len, why, sizeof(why));
	ck_assert_msg(usable == rows[_i].usable, "%s/%zu: usable %d, want %d (%s)",
		      rows[_i].identity, rows[_i].key_len, usable, rows[_i].usable, why);
	if (rows[_i].why)
		ck_assert_msg(strstr(why, rows[_i].why), "reason \"%s\" lacks \"%s\"", why, rows[_i].why);
}
END_TEST

/* A reason cut to a small buffer stays a terminated string. */
START_TEST(test_psk_why_truncated)
{
	char why[8];

	memset(why, 'x', sizeof(why));
	ck_assert_int_eq(hd_psk_usable("handoff-test", 48, why, sizeof(why)), -EOPNOTSUPP);
	ck_assert_uint_eq(strlen(why), sizeof(why) - 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("daemon_psk");
	TCase *tc = tcase_create("hash");

	tcase_add_loop_test(tc, test_psk_hash, 0, ARRAY_SIZE(rows));
	tcase_add_test(tc, test_psk_why_truncated);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
