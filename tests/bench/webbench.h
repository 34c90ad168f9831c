/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* webbench.h - what webbench.c (servers, idle clients) and webget.c (the client) share. */
#ifndef WEBBENCH_H
#define WEBBENCH_H

_Noreturn void die(const char *what, const char *why);
double now_mono(void);
double self_cpu(void);
int connect_port(int port);
long curr_tx(void);

/* The raw pair's fixed TLS 1.3 AES-128-GCM key and 12-byte static IV; raw_key() sets them on fd. */
extern const unsigned char raw_key_bytes[16], raw_iv_bytes[12];
void raw_key(int fd, int dir);

int webget(int port, const char *mode, const char *path, const char *file, const char *ca, long sample);

#endif
