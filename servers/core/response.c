/*
 * response.c: response heads assembled from literals and integers, without printf, because
 * at a hundred thousand requests a second the formatting is a measurable share of the work.
 */
#include "response.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http_parser.h"

void response_attach(struct response *r, char *buf, size_t cap)
{
	*r = (struct response){ .buf = buf, .cap = cap };
}

void response_detach(struct response *r)
{
	*r = (struct response){ 0 };
}

size_t response_pending(const struct response *r)
{
	return r->tail - r->head;
}

size_t response_room(const struct response *r)
{
	return r->cap - r->tail;
}

const char *response_data(const struct response *r)
{
	return r->buf + r->head;
}

void response_sent(struct response *r, size_t n)
{
	r->head += n;
	if (r->head == r->tail)
		r->head = r->tail = 0;
}

void response_put(struct response *r, const void *data, size_t n)
{
	memcpy(r->buf + r->tail, data, n);
	r->tail += n;
}

static void put_str(struct response *r, const char *s)
{
	response_put(r, s, strlen(s));
}

static void put_u64(struct response *r, uint64_t v)
{
	char digits[20];
	size_t i = sizeof digits;
	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	response_put(r, digits + i, sizeof digits - i);
}

/* Writes `sep` then v as two digits; returns the end. */
static char *put_2digits(char *p, const char *sep, int v)
{
	size_t n = strlen(sep);
	memcpy(p, sep, n);
	p[n] = (char)('0' + v / 10 % 10);
	p[n + 1] = (char)('0' + v % 10);
	return p + n + 2;
}

size_t http_date(char dst[30])
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	/* Per thread, so that no lock is taken; filled and copied within this call, so a green
	 * thread that later runs on another OS thread never holds a pointer into it. */
	static __thread time_t cached_second = -1;
	static __thread char cached[30];

	struct timespec now;
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	if (now.tv_sec != cached_second) {
		struct tm tm;
		gmtime_r(&now.tv_sec, &tm);
		char *p = cached;
		memcpy(p, days[tm.tm_wday], 3);
		p = put_2digits(p + 3, ", ", tm.tm_mday);
		memcpy(p, " ", 1);
		memcpy(p + 1, months[tm.tm_mon], 3);
		p = put_2digits(p + 4, " ", (tm.tm_year + 1900) / 100);
		p = put_2digits(p, "", (tm.tm_year + 1900) % 100);
		p = put_2digits(p, " ", tm.tm_hour);
		p = put_2digits(p, ":", tm.tm_min);
		p = put_2digits(p, ":", tm.tm_sec);
		memcpy(p, " GMT", 5);
		cached_second = now.tv_sec;
	}
	memcpy(dst, cached, 30);
	return 29;
}

void response_head(struct response *r, int status, const char *type, uint64_t content_length,
                   const char *connection, const char *allow)
{
	char date[30];
	put_str(r, "HTTP/1.1 ");
	put_u64(r, (uint64_t)status);
	put_str(r, " ");
	put_str(r, http_reason(status));
	put_str(r, "\r\nServer: c10k-lab\r\nDate: ");
	response_put(r, date, http_date(date));
	if (type) {
		put_str(r, "\r\nContent-Type: ");
		put_str(r, type);
	}
	if (content_length == RESPONSE_CHUNKED) {
		put_str(r, "\r\nTransfer-Encoding: chunked");
	} else {
		put_str(r, "\r\nContent-Length: ");
		put_u64(r, content_length);
	}
	if (connection) {
		put_str(r, "\r\nConnection: ");
		put_str(r, connection);
	}
	if (allow) {
		put_str(r, "\r\nAllow: ");
		put_str(r, allow);
	}
	put_str(r, "\r\n\r\n");
}

void response_continue(struct response *r)
{
	put_str(r, "HTTP/1.1 100 Continue\r\n\r\n");
}

void response_chunk(struct response *r, const char *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char size[16];
	size_t i = sizeof size;
	size_t v = n;
	do {
		size[--i] = hex[v & 15];
		v >>= 4;
	} while (v);
	response_put(r, size + i, sizeof size - i);
	put_str(r, "\r\n");
	if (n) {
		response_put(r, data, n);
		put_str(r, "\r\n");
	} else {
		put_str(r, "\r\n");   /* the last chunk, and no trailers */
	}
}

/* 63 visible characters and a newline: any byte of the body can be checked from its offset. */
static const char PATTERN[65] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-\n";

void response_pattern(struct response *r, uint64_t offset, size_t n)
{
	while (n) {
		size_t at = (size_t)(offset % 64);
		size_t k = 64 - at < n ? 64 - at : n;
		response_put(r, PATTERN + at, k);
		offset += k;
		n -= k;
	}
}

size_t response_error_body(char *dst, size_t cap, int status, const char *why)
{
	int n = why ? snprintf(dst, cap, "%d %s: %s\n", status, http_reason(status), why)
	            : snprintf(dst, cap, "%d %s\n", status, http_reason(status));
	return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}
