/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soak - many handshakes through libhandoff, and proof that nothing stays
 * behind: the open fds and the resident memory of the process go back to
 * where they were.
 *
 *   soak [-n SEQUENTIAL] [-c CONCURRENT] [-r ROUNDS]
 *        in this process: a threaded echo server and its clients
 *   soak --connect PORT [-n SEQUENTIAL] [-c CONCURRENT]
 *        clients only, against a server on 127.0.0.1:PORT (a program under
 *        the shim, tests/soak/shim.sh, which measures that server)
 *
 * Each connection is a full TLS 1.3 handshake (ECDSA P-256 from
 * $HANDOFF_PKI, name "localhost"), one echoed message, close_notify both
 * ways.  With kernel TLS the keys go to the kernel; without it (the build
 * host) the library's explicit user-space fallback carries the records;
 * HANDOFF_TEST_KTLS=1 demands the kernel.
 *
 * In-process, after a warm-up (sequential handshakes and one concurrent
 * round, so that the allocator's per-thread arenas exist), it measures,
 * makes SEQUENTIAL handshakes one after another, measures, makes ROUNDS
 * rounds of CONCURRENT at once, measures.  Each measurement returns the
 * allocator's free memory to the system first (malloc_trim), so RSS counts
 * what is held.  It fails unless the fd count is exactly the starting one
 * and anonymous RSS and malloc's bytes in use stay within a slack
 * (HANDOFF_SOAK_RSS_KB, default 1024, 4096 in the VM; HANDOFF_SOAK_HEAP_KB,
 * default 16): a leak of 16 bytes per handshake (a 32-byte block, with
 * malloc's header) is 32 KB in 1,000.  Under ASan memory is not measured
 * (its quarantine keeps freed blocks; LeakSanitizer judges leaks).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handoff.h"

#if defined(__SANITIZE_ADDRESS__)
#define SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOAK_ASAN 1
#endif
#endif
#ifndef SOAK_ASAN
#define SOAK_ASAN 0
#endif

#define MSG "soak-echo"
#define TIMEOUT_MS 60000

struct usage {
	long fds;
	long anon_kb;	/* RssAnon: what a leak grows */
	long file_kb;	/* RssFile: code and data pages of the libraries, shown only */
	long heap_b;
};

static struct handoff_config *server_cfg, *client_cfg;
static bool want_ktls;
/* The sequential clients' server thread has a listener of its own (no herd of 200 to wake). */
static int listener_seq = -1, listener_conc = -1;
static uint16_t port_seq, port_conc;

/* Server side: connections served to the end, to wait for before measuring. */
static pthread_mutex_t served_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t served_cond = PTHREAD_COND_INITIALIZER;
static unsigned long served, made;
static atomic_uint failures;

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	atomic_fetch_add(&failures, 1);
}

static long count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

/*
 * Anonymous RSS, not all of it: the first connections to reach a code path
 * of GnuTLS or nettle page in its code (CI's 7.x guest saw RSS grow 1.1 MiB
 * over 200 handshakes with the heap unchanged), which is no leak and is
 * shared with every other process.  A leak is anonymous memory.
 */
static void measure(struct usage *u)
{
	char line[256];
	FILE *f;

	malloc_trim(0);
	u->fds = count_fds();
	u->anon_kb = u->file_kb = -1;
	f = fopen("/proc/self/status", "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "RssAnon:", 8))
				u->anon_kb = strtol(line + 8, NULL, 10);
			else if (!strncmp(line, "RssFile:", 8))
				u->file_kb = strtol(line + 8, NULL, 10);
		}
		fclose(f);
	}
	u->heap_b = (long)mallinfo2().uordblks;
}

static long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtol(s, NULL, 10) : dflt;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads until close_notify: what the peer sends after its last message. */
static bool read_to_end(struct handoff *h)
{
	char buf[64];
	ssize_t n;

	while ((n = handoff_read(h, buf, sizeof(buf))) > 0)
		;
	return n == 0;
}

static bool check_ktls(struct handoff *h, const char *side)
{
	if (want_ktls && !handoff_conn_ktls(h)) {
		failf("soak: %s: the kernel does not carry the records", side);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ server */

static void serve_one(int fd)
{
	struct handoff *h = handoff_server(server_cfg, fd);
	char buf[64];
	ssize_t n;

	if (!h) {
		failf("soak: server: %s", strerror(errno));
	} else if (handoff_handshake(h) != 0) {
		failf("soak: server handshake: %s", handoff_error(h));
	} else if (check_ktls(h, "server")) {
		n = handoff_read(h, buf, sizeof(buf));
		if (n != (ssize_t)strlen(MSG) || handoff_write(h, buf, (size_t)n) != n)
			failf("soak: server echo: %s", handoff_error(h));
		else if (!read_to_end(h) || handoff_close(h) != 0)
			failf("soak: server close: %s", handoff_error(h));
	}
	handoff_free(h);
	close(fd);
	pthread_mutex_lock(&served_lock);
	served++;
	pthread_cond_broadcast(&served_cond);
	pthread_mutex_unlock(&served_lock);
}

/*
 * One of a fixed pool of server threads, each serving one connection at a
 * time.  Fixed, because GnuTLS 3.7 keeps about 220 bytes for every thread
 * that ever drew random numbers until the library unloads (measured): a
 * thread per connection would show that, not us.
 */
static void *server_thread(void *arg)
{
	int listener = (int)(intptr_t)arg, fd;

	for (;;) {
		fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			serve_one(fd);
		else if (errno != EINTR && errno != ECONNABORTED)
			return NULL;	/* the listener was shut down: the end */
	}
}

/* Until the server has finished every connection the clients made. */
static void wait_served(void)
{
	pthread_mutex_lock(&served_lock);
	while (served < made)
		pthread_cond_wait(&served_cond, &served_lock);
	pthread_mutex_unlock(&served_lock);
}

/* ------------------------------------------------------------ client */

static bool one_client(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct handoff *h = NULL;
	char buf[64];
	bool ok = false;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		failf("soak: connect: %s", strerror(errno));
		goto out;
	}
	pthread_mutex_lock(&served_lock);
	made++;
	pthread_mutex_unlock(&served_lock);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	h = handoff_client(client_cfg, fd, "localhost");
	if (!h) {
		failf("soak: client: %s", strerror(errno));
		goto out;
	}
	if (handoff_handshake(h) != 0) {
		failf("soak: client handshake: %s", handoff_error(h));
		goto out;
	}
	if (!check_ktls(h, "client"))
		goto out;
	if (handoff_write(h, MSG, strlen(MSG)) != (ssize_t)strlen(MSG) ||
	    handoff_read(h, buf, sizeof(buf)) != (ssize_t)strlen(MSG) ||
	    memcmp(buf, MSG, strlen(MSG)) != 0) {
		failf("soak: client echo: %s", handoff_error(h));
		goto out;
	}
	if (handoff_close(h) != 0 || !read_to_end(h)) {
		failf("soak: client close: %s", handoff_error(h));
		goto out;
	}
	ok = true;
out:
	handoff_free(h);
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * The concurrent clients: a fixed pool (see server_thread) that the main
 * thread releases all at once for each round, and waits for.
 */
static pthread_barrier_t round_start, round_end;
static long n_workers;

static void *client_thread(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_barrier_wait(&round_start);
		one_client(port_conc);
		pthread_barrier_wait(&round_end);
	}
	return NULL;
}

static void start_threads(long n_conc, bool with_server)
{
	pthread_t t;
	long i;

	n_workers = n_conc;
	pthread_barrier_init(&round_start, NULL, (unsigned)n_conc + 1);
	pthread_barrier_init(&round_end, NULL, (unsigned)n_conc + 1);
	for (i = 0; i < n_conc; i++) {
		if (pthread_create(&t, NULL, client_thread, NULL) != 0 ||
		    (with_server && pthread_create(&t, NULL, server_thread,
						   (void *)(intptr_t)listener_conc) != 0)) {
			fprintf(stderr, "soak: cannot start %ld threads\n", n_conc);
			exit(2);
		}
	}
	if (with_server &&
	    pthread_create(&t, NULL, server_thread, (void *)(intptr_t)listener_seq) != 0)
		exit(2);
}

static bool sequential(long n)
{
	for (long i = 0; i < n; i++)
		if (!one_client(port_seq))
			return false;
	return true;
}

/* One round: every client thread makes one connection, all at once. */
static bool concurrent(void)
{
	if (!n_workers)
		return true;
	pthread_barrier_wait(&round_start);
	pthread_barrier_wait(&round_end);
	return atomic_load(&failures) == 0;
}

/* ------------------------------------------------------------ main */

static struct handoff_config *make_cfg(bool server)
{
	const char *pki = getenv("HANDOFF_PKI");
	char cert[1024], key[1024], ca[1024];
	struct handoff_config *cfg = handoff_config_new();

	if (!cfg || !pki) {
		fprintf(stderr, "soak: HANDOFF_PKI is not set (the test PKI, tests/pki/out)\n");
		exit(2);
	}
	snprintf(cert, sizeof(cert), "%s/server.pem", pki);
	snprintf(key, sizeof(key), "%s/server-key.pem", pki);
	snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
	if ((server ? handoff_config_set_keypair_file(cfg, cert, key) :
		      handoff_config_add_ca_file(cfg, ca)) < 0 ||
	    handoff_config_set_protocols(cfg, HANDOFF_PROTOCOL_TLSv1_3) < 0) {
		fprintf(stderr, "soak: config: %s\n", handoff_config_error(cfg));
		exit(2);
	}
	handoff_config_set_handshake_timeout(cfg, TIMEOUT_MS);
	if (!want_ktls)
		handoff_config_insecure_userspace_fallback(cfg);
	return cfg;
}

static int start_listener(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("soak: listener");
		exit(2);
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/*
 * Where anonymous memory grew, mapping by mapping (/proc/self/smaps): when
 * RSS is beyond the slack with the heap in use unchanged, this says
 * whether it was malloc's arenas, a thread's stack or something else.
 */
#define MAX_MAPS 2048
struct map_anon {
	unsigned long start;
	long anon_kb;
	char name[64];
};
static struct map_anon maps_at_start[MAX_MAPS];
static unsigned n_maps_at_start;

static unsigned read_maps(struct map_anon *out, unsigned max)
{
	char line[512];
	unsigned n = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char name[256] = "";

		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255[^\n]", &lo, &hi, name) >= 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			if (n < max) {
				out[n].start = lo;
				out[n].anon_kb = 0;
				snprintf(out[n].name, sizeof(out[n].name), "%s", name[0] ? name : "[anon]");
				n++;
			}
		} else if (n && n <= max && !strncmp(line, "Anonymous:", 10)) {
			out[n - 1].anon_kb = strtol(line + 10, NULL, 10);
		}
	}
	fclose(f);
	return n;
}

static void print_anon_growth(void)
{
	static struct map_anon now[MAX_MAPS];
	unsigned n = read_maps(now, MAX_MAPS);

	for (unsigned i = 0; i < n; i++) {
		long before = 0;
		bool known = false;

		for (unsigned j = 0; j < n_maps_at_start; j++)
			if (maps_at_start[j].start == now[i].start) {
				before = maps_at_start[j].anon_kb;
				known = true;
				break;
			}
		if (now[i].anon_kb - before >= 64)
			fprintf(stderr, "soak:   %#lx %s: anonymous %ld -> %ld KiB%s\n", now[i].start,
				now[i].name, before, now[i].anon_kb, known ? "" : " (a new mapping)");
	}
}

/* Compares now against start; prints one line; false if beyond the slack. */
static bool judge(const char *what, const struct usage *start, double secs, long handshakes)
{
	/*
	 * The heap's bytes in use are the leak detector (16 bytes a handshake
	 * show); RSS is the coarse one, for memory malloc does not count.
	 * Under TCG (the VM) it stepped up by 1.1-1.2 MiB once in a while with
	 * the heap exactly unchanged, in 200 handshakes as in 1,000 (no leak
	 * grows like that), and once by 2.0 MiB, all of it in one thread
	 * arena: 4 MiB there, still 20 KiB a handshake over 200, while the
	 * heap's count catches 16 bytes.  Over half the slack, where it grew
	 * is printed (which mapping), pass or fail.
	 */
	long rss_slack = env_long("HANDOFF_SOAK_RSS_KB", getenv("HANDOFF_VM") ? 4096 : 1024);
	long heap_slack = env_long("HANDOFF_SOAK_HEAP_KB", 16) * 1024;
	struct usage now;
	bool ok;

	measure(&now);
	printf("soak: %s: %ld handshakes in %.1f s (%.0f/s); fds %ld -> %ld; "
	       "anonymous RSS %ld -> %ld KiB (file %ld -> %ld KiB); heap in use %ld -> %ld B%s\n",
	       what, handshakes, secs, handshakes / (secs > 0 ? secs : 1), start->fds, now.fds,
	       start->anon_kb, now.anon_kb, start->file_kb, now.file_kb, start->heap_b, now.heap_b,
	       SOAK_ASAN ? " (ASan: memory not judged)" : "");
	ok = now.fds == start->fds;
	if (!SOAK_ASAN)
		ok = ok && start->anon_kb >= 0 && now.anon_kb - start->anon_kb <= rss_slack &&
		     now.heap_b - start->heap_b <= heap_slack;
	if (!ok)
		fprintf(stderr, "soak: %s: not back to the starting level (slack: anonymous RSS %ld KiB, "
				"heap %ld KiB)\n", what, rss_slack, heap_slack / 1024);
	if (!SOAK_ASAN && now.anon_kb - start->anon_kb > rss_slack / 2) {
		fprintf(stderr, "soak: %s: where anonymous memory grew:\n", what);
		print_anon_growth();
	}
	return ok;
}

int main(int argc, char **argv)
{
	/* Under TCG (the VM) a handshake takes 40 ms: CI makes fewer there. */
	long n_seq = env_long("HANDOFF_SOAK_N", getenv("HANDOFF_VM") || SOAK_ASAN ? 200 : 1000);
	long n_conc = 200, rounds = 1;
	const char *connect_to = NULL;
	struct usage start;
	double t0;
	bool ok = true;
	int i;

	/*
	 * malloc's per-thread caches count the blocks they hold as in use, and
	 * 400 threads hold megabytes of them: without those caches "heap in
	 * use" is what the program holds.  The tunable is read at start-up.
	 */
	if (!getenv("HANDOFF_SOAK_TUNED")) {
		const char *old = getenv("GLIBC_TUNABLES");
		char tun[512];

		snprintf(tun, sizeof(tun), "%s%sglibc.malloc.tcache_count=0", old ? old : "",
			 old ? ":" : "");
		setenv("GLIBC_TUNABLES", tun, 1);
		setenv("HANDOFF_SOAK_TUNED", "1", 1);
		execv("/proc/self/exe", argv);
		perror("soak: re-exec");
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n_seq = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			n_conc = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-r") && i + 1 < argc)
			rounds = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--connect") && i + 1 < argc)
			connect_to = argv[++i];
		else {
			fprintf(stderr, "usage: soak [-n SEQUENTIAL] [-c CONCURRENT] [-r ROUNDS] "
					"[--connect PORT]\n");
			return 2;
		}
	}
	/*
	 * The VM suite's pass from a sanitizer build: ASan keeps freed memory,
	 * so only the plain build's pass can measure it; the host suite runs
	 * this under ASan for the fds and LeakSanitizer.
	 */
	if (SOAK_ASAN && getenv("HANDOFF_VM") && !connect_to) {
		printf("SKIP: ASan build in the VM: the plain build's pass measures memory\n");
		return 77;
	}
	want_ktls = (getenv("HANDOFF_TEST_KTLS") && !strcmp(getenv("HANDOFF_TEST_KTLS"), "1")) ||
		    access("/proc/net/tls_stat", F_OK) == 0;
	client_cfg = make_cfg(false);

	if (connect_to) {
		/* Clients only; the script that started the server measures it. */
		port_seq = port_conc = (uint16_t)strtol(connect_to, NULL, 10);
		t0 = now_s();
		start_threads(n_conc, false);
		ok = sequential(n_seq) && concurrent();
		printf("soak: client: %ld sequential, %ld concurrent in %.1f s%s\n", n_seq, n_conc,
		       now_s() - t0, ok ? "" : ": FAILED");
		handoff_config_free(client_cfg);
		return ok ? 0 : 1;
	}

	server_cfg = make_cfg(true);
	listener_seq = start_listener(&port_seq);
	listener_conc = start_listener(&port_conc);
	start_threads(n_conc, true);
	printf("soak: %s, %ld sequential, %ld rounds of %ld concurrent\n",
	       want_ktls ? "kernel TLS" : "user-space fallback (no kTLS here)", n_seq, rounds,
	       n_conc);
	/*
	 * Warm-up: the library's one-time state, the allocator's thread
	 * arenas, GnuTLS's state in each thread (server_thread): three rounds,
	 * so that each pool thread has most likely served one.
	 */
	if (!sequential(20) || !concurrent() || !concurrent() || !concurrent()) {
		fprintf(stderr, "soak: the warm-up failed\n");
		return 1;
	}
	wait_served();
	measure(&start);
	n_maps_at_start = read_maps(maps_at_start, MAX_MAPS);

	t0 = now_s();
	ok = sequential(n_seq);
	wait_served();
	ok = judge("sequential", &start, now_s() - t0, n_seq) && ok;

	t0 = now_s();
	if (ok) {
		for (i = 0; i < rounds && ok; i++)
			ok = concurrent();
		wait_served();
		ok = judge("concurrent", &start, now_s() - t0, i * n_conc) && ok;
	} else {
		printf("soak: concurrent: not run (the sequential part failed)\n");
	}

	if (atomic_load(&failures))
		fprintf(stderr, "soak: %u connections failed\n", atomic_load(&failures));
	shutdown(listener_seq, SHUT_RDWR);
	shutdown(listener_conc, SHUT_RDWR);
	printf("soak: %s\n", ok && !atomic_load(&failures) ? "PASS" : "FAIL");
	return ok && !atomic_load(&failures) ? 0 : 1;
}
