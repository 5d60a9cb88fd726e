"""bad-input: malformed and hostile requests get a clear error and nothing else is lost.

After every case the suite checks that the server still serves a fresh connection.
"""
import os
import time

from cases_http import check_common_headers, HELLO, JSON
from check import case, expect, expect_eq, Fail, until_conclusive
from fixture import BOUND
from rawhttp import Conn, Sender, chunked, request, reset

# Sent right after a bad request: it must never be answered, because after an error that
# leaves the stream unframed nothing that follows can be trusted to be a request.
SMUGGLED = b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n"


def refused_and_closed(srv, raw, status, what, then=SMUGGLED):
    """Sends raw (and a request after it): one answer with status, then the connection closes."""
    with Conn.to(srv) as c:
        try:
            c.send(raw + then)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the server answered and closed before taking all of it: fine
        r = c.read_response()
        statuses = status if isinstance(status, tuple) else (status,)
        expect(r.status in statuses, f"{what}: expected {' or '.join(map(str, statuses))}, "
                                     f"got {r.status}")
        check_common_headers(r, what)
        expect(r.body.startswith(str(r.status).encode()),
               f"{what}: expected an error body like '{r.status} {r.reason}...', "
               f"got {r.body[:40]!r}")
        expect(r.closes(), f"{what}: expected 'Connection: close' on the {r.status}")
        problem = c.closed_by_peer()
        expect(problem is None, f"{what}: after the {r.status}: {problem}")


def refused_and_kept(srv, raw, status, what, allow=None):
    """Sends raw: an answer with status, and the connection goes on (a GET / after it works)."""
    with Conn.to(srv) as c:
        c.send(raw + request("GET", "/"))
        r = c.read_response()
        expect_eq(r.status, status, f"{what} status")
        check_common_headers(r, what)
        expect(r.body.startswith(f"{status} ".encode()),
               f"{what}: expected an error body like '{status} {r.reason}: why', "
               f"got {r.body[:40]!r}")
        if allow:
            expect_eq(r.header("Allow"), allow, f"{what}: Allow header")
        after = c.read_response()
        expect(after.status == 200 and after.body == HELLO,
               f"{what}: expected the connection to go on (GET / after it answered), got "
               f"{after.status} {after.body[:30]!r}")


@case("bad-input", "malformed-request-line")
def malformed_request_line(ctx):
    srv = ctx.server()
    for raw in (b"HELLO\r\n\r\n", b"GET /\r\n\r\n", b"GET / HTTP/1.1 extra\r\n\r\n",
                b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", b" GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / http/1.1\r\n\r\n",
                b"GET / HTTP/1.x\r\n\r\n", b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", b"GET\r\n\r\n",
                b"GET / HTTP/1\r\n\r\n", b"\x00\x00\x00\x00\r\n\r\n"):
        refused_and_closed(srv, raw, 400, f"request line {raw[:24]!r}")


@case("bad-input", "bare-lf-or-cr")
def bare_lf_or_cr(ctx):
    srv = ctx.server()
    for raw in (b"GET / HTTP/1.1\n\n", b"GET / HTTP/1.1\r\nHost: x\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", b"GET / HTTP/1.1\r\r\n\r\n"):
        refused_and_closed(srv, raw, 400, f"{raw!r}")


@case("bad-input", "malformed-header")
def malformed_header(ctx):
    srv = ctx.server()
    for line in (b"Host localhost", b"Host : x", b": empty-name", b"X: a\x00b", b"X(y): z",
                 b"X: a\x7fb"):
        refused_and_closed(srv, b"GET / HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n\r\n", 400,
                           f"header {line!r}")
    refused_and_closed(srv, b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n  folded\r\n\r\n", 400, "obs-fold header")


@case("bad-input", "bad-content-length")
def bad_content_length(ctx):
    srv = ctx.server()
    for value in (b"abc", b"-1", b"1 2", b"+5", b"0x10", b"", b"1,1", b"3.0"):
        refused_and_closed(srv, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + b"\r\n\r\nabc",
                           400, f"Content-Length: {value.decode()!r}")
    refused_and_closed(srv, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n"
                            b"\r\nabc", 400, "two Content-Length headers")


@case("bad-input", "content-length-and-chunked")
def content_length_and_chunked(ctx):
    # Two framings: a proxy may believe one and the server the other (request smuggling).
    srv = ctx.server()
    for heads in ((b"Content-Length: 5", b"Transfer-Encoding: chunked"),
                  (b"Transfer-Encoding: chunked", b"Content-Length: 5")):
        raw = b"POST /echo HTTP/1.1\r\nHost: x\r\n" + b"\r\n".join(heads) + b"\r\n\r\n0\r\n\r\n"
        refused_and_closed(srv, raw, 400, " + ".join(h.decode() for h in heads))


@case("bad-input", "chunked-with-http10")
def chunked_with_http10(ctx):
    raw = b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    refused_and_closed(ctx.server(), raw, 400, "Transfer-Encoding in HTTP/1.0")


@case("bad-input", "unknown-transfer-coding")
def unknown_transfer_coding(ctx):
    srv = ctx.server()
    for te in (b"gzip", b"gzip, chunked", b"identity"):
        raw = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te + b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        refused_and_closed(srv, raw, 501, f"Transfer-Encoding: {te.decode()}")


def malformed_chunk(srv, request_line, framing, what, must_be_400):
    """A bad chunk in a request's body: a 400, and the connection closed, with what follows
    ignored. Only an /echo whose answer has begun (its first chunk was well formed) may
    instead cut its chunked 200 short."""
    with Conn.to(srv) as c:
        c.send(request_line + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + framing +
               SMUGGLED)
        what = f"{request_line.decode()}, {what}"
        r = c.read_head()
        if r.status == 200 and not must_be_400:
            expect((r.header("Transfer-Encoding") or "").lower() == "chunked",
                   f"{what}: expected a 400, or a chunked 200 cut short; got an unchunked 200")
            complete, body = c.read_chunked_partial()
            expect(not complete, f"{what}: expected 400 or the echo cut short, got a complete "
                                 f"echo {body[:30]!r}")
            return
        expect_eq(r.status, 400, f"{what} status")
        c.read_body(r)
        problem = c.closed_by_peer()
        expect(problem is None, f"{what}: after the 400: {problem}")


# (framing, what is wrong, whether it is wrong already in the first chunk-size line)
MALFORMED_CHUNKS = (
    (b"zz\r\nabc\r\n0\r\n\r\n", "chunk size 'zz'", True),
    (b"5\r\nabc\r\n0\r\n\r\n", "chunk shorter than its size", False),
    (b"3\r\nabcdef\r\n0\r\n\r\n", "chunk longer than its size", False),
    (b"-1\r\nabc\r\n", "negative chunk size", True),
    (b"3\nabc\n0\n\n", "bare LF in chunk framing", True),
    (b"0" * 5000 + b"3\r\nabc\r\n0\r\n\r\n", "chunk size line over 4 KiB", True),
    (b"ffffffffffffffffff\r\n", "chunk size over 64 bits", True),
    (b"\r\nabc\r\n0\r\n\r\n", "empty chunk size", True),
)


@case("bad-input", "malformed-chunk")
def malformed_chunk_cases(ctx):
    srv = ctx.server()
    for framing, what, in_first_line in MALFORMED_CHUNKS:
        # A route that reads the whole request before it answers: always a 400.
        malformed_chunk(srv, b"GET /json", framing, what, must_be_400=True)
        # /echo answers once the first chunk proves well formed: until then, a 400.
        malformed_chunk(srv, b"POST /echo", framing, what, must_be_400=in_first_line)


@case("bad-input", "chunked-body-over-16mib-413")
def chunked_body_over_16mib_413(ctx):
    # A route that reads the body before answering can still say 413 for a chunked body.
    # The server answers 413 with body bytes still coming, and must not close at once: the
    # unread bytes would make its close a reset, which destroys the answer before the client
    # reads it. A server gives the client a while to read (net/http 0.5 s); a client that did
    # not read within it, on a loaded machine, sees nothing come back: that case runs again.
    body = b"x" * ((16 << 20) + 65536)

    def attempt():
        with Conn.to(ctx.server()) as c:
            sender = Sender(c.sock, b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                            b"\r\n\r\n" + chunked(body, [1 << 20]))
            asked = time.monotonic()
            try:
                r = c.read_response()
            except Fail as e:
                waited = time.monotonic() - asked
                sender.join(BOUND["io"])
                if c.buf:
                    raise
                return f"nothing came back in {waited:.2f} s: {e}"
            expect_eq(r.status, 413, "GET / with a chunked body over 16 MiB")
            problem = c.closed_by_peer()
            expect(problem is None, f"after the 413: {problem}")
            sender.join(BOUND["io"])   # it fails once the server closes; that is expected
            return None
    until_conclusive(ctx, attempt)


@case("bad-input", "chunked-body-over-16mib")
def chunked_body_over_16mib(ctx):
    # The answer began before the body ended, so no 413 can be sent: the echo is cut short.
    body = os.urandom((16 << 20) + 65536)
    with Conn.to(ctx.server()) as c:
        head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        sender = Sender(c.sock, head + chunked(body, [65536]))
        r = c.read_head()
        expect_eq(r.status, 200, "chunked /echo status")
        complete, _ = c.read_chunked_partial()
        expect(not complete, "expected the echo of a chunked body over 16 MiB cut short, it "
                             "completed")
        sender.join(BOUND["io"])   # it fails once the server closes; that is expected


@case("bad-input", "unknown-path-404")
def unknown_path_404(ctx):
    srv = ctx.server()
    for target in ("/nope", "/jsonx", "/json/", "/echo/1", "//", "/plaintext/"):
        refused_and_kept(srv, request("GET", target), 404, f"GET {target}")


@case("bad-input", "wrong-method-405")
def wrong_method_405(ctx):
    srv = ctx.server()
    get_head = "GET, HEAD"
    for method, target, allow in (("POST", "/", get_head), ("PUT", "/json", get_head),
                                  ("DELETE", "/bytes?n=1", get_head), ("GET", "/echo", "POST"),
                                  ("HEAD", "/echo", "POST"), ("OPTIONS", "/plaintext", get_head)):
        raw = request(method, target)
        if method == "HEAD":
            head_405(srv, raw, allow)
        else:
            refused_and_kept(srv, raw, 405, f"{method} {target}", allow)
    # The body of a refused request is skipped, not taken for the next request.
    refused_and_kept(srv, request("POST", "/json", body=SMUGGLED * 50), 405, "POST /json + body",
                     "GET, HEAD")
    refused_and_kept(srv, request("POST", "/", ["Transfer-Encoding: chunked"],
                                  chunked(SMUGGLED * 50, [7, 100])), 405,
                     "POST / + chunked body", "GET, HEAD")


def head_405(srv, raw, allow):
    with Conn.to(srv) as c:
        c.send(raw + request("GET", "/"))
        r = c.read_response(head_only=True)
        expect_eq((r.status, r.header("Allow")), (405, allow), "HEAD /echo status and Allow")
        expect_eq(c.read_response().body, HELLO, "GET / after HEAD /echo (405, no body)")


@case("bad-input", "host-required")
def host_required(ctx):
    """RFC 9112 §3.2: an HTTP/1.1 request without Host, with two, or with one that is not a
    host and port is a 400. HTTP/1.0 may leave it out (a request typed by hand with nc)."""
    srv = ctx.server()
    refused_and_closed(srv, request("GET", "/json", host=None), 400, "HTTP/1.1 without Host")
    refused_and_closed(srv, request("POST", "/echo", ["Content-Length: 3"], host=None) + b"abc",
                       400, "HTTP/1.1 POST without Host")
    refused_and_closed(srv, request("GET", "/json", ["Host: a", "Host: a"]), 400, "two Host")
    for value in ("a b", "a/b", "user@a", "a\tb"):
        refused_and_closed(srv, request("GET", "/json", [f"Host: {value}"]), 400,
                           f"Host: {value!r}")
    for raw, what in ((request("GET", "/json", version="HTTP/1.0"), "HTTP/1.0 without Host"),
                      (request("GET", "/json", ["Host: 127.0.0.1:8080"]), "Host with a port"),
                      (request("GET", "/json", ["Host: [::1]:80"]), "Host, an IPv6 literal"),
                      (request("GET", "/json", ["Host:"]), "an empty Host (RFC 9110 §7.2)")):
        with Conn.to(srv) as c:
            c.send(raw)
            r = c.read_response()
            expect_eq((r.status, r.body), (200, JSON), what)


@case("bad-input", "request-target-forms")
def request_target_forms(ctx):
    """RFC 9112 §3.2: a target is origin-form ("/p"), absolute-form ("http://h/p": the path
    is served), authority-form (CONNECT only) or asterisk-form (OPTIONS only); anything else
    is a 400 that closes the connection."""
    srv = ctx.server()
    for method, target in (("GET", "foo"), ("GET", "json"), ("GET", "./json"), ("GET", "?n=1"),
                           ("GET", "*"), ("OPTIONS", "*x"), ("GET", "localhost:80"),
                           ("CONNECT", "/"), ("CONNECT", "localhost"), ("GET", "http:/json"),
                           ("GET", "http:///json")):
        refused_and_closed(srv, request(method, target), 400, f"{method} {target}")
    for target in ("http://localhost/json", "HTTP://127.0.0.1:9/json?x=1", "https://h/json"):
        with Conn.to(srv) as c:
            c.send(request("GET", target))
            r = c.read_response()
            expect_eq((r.status, r.body), (200, JSON), f"GET {target}")
    # In their own forms, OPTIONS * and CONNECT are well-formed requests for resources this
    # server does not have: an error, not a 400, and the connection goes on.
    for method, target in (("OPTIONS", "*"), ("CONNECT", "localhost:443")):
        with Conn.to(srv) as c:
            c.send(request(method, target) + request("GET", "/json"))
            r = c.read_response()
            expect(r.status not in (400, 200), f"{method} {target}: expected an error other than "
                                               f"400 (it is well formed), got {r.status}")
            expect_eq(c.read_response().body, JSON, f"GET /json after {method} {target}")


@case("bad-input", "unknown-method-501")
def unknown_method_501(ctx):
    srv = ctx.server()
    for method in (b"BREW", b"get", b"Get", b"PROPFIND"):
        refused_and_closed(srv, method + b" / HTTP/1.1\r\nHost: x\r\n\r\n", 501, f"method {method.decode()}")


@case("bad-input", "body-over-16mib-413")
def body_over_16mib_413(ctx):
    # Decided from the header: the body is never sent, and the answer must come anyway.
    srv = ctx.server()
    for target, length in (("/echo", (16 << 20) + 1), ("/echo", 99999999999999999999999),
                           ("/json", 1 << 30)):
        raw = f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()
        refused_and_closed(srv, raw, 413, f"POST {target} with Content-Length {length}", then=b"")
    # 16 MiB itself is allowed: the route answers (405 here), not the size limit.
    with Conn.to(srv) as c:
        c.send(f"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: {16 << 20}\r\n\r\n".encode())
        expect_eq(c.read_response().status, 405, "POST /json with a body of exactly 16 MiB")


@case("bad-input", "target-over-8k-414")
def target_over_8k_414(ctx):
    srv = ctx.server()
    refused_and_closed(srv, request("GET", "/" + "a" * 9000), 414, "a 9001-byte target")
    # The request line never ends: the server must not wait for it.
    refused_and_closed(srv, b"GET /" + b"b" * 9000, 414, "an unfinished 9001-byte target",
                       then=b"")
    refused_and_kept(srv, request("GET", "/" + "c" * 7999), 404, "an 8000-byte target")


@case("bad-input", "head-over-8k-431")
def head_over_8k_431(ctx):
    srv = ctx.server()
    refused_and_closed(srv, request("GET", "/", ["X-Big: " + "x" * 9000]), 431,
                       "a 9 KiB header")
    many = [f"X-H{i}: {'y' * 100}" for i in range(90)]
    refused_and_closed(srv, request("GET", "/", many), 431, "90 headers, 9 KiB in all")
    refused_and_closed(srv, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"z" * 9000, 431,
                       "an unfinished 9 KiB head", then=b"")
    refused_and_closed(srv, request("GET", "/", [f"X-{i}: v" for i in range(64)]), 431,
                       "65 header fields (Host and 64 more)")
    # Under the limits: served.
    for headers, what in (([f"X-{i}: v" for i in range(63)], "64 header fields (Host and 63)"),
                          (["X-Big: " + "x" * 7900], "a 7.9 KiB head")):
        with Conn.to(srv) as c:
            c.send(request("GET", "/json", headers))
            expect_eq(c.read_response().body, JSON, what)


@case("bad-input", "version-505")
def version_505(ctx):
    srv = ctx.server()
    for version in (b"HTTP/2.0", b"HTTP/1.2", b"HTTP/0.9", b"HTTP/3.0", b"HTTP/9.9"):
        refused_and_closed(srv, b"GET / " + version + b"\r\n\r\n", 505, version.decode())


@case("bad-input", "bad-route-parameter-400")
def bad_route_parameter_400(ctx):
    srv = ctx.server()
    for target in ("/bytes", "/bytes?n=", "/bytes?n=abc", "/bytes?n=-1", "/bytes?n=67108865",
                   "/bytes?n=1.5", "/bytes?n=99999999999999999999999", "/bytes?m=5",
                   "/work?us=1000001", "/work", "/sleep?ms=60001", "/sleep?ms=-5", "/sleep?ms=1e3",
                   "/block?ms=60001", "/block", "/block?ms=+5"):
        refused_and_kept(srv, request("GET", target), 400, f"GET {target}")


@case("bad-input", "too-many-empty-lines")
def too_many_empty_lines(ctx):
    refused_and_closed(ctx.server(), b"\r\n" * 5 + request("GET", "/"), 400,
                       "five empty lines before a request")


@case("bad-input", "random-garbage")
def random_garbage(ctx):
    srv = ctx.server()
    rnd = os.urandom(65536)
    tls_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
    h2_preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    for raw in (rnd.replace(b"\n", b"."), rnd, tls_hello + rnd, h2_preface):
        refused_and_closed(srv, raw, (400, 414, 431, 501, 505), f"garbage {raw[:12]!r}", then=b"")


@case("bad-input", "byte-at-a-time")
def byte_at_a_time(ctx):
    with Conn.to(ctx.server()) as c:
        c.send_slowly(request("GET", "/json", ["Host: localhost", "Accept: */*"]))
        expect_eq(c.read_response().body, JSON, "GET /json sent a byte at a time")
        body = os.urandom(300)
        sender = Sender(c.sock, request("POST", "/echo", body=body), pieces=1)
        expect_eq(c.read_response().body, body, "POST /echo sent a byte at a time")
        sender.finish(BOUND["io"])


@case("bad-input", "client-resets")
def client_resets(ctx):
    # Clients that vanish (SO_LINGER 0: a reset) at every stage of a request.
    srv = ctx.server()
    for _ in range(5):
        s = srv.connect()
        s.sendall(b"GET /json HTTP/1.1\r\nHost: loc")
        reset(s)
        s = srv.connect()
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + os.urandom(100000))
        reset(s)
        s = srv.connect()
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\n" +
                  os.urandom(3000))
        reset(s)
        s = srv.connect()
        s.sendall(request("GET", "/bytes?n=67108864"))
        s.recv(100000)
        reset(s)
        s = srv.connect()
        s.sendall(request("GET", "/sleep?ms=200"))
        reset(s)
        s = srv.connect()
        reset(s)
    time.sleep(0.3)   # let the /sleep ones wake up to a connection that is gone


@case("bad-input", "client-never-reads")
def client_never_reads(ctx):
    srv = ctx.server()
    hog = srv.connect(small_buffers=True)
    hog.sendall(request("GET", "/bytes?n=67108864") + request("GET", "/json") * 1000)
    with Conn.to(srv) as c:
        c.send(request("GET", "/json"))
        expect_eq(c.read_response().body, JSON, "GET /json while another client never reads")
    hog.close()


@case("bad-input", "silent-and-half-sent")
def silent_and_half_sent(ctx):
    srv = ctx.server()
    silent = [srv.connect() for _ in range(5)]
    half = []
    for partial in (b"GET / HTTP/1.1\r\nHost", b"GET /js", b"POST /echo HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: 100\r\n\r\nabc", b"POST /echo HTTP/1.1\r\nHost: x\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n10\r\nab"):
        s = srv.connect()
        s.sendall(partial)
        half.append(s)
    with Conn.to(srv) as c:
        c.send(request("GET", "/json"))
        expect_eq(c.read_response().body, JSON, "GET /json beside silent and half-sent clients")
    for s in silent + half:
        s.close()


@case("bad-input", "many-slow-clients", heavy=True)
def many_slow_clients(ctx):
    srv = ctx.server()
    slow = []
    try:
        for i in range(200):
            s = srv.connect()
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * (i % 50))
            slow.append(s)
        with Conn.to(srv) as c:
            c.send(request("GET", "/json"))
            expect_eq(c.read_response().body, JSON, "GET /json beside 200 unfinished requests")
        for s in slow[:50]:   # and they are still served when they finish
            s.sendall(b"\r\n\r\n")
        for i, s in enumerate(slow[:50]):
            c = Conn(s)
            r = c.read_response()
            expect_eq((r.status, r.body), (200, HELLO), f"slow client {i + 1}, request finished")
    finally:
        for s in slow:
            s.close()
