"""The server under test as a process: start it, find its port, watch it, and kill it and
everything it forked, whatever happens to the test.

A server runs in its own session (so its process group can be killed at once); its
descendants are also found through /proc, so a child that moved to another group dies too.
Every process the suite starts is kept in LIVE, so that Ctrl-C kills them all.
"""
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import sanitizer
from check import FIXED_POOL

LISTENING = re.compile(r"^listening on (\S+):(\d+)\b")

# UBSan says where a runtime error is, but not in which function, unless it prints the stack.
SANITIZER_ENV = {"UBSAN_OPTIONS": "print_stacktrace=1"}

# Generous bounds, in seconds, that only a truly stuck server misses. Sanitizer builds run a
# few times slower, so the bounds stretch for them (see set_slow()).
# "stall": how long a socket must stay unwritable to count as stuck.
BOUND = {"io": 10.0, "start": 30.0, "exit": 5.0, "stall": 1.0}


def set_slow(factor):
    for k in BOUND:
        BOUND[k] *= factor


LIVE = set()          # what runs now: objects with kill(wait), a Server or a Spawned
LIVE_LOCK = threading.Lock()
STOPPING = [False]    # set once, at Ctrl-C: nothing may start after it


class Stopping(Exception):
    pass


def spawn(cmd, owner, **popen_args):
    """Starts cmd in a session of its own and registers owner in LIVE in one step, so that
    an interruption can never fall between the two and leave the process running."""
    with LIVE_LOCK:
        if STOPPING[0]:
            raise Stopping("the suite is stopping")
        proc = subprocess.Popen(cmd, start_new_session=True, **popen_args)
        LIVE.add(owner)
    return proc


def forget(owner):
    with LIVE_LOCK:
        LIVE.discard(owner)


def kill_all_live():
    """Kills everything still running; nothing can start after this."""
    with LIVE_LOCK:
        STOPPING[0] = True
        running = list(LIVE)
    for r in running:
        r.kill(wait=False)


class Spawned:
    """A command run to its end (the binary's command line, curl, ab), killable at Ctrl-C."""

    def __init__(self, cmd, **popen_args):
        self.proc = spawn(cmd, self, **popen_args)

    def kill(self, wait=True):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        if wait:
            self.proc.communicate()
        forget(self)


class ServerError(Exception):
    pass


# ---- /proc ----

def start_time(pid):
    """The process's start time in clock ticks: with the pid, it names one process even if
    the pid is reused later. None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


def state(pid):
    """The process state letter (R, S, Z...), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def children(pid):
    kids = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return kids


def descendants(pid):
    """Every process below pid, as (pid, start time) pairs."""
    found, todo = [], children(pid)
    while todo:
        p = todo.pop()
        st = start_time(p)
        if st is not None:
            found.append((p, st))
            todo += children(p)
    return found


def still_alive(procs):
    """Those of the (pid, start time) pairs that still run (a zombie has ended)."""
    return [(p, st) for p, st in procs if start_time(p) == st and state(p) not in ("Z", "X")]


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User and system CPU time the process has used, all its threads together."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def count_entries(path):
    try:
        return len(os.listdir(path))
    except OSError:
        return 0


def sanitizer_of(path):
    """"address" or "thread" for a binary built with that sanitizer, else None."""
    with open(path, "rb") as f:
        data = f.read()
    return "address" if b"__asan_init" in data else "thread" if b"__tsan_init" in data else None


def is_sanitized(path):
    """True for a binary built with a sanitizer: it runs slower and uses more memory."""
    return sanitizer_of(path) is not None


# ---- Running the server as another user with a process limit ----

def processes_of_uid(uid):
    """Processes and threads owned by uid: what RLIMIT_NPROC counts."""
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    n += count_entries(f"/proc/{entry}/task")
            except OSError:
                pass
    return n


UIDS = itertools.count()


class LimitedUser:
    """A command prefix that runs the server with at most `spare` more processes (threads
    count) than it starts with. As root, the server runs as a fresh uid nobody else uses
    (root ignores RLIMIT_NPROC, another user does not); the binary is copied into a
    world-readable directory so that uid can run it, whatever the build directory's mode."""

    def __init__(self, binary, spare):
        self.dir = tempfile.mkdtemp(prefix="c10k-conf-")
        os.chmod(self.dir, 0o755)
        self.binary = os.path.join(self.dir, os.path.basename(binary))
        shutil.copy(binary, self.binary)
        os.chmod(self.binary, 0o755)
        if os.geteuid() == 0:
            uid = 200000 + os.getpid() % 100000 * 10 + next(UIDS) % 10
            limit = 1 + spare
            self.prefix = ["prlimit", f"--nproc={limit}:{limit}", "setpriv", f"--reuid={uid}",
                           f"--regid={uid}", "--clear-groups"]
        else:
            limit = processes_of_uid(os.getuid()) + 1 + spare
            self.prefix = ["prlimit", f"--nproc={limit}:{limit}"]

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- The server ----

class Server:
    def __init__(self, binary, args, limited=None):
        self.binary = binary
        self.args = list(args)
        self.limited = limited
        self.proc = None
        self.host = None
        self.port = None
        self.stdout_lines = []
        self.stderr_lines = []
        self.signalled = False       # the test stopped it on purpose
        self._first_line = threading.Event()
        self._readers = []

    def start(self):
        binary = self.limited.binary if self.limited else self.binary
        prefix = self.limited.prefix if self.limited else []
        cmd = prefix + [binary] + self.args
        env = dict(os.environ)
        for name, value in SANITIZER_ENV.items():
            env[name] = f"{env[name]}:{value}" if env.get(name) else value
        try:
            self.proc = spawn(cmd, self, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env)
        except Stopping as e:
            if self.limited:
                self.limited.cleanup()
            raise ServerError(str(e))
        self._readers = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, self.stdout_lines, True),
                             daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr_lines, False),
                             daemon=True),
        ]
        for t in self._readers:
            t.start()
        deadline = time.monotonic() + BOUND["start"]
        while not self._first_line.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                break
        if not self.stdout_lines:
            rc = self.proc.poll()
            self.kill()
            what = f"exited with {describe_rc(rc)}" if rc is not None else "printed nothing"
            raise ServerError(f"server {what} instead of 'listening on ADDR:PORT'"
                              f"{self.stderr_tail()}")
        m = LISTENING.match(self.stdout_lines[0])
        if not m:
            self.kill()
            raise ServerError(f"expected 'listening on ADDR:PORT' first, got "
                              f"{self.stdout_lines[0]!r}")
        self.host, self.port = m.group(1).strip("[]"), int(m.group(2))
        return self

    def _drain(self, stream, lines, first):
        for raw in iter(stream.readline, b""):
            lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
            if first:
                self._first_line.set()
        if first:
            self._first_line.set()   # at EOF too, so that start() stops waiting

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def said_on_stderr(self, bound):
        """True once the server has written a line on stderr (our reader may lag behind)."""
        deadline = time.monotonic() + bound
        while not self.stderr_lines and time.monotonic() < deadline:
            time.sleep(0.02)
        return bool(self.stderr_lines)

    def stderr_tail(self):
        """The last line on stderr that says something (not a caret, a rule or a hex dump)."""
        said = [line for line in self.stderr_lines if re.search(r"[A-Za-z]{3}", line)]
        return f"; it said on stderr: {said[-1].strip()!r}" if said else ""

    def sanitizer_report(self):
        """A sanitizer's report on stderr (a forked child's too) in one line, with where in
        the project's code it happened; None if there is none."""
        own = os.path.join("servers", os.path.basename(self.binary) + ".c")
        return sanitizer.summary(self.stderr_lines, own)

    def death_note(self, quote_stderr=True):
        """Why the server is gone, when it went away without being asked to."""
        rc = self.proc.poll()
        if rc is None or self.signalled:
            return None
        tail = self.stderr_tail() if quote_stderr else ""
        return f"the server died unasked ({describe_rc(rc)}){tail}"

    def connect(self, timeout=None, small_buffers=False):
        """A connected socket. small_buffers: little kernel buffering on our side, so that a
        server that stops reading or writing shows it after a few MiB, not tens."""
        s = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        try:
            if small_buffers:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(timeout or BOUND["io"])
            s.connect((self.host, self.port))
        except OSError:
            s.close()
            raise
        return s

    def descendants(self):
        return descendants(self.pid)

    def wait_while_processes_end(self, bound):
        """Waits, at most bound seconds, while a process below the server still runs, is
        stopped by a tracer (a sanitizer's leak check) or is not yet reaped."""
        deadline = time.monotonic() + bound
        while (any(state(p) in ("R", "D", "t", "Z") for p, _ in self.descendants()) and
               time.monotonic() < deadline):
            time.sleep(0.2)

    def rss_kib(self):
        """Resident memory of the server and every process it forked."""
        return rss_kib(self.pid) + sum(rss_kib(p) for p, _ in self.descendants())

    def cpu_seconds(self):
        """CPU time used by the server and every process it forked that still runs."""
        return cpu_seconds(self.pid) + sum(cpu_seconds(p) for p, _ in self.descendants())

    def threads(self):
        return count_entries(f"/proc/{self.pid}/task")

    def fds(self):
        return count_entries(f"/proc/{self.pid}/fd")

    def signal(self, sig):
        self.signalled = True
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """The exit code, or None if it still runs after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """The end of a case: lets the processes serving connections finish (the clients have
        gone), asks the server to stop with SIGTERM (a sanitizer build then reports leaks),
        and kills whatever is left. The exit code is not judged here: lifecycle cases do it."""
        if self.proc is None:
            return
        if self.alive():
            # A fixed pool's processes (check.FIXED_POOL) never end by themselves: no wait.
            pool = os.path.basename(self.binary) in FIXED_POOL
            deadline = time.monotonic() + (0 if pool else BOUND["exit"] / 5)
            while self.descendants() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.signal(signal.SIGTERM)
            self.wait_exit(BOUND["exit"])
        self.kill()

    def kill(self, wait=True):
        """Kills the server and everything below it, whatever state they are in. wait=False
        (the suite is interrupted): one round of SIGKILL, no waiting for the output."""
        if self.proc is None:
            return
        self.signalled = True
        for _ in range(3 if wait else 1):
            procs = self.descendants() if self.alive() else []
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            for p, st in still_alive(procs):
                if start_time(p) == st:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
            try:
                self.proc.wait(BOUND["exit"] if wait else 0.5)
            except subprocess.TimeoutExpired:
                continue
            if not still_alive(procs):
                break
        for t in self._readers if wait else []:
            t.join(1.0)   # so that stdout_lines and stderr_lines are complete
        forget(self)
        if self.limited:
            self.limited.cleanup()


UNAVAILABLE = re.compile(r"^\S+: unavailable: (.+)$")


def unavailable(binary):
    """Why this machine cannot run the model (io_uring refused), as the server says it on
    stderr before exiting 1 without listening; None when it starts (or fails otherwise: the
    cases then say how)."""
    srv = Server(binary, ["--port", "0"])
    try:
        srv.start()
    except ServerError:
        if srv.proc is not None and srv.proc.returncode == 1:
            for line in srv.stderr_lines:
                m = UNAVAILABLE.match(line)
                if m:
                    return m.group(1)
        return None
    srv.stop()
    return None


def describe_rc(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit code {rc}"
