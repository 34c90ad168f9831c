/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared helpers for the Check unit tests. */
#ifndef HANDOFF_TESTUTIL_H
#define HANDOFF_TESTUTIL_H

#include <check.h>
#include <pthread.h>

/* A connected TCP pair over 127.0.0.1: fds[0] the client end, fds[1] the server end. */
void tu_tcp_pair(int fds[2]);

/*
 * tu_pki - full path of a file of the throw-away test PKI (the directory in
 * $HANDOFF_PKI, made by tests/pki/mkcerts.sh).  Returns a string owned by
 * a small rotating buffer: valid for the next 16 calls.
 */
const char *tu_pki(const char *name);

/* Run fn(arg) in a new thread; tu_join returns fn's result. */
pthread_t tu_spawn(int (*fn)(void *), void *arg);
int tu_join(pthread_t t);

/* srunner boilerplate: run suite s, return the process exit status. */
int tu_run(Suite *s);

#endif
