/*
 * test_session.c: the session state machine, driven with bytes in memory (no sockets) by
 * session_driver.c, which plays the model's loop and checks session.h's promises on every
 * step: back-pressure, room to read, no idle buffers, progress.
 *
 * Answers are compared byte for byte with responses written out below by hand (the Date
 * masked), and every conversation is replayed with its bytes split at every boundary, a
 * byte at a time and at random: the answers must not depend on how the bytes arrived.
 */
#include <stdlib.h>
#include <time.h>

#include "../check.h"
#include "session.h"
#include "session_driver.h"

/* ---- Counting the allocations the core makes (linked with --wrap=malloc,...) ---- */

static unsigned long allocations;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
	allocations++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	allocations++;
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	allocations++;
	return __real_realloc(p, n);
}

/* ---- The expected answers ---- */

#define RESPONSE(status, headers, body) \
	"HTTP/1.1 " status "\r\nServer: c10k-lab\r\nDate: " DRIVER_DATE_MASK "\r\n" headers "\r\n" body
#define TEXT(len) "Content-Type: text/plain\r\nContent-Length: " len "\r\n"
#define OCTETS(len) "Content-Type: application/octet-stream\r\nContent-Length: " len "\r\n"
#define CLOSE "Connection: close\r\n"

#define PLAIN RESPONSE("200 OK", TEXT("13"), "Hello, World!")
#define JSON RESPONSE("200 OK", "Content-Type: application/json\r\nContent-Length: 27\r\n", \
                      "{\"message\":\"Hello, World!\"}")
#define NOT_FOUND_BODY \
	"404 Not Found: no such path; try /, /json, /echo, /bytes?n=, /work?us=, /sleep?ms=, /block?ms=\n"
#define NOT_FOUND RESPONSE("404 Not Found", TEXT("95"), NOT_FOUND_BODY)
#define NOT_GET RESPONSE("405 Method Not Allowed", TEXT("40") "Allow: GET, HEAD\r\n", \
                         "405 Method Not Allowed: use GET or HEAD\n")
#define NOT_POST RESPONSE("405 Method Not Allowed", TEXT("33") "Allow: POST\r\n", \
                          "405 Method Not Allowed: use POST\n")
#define BAD_N RESPONSE("400 Bad Request", TEXT("61"), \
                       "400 Bad Request: n must be a whole number from 0 to 67108864\n")
#define BAD_US RESPONSE("400 Bad Request", TEXT("61"), \
                        "400 Bad Request: us must be a whole number from 0 to 1000000\n")
#define BAD_MS RESPONSE("400 Bad Request", TEXT("59"), \
                        "400 Bad Request: ms must be a whole number from 0 to 60000\n")
#define BAD_REQUEST RESPONSE("400 Bad Request", TEXT("16") CLOSE, "400 Bad Request\n")
#define TOO_LARGE RESPONSE("413 Content Too Large", TEXT("22") CLOSE, "413 Content Too Large\n")
#define URI_TOO_LONG RESPONSE("414 URI Too Long", TEXT("17") CLOSE, "414 URI Too Long\n")
#define HEAD_TOO_LARGE RESPONSE("431 Request Header Fields Too Large", TEXT("36") CLOSE, \
                                "431 Request Header Fields Too Large\n")
#define NOT_IMPLEMENTED RESPONSE("501 Not Implemented", TEXT("20") CLOSE, "501 Not Implemented\n")
#define BAD_VERSION RESPONSE("505 HTTP Version Not Supported", TEXT("31") CLOSE, \
                             "505 HTTP Version Not Supported\n")
#define CONTINUE "HTTP/1.1 100 Continue\r\n\r\n"

/* The first 64 bytes of every /bytes body, and of each 64 after. */
static const char PATTERN[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-\n";

/* ---- Running conversations ---- */

#define CHECK_UNBROKEN(d)                                                                     \
	check_result((d).broken == NULL, __FILE__, __LINE__, "the session kept its promises (%s)", \
	             (d).broken ? (d).broken : "")

/* Reads: the first up to `split` bytes, then all that has arrived. */
static size_t read_split(struct driver *d, size_t avail)
{
	size_t split = *(const size_t *)d->ctx;
	return d->in_pos < split && split - d->in_pos < avail ? split - d->in_pos : avail;
}

static size_t one_byte(struct driver *d, size_t avail)
{
	(void)d;
	(void)avail;
	return 1;
}

/* Random sizes, mostly small, sometimes everything there is. */
static size_t random_size(struct driver *d, size_t avail)
{
	switch (driver_rand(d, 4)) {
	case 0: return avail;
	case 1: return 1 + driver_rand(d, 3);
	default: return 1 + driver_rand(d, avail < 100 ? avail : 100);
	}
}

/* The hex number at in[*i, len), up to its CRLF; *i moves past the CRLF. False if there is
 * no such line. */
static bool chunk_size_line(const char *in, size_t len, size_t *i, size_t *size)
{
	size_t at = *i, n = 0;
	for (; at < len && strchr("0123456789abcdef", in[at]) && in[at]; at++)
		n = n * 16 + (size_t)(in[at] <= '9' ? in[at] - '0' : in[at] - 'a' + 10);
	if (at == *i || at + 2 > len || in[at] != '\r' || in[at + 1] != '\n')
		return false;
	*i = at + 2;
	*size = n;
	return true;
}

/*
 * A chunked body's chunks merged into one, in every response of a stream that has
 * "Transfer-Encoding: chunked": where chunk boundaries fall depends on how the request's
 * chunks arrived, and is all that may. Returns the new length (out has room for 2 * len).
 */
static size_t merge_chunks(const char *in, size_t len, char *out)
{
	static const char te[] = "\r\nTransfer-Encoding: chunked\r\n";
	size_t i = 0, o = 0;
	for (;;) {
		const char *hit = memmem(in + i, len - i, te, sizeof te - 1);
		const char *body = hit ? memmem(hit, len - (size_t)(hit - in), "\r\n\r\n", 4) : NULL;
		if (!body) {
			memcpy(out + o, in + i, len - i);
			return o + len - i;
		}
		size_t head_end = (size_t)(body - in) + 4;
		memcpy(out + o, in + i, head_end - i);
		o += head_end - i;
		i = head_end;
		/* Gather the data of the whole chunks, then write it back as one chunk. */
		char *data = malloc(len);
		size_t n = 0, size, at = i;
		bool last = false;
		while (chunk_size_line(in, len, &at, &size)) {
			if (size == 0) {
				last = at + 2 <= len && memcmp(in + at, "\r\n", 2) == 0;
				if (last)
					i = at + 2;
				break;
			}
			if (at + size + 2 > len || memcmp(in + at + size, "\r\n", 2) != 0)
				break;
			memcpy(data + n, in + at, size);
			n += size;
			i = at = at + size + 2;
		}
		if (n)
			o += (size_t)sprintf(out + o, "%zx\r\n", n);
		memcpy(out + o, data, n);
		o += n;
		o += (size_t)sprintf(out + o, "%s%s", n ? "\r\n" : "", last ? "0\r\n\r\n" : "");
		free(data);
	}
}

/* Runs a whole conversation and hands back its answers, dates masked. */
static enum driver_end converse(struct driver *d)
{
	enum driver_end end = driver_converse(d);
	driver_mask_dates(d->out, d->out_len);
	return end;
}

/* The same conversation, with its input split three ways, must give the same answers as
 * when all of it arrives at once (want_out), chunk boundaries aside, and end the same. */
static void check_every_split(const struct driver *script, const char *want_out, size_t want_len,
                              enum driver_end want_end)
{
	char *want_merged = malloc(2 * want_len + 64), *got_merged = NULL;
	size_t want_merged_len = merge_chunks(want_out, want_len, want_merged);
	size_t bad_split = SIZE_MAX;
	const char *why = NULL;
	for (size_t k = 0; k <= script->in_len + 2 && !why; k++) {
		struct driver d = *script;
		size_t split = k;
		d.ctx = &split;
		d.read_size = read_split;
		d.write_size = random_size;
		d.rng = k + 1;
		if (k == script->in_len + 1)
			d.read_size = d.write_size = one_byte;
		else if (k == script->in_len + 2)
			d.read_size = random_size;
		enum driver_end end = converse(&d);
		got_merged = realloc(got_merged, 2 * d.out_len + 64);
		size_t got_len = merge_chunks(d.out, d.out_len, got_merged);
		if (d.broken)
			why = d.broken;
		else if (end != want_end)
			why = "ended differently";
		else if (got_len != want_merged_len || memcmp(got_merged, want_merged, got_len) != 0)
			why = "answered differently";
		if (why)
			bad_split = k;
		free(d.out);
	}
	/* k <= in_len: split there; in_len + 1: a byte at a time; in_len + 2: at random. */
	check_result(!why, __FILE__, __LINE__, "every split: at k = %zu of %zu: %s", bad_split,
	             script->in_len, why);
	free(want_merged);
	free(got_merged);
}

/* ---- A pipelined batch of every kind of request ---- */

static const char *const BATCH[] = {
	"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /json HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n",
	"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
	("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"),
	"GET /bytes?n=70 HTTP/1.1\r\nHost: h\r\n\r\n",
	"HEAD /plaintext HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /sleep?ms=5 HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST /nope HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
	"GET /bytes?n=x HTTP/1.1\r\nHost: h\r\n\r\n",
	"DELETE /json HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /block?ms=3 HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /work?us=1 HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST /nope HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n",   /* 400, and the connection closes */
	"GET / HTTP/1.1\r\nHost: h\r\n\r\n",                 /* so this one is never answered */
};

static const char BATCH_ANSWERS[] =
	PLAIN
	JSON
	RESPONSE("200 OK", OCTETS("11"), "hello world")
	RESPONSE("200 OK", "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n",
	         "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
	RESPONSE("200 OK", OCTETS("70"),
	         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-\nABCDEF")
	RESPONSE("200 OK", TEXT("13"), "")
	RESPONSE("200 OK", TEXT("11"), "slept 5 ms\n")
	NOT_FOUND
	NOT_FOUND
	BAD_N
	NOT_GET
	RESPONSE("200 OK", TEXT("13"), "blocked 3 ms\n")
	RESPONSE("200 OK", TEXT("12"), "worked 1 us\n")
	NOT_FOUND
	RESPONSE("200 OK", "Content-Type: application/json\r\nContent-Length: 27\r\n"
	         "Connection: keep-alive\r\n", "{\"message\":\"Hello, World!\"}")
	BAD_REQUEST;

static void test_pipelined_batch(void)
{
	enum { N = sizeof BATCH / sizeof BATCH[0] };
	char in[2048];
	size_t len = 0, boundaries[N];
	for (size_t i = 0; i < N; i++) {
		len += (size_t)sprintf(in + len, "%s", BATCH[i]);
		boundaries[i] = len;
	}
	struct driver script = { .proto = PROTO_HTTP, .in = in, .in_len = len,
	                         .boundaries = boundaries, .n_boundaries = N - 2 };

	struct driver d = script;
	CHECK_EQ(converse(&d), DRIVER_CLOSED);
	CHECK_UNBROKEN(d);
	CHECK_MEM(d.out, d.out_len, BATCH_ANSWERS, sizeof BATCH_ANSWERS - 1);
	CHECK_EQ(d.n_waits, 2);
	CHECK(d.wait_kind[0] == WANT_SLEEP && d.wait_ms[0] == 5);
	CHECK(d.wait_kind[1] == WANT_BLOCK && d.wait_ms[1] == 3);
	CHECK(d.max_held <= 2);
	free(d.out);

	check_every_split(&script, BATCH_ANSWERS, sizeof BATCH_ANSWERS - 1, DRIVER_CLOSED);

	/* With the bad request left out, the client's EOF is what ends it. */
	script.in_len = boundaries[N - 3];
	script.eof = true;
	size_t keep_len = sizeof BATCH_ANSWERS - 1 - strlen(BAD_REQUEST);
	check_every_split(&script, BATCH_ANSWERS, keep_len, DRIVER_CLOSED);
	script.eof = false;
	check_every_split(&script, BATCH_ANSWERS, keep_len, DRIVER_STARVED);
}

/* ---- One request at a time: what each is answered, and whether the connection goes on ---- */

#define PROBE "GET / HTTP/1.1\r\nHost: h\r\n\r\n"   /* sent after each request: answered if it keeps */

static const struct conversation {
	const char *name, *request, *answer;
	bool keeps;
} CONVERSATIONS[] = {
	{ "root", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", PLAIN, true },
	{ "plaintext", "GET /plaintext HTTP/1.1\r\nHost: h\r\n\r\n", PLAIN, true },
	{ "json", "GET /json HTTP/1.1\r\nHost: h\r\n\r\n", JSON, true },
	{ "absolute-form", "GET http://localhost:8080/json HTTP/1.1\r\nHost: h\r\n\r\n", JSON, true },
	{ "leading CRLFs", "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", PLAIN, true },
	{ "HEAD /", "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", RESPONSE("200 OK", TEXT("13"), ""), true },
	{ "HEAD /json", "HEAD /json HTTP/1.1\r\nHost: h\r\n\r\n",
	  RESPONSE("200 OK", "Content-Type: application/json\r\nContent-Length: 27\r\n", ""), true },
	{ "HEAD /bytes", "HEAD /bytes?n=100 HTTP/1.1\r\nHost: h\r\n\r\n", RESPONSE("200 OK", OCTETS("100"), ""),
	  true },
	{ "HEAD 404", "HEAD /nope HTTP/1.1\r\nHost: h\r\n\r\n", RESPONSE("404 Not Found", TEXT("95"), ""), true },
	{ "HEAD /echo", "HEAD /echo HTTP/1.1\r\nHost: h\r\n\r\n",
	  RESPONSE("405 Method Not Allowed", TEXT("33") "Allow: POST\r\n", ""), true },
	/* keep-alive and close, HTTP/1.0 and 1.1 */
	{ "1.1 close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
	  RESPONSE("200 OK", TEXT("13") CLOSE, "Hello, World!"), false },
	{ "1.0", "GET / HTTP/1.0\r\n\r\n", RESPONSE("200 OK", TEXT("13") CLOSE, "Hello, World!"),
	  false },
	{ "1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	  RESPONSE("200 OK", TEXT("13") "Connection: keep-alive\r\n", "Hello, World!"), true },
	{ "1.0 404", "GET /nope HTTP/1.0\r\n\r\n",
	  RESPONSE("404 Not Found", TEXT("95") CLOSE, NOT_FOUND_BODY), false },
	{ "1.0 keep-alive 404", "GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	  RESPONSE("404 Not Found", TEXT("95") "Connection: keep-alive\r\n", NOT_FOUND_BODY), true },
	{ "1.1 close 405", "POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
	  RESPONSE("405 Method Not Allowed", TEXT("40") CLOSE "Allow: GET, HEAD\r\n",
	           "405 Method Not Allowed: use GET or HEAD\n"), false },
	/* errors that keep the connection, their bodies discarded */
	{ "404", "GET /nope HTTP/1.1\r\nHost: h\r\n\r\n", NOT_FOUND, true },
	{ "404 with body", "POST /nope HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", NOT_FOUND, true },
	{ "404 with chunked body",
	  "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	  NOT_FOUND, true },
	{ "405 GET route", "POST /json HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi", NOT_GET, true },
	{ "405 POST route", "GET /echo HTTP/1.1\r\nHost: h\r\n\r\n", NOT_POST, true },
	{ "405 known method", "OPTIONS / HTTP/1.1\r\nHost: h\r\n\r\n", NOT_GET, true },
	{ "n missing", "GET /bytes HTTP/1.1\r\nHost: h\r\n\r\n", BAD_N, true },
	{ "n empty", "GET /bytes?n= HTTP/1.1\r\nHost: h\r\n\r\n", BAD_N, true },
	{ "n negative", "GET /bytes?n=-1 HTTP/1.1\r\nHost: h\r\n\r\n", BAD_N, true },
	{ "n too big", "GET /bytes?n=67108865 HTTP/1.1\r\nHost: h\r\n\r\n", BAD_N, true },
	{ "n huge", "GET /bytes?n=99999999999999999999999 HTTP/1.1\r\nHost: h\r\n\r\n", BAD_N, true },
	{ "n not a number", "GET /bytes?n=1x HTTP/1.1\r\nHost: h\r\n\r\n", BAD_N, true },
	{ "n with sign", "GET /bytes?n=+1 HTTP/1.1\r\nHost: h\r\n\r\n", BAD_N, true },
	{ "n under another name", "GET /bytes?nn=1 HTTP/1.1\r\nHost: h\r\n\r\n", BAD_N, true },
	{ "us too big", "GET /work?us=1000001 HTTP/1.1\r\nHost: h\r\n\r\n", BAD_US, true },
	{ "ms too big", "GET /sleep?ms=60001 HTTP/1.1\r\nHost: h\r\n\r\n", BAD_MS, true },
	{ "block ms not a number", "GET /block?ms=abc HTTP/1.1\r\nHost: h\r\n\r\n", BAD_MS, true },
	/* routes and their parameters */
	{ "bytes 0", "GET /bytes?n=0 HTTP/1.1\r\nHost: h\r\n\r\n", RESPONSE("200 OK", OCTETS("0"), ""), true },
	{ "bytes after another parameter", "GET /bytes?x=1&n=3 HTTP/1.1\r\nHost: h\r\n\r\n",
	  RESPONSE("200 OK", OCTETS("3"), "ABC"), true },
	{ "bytes 65", "GET /bytes?n=65&n=1 HTTP/1.1\r\nHost: h\r\n\r\n",
	  RESPONSE("200 OK", OCTETS("65"),
	           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-\nA"), true },
	{ "sleep 0", "GET /sleep?ms=0 HTTP/1.1\r\nHost: h\r\n\r\n", RESPONSE("200 OK", TEXT("11"), "slept 0 ms\n"),
	  true },
	{ "block max", "GET /block?ms=60000 HTTP/1.1\r\nHost: h\r\n\r\n",
	  RESPONSE("200 OK", TEXT("17"), "blocked 60000 ms\n"), true },
	{ "work 0", "GET /work?us=0 HTTP/1.1\r\nHost: h\r\n\r\n", RESPONSE("200 OK", TEXT("12"), "worked 0 us\n"),
	  true },
	{ "HEAD sleep", "HEAD /sleep?ms=1 HTTP/1.1\r\nHost: h\r\n\r\n", RESPONSE("200 OK", TEXT("11"), ""), true },
	/* echo */
	{ "echo", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
	  RESPONSE("200 OK", OCTETS("5"), "hello"), true },
	{ "echo without body", "POST /echo HTTP/1.1\r\nHost: h\r\n\r\n", RESPONSE("200 OK", OCTETS("0"), ""),
	  true },
	{ "echo of 0 bytes", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
	  RESPONSE("200 OK", OCTETS("0"), ""), true },
	{ "echo binary", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\n\r\n\r\n\x01\xff",
	  RESPONSE("200 OK", OCTETS("6"), "\r\n\r\n\x01\xff"), true },
	{ "echo chunked", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "5\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
	  RESPONSE("200 OK", "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n",
	           "5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"), true },
	{ "echo chunked, empty", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  RESPONSE("200 OK", "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n",
	           "0\r\n\r\n"), true },
	{ "echo 1.0 close", "POST /echo HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
	  RESPONSE("200 OK", OCTETS("2") CLOSE, "hi"), false },
	{ "echo 1.1 close", "POST /echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
	  RESPONSE("200 OK", OCTETS("2") CLOSE, "hi"), false },
	{ "echo 1.1 close, no body", "POST /echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
	  RESPONSE("200 OK", OCTETS("0") CLOSE, ""), false },
	/* Expect: 100-continue */
	{ "expect on echo", "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
	  "hello", CONTINUE RESPONSE("200 OK", OCTETS("5"), "hello"), true },
	{ "expect on chunked echo",
	  "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "2\r\nhi\r\n0\r\n\r\n",
	  CONTINUE RESPONSE("200 OK", "Content-Type: application/octet-stream\r\n"
	                    "Transfer-Encoding: chunked\r\n", "2\r\nhi\r\n0\r\n\r\n"), true },
	{ "expect on another route", "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
	  "Content-Length: 5\r\n\r\nhello",
	  RESPONSE("405 Method Not Allowed", TEXT("40") CLOSE "Allow: GET, HEAD\r\n",
	           "405 Method Not Allowed: use GET or HEAD\n"), false },
	{ "expect on a missing path", "PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n",
	  RESPONSE("404 Not Found", TEXT("95") CLOSE, NOT_FOUND_BODY), false },
	{ "expect in HTTP/1.0, ignored", "POST /echo HTTP/1.0\r\nExpect: 100-continue\r\n"
	  "Connection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
	  RESPONSE("200 OK", OCTETS("2") "Connection: keep-alive\r\n", "hi"), true },
	{ "expect without a body", "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n", PLAIN, true },
	/* the body is read before the answer, so the client is told to send it */
	{ "expect on GET with a body",
	  "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
	  "HTTP/1.1 100 Continue\r\n\r\n" PLAIN, true },
	/* an error is answered without reading the body, so a client waiting for permission to
	 * send it may never send it: the connection closes */
	{ "expect on a 404 with a body",
	  "POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
	  RESPONSE("404 Not Found", TEXT("95") CLOSE, NOT_FOUND_BODY), false },
	/* a body where none is wanted: discarded, and the connection goes on */
	{ "GET with a body", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", PLAIN, true },
	{ "GET with a chunked body",
	  "GET /json HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", JSON, true },
	{ "HEAD with a body", "HEAD / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
	  RESPONSE("200 OK", TEXT("13"), ""), true },
	{ "bytes with a body", "GET /bytes?n=2 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
	  RESPONSE("200 OK", OCTETS("2"), "AB"), true },
	{ "sleep with a body", "GET /sleep?ms=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
	  RESPONSE("200 OK", TEXT("11"), "slept 1 ms\n"), true },
	/* errors that close the connection: nothing after them is a request */
	{ "bare LF", "GET / HTTP/1.1\nHost: x\r\n\r\n", BAD_REQUEST, false },
	{ "bare CR", "GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", BAD_REQUEST, false },
	{ "obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n c\r\n\r\n", BAD_REQUEST, false },
	{ "space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", BAD_REQUEST, false },
	{ "bad Content-Length", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5x\r\n\r\nhello",
	  BAD_REQUEST, false },
	{ "two Content-Lengths", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n"
	  "\r\nx", BAD_REQUEST, false },
	{ "CL and TE", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
	  "\r\n0\r\n\r\n", BAD_REQUEST, false },
	{ "TE in 1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  BAD_REQUEST, false },
	{ "bad request line", "GET /\r\n\r\n", BAD_REQUEST, false },
	{ "HEAD, bad header", "HEAD / HTTP/1.1\r\nHost: h\r\nA : b\r\n\r\n", BAD_REQUEST, false },
	{ "too many CRLFs", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", BAD_REQUEST, false },
	{ "body too large", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 16777217\r\n\r\n", TOO_LARGE,
	  false },
	{ "body too large, other route", "POST /nope HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n",
	  TOO_LARGE, false },
	{ "HEAD, body too large", "HEAD / HTTP/1.1\r\nHost: h\r\nContent-Length: 16777217\r\n\r\n",
	  RESPONSE("413 Content Too Large", TEXT("22") CLOSE, ""), false },
	{ "unknown method", "BREW /coffee HTTP/1.1\r\nHost: h\r\n\r\n", NOT_IMPLEMENTED, false },
	{ "unknown coding", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", NOT_IMPLEMENTED,
	  false },
	{ "HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", BAD_VERSION, false },
	{ "HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", BAD_VERSION, false },
	/* a chunked body gone bad before the answer began: 400, and closed */
	{ "GET, bad chunk", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhiX\r\n",
	  BAD_REQUEST, false },
	{ "GET, bad chunk size", "GET /json HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	  BAD_REQUEST, false },
	{ "echo, bad first chunk", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "zz\r\nhi\r\n", BAD_REQUEST, false },
	{ "sleep, bad chunk", "GET /sleep?ms=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "1;\n", BAD_REQUEST, false },
	/* a chunked body gone bad after the answer began: cut short, and closed */
	{ "echo, bad chunk", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "2\r\nhi\r\nzz\r\n",
	  RESPONSE("200 OK", "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n",
	           "2\r\nhi\r\n"), false },
	{ "404, bad chunk", "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhiX\r\n",
	  NOT_FOUND, false },
};

static void test_conversations(void)
{
	for (size_t i = 0; i < sizeof CONVERSATIONS / sizeof CONVERSATIONS[0]; i++) {
		const struct conversation *c = &CONVERSATIONS[i];
		char in[512], want[2048];
		size_t in_len = (size_t)sprintf(in, "%s%s", c->request, PROBE);
		size_t want_len = (size_t)sprintf(want, "%s%s", c->answer, c->keeps ? PLAIN : "");
		size_t boundaries[] = { strlen(c->request), in_len };
		struct driver script = { .proto = PROTO_HTTP, .in = in, .in_len = in_len,
		                         .boundaries = boundaries, .n_boundaries = c->keeps ? 2 : 0 };
		check_case("%s", c->name);

		/* Without EOF: a connection that keeps waits for more, one that does not closes. */
		struct driver d = script;
		CHECK_EQ(converse(&d), c->keeps ? DRIVER_STARVED : DRIVER_CLOSED);
		CHECK_UNBROKEN(d);
		CHECK_MEM(d.out, d.out_len, want, want_len);
		free(d.out);
		check_every_split(&script, want, want_len, c->keeps ? DRIVER_STARVED : DRIVER_CLOSED);

		/* With EOF after the probe: closed either way, with the same answers. */
		script.eof = true;
		check_every_split(&script, want, want_len, DRIVER_CLOSED);
	}
	check_case("%s", "");
}

/* The limits, through the session: 414 and 431 close the connection. A head is its request
 * line with a target of `target` bytes, "Host: h", a header line of `header` bytes, and the
 * empty line. */
static void test_oversized_heads(void)
{
	static const struct {
		const char *name;
		size_t target, header;
		const char *answer;
	} cases[] = {
		{ "longest target", 8166, 0, NOT_FOUND },    /* 4 + 8166 + 11 + 9 + 2 = 8192 */
		{ "target too long", 8193, 0, URI_TOO_LONG },
		{ "head just fits", 1, 8165, PLAIN },
		{ "head too long", 1, 8166, HEAD_TOO_LARGE },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t t = cases[i].target, h = cases[i].header;
		char *in = malloc(t + h + 64), *p = in;
		p += sprintf(p, "GET /");
		memset(p, 'a', t - 1);
		p += t - 1;
		p += sprintf(p, " HTTP/1.1\r\nHost: h\r\n");
		if (h) {
			p += sprintf(p, "X: ");
			memset(p, 'v', h - 5);
			p += h - 5;
			p += sprintf(p, "\r\n");
		}
		p += sprintf(p, "\r\n");
		size_t len = (size_t)(p - in);
		check_case("%s (%zu bytes)", cases[i].name, len);
		struct driver d = { .proto = PROTO_HTTP, .in = in, .in_len = len, .eof = true,
		                    .read_size = random_size, .write_size = random_size };
		CHECK_EQ(converse(&d), DRIVER_CLOSED);
		CHECK_UNBROKEN(d);
		CHECK_MEM(d.out, d.out_len, cases[i].answer, strlen(cases[i].answer));
		free(d.out);
		free(in);
	}
	check_case("%s", "");
}

/* ---- Echo protocol ---- */

static void test_echo_protocol(void)
{
	const char *text = "hello\nworld\r\n\0binary\xff";
	size_t len = 22;
	struct driver script = { .proto = PROTO_ECHO, .in = text, .in_len = len, .eof = true };
	struct driver d = script;
	CHECK_EQ(converse(&d), DRIVER_CLOSED);
	CHECK_MEM(d.out, d.out_len, text, len);
	CHECK(d.max_held == 1);
	free(d.out);
	check_every_split(&script, text, len, DRIVER_CLOSED);
	script.eof = false;   /* still open: waits, holding nothing (the driver checks) */
	check_every_split(&script, text, len, DRIVER_STARVED);

	/* Much more than a buffer, in random pieces. */
	size_t big = 200000;
	char *in = malloc(big);
	for (size_t i = 0; i < big; i++)
		in[i] = (char)(i * 7 + i / 251);
	d = (struct driver){ .proto = PROTO_ECHO, .in = in, .in_len = big, .eof = true,
	                     .read_size = random_size, .write_size = random_size };
	CHECK_EQ(converse(&d), DRIVER_CLOSED);
	CHECK_UNBROKEN(d);
	CHECK_MEM(d.out, d.out_len, in, big);
	free(d.out);
	free(in);

	/* Nothing at all: closed at once. */
	d = (struct driver){ .proto = PROTO_ECHO, .eof = true };
	CHECK_EQ(converse(&d), DRIVER_CLOSED);
	CHECK_EQ(d.out_total, 0);
}

/* ---- Back-pressure and bounded memory ---- */

/* A client that sends many requests and reads no answer: the session stops reading once its
 * output buffer is full, and waits for the client, holding at most its two buffers. */
static void test_back_pressure(void)
{
	enum { N = 3000 };
	size_t one = strlen(PROBE);
	char *in = malloc(N * one);
	for (size_t i = 0; i < N; i++)
		memcpy(in + i * one, PROBE, one);
	struct driver d = { .proto = PROTO_HTTP, .in = in, .in_len = N * one };
	driver_start(&d);

	enum session_want want;
	size_t reads = 0;
	while ((want = session_next(d.s, &d.pool)) == WANT_READ && d.in_pos < d.in_len) {
		size_t room;
		char *buf = session_rbuf(d.s, &d.pool, &room);
		size_t n = room < d.in_len - d.in_pos ? room : d.in_len - d.in_pos;
		memcpy(buf, in + d.in_pos, n);
		d.in_pos += n;
		session_read(d.s, n);
		reads++;
	}
	CHECK_EQ(want, WANT_WRITE);
	CHECK_EQ(reads, 1);   /* one buffer of requests made a buffer of answers */
	size_t pending;
	session_wbuf(d.s, &pending);
	CHECK(pending > 0 && pending <= BUFPOOL_BUF_SIZE);
	bool still_writing = true;
	for (int i = 0; i < 100; i++)
		still_writing &= session_next(d.s, &d.pool) == WANT_WRITE;
	CHECK(still_writing);
	size_t again;
	session_wbuf(d.s, &again);
	CHECK_EQ(again, pending);   /* and it made no more answers meanwhile */
	CHECK(driver_held(&d) <= 2);

	/* Once the client reads, everything is answered, in order. */
	d.read_size = random_size;
	d.write_size = random_size;
	d.out_limit = 0;
	d.sink = NULL;
	CHECK_EQ(driver_run(&d), DRIVER_STARVED);
	CHECK_UNBROKEN(d);
	size_t plain = strlen(PLAIN), bad_at = SIZE_MAX;
	driver_mask_dates(d.out, d.out_len);
	size_t answers = d.out_len / plain;
	for (size_t i = 0; i + plain <= d.out_len && bad_at == SIZE_MAX; i += plain)
		if (memcmp(d.out + i, PLAIN, plain) != 0)
			bad_at = i;
	CHECK_EQ(bad_at, SIZE_MAX);
	CHECK_EQ(answers, N);
	CHECK(d.max_held <= 2);
	driver_finish(&d);
	CHECK_UNBROKEN(d);
	free(d.out);
	free(in);
}

/* Checks a streamed answer: a head, then a body whose every byte is known from its offset. */
struct stream_check {
	char head[512];
	size_t head_len;             /* bytes of head seen; the head ends at "\r\n\r\n" */
	bool in_body;
	uint64_t body_len;
	const char *body;            /* the body expected; NULL: the /bytes pattern */
	uint64_t bad_at;             /* offset of the first wrong body byte, or UINT64_MAX */
};

static void stream_sink(struct driver *d, const char *data, size_t n)
{
	static char pattern[BUFPOOL_BUF_SIZE + 64];
	if (!pattern[0])
		for (size_t i = 0; i < sizeof pattern; i++)
			pattern[i] = PATTERN[i % 64];
	struct stream_check *c = d->ctx;
	while (n && !c->in_body) {
		if (c->head_len < sizeof c->head)
			c->head[c->head_len] = *data;
		c->head_len++;
		data++;
		n--;
		c->in_body = c->head_len >= 4 && memcmp(c->head + c->head_len - 4, "\r\n\r\n", 4) == 0;
	}
	const char *want = c->body ? c->body + c->body_len : pattern + c->body_len % 64;
	if (c->bad_at == UINT64_MAX && n && memcmp(data, want, n) != 0) {
		size_t i = 0;
		while (data[i] == want[i])
			i++;
		c->bad_at = c->body_len + i;
	}
	c->body_len += n;
}

/* Any size at all, from 1 to everything there is. */
static size_t any_size(struct driver *d, size_t avail)
{
	return 1 + driver_rand(d, avail);
}

/* The largest /bytes answer streams through one output buffer. */
static void test_bytes_64mib(void)
{
	const char *req = "GET /bytes?n=67108864 HTTP/1.1\r\nHost: h\r\n\r\n";
	struct stream_check c = { .bad_at = UINT64_MAX };
	struct driver d = { .proto = PROTO_HTTP, .in = req, .in_len = strlen(req),
	                    .write_size = any_size, .sink = stream_sink, .ctx = &c };
	CHECK_EQ(driver_converse(&d), DRIVER_STARVED);
	CHECK_UNBROKEN(d);
	CHECK(c.in_body);
	driver_mask_dates(c.head, c.head_len);
	CHECK_MEM(c.head, c.head_len, RESPONSE("200 OK", OCTETS("67108864"), ""),
	          strlen(RESPONSE("200 OK", OCTETS("67108864"), "")));
	CHECK_EQ(c.body_len, 64u << 20);
	CHECK_EQ(c.bad_at, UINT64_MAX);
	CHECK_EQ(d.max_held, 1);   /* the output buffer; the input one went back with the request */
}

/* 16 MiB is the largest body echoed; it streams through, never more than a buffer held. */
static void test_echo_largest_body(void)
{
	size_t body = 16u << 20;
	const char *head = "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 16777216\r\n\r\n";
	size_t head_len = strlen(head);
	char *in = malloc(head_len + body);
	memcpy(in, head, head_len);
	for (size_t i = 0; i < body; i++)
		in[head_len + i] = (char)(i * 31 + i / 4093);
	struct stream_check c = { .bad_at = UINT64_MAX, .body = in + head_len };
	struct driver d = { .proto = PROTO_HTTP, .in = in, .in_len = head_len + body, .eof = true,
	                    .read_size = any_size, .write_size = any_size, .sink = stream_sink,
	                    .ctx = &c };
	CHECK_EQ(driver_converse(&d), DRIVER_CLOSED);
	CHECK_UNBROKEN(d);
	CHECK_EQ(c.body_len, body);
	CHECK_EQ(c.bad_at, UINT64_MAX);
	CHECK(d.max_held <= 2);
	free(in);
}

/* A request with a chunked body of 20 chunks of 1 MiB, then the last chunk. */
static char *chunked_20mib(const char *request_line, size_t *len, size_t *head_len)
{
	size_t chunk = 1u << 20, chunks = 20;
	char *in = malloc(chunks * (chunk + 16) + 256), *p = in;
	p += sprintf(p, "%s\r\nTransfer-Encoding: chunked\r\n\r\n", request_line);
	*head_len = (size_t)(p - in);
	for (size_t i = 0; i < chunks; i++) {
		p += sprintf(p, "%zx\r\n", chunk);
		memset(p, 'a' + (int)i, chunk);
		p += chunk;
		p += sprintf(p, "\r\n");
	}
	p += sprintf(p, "0\r\n\r\n");
	*len = (size_t)(p - in);
	return in;
}

/* A chunked echo past 16 MiB is cut short (no last chunk) and the connection closed, before
 * the rest of the body is read. */
static void test_echo_chunked_over_limit(void)
{
	size_t len, head_len;
	char *in = chunked_20mib("POST /echo HTTP/1.1\r\nHost: h", &len, &head_len);
	struct driver d = { .proto = PROTO_HTTP, .in = in, .in_len = len, .out_limit = 32u << 20 };
	CHECK_EQ(converse(&d), DRIVER_CLOSED);
	CHECK_UNBROKEN(d);
	CHECK(d.in_pos < d.in_len);
	CHECK(d.in_pos > head_len + (16u << 20));
	CHECK(d.out_len > 5 && memcmp(d.out + d.out_len - 5, "0\r\n\r\n", 5) != 0);
	char *merged = malloc(2 * d.out_len + 64);
	size_t merged_len = merge_chunks(d.out, d.out_len, merged);
	const char *body = memmem(merged, merged_len, "\r\n\r\n", 4);
	unsigned long data_len = body ? strtoul(body + 4, NULL, 16) : 0;
	CHECK(data_len > (16u << 20) && data_len <= (16u << 20) + BUFPOOL_BUF_SIZE);
	CHECK(merged_len > data_len);
	free(merged);
	free(d.out);
	free(in);
}

/* A chunked body past 16 MiB on a route that reads it before answering: 413, and closed,
 * before the rest of the body is read. */
static void test_discarded_chunked_over_limit(void)
{
	size_t len, head_len;
	char *in = chunked_20mib("GET / HTTP/1.1\r\nHost: h", &len, &head_len);
	struct driver d = { .proto = PROTO_HTTP, .in = in, .in_len = len };
	CHECK_EQ(converse(&d), DRIVER_CLOSED);
	CHECK_UNBROKEN(d);
	CHECK(d.in_pos < d.in_len);
	CHECK_MEM(d.out, d.out_len, TOO_LARGE, strlen(TOO_LARGE));
	free(d.out);
	free(in);
}

/* ---- Buffers and allocations ---- */

/* Between requests, every buffer is back in the pool. */
static void test_idle_release(void)
{
	const char *reqs = PROBE "GET /json HTTP/1.1\r\nHost: h\r\n\r\n";
	size_t first = strlen(PROBE);
	struct driver d = { .proto = PROTO_HTTP, .in = reqs, .in_len = first };
	driver_start(&d);
	CHECK_EQ(driver_held(&d), 0);
	CHECK(session_idle(d.s));
	CHECK_EQ(driver_run(&d), DRIVER_STARVED);
	CHECK_EQ(driver_held(&d), 0);
	CHECK(session_idle(d.s));
	CHECK(d.max_held > 0);   /* it did borrow, and gave back */
	size_t pending = 1;
	CHECK(session_wbuf(d.s, &pending) == NULL);   /* nothing to write, and no buffer to point in */
	CHECK_EQ(pending, 0);

	/* Half a request: the input buffer is kept, and the session is not idle. */
	d.in_len = first + 5;
	CHECK_EQ(driver_run(&d), DRIVER_STARVED);
	CHECK_EQ(driver_held(&d), 1);
	CHECK(!session_idle(d.s));
	d.in_len = strlen(reqs);
	CHECK_EQ(driver_run(&d), DRIVER_STARVED);
	CHECK_EQ(driver_held(&d), 0);
	CHECK(session_idle(d.s));

	/* A body still to come: not idle, and the answer being streamed keeps its buffers until
	 * it is done; then they go back. */
	const char *post = "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd";
	d.in = post;
	d.in_pos = 0;
	d.in_len = strlen(post) - 4;
	CHECK_EQ(driver_run(&d), DRIVER_STARVED);
	CHECK(!session_idle(d.s));
	d.in_len += 2;
	CHECK_EQ(driver_run(&d), DRIVER_STARVED);
	CHECK(!session_idle(d.s));
	CHECK_EQ(driver_held(&d), 1);   /* the answer's; the input buffer is empty, so given back */
	d.in_len += 2;
	CHECK_EQ(driver_run(&d), DRIVER_STARVED);
	CHECK(session_idle(d.s));
	CHECK_EQ(driver_held(&d), 0);
	CHECK_UNBROKEN(d);
	driver_finish(&d);
	CHECK_UNBROKEN(d);
	free(d.out);
}

static void discard(struct driver *d, const char *data, size_t n)
{
	(void)d;
	(void)data;
	(void)n;
}

/* Once warm, the plaintext path allocates nothing per request: not one request at a time,
 * not pipelined. (The session's pool is warm: it has spares, as a model's pool has.) */
static void test_no_allocation_when_warm(void)
{
	static const char *const kinds[] = {
		PROBE, "GET /json HTTP/1.1\r\nHost: h\r\n\r\n", "HEAD /plaintext HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n",
	};
	/* The counting sees the core's allocations: a session is one. */
	unsigned long at_start = allocations;
	struct bufpool pool = BUFPOOL_INIT(0);
	session_free(session_new(PROTO_HTTP), &pool);
	CHECK_EQ(allocations - at_start, 1);

	enum { N = 1000 };
	char *in = malloc(N * 64);
	size_t len = 0, ends[N];
	for (size_t i = 0; i < N; i++) {
		len += (size_t)sprintf(in + len, "%s", kinds[i % 4]);
		ends[i] = len;
	}
	for (int pipelined = 0; pipelined <= 1; pipelined++) {
		check_case("%s", pipelined ? "pipelined" : "one at a time");
		struct driver d = { .proto = PROTO_HTTP, .in = in, .in_len = ends[3], .sink = discard };
		driver_start(&d);
		CHECK_EQ(driver_run(&d), DRIVER_STARVED);   /* warm: every kind served once */
		unsigned long before = allocations;
		bool starved = true;
		if (pipelined) {
			d.in_len = len;
			starved &= driver_run(&d) == DRIVER_STARVED;
		} else {
			for (size_t i = 4; i < N; i++) {
				d.in_len = ends[i];
				starved &= driver_run(&d) == DRIVER_STARVED;
			}
		}
		CHECK_EQ(allocations - before, 0);
		CHECK(starved);
		CHECK_UNBROKEN(d);
		CHECK_EQ(d.in_pos, len);
		driver_finish(&d);
	}
	check_case("%s", "");
	free(in);
}

/* ---- Odds and ends ---- */

/* Expect: 100-continue is answered before the body is read, so the client sends it. */
static void test_continue_before_body(void)
{
	const char *req = "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi";
	struct driver d = { .proto = PROTO_HTTP, .in = req, .in_len = strlen(req) - 2 };
	driver_start(&d);
	CHECK_EQ(driver_run(&d), DRIVER_STARVED);
	CHECK(d.out_len >= strlen(CONTINUE) && memcmp(d.out, CONTINUE, strlen(CONTINUE)) == 0);
	d.in_len += 2;
	CHECK_EQ(driver_run(&d), DRIVER_STARVED);
	driver_finish(&d);
	driver_mask_dates(d.out, d.out_len);
	const char want[] = CONTINUE RESPONSE("200 OK", OCTETS("2"), "hi");
	CHECK_MEM(d.out, d.out_len, want, sizeof want - 1);
	free(d.out);
}

/* The client closes its side: what it asked is answered, then the session closes; half a
 * request is dropped. */
static void test_half_close(void)
{
	const char *partial = PROBE "GET /json HTT";
	struct driver d = { .proto = PROTO_HTTP, .in = partial, .in_len = strlen(partial),
	                    .eof = true };
	CHECK_EQ(converse(&d), DRIVER_CLOSED);
	CHECK_MEM(d.out, d.out_len, PLAIN, strlen(PLAIN));
	free(d.out);

	const char *body = "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhalf";
	d = (struct driver){ .proto = PROTO_HTTP, .in = body, .in_len = strlen(body), .eof = true };
	CHECK_EQ(converse(&d), DRIVER_CLOSED);
	CHECK_UNBROKEN(d);
	const char want[] = RESPONSE("200 OK", OCTETS("10"), "half");
	CHECK_MEM(d.out, d.out_len, want, sizeof want - 1);
	free(d.out);

	d = (struct driver){ .proto = PROTO_HTTP, .eof = true };
	CHECK_EQ(converse(&d), DRIVER_CLOSED);
	CHECK_EQ(d.out_total, 0);
}

/* The Date header is an IMF-fixdate, and it is now. */
static void test_date(void)
{
	struct driver d = { .proto = PROTO_HTTP, .in = PROBE, .in_len = strlen(PROBE) };
	CHECK_EQ(driver_converse(&d), DRIVER_STARVED);
	char *date = d.out ? memmem(d.out, d.out_len, "\r\nDate: ", 8) : NULL;
	CHECK(date != NULL);
	if (date) {
		struct tm tm = { 0 };
		char *end = strptime(date + 8, "%a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		CHECK(end == date + 8 + 31);
		long long skew = (long long)(timegm(&tm) - time(NULL));
		CHECK(skew > -600 && skew < 600);   /* generous: this is the date, not a timing */
	}
	free(d.out);
}

/* ---- The request time-out (--header-timeout) ---- */

/* Hands the session s bytes, as a model's read would. */
static void give(struct session *s, struct bufpool *pool, const char *bytes)
{
	size_t room, n = strlen(bytes);
	CHECK(session_next(s, pool) == WANT_READ);
	char *buf = session_rbuf(s, pool, &room);
	if (!CHECK(buf && room >= n))
		return;
	memcpy(buf, bytes, n);
	session_read(s, n);
}

/* What a model does before it waits for input: session_next() says WANT_READ, and the
 * session says until when the wait may last. */
static uint64_t deadline_at(struct session *s, struct bufpool *pool, uint64_t now)
{
	CHECK_EQ(session_next(s, pool), WANT_READ);
	return session_deadline(s, now);
}

/* Takes everything the session has to send; returns how it goes on. */
static enum session_want drain(struct session *s, struct bufpool *pool, char *out, size_t cap, size_t *len)
{
	enum session_want want;
	*len = 0;
	while ((want = session_next(s, pool)) == WANT_WRITE) {
		size_t n;
		const char *data = session_wbuf(s, &n);
		if (!CHECK(*len + n < cap))
			break;
		memcpy(out + *len, data, n);
		*len += n;
		session_wrote(s, n);
	}
	out[*len] = '\0';
	return want;
}

static void test_header_timeout(void)
{
	struct bufpool pool = BUFPOOL_INIT(4);
	char out[4096];
	size_t len;

	check_case("no limit set");
	struct session *s = session_new(PROTO_HTTP);
	give(s, &pool, "GET / HT");
	CHECK_EQ_U(deadline_at(s, &pool, 100), 0);
	session_free(s, &pool);

	check_case("a head trickled past its deadline");
	s = session_new(PROTO_HTTP);
	session_set_header_timeout(s, 1000);
	CHECK_EQ_U(deadline_at(s, &pool, 100), 0);       /* nothing came yet: the idle time-out's */
	give(s, &pool, "GET / HT");
	CHECK_EQ_U(deadline_at(s, &pool, 200), 1200);    /* the clock starts at the first wait */
	give(s, &pool, "TP/1.1\r\nHo");
	CHECK_EQ_U(deadline_at(s, &pool, 900), 1200);    /* and bytes do not restart it */
	session_timed_out(s);
	CHECK_EQ(drain(s, &pool, out, sizeof out, &len), WANT_CLOSE);
	CHECK(strncmp(out, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
	CHECK(strstr(out, "\r\nConnection: close\r\n") != NULL);
	session_free(s, &pool);

	check_case("between requests, no deadline; the next head gets its own");
	s = session_new(PROTO_HTTP);
	session_set_header_timeout(s, 1000);
	give(s, &pool, "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /json HT");
	CHECK_EQ(drain(s, &pool, out, sizeof out, &len), WANT_READ);
	CHECK(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK_EQ_U(deadline_at(s, &pool, 5000), 6000);   /* from when the server got to it */
	give(s, &pool, "TP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(drain(s, &pool, out, sizeof out, &len), WANT_READ);
	CHECK_EQ_U(deadline_at(s, &pool, 9000), 0);      /* idle: no request in progress */
	session_timed_out(s);                          /* late news of a request that came: */
	CHECK_EQ(session_next(s, &pool), WANT_READ);   /* nothing happens */
	session_free(s, &pool);

	check_case("a body: 16 KiB of it earns a new deadline, a stall gets a 408");
	s = session_new(PROTO_HTTP);
	session_set_header_timeout(s, 1000);
	give(s, &pool, "GET /json HTTP/1.1\r\nHost: h\r\nContent-Length: 40000\r\n\r\nab");
	CHECK_EQ_U(deadline_at(s, &pool, 10000), 11000);      /* the body's clock */
	give(s, &pool, "cd");
	CHECK_EQ_U(deadline_at(s, &pool, 10100), 11000);
	char *piece = malloc(16 * 1024 + 1);
	memset(piece, 'x', 16 * 1024);
	piece[16 * 1024] = '\0';
	give(s, &pool, piece);
	CHECK_EQ_U(deadline_at(s, &pool, 10500), 11500);
	CHECK_EQ_U(deadline_at(s, &pool, 10900), 11500);
	session_timed_out(s);
	CHECK_EQ(drain(s, &pool, out, sizeof out, &len), WANT_CLOSE);
	CHECK(strncmp(out, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
	session_free(s, &pool);

	check_case("an /echo whose answer began is cut short, without a 408");
	s = session_new(PROTO_HTTP);
	session_set_header_timeout(s, 1000);
	give(s, &pool, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nhello");
	CHECK_EQ(drain(s, &pool, out, sizeof out, &len), WANT_READ);
	CHECK(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK_EQ_U(deadline_at(s, &pool, 0), 1000);
	session_timed_out(s);
	CHECK_EQ(drain(s, &pool, out, sizeof out, &len), WANT_CLOSE);
	CHECK_EQ_U(len, 0);
	session_free(s, &pool);

	check_case("a time-out of 0: no limit");
	s = session_new(PROTO_HTTP);
	session_set_header_timeout(s, 0);
	give(s, &pool, "GET / HT");
	CHECK_EQ_U(deadline_at(s, &pool, 100), 0);
	session_free(s, &pool);
	check_case("%s", "");
	free(piece);
	bufpool_drain(&pool);
}

int main(void)
{
	test_pipelined_batch();
	test_conversations();
	test_oversized_heads();
	test_echo_protocol();
	test_back_pressure();
	test_bytes_64mib();
	test_echo_largest_body();
	test_echo_chunked_over_limit();
	test_discarded_chunked_over_limit();
	test_idle_release();
	test_no_allocation_when_warm();
	test_continue_before_body();
	test_half_close();
	test_date();
	test_header_timeout();
	return check_report();
}
