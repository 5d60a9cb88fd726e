"""What a case is: a function, registered under group/name, that raises Fail with a one-line
reason ("expected 431, got 400") when the server misbehaves.

A case asks its Context for the servers it needs; each is fresh (so cases can run side by
side and a crash is blamed on the case that caused it), and is killed when the case ends.
"""
import os
import threading
from contextlib import contextmanager

# Models that serve at most --workers connections at once by design (prefork: a process
# each); the connections beyond wait in the listen backlog, neither served nor refused. A case
# that holds more than that at once starts such a model with enough processes, so that it
# judges the protocol and not the pool's size (tests/models checks the backlog itself).
FIXED_POOL = {"prefork"}

GROUPS = ["basic", "http", "bad-input", "concurrency", "limits", "lifecycle", "echo"]
CASES = []


class Fail(Exception):
    pass


class Case:
    def __init__(self, group, name, proto, func, heavy, suspects=()):
        self.group = group
        self.name = name
        self.proto = proto          # "http", "echo", or None for the command line
        self.func = func
        # Many connections or processes (200 or more at once): one such case at a time. A
        # fork server under ASan makes a process per connection, and each runs LeakSanitizer
        # as it ends (30 ms of CPU): beside a heavy case's thousands, many-slow-clients took
        # twice as long here, and in CI its request went unanswered for 30 s.
        self.heavy = heavy
        # Other cases (GROUP/NAME, and the hint to give) whose failure can make this one fail
        # too: when one of them fails, this one's failure points at it.
        self.suspects = dict(suspects)

    @property
    def full_name(self):
        return f"{self.group}/{self.name}"


def case(group, name, proto="http", heavy=False, suspects=()):
    """Registers func as the case group/name. suspects: (GROUP/NAME, hint) pairs, other cases
    that catch a bug which also fails this one, and would explain its failure."""
    assert group in GROUPS, group

    def register(func):
        assert all(c.full_name != f"{group}/{name}" for c in CASES), name
        CASES.append(Case(group, name, proto, func, heavy, suspects))
        return func
    return register


def expect(cond, reason):
    if not cond:
        raise Fail(reason)


def expect_eq(got, want, what):
    if got != want:
        raise Fail(f"{what}: expected {want!r}, got {got!r}")


@contextmanager
def step(what):
    """Names the step a failure happened in: "uploader: connection closed before..."."""
    try:
        yield
    except Fail as e:
        raise Fail(f"{what}: {e}") from None


def until_conclusive(ctx, attempt_once, attempts=3):
    """Runs attempt_once() until it concludes, at most `attempts` times. It returns None when
    the case passed and raises Fail when the server is at fault; it returns why its attempt
    proves nothing when the client itself was late (a loaded machine's doing, not the
    server's), which is noted, and the attempt runs again."""
    for attempt in range(1, attempts + 1):
        why = attempt_once()
        if why is None:
            return
        ctx.note(f"attempt {attempt}: {why}")
    raise Fail(f"inconclusive: {attempts} times the client itself was late (the machine is too "
               f"loaded); last: {why}")


class Context:
    """What a case runs with: the binary, its protocol, and the servers it started."""

    def __init__(self, binary, proto, server_args=()):
        self.binary = binary
        self.proto = proto
        self.server_args = list(server_args)   # --server-args: before each case's own
        self.servers = []
        self.notes = []
        self.lock = threading.Lock()

    def pool_for(self, holds):
        """Processes a fixed-pool model needs for a case that holds `holds` connections at
        once (0 for every other model): see FIXED_POOL."""
        return holds + 8 if os.path.basename(self.binary) in FIXED_POOL and holds else 0

    def server(self, *args, proto=None, limited=None, holds=0):
        """Starts a fresh server: --port 0, the case's protocol, and args. `holds`: the most
        connections the case holds open at once, when that is more than a few hundred."""
        from fixture import Server, ServerError
        proto = proto or self.proto or "http"
        pool = self.pool_for(holds)
        sized = ["--workers", str(pool)] if pool else []   # after args: the last one counts
        srv = Server(self.binary,
                     ["--port", "0", "--proto", proto, *self.server_args, *args, *sized], limited)
        with self.lock:
            self.servers.append(srv)
        try:
            srv.start()
        except ServerError as e:
            raise Fail(str(e))
        srv.proto = proto
        return srv

    def note(self, msg):
        """A detail shown with -v: what was measured, not a verdict."""
        with self.lock:
            self.notes.append(msg)
