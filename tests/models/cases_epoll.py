"""epoll --workers: where connections land, and --workers 1 being the one-thread model."""
import re
import signal

from cases_basic import listening_sockets
from check import expect, expect_eq
from fixture import BOUND
from model_case import model_case
from rawhttp import get

PER_WORKER = re.compile(r"^epoll: connections per worker:((?: \d+)+)$")
CONNS = 40


def serve_each_on_its_own(srv, n):
    for i in range(n):
        expect_eq(get(srv, "/plaintext").status, 200, f"connection {i + 1} of {n}")


def stop(srv):
    srv.signal(signal.SIGTERM)
    rc = srv.wait_exit(BOUND["exit"])
    srv.kill()   # reaps, and completes stderr
    expect_eq(rc, 0, "exit code after SIGTERM")


@model_case("epoll", "workers-2-both-get-connections")
def two_workers(ctx):
    """40 connections, each served a request, then SIGTERM: the last line on stderr counts all
    40, and both workers have some (SO_REUSEPORT hashes each connection's addresses: all 40 on
    one worker has odds of 2^-39)."""
    srv = ctx.server("--workers", "2")
    serve_each_on_its_own(srv, CONNS)
    ctx.note(f"{srv.threads()} threads")
    expect_eq(len(listening_sockets(srv)), 2, "listening sockets")
    stop(srv)
    found = [m for m in map(PER_WORKER.match, srv.stderr_lines) if m]
    expect(found, f"no 'connections per worker' line on stderr: {srv.stderr_lines[-3:]}")
    counts = [int(n) for n in found[-1].group(1).split()]
    ctx.note(f"connections per worker: {counts}")
    expect(len(counts) == 2 and sum(counts) == CONNS,
           f"counts {counts}, expected two adding up to {CONNS}")
    expect(min(counts) > 0, f"every connection landed on one worker: {counts}")


@model_case("epoll", "workers-1-one-thread-one-socket")
def one_worker(ctx):
    srv = ctx.server("--workers", "1")
    serve_each_on_its_own(srv, 3)
    expect_eq(srv.threads(), 1, "threads with --workers 1")
    expect_eq(len(listening_sockets(srv)), 1, "listening sockets")
    stop(srv)
    expect(not any(PER_WORKER.match(line) for line in srv.stderr_lines),
           "--workers 1 printed a per-worker count, as only several workers do")
