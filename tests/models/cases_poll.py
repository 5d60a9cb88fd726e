"""poll: no FD_SETSIZE wall; it holds 10,000 idle connections and serves each of them."""
import resource
import time

from check import Fail, expect
from fixture import BOUND
from many import classify_http, close_all, exchange, http_complete, open_many, tally
from model_case import model_case
from rawhttp import request

JSON = b'{"message":"Hello, World!"}'
HOLD = 10000


def room_for(n):
    """Raises our open-file limit as far as it goes; Fail if n sockets would not fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < n + 100:
        raise Fail(f"this machine allows {hard} open files per process (ulimit -Hn); "
                   f"the case needs {n + 100}")


def all_answered(socks, what):
    outs = exchange(socks, [request("GET", "/json")] * len(socks), http_complete)
    counts, first_bad = tally(classify_http(o, JSON) for o in outs)
    expect(counts["ok"] == len(socks), f"{what}: {counts['ok']} answered right, "
                                       f"{counts['refused']} refused, {counts['bad']} wrong"
                                       f"{': ' + first_bad if first_bad else ''}")


@model_case("poll", "10000-idle-connections")
def ten_thousand_idle(ctx):
    room_for(HOLD)
    srv = ctx.server()
    socks = open_many(srv, HOLD)
    try:
        # Held, idle: the server accepts them all, an fd each (far past select()'s 1024).
        deadline = time.monotonic() + BOUND["io"]
        while srv.fds() < HOLD and time.monotonic() < deadline:
            time.sleep(0.05)
        fds = srv.fds()
        ctx.note(f"{HOLD} connections open: the server holds {fds} fds")
        expect(fds >= HOLD, f"expected the server to hold {HOLD} connections, it has {fds} fds")
        all_answered(socks, f"a request on each of the {HOLD} idle connections")
        # A second one on each: none was closed in between.
        all_answered(socks, f"a second request on each of the {HOLD}")
    finally:
        close_all(socks)
