/*
 * routes.c: the route table and its parameters.
 */
#include "routes.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct route_entry {
	const char *path;
	enum route route;
	bool post;                   /* POST only; otherwise GET and HEAD */
	const char *param;           /* the query parameter it needs, or NULL */
	uint64_t max;                /* the parameter's bound */
	const char *bad_param;       /* why a bad or missing parameter was refused */
} ROUTES[] = {
	{ "/", ROUTE_PLAINTEXT, false, NULL, 0, NULL },
	{ "/plaintext", ROUTE_PLAINTEXT, false, NULL, 0, NULL },
	{ "/json", ROUTE_JSON, false, NULL, 0, NULL },
	{ "/echo", ROUTE_ECHO, true, NULL, 0, NULL },
	{ "/bytes", ROUTE_BYTES, false, "n", 64u << 20, "n must be a whole number from 0 to 67108864" },
	{ "/work", ROUTE_WORK, false, "us", 1000000, "us must be a whole number from 0 to 1000000" },
	{ "/sleep", ROUTE_SLEEP, false, "ms", 60000, "ms must be a whole number from 0 to 60000" },
	{ "/block", ROUTE_BLOCK, false, "ms", 60000, "ms must be a whole number from 0 to 60000" },
};

/* Finds name=value in a query string; *value points into the query. */
static bool query_param(const char *q, size_t qlen, const char *name, const char **value,
                        size_t *vlen)
{
	size_t nlen = strlen(name);
	size_t i = 0;
	while (q && i < qlen) {
		size_t end = i;
		while (end < qlen && q[end] != '&')
			end++;
		if (end - i > nlen && memcmp(q + i, name, nlen) == 0 && q[i + nlen] == '=') {
			*value = q + i + nlen + 1;
			*vlen = end - i - nlen - 1;
			return true;
		}
		i = end + 1;
	}
	return false;
}

static int check_param(const struct http_request *req, const struct route_entry *e,
                       struct route_call *call)
{
	const char *v;
	size_t vlen;
	call->n = 0;
	if (!e->param)
		return 0;
	if (!query_param(req->query, req->query_len, e->param, &v, &vlen) ||
	    !http_parse_digits(v, vlen, &call->n) || call->n > e->max) {
		call->why = e->bad_param;
		return 400;
	}
	return 0;
}

int routes_find(const struct http_request *req, struct route_call *call)
{
	call->why = NULL;
	call->allow = NULL;
	for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
		const struct route_entry *e = &ROUTES[i];
		if (strlen(e->path) != req->path_len || memcmp(e->path, req->path, req->path_len))
			continue;
		bool allowed = e->post ? req->method_id == HTTP_POST
		                       : req->method_id == HTTP_GET || req->method_id == HTTP_HEAD;
		if (!allowed) {
			call->why = e->post ? "use POST" : "use GET or HEAD";
			call->allow = e->post ? "POST" : "GET, HEAD";
			return 405;
		}
		call->route = e->route;
		return check_param(req, e, call);
	}
	call->why = "no such path; try /, /json, /echo, /bytes?n=, /work?us=, /sleep?ms=, /block?ms=";
	return 404;
}

/* Appends a JSON string literal, escaped. Returns the new length, or cap on overflow. */
static size_t json_string(char *dst, size_t len, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (len < cap)
		dst[len++] = '"';
	for (; *s && len < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			dst[len++] = '\\';
			if (len < cap)
				dst[len++] = (char)c;
		} else if (c < 0x20) {
			if (len + 6 > cap)
				return cap;
			memcpy(dst + len, "\\u00", 4);
			dst[len + 4] = hex[c >> 4];
			dst[len + 5] = hex[c & 15];
			len += 6;
		} else {
			dst[len++] = (char)c;
		}
	}
	if (len < cap)
		dst[len++] = '"';
	return len;
}

size_t routes_json_body(char *dst, size_t cap)
{
	size_t len = 0;
	if (cap < 2)
		return 0;
	dst[len++] = '{';
	len = json_string(dst, len, cap - 1, "message");
	if (len < cap - 1)
		dst[len++] = ':';
	len = json_string(dst, len, cap - 1, "Hello, World!");
	dst[len++] = '}';
	return len;
}

size_t routes_result_body(char *dst, size_t cap, enum route route, uint64_t n)
{
	const char *verb = route == ROUTE_SLEEP ? "slept" : route == ROUTE_BLOCK ? "blocked" : "worked";
	const char *unit = route == ROUTE_WORK ? "us" : "ms";
	int len = snprintf(dst, cap, "%s %llu %s\n", verb, (unsigned long long)n, unit);
	return len < 0 ? 0 : (size_t)len >= cap ? cap - 1 : (size_t)len;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void routes_burn_cpu_us(unsigned us)
{
	/* CPU time, not wall time: on a busy machine the request still costs exactly `us` of CPU. */
	uint64_t until = thread_cpu_ns() + (uint64_t)us * 1000u;
	volatile uint64_t sink = 0;
	while (thread_cpu_ns() < until)
		for (unsigned i = 0; i < 256; i++)
			sink += i;
	(void)sink;
}
