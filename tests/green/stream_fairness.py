#!/usr/bin/env python3
"""One fast streaming client must not hold a worker: another client is still answered.

Against a server started with --proto echo (tests/suites/41-green-server.sh starts it with
--workers 1): client A streams echo data as fast as it can in both directions, a sender and
a reader thread, so the server's reads keep filling its buffer and its writes keep
completing, and its green thread has no reason to park. Once A's stream flows, client B sends
one short line and must get it back while A's stream is still flowing. Without a fairness
budget in the runtime, a green thread that never parks is never switched away from, and with
one worker B waits until A stops.

The verdict is by order, not time: A's stream was flowing before B sent its line, B's line came
back, and A's stream was still flowing after that (it is stopped only once B is done). The
timeouts are generous and only keep a failure from hanging. Prints one line; exit code 0
when the server was fair, 1 when not.
"""
import argparse
import socket
import sys
import threading
import time

CHUNK = 256 * 1024
STREAM_START_BYTES = 4 * 1024 * 1024     # A is "streaming" once this much came back
PING = b"ping from the other client\n"


class Stream:
    """Client A: a sender and a reader thread on one connection, as fast as they can."""

    def __init__(self, addr):
        self.sock = socket.create_connection(addr, timeout=10)
        self.stop = threading.Event()
        self.received = 0          # written by the reader only
        self.error = None
        self.threads = [threading.Thread(target=self._send, daemon=True),
                        threading.Thread(target=self._read, daemon=True)]
        for t in self.threads:
            t.start()

    def _send(self):
        data = b"x" * CHUNK
        try:
            while not self.stop.is_set():
                self.sock.sendall(data)
        except OSError as e:
            if not self.stop.is_set():
                self.error = f"sender: {e}"

    def _read(self):
        buf = bytearray(CHUNK)
        try:
            while not self.stop.is_set():
                n = self.sock.recv_into(buf)
                if n == 0:
                    if not self.stop.is_set():
                        self.error = "reader: the server closed the stream"
                    return
                self.received += n
        except OSError as e:
            if not self.stop.is_set():
                self.error = f"reader: {e}"

    def flowing(self):
        return self.error is None and all(t.is_alive() for t in self.threads)

    def close(self):
        self.stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        for t in self.threads:
            t.join(10)
        self.sock.close()


def ping(addr, timeout):
    """Client B: one line, echoed back. Returns the bytes received before the timeout."""
    got = b""
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(PING)
        deadline = time.monotonic() + timeout
        while len(got) < len(PING) and time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(len(PING) - len(got))
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds for each wait; generous, only against hangs")
    args = ap.parse_args()
    addr = ("127.0.0.1", args.port)

    stream = Stream(addr)
    try:
        deadline = time.monotonic() + args.timeout
        while stream.received < STREAM_START_BYTES and stream.flowing() and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        if stream.received < STREAM_START_BYTES:
            print(f"FAIL: the stream did not start ({stream.received} bytes back; "
                  f"{stream.error or 'no error'})")
            return 1
        before = stream.received
        t0 = time.monotonic()
        got = ping(addr, args.timeout)
        waited = time.monotonic() - t0
        answered_at = stream.received
        deadline = time.monotonic() + args.timeout
        while stream.received == answered_at and stream.flowing() and \
                time.monotonic() < deadline:
            time.sleep(0.001)
        flowed_after = stream.received > answered_at
    finally:
        stream.close()

    info = (f"the other client waited {waited:.3f} s, while {(answered_at - before) / 1e6:.1f} "
            f"MB streamed back (information, not a criterion)")
    if got != PING:
        print(f"FAIL: the other client got {got!r} back, not its line, while A streamed; {info}")
        return 1
    if not flowed_after:
        print(f"FAIL: the stream did not flow on after the other client was answered "
              f"({stream.error or 'stalled'}): it may have ended first, so this showed "
              f"nothing; {info}")
        return 1
    print(f"ok: the other client was answered while the stream flowed; {info}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
