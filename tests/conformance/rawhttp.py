"""HTTP/1.1 over raw sockets: we write the exact bytes a test needs (malformed ones too) and
parse what comes back strictly enough to notice a wrong answer.

A Conn keeps the bytes read past one response, so pipelined answers are taken one by one.
Every read has a bound (the socket's timeout), so a silent server is a failure, not a hang.
"""
import re
import socket
import struct
import threading
from contextlib import contextmanager

from check import Fail

PATTERN_LINE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-\n"
assert len(PATTERN_LINE) == 64


def pattern(n):
    """The /bytes body: byte i is PATTERN_LINE[i % 64]."""
    return (PATTERN_LINE * (n // 64 + 1))[:n]


def first_difference(got, want):
    n = min(len(got), len(want))
    for i in range(0, n, 4096):
        if got[i:i + 4096] != want[i:i + 4096]:
            for j in range(i, min(i + 4096, n)):
                if got[j] != want[j]:
                    return j
    return n


def describe_mismatch(got, want, what="body"):
    if got == want:
        return None
    if len(got) != len(want) and got == want[:len(got)]:
        return f"{what}: expected {len(want)} bytes, got only the first {len(got)}"
    at = first_difference(got, want)
    return (f"{what}: expected {len(want)} bytes, got {len(got)}, first difference at byte {at} "
            f"(expected {bytes(want[at:at + 12])!r}, got {bytes(got[at:at + 12])!r})")


class Response:
    def __init__(self, version, status, reason, headers):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers       # [(name, value)], in order
        self.body = b""
        self.chunked = False

    def header(self, name):
        """The value of the only header called name (any case), None if absent."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def closes(self):
        conn = (self.header("Connection") or "").lower()
        return "close" in [t.strip() for t in conn.split(",")]

    def __repr__(self):
        return f"<{self.status} {self.reason} {len(self.body)} bytes>"


def parse_head(raw):
    """Parses a response head (without its final empty line). Raises Fail if malformed."""
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise Fail(f"expected a status line, got {lines[0][:60]!r}")
    headers = []
    for line in lines[1:]:
        if ":" not in line or line[0] in " \t":
            raise Fail(f"malformed response header line {line[:60]!r}")
        name, value = line.split(":", 1)
        headers.append((name, value.strip(" \t")))
    return Response(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", headers)


def decode_chunked(buf, pos):
    """Decodes a chunked body at buf[pos:]. Returns (body, end) once complete, None if more
    bytes are needed. Raises Fail on bad framing."""
    pieces = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_text = bytes(buf[pos:eol]).split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise Fail(f"malformed chunk size line {bytes(buf[pos:eol])[:40]!r} in the response")
        if size == 0:
            # No trailers from our server: the last chunk is followed by the empty line.
            end = buf.find(b"\r\n", eol + 2)
            if end < 0:
                return None
            return b"".join(pieces), end + 2
        if len(buf) < eol + 2 + size + 2:
            return None
        pieces.append(bytes(buf[eol + 2:eol + 2 + size]))
        if buf[eol + 2 + size:eol + 4 + size] != b"\r\n":
            raise Fail("chunk data not followed by CRLF in the response")
        pos = eol + 4 + size


REQUEST_LINE = re.compile(rb"^([A-Z]+ \S+) HTTP/1\.\d\r?$", re.M)


def describe_sent(data):
    """What data is, in a few words: "GET /json", "POST /echo and 3 more requests", "5 bytes
    (b'ping\\n')"."""
    lines = REQUEST_LINE.findall(bytes(data[:1 << 16]))
    if lines and data.startswith(lines[0]):
        more = len(lines) - 1
        first = lines[0].decode("latin-1")
        return first + (f" and {more} more request{'s' * (more > 1)}" if more else "")
    return f"{nbytes(len(data))} ({bytes(data[:20])!r}{'...' * (len(data) > 20)})"


def describe_got(buf):
    return f"{nbytes(len(buf))} ({bytes(buf[:60])!r}{'...' * (len(buf) > 60)})"


def nbytes(n):
    return "1 byte" if n == 1 else f"{n} bytes"


class Conn:
    """One client connection. All reads are bounded by the socket's timeout. A failure says
    what was last sent on it, what was expected back, and what came."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False
        self.sent = None     # what was last sent, in a few words

    @classmethod
    def to(cls, server, timeout=None):
        return cls(server.connect(timeout))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sent = describe_sent(data)
        self.sock.sendall(data)

    def send_slowly(self, data, piece=1):
        self.sent = describe_sent(data) + f", {piece} byte{'s' * (piece > 1)} at a time"
        for i in range(0, len(data), piece):
            self.sock.sendall(data[i:i + piece])

    def failed(self, what, ending=None):
        """Fail: "sent X, expected `what`, got ...": the bytes that came if any, then how it
        ended (ending: "the server closed the connection"; None: the time-out passed)."""
        sent = f"sent {self.sent}, " if self.sent else ""
        got = f"only {describe_got(self.buf)}" if self.buf else "nothing"
        if ending:
            got += f", then {ending}" if self.buf else f": {ending}"
        else:
            got += f" within {self.sock.gettimeout():.0f} s"
        return Fail(f"{sent}expected {what}, got {got}")

    def fill(self, what):
        """Reads more into buf. what: what we wait for ("a response"). Raises Fail at EOF or
        on a time-out."""
        if self.eof:
            raise self.failed(what, "the server had closed the connection")
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            raise self.failed(what)
        except ConnectionResetError:
            self.eof = True
            raise self.failed(what, "the server reset the connection")
        if not data:
            self.eof = True
            raise self.failed(what, "the server closed the connection")
        self.buf += data

    def read_response(self, head_only=False, interim=False):
        """Reads one response. head_only: it answers a HEAD (no body follows). interim: return
        a 1xx answer too (otherwise they are skipped)."""
        resp = self.read_head(interim)
        if not head_only and resp.status >= 200:
            self.read_body(resp)
        return resp

    def read_head(self, interim=False):
        """Reads a response's status line and headers, and no further."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            while end < 0:
                if len(self.buf) > 65536:
                    raise Fail("response head over 64 KiB")
                self.fill("a response")
                end = self.buf.find(b"\r\n\r\n")
            resp = parse_head(bytes(self.buf[:end]))
            del self.buf[:end + 4]
            if resp.status >= 200 or interim:
                return resp

    def read_body(self, resp):
        """Reads the body of resp, framed as its headers say."""
        if resp.status in (204, 304):
            return resp
        te = (resp.header("Transfer-Encoding") or "").lower()
        cl = resp.header("Content-Length")
        if te:
            if te != "chunked":
                raise Fail(f"unexpected Transfer-Encoding {te!r}")
            resp.chunked = True
            while True:
                done = decode_chunked(self.buf, 0)
                if done:
                    resp.body, used = done
                    del self.buf[:used]
                    return resp
                self.fill("the rest of a chunked body")
        if cl is not None:
            if not cl.isdigit():
                raise Fail(f"bad Content-Length in the response: {cl!r}")
            n = int(cl)
            while len(self.buf) < n:
                self.fill(f"the rest of a {n}-byte body")
            resp.body = bytes(self.buf[:n])
            del self.buf[:n]
            return resp
        # Delimited by the end of the connection.
        while True:
            try:
                self.fill("the rest of a body that ends at the close")
            except Fail:
                if not self.eof:
                    raise
                resp.body = bytes(self.buf)
                self.buf.clear()
                return resp

    def read_chunked_partial(self):
        """For a chunked answer the server cut short: reads until EOF and returns
        (complete, body so far). complete: the last chunk came."""
        while True:
            done = decode_chunked(self.buf, 0)
            if done:
                return True, done[0]
            try:
                self.fill("the end of a chunked body")
            except Fail:
                if not self.eof:
                    raise
                return False, b""

    def closed_by_peer(self, timeout=None):
        """Waits for the server to close: returns None when it has closed (EOF or reset) with
        nothing more sent, or a reason otherwise."""
        old = self.sock.gettimeout()
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            sent = f"sent {self.sent}, " if self.sent else ""
            while True:
                if self.buf:
                    return (f"{sent}expected the server to close the connection, got "
                            f"{describe_got(self.buf)} instead")
                if self.eof:
                    return None
                try:
                    data = self.sock.recv(65536)
                except socket.timeout:
                    return (f"{sent}expected the server to close the connection, it stayed "
                            f"open {self.sock.gettimeout():.0f} s")
                except ConnectionResetError:
                    return None
                if not data:
                    self.eof = True
                else:
                    self.buf += data
        finally:
            self.sock.settimeout(old)

    def nothing_pending(self):
        """True if no byte has arrived (and no EOF): the server is still working on it."""
        if self.buf or self.eof:
            return False
        old = self.sock.gettimeout()
        self.sock.setblocking(False)
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return True
        except ConnectionResetError:
            self.eof = True
            return False
        finally:
            self.sock.settimeout(old)
        if not data:
            self.eof = True
        self.buf += data
        return False


@contextmanager
def connections(server, n):
    """n connections (Conn) to server, all closed when the block ends, however it ends."""
    opened = []
    try:
        for _ in range(n):
            opened.append(Conn.to(server))
        yield opened
    finally:
        for c in opened:
            c.close()


def request(method, target, headers=(), body=b"", version="HTTP/1.1", host="x"):
    """The bytes of one request. An HTTP/1.1 request gets a Host, as every client sends (the
    server must refuse one without: host=None leaves it out), unless the headers have one. A
    body gets a Content-Length unless the headers frame it."""
    lines = [f"{method} {target} {version}"]
    names = [h.split(":", 1)[0].lower() for h in headers]
    if version == "HTTP/1.1" and host is not None and "host" not in names:
        lines.append(f"Host: {host}")
    lines += headers
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(data, sizes):
    """data framed as chunks of the given sizes (cycled), with the last chunk."""
    out, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        k += 1
        piece = data[i:i + n]
        out.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
        i += n
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def get(server, target, headers=(), method="GET", body=b"", version="HTTP/1.1"):
    """One request on a fresh connection; returns the response."""
    with Conn.to(server) as c:
        c.send(request(method, target, headers, body, version))
        return c.read_response(head_only=method == "HEAD")


class Sender(threading.Thread):
    """Writes data on a socket in the background while the test reads the answer, because a
    server with back-pressure stops reading until its answers are read. pieces: the size of
    each write, an int or a list of sizes used in turn (to split the data in odd places)."""

    def __init__(self, sock, data, pieces=1 << 16, then_shutdown=False):
        super().__init__(daemon=True)
        self.sock, self.data = sock, data
        self.pieces = pieces if isinstance(pieces, (list, tuple)) else [pieces]
        self.then_shutdown = then_shutdown
        self.error = None
        self.start()

    def run(self):
        try:
            view = memoryview(self.data)
            i = k = 0
            while i < len(view):
                n = self.pieces[k % len(self.pieces)]
                k += 1
                self.sock.sendall(view[i:i + n])
                i += n
            if self.then_shutdown:
                self.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.error = e

    def finish(self, timeout):
        self.join(timeout)
        if self.is_alive():
            raise Fail(f"could not send the request body within {timeout:.0f} s")
        if self.error:
            raise Fail(f"sending the request failed: {self.error}")


def reset(sock):
    """Closes with SO_LINGER 0: the peer sees a reset, not an orderly close."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
