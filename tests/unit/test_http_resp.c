/*
 * Unit tests of harness/http_resp.c. Every response is parsed whole, split in two at every
 * possible point, and a byte at a time: the parser must not care how the bytes arrive.
 */
#include "../check.h"
#include "http_resp.h"

struct outcome {
	enum http_resp_result result;
	size_t used;                 /* bytes of the input that belong to the response */
	int status;
	bool keep_alive;
	uint64_t body_len, head_len;
};

/* Feeds s in pieces of at most `step` bytes after a first piece of `first` bytes, then an EOF
 * if asked and the response wants more. */
static struct outcome parse_pieces(const char *s, size_t len, bool head, bool eof, size_t first, size_t step)
{
	struct http_resp r;
	struct outcome o = { HTTP_RESP_MORE, 0, 0, false, 0, 0 };
	http_resp_init(&r, head);
	size_t off = 0;
	while (off < len && o.result == HTTP_RESP_MORE) {
		size_t n = off == 0 ? first : step, used;
		if (n > len - off)
			n = len - off;
		o.result = http_resp_feed(&r, s + off, n, &used);
		CHECK(used <= n);
		if (o.result == HTTP_RESP_MORE)
			CHECK(used == n);
		off += used;
		if (n == 0 && o.result == HTTP_RESP_MORE)   /* an empty first piece */
			first = step;
	}
	if (eof && o.result == HTTP_RESP_MORE)
		o.result = http_resp_eof(&r);
	o.used = off;
	o.status = r.status;
	o.keep_alive = r.keep_alive;
	o.body_len = r.body_len;
	o.head_len = r.head_len;
	return o;
}

static bool same(struct outcome a, struct outcome b)
{
	return a.result == b.result && a.used == b.used && a.status == b.status &&
	       a.keep_alive == b.keep_alive && a.body_len == b.body_len && a.head_len == b.head_len;
}

/* Parses whole, and checks that every way of splitting it gives the same outcome. */
static struct outcome parse_ex(const char *s, bool head, bool eof)
{
	size_t len = strlen(s);
	struct outcome whole = parse_pieces(s, len, head, eof, len, len);
	CHECK(same(parse_pieces(s, len, head, eof, 1, 1), whole));
	for (size_t k = 0; k <= len; k++)
		if (!same(parse_pieces(s, len, head, eof, k, len), whole))
			CHECK_FAIL("split at %zu differs from the whole parse", k);
	return whole;
}

static struct outcome parse(const char *s)
{
	return parse_ex(s, false, false);
}

/* The reason a response fails. */
static const char *error_of(const char *s)
{
	struct http_resp r;
	size_t used;
	http_resp_init(&r, false);
	if (http_resp_feed(&r, s, strlen(s), &used) != HTTP_RESP_ERROR)
		return "(no error)";
	CHECK(parse(s).result == HTTP_RESP_ERROR);
	return r.error;
}

#define OK_LENGTH "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

static void test_content_length(void)
{
	struct outcome o = parse(OK_LENGTH);
	CHECK(o.result == HTTP_RESP_DONE);
	CHECK_EQ_U(o.used, strlen(OK_LENGTH));
	CHECK_EQ_I(o.status, 200);
	CHECK(o.keep_alive);
	CHECK_EQ_U(o.body_len, 5);
	CHECK_EQ_U(o.head_len, strlen(OK_LENGTH) - 5);
}

static void test_pipelined_responses_end_where_they_end(void)
{
	struct outcome o = parse(OK_LENGTH "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	CHECK(o.result == HTTP_RESP_DONE);
	CHECK_EQ_U(o.used, strlen(OK_LENGTH));
	o = parse("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n" OK_LENGTH);
	CHECK_EQ_I(o.status, 404);
	CHECK_EQ_U(o.used, strlen("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
}

static void test_incomplete_wants_more(void)
{
	struct outcome o = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel");
	CHECK(o.result == HTTP_RESP_MORE);
	o = parse("HTTP/1.1 200 OK\r\nContent-Len");
	CHECK(o.result == HTTP_RESP_MORE);
	CHECK_EQ_I(o.status, 200);
}

static void test_chunked(void)
{
	const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                "5\r\nhello\r\n1A;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n"
	                "0\r\nX-Trailer: yes\r\n\r\n";
	struct outcome o = parse(s);
	CHECK(o.result == HTTP_RESP_DONE);
	CHECK_EQ_U(o.used, strlen(s));
	CHECK_EQ_U(o.body_len, 5 + 26);
	CHECK(o.keep_alive);
	o = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n0\r\n\r\nHTTP");
	CHECK(o.result == HTTP_RESP_DONE);
	CHECK_EQ_U(o.used, strlen("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n0\r\n\r\n"));
	/* chunked must be the final coding; otherwise the close ends the body */
	o = parse_ex("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nxyz", false, true);
	CHECK(o.result == HTTP_RESP_DONE);
	CHECK_EQ_U(o.body_len, 3);
	CHECK(!o.keep_alive);
}

static void test_keep_alive_by_version_and_connection(void)
{
	CHECK(!parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
	CHECK(parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
	CHECK(!parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keep_alive);
	CHECK(!parse("HTTP/1.1 200 OK\r\nConnection: upgrade,  CLOSE \r\nContent-Length: 0\r\n\r\n").keep_alive);
	CHECK(parse("HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n").keep_alive);
	CHECK(parse("HTTP/1.1 200 OK\r\nX-Connection: close\r\nContent-Length: 0\r\n\r\n").keep_alive);
}

static void test_body_until_close(void)
{
	const char *s = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of this";
	CHECK(parse(s).result == HTTP_RESP_MORE);
	struct outcome o = parse_ex(s, false, true);
	CHECK(o.result == HTTP_RESP_DONE);
	CHECK_EQ_U(o.body_len, strlen("all of this"));
	CHECK(!o.keep_alive);
}

static void test_eof_cuts_a_response(void)
{
	CHECK(parse_ex("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", false, true).result == HTTP_RESP_ERROR);
	CHECK(parse_ex("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", false, true).result
	      == HTTP_RESP_ERROR);
	CHECK(parse_ex("HTTP/1.1 200", false, true).result == HTTP_RESP_ERROR);

	struct http_resp r;
	size_t used;
	http_resp_init(&r, false);
	CHECK(http_resp_at_start(&r));
	http_resp_feed(&r, "H", 1, &used);
	CHECK(!http_resp_at_start(&r));
}

static void test_responses_without_body(void)
{
	struct outcome o = parse("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\nHTTP/1.1");
	CHECK(o.result == HTTP_RESP_DONE);
	CHECK_EQ_U(o.body_len, 0);
	CHECK_EQ_U(o.used, strlen("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"));
	o = parse("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n");
	CHECK(o.result == HTTP_RESP_DONE);
	o = parse_ex("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, false);
	CHECK(o.result == HTTP_RESP_DONE);
	CHECK_EQ_U(o.body_len, 0);
}

static void test_interim_responses_are_skipped(void)
{
	const char *s = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" OK_LENGTH;
	struct outcome o = parse(s);
	CHECK(o.result == HTTP_RESP_DONE);
	CHECK_EQ_I(o.status, 200);
	CHECK_EQ_U(o.used, strlen(s));
	CHECK_EQ_U(o.body_len, 5);
	CHECK_STR(error_of("HTTP/1.1 101 Switching Protocols\r\n\r\n"),
	          "101 Switching Protocols: the load generator does not upgrade");
}

static void test_status_line_variants(void)
{
	CHECK_EQ_I(parse("HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n").status, 503);
	CHECK_EQ_I(parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").status, 200);
	CHECK(parse("HTTP/1.1 200 \xe4\xb8\xad\tok\r\nContent-Length: 0\r\n\r\n").result == HTTP_RESP_DONE);
	CHECK_EQ_I(parse("HTTP/1.1 999 Whatever\r\nContent-Length: 0\r\n\r\n").status, 999);
}

static void test_content_length_rules(void)
{
	CHECK_EQ_U(parse("HTTP/1.1 200 OK\r\nContent-Length: \t 3 \r\n\r\nabc").body_len, 3);
	CHECK_EQ_U(parse("HTTP/1.1 200 OK\r\ncontent-length: 3\r\nCONTENT-LENGTH: 3\r\n\r\nabc").body_len, 3);
}

#define CHUNKED_HEAD "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

static void test_malformed_answers_and_why(void)
{
	static const struct { const char *response, *error; } cases[] = {
		{ "HTTP/2.0 200 OK\r\n", "unsupported HTTP version" },
		{ "HTTP/1.1  200 OK\r\n", "bad status code" },
		{ "HTTP/1.1 20 OK\r\n", "bad status code" },
		{ "HTTP/1.1 2000 OK\r\n", "bad status code" },
		{ "HTTP/1.1 099 OK\r\n", "bad status code" },
		{ "http/1.1 200 OK\r\n", "not an HTTP/1.x status line" },
		{ "HTTP/1.1 200 OK\n", "control character in the reason phrase" },
		{ "HTTP/1.1 200 OK\r\r", "CR not followed by LF" },
		{ "HTTP/1.12 200 OK\r\n", "no space after the HTTP version" },
		{ "HTTP/1.1 200 OK\r\nA: b\n\r\n", "control character in a header field" },
		{ "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", "obsolete line folding" },
		{ "HTTP/1.1 200 OK\r\nA : b\r\n\r\n", "bad header field name" },
		{ "HTTP/1.1 200 OK\r\n: b\r\n\r\n", "bad header field name" },
		{ "HTTP/1.1 200 OK\r\nA: \x01\r\n\r\n", "control character in a header field" },
		{ "HTTP/1.1 200 OK\r\nA: b\r\n\r\r", "CR not followed by LF" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
		  "conflicting Content-Length fields" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n", "Content-Length is not a number" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length is not a number" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", "Content-Length with a space inside" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", "empty Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		  "Content-Length too large" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		  "both Content-Length and Transfer-Encoding" },
		{ CHUNKED_HEAD "x\r\n", "bad chunk size" },
		{ CHUNKED_HEAD "\r\n", "bad chunk size" },
		{ CHUNKED_HEAD "5x\r\n", "bad chunk size" },
		{ CHUNKED_HEAD "3\r\nabcd\r\n", "chunk data longer than its size" },
		{ CHUNKED_HEAD "3\r\nabc\rx", "CR not followed by LF" },
		{ CHUNKED_HEAD "3\n", "bad chunk size" },
		{ CHUNKED_HEAD "fffffffffffffffffff\r\n", "chunk too large" },
		{ CHUNKED_HEAD "0\r\n: x\r\n\r\n", "bad trailer field" },
		{ CHUNKED_HEAD "1;a=\x01\r\n", "control character in a chunk extension" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_STR(error_of(cases[i].response), cases[i].error);
}

static void test_limits(void)
{
	static char big[HTTP_RESP_MAX_HEAD + 100];
	struct http_resp r;
	size_t used;

	/* a head that never ends */
	strcpy(big, "HTTP/1.1 200 OK\r\nX: ");
	memset(big + strlen(big), 'a', sizeof big - strlen(big) - 1);
	http_resp_init(&r, false);
	CHECK(http_resp_feed(&r, big, strlen(big), &used) == HTTP_RESP_ERROR);
	CHECK_STR(r.error, "response head too long");
	CHECK_EQ_U(used, HTTP_RESP_MAX_HEAD + 1);

	/* endless interim responses count towards the same limit */
	http_resp_init(&r, false);
	enum http_resp_result res = HTTP_RESP_MORE;
	for (int i = 0; i < 10000 && res == HTTP_RESP_MORE; i++)
		res = http_resp_feed(&r, "HTTP/1.1 100 Continue\r\n\r\n", 25, &used);
	CHECK(res == HTTP_RESP_ERROR);

	/* a chunk extension that never ends */
	memset(big, 0, sizeof big);
	strcpy(big, CHUNKED_HEAD "1;");
	memset(big + strlen(big), 'e', HTTP_RESP_MAX_CHUNK_LINE + 10);
	CHECK_STR(error_of(big), "chunk-size line too long");

	/* trailers that never end */
	memset(big, 0, sizeof big);
	strcpy(big, CHUNKED_HEAD "0\r\n");
	for (size_t n = strlen(big); n + 7 < sizeof big; n += 6)
		memcpy(big + n, "T: x\r\n", 6);
	CHECK_STR(error_of(big), "trailer fields too long");
}

static void test_body_bigger_than_a_read(void)
{
	/* The body is skipped in bulk: a 2^40-byte Content-Length takes no memory. */
	struct http_resp r;
	size_t used;
	static char chunk[65536];
	http_resp_init(&r, false);
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n";
	CHECK(http_resp_feed(&r, head, strlen(head), &used) == HTTP_RESP_MORE);
	for (int i = 0; i < 16; i++)
		CHECK(http_resp_feed(&r, chunk, sizeof chunk, &used) == HTTP_RESP_MORE && used == sizeof chunk);
	CHECK_EQ_U(r.body_len, 16 * sizeof chunk);
}

int main(void)
{
	RUN(test_content_length);
	RUN(test_pipelined_responses_end_where_they_end);
	RUN(test_incomplete_wants_more);
	RUN(test_chunked);
	RUN(test_keep_alive_by_version_and_connection);
	RUN(test_body_until_close);
	RUN(test_eof_cuts_a_response);
	RUN(test_responses_without_body);
	RUN(test_interim_responses_are_skipped);
	RUN(test_status_line_variants);
	RUN(test_content_length_rules);
	RUN(test_malformed_answers_and_why);
	RUN(test_limits);
	RUN(test_body_bigger_than_a_read);
	return check_summary();
}
