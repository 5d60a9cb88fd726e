"""limits: resource limits: idle connections, --max-conns, more connections than a model can
hold, clients that never read (memory must stay bounded), and a process limit that makes
fork() and pthread_create() fail."""
import fcntl
import selectors
import struct
import termios
import threading
import time

from cases_http import JSON
from check import case, expect, expect_eq, Fail, step, until_conclusive
from fixture import BOUND, LimitedUser
from many import classify_http, close_all, exchange, http_complete, open_many, serves_again, tally
from rawhttp import Conn, describe_mismatch, pattern, request

MIB = 1 << 20


# ---- Idle connections ----

def closed_after_idle(c, what, silent_since=None, idle_s=1):
    """The server closes c, idle, within the bound. Any answer it sends first must be HTTP.
    silent_since: when the connection was opened (time.monotonic(), taken before connecting,
    so that the server's clock cannot have started earlier): it may not be closed before the
    1 s time-out, give or take the timer's granularity."""
    problem = c.closed_by_peer(BOUND["io"])
    if problem and c.buf.startswith(b"HTTP/1.1 "):
        c.buf.clear()   # a 408 before closing is allowed
        problem = c.closed_by_peer(BOUND["io"])
    took = time.monotonic() - (silent_since or 0)
    expect(problem is None, f"{what} with --idle-timeout {idle_s}: {problem}")
    expect(silent_since is None or took >= 0.9,
           f"{what}: expected it closed after the 1 s idle time-out, it was closed after "
           f"{took:.2f} s")


@case("limits", "idle-timeout-closes-silent")
def idle_timeout_closes_silent(ctx):
    srv = ctx.server("--idle-timeout", "1")
    opened = time.monotonic()
    with Conn.to(srv) as silent, Conn.to(srv) as after_request, Conn.to(srv) as half:
        after_request.send(request("GET", "/"))
        after_request.read_response()
        half.send(b"GET / HTTP/1.1\r\nHost: x")
        closed_after_idle(silent, "a connection that never sent anything", opened)
        closed_after_idle(after_request, "an idle keep-alive connection")
        closed_after_idle(half, "a connection silent in the middle of a head")


class Paced(threading.Thread):
    """One connection kept busy: step(i) every 0.2 s, count times, then then(). It records the
    longest the connection may have gone quiet: near the idle time-out, this client itself
    went quiet (a crowded machine), and a close by the idle time-out proves nothing against
    the server. A step's bytes leave somewhere between its start and its end (the thread may
    wait for the CPU after reading the clock), so the gap counted is from the start of one
    step to the end of the next: never less than the quiet the server saw."""

    def __init__(self, what, step_fn, count, then=None):
        super().__init__(daemon=True)
        self.what, self.step_fn, self.count, self.then = what, step_fn, count, then
        self.error = None
        self.longest = 0.0
        self.made = time.monotonic()   # after the connection's set-up: its last activity

    def run(self):
        last_start = self.made
        try:
            for i in range(self.count):
                start = time.monotonic()
                try:
                    with step(f"{self.what}, step {i + 1}"):
                        self.step_fn(i)
                finally:
                    self.longest = max(self.longest, time.monotonic() - last_start)
                    last_start = start
                time.sleep(0.2)
            if self.then:
                with step(self.what):
                    self.then()
        except (Fail, OSError) as e:
            self.error = str(e)


def run_paced(paced):
    for p in paced:
        p.start()
    for p in paced:
        p.join(BOUND["io"] * 3)
        if p.is_alive():
            raise Fail(f"{p.what}: not done within the bound")


# keep_busy's idle time-out, and the longest a Paced client (a step every 0.2 s) may go quiet
# and still have its failure blamed on the server. The margin between them absorbs what a
# loaded machine does to the client: a thread not scheduled, bytes delivered late by the
# kernel (loopback packets wait for ksoftirqd when the CPUs are busy), all invisible here.
BUSY_IDLE_S, QUIET_BLAMED = 2, 1.5


def keep_busy(ctx, scenario):
    """Runs scenario(server with --idle-timeout BUSY_IDLE_S, list to fill with Paced clients).
    A failure of a client that kept its pace is the server's; one of a client that went quiet
    is inconclusive, and the scenario runs again."""
    def attempt():
        paced = []
        scenario(ctx.server("--idle-timeout", str(BUSY_IDLE_S)), paced)
        failed = [p for p in paced if p.error]
        kept_pace = [p for p in failed if p.longest < QUIET_BLAMED]
        if kept_pace:
            raise Fail(kept_pace[0].error)
        if failed:
            quiet = max(p.longest for p in failed)
            return (f"the client went quiet {quiet:.2f} s itself, near the {BUSY_IDLE_S} s "
                    f"time-out: {failed[0].error}")
        return None
    until_conclusive(ctx, attempt)


def busy_http(srv, paced):
    """Requests every 0.2 s, an /echo body a byte every 0.2 s, and a 3.5 s /sleep: none may be
    cut by the 2 s idle time-out, though each lasts longer."""
    with Conn.to(srv) as chatty, Conn.to(srv) as uploader, Conn.to(srv) as sleeper:
        sleeper.send(request("GET", "/sleep?ms=3500"))
        uploader.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n")

        def ask(i):
            chatty.send(request("GET", "/json"))
            expect_eq(chatty.read_response().body, JSON, "body")

        def echoed():
            expect_eq(uploader.read_response().body, b"x" * 15, "the echoed body")
        paced += [Paced("a request every 0.2 s", ask, 15),
                  Paced("an /echo body sent a byte every 0.2 s", lambda i: uploader.send(b"x"), 15,
                        then=echoed)]
        run_paced(paced)
        with step(f"/sleep?ms=3500 with --idle-timeout {BUSY_IDLE_S}"):
            expect_eq(sleeper.read_response().body, b"slept 3500 ms\n", "body")


@case("limits", "idle-timeout-spares-busy")
def idle_timeout_spares_busy(ctx):
    keep_busy(ctx, busy_http)


# A connection stays open while any process holds its fd: a fork server's parent that keeps
# its copy holds every connection open, whatever the child does at the time-out.
FD_LEAK = ("lifecycle/no-fd-leak",
           "an fd the server leaves open (a fork parent's copy) keeps the connection open")


@case("limits", "idle-timeout-closes-non-reader", suspects=[FD_LEAK])
def idle_timeout_closes_non_reader(ctx):
    """A client that never reads its answer but sends a byte now and then is idle all the
    same: the server can make no progress with it, so the idle time-out closes it. (Bytes it
    does not read must not put the time-out off, or such clients could hold the server's
    buffers for ever.)"""
    srv = ctx.server("--idle-timeout", "1")
    s = srv.connect(small_buffers=True)
    try:
        s.sendall(request("GET", "/bytes?n=67108864"))
        deadline = time.monotonic() + BOUND["io"]
        while time.monotonic() < deadline:
            time.sleep(0.3)
            try:
                s.send(b"x")
            except OSError:
                return   # closed by the server: a send after its close is refused
        raise Fail("sent GET /bytes?n=67108864, then a byte every 0.3 s, reading nothing; "
                   "expected the server to close the connection (--idle-timeout 1), it was "
                   f"still open {BOUND['io']:.0f} s later (a connection stays open while any "
                   "process holds its fd: the idle time-out must close it, and no parent may "
                   "keep a copy)")
    finally:
        close_all([s])


@case("limits", "idle-timeout-after-a-block")
def idle_timeout_after_a_block(ctx):
    """A request that arrives while another client's /block holds the server for longer than
    the idle time-out is answered, not closed as idle: an event loop must read what came in
    meanwhile before it judges the connection silent. (Models with a thread of control per
    connection answer it at once.)"""
    # The late request must reach the server within the idle time-out of its first one, or
    # closing it is right. The client keeps that time itself (0.5 s); on a loaded machine it
    # may not, and then a close proves nothing: the case runs again.
    idle_s = 1.0

    def attempt():
        srv = ctx.server("--idle-timeout", str(int(idle_s)))
        with Conn.to(srv) as blocker, Conn.to(srv) as late:
            # Served once first, so that the server holds it, idle, before the block begins (a
            # connection still in the listen queue would only be accepted after the block).
            first_sent = time.monotonic()
            late.send(request("GET", "/plaintext"))
            expect_eq(late.read_response().body, b"Hello, World!", "the answer before the block")
            blocker.send(request("GET", "/block?ms=3000"))
            time.sleep(0.5)   # so that it arrives after the loop went into the block
            gap = time.monotonic() - first_sent
            try:
                late.send(request("GET", "/plaintext"))
                expect_eq(late.read_response().body, b"Hello, World!",
                          "the answer to the late request")
            except (Fail, OSError) as e:
                if gap < idle_s - 0.2:
                    raise Fail(f"{e} (the late request was sent {gap:.2f} s after the first, "
                               f"within the {idle_s:.0f} s idle time-out)") from None
                return (f"it took {gap:.2f} s to send the late request, near or past the "
                        f"{idle_s:.0f} s time-out: {e}")
            expect_eq(blocker.read_response().body, b"blocked 3000 ms\n", "the /block answer")
            return None
    until_conclusive(ctx, attempt)


# ---- --max-conns ----

def refused_at_once(c, proto):
    """A refused connection: HTTP gets a 503 with Connection: close or a close; echo a close.
    None, or what came instead."""
    try:
        r = None
        if proto == "http":
            c.fill("a 503 or a close")
            r = c.read_response()
        problem = c.closed_by_peer()
    except Fail as e:
        if c.eof and not c.buf:
            return None   # closed at once, without a word
        return str(e)
    if r is not None and not (r.status == 503 and r.closes()):
        return f"expected a 503 with Connection: close or a close, got {r.status}"
    return problem


def ping(c, proto, what):
    with step(what):
        if proto == "http":
            c.send(request("GET", "/json"))
            expect_eq(c.read_response().body, JSON, "the answer")
        else:
            c.send(b"ping\n")
            while len(c.buf) < 5:
                c.fill("the echo")
            expect_eq(bytes(c.buf), b"ping\n", "the echo")
            c.buf.clear()


def max_conns_scenario(ctx, proto):
    srv = ctx.server("--max-conns", "20", proto=proto)
    held = []
    try:
        for i in range(20):
            held.append(Conn.to(srv))
            ping(held[-1], proto, f"connection {i + 1} of 20")
        for n in (21, 22):
            with Conn.to(srv) as extra:
                problem = refused_at_once(extra, proto)
                expect(problem is None, f"connection {n} with --max-conns 20: {problem}")
        expect(srv.said_on_stderr(BOUND["io"]),
               "expected the server to say on stderr that it refused a connection, it said nothing")
        for i, c in enumerate(held):
            ping(c, proto, f"connection {i + 1} of 20, after the refusals")
        for c in held[:5]:
            c.close()
        del held[:5]
        problem = serves_again(srv)
        expect(problem is None, f"after 5 of the 20 closed: {problem}")
    finally:
        for c in held:
            c.close()


@case("limits", "max-conns")
def max_conns(ctx):
    max_conns_scenario(ctx, "http")


@case("limits", "past-1100-connections", heavy=True)
def past_1100_connections(ctx):
    # More than select's FD_SETSIZE can hold: each is served or refused cleanly, none crashes.
    srv = ctx.server("--max-conns", "100000", holds=1200)
    socks = open_many(srv, 1200)
    try:
        outs = exchange(socks, [request("GET", "/json")] * len(socks), http_complete)
        counts, first_bad = tally(classify_http(o, JSON) for o in outs)
        ctx.note(f"1200 at once: {counts}")
        expect(counts["bad"] == 0, f"1200 connections at once: {counts['bad']} neither served "
                                   f"nor cleanly refused: {first_bad}")
        expect(counts["ok"] >= 1000, f"1200 connections at once: expected at least 1000 served, "
                                     f"got {counts['ok']} ({counts['refused']} refused)")
    finally:
        close_all(socks)
    problem = serves_again(srv)
    expect(problem is None, f"after 1200 connections: {problem}")


# ---- Clients that do not read: memory stays bounded ----

class RssWatch:
    """The server's resident memory (its children's included), against a baseline."""

    def __init__(self, srv):
        self.srv = srv
        self.base = srv.rss_kib()
        self.peak = self.base

    def sample(self, times=1, every=0.05):
        for i in range(times):
            if i:
                time.sleep(every)
            self.peak = max(self.peak, self.srv.rss_kib())

    def check(self, ctx, what, limit_mib=16):
        grew = (self.peak - self.base) / 1024
        ctx.note(f"{what}: RSS {self.base / 1024:.1f} MiB -> peak {self.peak / 1024:.1f} MiB")
        expect(grew < limit_mib, f"{what}: expected the server's memory to grow less than "
                                 f"{limit_mib} MiB, it grew {grew:.1f} MiB")


def unread_bytes(sock):
    return struct.unpack("i", fcntl.ioctl(sock, termios.FIONREAD, b"\0\0\0\0"))[0]


def write_until_stuck(sock, data, stall):
    """Writes data without reading anything back, until the socket stays unwritable for
    `stall` seconds twice in a row (the server stopped reading) or all is written. Returns
    the bytes written."""
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_WRITE)
    view, sent, stalls = memoryview(data), 0, 0
    try:
        while sent < len(view) and stalls < 2:
            if not sel.select(stall):
                stalls += 1
                continue
            stalls = 0
            try:
                sent += sock.send(view[sent:sent + 256 * 1024])
            except BlockingIOError:
                pass
    finally:
        sel.close()
        sock.settimeout(BOUND["io"])
    return sent


def stuck_writer_scenario(ctx, srv, flood, what):
    """A client sends flood without reading: the server must stop reading it (the writer gets
    stuck long before the end), keep its memory bounded, and serve others meanwhile."""
    with Conn(srv.connect(small_buffers=True)) as hog:
        # A first exchange, so that the connection's buffers, thread or process exist already.
        ping(hog, srv.proto, "a first exchange on the connection")
        watch = RssWatch(srv)
        sent = write_until_stuck(hog.sock, flood, BOUND["stall"])
        watch.sample(5)
        ctx.note(f"{what}: the writer got stuck after {sent / MIB:.1f} MiB")
        expect(sent < 40 * MIB, f"{what}: expected the server to stop reading a client that does "
                                f"not read; it took {sent / MIB:.0f} of {len(flood) / MIB:.0f} MiB")
        watch.check(ctx, what)
        with Conn.to(srv) as other:
            ping(other, srv.proto, f"another client while {what}")


@case("limits", "pipelined-flood-no-read")
def pipelined_flood_no_read(ctx):
    srv = ctx.server()
    one = request("GET", "/plaintext")
    stuck_writer_scenario(ctx, srv, one * (64 * MIB // len(one)),
                          "64 MiB of pipelined requests, no answer read")


@case("limits", "bytes-64mib-no-read")
def bytes_64mib_no_read(ctx):
    # /bytes?n=64MiB to a client that reads nothing: the server writes as the client reads,
    # so its memory must not grow by the body.
    srv = ctx.server()
    n = 64 * MIB
    with Conn(srv.connect(small_buffers=True)) as hog:
        # A first exchange, so that the connection's buffers, thread or process exist already.
        ping(hog, "http", "a first exchange on the connection")
        watch = RssWatch(srv)
        hog.send(request("GET", f"/bytes?n={n}"))
        # Wait until the server has filled the socket and stopped, then look at its memory.
        last, still, deadline = -1, 0, time.monotonic() + BOUND["io"]
        while still < 10 and time.monotonic() < deadline:
            watch.sample()
            queued = unread_bytes(hog.sock)
            still = still + 1 if queued == last and queued > 0 else 0
            last = queued
            time.sleep(0.05)
        watch.sample(5)
        watch.check(ctx, "a client not reading /bytes?n=64MiB")
        with Conn.to(srv) as other:
            ping(other, "http", "another client meanwhile")
        r = hog.read_response()
        problem = describe_mismatch(r.body, pattern(n))
        expect(problem is None, f"/bytes?n={n}, read at last: {problem}")


# ---- fork() and pthread_create() failing ----

@case("limits", "process-limit", heavy=True)
def process_limit(ctx):
    # As a user allowed 8 processes (threads count), 30 clients at once: a model that forks
    # or spawns per connection must refuse the ones it cannot start, and go on.
    # A fixed pool forks all its processes before it serves: the limit counts from there
    # (tests/models starts prefork under a limit its pool does not fit).
    limited = LimitedUser(ctx.binary, spare=8 + ctx.pool_for(30))
    srv = ctx.server("--workers", "1", limited=limited, holds=30)
    socks = open_many(srv, 30)
    try:
        outs = exchange(socks, [request("GET", "/sleep?ms=500")] * len(socks), http_complete)
        counts, first_bad = tally(classify_http(o, b"slept 500 ms\n") for o in outs)
        ctx.note(f"30 clients under a process limit: {counts}")
        expect(counts["bad"] == 0, f"30 clients under a process limit: {counts['bad']} neither "
                                   f"served nor cleanly refused: {first_bad}")
        expect(counts["ok"] > 0, "30 clients under a process limit: none served")
    finally:
        close_all(socks)
    problem = serves_again(srv)
    expect(problem is None, f"after fork or thread creation failed: {problem}")


# ---- --header-timeout: clients that trickle a request ----

TRICKLE_EVERY = 0.3   # seconds between two bytes: the idle time-out never fires


def readable_within(sock, seconds):
    """True when sock has something to read (or an EOF) within the time. A selector, not
    select(): this process holds more than FD_SETSIZE descriptors when heavy cases run beside."""
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        return bool(sel.select(seconds))


def trickle(c, data, since=None):
    """Sends data a byte every TRICKLE_EVERY s until the server answers or closes. Returns
    (bytes sent, seconds from `since` (default: the first byte) until the server spoke),
    (len, None) if it never did."""
    first = since or time.monotonic()
    for i in range(len(data)):
        try:
            c.sock.sendall(data[i:i + 1])
        except OSError:
            return i, time.monotonic() - first   # closed (or reset) by the server
        if readable_within(c.sock, TRICKLE_EVERY):
            return i + 1, time.monotonic() - first
    return len(data), None


def timed_out_408(c, data, what, since=None):
    """Trickles data (it never completes the request) to a server with --header-timeout 1:
    it must answer 408 and close, after the time-out, long before the bytes run out. `since`:
    when the client began what the server times (before the send, never after: a thread can
    wait for the CPU between a send and its next look at the clock)."""
    sent, took = trickle(c, data, since)
    expect(took is not None, f"{what}: a byte every {TRICKLE_EVERY} s for {sent} bytes, no answer "
                             f"with --header-timeout 1")
    r = c.read_response()
    expect_eq(r.status, 408, f"{what}: status")
    expect(r.closes(), f"{what}: expected 'Connection: close' on the 408")
    problem = c.closed_by_peer()
    expect(problem is None, f"{what}: after the 408: {problem}")
    # A lower bound only (a slow machine makes it later, never earlier).
    expect(took >= 0.9, f"{what}: expected the 408 after the 1 s time-out, it came after "
                        f"{took:.2f} s")


@case("limits", "header-timeout-trickled-head")
def header_timeout_trickled_head(ctx):
    srv = ctx.server("--header-timeout", "1")
    with Conn.to(srv) as slow, Conn.to(srv) as other:
        # 200 bytes at 0.3 s: a minute, the bound only a server without the time-out reaches.
        timed_out_408(slow, b"GET /json HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 170,
                      "a head trickled a byte every 0.3 s")
        ping(other, "http", "another client, after the slow one")


@case("limits", "header-timeout-trickled-body")
def header_timeout_trickled_body(ctx):
    """A body that stalls (here, 1,000 bytes trickled: never 16 KiB within the time-out) gets
    the same bound. An /echo whose answer has begun can only be cut short."""
    srv = ctx.server("--header-timeout", "1")
    with Conn.to(srv) as c:
        head_sent = time.monotonic()   # the server's clock starts with the head
        c.send(b"GET /json HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        timed_out_408(c, b"b" * 200, "a GET's body trickled a byte every 0.3 s", head_sent)
    with Conn.to(srv) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        expect_eq(c.read_head().status, 200, "an /echo's answer, its body yet to come")
        closed = False
        for i in range(200):   # a minute: only a server without the time-out lasts it
            try:
                c.sock.sendall(b"e")
            except OSError:
                closed = True   # a send after the server closed is refused
                break
            time.sleep(TRICKLE_EVERY)
            if readable_within(c.sock, 0):
                try:
                    c.fill("the echo")
                except Fail:
                    closed = True
                    break
        expect(closed, "an /echo body trickled a byte every 0.3 s with --header-timeout 1: "
                      "the server still held the connection after 200 bytes")
        expect(len(c.buf) < 1000, f"an /echo cut short: expected fewer than 1000 body bytes, "
                                  f"got {len(c.buf)}")


@case("limits", "header-timeout-spares-idle")
def header_timeout_spares_idle(ctx):
    """The time-out runs only while a request is arriving: a connection idle between
    requests, or not yet begun, is the idle time-out's. And 0 disables it."""
    srv = ctx.server("--header-timeout", "1")
    with Conn.to(srv) as kept, Conn.to(srv) as fresh:
        ping(kept, "http", "a first request")
        time.sleep(1.5)
        ping(kept, "http", "a request 1.5 s after the last, with --header-timeout 1")
        ping(fresh, "http", "a first request 1.5 s after connecting, with --header-timeout 1")
    srv = ctx.server("--header-timeout", "0")
    with Conn.to(srv) as c:
        head = request("GET", "/json")
        sent, took = trickle(c, head[:8])
        expect(took is None, f"with --header-timeout 0: the server spoke after {sent} bytes of a "
                             f"trickled head: {bytes(c.buf[:40])!r}")
        c.send(head[8:])
        expect_eq(c.read_response().body, JSON, "a head trickled over 2.4 s, --header-timeout 0")
