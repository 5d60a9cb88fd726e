"""What the runner measures, and starting one for a run and stopping it so that its rusage
is exact.

A target is what a run puts under load, by the name runs.csv gives it: a model
(`build/bin/MODEL`, from the Makefile's MODELS or a lab's own), a variant of one with fixed
options, or a reference server that is not ours. Register a variant or a reference server in
TARGETS; any other name is a model.

Every run gets a fresh server: its whole life is the run (a warm-up, the measurement), so the
CPU time and context switches that wait4() reports at its end belong to that run alone.

A model is `build/bin/MODEL --port 0 ...`, pinned to the server's cores with taskset; it
prints "listening on ADDR:PORT (MODEL, PROTO, pid N)" when ready, and stops on SIGTERM after
releasing what it holds (the fork model reaps its children first).
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

from . import sampling
from .procs import Child

LISTENING = re.compile(r"listening on (\S+):(\d+) \((\S+), (\S+), pid (\d+)\)")
# What a model says, before it listens, where this machine cannot run it (uring where
# io_uring is refused); it then exits 1.
UNAVAILABLE = re.compile(r"^\S+: unavailable: (.+)$", re.M)
# What epoll --workers N says at its stop: how many connections each worker served.
PER_WORKER = re.compile(r"^\S+: connections per worker:((?: \d+)+)$", re.M)


class ServerError(Exception):
    pass


def made_models(root):
    """The Makefile's MODELS, the project's one list of models, as `make print-models`
    prints it (make's own variables from a `make bench` above us are left out, so that a
    MODELS= given there does not narrow the list)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    try:
        p = subprocess.run(["make", "-s", "--no-print-directory", "-C", root, "print-models"],
                           env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return p.stdout.split() if p.returncode == 0 else []


@dataclass(frozen=True)
class Target:
    """How to start one kind of server. The base case is a model: build/bin/PROGRAM with the
    options every model takes. A reference server overrides argv() and missing() (and
    ready() if it does not print "listening on")."""
    name: str                       # as runs.csv, the plots and --models name it
    program: str = ""               # build/bin/PROGRAM; "" for the name itself
    args: tuple = ()                # options it always gets (a variant's)
    workers_per_core: bool = False  # it takes --workers: one OS thread per server core
    scales: bool = False            # it can use several cores (the scaling scenario)
    workers_when_scaling: bool = False   # --workers = its cores, in the scaling scenario only
    reference: bool = False         # not ours (nginx, Go): without it the others still run
    title: str = ""                 # its name on plots and in the report; "" for the name
    paths: tuple = ()               # the only HTTP paths it serves; () for every route
    protos: tuple = ("http", "echo")
    needs: str = ""                 # a program it runs, which may not be installed
    install: str = ""               # how to get what it lacks (a Debian package)
    variant_of: str = ""            # a variant runs wherever this model runs...
    scenarios: tuple = ()           # ...in these scenarios only; () for every scenario
    points: tuple = ()              # ...at the points of these labels only (where its
                                    # difference shows: runs cost minutes); () for all

    def binary(self, bin_dir):
        return os.path.join(bin_dir, self.program or self.name)

    def missing(self, bin_dir):
        """Why it cannot run here ("" when it can): one line for the user."""
        if self.needs and not shutil.which(self.needs, path=os.environ.get("PATH", "") +
                                           os.pathsep + "/usr/sbin"):
            return f"{self.needs} is not installed ({self.install})"
        if not os.access(self.binary(bin_dir), os.X_OK):
            if self.install:
                return (f"no server binary for {self.name} in {bin_dir} (run make; it needs "
                        f"{self.install})")
            return f"no server binary for {self.name} in {bin_dir} (run make)"
        return ""

    def sits_out(self, scenario, point=None):
        """True for a scenario (or a point of it: a Point or None for the scenario) a variant
        is not meant for: not run, and no note about it."""
        if self.scenarios and scenario not in self.scenarios:
            return True
        return bool(point and self.points) and point.label not in self.points

    def cannot_serve(self, point):
        """Why it cannot take part in a point ("" when it can): nginx serves three routes
        and no echo protocol. Such a point is not run: its cells say "n/a"."""
        if point.proto not in self.protos:
            return f"no {point.proto} protocol"
        if point.server_cores and not self.scales:
            return "one thread: it cannot use more cores"
        if self.paths:
            other = sorted({l.path.split("?")[0] for l in point.loads} - set(self.paths))
            if other:
                return f"no {', '.join(other)}"
        return ""

    def unavailable(self, bin_dir, timeout=10.0):
        """Why this machine cannot run it ("" when it can): a model says so in one line and
        exits 1 before listening. Asked once, before the plan, by starting it once."""
        if self.reference:
            return ""
        with tempfile.NamedTemporaryFile(prefix="bench-probe-", suffix=".log") as log:
            # --workers 1: every model takes it, and a pool (prefork) starts small.
            child = Child([self.binary(bin_dir), "--port", "0", "--workers", "1"], log.name)
            deadline = time.monotonic() + timeout
            while child.running and time.monotonic() < deadline:
                if self.ready(child.output()):
                    break
                time.sleep(0.01)
            if child.running:
                child.stop(grace=5.0)
                return ""
            m = UNAVAILABLE.search(child.output())
            return m.group(1) if child.exit_code == 1 and m else ""

    def argv(self, bin_dir, proto, max_conns, cpu_list, scaling=False, header_timeout=0):
        argv = [self.binary(bin_dir), "--port", "0", "--proto", proto, *self.args]
        if max_conns:   # None: the model's own default
            argv[5:5] = ["--max-conns", str(max_conns)]
        if header_timeout:   # 0: the model's own default
            argv += ["--header-timeout", str(header_timeout)]
        if self.workers_per_core or (scaling and self.workers_when_scaling):
            argv += ["--workers", str(len(cpu_list))]
        return argv

    def ready(self, output):
        """The port it listens on, once its output says it is ready; None before."""
        m = LISTENING.search(output)
        return int(m.group(2)) if m else None


# The targets that are not plain models: variants (a model with options) and reference
# servers. Every other name is a model, started as Target(name).
# The reference servers (mk/refs.mk) take a model's command line; each runs one worker (a
# process for nginx, GOMAXPROCS for Go) per server core, as green does.
# green-nohandoff serves /block without green_blocking(): the runtime's monitor must notice the
# stuck worker and hand it to another thread (docs/green.md), side by side with green.
# green-nomonitor runs without the monitor, to show what it costs a server: CPU per request at
# a fixed rate (the efficiency scenario's 25 % of the generator's ceiling).
# In the scaling scenario, the models that can use several cores: fork, thread and prefork by
# nature, pool with its default of 4 workers per core it is given, green and the references
# with a worker per core, epoll with --workers (only there: elsewhere epoll is the one-thread
# loop it teaches).
TARGETS = {t.name: t for t in (
    Target("fork", scales=True),
    Target("thread", scales=True),
    Target("prefork", scales=True),
    Target("pool", scales=True),
    Target("epoll", scales=True, workers_when_scaling=True),
    Target("green", workers_per_core=True, scales=True),
    Target("green-nohandoff", program="green", args=("--no-handoff",), workers_per_core=True,
           title="green --no-handoff", variant_of="green", scenarios=("blocking",),
           points=("with /block",)),
    Target("green-nomonitor", program="green", args=("--no-monitor",), workers_per_core=True,
           title="green --no-monitor", variant_of="green", scenarios=("efficiency",),
           points=("25%",)),
    Target("nginx", program="ref-nginx", workers_per_core=True, scales=True, reference=True,
           title="nginx (reference)", paths=("/", "/plaintext", "/json"), protos=("http",),
           needs="nginx", install="Debian: nginx-light"),
    Target("go", program="ref-go", workers_per_core=True, scales=True, reference=True,
           title="Go net/http (reference)", install="Go, Debian: golang-go"),
)}
REFERENCES = [t.name for t in TARGETS.values() if t.reference]
VARIANTS = [t for t in TARGETS.values() if t.variant_of]


def target(name):
    return TARGETS.get(name) or Target(name)


def title(name):
    """A server's name on plots and in the report: a reference server says it is one."""
    return target(name).title or name


class Server:
    def __init__(self, tgt, bin_dir, proto, max_conns, cpus, cpu_list, log_path, scaling=False,
                 host=None, header_timeout=0):
        self.target = tgt
        self.model = tgt.name
        # Every server listens on 127.0.0.1 unless given the address (on another host).
        self.argv = tgt.argv(bin_dir, proto, max_conns, cpu_list, scaling, header_timeout) + \
            (["--host", host] if host else [])
        self.cpus = cpus
        self.log_path = log_path
        self.child = None
        self.port = None

    def start(self, timeout=10.0):
        """Starts the server and waits for its "listening on" line."""
        if not os.access(self.argv[0], os.X_OK):
            raise ServerError(f"{self.argv[0]} is not built (run make)")
        if os.path.exists(self.log_path):      # a results directory used again (--out)
            os.remove(self.log_path)
        self.child = Child(self.argv, self.log_path, cpus=self.cpus)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.port = self.target.ready(self.child.output())
            if self.port:
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

    def sample(self):
        """What its process tree holds now (sampling.sample)."""
        return sampling.sample(self.pid)

    def sampler(self, interval):
        return sampling.Sampler(self.pid, interval)

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

    def conns_per_worker(self):
        """What a server with several workers said at its stop (epoll --workers): the
        connections each served, "510 490"; "" when it did not say."""
        try:
            with open(self.log_path, errors="replace") as f:
                found = PER_WORKER.findall(f.read())
        except OSError:
            return ""
        return found[-1].strip() if found else ""

    def log_tail(self, lines=3):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-lines:])
        except OSError:
            return ""
