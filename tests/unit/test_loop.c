/*
 * test_loop.c: the event loops' shared core (servers/core/loop.h) gives a busy connection one
 * turn at a time. An echo client has sent far more than one turn's transfers can move: after
 * the readiness and one pass over the deadlines, the connection must still wait for its next
 * turn (the others' readiness is looked at in between), and the rest must come back whole in
 * the turns after.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "../check.h"
#include "loop.h"

enum { SENT = 512 * 1024, BUF = 4 << 20 };
/* What the readiness and one pass may move at most: 16 transfers each (loop.c's
 * TRANSFERS_PER_TURN), half of them reads of a buffer. */
enum { TWO_TURNS = 2 * 8 * BUFPOOL_BUF_SIZE };

static void set_buffers(int fd)
{
	int size = BUF;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

/* Reads what has come back so far, without waiting; checks it is the bytes sent. */
static size_t drain(int fd, size_t got)
{
	char buf[65536];
	ssize_t n;
	while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if ((unsigned char)buf[i] != (unsigned char)((got + (size_t)i) % 251)) {
				CHECK_FAIL("byte %zu came back changed", got + (size_t)i);
				return SENT;
			}
		got += (size_t)n;
	}
	return got;
}

static void test_one_turn_at_a_time(void)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	set_buffers(lfd);   /* the accepted socket inherits them */
	CHECK(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 4) == 0 &&
	      getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
	int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	set_buffers(cfd);
	if (!CHECK(connect(cfd, (struct sockaddr *)&a, sizeof a) == 0))
		return;

	struct server srv = { .opts = { .proto = PROTO_ECHO, .max_conns = 4 },
	                      .listen_fd = lfd, .stop_fd = -1, .spare_fd = -1 };
	static const struct loop_backend none = { 0 };   /* no kernel set: the test is the wait */
	struct loop l;
	loop_init(&l, &srv, &none, NULL);
	loop_accept(&l);
	struct conn *c = NULL;
	for (size_t fd = 0; fd < l.conns.cap && !c; fd++)
		c = l.conns.slots[fd];
	if (!CHECK(c != NULL))
		return;

	static char out[SENT];
	for (size_t i = 0; i < SENT; i++)
		out[i] = (char)(i % 251);
	size_t sent = 0;
	ssize_t n;
	while (sent < SENT && (n = send(cfd, out + sent, SENT - sent, MSG_DONTWAIT)) > 0)
		sent += (size_t)n;
	CHECK_EQ_U(sent, SENT);   /* the buffers hold it all: nothing waits for the client */

	loop_woke(&l);
	conn_ready(&l, c, CAN_READ);
	loop_expire(&l);
	size_t got = drain(cfd, 0);
	check_case("after the readiness and one pass over the deadlines");
	CHECK_EQ(c->waiting, FOR_TURN);
	CHECK(got <= TWO_TURNS);

	/* The turns after: the rest comes back whole. */
	for (int turn = 0; turn < 10000 && got < SENT; turn++) {
		loop_woke(&l);
		conn_ready(&l, c, CAN_READ | CAN_WRITE);
		loop_expire(&l);
		got = drain(cfd, got);
	}
	check_case("in the turns after");
	CHECK_EQ_U(got, SENT);

	loop_free(&l);
	close(cfd);
	close(lfd);
}

int main(void)
{
	RUN(test_one_turn_at_a_time);
	return check_report();
}
