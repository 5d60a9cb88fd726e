/*
 * loadgen.c: the load generator's main: options, the request, the threads, the clock.
 *
 * The run is one timeline shared by all threads: connect and warm up from start_ns, measure
 * from measure_ns to end_ns. Threads stamp every answer with the monotonic clock and count it
 * only if it falls in the window, so the measured duration is exact, not "about -d seconds".
 * The main thread only waits for end_ns, or for SIGINT/SIGTERM, which end the window early.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "clock.h"
#include "hist.h"
#include "net.h"
#include "options.h"
#include "report.h"
#include "worker.h"

/* One request, or one echo message, as it goes on the wire. */
static char *build_message(const struct options *o, size_t *len)
{
	char *msg;
	if (o->proto == LOAD_ECHO) {
		/* Printable, ending in a newline, so a line-oriented echo server works too. */
		msg = malloc(o->size);
		if (!msg)
			return NULL;
		for (size_t i = 0; i < o->size; i++)
			msg[i] = (char)('a' + i % 26);
		msg[o->size - 1] = '\n';
		*len = o->size;
		return msg;
	}
	char host[300], length[48] = "";
	bool v6 = strchr(o->host, ':') != NULL;
	if (o->port == 80)
		snprintf(host, sizeof host, v6 ? "[%s]" : "%s", o->host);
	else
		snprintf(host, sizeof host, v6 ? "[%s]:%u" : "%s:%u", o->host, o->port);
	if (strcmp(o->method, "POST") == 0)
		snprintf(length, sizeof length, "Content-Length: %zu\r\n", o->body_size);
	size_t head = (size_t)snprintf(NULL, 0, "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s\r\n", o->method, o->path,
	                               host, length, o->close ? "Connection: close\r\n" : "");
	msg = malloc(head + o->body_size + 1);
	if (!msg)
		return NULL;
	snprintf(msg, head + 1, "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s\r\n", o->method, o->path, host, length,
	         o->close ? "Connection: close\r\n" : "");
	memset(msg + head, 'x', o->body_size);
	*len = head + o->body_size;
	return msg;
}

static FILE *open_output(const char *option, const char *path)
{
	if (!path)
		return NULL;
	FILE *f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "loadgen: cannot write %s %s: %s\n", option, path, strerror(errno));
	return f;
}

/* Sleeps until end_ns; SIGINT or SIGTERM moves end_ns to the present. */
static void wait_for_end(struct plan *plan, const sigset_t *stop)
{
	for (;;) {
		uint64_t now = now_ns(), end = atomic_load(&plan->end_ns);
		if (now >= end)
			return;
		uint64_t left = end - now;
		struct timespec ts = { (time_t)(left / NS_PER_S), (long)(left % NS_PER_S) };
		if (sigtimedwait(stop, NULL, &ts) > 0) {
			atomic_store(&plan->end_ns, now_ns());
			return;
		}
	}
}

static double cpu_seconds(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* The CPUs the threads could keep busy between them: no more than there are threads, nor than
 * the affinity mask allows (taskset, a cpuset). A cgroup CPU quota is not seen. */
static unsigned usable_cpus(unsigned threads)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && (unsigned)CPU_COUNT(&set) < threads)
		return (unsigned)CPU_COUNT(&set);
	return threads;
}

int main(int argc, char **argv)
{
	struct options opt;
	int rc = options_parse(argc, argv, &opt);
	if (rc != OPTIONS_RUN)
		return rc == OPTIONS_EXIT_OK ? 0 : 2;

	static struct plan plan;
	const char *why;
	plan.opt = &opt;
	if (net_resolve(opt.host, opt.port, &plan.addr, &why) < 0) {
		fprintf(stderr, "loadgen: cannot resolve --host %s: %s\n", opt.host, why);
		return 2;
	}
	FILE *json = open_output("--json", opt.json), *hgrm = open_output("--hgrm", opt.hgrm);
	if ((opt.json && !json) || (opt.hgrm && !hgrm))
		return 2;
	unsigned long fds = net_raise_fd_limit();
	if (fds < (unsigned long)opt.conns + 16)
		fprintf(stderr, "loadgen: the open-file limit is %lu: not all %u connections can open "
		        "(those that cannot are counted as connect errors)\n", fds, opt.conns);
	char *msg = build_message(&opt, &plan.msg_len);
	struct worker **workers = calloc(opt.threads, sizeof *workers);
	struct hist *latency = malloc(sizeof *latency);
	pthread_t *threads = calloc(opt.threads, sizeof *threads);
	if (!msg || !workers || !latency || !threads) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	plan.msg = msg;
	plan.ns_per_send = opt.rate > 0 ? 1e9 / opt.rate : 0;
	for (unsigned t = 0; t < opt.threads; t++)
		if (!(workers[t] = worker_new(&plan, t))) {
			fprintf(stderr, "loadgen: out of memory for %u connections\n", opt.conns);
			return 1;
		}

	/* Only the main thread takes SIGINT and SIGTERM, synchronously; a write to a closed
	 * connection is an error to count, not a signal to die of. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct rusage before, after;
	getrusage(RUSAGE_SELF, &before);
	plan.start_ns = now_ns();
	plan.measure_ns = plan.start_ns + (uint64_t)(opt.warmup * 1e9);
	atomic_store(&plan.end_ns, plan.measure_ns + (uint64_t)(opt.duration * 1e9));
	for (unsigned t = 0; t < opt.threads; t++) {
		int err = pthread_create(&threads[t], NULL, worker_run, workers[t]);
		if (err) {
			fprintf(stderr, "loadgen: cannot start thread %u: %s\n", t, strerror(err));
			atomic_store(&plan.end_ns, plan.start_ns);
			opt.threads = t;
			break;
		}
	}
	wait_for_end(&plan, &stop);
	for (unsigned t = 0; t < opt.threads; t++)
		pthread_join(threads[t], NULL);
	getrusage(RUSAGE_SELF, &after);
	uint64_t end = atomic_load(&plan.end_ns);

	struct result res = { .opt = &opt, .latency = latency };
	hist_init(latency);
	for (unsigned t = 0; t < opt.threads; t++) {
		counters_add(&res.count, worker_counters(workers[t]));
		hist_merge(latency, worker_latency(workers[t]));
	}
	res.duration_s = end > plan.measure_ns ? (double)(end - plan.measure_ns) / 1e9 : 0;
	res.elapsed_s = (double)(end - plan.start_ns) / 1e9;
	res.cpu_user_s = cpu_seconds(after.ru_utime) - cpu_seconds(before.ru_utime);
	res.cpu_sys_s = cpu_seconds(after.ru_stime) - cpu_seconds(before.ru_stime);
	res.cpus = usable_cpus(opt.threads);

	report_summary(stdout, &res);
	rc = 0;
	if (json && (report_json(json, &res) < 0 || fclose(json) != 0)) {
		fprintf(stderr, "loadgen: writing %s failed\n", opt.json);
		rc = 1;
	}
	if (hgrm && (hist_write_hgrm(latency, hgrm, 1000) < 0 || fclose(hgrm) != 0)) {
		fprintf(stderr, "loadgen: writing %s failed\n", opt.hgrm);
		rc = 1;
	}
	if (res.count.established == 0) {
		fprintf(stderr, "loadgen: no connection to %s:%u could be established\n", opt.host, opt.port);
		rc = 1;
	}
	for (unsigned t = 0; t < opt.threads; t++)
		worker_free(workers[t]);
	free(workers);
	free(threads);
	free(latency);
	free(msg);
	return rc;
}
