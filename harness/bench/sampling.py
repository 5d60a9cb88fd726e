"""What a server holds while it runs, read from /proc: memory, threads, processes, sockets.

A server is a process tree (the fork model: one process per connection), so every figure is
summed over the server and all its descendants. Memory is Pss (proportional set size, from
smaps_rollup): a page shared by N processes counts 1/N in each, so summing Pss over a fork
server's children does not count the shared code N times, as summing Rss would. Rss is kept
too, for comparison.

Sockets are counted as distinct socket inodes among the tree's file descriptors: a
connection's socket that a parent and a child both hold is one connection, and the count is
the server's own view of how many connections it holds, whatever the load generator says.

Sampling costs the runner some CPU, so it is done at a modest rate, on the generator's cores.

The kernel's view of the server's port is watched apart, ten times a second (`ss`, filtered
in the kernel): the connections established to it, accepted or not, and its listen queue
(connections the kernel has established and the server has not accepted yet). A model that
accepts slower than a burst of connects arrives shows there, when its own count lags behind.
"""
import os
import subprocess
import threading
import time
from dataclasses import dataclass

from . import procs


@dataclass
class Sample:
    t: float = 0.0
    pss_kb: int = 0
    rss_kb: int = 0
    threads: int = 0
    procs: int = 0
    sockets: int = 0


def descendants(root):
    """The root pid and every live process below it."""
    children = {}
    for pid, ppid in procs.parents().items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _fields(path, names):
    """{name: int} for the "Name:  value kB" lines of a /proc file that we ask for."""
    found = {}
    with open(path) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in names:
                found[key] = int(rest.split()[0])
    return found


def _socket_inodes(pid, into):
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            into.add(target)


def sample(root):
    """One look at the server's tree. Processes that end while we look are skipped."""
    s, sockets = Sample(t=time.monotonic()), set()
    for pid in descendants(root):
        try:
            mem = _fields(f"/proc/{pid}/smaps_rollup", ("Rss", "Pss"))
            status = _fields(f"/proc/{pid}/status", ("Threads",))
            _socket_inodes(pid, sockets)
        except (OSError, ValueError):
            continue
        s.pss_kb += mem.get("Pss", 0)
        s.rss_kb += mem.get("Rss", 0)
        s.threads += status.get("Threads", 0)
        s.procs += 1
    s.sockets = len(sockets)
    return s


def cpu_time(root):
    """(seconds, threads): the CPU time the server's live threads have spent so far, user +
    system, to the nanosecond (each thread's /proc schedstat), and how many threads there
    were. Read at the start and at the end of a measured window, the difference is the
    window's CPU time, as long as no thread ended within it (none does while its connection
    is held: a thread or a process per connection lives as long as its connection)."""
    ns = threads = 0
    for pid in descendants(root):
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue          # the process ended while we looked
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    ns += int(f.read().split()[0])
                threads += 1
            except (OSError, ValueError, IndexError):
                continue      # the thread ended while we looked
    return ns / 1e9, threads


class Sampler:
    """Samples a server's tree every `interval` seconds on a background thread."""

    def __init__(self, root, interval):
        self.root = root
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.wait(self.interval):
            self.samples.append(sample(self.root))

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        """Stops sampling after one last sample; returns the samples."""
        self._stop.set()
        self._thread.join()
        self.samples.append(sample(self.root))
        return self.samples


def port_view(port):
    """(established, listen_queue) on the server's port as the kernel sees it now: ESTABLISHED
    sockets whose local port it is, and the LISTEN socket's accept queue (what `ss -ltn` shows
    as Recv-Q). Asked of `ss`, whose filter runs in the kernel: /proc/net/tcp lists every
    socket of the machine, thousands in TIME-WAIT after a few runs, and reading it ten times a
    second took the runner a tenth of a second each time."""
    try:
        out = subprocess.run(["ss", "-Htn", "state", "established", "state", "listening",
                              f"( sport = :{port} )"], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return 0, 0
    established = queued = 0
    for line in out.splitlines():
        fields = line.split()
        if fields[:1] == ["ESTAB"]:
            established += 1
        elif fields[:1] == ["LISTEN"] and len(fields) > 1 and fields[1].isdigit():
            queued += int(fields[1])
    return established, queued


class PortWatch:
    """The peaks of port_view() over a run, looked at every `interval` seconds, and the listen
    queue at its end: connections established that the server never accepted (a client's
    close does not take them off the queue)."""

    def __init__(self, port, interval=0.1):
        self.port, self.interval = port, interval
        self.established = self.listen_queue = self.listen_queue_end = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _look(self):
        established, queued = port_view(self.port)
        self.established = max(self.established, established)
        self.listen_queue = max(self.listen_queue, queued)

    def _loop(self):
        while not self._stop.wait(self.interval):
            self._look()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            self._look()
            self.listen_queue_end = port_view(self.port)[1]
        return self


def peak(samples):
    """The highest value of each figure over the samples (each may peak at another time)."""
    top = Sample()
    for s in samples:
        for name in ("pss_kb", "rss_kb", "threads", "procs", "sockets"):
            setattr(top, name, max(getattr(top, name), getattr(s, name)))
    return top
