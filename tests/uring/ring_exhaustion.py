#!/usr/bin/env python3
"""Non-readers hold every buffer of the io_uring model's provided buffer ring; a newcomer must
still be served, byte for byte (ENOBUFS sends its receive to the session's own buffer).

  tests/uring/ring_exhaustion.py BINARY      (build/bin/uring-smallring: a ring of 2 buffers)

Prints PASS or FAIL lines and exits 1 on a failure. No timing is asserted: the bounds only
catch a server that is stuck.
"""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import fixture  # noqa: E402

HOLDERS = 8          # each sends far more than it reads: the ring's 2 buffers are soon held
PUSH = 256 * 1024    # bytes each holder sends without reading a byte back
BOUND = 20.0


def push_without_reading(s, n):
    """Sends up to n bytes while the server takes them; stops when it stops taking them."""
    s.setblocking(False)
    chunk = b"x" * 16384
    sent = 0
    while sent < n:
        try:
            sent += s.send(chunk[:n - sent])
        except BlockingIOError:
            break
    return sent


def main():
    srv = fixture.Server(sys.argv[1], ["--port", "0", "--proto", "echo"]).start()
    failed = 0
    holders = []
    try:
        for _ in range(HOLDERS):
            s = socket.create_connection((srv.host, srv.port), timeout=BOUND)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            holders.append(s)
        sent = sum(push_without_reading(s, PUSH) for s in holders)
        print(f"    {HOLDERS} holders sent {sent} bytes and read none")
        message = bytes(range(256)) * 64    # 16 KiB, more than one ring buffer
        with socket.create_connection((srv.host, srv.port), timeout=BOUND) as c:
            c.sendall(message)
            got = b""
            while len(got) < len(message):
                part = c.recv(65536)
                if not part:
                    break
                got += part
        if got == message:
            print("PASS a newcomer's echo comes back whole while non-readers hold the ring")
        else:
            failed += 1
            print(f"FAIL a newcomer's echo: {len(got)} of {len(message)} bytes, "
                  f"{'equal' if message.startswith(got) else 'different'} so far")
        death = srv.death_note()
        if death:
            failed += 1
            print(f"FAIL the server lives on: {death}")
    except OSError as e:
        failed += 1
        print(f"FAIL a newcomer's echo: {type(e).__name__}: {e}")
    finally:
        for s in holders:
            s.close()
        srv.stop()
    report = srv.sanitizer_report()
    if report:
        failed += 1
        print(f"FAIL sanitizer: {report}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
