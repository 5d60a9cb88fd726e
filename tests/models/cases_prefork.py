"""prefork: --workers processes forked before any connection, each serving one connection at
a time; the connections beyond them wait in the listen backlog; a process that dies is
replaced; SIGTERM leaves none."""
import os
import signal
import time

from check import Fail, expect, expect_eq
from fixture import BOUND, LimitedUser, still_alive
from model_case import model_case
from rawhttp import Conn, request

JSON = b'{"message":"Hello, World!"}'


def workers(srv):
    """The server's processes below it, as (pid, start time) pairs."""
    return srv.descendants()


def wait_for(what, cond):
    """Polls cond() until it is true or the bound passes; raises Fail then."""
    deadline = time.monotonic() + BOUND["io"]
    while not cond():
        if time.monotonic() > deadline:
            raise Fail(f"{what}: not within {BOUND['io']:.0f} s")
        time.sleep(0.02)


def served(c, what):
    c.send(request("GET", "/json"))
    r = c.read_response()
    expect(r.status == 200 and r.body == JSON, f"{what}: got {r.status} {r.body[:40]!r}")


def stops_leaving_none(ctx, srv, procs):
    """SIGTERM: exit code 0 within the bound, and none of procs left: the parent reaps its
    processes before it exits, so not even for a moment."""
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    rc = srv.wait_exit(BOUND["exit"])
    expect(rc is not None, f"still running {BOUND['exit']:.0f} s after SIGTERM")
    ctx.note(f"exited {time.monotonic() - t0:.2f} s after SIGTERM")
    expect_eq(rc, 0, "exit code after SIGTERM")
    left = still_alive(procs)
    expect(not left, f"{len(left)} of the {len(procs)} processes still ran after the server "
                     f"exited")


@model_case("prefork", "processes-before-any-connection")
def processes_before_any_connection(ctx):
    # Right after the start-up line, before any connection: the parent and its 8 processes.
    srv = ctx.server("--workers", "8")
    procs = workers(srv)
    expect_eq(len(procs) + 1, 9, "processes right after the start-up line, with --workers 8")
    ctx.note(f"{len(procs) + 1} processes after the start-up line")
    stops_leaving_none(ctx, srv, procs)


@model_case("prefork", "sigterm-while-serving")
def sigterm_while_serving(ctx):
    # Processes blocked in a /block, a /sleep, a read from a silent client and accept(): all go.
    srv = ctx.server("--workers", "6")
    procs = workers(srv)
    conns = [Conn.to(srv) for _ in range(4)]
    try:
        conns[0].send(request("GET", "/block?ms=30000"))
        conns[1].send(request("GET", "/sleep?ms=30000"))
        served(conns[2], "a keep-alive connection's first request")
        time.sleep(0.2)   # let them reach their waits; if they have not, the stop must work anyway
        stops_leaving_none(ctx, srv, procs)
    finally:
        for c in conns:
            c.close()


@model_case("prefork", "beyond-workers-wait-in-backlog")
def beyond_workers_wait(ctx):
    # Two processes, both held by keep-alive clients: a third connection is neither served nor
    # refused; it is served as soon as one of the two closes.
    srv = ctx.server("--workers", "2")
    held = [Conn.to(srv), Conn.to(srv)]
    try:
        for i, c in enumerate(held):
            served(c, f"held connection {i + 1}")
        with Conn.to(srv) as third:
            third.send(request("GET", "/json"))
            time.sleep(0.5)   # a process free to take it would answer within this many times over
            expect(third.nothing_pending(), "expected the third connection to wait while both "
                                            "processes were held; it got an answer or a close")
            held[0].close()
            served_after = time.monotonic()
            r = third.read_response()
            ctx.note(f"the third was answered {time.monotonic() - served_after:.2f} s after "
                     f"a process was freed")
            expect(r.status == 200 and r.body == JSON,
                   f"the third connection, once a process was free: got {r.status} {r.body[:40]!r}")
        served(held[1], "the other held connection, still served")
        expect(not srv.stderr_lines, f"expected nothing on stderr (no refusal), got "
                                     f"{srv.stderr_lines[:1]}")
    finally:
        for c in held:
            c.close()


@model_case("prefork", "idle-timeout-frees-a-process")
def idle_timeout_frees(ctx):
    # The only process is held by a client that says nothing: the idle time-out frees it for
    # the next connection.
    srv = ctx.server("--workers", "1", "--idle-timeout", "1")
    with Conn.to(srv) as silent:
        time.sleep(0.1)   # let the process take it first (if not, the other is served first: fine)
        with Conn.to(srv) as c:
            served(c, "a second connection while the only process was held by a silent one")
        problem = silent.closed_by_peer()
        expect(problem is None, f"the silent connection: {problem}")


@model_case("prefork", "a-dead-process-is-replaced")
def dead_replaced(ctx):
    # Three processes, --max-conns 2: one connection held, then every process killed (the one
    # serving it too). New processes take their places, and the count of connections served
    # comes back: two are served again, and a third is refused.
    srv = ctx.server("--workers", "3", "--max-conns", "2")
    before = workers(srv)
    with Conn.to(srv) as held:
        served(held, "the held connection")
        for pid, _ in before:
            os.kill(pid, signal.SIGKILL)
        # Three running and none of them old: every slot refilled, so the parent has reaped
        # all three (a zombie is listed below it until then, its connection still counted).
        wait_for("3 new processes after all 3 were killed",
                 lambda: len(still_alive(workers(srv))) == 3 and not still_alive(before))
        problem = held.closed_by_peer()
        expect(problem is None, f"the connection whose process was killed: {problem}")
    ctx.note(f"pids before {[p for p, _ in before]}, after {[p for p, _ in workers(srv)]}")
    a, b = Conn.to(srv), Conn.to(srv)
    try:
        served(a, "connection 1 of 2 after the processes were replaced")
        served(b, "connection 2 of 2 after the processes were replaced (a killed process's "
                  "connection must not count any more)")
        with Conn.to(srv) as third:
            third.send(request("GET", "/json"))
            r = third.read_response()
            expect(r.status == 503 and r.closes(),
                   f"connection 3 with --max-conns 2: expected 503 and a close, got {r.status}")
    finally:
        a.close()
        b.close()


@model_case("prefork", "starts-under-a-process-limit")
def under_process_limit(ctx):
    # Allowed 3 processes more than the parent, with --workers 8: it starts with what it can
    # fork, says so in one line, serves, and still stops cleanly.
    limited = LimitedUser(ctx.binary, spare=3)
    srv = ctx.server("--workers", "8", limited=limited)
    n = len(workers(srv))
    ctx.note(f"{n} processes forked of 8; stderr: {srv.stderr_lines[:1]}")
    expect(0 < n < 8, f"expected between 1 and 7 processes under the limit, found {n}")
    wait_for("a line on stderr about the processes it could not fork", lambda: srv.stderr_lines)
    expect(len(srv.stderr_lines) == 1 and "8" in srv.stderr_lines[0],
           f"expected one line naming the 8 processes asked for, got {srv.stderr_lines[:2]}")
    with Conn.to(srv) as c:
        served(c, "a request under the limit")
    srv.signal(signal.SIGTERM)
    expect_eq(srv.wait_exit(BOUND["exit"]), 0, "exit code after SIGTERM")


@model_case("prefork", "help-says-where-the-rest-wait", proto=None)
def help_text(ctx):
    import tools
    rc, out, err = tools.run([ctx.binary, "--help"], BOUND["start"])
    expect_eq(rc, 0, "--help exit code")
    expect("backlog" in out, "--help: expected it to say that connections beyond --workers wait "
                             "in the listen backlog")
    expect("default 256" in out, "--help: expected --workers' default, 256")
