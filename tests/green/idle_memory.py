#!/usr/bin/env python3
"""idle_memory.py: resident memory per idle connection of a server.

Starts SERVER --port 0, reads its RSS, opens N connections and waits until the server holds
them all (its open fds) and its RSS stops moving, reads the RSS again; then sends one
keep-alive request on each (so every green thread has run the whole request path once and
its buffers went back to the pool), leaves them quiet for --quiet-s seconds (green ends the
green thread of a connection quiet for 1 s) and reads it a third time. Prints KiB per
connection for both. With --max-kib K it is a test: exit 1 if the first figure (connected, no
request yet) is above K; --max-kib-served K the same for the second. Any server with the
common command line works (build/bin/ref-go runs with GOMAXPROCS = --workers). Usage:
    idle_memory.py [--conns 10000] [--workers 1] [--quiet-s 2] [--max-kib K]
                   [--max-kib-served K] build/bin/green
"""
import argparse, os, re, resource, socket, subprocess, sys, time

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))

def settle(pid):
    last = -1
    for _ in range(50):                  # until the RSS stops moving
        time.sleep(0.1)
        now = rss_kib(pid)
        if now == last:
            return now
        last = now
    return last

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-kib", type=float)
    ap.add_argument("--max-kib-served", type=float)
    ap.add_argument("--quiet-s", type=float, default=2.0)
    ap.add_argument("server")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    srv = subprocess.Popen([a.server, "--port", "0", "--workers", str(a.workers),
                            "--max-conns", str(a.conns + 100), "--idle-timeout", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    conns = []
    try:
        line = srv.stdout.readline()
        port = int(re.search(r"listening on [0-9.]+:(\d+)", line).group(1))
        base = settle(srv.pid)
        fds = open_fds(srv.pid)
        for _ in range(a.conns):
            conns.append(socket.create_connection(("127.0.0.1", port)))
        for _ in range(600):             # accepted, all of them (bound: 60 s)
            if open_fds(srv.pid) >= fds + a.conns:
                break
            time.sleep(0.1)
        else:
            sys.exit(f"idle_memory: the server holds {open_fds(srv.pid) - fds} of "
                     f"{a.conns} connections after 60 s")
        connected = settle(srv.pid)
        req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        for s in conns:
            s.sendall(req)
        for s in conns:
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(4096)
            m = re.search(rb"Content-Length: (\d+)", data)
            body = int(m.group(1)) if m else 0
            have = len(data) - data.index(b"\r\n\r\n") - 4
            while have < body:
                have += len(s.recv(4096))
        time.sleep(a.quiet_s)
        served = settle(srv.pid)
        n = a.conns
        print(f"{os.path.basename(a.server)} --workers {a.workers}: {n} idle connections; RSS "
              f"{base} KiB at start")
        print(f"  connected, no request yet:     {(connected - base) / n:6.2f} KiB per connection")
        print(f"  after one keep-alive request:  {(served - base) / n:6.2f} KiB per connection "
              f"(quiet {a.quiet_s:g} s)")
        rc = 0
        if a.max_kib is not None and (connected - base) / n > a.max_kib:
            print(f"  connected, no request yet: above the bound of {a.max_kib} KiB")
            rc = 1
        if a.max_kib_served is not None and (served - base) / n > a.max_kib_served:
            print(f"  after one keep-alive request: above the bound of {a.max_kib_served} KiB")
            rc = 1
        return rc
    finally:
        for s in conns:
            s.close()
        srv.terminate()
        srv.wait(timeout=10)

if __name__ == "__main__":
    sys.exit(main())
