"""concurrency: many clients at once, each getting its own right answer."""
import os
import re
import threading

import tools
from cases_http import HELLO, JSON
from check import case, expect, expect_eq, Fail, step
from fixture import BOUND
from many import classify_http, close_all, exchange, http_complete, open_many, tally
from rawhttp import Conn, Sender, connections, pattern, request


def distinct_request(i):
    """Request i and its answer's body: different for each i, so that answers crossed between
    connections are caught."""
    if i % 3 == 0:
        return request("GET", f"/bytes?n={i}"), pattern(i)
    if i % 3 == 1:
        body = f"connection {i} says hello".encode()
        return request("POST", "/echo", body=body), body
    return request("GET", "/json"), JSON


def all_answered(srv, socks, first, what):
    """One distinct request on each socket; every one must get its own right answer."""
    reqs = [distinct_request(first + i) for i in range(len(socks))]
    outs = exchange(socks, [r for r, _ in reqs], http_complete)
    results = [classify_http(o, body) for o, (_, body) in zip(outs, reqs)]
    counts, first_bad = tally(results)
    expect(counts["ok"] == len(socks),
           f"{what}, a request on each: expected all {len(socks)} answered right, got "
           f"{counts['ok']} right, {counts['refused']} refused, {counts['bad']} wrong"
           f"{' (the first wrong one: ' + first_bad + ')' if first_bad else ''}")


@case("concurrency", "1000-connections", heavy=True)
def thousand_connections(ctx):
    srv = ctx.server(holds=1000)
    socks = open_many(srv, 1000)
    try:
        all_answered(srv, socks, 0, "1000 connections open at once")
        # A second request on each: all 1000 stayed open and served at the same time.
        all_answered(srv, socks, 1000, "a second request on each of the 1000")
    finally:
        close_all(socks)


@case("concurrency", "3000-short-connections", heavy=True)
def short_connections(ctx):
    # Accepting thousands of connections, 100 at a time, each closed after one answer.
    srv = ctx.server()
    for batch in range(30):
        socks = open_many(srv, 100)
        try:
            all_answered(srv, socks, batch * 100, f"batch {batch + 1} of 30 (100 connections)")
        finally:
            close_all(socks)


@case("concurrency", "mixed-clients")
def mixed_clients(ctx):
    # 20 clients at once, each a keep-alive connection with a run of different requests.
    srv = ctx.server()
    errors = []

    def client(k):
        try:
            with Conn.to(srv) as c:
                for i in range(12):
                    raw, body = distinct_request(k * 100 + i * 7)
                    if i % 4 == 3:
                        body = os.urandom(20000 + k * 1000)
                        raw = request("POST", "/echo", body=body)
                    sender = Sender(c.sock, raw)
                    r = c.read_response()
                    sender.finish(BOUND["io"])
                    if r.status != 200 or r.body != body:
                        errors.append(f"client {k} request {i + 1}: got {r.status} "
                                      f"{r.body[:20]!r}, not its own answer")
                        return
        except (Fail, OSError) as e:
            errors.append(f"client {k}: {e}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BOUND["io"] * 6)
    expect(not any(t.is_alive() for t in threads), "some clients did not finish within the bound")
    expect(not errors, errors[0] if errors else "")


@case("concurrency", "sleep-does-not-stop-others")
def sleep_does_not_stop_others(ctx):
    # Every model serves others while a /sleep waits: sleeping holds no CPU and no loop.
    srv = ctx.server()
    with connections(srv, 5) as sleepers:
        for c in sleepers:
            c.send(request("GET", "/sleep?ms=20000"))
        with Conn.to(srv) as c:
            for i in range(3):
                with step(f"request {i + 1} of 3 beside 5 clients in /sleep?ms=20000"):
                    c.send(request("GET", "/json"))
                    expect_eq(c.read_response().body, JSON, "the answer")
        expect(all(c.nothing_pending() for c in sleepers),
               "expected the 20 s sleeps still pending when the others were served")


@case("concurrency", "many-sleeping", heavy=True)
def many_sleeping(ctx):
    srv = ctx.server()
    socks = open_many(srv, 200)
    try:
        outs = exchange(socks, [request("GET", "/sleep?ms=1000")] * len(socks), http_complete)
        counts, first_bad = tally(classify_http(o, b"slept 1000 ms\n") for o in outs)
        expect(counts["ok"] == len(socks), f"sent GET /sleep?ms=1000 on 200 connections at once; "
                                           f"expected 200 answers, got {counts['ok']} right "
                                           f"(the first wrong one: {first_bad})")
    finally:
        close_all(socks)


@case("concurrency", "work-and-block-side-by-side")
def work_and_block_side_by_side(ctx):
    srv = ctx.server()
    socks = open_many(srv, 8)
    try:
        reqs = [("/work?us=50000", b"worked 50000 us\n"), ("/block?ms=100", b"blocked 100 ms\n"),
                ("/sleep?ms=100", b"slept 100 ms\n"), ("/", HELLO)] * 2
        outs = exchange(socks, [request("GET", t) for t, _ in reqs], http_complete)
        counts, first_bad = tally(classify_http(o, body) for o, (_, body) in zip(outs, reqs))
        expect(counts["ok"] == len(reqs), f"sent /work, /block, /sleep and / twice each, at "
                                          f"once; expected {len(reqs)} answers, got "
                                          f"{counts['ok']} right (the first wrong one: "
                                          f"{first_bad})")
    finally:
        close_all(socks)


def ab(srv, *args):
    rc, out, err = tools.run(["ab", *args, f"http://{srv.host}:{srv.port}/"], BOUND["io"] * 12)
    expect(rc == 0, f"ab {' '.join(args)}: exit code {rc}: {err.strip()[-120:]}")

    def field(name):
        m = re.search(rf"^{name}:\s+(\d+)", out, re.M)
        return int(m.group(1)) if m else None
    return field


@case("concurrency", "ab-keep-alive-http10", heavy=True)
def ab_keep_alive(ctx):
    field = ab(ctx.server(), "-k", "-n", "2000", "-c", "20")
    expect_eq(field("Complete requests"), 2000, "ab -k: complete requests")
    expect_eq(field("Failed requests"), 0, "ab -k: failed requests")
    expect_eq(field("Non-2xx responses"), None, "ab -k: non-2xx responses")
    expect_eq(field("Keep-Alive requests"), 2000, "ab -k (HTTP/1.0 keep-alive): kept alive")


@case("concurrency", "ab-2000-c50", heavy=True)
def ab_2000(ctx):
    field = ab(ctx.server(), "-n", "2000", "-c", "50")
    expect_eq(field("Complete requests"), 2000, "ab -n 2000 -c 50: complete requests")
    expect_eq(field("Failed requests"), 0, "ab -n 2000 -c 50: failed requests")
    expect_eq(field("Non-2xx responses"), None, "ab -n 2000 -c 50: non-2xx responses")
