/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hookcost - what the shim costs on fds it does not own: N write()+read()
 * pairs of one byte over a pipe, timed.  Run it bare and under the shim
 * (handoff run ... -- hookcost); the difference per pair is the price of
 * two table lookups.  Prints "ns per write+read pair: X".
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000, i;
	struct timespec t0, t1;
	int p[2];
	char c = 'x';
	double ns;

	if (n <= 0 || pipe(p) < 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		if (write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("ns per write+read pair: %.1f\n", ns / (double)n);
	return 0;
}
