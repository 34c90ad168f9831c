/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shim's configuration: what loads, what is refused (with file, line,
 * section and key in the message), and which rule a listener or a
 * destination falls under.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "config/conf.h"
#include "core/config.h"
#include "settings/settings.h"
#include "testutil.h"

/* @PKI@ in a case's text is the test PKI folder. */
static char *expand(const char *text)
{
	const char *pki = getenv("HANDOFF_PKI"), *at;
	size_t n = 0, plen;
	char *out;

	ck_assert_ptr_nonnull(pki);
	plen = strlen(pki);
	out = malloc(strlen(text) * (plen + 1) + 1);
	ck_assert_ptr_nonnull(out);
	while ((at = strstr(text, "@PKI@"))) {
		memcpy(out + n, text, (size_t)(at - text));
		n += (size_t)(at - text);
		memcpy(out + n, pki, plen);
		n += plen;
		text = at + 5;
	}
	strcpy(out + n, text);
	return out;
}

struct bad_case {
	const char *name;
	const char *text;
	const char *want;	/* substring of the error */
};

#define SERVER "cert = @PKI@/server.pem\nkey = @PKI@/server-key.pem\n"

static const struct bad_case bad_cases[] = {
	{ "empty", "", "no [accept ...] or [connect ...] section" },
	{ "only shim", "[shim]\nlog = stderr\n", "nothing would be protected" },
	{ "key before section", "cert = x\n[accept 1]\n", "t:1: []" },
	{ "unknown section", "[listen 80]\n", "t:1: [listen 80]: unknown section" },
	{ "accept no port", "[accept]\n" SERVER, "t:1: [accept]: needs a port" },
	{ "accept bad port", "[accept 70000]\n" SERVER, "'70000' is not a port" },
	{ "accept port zero", "[accept 0]\n" SERVER, "'0' is not a port" },
	{ "accept name", "[accept example.com:443]\n" SERVER, "is not a local address" },
	{ "wildcard without dot", "[connect *example.com:443]\ninsecure-plaintext = yes\n",
	  "'*example.com': a wildcard is '*.' and then a domain" },
	{ "wildcard inside", "[connect a.*.com:443]\ninsecure-plaintext = yes\n",
	  "a wildcard is '*.'" },
	{ "wildcard alone", "[connect *.:443]\ninsecure-plaintext = yes\n", "a wildcard is '*.'" },
	{ "v6 brackets", "[accept [::1]:443]\n" SERVER, "without brackets" },
	{ "v6 bad", "[accept fe80::zz 443]\n" SERVER, "'fe80::zz' is not an IPv6 address" },
	{ "v6 no port", "[accept ::1]\n" SERVER, "'::1': an IPv6 address is followed by a space" },
	{ "server without identity", "[accept 443]\nca-file = @PKI@/ca.pem\n",
	  "t:1: [accept 443]: a TLS server needs cert and key" },
	{ "cert alone", "[accept 443]\ncert = @PKI@/server.pem\n", "cert and key go together" },
	{ "missing cert file", "[accept 443]\ncert = /nonexistent.pem\nkey = @PKI@/server-key.pem\n",
	  "/nonexistent.pem" },
	/* Several pairs (SNI): each cert with its key, and one pair per name and key type. */
	{ "cert twice before its key", "[accept 443]\ncert = @PKI@/server.pem\ncert = @PKI@/second.pem\n",
	  "t:3: [accept 443] cert: the cert before this one (@PKI@/server.pem) has no key yet" },
	{ "same name and key type twice", "[accept 443]\n" SERVER
	  "cert = @PKI@/chained.pem\nkey = @PKI@/chained-key.pem\n",
	  "t:5: [accept 443] key: certificate @PKI@/chained.pem: localhost already has an ECDSA "
	  "certificate, @PKI@/server.pem" },
	{ "second key not its cert's", "[accept 443]\n" SERVER
	  "key = @PKI@/client-key.pem\ncert = @PKI@/second.pem\n",
	  "t:5: [accept 443] cert: certificate @PKI@/second.pem / key @PKI@/client-key.pem: "
	  "The certificate and the given key do not match" },
	{ "unknown key", "[accept 443]\n" SERVER "colour = blue\n", "t:4: [accept 443] colour: unknown key" },
	{ "bad protocols", "[accept 443]\n" SERVER "protocols = tls1.1\n",
	  "t:4: [accept 443] protocols: unknown or unsupported protocol 'tls1.1'" },
	{ "bad timeout", "[accept 443]\n" SERVER "timeout = soon\n", "[accept 443] timeout: 'soon'" },
	{ "bad bool", "[accept 443]\n" SERVER "insecure-plaintext = maybe\n", "'maybe' is not yes or no" },
	{ "bad verify-client", "[accept 443]\n" SERVER "verify-client = sometimes\n",
	  "'sometimes' is not required, optional or none" },
	{ "no user-space fallback", "[connect 443]\ninsecure-userspace-fallback = yes\n",
	  "not possible under the shim" },
	{ "servername on accept", "[accept 443]\n" SERVER "servername = x\n",
	  "only [connect ...] sections send a server name" },
	{ "verify-address on accept", "[accept 443]\n" SERVER "verify-address = yes\n",
	  "only [connect ...] sections verify" },
	{ "bad log", "[shim]\nlog = somewhere\n[connect 443]\n", "[shim] log: 'somewhere'" },
	{ "psk identity without file", "[connect 443]\npsk-identity = a\n", "psk-identity needs psk-file" },
	{ "first error wins", "[connect 443]\nfoo = 1\nbar = 2\n", "t:2: [connect 443] foo" },
	{ "not ini", "[connect 443]\nthis line is not ini\n", "t:2: not an INI line" },
	/* Delegated mode: the key and the TLS policy are handoffd's, never the program's. */
	{ "delegate then key", "[accept 443]\ndelegate = /run/c.sock\nidentity = web\n"
	  "key = @PKI@/server-key.pem\n",
	  "t:4: [accept 443] key: this rule is delegated (delegate on line 2)" },
	{ "key then delegate", "[accept 443]\ncert = @PKI@/server.pem\ndelegate = /run/c.sock\n",
	  "t:3: [accept 443] delegate: this rule loads TLS keys into the program (line 2)" },
	{ "delegate and ca-file", "[connect 443]\ndelegate = /run/c.sock\nidentity = out\n"
	  "ca-file = @PKI@/ca.pem\n", "t:4: [connect 443] ca-file: this rule is delegated" },
	{ "delegate without identity", "[accept 443]\ndelegate = /run/c.sock\n",
	  "t:1: [accept 443]: delegate needs identity = NAME" },
	{ "identity without delegate", "[accept 443]\n" SERVER "identity = web\n",
	  "identity is handoffd's: it needs delegate = SOCKET" },
	{ "delegate relative", "[accept 443]\ndelegate = c.sock\nidentity = web\n",
	  "t:2: [accept 443] delegate: 'c.sock': the absolute path" },
	{ "identity with a slash", "[accept 443]\ndelegate = /run/c.sock\nidentity = a/b\n",
	  "t:3: [accept 443] identity: 'a/b': an identity name" },
	{ "delegate and plaintext", "[accept 443]\ndelegate = /run/c.sock\nidentity = a\n"
	  "insecure-plaintext = yes\n", "insecure-plaintext and delegate contradict" },
};

START_TEST(test_bad)
{
	const struct bad_case *c = &bad_cases[_i];
	struct shim_conf *conf = NULL;
	char err[1024] = "";
	char *text = expand(c->text), *want = expand(c->want);

	ck_assert_msg(shim_conf_load_string(text, "t", &conf, err, sizeof(err)) == -1,
		      "%s: loaded", c->name);
	ck_assert_ptr_null(conf);
	ck_assert_msg(strstr(err, want), "%s: \"%s\" lacks \"%s\"", c->name, err, want);
	free(text);
	free(want);
}
END_TEST

static struct shim_conf *load_ok(const char *fmt)
{
	struct shim_conf *conf = NULL;
	char err[1024] = "";
	char *text = expand(fmt);

	ck_assert_msg(shim_conf_load_string(text, "t", &conf, err, sizeof(err)) == 0, "%s", err);
	free(text);
	return conf;
}

START_TEST(test_good)
{
	struct shim_conf *conf = load_ok(
		"; a comment\n"
		"[shim]\nlog = /tmp/x.log\ndebug = yes\n"
		"[accept 127.0.0.1 8443]\n" SERVER "verify-client = optional\nalpn = http/1.1\n"
		"[accept 8443]\n" SERVER "timeout = 500\nno-key-update = yes\n"
		"[accept ::1 9443]\n" SERVER
		"[accept 8080]\ninsecure-plaintext = yes\n"
		"[connect *.example.com:443]\nca-file = @PKI@/ca.pem\n"
		"[connect 10.1.2.3:443]\nverify-address = yes\n"
		"[connect 993]\n");

	ck_assert_uint_eq(conf->n_rules, 7);
	ck_assert_uint_eq(conf->n_accept, 4);
	ck_assert_uint_eq(conf->n_connect, 3);
	ck_assert_int_eq(conf->log, SHIM_LOG_FILE);
	ck_assert_str_eq(conf->log_path, "/tmp/x.log");
	ck_assert(conf->debug);
	ck_assert_int_eq(conf->rules[0].family, AF_INET);
	ck_assert_uint_eq(conf->rules[0].port, 8443);
	ck_assert_ptr_nonnull(conf->rules[0].cfg);
	ck_assert_uint_eq(conf->rules[0].line, 5);
	ck_assert_uint_eq(conf->rules[1].timeout_ms, 500);
	ck_assert(conf->rules[1].cfg->no_key_update);
	ck_assert(!conf->rules[0].cfg->no_key_update);
	ck_assert_uint_eq(conf->rules[0].timeout_ms, SETTINGS_DEFAULT_TIMEOUT_MS);
	ck_assert_int_eq(conf->rules[2].family, AF_INET6);
	ck_assert(conf->rules[3].plaintext);
	ck_assert_ptr_null(conf->rules[3].cfg);
	ck_assert_str_eq(conf->rules[4].host, "*.example.com");
	ck_assert_ptr_nonnull(conf->rules[4].cache);
	ck_assert(conf->rules[5].verify_address);
	/* A section with no keys at all is a complete rule (system trust store). */
	ck_assert_uint_eq(conf->rules[6].port, 993);
	ck_assert_ptr_nonnull(conf->rules[6].cfg);
	shim_conf_free(conf);
	shim_conf_free(NULL);
}
END_TEST

/* One listener, several names: every pair is loaded, in order (GnuTLS picks by SNI). */
START_TEST(test_several_certs)
{
	struct shim_conf *conf = load_ok(
		"[accept 8443]\n" SERVER
		"key = @PKI@/second-key.pem\ncert = @PKI@/second.pem\n"
		"cert = @PKI@/server-rsa.pem\nkey = @PKI@/server-rsa-key.pem\n");

	ck_assert_ptr_nonnull(conf->rules[0].cfg);
	ck_assert_uint_eq(conf->rules[0].cfg->n_keypairs, 3);
	ck_assert_ptr_nonnull(strstr(conf->rules[0].cfg->keypairs[1].label, "second.pem"));
	shim_conf_free(conf);
}
END_TEST

/*
 * A key, PSK or ticket-key file every user may read is loaded, and named
 * in the rule's warnings (logged by the shim, printed by handoff run); a
 * private one is not.
 */
START_TEST(test_exposed_key_warned)
{
	char dir[] = "/tmp/check_shimconf.XXXXXX", key[256], ticket[256], psk[256], ini[2048];
	const char *pki = getenv("HANDOFF_PKI");
	struct shim_conf *conf = NULL;
	char err[1024] = "", cmd[1024];

	ck_assert_ptr_nonnull(pki);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(ticket, sizeof(ticket), "%s/ticket.key", dir);
	snprintf(psk, sizeof(psk), "%s/psk.txt", dir);
	snprintf(cmd, sizeof(cmd), "cp %s/server-key.pem %s && cp %s/ticket.key %s && cp %s/psk.txt %s",
		 pki, key, pki, ticket, pki, psk);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(chmod(key, 0644), 0);
	ck_assert_int_eq(chmod(ticket, 0604), 0);
	ck_assert_int_eq(chmod(psk, 0600), 0);
	snprintf(ini, sizeof(ini),
		 "[accept 8443]\ncert = %s/server.pem\nkey = %s\nticket-key = %s\n"
		 "[accept 8444]\npsk-file = %s\n"
		 "[accept 8445]\ncert = %s/server.pem\nkey = %s/server-key.pem\n",
		 pki, key, ticket, psk, pki, pki);
	ck_assert_msg(shim_conf_load_string(ini, "t", &conf, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(conf->rules[0].warnings);
	ck_assert_msg(strstr(conf->rules[0].warnings, "key.pem is readable by every user (mode 0644)") &&
		      strstr(conf->rules[0].warnings, "; ticket-key ") &&
		      strstr(conf->rules[0].warnings, "(mode 0604)"), "%s", conf->rules[0].warnings);
	ck_assert_ptr_null(conf->rules[1].warnings);
	ck_assert_ptr_null(conf->rules[2].warnings);
	shim_conf_free(conf);

	ck_assert_int_eq(chmod(psk, 0644), 0);
	snprintf(ini, sizeof(ini), "[accept 8444]\npsk-file = %s\n", psk);
	conf = NULL;
	ck_assert_msg(shim_conf_load_string(ini, "t", &conf, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(conf->rules[0].warnings && strstr(conf->rules[0].warnings, "psk-file "),
		      "%s", conf->rules[0].warnings ? conf->rules[0].warnings : "(none)");
	shim_conf_free(conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_delegated)
{
	struct shim_conf *conf = load_ok(
		"[accept 8443]\ndelegate = /run/handoffd/custody.sock\nidentity = web\ntimeout = 700\n"
		"[connect api.test:443]\ndelegate = /run/handoffd/custody.sock\nidentity = out\n"
		"servername = api.test\n");

	ck_assert_uint_eq(conf->n_rules, 2);
	/* No TLS config in the program: nothing of the key's is loaded here. */
	ck_assert_ptr_null(conf->rules[0].cfg);
	ck_assert_ptr_null(conf->rules[1].cfg);
	ck_assert_ptr_null(conf->rules[1].cache);
	ck_assert_str_eq(conf->rules[0].delegate, "/run/handoffd/custody.sock");
	ck_assert_str_eq(conf->rules[0].identity, "web");
	ck_assert_uint_eq(conf->rules[0].timeout_ms, 700);
	ck_assert_str_eq(conf->rules[1].identity, "out");
	ck_assert_str_eq(conf->rules[1].servername, "api.test");
	shim_conf_free(conf);
}
END_TEST

START_TEST(test_file)
{
	struct shim_conf *conf = NULL;
	char err[1024], path[] = "/tmp/check_shimconf-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("[connect 443]\n\n\nnonsense = 1\n", f);
	fclose(f);
	ck_assert_int_eq(shim_conf_load_file(path, &conf, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, path) && strstr(err, ":4: [connect 443] nonsense"), "%s", err);
	unlink(path);
	ck_assert_int_eq(shim_conf_load_file(path, &conf, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "No such file"), "%s", err);
}
END_TEST

static struct sockaddr_storage sa4(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	ck_assert_int_eq(inet_pton(AF_INET, addr, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage sa6(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons((uint16_t)port);
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
	return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

START_TEST(test_match)
{
	struct shim_conf *conf = load_ok(
		"[accept 127.0.0.1:8443]\n" SERVER
		"[accept 8443]\n" SERVER
		"[accept ::1 9443]\n" SERVER
		"[connect *.example.com:443]\n"
		"[connect mail.test:993]\n"
		"[connect 10.1.2.3:443]\n"
		"[connect 8080]\n");
	const struct shim_rule *r = conf->rules;
	struct sockaddr_storage a;

	/* Accept: the first rule that matches, by local address and port. */
	a = sa4("127.0.0.1", 8443);
	ck_assert_ptr_eq(shim_conf_match_accept(conf, SA(a)), &r[0]);
	a = sa4("0.0.0.0", 8443);
	ck_assert_ptr_eq(shim_conf_match_accept(conf, SA(a)), &r[1]);
	a = sa6("::ffff:127.0.0.1", 8443);	/* a dual-stack listener's mapped view */
	ck_assert_ptr_eq(shim_conf_match_accept(conf, SA(a)), &r[0]);
	a = sa6("::1", 9443);
	ck_assert_ptr_eq(shim_conf_match_accept(conf, SA(a)), &r[2]);
	a = sa6("::", 9443);
	ck_assert_ptr_null(shim_conf_match_accept(conf, SA(a)));
	a = sa4("127.0.0.1", 8444);
	ck_assert_ptr_null(shim_conf_match_accept(conf, SA(a)));

	/* Connect: by the name the program resolved, or by address. */
	a = sa4("192.0.2.1", 443);
	ck_assert_ptr_eq(shim_conf_match_connect(conf, SA(a), "www.example.com"), &r[3]);
	ck_assert_ptr_eq(shim_conf_match_connect(conf, SA(a), "A.B.EXAMPLE.COM"), &r[3]);
	ck_assert_ptr_null(shim_conf_match_connect(conf, SA(a), "example.com"));
	ck_assert_ptr_null(shim_conf_match_connect(conf, SA(a), "badexample.com"));
	ck_assert_ptr_null(shim_conf_match_connect(conf, SA(a), NULL));
	a = sa4("192.0.2.1", 993);
	ck_assert_ptr_eq(shim_conf_match_connect(conf, SA(a), "mail.test"), &r[4]);
	ck_assert_ptr_null(shim_conf_match_connect(conf, SA(a), "mail.test.evil"));
	a = sa4("10.1.2.3", 443);
	ck_assert_ptr_eq(shim_conf_match_connect(conf, SA(a), NULL), &r[5]);
	a = sa6("::ffff:10.1.2.3", 443);
	ck_assert_ptr_eq(shim_conf_match_connect(conf, SA(a), NULL), &r[5]);
	a = sa6("2001:db8::1", 8080);
	ck_assert_ptr_eq(shim_conf_match_connect(conf, SA(a), "anything"), &r[6]);
	a = sa4("10.1.2.3", 444);
	ck_assert_ptr_null(shim_conf_match_connect(conf, SA(a), NULL));

	/* Neither matches what is not IP. */
	memset(&a, 0, sizeof(a));
	a.ss_family = AF_UNIX;
	ck_assert_ptr_null(shim_conf_match_accept(conf, SA(a)));
	ck_assert_ptr_null(shim_conf_match_connect(conf, SA(a), "www.example.com"));
	shim_conf_free(conf);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("shimconf");
	TCase *tc = tcase_create("conf");

	tcase_add_loop_test(tc, test_bad, 0, (int)ARRAY_SIZE(bad_cases));
	tcase_add_test(tc, test_good);
	tcase_add_test(tc, test_several_certs);
	tcase_add_test(tc, test_exposed_key_warned);
	tcase_add_test(tc, test_delegated);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_match);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
