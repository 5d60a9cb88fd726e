"""Many connections at once from one thread: open them all, send each its request, read each
answer, with one epoll loop (selectors) instead of a thread per connection.

An Outcome is what one connection got: its bytes, and how it ended (answered, closed,
reset, or nothing within the bound). Classifying it is up to the caller.
"""
import errno
import selectors
import socket
import time

from check import Fail
from fixture import BOUND
from rawhttp import Conn, parse_head, decode_chunked


class Outcome:
    def __init__(self, sock, payload):
        self.sock = sock
        self.payload = memoryview(payload)
        self.sent = 0
        self.data = bytearray()
        self.eof = False
        self.reset = False
        self.done = False
        self.timed_out = False


def open_many(srv, n, bound=None):
    """n connections, all established at the same time. Raises Fail if some are not."""
    bound = bound or BOUND["io"] * 2
    socks, sel = [], selectors.DefaultSelector()
    try:
        for _ in range(n):
            s = socket.socket()
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(s)
            err = s.connect_ex((srv.host, srv.port))
            if err not in (0, errno.EINPROGRESS):
                raise Fail(f"connection {len(socks)} of {n}: connect failed: "
                           f"{errno.errorcode[err]}")
            sel.register(s, selectors.EVENT_WRITE)
        pending, deadline = n, time.monotonic() + bound
        while pending:
            events = sel.select(max(0.0, deadline - time.monotonic()))
            if not events:
                raise Fail(f"{pending} of {n} connections not established within {bound:.0f} s")
            for key, _ in events:
                err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise Fail(f"a connection of {n} failed: {errno.errorcode.get(err, err)}")
                sel.unregister(key.fileobj)
                pending -= 1
    except BaseException:
        close_all(socks)
        raise
    finally:
        sel.close()
    return socks


def close_all(socks):
    for s in socks:
        s.close()


def exchange(socks, payloads, complete, bound=None):
    """Sends payloads[i] on socks[i] and reads until complete(data) says the answer is whole,
    or the connection ends. Returns one Outcome per connection."""
    bound = bound or BOUND["io"] * 2
    outs = [Outcome(s, p) for s, p in zip(socks, payloads)]
    sel = selectors.DefaultSelector()
    for o in outs:
        sel.register(o.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if o.payload else 0), o)
    left, deadline = len(outs), time.monotonic() + bound
    while left:
        events = sel.select(max(0.0, deadline - time.monotonic()))
        if not events:
            break
        for key, mask in events:
            o = key.data
            if mask & selectors.EVENT_WRITE:
                try:
                    o.sent += o.sock.send(o.payload[o.sent:])
                except BlockingIOError:
                    pass
                except OSError:
                    o.sent = len(o.payload)   # refused already: read what it said
                if o.sent == len(o.payload):
                    sel.modify(o.sock, selectors.EVENT_READ, o)
            if mask & selectors.EVENT_READ:
                try:
                    chunk = o.sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    o.reset = True
                    chunk = b""
                if chunk:
                    o.data += chunk
                else:
                    o.eof = True
                if o.eof or complete(o.data):
                    o.done = True
                    sel.unregister(o.sock)
                    left -= 1
    for o in outs:
        if not o.done:
            o.timed_out = True
    sel.close()
    return outs


def http_response(data):
    """The response in data if it is complete (Content-Length or chunked), else None."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    resp = parse_head(bytes(data[:end]))
    if (resp.header("Transfer-Encoding") or "").lower() == "chunked":
        done = decode_chunked(data, end + 4)
        if not done:
            return None
        resp.body = done[0]
        return resp
    n = int(resp.header("Content-Length") or 0)
    if len(data) < end + 4 + n:
        return None
    resp.body = bytes(data[end + 4:end + 4 + n])
    return resp


def http_complete(data):
    return http_response(data) is not None


def classify_http(o, want_body):
    """("ok", None), ("refused", how) for a clean refusal (503 with Connection: close, or a
    close with nothing said), or ("bad", why)."""
    if o.timed_out:
        got = f"only {len(o.data)} bytes" if o.data else "nothing"
        return "bad", f"got {got} within {BOUND['io'] * 2:.0f} s"
    if not o.data:
        return ("refused", "reset") if o.reset else ("refused", "closed")
    try:
        r = http_response(o.data)
    except Fail as e:
        return "bad", str(e)
    if r is None:
        return "bad", f"the connection ended inside an answer ({bytes(o.data[:40])!r})"
    if r.status == 503 and r.closes():
        return "refused", "503"
    if r.status != 200 or r.body != want_body:
        return "bad", f"expected 200 and the right body, got {r.status} {r.body[:30]!r}"
    return "ok", None


def tally(results):
    """Counts of ok/refused/bad, and the first bad reason."""
    counts = {"ok": 0, "refused": 0, "bad": 0}
    first_bad = None
    for kind, why in results:
        counts[kind] += 1
        if kind == "bad" and first_bad is None:
            first_bad = why
    return counts, first_bad


def serves_again(srv, bound=None):
    """Polls until a fresh connection is served (a refused one may be retried: slots free up
    as the server notices closed connections). Returns None, or why it never was."""
    bound = bound or BOUND["io"]
    deadline, last = time.monotonic() + bound, None
    while time.monotonic() < deadline:
        try:
            with Conn.to(srv) as c:
                c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" if srv.proto == "http" else b"hello\n")
                if srv.proto == "http":
                    r = c.read_response()
                    if r.status == 200:
                        return None
                    last = f"got {r.status}"
                else:
                    while len(c.buf) < 6:
                        c.fill("the echo")
                    if bytes(c.buf) == b"hello\n":
                        return None
                    last = f"got {bytes(c.buf)!r}"
        except (Fail, OSError) as e:
            last = str(e)
        time.sleep(0.1)
    return f"a fresh connection was not served within {bound:.0f} s ({last})"
