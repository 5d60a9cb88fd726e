"""echo: --proto echo sends back every byte, in order, unframed, and holds the same limits
as HTTP: back-pressure, --max-conns, the idle time-out, clean stops."""
import os
import signal

from cases_lifecycle import stops_cleanly
from cases_limits import BUSY_IDLE_S, closed_after_idle, keep_busy, max_conns_scenario, Paced, run_paced, \
    stuck_writer_scenario, write_until_stuck
from check import case, expect, expect_eq, Fail
from fixture import BOUND
from many import close_all, exchange, open_many
from rawhttp import Conn, Sender, connections, describe_mismatch, describe_sent, reset

MIB = 1 << 20


def echo_back(c, data, pieces=1 << 16, then_shutdown=False):
    """Sends data on c while reading it back; returns what came back (len(data) bytes, or
    everything until EOF when then_shutdown)."""
    c.sent = describe_sent(data)
    sender = Sender(c.sock, data, pieces=pieces, then_shutdown=then_shutdown)
    while len(c.buf) < len(data):
        c.fill("all of it back")
    sender.finish(BOUND["io"])
    return bytes(c.buf)


@case("echo", "echo-sizes", proto="echo")
def echo_sizes(ctx):
    srv = ctx.server()
    for n in (1, 100, 16383, 16385, MIB, 8 * MIB):
        data = os.urandom(n)
        with Conn.to(srv) as c:
            got = echo_back(c, data)
            problem = describe_mismatch(got, data, f"echo of {n} random bytes")
            expect(problem is None, problem)


@case("echo", "echo-many-small-writes", proto="echo")
def echo_many_small_writes(ctx):
    data = os.urandom(60000)
    with Conn.to(ctx.server()) as c:
        got = echo_back(c, data, pieces=[1, 5, 40, 3, 17, 2])
        problem = describe_mismatch(got, data, "echo of 60000 bytes in small writes")
        expect(problem is None, problem)


@case("echo", "echo-is-not-http", proto="echo")
def echo_is_not_http(ctx):
    data = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 99\r\n\r\n\x00"
    with Conn.to(ctx.server()) as c:
        expect_eq(echo_back(c, data), data, "HTTP sent to the echo server: echoed as bytes")


@case("echo", "echo-concurrent", proto="echo")
def echo_concurrent(ctx):
    srv = ctx.server()
    socks = open_many(srv, 100)
    try:
        datas = [os.urandom(100000) for _ in socks]
        outs = exchange(socks, datas, lambda got: len(got) >= 100000)
        for i, (o, d) in enumerate(zip(outs, datas)):
            problem = describe_mismatch(bytes(o.data), d, f"sent 100000 random bytes on each of "
                                                          f"100 connections; connection "
                                                          f"{i + 1}'s echo")
            expect(problem is None, problem)
    finally:
        close_all(socks)


@case("echo", "echo-1000-connections", proto="echo", heavy=True)
def echo_1000_connections(ctx):
    srv = ctx.server(holds=1000)
    socks = open_many(srv, 1000)
    try:
        datas = [f"connection {i} hello\n".encode() for i in range(1000)]
        outs = exchange(socks, datas, lambda got: got.endswith(b"\n"))
        wrong = [i for i, (o, d) in enumerate(zip(outs, datas)) if bytes(o.data) != d]
        expect(not wrong, f"1000 connections at once: {len(wrong)} got a wrong echo; the first, "
                          f"connection {wrong[0] + 1 if wrong else 0}, got "
                          f"{bytes(outs[wrong[0]].data[:40]) if wrong else b''!r}")
    finally:
        close_all(socks)


@case("echo", "echo-half-close", proto="echo")
def echo_half_close(ctx):
    # shutdown(SHUT_WR): the rest of the bytes come back, then the server's EOF.
    srv = ctx.server()
    for n in (5, 3 * MIB):
        data = os.urandom(n)
        with Conn.to(srv) as c:
            sender = Sender(c.sock, data, then_shutdown=True)
            while not c.eof:
                try:
                    c.fill("the rest of the echo, then the end of the connection")
                except Fail:
                    if not c.eof:
                        raise Fail(f"{n} bytes then shutdown(SHUT_WR): expected them back, "
                                   f"then EOF; got {len(c.buf)} bytes and no EOF within the bound")
            sender.finish(BOUND["io"])
            problem = describe_mismatch(bytes(c.buf), data, f"{n} bytes then shutdown(SHUT_WR)")
            expect(problem is None, problem)


@case("echo", "echo-no-read-back-pressure", proto="echo")
def echo_no_read_back_pressure(ctx):
    stuck_writer_scenario(ctx, ctx.server(), bytes(64 * MIB),
                          "a client writing 64 MiB, reading nothing")


@case("echo", "echo-max-conns", proto="echo")
def echo_max_conns(ctx):
    max_conns_scenario(ctx, "echo")


def busy_echo(srv, paced):
    """A client writing every 0.2 s for 3 s is never cut by the 2 s idle time-out; a silent
    one is."""
    with Conn.to(srv) as silent, Conn.to(srv) as busy:
        def tick(i):
            busy.send(b"tick")
            while len(busy.buf) < 4:
                busy.fill("the echo")
            expect_eq(bytes(busy.buf), b"tick", "echo")
            busy.buf.clear()
        paced.append(Paced("an echo client writing every 0.2 s", tick, 15))
        run_paced(paced)
        closed_after_idle(silent, "a silent echo connection", idle_s=BUSY_IDLE_S)


@case("echo", "echo-idle-timeout", proto="echo")
def echo_idle_timeout(ctx):
    keep_busy(ctx, busy_echo)


@case("echo", "echo-client-resets", proto="echo")
def echo_client_resets(ctx):
    srv = ctx.server()
    for i in range(10):
        s = srv.connect()
        s.sendall(os.urandom(200000 if i % 2 else 10))
        if i % 3 == 0:
            s.recv(1000)
        reset(s)
    s = srv.connect()
    reset(s)


@case("echo", "echo-sigterm-with-connections", proto="echo")
def echo_sigterm_with_connections(ctx):
    srv = ctx.server()
    with connections(srv, 5), Conn(srv.connect(small_buffers=True)) as hog:
        write_until_stuck(hog.sock, bytes(16 * MIB), stall=0.2)   # the server is stuck writing
        stops_cleanly(ctx, srv, signal.SIGTERM, "5 silent echo connections and one not "
                      "reading its echo")
