/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the harnesses that need a real connection share: a TCP pair on
 * loopback, both handshakes taking turns in one thread, and a thread that
 * reads and drops what one end sends.
 */
#ifndef HANDOFF_FUZZ_PAIR_H
#define HANDOFF_FUZZ_PAIR_H

#include "handoff.h"

/* fds[0] client end, fds[1] server end; both non-blocking, no Nagle. */
void fuzz_tcp_pair(int fds[2]);

/*
 * A config both ends of a pair use: PSK "fuzz" (no certificates to load per
 * input), the given protocols, wait_ms bounding every wait in the library,
 * and the session cache when one is given.
 */
struct handoff_config *fuzz_psk_config(unsigned protocols, struct handoff_cache *cache, int wait_ms);

/* Both handshakes to the end in this thread; aborts if either fails. */
void fuzz_handshake_both(struct handoff *c, struct handoff *s, int fds[2], int wait_ms);

/* A thread body: reads and drops from *(int *)arg until EOF or an error. */
void *fuzz_drain(void *arg);

/* Close both ends with a reset: no TIME_WAIT for a thousand pairs a second. */
void fuzz_close_pair(int fds[2]);

#endif
