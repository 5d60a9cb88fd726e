/*
 * report.c: what a run measured, for people (a few aligned lines) and for scripts (JSON).
 * Latencies are kept in nanoseconds and shown in microseconds.
 */
#include "report.h"

#include <stdint.h>

struct percentile {
	const char *name;
	double percent;
};

/* The percentiles every report shows, in the JSON's key names. */
static const struct percentile shown[] = {
	{ "p50", 50 }, { "p90", 90 }, { "p99", 99 }, { "p99.9", 99.9 }, { "p99.99", 99.99 },
};
enum { N_SHOWN = sizeof shown / sizeof shown[0] };

_Static_assert(sizeof(struct counters) % sizeof(uint64_t) == 0, "struct counters: uint64_t fields only");

void counters_add(struct counters *into, const struct counters *from)
{
	/* struct counters is nothing but uint64_t fields: add them as an array. */
	uint64_t *a = (uint64_t *)into;
	const uint64_t *b = (const uint64_t *)from;
	for (size_t i = 0; i < sizeof *into / sizeof(uint64_t); i++)
		a[i] += b[i];
}

static double per_s(uint64_t n, double s)
{
	return s > 0 ? (double)n / s : 0;
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

/* The generator's CPU time over all the CPU time its threads could have had: near 1, it may
 * have been the bottleneck. */
static double busy_ratio(const struct result *r)
{
	double capacity = r->elapsed_s * r->cpus;
	return capacity > 0 ? (r->cpu_user_s + r->cpu_sys_s) / capacity : 0;
}

static const char *mode_of(const struct options *o)
{
	if (o->idle)
		return "idle";
	return o->rate > 0 ? "open" : "closed";
}

static const char *mode_label(const struct options *o)
{
	if (o->idle)
		return "idle connections";
	return o->rate > 0 ? "open loop" : "closed loop";
}

static void human_bytes(char *buf, size_t size, double bytes)
{
	const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;
	for (; bytes >= 1024 && i < 4; i++)
		bytes /= 1024;
	snprintf(buf, size, "%.2f %s", bytes, unit[i]);
}

void report_summary(FILE *out, const struct result *r)
{
	const struct options *o = r->opt;
	const struct counters *c = &r->count;
	char bytes[32], rate[32];

	fprintf(out, "loadgen %s: %s %s:%u%s, %s, %u connections, %u thread%s, %.3f s measured after %.3f s warm-up\n",
	        LOADGEN_VERSION, o->proto == LOAD_HTTP ? o->method : "echo", o->host, o->port,
	        o->proto == LOAD_HTTP ? o->path : "", mode_label(o), o->conns, o->threads,
	        o->threads == 1 ? "" : "s", r->duration_s, o->warmup);
	fprintf(out, "  connections  %llu of %u established, %llu open at the end, %llu connects (%.1f/s)\n",
	        (unsigned long long)c->established, o->conns, (unsigned long long)c->open_at_end,
	        (unsigned long long)c->connects, per_s(c->connects, r->duration_s));
	if (o->idle) {
		fprintf(out, "  errors       connect %llu, read %llu (closed by the server)\n",
		        (unsigned long long)c->err_connect, (unsigned long long)c->err_read);
		return;
	}
	human_bytes(bytes, sizeof bytes, (double)c->bytes_read);
	human_bytes(rate, sizeof rate, per_s(c->bytes_read, r->duration_s));
	fprintf(out, "  requests     %llu in %.3f s: %.1f req/s (warm-up: %llu)\n",
	        (unsigned long long)c->requests, r->duration_s, per_s(c->requests, r->duration_s),
	        (unsigned long long)c->warmup_requests);
	fprintf(out, "  transfer     %s read, %s/s\n", bytes, rate);
	fprintf(out, "  errors       connect %llu, read %llu, write %llu, timeout %llu, status %llu, parse %llu"
	        " (warm-up: %llu)\n",
	        (unsigned long long)c->err_connect, (unsigned long long)c->err_read,
	        (unsigned long long)c->err_write, (unsigned long long)c->err_timeout,
	        (unsigned long long)c->err_status, (unsigned long long)c->err_parse,
	        (unsigned long long)c->warmup_errors);
	fprintf(out, "  latency us   min %.1f, mean %.1f", us(r->latency->min == UINT64_MAX ? 0 : r->latency->min),
	        hist_mean(r->latency) / 1000);
	for (int i = 0; i < N_SHOWN; i++)
		fprintf(out, ", %s %.1f", shown[i].name, us(hist_percentile(r->latency, shown[i].percent)));
	fprintf(out, ", max %.1f\n", us(r->latency->max));
	if (o->rate > 0) {
		double achieved = per_s(c->sends, r->duration_s);
		fprintf(out, "  rate         target %.1f/s, achieved %.1f/s; %llu of %llu sends late (> %.0f ms);"
		        " %llu came due on a busy connection\n", o->rate, achieved, (unsigned long long)c->late_sends,
		        (unsigned long long)c->sends, (double)LATE_NS / 1e6, (unsigned long long)c->waited_sends);
		if (achieved < 0.99 * o->rate)
			fputs("               the connections could not keep up: try more of them (-c) or --pipeline\n", out);
	}
	fprintf(out, "  cpu          user %.2f s, sys %.2f s: %.0f%% of %u CPU%s (%u thread%s)\n", r->cpu_user_s,
	        r->cpu_sys_s, 100 * busy_ratio(r), r->cpus, r->cpus == 1 ? "" : "s", o->threads,
	        o->threads == 1 ? "" : "s");
}

/* A JSON string: the options are the only strings, and may hold anything. */
static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

#define U(x) ((unsigned long long)(x))

int report_json(FILE *out, const struct result *r)
{
	const struct options *o = r->opt;
	const struct counters *c = &r->count;
	const struct hist *h = r->latency;

	fprintf(out, "{\n  \"loadgen\": \"%s\",\n  \"target\": {\"host\": ", LOADGEN_VERSION);
	json_string(out, o->host);
	fprintf(out, ", \"port\": %u, \"proto\": \"%s\", \"method\": ", o->port, o->proto == LOAD_HTTP ? "http" : "echo");
	json_string(out, o->method);
	fputs(", \"path\": ", out);
	json_string(out, o->path);
	fprintf(out, ", \"size\": %zu, \"body_size\": %zu},\n", o->size, o->body_size);
	fprintf(out, "  \"mode\": \"%s\",\n", mode_of(o));
	fprintf(out, "  \"options\": {\"connections\": %u, \"threads\": %u, \"pipeline\": %u, \"close\": %s,"
	        " \"duration_s\": %.6f, \"warmup_s\": %.6f, \"timeout_s\": %.6f},\n",
	        o->conns, o->threads, o->pipeline, o->close ? "true" : "false", o->duration, o->warmup, o->timeout);
	fprintf(out, "  \"duration_s\": %.9f,\n  \"elapsed_s\": %.9f,\n", r->duration_s, r->elapsed_s);
	fprintf(out, "  \"requests\": %llu,\n  \"requests_per_s\": %.3f,\n", U(c->requests),
	        per_s(c->requests, r->duration_s));
	fprintf(out, "  \"warmup_requests\": %llu,\n  \"warmup_errors\": %llu,\n", U(c->warmup_requests),
	        U(c->warmup_errors));
	fprintf(out, "  \"bytes_read\": %llu,\n  \"bytes_read_per_s\": %.3f,\n  \"bytes_written\": %llu,\n",
	        U(c->bytes_read), per_s(c->bytes_read, r->duration_s), U(c->bytes_written));
	fprintf(out, "  \"connections\": {\"asked\": %u, \"established\": %llu, \"open_at_end\": %llu,"
	        " \"connects\": %llu, \"connects_per_s\": %.3f},\n",
	        o->conns, U(c->established), U(c->open_at_end), U(c->connects), per_s(c->connects, r->duration_s));
	fprintf(out, "  \"errors\": {\"connect\": %llu, \"read\": %llu, \"write\": %llu, \"timeout\": %llu,"
	        " \"status\": %llu, \"parse\": %llu},\n",
	        U(c->err_connect), U(c->err_read), U(c->err_write), U(c->err_timeout), U(c->err_status),
	        U(c->err_parse));
	fprintf(out, "  \"latency_us\": {\"count\": %llu, \"min\": %.3f, \"mean\": %.3f, \"stddev\": %.3f",
	        U(h->total), h->total ? us(h->min) : 0.0, hist_mean(h) / 1000, hist_stddev(h) / 1000);
	for (int i = 0; i < N_SHOWN; i++)
		fprintf(out, ", \"%s\": %.3f", shown[i].name, us(hist_percentile(h, shown[i].percent)));
	fprintf(out, ", \"max\": %.3f},\n", us(h->max));
	if (o->rate > 0)
		fprintf(out, "  \"rate\": {\"target\": %.3f, \"achieved\": %.3f, \"sends\": %llu, \"late_sends\": %llu,"
		        " \"waited_sends\": %llu, \"late_threshold_us\": %.0f},\n",
		        o->rate, per_s(c->sends, r->duration_s), U(c->sends), U(c->late_sends), U(c->waited_sends),
		        (double)LATE_NS / 1000);
	else
		fputs("  \"rate\": {\"target\": null, \"achieved\": null, \"sends\": null, \"late_sends\": null,"
		      " \"waited_sends\": null, \"late_threshold_us\": null},\n", out);
	fprintf(out, "  \"cpu_s\": {\"user\": %.6f, \"sys\": %.6f, \"cpus\": %u, \"busy_ratio\": %.4f}\n}\n",
	        r->cpu_user_s, r->cpu_sys_s, r->cpus, busy_ratio(r));
	return ferror(out) ? -1 : 0;
}
