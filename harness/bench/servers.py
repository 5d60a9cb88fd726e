"""Starting a server model for one run, and stopping it so that its rusage is exact.

Every run gets a fresh server: its whole life is the run (a warm-up, the measurement), so the
CPU time and context switches that wait4() reports at its end belong to that run alone.

A server is `build/bin/MODEL --port 0 ...`, pinned to the server's cores with taskset; it
prints "listening on ADDR:PORT (MODEL, PROTO, pid N)" when ready, and stops on SIGTERM after
releasing what it holds (the fork model reaps its children first).
"""
import os
import re
import signal
import time

from bench.procs import Child

LISTENING = re.compile(r"listening on (\S+):(\d+) \((\S+), (\S+), pid (\d+)\)")


class ServerError(Exception):
    pass


def extra_args(model, server_cpus):
    """Options only some models take: green runs one OS thread per server core."""
    if model == "green":
        return ["--workers", str(len(server_cpus))]
    return []


class Server:
    def __init__(self, binary, model, proto, max_conns, cpus, cpu_list, log_path):
        self.model = model
        self.argv = [binary, "--port", "0", "--proto", proto, "--max-conns", str(max_conns)]
        self.argv += extra_args(model, cpu_list)
        self.cpus = cpus
        self.log_path = log_path
        self.child = None
        self.port = None

    def start(self, timeout=10.0):
        """Starts the server and waits for its "listening on" line."""
        if not os.access(self.argv[0], os.X_OK):
            raise ServerError(f"{self.argv[0]} is not built (run make)")
        self.child = Child(self.argv, self.log_path, cpus=self.cpus)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = LISTENING.search(self.child.output())
            if m:
                self.port = int(m.group(2))
                return self
            if not self.child.running:
                raise ServerError(f"{self.model} exited ({self.child.exit_code}) before "
                                  f"listening: {self.log_tail()}")
            time.sleep(0.01)
        self.child.stop(grace=2.0)
        raise ServerError(f"{self.model} did not say 'listening on' within {timeout:.0f} s")

    @property
    def running(self):
        return self.child is not None and self.child.exit_code is None

    @property
    def pid(self):
        return self.child.pid

    def stop(self, grace=10.0):
        """SIGTERM, then wait4(). Returns "" if it stopped by itself, or what went wrong: then
        it was killed and its rusage may miss the children it did not reap."""
        if self.child is None:
            return ""
        if self.child.exit_code is not None:
            return f"the server had exited ({self.child.exit_code}) before the end of the run"
        if not self.child.stop(grace=grace, sig=signal.SIGTERM):
            return f"the server did not stop within {grace:.0f} s of SIGTERM and was killed"
        if self.child.exit_code not in (0, -signal.SIGTERM):
            return f"the server exited with {self.child.exit_code} on SIGTERM"
        return ""

    @property
    def rusage(self):
        return self.child.rusage if self.child else None

    def log_tail(self, lines=3):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-lines:])
        except OSError:
            return ""
