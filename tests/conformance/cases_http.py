"""http: HTTP semantics: headers, HEAD, keep-alive, pipelining, body framing, real clients."""
import calendar
import os
import re
import socket
import tempfile
import time

import tools
from check import case, expect, expect_eq
from fixture import BOUND
from rawhttp import Conn, Sender, chunked, describe_mismatch, get, pattern, request

HELLO = b"Hello, World!"
JSON = b'{"message":"Hello, World!"}'
IMF_FIXDATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|"
                         r"Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$")
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()


def date_seconds(value):
    """Seconds since the epoch of an IMF-fixdate, checked down to the weekday; raises Fail."""
    m = IMF_FIXDATE.match(value or "")
    expect(m, f"expected Date as an IMF-fixdate ('Sun, 06 Nov 1994 08:49:37 GMT'), got {value!r}")
    day, mday, mon, year, hh, mm, ss = m.groups()
    t = (int(year), MONTHS.index(mon) + 1, int(mday), int(hh), int(mm), int(ss))
    secs = calendar.timegm(t + (0, 0, 0))
    expect(DAYS[time.gmtime(secs).tm_wday] == day, f"Date {value!r}: wrong day of the week")
    return secs


def check_common_headers(r, what):
    """Every answer: Server, a Date, Content-Type with a body, and its length."""
    expect_eq(r.header("Server"), "c10k-lab", f"{what}: Server header")
    date_seconds(r.header("Date"))
    lengths = r.header_all("Content-Length")
    if r.chunked:
        expect(not lengths, f"{what}: expected no Content-Length with chunked, got {lengths}")
    else:
        expect(len(lengths) == 1, f"{what}: expected one Content-Length, got {lengths}")
        expect_eq(int(lengths[0]), len(r.body), f"{what}: Content-Length vs body length")
    if r.body:
        expect(r.header("Content-Type"), f"{what}: expected a Content-Type with the body")


@case("http", "response-headers")
def response_headers(ctx):
    srv = ctx.server()
    with Conn.to(srv) as c:
        for method, target, body in (("GET", "/", b""), ("GET", "/plaintext", b""),
                                     ("GET", "/json", b""), ("POST", "/echo", b"abc"),
                                     ("GET", "/bytes?n=10", b""), ("GET", "/work?us=1", b""),
                                     ("GET", "/sleep?ms=1", b""), ("GET", "/block?ms=1", b""),
                                     ("GET", "/nope", b""), ("PUT", "/json", b"x"),
                                     ("GET", "/bytes?n=x", b""), ("POST", "/echo", b"")):
            c.send(request(method, target, body=body))
            check_common_headers(c.read_response(), f"{method} {target}")


@case("http", "date-is-current")
def date_is_current(ctx):
    # The Date must say when the answer was made: between our clock before and after, give
    # or take the clock's granularity. Twice, seconds apart, so a date frozen at start fails.
    srv = ctx.server()
    for i in range(2):
        if i:
            time.sleep(2.5)
        before = time.time()
        r = get(srv, "/")
        after = time.time()
        secs = date_seconds(r.header("Date"))
        expect(before - 1.5 <= secs <= after + 1.5,
               f"expected Date within a second of the local clock {time.ctime(before)}, got "
               f"{r.header('Date')!r} ({secs - before:+.0f} s)")


def cpu_used_by(srv, target):
    """CPU seconds the server spends answering target (on a connection it already serves, so
    a model's per-connection process or thread exists before and after)."""
    with Conn.to(srv) as c:
        c.send(request("GET", "/"))
        c.read_response()
        before = srv.cpu_seconds()
        c.send(request("GET", target))
        r = c.read_response()
        used = srv.cpu_seconds() - before
    expect_eq(r.status, 200, f"GET {target} status")
    return used


@case("http", "work-burns-cpu")
def work_burns_cpu(ctx):
    used = cpu_used_by(ctx.server(), "/work?us=300000")
    ctx.note(f"/work?us=300000 used {used:.2f} s of CPU")
    expect(used >= 0.25, f"expected /work?us=300000 to use 0.3 s of CPU, the server used "
                         f"{used:.2f} s")


@case("http", "sleep-holds-no-cpu")
def sleep_holds_no_cpu(ctx):
    # A sleep that spins would use about its whole length (less only on a crowded machine).
    used = cpu_used_by(ctx.server(), "/sleep?ms=1000")
    ctx.note(f"/sleep?ms=1000 used {used:.2f} s of CPU")
    expect(used < 0.5, f"expected /sleep?ms=1000 to wait without using CPU, the server used "
                       f"{used:.2f} s")


@case("http", "head-matches-get")
def head_matches_get(ctx):
    srv = ctx.server()
    with Conn.to(srv) as c:
        for target in ("/", "/plaintext", "/json", "/bytes?n=100000", "/work?us=10",
                       "/sleep?ms=5", "/block?ms=5", "/nope", "/bytes?n=x"):
            c.send(request("GET", target))
            g = c.read_response()
            # HEAD, then a GET: if HEAD sent a body, it would be read as the GET's answer.
            c.send(request("HEAD", target) + request("GET", "/json"))
            h = c.read_response(head_only=True)
            after = c.read_response()
            for name in ("Content-Type", "Content-Length"):
                expect_eq(h.header(name), g.header(name), f"HEAD {target}: {name} (as GET)")
            expect_eq(h.status, g.status, f"HEAD {target} status (as GET)")
            expect(after.status == 200 and after.body == JSON,
                   f"HEAD {target}: expected no body after the head, the next answer read as "
                   f"{after.status} {after.body[:30]!r}")


@case("http", "keep-alive-http11")
def keep_alive_http11(ctx):
    with Conn.to(ctx.server()) as c:
        for i in range(5):
            c.send(request("GET", "/json", ["Host: localhost"]))
            r = c.read_response()
            expect_eq(r.body, JSON, f"request {i + 1} on one connection")
            expect(not r.closes(), f"request {i + 1}: expected keep-alive, got Connection: close")
        expect(c.nothing_pending(), "expected the connection to stay open after 5 requests")


def answered_then_closed(srv, raw, body, what):
    """One answer with body and 'Connection: close', then the server closes: whatever was
    sent after raw (a second request) is not answered."""
    with Conn.to(srv) as c:
        c.send(raw + request("GET", "/json"))
        r = c.read_response()
        expect_eq(r.body, body, what)
        expect(r.closes(), f"{what}: expected 'Connection: close' in the answer, got "
                           f"{r.header('Connection')!r}")
        problem = c.closed_by_peer()
        expect(problem is None, f"after {what}: {problem}")


@case("http", "connection-close")
def connection_close(ctx):
    answered_then_closed(ctx.server(), request("GET", "/", ["Connection: close"]), HELLO,
                         "GET / with Connection: close")


@case("http", "client-half-close")
def client_half_close(ctx):
    # A client that sends its last request and shuts down its side gets the answers, then the
    # server's close.
    with Conn.to(ctx.server()) as c:
        c.send(request("GET", "/json") + request("GET", "/"))
        c.sock.shutdown(socket.SHUT_WR)
        expect_eq(c.read_response().body, JSON, "first answer after shutdown(SHUT_WR)")
        expect_eq(c.read_response().body, HELLO, "second answer after shutdown(SHUT_WR)")
        problem = c.closed_by_peer()
        expect(problem is None, f"after the answers to a half-closed client: {problem}")


@case("http", "http10-closes")
def http10_closes(ctx):
    answered_then_closed(ctx.server(), request("GET", "/json", version="HTTP/1.0"), JSON,
                         "HTTP/1.0 GET /json without keep-alive")


@case("http", "http10-keep-alive")
def http10_keep_alive(ctx):
    with Conn.to(ctx.server()) as c:
        for i in range(3):
            c.send(request("GET", "/", ["Connection: keep-alive"], version="HTTP/1.0"))
            r = c.read_response()
            expect_eq(r.body, HELLO, f"HTTP/1.0 keep-alive request {i + 1}")
            expect_eq((r.header("Connection") or "").lower(), "keep-alive",
                      f"HTTP/1.0 keep-alive request {i + 1}: Connection header")
        expect(c.nothing_pending(), "expected the HTTP/1.0 keep-alive connection to stay open")


def mixed_requests():
    """20 different requests, and what each answer must be: (bytes, is HEAD, status, body)."""
    echo_cl = os.urandom(3000)
    echo_ch = os.urandom(777)
    return [
        (request("GET", "/"), False, 200, HELLO),
        (request("GET", "/json", ["Host: example.org"]), False, 200, JSON),
        (request("HEAD", "/plaintext"), True, 200, b""),
        (request("POST", "/echo", body=echo_cl), False, 200, echo_cl),
        (request("POST", "/echo", ["Transfer-Encoding: chunked"], chunked(echo_ch, [100, 1, 500])),
         False, 200, echo_ch),
        (request("GET", "/bytes?n=5000"), False, 200, pattern(5000)),
        (request("GET", "/work?us=100"), False, 200, b"worked 100 us\n"),
        (request("GET", "/sleep?ms=20"), False, 200, b"slept 20 ms\n"),
        (request("GET", "/nope"), False, 404, None),
        (request("DELETE", "/json"), False, 405, None),
        (request("GET", "/bytes?n=x"), False, 400, None),
        (request("GET", "/block?ms=10"), False, 200, b"blocked 10 ms\n"),
        (request("GET", "/plaintext", ["Accept: */*", "User-Agent: conformance"]), False, 200,
         HELLO),
        (request("HEAD", "/bytes?n=3"), True, 200, b""),
        (request("POST", "/echo", ["Content-Length: 0"]), False, 200, b""),
        (request("GET", "/json"), False, 200, JSON),
        (request("POST", "/json", body=b"ignored body"), False, 405, None),
        (request("GET", "/bytes?n=1"), False, 200, b"A"),
        (request("GET", "/sleep?ms=0"), False, 200, b"slept 0 ms\n"),
        (request("GET", "/"), False, 200, HELLO),
    ]


def check_pipelined(c, reqs):
    for i, (raw, head, status, body) in enumerate(reqs):
        line = raw.split(b"\r\n")[0].decode()
        what = f"pipelined answer {i + 1} ({line})"
        r = c.read_response(head_only=head)
        expect_eq(r.status, status, f"{what} status")
        if body is not None:
            problem = describe_mismatch(r.body, body)
            expect(problem is None, f"{what}: {problem}")
    expect(c.nothing_pending(), "expected nothing more after the 20 pipelined answers")


@case("http", "pipeline-one-write")
def pipeline_one_write(ctx):
    reqs = mixed_requests()
    with Conn.to(ctx.server()) as c:
        c.send(b"".join(r[0] for r in reqs))
        check_pipelined(c, reqs)


@case("http", "pipeline-byte-at-a-time")
def pipeline_byte_at_a_time(ctx):
    reqs = mixed_requests()
    with Conn.to(ctx.server()) as c:
        sender = Sender(c.sock, b"".join(r[0] for r in reqs), pieces=1)
        check_pipelined(c, reqs)
        sender.finish(BOUND["io"])


def echo_roundtrip(srv, body, headers, raw_body, pieces=1 << 16):
    """POSTs raw_body (body, framed) to /echo while reading the answer."""
    with Conn.to(srv) as c:
        head = request("POST", "/echo", headers)
        sender = Sender(c.sock, head + raw_body, pieces=pieces)
        r = c.read_response()
        sender.finish(BOUND["io"])
        expect_eq(r.status, 200, "POST /echo status")
        problem = describe_mismatch(r.body, body, "echoed body")
        expect(problem is None, problem)
        c.send(request("GET", "/"))
        expect_eq(c.read_response().body, HELLO, "GET / after the echo, same connection")
        return r


@case("http", "echo-5mib-content-length")
def echo_5mib_content_length(ctx):
    body = os.urandom(5 << 20)
    r = echo_roundtrip(ctx.server(), body, [f"Content-Length: {len(body)}"], body)
    expect_eq(r.header("Content-Length"), str(len(body)), "Content-Length of the echo")


@case("http", "echo-chunked-odd-splits")
def echo_chunked_odd_splits(ctx):
    body = os.urandom(300000)
    raw = chunked(body, [1, 7, 300, 4096, 17, 65539, 2])
    # A chunk extension and a trailer, which the server must skip.
    raw = raw.replace(b"12c\r\n", b"12c;name=value\r\n", 1)
    raw = raw[:-2] + b"X-Trailer: yes\r\n\r\n"
    r = echo_roundtrip(ctx.server(), body, ["Transfer-Encoding: chunked"], raw,
                       pieces=[1, 2, 3, 5, 8, 13, 1000, 4, 16384, 7])
    expect(r.chunked, "expected the echo of a chunked body to be chunked")


@case("http", "echo-chunked-5mib")
def echo_chunked_5mib(ctx):
    body = os.urandom(5 << 20)
    echo_roundtrip(ctx.server(), body, ["Transfer-Encoding: chunked"],
                   chunked(body, [65536, 100000, 3]))


@case("http", "echo-empty-bodies")
def echo_empty_bodies(ctx):
    with Conn.to(ctx.server()) as c:
        for headers, raw in ((["Content-Length: 0"], b""), ([], b""),
                             (["Transfer-Encoding: chunked"], b"0\r\n\r\n")):
            c.send(request("POST", "/echo", headers) + raw)
            r = c.read_response()
            expect_eq((r.status, r.body), (200, b""), f"POST /echo with {headers or 'no body'}")
        c.send(request("GET", "/json"))
        expect_eq(c.read_response().body, JSON, "GET /json after the empty echoes")


@case("http", "bytes-64mib")
def bytes_64mib(ctx):
    n = 64 << 20
    with Conn.to(ctx.server()) as c:
        c.send(request("GET", f"/bytes?n={n}"))
        r = c.read_response()
        expect_eq(r.status, 200, "GET /bytes?n=64MiB status")
        problem = describe_mismatch(r.body, pattern(n))
        expect(problem is None, f"/bytes?n={n}: {problem}")


@case("http", "expect-100-continue")
def expect_100_continue(ctx):
    body = os.urandom(1000)
    with Conn.to(ctx.server()) as c:
        c.send(request("POST", "/echo", ["Expect: 100-continue", "Content-Length: 1000"]))
        interim = c.read_response(interim=True)
        expect_eq(interim.status, 100, "first answer to Expect: 100-continue (before the body)")
        c.send(body)
        r = c.read_response()
        expect_eq((r.status, r.body == body), (200, True), "POST /echo after 100 Continue")


@case("http", "expect-100-other-route")
def expect_100_other_route(ctx):
    # A route that reads the body before answering says "100 Continue" too, then answers
    # once the body has come, and keeps the connection.
    with Conn.to(ctx.server()) as c:
        c.send(request("GET", "/", ["Expect: 100-continue", "Content-Length: 100"]))
        interim = c.read_response(interim=True)
        expect_eq(interim.status, 100, "GET / with a body and Expect: 100-continue, first answer")
        c.send(b"x" * 100)
        expect_eq(c.read_response().body, b"Hello, World!", "GET / after its body")
        c.send(request("GET", "/json"))
        expect_eq(c.read_response().body, JSON, "the next request on that connection")
    # An error is answered at once, without "100 Continue", and the connection closed, since
    # the body we would have to skip may never come.
    with Conn.to(ctx.server()) as c:
        c.send(request("POST", "/json", ["Expect: 100-continue", "Content-Length: 100"]))
        r = c.read_response(interim=True)
        expect_eq(r.status, 405, "POST /json with Expect: 100-continue")
        problem = c.closed_by_peer()
        expect(problem is None, f"POST /json with Expect, body unsent: {problem}")


@case("http", "leading-empty-lines")
def leading_empty_lines(ctx):
    with Conn.to(ctx.server()) as c:
        c.send(b"\r\n\r\n" + request("GET", "/json"))
        expect_eq(c.read_response().body, JSON, "GET /json after two empty lines")


@case("http", "absolute-form-target")
def absolute_form_target(ctx):
    r = get(ctx.server(), "http://localhost:1/json")
    expect_eq((r.status, r.body), (200, JSON), "GET http://localhost:1/json")


# ---- Real clients ----

def curl(srv, *args, path):
    cmd = ["curl", "-sS", "--max-time", str(int(BOUND["io"] * 2)), *args,
           f"http://{srv.host}:{srv.port}{path}"]
    rc, out, err = tools.run(cmd, BOUND["io"] * 3)
    expect(rc == 0, f"curl {' '.join(args)} {path}: exit code {rc}: {err.strip()[-100:]}")
    return out, err


def curl_upload(ctx, headers, size):
    srv = ctx.server()
    data = os.urandom(size)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in"), os.path.join(tmp, "out")
        with open(src, "wb") as f:
            f.write(data)
        args = ["-v", "--data-binary", f"@{src}", "-o", dst]
        for h in headers:
            args += ["-H", h]
        out, err = curl(srv, *args, path="/echo")
        with open(dst, "rb") as f:
            got = f.read()
    problem = describe_mismatch(got, data, "curl's echoed body")
    expect(problem is None, problem)
    return err


@case("http", "curl-chunked-upload")
def curl_chunked_upload(ctx):
    err = curl_upload(ctx, ["Transfer-Encoding: chunked"], 1 << 20)
    expect("< Transfer-Encoding: chunked" in err, "expected curl to get a chunked answer")


@case("http", "curl-expect-100")
def curl_expect_100(ctx):
    err = curl_upload(ctx, ["Expect: 100-continue"], 2 << 20)
    expect("< HTTP/1.1 100 Continue" in err, "expected curl to see '100 Continue' before sending")


@case("http", "curl-head")
def curl_head(ctx):
    out, err = curl(ctx.server(), "-I", path="/json")
    expect(out.startswith("HTTP/1.1 200"), f"curl -I /json: expected 200, got {out[:20]!r}")
    expect(re.search(r"(?im)^content-length: 27\r?$", out), f"curl -I /json: expected "
                                                            f"Content-Length: 27 in {out!r}")


@case("http", "curl-http10")
def curl_http10(ctx):
    out, err = curl(ctx.server(), "--http1.0", path="/json")
    expect_eq(out.encode(), JSON, "curl --http1.0 /json")
