/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handoffd's configuration: tlshd's file read unchanged, our own strict
 * handoffd.conf, broken files (the error names file, line, section and
 * key) and keys we cannot honour (reported by name, never dropped).
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "testutil.h"

struct notes {
	char text[2048];
	int n;
};

static void collect(void *ctx, const char *text)
{
	struct notes *notes = ctx;
	size_t len = strlen(notes->text);

	snprintf(notes->text + len, sizeof(notes->text) - len, "%s\n", text);
	notes->n++;
}

/* What ktls-utils 1.x installs, with every key filled in. */
static const char tlshd_full[] =
	"# tlshd.conf, as ktls-utils ships it\n"
	"[debug]\n"
	"loglevel=1\n"
	"tls=2\n"
	"nl=3\n"
	"\n"
	"[authenticate]\n"
	"keyrings= .mykeys;.other ; third\n"
	"\n"
	"[authenticate.client]\n"
	"x509.truststore= /etc/pki/ca.pem\n"
	"x509.crl=/etc/pki/crl.pem\n"
	"x509.certificate=/etc/pki/client.pem\n"
	"x509.private_key=/etc/pki/client.key\n"
	"\n"
	"[authenticate.server]\n"
	"x509.certificate=/etc/pki/server.pem\n"
	"x509.private_key=/etc/pki/server.key\n"
	"x509.allowed_subjects=CN=client.test;CN=b,O=example\n";

START_TEST(test_tlshd_full)
{
	struct notes notes = { "", 0 };
	struct hd_conf conf;
	char err[512] = "";

	ck_assert_int_eq(hd_conf_parse_string(&conf, "tlshd.conf", tlshd_full, HD_CONF_TLSHD,
					      collect, &notes, err, sizeof(err)), 0);
	ck_assert_int_eq(notes.n, 0);
	ck_assert_int_eq(conf.loglevel, 1);
	ck_assert_int_eq(conf.tls_debug, 2);
	ck_assert_int_eq(conf.nl_debug, 3);
	ck_assert_uint_eq(conf.n_keyrings, 3);
	ck_assert_str_eq(conf.keyrings[0], ".mykeys");
	ck_assert_str_eq(conf.keyrings[1], ".other");
	ck_assert_str_eq(conf.keyrings[2], "third");
	ck_assert_str_eq(conf.client.truststore, "/etc/pki/ca.pem");
	ck_assert_str_eq(conf.client.crl, "/etc/pki/crl.pem");
	ck_assert_str_eq(conf.client.certificate, "/etc/pki/client.pem");
	ck_assert_str_eq(conf.client.private_key, "/etc/pki/client.key");
	ck_assert_ptr_null(conf.server.truststore);
	ck_assert_str_eq(conf.server.certificate, "/etc/pki/server.pem");
	ck_assert_str_eq(conf.server.private_key, "/etc/pki/server.key");
	ck_assert_uint_eq(conf.server.n_allowed_subjects, 2);
	ck_assert_str_eq(conf.server.allowed_subjects[0], "CN=client.test");
	ck_assert_str_eq(conf.server.allowed_subjects[1], "CN=b,O=example");
	ck_assert_uint_eq(conf.client.n_allowed_subjects, 0);
	ck_assert_str_eq(conf.path, "tlshd.conf");
	/* Defaults of ours stay when the file says nothing. */
	ck_assert_uint_eq(conf.workers, 8);
	ck_assert_uint_eq(conf.max_handshakes, 64);
	hd_conf_free(&conf);
}
END_TEST

static const struct {
	const char *name;
	const char *text;
	enum hd_conf_format format;
	int want;
	const char *err;	/* substring of the error; NULL: none */
	const char *notes;	/* substring of the notes; NULL: no notes */
} cases[] = {
	{ "empty", "", HD_CONF_TLSHD, 0, NULL, NULL },
	{ "comments only", "# x\n; y\n", HD_CONF_HANDOFFD, 0, NULL, NULL },
	{ "ours", "[handoffd]\nworkers = 4\nmax-handshakes = 100\ntimeout = 5000\n",
	  HD_CONF_HANDOFFD, 0, NULL, NULL },
	{ "pq certificate noted", "[authenticate.server]\nx509.pq.certificate=/a\n",
	  HD_CONF_TLSHD, 0, NULL, "t:2: [authenticate.server] x509.pq.certificate: not supported" },
	{ "pq key noted in ours too", "[authenticate.client]\nx509.pq.private_key=/a\n",
	  HD_CONF_HANDOFFD, 0, NULL, "x509.pq.private_key: not supported" },
	{ "delay_done noted", "\n\n[debug]\ndelay_done=3\n", HD_CONF_TLSHD, 0, NULL,
	  "t:4: [debug] delay_done: not supported" },
	{ "unknown key noted (tlshd)", "[debug]\nverbose=1\n", HD_CONF_TLSHD, 0, NULL,
	  "t:2: [debug] verbose: unknown, ignored" },
	{ "unknown section noted (tlshd)", "[main]\ndebug=1\n", HD_CONF_TLSHD, 0, NULL,
	  "t:2: [main] debug: unknown, ignored" },
	{ "unknown key fails (ours)", "[handoffd]\nworkers=2\nthreads=3\n", HD_CONF_HANDOFFD,
	  -EINVAL, "t:3: [handoffd] threads: unknown key", NULL },
	{ "unknown section fails (ours)", "[tls]\nx=1\n", HD_CONF_HANDOFFD, -EINVAL,
	  "t:2: [tls] x: unknown key", NULL },
	{ "bad number", "[debug]\nloglevel=loud\n", HD_CONF_TLSHD, -EINVAL,
	  "t:2: [debug] loglevel: \"loud\" is not a number", NULL },
	{ "negative number", "[debug]\nloglevel=-1\n", HD_CONF_TLSHD, -EINVAL,
	  "[debug] loglevel: \"-1\" is not a number", NULL },
	{ "workers zero", "[handoffd]\nworkers=0\n", HD_CONF_HANDOFFD, -EINVAL,
	  "t:2: [handoffd] workers: \"0\" is not a number from 1 to 1024", NULL },
	{ "workers too many", "[handoffd]\nworkers=99999\n", HD_CONF_HANDOFFD, -EINVAL,
	  "[handoffd] workers", NULL },
	{ "number with junk", "[handoffd]\ntimeout=5s\n", HD_CONF_HANDOFFD, -EINVAL,
	  "[handoffd] timeout: \"5s\"", NULL },
	{ "empty path", "[authenticate.client]\nx509.truststore=\n", HD_CONF_TLSHD, -EINVAL,
	  "t:2: [authenticate.client] x509.truststore: empty path", NULL },
	{ "key outside a section", "loglevel=1\n", HD_CONF_TLSHD, -EINVAL,
	  "t:1: [] loglevel: outside any section", NULL },
	{ "syntax: no equals", "[debug]\nloglevel 1\n", HD_CONF_TLSHD, -EINVAL,
	  "t:2: syntax error", NULL },
	{ "syntax: open section", "[debug\nloglevel=1\n", HD_CONF_TLSHD, -EINVAL,
	  "t:1: syntax error", NULL },
	{ "first error wins", "[debug]\nloglevel=x\nnl=y\n", HD_CONF_TLSHD, -EINVAL,
	  "t:2: [debug] loglevel", NULL },
	{ "too many keyrings", "[authenticate]\nkeyrings=a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p;q\n",
	  HD_CONF_TLSHD, -EINVAL, "[authenticate] keyrings: more than 16 keyrings", NULL },
	{ "allow-list is for servers", "[authenticate.client]\nx509.allowed_subjects=CN=a\n",
	  HD_CONF_HANDOFFD, -EINVAL, "t:2: [authenticate.client] x509.allowed_subjects: unknown key",
	  NULL },
	{ "no final newline", "[debug]\nloglevel=2", HD_CONF_TLSHD, 0, NULL, NULL },
};

START_TEST(test_cases)
{
	struct notes notes = { "", 0 };
	struct hd_conf conf;
	char err[512] = "";
	int ret;

	ret = hd_conf_parse_string(&conf, "t", cases[_i].text, cases[_i].format, collect, &notes,
				   err, sizeof(err));
	ck_assert_msg(ret == cases[_i].want, "%s: got %d, want %d (%s)", cases[_i].name, ret,
		      cases[_i].want, err);
	if (cases[_i].err)
		ck_assert_msg(strstr(err, cases[_i].err), "%s: error \"%s\" lacks \"%s\"",
			      cases[_i].name, err, cases[_i].err);
	if (cases[_i].notes)
		ck_assert_msg(strstr(notes.text, cases[_i].notes), "%s: notes \"%s\" lack \"%s\"",
			      cases[_i].name, notes.text, cases[_i].notes);
	else
		ck_assert_msg(notes.n == 0, "%s: unexpected notes \"%s\"", cases[_i].name,
			      notes.text);
	if (ret < 0) {
		/* A failed parse leaves nothing behind. */
		ck_assert_ptr_null(conf.path);
		ck_assert_uint_eq(conf.n_keyrings, 0);
		ck_assert_ptr_null(conf.client.truststore);
	}
	hd_conf_free(&conf);
}
END_TEST

START_TEST(test_ours_values)
{
	struct hd_conf conf;
	char err[256];

	ck_assert_int_eq(hd_conf_parse_string(&conf, "t", cases[2].text, HD_CONF_HANDOFFD, NULL,
					      NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(conf.workers, 4);
	ck_assert_uint_eq(conf.max_handshakes, 100);
	ck_assert_uint_eq(conf.timeout_ms, 5000);
	hd_conf_free(&conf);

	/* Fewer handshakes in flight than workers would idle workers. */
	ck_assert_int_eq(hd_conf_parse_string(&conf, "t", "[handoffd]\nworkers=9\nmax-handshakes=2\n",
					      HD_CONF_HANDOFFD, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(conf.max_handshakes, 9);
	hd_conf_free(&conf);
}
END_TEST

START_TEST(test_file)
{
	char path[] = "/tmp/handoffd-conf-XXXXXX";
	struct notes notes = { "", 0 };
	struct hd_conf conf;
	char err[512] = "";
	FILE *f;
	int fd;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(tlshd_full, f);
	fputs("[authenticate.server]\nx509.pq.certificate=/pq.pem\n", f);
	fclose(f);
	ck_assert_int_eq(hd_conf_load(&conf, path, HD_CONF_TLSHD, collect, &notes, err,
				      sizeof(err)), 0);
	ck_assert_str_eq(conf.server.certificate, "/etc/pki/server.pem");
	ck_assert_int_eq(notes.n, 1);
	/* The line counts over the whole file: tlshd_full has 19 lines. */
	ck_assert_msg(strstr(notes.text, ":21: [authenticate.server] x509.pq.certificate"),
		      "%s", notes.text);
	hd_conf_free(&conf);

	f = fopen(path, "w");
	fputs("[debug]\n\n# fine so far\nloglevel=much\n", f);
	fclose(f);
	ck_assert_int_eq(hd_conf_load(&conf, path, HD_CONF_TLSHD, NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, ":4: [debug] loglevel"));
	ck_assert_ptr_nonnull(strstr(err, path));
	unlink(path);

	ck_assert_int_eq(hd_conf_load(&conf, path, HD_CONF_TLSHD, NULL, NULL, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

START_TEST(test_format_for)
{
	ck_assert_int_eq(hd_conf_format_for("/etc/handoff/handoffd.conf"), HD_CONF_HANDOFFD);
	ck_assert_int_eq(hd_conf_format_for("handoffd.conf"), HD_CONF_HANDOFFD);
	ck_assert_int_eq(hd_conf_format_for("/etc/tlshd/config"), HD_CONF_TLSHD);
	ck_assert_int_eq(hd_conf_format_for("/etc/tlshd.conf"), HD_CONF_TLSHD);
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("daemon_conf");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_tlshd_full);
	tcase_add_loop_test(tc, test_cases, 0, ARRAY_SIZE(cases));
	tcase_add_test(tc, test_ours_values);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_format_for);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(conf_suite());
}
