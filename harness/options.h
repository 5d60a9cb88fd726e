/*
 * options.h: loadgen's command line.
 */
#ifndef C10K_OPTIONS_H
#define C10K_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOADGEN_VERSION "0.1.0"

enum load_proto { LOAD_HTTP, LOAD_ECHO };

struct options {
	const char *host;            /* default 127.0.0.1 */
	uint16_t port;               /* required */
	enum load_proto proto;       /* default http */
	const char *path;            /* default "/" */
	const char *method;          /* GET (default), POST or HEAD */
	size_t body_size;            /* bytes of POST body, default 0 */
	unsigned conns;              /* -c, default 10 */
	unsigned threads;            /* -t, default 1 */
	double duration;             /* -d seconds measured, default 10 */
	double warmup;               /* seconds run and discarded first, default 1 */
	double rate;                 /* requests per second in all; 0: closed loop */
	size_t size;                 /* echo message bytes, default 64 */
	unsigned pipeline;           /* requests in flight per connection, default 1 */
	bool close;                  /* a new connection for every request */
	bool idle;                   /* hold connections open, send nothing */
	const char *json;            /* write every figure here, or NULL */
	const char *hgrm;            /* write the latency distribution here, or NULL */
	double timeout;              /* seconds without an answer byte: a timeout, default 2 */
};

enum { OPTIONS_RUN, OPTIONS_EXIT_OK, OPTIONS_BAD };

/* Parses argv into *o. Returns OPTIONS_RUN, OPTIONS_EXIT_OK (--help or --version printed), or
 * OPTIONS_BAD (a one-line error printed on stderr: exit with status 2). */
int options_parse(int argc, char **argv, struct options *o);

#endif
