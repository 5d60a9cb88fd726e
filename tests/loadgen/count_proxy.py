#!/usr/bin/env python3
"""count_proxy.py: a TCP proxy that counts the HTTP requests and responses passing through it.

An independent witness for the load generator's counts: it sits between loadgen and a server,
forwards bytes both ways untouched, and counts request heads (each ends with an empty line)
going up and status lines ("HTTP/1.1 ") coming down. Good for bodiless requests to routes
whose answers never contain "HTTP/1.1 " in their body, such as /plaintext.

Usage: count_proxy.py UPSTREAM_PORT
Prints "listening on 127.0.0.1:PORT" when ready; on SIGTERM prints one JSON line,
{"connections": N, "requests": N, "responses": N, "max_outstanding": N}, and exits.
max_outstanding is the most requests one connection ever had unanswered (its pipeline depth).
"""
import json
import selectors
import signal
import socket
import sys

REQUEST_END = b"\r\n\r\n"
STATUS_LINE = b"HTTP/1.1 "


class Counter:
    """Counts a pattern in a byte stream that arrives in pieces, across the piece boundaries."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.tail = b""
        self.count = 0

    def feed(self, data):
        buf = self.tail + data
        self.count += buf.count(self.pattern)
        self.tail = buf[-(len(self.pattern) - 1):]


class Pair:
    def __init__(self, client, upstream):
        self.client, self.upstream = client, upstream
        self.requests, self.responses = Counter(REQUEST_END), Counter(STATUS_LINE)


def main():
    upstream_addr = ("127.0.0.1", int(sys.argv[1]))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())
    signal.signal(signal.SIGTERM, lambda *_: None)
    sel.register(wake_r, selectors.EVENT_READ, "stop")
    stats = {"connections": 0, "requests": 0, "responses": 0, "max_outstanding": 0}
    done = []                    # counts of the pairs already closed
    pairs = set()
    print("listening on 127.0.0.1:%d" % listener.getsockname()[1], flush=True)

    def close(pair):
        if pair not in pairs:    # both ends were ready in the same select()
            return
        for s in (pair.client, pair.upstream):
            sel.unregister(s)
            s.close()
        pairs.discard(pair)
        done.append((pair.requests.count, pair.responses.count))

    while True:
        for key, _ in sel.select():
            if key.data == "stop":
                for pair in list(pairs):
                    close(pair)
                stats["requests"] = sum(r for r, _ in done)
                stats["responses"] = sum(r for _, r in done)
                print(json.dumps(stats), flush=True)
                return
            if key.data is None:
                client, _ = listener.accept()
                upstream = socket.create_connection(upstream_addr)
                for s in (client, upstream):
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                pair = Pair(client, upstream)
                pairs.add(pair)
                sel.register(client, selectors.EVENT_READ, (pair, True))
                sel.register(upstream, selectors.EVENT_READ, (pair, False))
                stats["connections"] += 1
                continue
            pair, from_client = key.data
            if pair not in pairs:
                continue
            src = pair.client if from_client else pair.upstream
            dst = pair.upstream if from_client else pair.client
            try:
                data = src.recv(65536)
                if data:
                    (pair.requests if from_client else pair.responses).feed(data)
                    outstanding = pair.requests.count - pair.responses.count
                    stats["max_outstanding"] = max(stats["max_outstanding"], outstanding)
                    dst.sendall(data)
                    continue
            except OSError:
                pass
            close(pair)


if __name__ == "__main__":
    main()
