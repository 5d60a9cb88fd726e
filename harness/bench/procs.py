"""Child processes whose resource usage we read exactly, and that never outlive the runner.

A server's CPU time and context switches come from wait4(): the kernel sums them over all the
process's threads, live and exited, and over every child it reaped (the fork model reaps its
connections' processes), which no sampling of /proc can do. So we reap our children ourselves
with os.wait4() instead of Popen.wait().

The runner is also made a "child subreaper": a process orphaned below us (say a fork
server's child whose parent was killed) is re-parented to the runner rather than to init, so
sweep() can find it and end it. Nothing we start is left running.
"""
import ctypes
import os
import signal
import subprocess
import time

PR_SET_CHILD_SUBREAPER = 36

_live = {}   # pid -> Child: everything started and not yet reaped, for stop_all()


def become_subreaper():
    """Orphans of our descendants become our children (Linux 3.4+); harmless if refused."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Child:
    """One started program, pinned to `cpus` with taskset, its output going to `log_path`."""

    def __init__(self, argv, log_path, cpus=None, stdout_path=None):
        self.argv = (["taskset", "-c", cpus] if cpus else []) + list(argv)
        self.log_path = log_path
        self.stdout_path = stdout_path or log_path
        with open(log_path, "ab") as log, open(self.stdout_path, "ab") as out:
            self._popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                           stderr=log, close_fds=True)
        self.pid = self._popen.pid
        self.started = time.monotonic()
        self.ended = None
        self.exit_code = None     # as subprocess gives it: negative for a signal
        self.rusage = None
        _live[self.pid] = self

    @property
    def running(self):
        return self.exit_code is None and not self._reap(os.WNOHANG)

    def _reap(self, flags):
        """wait4() once; True once the child is reaped."""
        if self.exit_code is not None:
            return True
        try:
            pid, status, rusage = os.wait4(self.pid, flags)
        except ChildProcessError:      # reaped elsewhere: no rusage to give
            pid, status, rusage = self.pid, 0, None
        if pid == 0:
            return False
        self.ended = time.monotonic()
        self.exit_code = os.waitstatus_to_exitcode(status)
        self.rusage = rusage
        self._popen.returncode = self.exit_code   # so Popen never waits for it again
        _live.pop(self.pid, None)
        return True

    def wait(self, timeout):
        """Waits up to `timeout` seconds; True if the child has ended."""
        deadline = time.monotonic() + timeout
        while not self._reap(os.WNOHANG):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def send(self, sig):
        if self.exit_code is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, grace=5.0, sig=signal.SIGTERM):
        """Asks the child to stop, then kills it after `grace` seconds. True if it obeyed."""
        self.send(sig)
        if self.wait(grace):
            return True
        self.send(signal.SIGKILL)
        self.wait(5.0)
        return False

    def output(self):
        with open(self.stdout_path, "r", errors="replace") as f:
            return f.read()


def cpu_seconds(rusage):
    """(user, system) seconds, or (None, None) without a rusage."""
    if rusage is None:
        return None, None
    return rusage.ru_utime, rusage.ru_stime


def stop_all(grace=3.0):
    """Stops every child still running (on Ctrl-C or an error), then sweeps orphans."""
    children = list(_live.values())
    for child in children:
        child.send(signal.SIGTERM)
    for child in children:
        if not child.wait(grace):
            child.send(signal.SIGKILL)
            child.wait(5.0)
    sweep()


def parents():
    """{pid: its parent's pid} for every process, from /proc/N/stat."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue          # it ended while we looked
        # The ppid is the second field after the ")" that closes the command name.
        found[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return found


def _orphans():
    """Processes whose parent is the runner but that we did not start: adopted orphans."""
    me = os.getpid()
    return [pid for pid, ppid in parents().items() if ppid == me and pid not in _live]


def sweep():
    """Kills and reaps adopted orphans. Only call it when none of our own children runs a
    subprocess we still want to wait for elsewhere (between runs)."""
    for pid in _orphans():
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
