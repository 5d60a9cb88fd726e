/*
 * http_parser.c: request heads, strictly per RFC 9112, as pure functions.
 *
 * Strict on purpose: a line must end in CRLF, a field name must be a token followed at once
 * by ':', and framing headers must agree. Leniency in these places is how request smuggling
 * happens, and a benchmark server has no old clients to be kind to.
 */
#include "http_parser.h"

#include <string.h>
#include <strings.h>

/* tchar from RFC 9110: the characters of a method or a field name. */
static const unsigned char is_tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
	['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
	['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
	['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
	['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
	['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* Leading empty lines before a request line are ignored (RFC 9112 §2.2), but only a few:
 * an endless stream of them is not a request. */
enum { MAX_LEADING_CRLF = 4, REQUEST_LINE_SLACK = 64 };

static size_t skip_leading_crlf(const char *buf, size_t len)
{
	size_t i = 0;
	while (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n' && i < 2 * MAX_LEADING_CRLF)
		i += 2;
	return i;
}

/* The target's length in a complete request line "METHOD SP target SP version". */
static size_t target_len_of(const char *line, size_t len)
{
	const char *first = memchr(line, ' ', len);
	const char *last = memrchr(line, ' ', len);
	return first && last > first ? (size_t)(last - first - 1) : 0;
}

/* A request line longer than this (its CRLF aside) is refused before its end arrives: 414
 * when it began with a method and a space, 400 otherwise. */
static long request_line_too_long(const char *line)
{
	return memchr(line, ' ', REQUEST_LINE_SLACK) ? -414 : -400;
}

/*
 * The verdict is a function of the bytes, never of how they arrived: a limit that the buffer
 * can pass before the line's LF arrives is checked before anything the LF would reveal (its
 * CR), so that a head sent whole and the same head sent a byte at a time get the same answer.
 */
long http_head_scan(const char *buf, size_t len, struct http_scan *scan)
{
	enum { MAX_REQUEST_LINE = HTTP_MAX_TARGET + REQUEST_LINE_SLACK };
	size_t start = skip_leading_crlf(buf, len);
	size_t line = scan->line > start ? scan->line : start;
	size_t from = scan->searched > line ? scan->searched : line;

	/* Invariant: buf[start, line) is whole CRLF-ended lines, the request line first, and no
	 * empty line among them, so the head is not complete yet; buf[line, from) holds no LF. */
	for (;;) {
		const char *lf = memchr(buf + from, '\n', len - from);
		if (!lf)
			break;
		size_t lf_at = (size_t)(lf - buf);
		if (line == start && lf_at - start > MAX_REQUEST_LINE)
			return request_line_too_long(buf + start);
		if (line > start && lf_at - start > HTTP_MAX_HEAD)
			return -431;
		if (lf_at == 0 || buf[lf_at - 1] != '\r')
			return -400;
		if (line == start && target_len_of(buf + line, lf_at - 1 - line) > HTTP_MAX_TARGET)
			return -414;
		bool empty_line = lf_at - 1 == line;
		line = from = lf_at + 1;
		if (line - start > HTTP_MAX_HEAD)
			return -431;
		if (empty_line) {
			if (line - 2 == start)   /* an empty request line: more than we skip */
				return -400;
			*scan = (struct http_scan){ 0 };
			return (long)line;
		}
	}
	scan->line = line;
	scan->searched = len;
	if (line == start && len - start > MAX_REQUEST_LINE)
		return request_line_too_long(buf + start);
	if (line > start && len - start > HTTP_MAX_HEAD)
		return -431;
	return 0;
}

/* ASCII case-insensitive equality of s[0, n) and a lower-case literal. */
static bool eq_nocase(const char *s, size_t n, const char *lower)
{
	size_t i = 0;
	for (; i < n && lower[i]; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lower[i])
			return false;
	}
	return i == n && lower[i] == '\0';
}

static enum http_method method_of(const char *m, size_t n)
{
	static const struct { const char *name; enum http_method id; } methods[] = {
		{"GET", HTTP_GET}, {"HEAD", HTTP_HEAD}, {"POST", HTTP_POST}, {"PUT", HTTP_PUT},
		{"DELETE", HTTP_DELETE}, {"CONNECT", HTTP_CONNECT}, {"OPTIONS", HTTP_OPTIONS},
		{"TRACE", HTTP_TRACE}, {"PATCH", HTTP_PATCH},
	};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strlen(methods[i].name) == n && memcmp(methods[i].name, m, n) == 0)
			return methods[i].id;
	return HTTP_UNKNOWN;   /* method names are case-sensitive: "get" is unknown */
}

/* Visible ASCII only: no space, no control character, no byte above 0x7e. */
static bool is_target_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* field-value characters: visible, obs-text, space and tab; never CR, LF, NUL or DEL. */
static bool is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The characters of a host and port, as in a Host header or an authority (RFC 3986): a
 * reg-name or an IP literal, then ":port". No '/', '@' (userinfo), space or control. */
static bool is_host_char(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || (c && strchr("-._~%!$&'()*+,;=:[]", c));
}

static bool is_host(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_host_char((unsigned char)s[i]))
			return false;
	return true;
}

/* authority-form, CONNECT's "host:port": a host, a colon, and a port of digits. */
static bool is_authority_form(const char *t, size_t n)
{
	const char *colon = memrchr(t, ':', n);
	uint64_t port;
	return colon && colon > t && is_host(t, n) &&
	       http_parse_digits(colon + 1, (size_t)(t + n - colon - 1), &port);
}

/* absolute-form: "scheme://authority", then the path, if any. Returns the length of the part
 * before the path, or 0 when t is not in absolute form. */
static size_t absolute_prefix(const char *t, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_alpha((unsigned char)t[0]))
		return 0;
	while (i < n && (is_alpha((unsigned char)t[i]) || (t[i] >= '0' && t[i] <= '9') ||
	                 t[i] == '+' || t[i] == '-' || t[i] == '.'))
		i++;
	if (n - i < 4 || memcmp(t + i, "://", 3) != 0)
		return 0;
	size_t host = i + 3, end = host;
	while (end < n && t[end] != '/' && t[end] != '?')
		end++;
	return end > host && is_host(t + host, end - host) ? end : 0;
}

/* The four forms a request-target may take (RFC 9112 §3.2); anything else is a 400, as
 * "GET foo" is. CONNECT takes only the authority form, and only OPTIONS may ask for "*". */
static bool target_form_ok(const struct http_request *r)
{
	const char *t = r->target;
	size_t n = r->target_len;
	if (r->method_id == HTTP_CONNECT)
		return is_authority_form(t, n);
	if (n == 1 && t[0] == '*')
		return r->method_id == HTTP_OPTIONS;
	return t[0] == '/' || absolute_prefix(t, n) > 0;
}

/* Splits the target into path and query; an absolute-form target ("http://host/p") is
 * reduced to its path, which servers must accept (RFC 9112 §3.2.2). The authority and
 * asterisk forms are their own path, which no route has. */
static void split_target(struct http_request *r)
{
	const char *t = r->target;
	size_t n = r->target_len;
	size_t prefix = r->method_id == HTTP_CONNECT ? 0 : absolute_prefix(t, n);
	if (prefix && (prefix == n || t[prefix] == '?')) {
		t = "/";   /* no path: the root */
		n = 1;
	} else {
		t += prefix;
		n -= prefix;
	}
	const char *q = memchr(t, '?', n);
	r->path = t;
	r->path_len = q ? (size_t)(q - t) : n;
	r->query = q ? q + 1 : NULL;
	r->query_len = q ? n - r->path_len - 1 : 0;
}

/* Parses "METHOD SP target SP HTTP/x.y CRLF" at *p. Returns 0 or a status. */
static int parse_request_line(const char **p, const char *end, struct http_request *r)
{
	const char *s = *p;
	const char *m = s;
	while (s < end && is_tchar[(unsigned char)*s])
		s++;
	if (s == m || s >= end || *s != ' ')
		return 400;
	r->method = m;
	r->method_len = (size_t)(s - m);
	r->method_id = method_of(m, r->method_len);

	const char *t = ++s;
	while (s < end && is_target_char((unsigned char)*s))
		s++;
	if (s == t || s >= end || *s != ' ')
		return 400;
	r->target = t;
	r->target_len = (size_t)(s - t);
	if (r->target_len > HTTP_MAX_TARGET)
		return 414;
	if (!target_form_ok(r))
		return 400;

	s++;
	if (end - s < 10 || memcmp(s, "HTTP/", 5) != 0)
		return 400;
	char major = s[5], dot = s[6], minor = s[7];
	if (major < '0' || major > '9' || dot != '.' || minor < '0' || minor > '9' ||
	    s[8] != '\r' || s[9] != '\n')
		return 400;
	if (major != '1' || minor > '1')
		return 505;
	r->minor_version = minor - '0';
	*p = s + 10;
	return 0;
}

/* Content-Length is 1*DIGIT, as are the routes' parameters. A value too large for 64 bits
 * saturates, so that it is answered as too large (413) rather than as malformed. */
bool http_parse_digits(const char *v, size_t n, uint64_t *out)
{
	if (n == 0)
		return false;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		unsigned d = (unsigned)(v[i] - '0');
		x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
	}
	*out = x;
	return true;
}

/* Walks the comma-separated tokens of a Connection header. */
static void read_connection_tokens(const char *v, size_t n, bool *close, bool *keep)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t b = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i;
		while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (eq_nocase(v + b, e - b, "close"))
			*close = true;
		else if (eq_nocase(v + b, e - b, "keep-alive"))
			*keep = true;
	}
}

/* Parses "name: value CRLF" at *p. Returns 0 or a status. */
static int parse_header(const char **p, const char *end, struct http_header *h)
{
	const char *s = *p;
	const char *name = s;
	while (s < end && is_tchar[(unsigned char)*s])
		s++;
	if (s == name || s >= end || *s != ':')   /* also rejects obs-fold and "name :" */
		return 400;
	h->name = name;
	h->name_len = (size_t)(s - name);
	s++;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	const char *value = s;
	while (s < end && is_value_char((unsigned char)*s))
		s++;
	if (end - s < 2 || s[0] != '\r' || s[1] != '\n')
		return 400;
	const char *value_end = s;
	while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
		value_end--;
	h->value = value;
	h->value_len = (size_t)(value_end - value);
	*p = s + 2;
	return 0;
}

/* Reads what the server needs from one header. Returns 0 or a status. */
static int interpret_header(const struct http_header *h, struct http_request *r,
                            bool *conn_close, bool *conn_keep, bool *has_te)
{
	if (eq_nocase(h->name, h->name_len, "host")) {
		/* One Host, a host and port and nothing else (RFC 9112 §3.2): two could name two
		 * servers, and which one a proxy believed is unknowable. Empty is allowed. */
		if (r->has_host || !is_host(h->value, h->value_len))
			return 400;
		r->has_host = true;
	} else if (eq_nocase(h->name, h->name_len, "content-length")) {
		if (r->has_content_length)   /* duplicates are how smuggling starts: refuse */
			return 400;
		if (!http_parse_digits(h->value, h->value_len, &r->content_length))
			return 400;
		r->has_content_length = true;
	} else if (eq_nocase(h->name, h->name_len, "transfer-encoding")) {
		if (*has_te)
			return 400;
		*has_te = true;
		if (!eq_nocase(h->value, h->value_len, "chunked"))
			return 501;   /* a transfer coding this server does not implement */
		r->chunked = true;
	} else if (eq_nocase(h->name, h->name_len, "connection")) {
		read_connection_tokens(h->value, h->value_len, conn_close, conn_keep);
	} else if (eq_nocase(h->name, h->name_len, "expect")) {
		r->expect_continue = eq_nocase(h->value, h->value_len, "100-continue");
	}
	return 0;
}

int http_parse_head(const char *buf, size_t len, struct http_request *r)
{
	const char *p = buf + skip_leading_crlf(buf, len);
	const char *end = buf + len;
	r->num_headers = 0;
	r->has_content_length = false;
	r->content_length = 0;
	r->chunked = false;
	r->expect_continue = false;
	r->has_host = false;

	int status = parse_request_line(&p, end, r);
	if (status)
		return status;

	bool conn_close = false, conn_keep = false, has_te = false;
	while (!(end - p >= 2 && p[0] == '\r' && p[1] == '\n')) {
		if (r->num_headers == HTTP_MAX_HEADERS)
			return 431;
		struct http_header *h = &r->headers[r->num_headers];
		status = parse_header(&p, end, h);
		if (status)
			return status;
		r->num_headers++;
		status = interpret_header(h, r, &conn_close, &conn_keep, &has_te);
		if (status)
			return status;
	}
	if (r->method_id == HTTP_UNKNOWN)
		return 501;
	if (r->minor_version == 1 && !r->has_host)
		return 400;   /* an HTTP/1.1 client MUST send Host (RFC 9112 §3.2); 1.0 may not */
	if (r->has_content_length && has_te)
		return 400;   /* two framings: which one a proxy believed is unknowable */
	if (has_te && r->minor_version == 0)
		return 400;   /* HTTP/1.0 has no chunked coding */
	r->keep_alive = r->minor_version == 1 ? !conn_close : conn_keep && !conn_close;
	if (r->minor_version == 0)
		r->expect_continue = false;   /* an HTTP/1.0 client knows no 1xx (RFC 9110 §10.1.1) */
	split_target(r);
	return 0;
}

const struct http_header *http_find_header(const struct http_request *r, const char *name)
{
	/* Not eq_nocase(): `name` is the caller's, in any case ("Host"), not a lower-case literal. */
	size_t len = strlen(name);
	for (size_t i = 0; i < r->num_headers; i++)
		if (r->headers[i].name_len == len && strncasecmp(r->headers[i].name, name, len) == 0)
			return &r->headers[i];
	return NULL;
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
