/*
 * cpus.h: the CPUs this process may run on, for the default number of worker threads.
 *
 * Header-only, so that the green runtime (servers/green/, which links none of the core) and
 * the command line's defaults (server.c) count them the same way, from one definition.
 */
#ifndef C10K_CPUS_H
#define C10K_CPUS_H

#include <sched.h>
#include <unistd.h>

/* The affinity mask, not the machine: under taskset or a container's cpuset, the workers
 * should match the CPUs the process can really use. */
static inline unsigned cpus_available(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

#endif
