"""basic: the command line, the start-up line, and each route answering right once."""
import os
import signal
import socket
import time

import tools
from check import case, expect, expect_eq
from fixture import BOUND
from rawhttp import Conn, get, pattern, request


def run_cli(ctx, *args):
    """Runs the binary with args to its end. Returns (exit code, stdout, stderr)."""
    return tools.run([ctx.binary, *args], BOUND["start"],
                     f"'{' '.join(args)}' (expected to exit at once)")


def check_usage_error(ctx, args, named):
    """A bad command line: exit code 2, a first line on stderr naming the problem (the option
    or the value `named`), then the usage; nothing started."""
    rc, out, err = run_cli(ctx, *args)
    shown = " ".join(args)
    expect(rc == 2, f"{shown}: expected exit code 2, got {rc}")
    lines = err.splitlines()
    expect(lines, f"{shown}: expected an error on stderr, got nothing")
    expect(named in lines[0],
           f"{shown}: expected the first stderr line to name {named!r}, got {lines[0]!r}")
    expect("usage" in err.lower(), f"{shown}: expected the usage on stderr after the error")
    expect("listening on" not in out, f"{shown}: expected no server started, it printed {out!r}")


@case("basic", "help", proto=None)
def help_text(ctx):
    rc, out, err = run_cli(ctx, "--help")
    expect_eq(rc, 0, "--help exit code")
    expect("usage" in out.lower(), f"--help: expected the usage on stdout, got {out[:60]!r}")
    for opt in ("--host", "--port", "--proto", "--workers", "--max-conns", "--idle-timeout",
                "--header-timeout", "--help", "--version"):
        expect(opt in out, f"--help: expected it to mention {opt}")
    # The defaults: each option's own line shows its value.
    for opt, default in (("--host", "127.0.0.1"), ("--port", "8080"), ("--idle-timeout", "60"),
                         ("--header-timeout", "10"),
                         ("--max-conns", None), ("--workers", None)):
        lines = [ln for ln in out.splitlines() if opt in ln and "usage" not in ln.lower()]
        shown = [ln for ln in lines if default in ln] if default else \
            [ln for ln in lines if any(ch.isdigit() for ch in ln)]
        expect(shown, f"--help: expected the default of {opt} ({default or 'a number'}) on its "
                      f"line, got {lines[:1]}")


@case("basic", "version", proto=None)
def version(ctx):
    rc, out, err = run_cli(ctx, "--version")
    expect_eq(rc, 0, "--version exit code")
    expect(any(ch.isdigit() for ch in out), f"--version: expected a version number, got {out!r}")


# Bad command lines, one case each: (case, [(arguments, what the error line must name)]).
# "--port 0" goes first, so that a binary that takes the bad option anyway does not try 8080.
BAD_COMMAND_LINES = [
    ("bad-option-unknown", [(["--bogus"], "--bogus"), (["-z"], "-z")]),
    ("bad-option-port", [(["--port", v], "--port") for v in ("70000", "abc", "-1", "80x", "", " 80", "+80")]),
    ("bad-option-proto", [(["--port", "0", "--proto", v], "--proto")
                          for v in ("smtp", "HTTPS", "")]),
    ("bad-option-workers", [(["--port", "0", "--workers", v], "--workers")
                            for v in ("0", "many", "-3")]),
    ("bad-option-max-conns", [(["--port", "0", "--max-conns", v], "--max-conns")
                              for v in ("lots", "-5", "1e3")]),
    ("bad-option-idle-timeout", [(["--port", "0", "--idle-timeout", v], "--idle-timeout")
                                 for v in ("soon", "-1", "1.5")]),
    ("bad-option-header-timeout", [(["--port", "0", "--header-timeout", v], "--header-timeout")
                                   for v in ("soon", "-1", "1.5", "86401", "")]),
    ("bad-option-host", [(["--port", "0", "--host", "not an address"], "not an address")]),
    ("bad-option-missing-value", [(["--port", "0", "--max-conns"], "--max-conns")]),
    ("bad-option-extra-argument", [(["--port", "0", "stray"], "stray")]),
]


def refuses_all(tries):
    def run(ctx):
        for args, named in tries:
            check_usage_error(ctx, args, named)
    return run


for name, tries in BAD_COMMAND_LINES:
    case("basic", name, proto=None)(refuses_all(tries))


@case("basic", "startup-line")
def startup_line(ctx):
    srv = ctx.server()
    line = srv.stdout_lines[0]
    expect(line.startswith(f"listening on 127.0.0.1:{srv.port}"),
           f"expected 'listening on 127.0.0.1:PORT', got {line!r}")
    name = os.path.basename(ctx.binary)
    expect(f"({name}, " in line,
           f"expected the line to name the model, '({name}, PROTO, pid N)', got {line!r}")
    expect(srv.port != 0, "expected --port 0 to take a free port, the line says port 0")
    expect_eq(get(srv, "/").status, 200, "GET / status")
    srv.signal(signal.SIGTERM)
    rc = srv.wait_exit(BOUND["exit"])
    expect(rc is not None, "expected the server to exit on SIGTERM")
    srv.kill()   # collects the rest of stdout
    expect(len(srv.stdout_lines) == 1,
           f"expected exactly one line on stdout, got {len(srv.stdout_lines)}: "
           f"{srv.stdout_lines[:3]}")


def socket_inodes(pids):
    """The inodes of the sockets the processes pids hold open (fd -> 'socket:[INODE]')."""
    inodes = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    return inodes


def listening_sockets(srv):
    """Local addresses (hex, as in /proc/net/tcp*) of the server's own sockets listening on its
    port. Only its own (and its children's): the table holds every socket of the machine, and
    another program may listen on the same port number at another address."""
    own = socket_inodes([srv.pid] + [p for p, _ in srv.descendants()])
    found = []
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{srv.pid}/net/{table}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            addr, hex_port = fields[1].split(":")
            if int(hex_port, 16) == srv.port and fields[3] == "0A" and fields[9] in own:
                found.append(addr)   # 0A: LISTEN; fields[9]: the socket's inode
    return found


@case("basic", "default-host-loopback")
def default_host_loopback(ctx):
    srv = ctx.server()
    addrs = listening_sockets(srv)
    expect(addrs, f"expected a socket listening on port {srv.port}, found none")
    # One socket per worker (epoll --workers with SO_REUSEPORT) is still 127.0.0.1 only.
    expect(set(addrs) == {"0100007F"},
           f"expected it to listen on 127.0.0.1 only, it listens on {addrs} "
           f"(0100007F is 127.0.0.1; zeros are every interface)")


@case("basic", "host-option")
def host_option(ctx):
    srv = ctx.server("--host", "127.0.0.2")
    expect(srv.stdout_lines[0].startswith(f"listening on 127.0.0.2:{srv.port}"),
           f"expected 'listening on 127.0.0.2:PORT', got {srv.stdout_lines[0]!r}")
    expect_eq(get(srv, "/").status, 200, "GET / on 127.0.0.2")
    # Its own sockets, not a connection to 127.0.0.1: another program may listen there on
    # the same port number.
    addrs = listening_sockets(srv)
    expect(addrs, f"expected a socket listening on port {srv.port}, found none")
    expect(set(addrs) == {"0200007F"},
           f"expected it to listen on 127.0.0.2 only with --host 127.0.0.2, it listens on "
           f"{addrs} (0200007F is 127.0.0.2, 0100007F 127.0.0.1, zeros every interface)")


@case("basic", "port-in-use", proto=None)
def port_in_use(ctx):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = str(taken.getsockname()[1])
        rc, out, err = run_cli(ctx, "--port", port)
    finally:
        taken.close()
    expect(rc == 1, f"expected exit code 1 (runtime failure) for a port in use, got {rc}")
    expect(err.strip(), "expected an error on stderr for a port in use, got nothing")
    expect("listening on" not in out, f"expected no 'listening on' line, got {out!r}")


def check_text(resp, status, ctype, body, what):
    expect_eq(resp.status, status, f"{what} status")
    got_type = (resp.header("Content-Type") or "").split(";")[0].strip()
    expect_eq(got_type, ctype, f"{what} Content-Type")
    expect_eq(resp.body, body, f"{what} body")


@case("basic", "get-root")
def get_root(ctx):
    check_text(get(ctx.server(), "/"), 200, "text/plain", b"Hello, World!", "GET /")


@case("basic", "get-plaintext")
def get_plaintext(ctx):
    check_text(get(ctx.server(), "/plaintext"), 200, "text/plain", b"Hello, World!",
               "GET /plaintext")


@case("basic", "get-json")
def get_json(ctx):
    check_text(get(ctx.server(), "/json"), 200, "application/json",
               b'{"message":"Hello, World!"}', "GET /json")


@case("basic", "post-echo")
def post_echo(ctx):
    body = b"ping \x00\xff\r\n pong"
    r = get(ctx.server(), "/echo", method="POST", body=body)
    expect_eq(r.status, 200, "POST /echo status")
    expect_eq(r.body, body, "POST /echo body")


@case("basic", "get-bytes")
def get_bytes(ctx):
    srv = ctx.server()
    with Conn.to(srv) as c:
        for n in (0, 1, 63, 64, 65, 1000, 100000, (1 << 20) + 7):
            c.send(request("GET", f"/bytes?n={n}"))
            r = c.read_response()
            expect_eq(r.status, 200, f"/bytes?n={n} status")
            expect(r.body == pattern(n), f"/bytes?n={n}: expected {n} bytes of the pattern, got "
                                         f"{len(r.body)} bytes starting {r.body[:20]!r}")


@case("basic", "get-work")
def get_work(ctx):
    check_text(get(ctx.server(), "/work?us=2000"), 200, "text/plain", b"worked 2000 us\n",
               "GET /work?us=2000")


def answered_no_sooner(srv, route, ms, body):
    """GET route?ms=N answers with body, and not before N ms: a lower bound is behaviour, not
    speed (the answer may come as late as the machine makes it)."""
    target = f"/{route}?ms={ms}"
    t0 = time.monotonic()
    r = get(srv, target)
    took = time.monotonic() - t0
    check_text(r, 200, "text/plain", body, f"GET {target}")
    expect(took >= ms / 1000 - 0.01, f"expected the answer after {ms} ms at the earliest, it "
                                     f"came after {took * 1000:.0f} ms")


@case("basic", "get-sleep")
def get_sleep(ctx):
    answered_no_sooner(ctx.server(), "sleep", 300, b"slept 300 ms\n")


@case("basic", "get-block")
def get_block(ctx):
    answered_no_sooner(ctx.server(), "block", 200, b"blocked 200 ms\n")
