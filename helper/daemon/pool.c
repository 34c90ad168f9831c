/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Why threads and not processes (or a fork per request, as tlshd does):
 *
 * - The kernel installs the handshake socket in the fd table of the
 *   process that sent ACCEPT, and DONE must come from a process holding
 *   it (sockfd_lookup()).  Threads share the table: the main loop accepts,
 *   any worker finishes.  Worker processes would each need an fd passed
 *   over SCM_RIGHTS, or their own ACCEPT loop.
 * - Isolation would buy little: every worker holds the same keys (the
 *   keyrings are linked into the one process keyring), and a crash closes
 *   every in-flight socket, which the kernel reports to its consumers as a
 *   failed handshake that they retry; systemd restarts the daemon.
 * - A burst costs nothing extra: no fork, no re-read of the trust store,
 *   certificate and key per request (each worker keeps the configs it
 *   built: credcache.h), no unbounded process count.  The pool is bounded by
 *   [handoffd] workers; what is accepted is bounded by max-handshakes, and
 *   the rest waits in the kernel's own queue.
 */
#include "common.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/pool.h"

struct hd_pool {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	struct hd_job *ring;
	unsigned capacity, head, count;
	bool stopping;
	pthread_t *threads;
	unsigned n_threads;
	hd_pool_run_fn run;
	hd_pool_fini_fn fini;
	void *ctx;
};

static void *worker(void *arg)
{
	struct hd_pool *pool = arg;
	void *slot = NULL;
	struct hd_job job;

	for (;;) {
		pthread_mutex_lock(&pool->lock);
		while (!pool->count && !pool->stopping)
			pthread_cond_wait(&pool->not_empty, &pool->lock);
		if (!pool->count) {
			pthread_mutex_unlock(&pool->lock);
			break;
		}
		job = pool->ring[pool->head];
		pool->head = (pool->head + 1) % pool->capacity;
		pool->count--;
		pthread_cond_signal(&pool->not_full);
		pthread_mutex_unlock(&pool->lock);
		pool->run(&job, &slot, pool->ctx);
	}
	if (pool->fini)
		pool->fini(slot, pool->ctx);
	return NULL;
}

struct hd_pool *hd_pool_new(unsigned workers, unsigned capacity, hd_pool_run_fn run,
			    hd_pool_fini_fn fini, void *ctx)
{
	struct hd_pool *pool;
	int err;

	if (!workers || !capacity || !run) {
		errno = EINVAL;
		return NULL;
	}
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	pool->ring = calloc(capacity, sizeof(*pool->ring));
	pool->threads = calloc(workers, sizeof(*pool->threads));
	if (!pool->ring || !pool->threads)
		goto err_alloc;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->not_empty, NULL);
	pthread_cond_init(&pool->not_full, NULL);
	pool->capacity = capacity;
	pool->run = run;
	pool->fini = fini;
	pool->ctx = ctx;
	for (; pool->n_threads < workers; pool->n_threads++) {
		err = pthread_create(&pool->threads[pool->n_threads], NULL, worker, pool);
		if (err) {
			hd_pool_free(pool);
			errno = err;
			return NULL;
		}
	}
	return pool;

err_alloc:
	free(pool->ring);
	free(pool->threads);
	free(pool);
	errno = ENOMEM;
	return NULL;
}

void hd_pool_submit(struct hd_pool *pool, const struct hd_job *job)
{
	pthread_mutex_lock(&pool->lock);
	while (pool->count == pool->capacity)
		pthread_cond_wait(&pool->not_full, &pool->lock);
	pool->ring[(pool->head + pool->count) % pool->capacity] = *job;
	pool->count++;
	pthread_cond_signal(&pool->not_empty);
	pthread_mutex_unlock(&pool->lock);
}

void hd_pool_free(struct hd_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->not_empty);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->not_empty);
	pthread_cond_destroy(&pool->not_full);
	free(pool->ring);
	free(pool->threads);
	free(pool);
}
