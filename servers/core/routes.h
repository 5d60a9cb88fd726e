/*
 * routes.h: the HTTP routes every model serves, as a table.
 *
 *   GET /, /plaintext      "Hello, World!"
 *   GET /json              {"message":"Hello, World!"}, serialized per request
 *   POST /echo             the request body back
 *   GET /bytes?n=N         N bytes (N <= 64 MiB), produced as the client reads them
 *   GET /work?us=N         N microseconds of CPU on the serving thread (N <= 1,000,000)
 *   GET /sleep?ms=N        an answer after N ms, waited the model's own way (N <= 60,000)
 *   GET /block?ms=N        a blocking system call of N ms on the serving thread (N <= 60,000)
 * HEAD works wherever GET does.
 */
#ifndef C10K_ROUTES_H
#define C10K_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "http_parser.h"

enum route { ROUTE_PLAINTEXT, ROUTE_JSON, ROUTE_ECHO, ROUTE_BYTES, ROUTE_WORK, ROUTE_SLEEP,
             ROUTE_BLOCK };

struct route_call {
	enum route route;
	uint64_t n;                  /* the route's parameter, checked against its bound */
	const char *why;             /* on error: what was wrong, for the answer's body */
	const char *allow;           /* on 405: the methods the path allows */
};

/* Finds the route for a parsed request. Returns 0, or 404, 405 or 400 (a missing or bad
 * parameter) with call->why and, for 405, call->allow set. */
int routes_find(const struct http_request *req, struct route_call *call);

/* {"message":"Hello, World!"}, serialized now. Returns its length. */
size_t routes_json_body(char *dst, size_t cap);
/* "slept 10 ms\n", "blocked 5 ms\n", "worked 100 us\n". Returns its length. */
size_t routes_result_body(char *dst, size_t cap, enum route route, uint64_t n);
/* Spins on the calling thread until it has used `us` microseconds of CPU. */
void routes_burn_cpu_us(unsigned us);

#endif
