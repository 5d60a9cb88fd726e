#!/usr/bin/env python3
"""epoll --workers: where connections land, and --workers 1 being today's model.

  tests/workers/spread.py BINARY        (build/bin/epoll)

- --workers 2: 40 connections, each served a request, then SIGTERM: the server's last line
  on stderr, "epoll: connections per worker: A B", must count all 40, and both workers must
  have some (SO_REUSEPORT hashes each connection's addresses: all 40 on one worker has odds
  of 2^-39).
- --workers 1: one thread, one listening socket, and no such line.

Prints PASS or FAIL lines; exits 1 on a failure. No timing is asserted.
"""
import os
import re
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
from fixture import BOUND, Server  # noqa: E402
from rawhttp import get  # noqa: E402
from cases_basic import listening_sockets  # noqa: E402

PER_WORKER = re.compile(r"^epoll: connections per worker:((?: \d+)+)$")
CONNS = 40


def served(srv, n):
    for i in range(n):
        status = get(srv, "/plaintext").status   # a connection of its own each time
        if status != 200:
            return f"connection {i + 1}: status {status}"
    return None


def stop(srv):
    srv.signal(signal.SIGTERM)
    rc = srv.wait_exit(BOUND["exit"])
    srv.kill()   # reaps, and completes stderr
    return rc


def two_workers(binary):
    srv = Server(binary, ["--port", "0", "--workers", "2"]).start()
    try:
        problem = served(srv, CONNS)
        threads = srv.threads()
        sockets = listening_sockets(srv.pid, srv.port)
    finally:
        rc = stop(srv)
    if problem:
        return f"--workers 2: {problem}"
    if rc != 0:
        return f"--workers 2: exit {rc} on SIGTERM"
    if len(sockets) != 2:
        return f"--workers 2: {len(sockets)} listening sockets, expected 2"
    lines = [m for m in map(PER_WORKER.match, srv.stderr_lines) if m]
    if not lines:
        return f"--workers 2: no 'connections per worker' line on stderr: {srv.stderr_lines[-3:]}"
    counts = [int(n) for n in lines[-1].group(1).split()]
    print(f"    --workers 2: {threads} threads; connections per worker: {counts}")
    if len(counts) != 2 or sum(counts) != CONNS:
        return f"--workers 2: counts {counts}, expected two adding up to {CONNS}"
    if min(counts) == 0:
        return f"--workers 2: every connection landed on one worker: {counts}"
    return None


def one_worker(binary):
    srv = Server(binary, ["--port", "0", "--workers", "1"]).start()
    try:
        problem = served(srv, 3)
        threads = srv.threads()
        sockets = listening_sockets(srv.pid, srv.port)
    finally:
        rc = stop(srv)
    if problem or rc != 0:
        return f"--workers 1: {problem or f'exit {rc} on SIGTERM'}"
    if threads != 1 or len(sockets) != 1:
        return f"--workers 1: {threads} threads and {len(sockets)} listening sockets, expected 1 and 1"
    if any(PER_WORKER.match(line) for line in srv.stderr_lines):
        return "--workers 1: printed a per-worker count, as only several workers do"
    return None


def main():
    failed = 0
    for name, check in (("connections land on both of 2 workers, all counted", two_workers),
                        ("--workers 1 is one thread and one listening socket", one_worker)):
        problem = check(sys.argv[1])
        if problem:
            failed += 1
            print(f"FAIL {name}: {problem}")
        else:
            print(f"PASS {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
