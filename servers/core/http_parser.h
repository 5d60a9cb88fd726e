/*
 * http_parser.h: HTTP/1.1 request heads as pure functions from bytes to a struct.
 *
 * No I/O and no allocation: the parsed request points into the caller's buffer, so the
 * request is never copied. Parsing is split in two, so that a head arriving a byte at a
 * time costs linear, not quadratic, work:
 *
 *   http_head_scan()   resumable: finds where the head ends (the empty line), or says the
 *                      head can never be valid (bad line ending, too long);
 *   http_parse_head()  parses a complete head into struct http_request.
 *
 * Errors are HTTP status codes, so the caller can answer with them directly.
 */
#ifndef C10K_HTTP_PARSER_H
#define C10K_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	HTTP_MAX_TARGET = 8192,      /* longer request-target: 414 */
	HTTP_MAX_HEAD = 8192,        /* longer request head: 431 (unless the target is why: 414) */
	HTTP_MAX_HEADERS = 64,       /* more header fields: 431 */
};

/* Every standard method is known (so a known path answers 405, not 501); the server only
 * implements some of them. */
enum http_method {
	HTTP_UNKNOWN = 0,
	HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE,
	HTTP_CONNECT, HTTP_OPTIONS, HTTP_TRACE, HTTP_PATCH,
};

struct http_header {
	const char *name;
	size_t name_len;
	const char *value;           /* optional white space trimmed on both sides */
	size_t value_len;
};

struct http_request {
	const char *method;
	size_t method_len;
	const char *target;          /* as sent: origin-form ("/p?q"), absolute-form ("http://h/p"),
	                              * authority-form (CONNECT "h:443") or asterisk-form ("*") */
	size_t target_len;
	const char *path;            /* the target's path, without the query ("/p", or the whole
	                              * target in the authority and asterisk forms) */
	size_t path_len;
	const char *query;           /* after '?', or NULL */
	size_t query_len;
	int minor_version;           /* HTTP/1.0 or HTTP/1.1 */
	size_t num_headers;
	struct http_header headers[HTTP_MAX_HEADERS];

	/* What the headers mean for framing and the connection, checked for consistency. */
	enum http_method method_id;
	bool has_host;               /* required in HTTP/1.1 */
	bool has_content_length;
	uint64_t content_length;
	bool chunked;                /* Transfer-Encoding: chunked */
	bool keep_alive;             /* after this response, per version and Connection */
	bool expect_continue;        /* Expect: 100-continue */
};

/* Progress through a head arriving in pieces, kept between calls. */
struct http_scan {
	size_t line;                 /* where the unfinished line starts */
	size_t searched;             /* how far it has been searched for its end */
};

/*
 * Looks for the end of a request head in buf[0, len). *scan carries the progress from one
 * call to the next, so that each byte is looked at once, however the head is split; zero it
 * before the first call for each request (it is zeroed again when the head is complete).
 * Returns the head's length (up to and including the empty line) when it is complete, 0 when
 * more bytes are needed, or a negative HTTP status when no more bytes can make it valid:
 * -400 (a line not ended by CRLF), -414 (the target is too long), -431 (the head is too long).
 */
long http_head_scan(const char *buf, size_t len, struct http_scan *scan);

/*
 * Parses a complete head (as delimited by http_head_scan) into *req.
 * Returns 0, or the HTTP status to answer with: 400 (malformed line or header, bad or
 * conflicting framing, a target in none of the four forms, HTTP/1.1 without exactly one
 * valid Host), 414, 431 (too many headers), 501 (unknown method or transfer coding),
 * 505 (a version other than 1.0 and 1.1).
 */
int http_parse_head(const char *buf, size_t len, struct http_request *req);

/* A decimal number: digits only, no sign, no white space. Sets *out to its value, saturated
 * at UINT64_MAX; returns false when s[0, n) is empty or holds anything but digits. */
bool http_parse_digits(const char *s, size_t n, uint64_t *out);

/* The value of the first header named `name` (case-insensitive), or NULL. */
const struct http_header *http_find_header(const struct http_request *req, const char *name);

/* Standard reason phrase for a status code ("Not Found"). */
const char *http_reason(int status);

#endif
