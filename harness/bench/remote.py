"""A benchmark across hosts: the server on one (SERVER_HOST), the load from others
(CLIENT_HOSTS), reached over ssh (hosts.py) and driven there by the agent (agent.py).

The runner's loop is the local one; only three things go elsewhere, behind this module:
the server (RemoteServer: the Server's interface, measured on its host by the same code),
the load (run_load(): each load of a point split evenly over the client hosts, started
together, merged into one Measured), and what env.txt says about the hosts and the link.

Before any run, prepare() checks every host (ssh in batch mode, the same architecture as
here, rsync, python3, taskset) and copies the binaries into a directory of the run's own;
a host that fails is one line naming it, and exit code 2. close() removes those
directories. A host lost in the middle of a run makes that run invalid, with its name.
"""
import dataclasses
import json
import os
import platform
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import types

from . import hosts, tools
from .cpus import parse as parse_cpus
from .sampling import Sample
from .servers import Server, ServerError
from .tools import Measured

START_AHEAD_S = 0.5   # the generators start together this long after the last is ready
AGENT_TIMEOUT_S = 60  # ssh and python's start on a loaded host: a bound, not an estimate


class Remote:
    def __init__(self, server, clients, server_addr, out_dir=""):
        self.server_host = server
        self.clients = clients
        self.server_addr = server_addr
        self.info = {}                 # Host -> the agent's "info"
        self.client_pin = ""           # CLIENT_CPUS, for taskset on every client host
        self.out_dir = out_dir
        self.control_dir = ""

    @property
    def all_hosts(self):
        return [self.server_host] + self.clients

    # --- before any run -------------------------------------------------------------------

    @classmethod
    def prepare(cls, cfg, files, build=None):
        """Opens and checks every host and sends it `files`; HostError names the first host
        that cannot take part. files: {"server": [(top, [paths], into)], "client": [...]}.
        build ({"server": [make targets], "client": [...]}, REMOTE_BUILD): `files` is the
        source, built on each host by make; then its architecture may differ from ours."""
        control_dir = tempfile.mkdtemp(prefix="c10k-ssh-")
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}"
        server = hosts.Host(cfg.server_host, "server", control_dir, cfg.ssh_config)
        clients = [hosts.Host(d, f"client {i}", control_dir, cfg.ssh_config)
                   for i, d in enumerate(cfg.client_hosts, 1)]
        self = cls(server, clients, cfg.server_addr or server.hostname())
        self.control_dir = control_dir
        self.client_pin = cfg.client_cpus
        try:
            for h in self.all_hosts:
                h.open()
                h.run_dir = f"{cfg.remote_dir}/{stamp}-{h.role.replace(' ', '')}"
                tools_needed = "rsync python3 taskset" + (" make cc" if build else "")
                _check(h, h.run(_PROBE.format(dir=shlex.quote(h.run_dir), tools=tools_needed)),
                       same_arch=not build)
            for h in self.all_hosts:
                for top, paths, into in files["server" if h is server else "client"]:
                    h.push(top, paths, into)
            if build:
                _build(self.all_hosts, [build["server" if h is server else "client"]
                                        for h in self.all_hosts])
            for h in self.all_hosts:
                self.info[h] = json.loads(h.run(self._agent(h, "info", "--addr",
                                                            self.server_addr)))
        except (hosts.HostError, ValueError) as e:
            self.close()
            raise hosts.HostError(str(e)) from None
        except KeyboardInterrupt:
            self.close()
            raise
        return self

    def cpus(self, server_text, client_text):
        """(server cpus, client cpus, note): SERVER_CPUS on the server host, CLIENT_CPUS on
        each client host; by default all of a host's cores (it runs nothing else)."""
        server = parse_cpus(server_text or self.info[self.server_host]["cpus"])
        client = parse_cpus(client_text or self.info[self.clients[0]]["cpus"])
        return server, client, ""

    def have(self):
        """The load generators every client host has (loadgen is sent along)."""
        return {"wrk": all(self.info[h]["has wrk"] for h in self.clients), "loadgen": True}

    def missing(self, target):
        """Why the server host cannot run `target` (a reference server's program), or ""."""
        if target.needs == "nginx" and not self.info[self.server_host]["nginx"]:
            return f"{target.needs} is not installed on {self.server_host} ({target.install})"
        return ""

    def env(self):
        """env.txt's lines about the hosts and the link."""
        lines = [("hosts", f"server {self.server_host}, clients "
                           f"{' '.join(str(h) for h in self.clients)}; the runner on "
                           f"{platform.node()}")]
        for h in self.all_hosts:
            i = self.info[h]
            generators = "" if h is self.server_host else \
                f", wrk: {i['wrk']}, loadgen: {i['loadgen']}"
            lines.append((f"{h.role} host", f"{h.dest}: {i['node']}, {i['machine']}, {i['cpu']}, "
                          f"{i['cpus online']} cpus (usable {i['cpus']}), {i['memory']}, "
                          f"kernel {i['kernel']}, {i['os']}, python {i['python']}{generators}"))
        for h in self.all_hosts:
            link = self.info[h].get("link") or {}
            lines.append((f"{h.role} link",
                          f"to {self.server_addr}: {link.get('dev', '?')}, mtu "
                          f"{link.get('mtu', '?')}, qdisc {link.get('qdisc') or '?'}"))
        return lines

    def close(self):
        for h in self.all_hosts:
            h.close()
        if self.control_dir:
            # A master told to exit may not have removed its socket yet: the directory goes
            # with whatever is left in it.
            shutil.rmtree(self.control_dir, ignore_errors=True)

    # --- a run ----------------------------------------------------------------------------

    def _agent(self, host, *args):
        """The shell command that runs the agent in the host's run directory."""
        return (f"cd {shlex.quote(host.run_dir)} && exec python3 -m harness.bench.agent "
                + " ".join(shlex.quote(str(a)) for a in args))

    def server(self, tgt, bin_dir, proto, max_conns, cpus, cpu_list, log_path, scaling=False,
               header_timeout=0):
        """A RemoteServer, made as execute.run makes a Server."""
        return RemoteServer(self, tgt, proto, max_conns, cpus, log_path, scaling, header_timeout)

    def run_load(self, ctx, run_id, loads, port, duration, warmup, files=True):
        """Runs the loads of a point, each split over the client hosts, every generator
        started at the same moment. Returns ([Measured or None] per load, [problem])."""
        shares = [(i, h, share) for i, load in enumerate(loads)
                  for h, share in zip(self.clients, split(load, len(self.clients))) if share]
        timeout = warmup + duration + 5 + 30
        agents, problems = [], []
        try:
            for i, h, share in shares:
                argv = self._generator_argv(share, port, duration, warmup, ctx.client_cpus)
                log = open(ctx.path("logs", f"{run_id}.{i}.{h.role.replace(' ', '')}.ssh.log"), "a")
                proc = h.start(self._agent(h, "load", "--cpus", self.client_pin,
                                           "--timeout", f"{timeout:g}", "--", *argv), log)
                log.close()
                agents.append((i, h, share, proc))
            ready = _answers([a[3] for a in agents], AGENT_TIMEOUT_S)
            for (i, h, share, proc), answer in zip(agents, ready):
                if not answer or not answer.get("ready"):
                    raise _Lost(f"client host {h}: the load agent did not start "
                                f"({_ssh_tail(ctx, run_id, i, h)})")
            at = time.time() + START_AHEAD_S
            for _, h, _, proc in agents:
                try:
                    proc.stdin.write(f"start {at:.6f}\n")
                    proc.stdin.flush()
                except OSError:
                    raise _Lost(f"client host {h}: the load agent ended before the start "
                                "(host lost?)") from None
            finals = _answers([a[3] for a in agents], timeout + START_AHEAD_S + 30)
        except _Lost as e:
            return [None] * len(loads), [str(e)]
        finally:
            for *_, proc in agents:
                _end(proc)

        per_load = [[] for _ in loads]
        for (i, h, share, proc), answer in zip(agents, finals):
            m, problem = _measured(share, answer, h, ctx.client_cpus)
            if problem:
                problems.append(problem)
            per_load[i].append((h, share, m, answer))
        merged = []
        for i, parts in enumerate(per_load):
            ms = [m for _, _, m, _ in parts]
            m = merge(ms) if ms and all(ms) else None
            merged.append(m)
            if files:
                _write_hosts(ctx, run_id, i, parts)
                if m and m.spectrum:
                    tools.write_hgrm(ctx.path("hgrm", f"{run_id}.{i}.hgrm"), m.spectrum,
                                     m.requests)
        return merged, problems

    def _generator_argv(self, share, port, duration, warmup, client_cpus):
        threads = tools.threads_for(share, client_cpus)
        if share.tool == "wrk":
            return tools.wrk_argv("wrk", "harness/wrk/summary.lua", share, port, threads,
                                  duration, 5, host=self.server_addr)
        return tools.loadgen_argv("bin/loadgen", share, port, threads, duration, warmup, 5,
                                  "@SCRATCH@/out.json", "@SCRATCH@/out.hgrm",
                                  host=self.server_addr)


_PROBE = ("uname -m; for t in {tools}; do command -v $t >/dev/null || "
          "echo \"missing $t\"; done; mkdir -p {dir} || echo 'missing run directory'")


def _check(host, probe, same_arch=True):
    """One line on what makes a host unfit: another architecture, a missing tool."""
    lines = probe.split("\n")
    here, there = platform.machine(), lines[0].strip()
    if same_arch and there != here:
        raise hosts.HostError(f"{host.role} host {host.dest} is {there or 'unknown'}, this "
                              f"machine is {here}: the binaries built here cannot run there")
    missing = [l.split(" ", 1)[1] for l in lines[1:] if l.startswith("missing ")]
    if missing:
        raise hosts.HostError(f"{host.role} host {host.dest} lacks {', '.join(missing)} "
                              "(Debian: rsync, python3, util-linux; build-essential)")


BUILD_TIMEOUT_S = 900


def _build(all_hosts, targets):
    """make on every host at once (REMOTE_BUILD): each builds what it runs, in its run
    directory, and bin/ points to the result. HostError names a host whose build failed."""
    started = []
    for h, wanted in zip(all_hosts, targets):
        command = (f"cd {shlex.quote(h.run_dir)} && {{ make -j\"$(nproc)\" "
                   f"{' '.join(shlex.quote(t) for t in wanted)} >build.log 2>&1 || "
                   "{ tail -n 1 build.log >&2; exit 1; }; } && ln -sfn build/bin bin")
        started.append((h, subprocess.Popen(h.ssh_argv(command), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, text=True)))
    failed = ""
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    for h, proc in started:
        try:
            _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            err, proc.returncode = f"make did not finish within {BUILD_TIMEOUT_S} s", 1
        if proc.returncode != 0 and not failed:
            failed = f"{h.role} host {h.dest}: make failed: {hosts.last_line(err)}"
    if failed:
        raise hosts.HostError(failed)


def split(load, n):
    """`load` as n shares, one per client host: connections and open-loop rate divided
    evenly (the first hosts take the remainder); a share may be None when there are
    fewer connections than hosts."""
    shares = []
    for j in range(n):
        conns = load.conns // n + (1 if j < load.conns % n else 0)
        shares.append(dataclasses.replace(load, conns=conns, rate=load.rate * conns / load.conns)
                      if conns else None)
    return shares


def merge(parts):
    """One Measured from the hosts' parts: counts summed, latency from the merged
    histograms (the distribution of every request, whichever host sent it)."""
    m = Measured(requests=sum(p.requests for p in parts),
                 warmup_requests=sum(p.warmup_requests for p in parts),
                 duration_s=max(p.duration_s for p in parts), bytes=sum(p.bytes for p in parts),
                 gen_user_s=sum(p.gen_user_s for p in parts),
                 gen_sys_s=sum(p.gen_sys_s for p in parts),
                 gen_threads=sum(p.gen_threads for p in parts),
                 gen_elapsed_s=max(p.gen_elapsed_s for p in parts))
    for kind in m.errors:
        m.errors[kind] = sum(p.errors.get(kind, 0) for p in parts)
    for name in ("conns_established", "conns_open_at_end", "target_rate", "achieved_rate",
                 "late_sends", "connects"):
        values = [getattr(p, name) for p in parts]
        setattr(m, name, None if None in values else sum(values))
    m.spectrum = merge_spectra([(p.spectrum, p.requests) for p in parts])
    lat = {}
    if m.requests:
        lat["min"] = min(p.latency_us.get("min", 0) for p in parts if p.requests)
        lat["max"] = max(p.latency_us.get("max", 0) for p in parts)
        lat["mean"] = sum(p.latency_us.get("mean", 0) * p.requests for p in parts) / m.requests
        for name in tools.PERCENTILES:
            lat[name] = percentile(m.spectrum, float(name[1:]))
    m.latency_us = lat
    return m


def merge_spectra(parts):
    """[(percentile, value)] of the union of distributions given as ([(percentile, value)],
    count) each: at every value any part lists, the merged count at or below it is the sum
    of each part's count at or below it (each part's step function, read at that value)."""
    parts = [(sorted((v, p) for p, v in spectrum), n) for spectrum, n in parts if n > 0]
    total = sum(n for _, n in parts)
    if not total:
        return []
    values = sorted({v for spectrum, _ in parts for v, _ in spectrum})
    merged, cursor, below = [], [0] * len(parts), [0.0] * len(parts)
    for v in values:
        for k, (spectrum, n) in enumerate(parts):
            while cursor[k] < len(spectrum) and spectrum[cursor[k]][0] <= v:
                below[k] = spectrum[cursor[k]][1] / 100.0 * n
                cursor[k] += 1
        merged.append((100.0 * sum(below) / total, v))
    return merged


def percentile(spectrum, p):
    """The smallest value with at least p% of the distribution at or below it."""
    for q, v in spectrum:
        if q >= p - 1e-9:
            return v
    return spectrum[-1][1] if spectrum else 0.0


def _measured(share, answer, host, client_cpus):
    """A host's Measured from its agent's answer, or (None, why)."""
    if not answer:
        return None, f"client host {host}: the load agent ended without a result (host lost?)"
    try:
        if share.tool == "wrk":
            m = tools.parse_wrk(answer["stdout"])
        else:
            m = tools.parse_loadgen(answer["json"])
            m.spectrum = tools.parse_hgrm(answer["hgrm"])
    except (tools.ToolError, KeyError, ValueError) as e:
        tail = " | ".join(answer.get("log", "").strip().splitlines()[-2:])
        return None, f"client host {host}: {share.tool} (exit {answer.get('exit')}): {e} {tail}"
    m.gen_user_s, m.gen_sys_s = answer["user_s"], answer["sys_s"]
    m.gen_elapsed_s = answer["elapsed_s"]
    m.gen_threads = tools.threads_for(share, client_cpus)
    return m, ""


HOSTS_CSV = ("run", "load", "host", "tool", "conns", "rate", "requests", "bytes", "errors",
             "lat_p50_us", "lat_p99_us", "lat_max_us", "gen_user_s", "gen_sys_s", "late_start_s")


def _write_hosts(ctx, run_id, i, parts):
    """hosts.csv: each host's share of each run, beside the merged row in runs.csv."""
    path = os.path.join(ctx.out_dir, "hosts.csv")
    new = not os.path.exists(path)
    with open(path, "a") as f:
        if new:
            f.write(",".join(HOSTS_CSV) + "\n")
        for h, share, m, answer in parts:
            lat = m.latency_us if m else {}
            cells = [run_id, i, h.dest, share.tool, share.conns, f"{share.rate:g}",
                     m.requests if m else "", m.bytes if m else "",
                     sum(m.errors.values()) if m else "", lat.get("p50", ""), lat.get("p99", ""),
                     lat.get("max", ""), f"{m.gen_user_s:.3f}" if m else "",
                     f"{m.gen_sys_s:.3f}" if m else "",
                     f"{answer['late_s']:.3f}" if answer else ""]
            f.write(",".join(str(c) for c in cells) + "\n")


class _Lost(Exception):
    pass


def _answers(procs, timeout):
    """The next JSON line of each process (None for one that ended or said nothing in time)."""
    answers = [None] * len(procs)
    waiting = {p.stdout.fileno(): k for k, p in enumerate(procs)}
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        readable, _, _ = select.select(list(waiting), [], [], deadline - time.monotonic())
        for fd in readable:
            k = waiting.pop(fd)
            line = procs[k].stdout.readline()
            try:
                answers[k] = json.loads(line) if line else None
            except ValueError:
                answers[k] = None
    return answers


def _end(proc, grace=5.0):
    """Closes an agent's lifeline (it stops what it started), then makes sure ssh ends."""
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(grace)
    except Exception:
        proc.kill()
        proc.wait()


def _ssh_tail(ctx, run_id, i, h):
    path = ctx.path("logs", f"{run_id}.{i}.{h.role.replace(' ', '')}.ssh.log")
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().strip().splitlines()[-2:]) or "no output"
    except OSError:
        return "no output"


class RemoteServer:
    """A server on the server host, with a Server's interface (start, port, sample,
    sampler, stop, rusage, running) for execute.run."""

    def __init__(self, remote, tgt, proto, max_conns, cpus, log_path, scaling=False,
                 header_timeout=0):
        self.remote = remote
        self.host = remote.server_host
        self.model = tgt.name
        self.log_path = log_path
        self.args = ["serve", "--target", tgt.name, "--proto", proto, "--max-conns",
                     max_conns or 0, "--cpus", cpus, "--host", remote.server_addr,
                     "--log", os.path.basename(log_path),
                     "--header-timeout", header_timeout] + (["--scaling"] if scaling else [])
        self.proc = None
        self.port = None
        self.base = None
        self.rusage = None

    def _ask(self, line, timeout):
        try:
            if line:
                self.proc.stdin.write(line + "\n")
                self.proc.stdin.flush()
        except OSError:       # ssh ended: Ctrl-C reached it too, or the host is gone
            answer = None
        else:
            answer = _answers([self.proc], timeout)[0]
        if answer is None:
            raise ServerError(f"server host {self.host}: the server's agent ended or did not "
                              f"answer '{line or 'start'}' (host lost?)")
        return answer

    def start(self):
        log = open(self.log_path + ".ssh", "a")
        self.proc = self.host.start(self.remote._agent(self.host, *self.args), log)
        log.close()
        answer = self._ask("", AGENT_TIMEOUT_S)
        if "error" in answer:
            self._close()
            raise ServerError(f"server host {self.host}: {answer['error']}")
        self.port, self.base = answer["port"], Sample(**answer["base"])
        return self

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def sample(self):
        return self.base

    def sampler(self, interval):
        return _RemoteSampler(self, interval)

    def stop(self, grace=10.0):
        if not self.running:
            self._close()
            return f"server host {self.host}: the server's agent had ended (host lost?)"
        try:
            answer = self._ask(f"stop {grace:g}", grace + 15)
        except ServerError as e:
            self._close()
            return str(e)
        ru = answer.get("rusage")
        self.rusage = types.SimpleNamespace(**ru) if ru else None
        with open(self.log_path, "a") as f:
            f.write(answer.get("log", ""))
        self._close()
        return answer.get("problem", "")

    def _close(self):
        if self.proc:
            _end(self.proc)

    # What the server's log says, read as locally: stop() wrote it to log_path.
    conns_per_worker = Server.conns_per_worker
    log_tail = Server.log_tail


class _RemoteSampler:
    def __init__(self, server, interval):
        self.server = server
        self.interval = interval

    def start(self):
        try:
            self.server.proc.stdin.write(f"sample {self.interval:g}\n")
            self.server.proc.stdin.flush()
        except OSError:
            pass              # the host is gone: stop() says so
        return self

    def stop(self):
        try:
            answer = self.server._ask("samples", 30)
        except ServerError:
            return []         # the run's problem is said when the server is stopped
        return [Sample(**s) for s in answer.get("samples", [])]


def fail(message):
    """A host that cannot take part: one line, exit code 2."""
    sys.stderr.write(f"bench: {message}\n")
    sys.exit(2)
