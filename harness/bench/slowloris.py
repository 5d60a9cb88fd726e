"""Slow clients for the slowclients scenario: N connections that each trickle a request head,
a byte at a time, and never finish it (the "slowloris" attack), for a bounded time.

    python3 -m harness.bench.slowloris --port P [-c 1000] [-d SEC] [--every 1.0]
                                        [--ramp 1.0] [--json PATH]

Each attacker connects once (the connects are spread over --ramp seconds), then sends one
byte of its head every --every seconds. An attacker the server closes (after a 408, a 503, or
without a word) is not replaced: the count stays bounded, and what is left at the end is what
the server still held. After -d seconds every attacker closes and the program exits, on its
own; it never runs longer than -d plus two seconds.

The JSON it writes: attackers, connected (their connects that succeeded), connect_failed,
held_at_end (still open when the time was up), closed_408 / closed_other / closed_silently
(how the server let go of the others), and bytes_sent.
"""
import argparse
import errno
import heapq
import json
import selectors
import socket
import sys
import time

# A head that never ends: after the request line and Host, a header that grows a byte at a
# time. At one byte a second it outlasts any run; the server's only way out is a time-out.
HEAD = b"GET /plaintext HTTP/1.1\r\nHost: slowloris\r\nX-Slow: "


def _byte(i):
    return HEAD[i:i + 1] if i < len(HEAD) else b"a"


class Attacker:
    def __init__(self, idx, due):
        self.idx = idx
        self.sock = None
        self.sent = 0
        self.due = due            # when its next step (connect, then a byte) is due
        self.state = "waiting"    # waiting, open, closed, failed
        self.answer = b""


def run(host, port, count, duration, every, ramp):
    started = time.monotonic()
    end = started + duration
    sel = selectors.DefaultSelector()
    attackers = [Attacker(i, started + ramp * i / max(1, count)) for i in range(count)]
    stats = {"attackers": count, "connected": 0, "connect_failed": 0, "held_at_end": 0,
             "closed_408": 0, "closed_other": 0, "closed_silently": 0, "bytes_sent": 0}

    def close(a, how):
        sel.unregister(a.sock)
        a.sock.close()
        a.state = "closed"
        stats[how] += 1

    def on_readable(a):
        try:
            data = a.sock.recv(4096)
        except OSError:
            data = b""
        if data:
            a.answer += data[:64 - len(a.answer)]
            return
        if a.answer.startswith(b"HTTP/1.1 408") or a.answer.startswith(b"HTTP/1.0 408"):
            close(a, "closed_408")
        elif a.answer:
            close(a, "closed_other")
        else:
            close(a, "closed_silently")

    def step(a, now):
        if a.state == "waiting":
            a.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            a.sock.setblocking(False)
            rc = a.sock.connect_ex((host, port))
            if rc not in (0, errno.EINPROGRESS):
                a.sock.close()
                a.state = "failed"
                stats["connect_failed"] += 1
                return
            a.state = "connecting"
            sel.register(a.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, a)
            a.due = now + 30.0     # the connect's own bound
            return
        if a.state == "open":
            try:
                n = a.sock.send(_byte(a.sent))
            except BlockingIOError:
                n = 0
            except OSError:
                on_readable(a)     # a reset: how the server let go
                if a.state != "closed":
                    close(a, "closed_silently")
                return
            a.sent += n
            stats["bytes_sent"] += n
            a.due = now + every
        elif a.state == "connecting":
            sel.unregister(a.sock)
            a.sock.close()
            a.state = "failed"
            stats["connect_failed"] += 1

    def on_writable(a, now):
        err = a.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            sel.unregister(a.sock)
            a.sock.close()
            a.state = "failed"
            stats["connect_failed"] += 1
            return
        a.state = "open"
        stats["connected"] += 1
        sel.modify(a.sock, selectors.EVENT_READ, a)
        a.due = now   # its first byte now

    # Each attacker's next step, earliest first: a heap, so that a turn costs log N, not N.
    due = [(a.due, a.idx) for a in attackers]
    heapq.heapify(due)
    while True:
        now = time.monotonic()
        if now >= end:
            break
        timeout = min(due[0][0] if due else end, end) - now
        for key, events in sel.select(max(0.0, timeout)):
            a = key.data
            if a.state == "connecting" and events & selectors.EVENT_WRITE:
                on_writable(a, time.monotonic())
                heapq.heappush(due, (a.due, a.idx))
            elif a.state == "open" and events & selectors.EVENT_READ:
                on_readable(a)
        now = time.monotonic()
        while due and due[0][0] <= now:
            when, idx = heapq.heappop(due)
            a = attackers[idx]
            if a.due != when or a.state not in ("waiting", "open", "connecting"):
                continue   # a stale entry: the attacker moved on or is gone
            step(a, now)
            if a.state in ("open", "connecting"):
                heapq.heappush(due, (a.due, a.idx))

    for a in attackers:
        if a.state == "open":
            stats["held_at_end"] += 1
        if a.state in ("open", "connecting"):
            sel.unregister(a.sock)
            a.sock.close()
    sel.close()
    stats["elapsed_s"] = round(time.monotonic() - started, 3)
    return stats


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m harness.bench.slowloris",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-c", "--conns", type=int, default=1000, help="attackers (default 1000)")
    ap.add_argument("-d", "--duration", type=float, default=10.0,
                    help="seconds until every attacker stops (default 10)")
    ap.add_argument("--every", type=float, default=1.0,
                    help="seconds between two bytes of one attacker (default 1)")
    ap.add_argument("--ramp", type=float, default=1.0,
                    help="seconds over which the attackers connect (default 1)")
    ap.add_argument("--json", help="write the figures here (default: stdout)")
    args = ap.parse_args(argv)
    if not (1 <= args.conns <= 100000) or not (0 < args.duration <= 3600) or args.every <= 0 \
            or args.ramp < 0:
        ap.error("-c from 1 to 100000, -d from 0 to 3600 s, --every above 0, --ramp 0 or more")
    if not args.host.startswith("127."):
        ap.error("--host: attackers only go to the loopback (127.0.0.0/8)")
    stats = run(args.host, args.port, args.conns, args.duration, args.every, args.ramp)
    text = json.dumps(stats)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    print(f"slowloris: {stats['connected']} of {stats['attackers']} attackers connected; "
          f"{stats['held_at_end']} still held at the end; closed by the server: "
          f"{stats['closed_408']} with a 408, {stats['closed_other']} with another answer, "
          f"{stats['closed_silently']} without a word", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
