/*
 * options.c: parsing and checking loadgen's command line. Every number is checked in full
 * (no trailing garbage, within its range) and every combination that cannot mean anything
 * is refused, with one line that says which option and why.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_CONNS = 1000000, MAX_THREADS = 256, MAX_PIPELINE = 1024 };
#define MAX_SIZE (64UL << 20)

static const char usage[] =
"usage: loadgen --port P [options]\n"
"Drives an HTTP or echo server over loopback and measures throughput and latency.\n"
"\n"
"target\n"
"  --host H           server address or name (default 127.0.0.1)\n"
"  --port P           server port (required)\n"
"  --proto P          http or echo (default http)\n"
"  --path PATH        HTTP request target (default /)\n"
"  --method M         GET, POST or HEAD (default GET)\n"
"  --body-size N      bytes of POST body (default 0)\n"
"  --size N           echo: bytes per message, one round trip is one request (default 64)\n"
"load\n"
"  -c, --conns N      connections (default 10)\n"
"  -t, --threads N    threads, each with its own share of connections (default 1)\n"
"  -d, --duration S   seconds measured (default 10)\n"
"  --warmup S         seconds run and discarded before measuring (default 1)\n"
"  --rate R           open loop: R requests/s in all, each sent at its scheduled time and its\n"
"                     latency counted from that time (default: closed loop)\n"
"  --pipeline N       requests in flight per connection (default 1)\n"
"  --close            a new connection for every request (latency includes the connect)\n"
"  --idle             open the connections and hold them, sending nothing\n"
"  --timeout S        seconds without an answer byte before a request times out (default 2)\n"
"output\n"
"  --json FILE        every figure as one JSON object\n"
"  --hgrm FILE        the latency distribution in HdrHistogram's .hgrm format (microseconds)\n"
"  -h, --help         this help\n"
"  -V, --version      the version\n"
"\n"
"Latencies are exact to 3 significant digits. Closed loop: a connection sends its next\n"
"request when an answer arrives. Open loop (--rate): no coordinated omission, a server that\n"
"stalls is charged for every request it delayed. Errors are counted, never dropped.\n"
"Exit status: 0; 1 if no connection could be established or a report not written;\n"
"2 on a bad command line.\n";

__attribute__((format(printf, 1, 2)))
static int bad(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(" (see --help)\n", stderr);
	va_end(ap);
	return OPTIONS_BAD;
}

/* Whole-string unsigned in [lo, hi]. */
static int parse_uint(const char *name, const char *s, unsigned long long lo, unsigned long long hi,
                      unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v < lo || v > hi)
		return bad("bad %s '%s': want a whole number from %llu to %llu", name, s, lo, hi);
	*out = v;
	return OPTIONS_RUN;
}

/* Whole-string decimal number of seconds (or a rate) in [lo, hi]. */
static int parse_real(const char *name, const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!((s[0] >= '0' && s[0] <= '9') || s[0] == '.') || *end || errno || !isfinite(v) || v < lo || v > hi)
		return bad("bad %s '%s': want a number from %g to %g", name, s, lo, hi);
	*out = v;
	return OPTIONS_RUN;
}

/* A request target we can put on the request line as it is. */
static bool good_path(const char *p)
{
	if (p[0] != '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

static int check(struct options *o, const bool *given)
{
	if (!given['p'])
		return bad("--port is required");
	if (o->threads > o->conns)
		return bad("--threads %u is more than --conns %u: every thread needs a connection",
		           o->threads, o->conns);
	if (o->idle && (o->rate > 0 || o->close || o->pipeline > 1))
		return bad("--idle sends nothing: it takes no --rate, --close or --pipeline");
	if (o->close && o->pipeline > 1)
		return bad("--close makes one request per connection: it takes no --pipeline");
	if (o->proto == LOAD_ECHO && (given['P'] || given['m'] || given['b']))
		return bad("--path, --method and --body-size are for --proto http");
	if (o->proto == LOAD_HTTP && given['s'])
		return bad("--size is for --proto echo (HTTP bodies: --body-size with --method POST)");
	if (o->body_size && strcmp(o->method, "POST") != 0)
		return bad("--body-size needs --method POST");
	return OPTIONS_RUN;
}

int options_parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "proto", required_argument, NULL, 'r' },
		{ "path", required_argument, NULL, 'P' },
		{ "method", required_argument, NULL, 'm' },
		{ "body-size", required_argument, NULL, 'b' },
		{ "conns", required_argument, NULL, 'c' },
		{ "connections", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "rate", required_argument, NULL, 'R' },
		{ "size", required_argument, NULL, 's' },
		{ "pipeline", required_argument, NULL, 'n' },
		{ "close", no_argument, NULL, 'C' },
		{ "idle", no_argument, NULL, 'I' },
		{ "json", required_argument, NULL, 'j' },
		{ "hgrm", required_argument, NULL, 'g' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	*o = (struct options){
		.host = "127.0.0.1", .proto = LOAD_HTTP, .path = "/", .method = "GET",
		.conns = 10, .threads = 1, .duration = 10, .warmup = 1, .size = 64, .pipeline = 1,
		.timeout = 2,
	};
	bool given[128] = { false };
	unsigned long long u;
	int c, rc = OPTIONS_RUN;

	opterr = 0;                  /* our own one-line errors */
	optind = 1;
	while (rc == OPTIONS_RUN && (c = getopt_long(argc, argv, ":c:t:d:hV", longopts, NULL)) != -1) {
		if (c > 0 && c < 128)
			given[c] = true;
		switch (c) {
		case 'H': o->host = optarg; break;
		case 'p':
			if ((rc = parse_uint("--port", optarg, 1, 65535, &u)) == OPTIONS_RUN)
				o->port = (uint16_t)u;
			break;
		case 'r':
			if (strcmp(optarg, "http") == 0)
				o->proto = LOAD_HTTP;
			else if (strcmp(optarg, "echo") == 0)
				o->proto = LOAD_ECHO;
			else
				rc = bad("bad --proto '%s': want http or echo", optarg);
			break;
		case 'P':
			o->path = optarg;
			if (!good_path(optarg))
				rc = bad("bad --path '%s': want a path starting with '/', no spaces", optarg);
			break;
		case 'm':
			o->method = optarg;
			if (strcmp(optarg, "GET") && strcmp(optarg, "POST") && strcmp(optarg, "HEAD"))
				rc = bad("bad --method '%s': want GET, POST or HEAD", optarg);
			break;
		case 'b':
			if ((rc = parse_uint("--body-size", optarg, 0, MAX_SIZE, &u)) == OPTIONS_RUN)
				o->body_size = (size_t)u;
			break;
		case 'c':
			if ((rc = parse_uint("--conns", optarg, 1, MAX_CONNS, &u)) == OPTIONS_RUN)
				o->conns = (unsigned)u;
			break;
		case 't':
			if ((rc = parse_uint("--threads", optarg, 1, MAX_THREADS, &u)) == OPTIONS_RUN)
				o->threads = (unsigned)u;
			break;
		case 'd': rc = parse_real("--duration", optarg, 0.001, 86400, &o->duration); break;
		case 'w': rc = parse_real("--warmup", optarg, 0, 86400, &o->warmup); break;
		case 'R': rc = parse_real("--rate", optarg, 0.001, 1e8, &o->rate); break;
		case 'T': rc = parse_real("--timeout", optarg, 0.001, 86400, &o->timeout); break;
		case 's':
			if ((rc = parse_uint("--size", optarg, 1, MAX_SIZE, &u)) == OPTIONS_RUN)
				o->size = (size_t)u;
			break;
		case 'n':
			if ((rc = parse_uint("--pipeline", optarg, 1, MAX_PIPELINE, &u)) == OPTIONS_RUN)
				o->pipeline = (unsigned)u;
			break;
		case 'C': o->close = true; break;
		case 'I': o->idle = true; break;
		case 'j': o->json = optarg; break;
		case 'g': o->hgrm = optarg; break;
		case 'h': fputs(usage, stdout); return OPTIONS_EXIT_OK;
		case 'V': printf("loadgen %s\n", LOADGEN_VERSION); return OPTIONS_EXIT_OK;
		case ':': rc = bad("%s needs a value", argv[optind - 1]); break;
		default:  rc = bad("unknown option '%s'", argv[optind - 1]); break;
		}
	}
	if (rc != OPTIONS_RUN)
		return rc;
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	return check(o, given);
}
