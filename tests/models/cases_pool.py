"""pool: one epoll loop hands ready connections to --workers threads through a bounded queue.
/block holds one worker and nobody else; /sleep holds none (it goes back to the loop as a
timer); with every worker busy and the queue full, the loop takes no more work."""
import threading
import time

from check import Fail, expect, expect_eq
from fixture import BOUND
from many import classify_http, close_all, exchange, http_complete, open_many, tally
from model_case import model_case
from rawhttp import Conn, request

HELLO = b"Hello, World!"


class Background:
    """One request on its own connection, answered on a thread of ours; `done` is set when
    the answer has come."""

    def __init__(self, srv, target):
        self.conn = Conn.to(srv)
        self.conn.send(request("GET", target))
        self.done = threading.Event()
        self.resp = None
        self.error = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            self.resp = self.conn.read_response()
        except (Fail, OSError) as e:
            self.error = str(e)
        self.done.set()

    def result(self, what):
        self.thread.join(BOUND["io"] * 2)
        expect(self.done.is_set() and self.error is None,
               f"{what}: {self.error or 'no answer within the bound'}")
        return self.resp

    def close(self):
        self.conn.close()


def quick(c):
    """One /plaintext on an open connection: its latency in seconds."""
    t0 = time.monotonic()
    c.send(request("GET", "/plaintext"))
    r = c.read_response()
    expect(r.status == 200 and r.body == HELLO, f"/plaintext: got {r.status} {r.body[:30]!r}")
    return time.monotonic() - t0


@model_case("pool", "block-holds-one-worker")
def block_holds_one_worker(ctx):
    # --workers 2: while a /block?ms=1000 holds one worker, /plaintext on another connection
    # is answered by the other, at once: within 100 ms (the block would delay it by up to a
    # second), and before the block ends. A very slow moment of this shared machine can stall
    # any request, so an attempt may be retried; a pool that lets the block hold others up
    # fails every one.
    srv = ctx.server("--workers", "2")
    seen = []
    with Conn.to(srv) as c:
        quick(c)   # the connection is open and served before the block starts
        for attempt in range(3):
            block = Background(srv, "/block?ms=1000")
            try:
                time.sleep(0.2)   # let it reach its worker (if it has not, the checks fail safe)
                worst = max(quick(c) for _ in range(5))
                during = not block.done.is_set()
                r = block.result("the /block?ms=1000")
                expect_eq(r.body, b"blocked 1000 ms\n", "the /block's answer")
            finally:
                block.close()
            seen.append(f"{worst * 1000:.0f} ms{'' if during else ' (block over)'}")
            if during and worst < 0.1:
                break
        else:
            raise Fail(f"expected 5 /plaintext answered within 100 ms each while a /block held "
                       f"one of 2 workers; slowest per attempt: {', '.join(seen)}")
    ctx.note(f"slowest /plaintext beside the block, per attempt: {', '.join(seen)}")


@model_case("pool", "sleep-holds-no-worker")
def sleep_holds_no_worker(ctx):
    # --workers 2: 50 connections in /sleep?ms=1000 at once. Were a sleep to hold a worker,
    # they would take 25 s, two at a time; as timers of the loop they all end after about
    # one second. Meanwhile another connection is served.
    srv = ctx.server("--workers", "2")
    socks = open_many(srv, 50)
    try:
        t0 = time.monotonic()
        result = {}
        t = threading.Thread(target=lambda: result.update(outs=exchange(
            socks, [request("GET", "/sleep?ms=1000")] * 50, http_complete)), daemon=True)
        t.start()
        time.sleep(0.3)
        with Conn.to(srv) as c:
            quick(c)
            during = t.is_alive()
        t.join(BOUND["io"] * 3)
        elapsed = time.monotonic() - t0
        expect("outs" in result, "the 50 sleeps did not end within the bound")
        counts, first_bad = tally(classify_http(o, b"slept 1000 ms\n") for o in result["outs"])
        ctx.note(f"50 x /sleep?ms=1000 with 2 workers: all answered after {elapsed:.2f} s; "
                 f"another connection served {'while they slept' if during else 'after them'}")
        expect(counts["ok"] == 50, f"50 in /sleep?ms=1000: {counts['ok']} answered right, "
                                   f"{first_bad}")
        # Two at a time would be 25 s; 5 s is a generous bound for "about a second".
        expect(elapsed < 5 * BOUND["io"] / 10,
               f"50 x /sleep?ms=1000 with 2 workers took {elapsed:.1f} s: the sleeps held "
               f"workers (two at a time: 25 s)")
    finally:
        close_all(socks)


@model_case("pool", "every-worker-blocked-others-wait")
def every_worker_blocked(ctx):
    # --workers 2, both held by a /block?ms=1500: a /plaintext waits for one of them. The
    # threads are a fixed number, whatever the connections: the price of the pool.
    srv = ctx.server("--workers", "2")
    blocks = [Background(srv, "/block?ms=1500") for _ in range(2)]
    try:
        time.sleep(0.3)
        with Conn.to(srv) as c:
            quick(c)
            # A block's answer went out before this one; give our reader a moment to see it
            # (a pool that did not wait would have answered over a second before the blocks).
            deadline = time.monotonic() + 0.5
            while not any(b.done.is_set() for b in blocks) and time.monotonic() < deadline:
                time.sleep(0.01)
            expect(any(b.done.is_set() for b in blocks),
                   "expected the /plaintext to wait for a worker while both were blocked; "
                   "it was answered before either block ended")
        for b in blocks:
            expect_eq(b.result("a /block?ms=1500").body, b"blocked 1500 ms\n", "the /block")
    finally:
        for b in blocks:
            b.close()


@model_case("pool", "queue-full-back-pressure")
def queue_full(ctx):
    # --workers 1: its queue holds 4. One /block?ms=3000 holds the worker; 5 more /block
    # requests fill the queue and one more. The loop then takes no more work: it says so
    # once, and a new connection is not even accepted until the worker is free. Then
    # everything is answered.
    srv = ctx.server("--workers", "1")
    first = Background(srv, "/block?ms=3000")
    rest = []
    try:
        time.sleep(0.2)
        rest = [Background(srv, "/block?ms=10") for _ in range(5)]
        deadline = time.monotonic() + BOUND["io"]
        while not srv.stderr_lines and time.monotonic() < deadline:
            time.sleep(0.02)
        expect(srv.stderr_lines and "queue full" in srv.stderr_lines[0],
               f"expected one line on stderr saying the queue is full, got {srv.stderr_lines[:1]}")
        full_at = srv.fds()
        with Conn.to(srv) as late:
            time.sleep(0.3)
            held_back = not first.done.is_set() and srv.fds() == full_at
            late.send(request("GET", "/plaintext"))
            r = late.read_response()
            expect(r.status == 200 and r.body == HELLO, f"the late connection: got {r.status}")
        expect(held_back, "expected no new connection accepted while the queue was full")
        expect_eq(first.result("the first /block").body, b"blocked 3000 ms\n", "the first /block")
        for i, b in enumerate(rest):
            expect_eq(b.result(f"queued /block {i + 1}").body, b"blocked 10 ms\n",
                      f"queued /block {i + 1}")
        expect(len(srv.stderr_lines) == 1, f"expected the queue-full line once, got "
                                           f"{len(srv.stderr_lines)} lines")
    finally:
        first.close()
        for b in rest:
            b.close()


@model_case("pool", "help-gives-the-queue-size", proto=None)
def help_text(ctx):
    import tools
    rc, out, err = tools.run([ctx.binary, "--help"], BOUND["start"])
    expect_eq(rc, 0, "--help exit code")
    expect("queue" in out and "per worker" in out,
           "--help: expected it to give the size of the queue between the loop and the workers")


@model_case("pool", "late-head-handed-over-once")
def late_head_handed_over_once(ctx):
    # --workers 1 --header-timeout 1: a /block?ms=2500 holds the worker; a connection that
    # began a head and went quiet is late after a second, and the loop queues it for the
    # worker to answer 408. While it waits in the queue its client sends one more byte.
    # The loop must not hand it over a second time for that byte: two workers (or the same
    # one twice) would serve it, and close and free it twice (a double free found by the
    # slowclients benchmark).
    import signal
    srv = ctx.server("--workers", "1", "--header-timeout", "1")
    block = Background(srv, "/block?ms=2500")
    try:
        time.sleep(0.2)
        with Conn.to(srv) as late:
            late.send(b"GET /plaintext HTTP/1.1\r\n")
            time.sleep(1.6)          # late now, and queued behind the block
            late.send(b"H")
            expect_eq(block.result("the /block?ms=2500").body, b"blocked 2500 ms\n", "the /block")
            r = late.read_response()
            expect_eq(r.status, 408, "the late head's answer")
        with Conn.to(srv) as c:
            quick(c)
    finally:
        block.close()
    srv.signal(signal.SIGTERM)
    rc = srv.wait_exit(BOUND["exit"])
    report = srv.sanitizer_report()
    expect(rc == 0 and not report, f"expected exit 0 on SIGTERM, got {rc}"
                                   f"{'; ' + report if report else srv.stderr_tail()}")
