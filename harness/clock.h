/*
 * clock.h: the one clock every latency is read from.
 */
#ifndef C10K_CLOCK_H
#define C10K_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_S  UINT64_C(1000000000)
#define NS_PER_MS UINT64_C(1000000)

/* Monotonic nanoseconds: never jumps with the wall clock, and costs a vDSO call, not a
 * system call, so it can be read for every response. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

#endif
