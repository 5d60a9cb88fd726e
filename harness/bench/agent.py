"""The runner's hands on another host: run there as `python3 -m harness.bench.agent`, in the
run's directory that the runner filled (bin/, harness/), over ssh (hosts.py, remote.py).

It measures with the same code as a local run (servers.Server, wait4() in procs, /proc in
sampling), so a figure means the same whichever host it came from. It talks in lines: JSON
objects on stdout, commands on stdin. Its stdin is its lifeline: when it closes (the runner
stopped, was interrupted, or lost the host), the agent stops what it started and exits, so
nothing is left running there.

  info [--addr A]     this host: CPU, cores, kernel, tools; the interface that has A (or
                      the route to A): its name, MTU and queueing discipline
  serve ...           starts a server, says {"port", "base"} when it listens; stdin
                      "sample INTERVAL" starts sampling it, "samples" -> {"samples"};
                      "stop GRACE" -> {"problem", "rusage", "exit", "log"}, and exits
  load ... -- ARGV    says {"ready"}; stdin "start T" starts ARGV at the wall-clock time T
                      (so that every host's generator starts together), then answers
                      {"exit", "user_s", "sys_s", "elapsed_s", "late_s", "stdout", "json",
                      "hgrm"} when it ends
"""
import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from . import cpus, envinfo, procs, sampling, servers
from .cpus import available, to_text


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _link(addr):
    """The interface that holds `addr`, or else the one the route to it leaves by."""
    if not addr or not shutil.which("ip"):
        return {}
    dev = ""
    try:
        out = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True,
                             timeout=10).stdout
        for line in out.splitlines():
            words = line.split()
            if len(words) > 3 and words[3].split("/")[0] == addr:
                dev = words[1]
        if not dev:
            out = subprocess.run(["ip", "-o", "route", "get", addr], capture_output=True,
                                 text=True, timeout=10).stdout.split()
            dev = out[out.index("dev") + 1] if "dev" in out else ""
        qdisc = subprocess.run(["tc", "qdisc", "show", "dev", dev], capture_output=True,
                               text=True, timeout=10).stdout.strip().splitlines() \
            if dev and shutil.which("tc") else []
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return {}
    return {"dev": dev, "mtu": envinfo.read_text(f"/sys/class/net/{dev}/mtu"),
            "qdisc": _qdisc(qdisc[0]) if qdisc else ""}


def _qdisc(line):
    """ "qdisc tbf 8001: root refcnt 3 rate 1Gbit burst 131000b lat 50ms" -> its kind and
    parameters, "tbf rate 1Gbit burst 131000b lat 50ms"."""
    words = line.split()[1:]
    keep = [words[0]]
    skip = {"root", "refcnt"}
    i = 2
    while i < len(words):
        if words[i] == "refcnt":
            i += 2
            continue
        if words[i] not in skip:
            keep.append(words[i])
        i += 1
    return " ".join(keep)


def info(a):
    wrk = shutil.which("wrk") or "wrk"
    say({"machine": platform.machine(), "node": platform.node(), "cpu": envinfo.cpu_model(),
         "cpus online": os.cpu_count(), "cpus": to_text(available()),
         "memory": envinfo.meminfo_total(), "kernel": " ".join(platform.uname()[2:4]),
         "os": envinfo.os_name(), "python": platform.python_version(),
         "wrk": envinfo.first_line([wrk, "-v"]), "has wrk": bool(shutil.which("wrk")),
         "loadgen": envinfo.first_line(["bin/loadgen", "--version"]),
         "nginx": bool(shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin")),
         "taskset": bool(shutil.which("taskset")), "link": _link(a.addr)})
    return 0


def _lifeline(on_close):
    """Calls on_close() when stdin closes, from a thread; returns the queue of lines read."""
    lines = []
    ready = threading.Condition()

    def read():
        for line in sys.stdin:
            with ready:
                lines.append(line.strip())
                ready.notify_all()
        on_close()
        with ready:
            lines.append(None)
            ready.notify_all()

    threading.Thread(target=read, daemon=True).start()

    def next_line():
        with ready:
            ready.wait_for(lambda: lines)
            return lines.pop(0)
    return next_line


def serve(a):
    procs.become_subreaper()
    tgt = servers.target(a.target)
    cpu_list = cpus.parse(a.cpus) if a.cpus else available()
    server = servers.Server(tgt, os.path.abspath("bin"), a.proto, a.max_conns, a.cpus,
                            cpu_list, os.path.abspath(a.log), scaling=a.scaling, host=a.host,
                            header_timeout=a.header_timeout)
    next_line = _lifeline(lambda: None)
    try:
        server.start()
    except servers.ServerError as e:
        say({"error": str(e)})
        return 1
    sampler = None
    try:
        base = sampling.sample(server.pid)
        say({"port": server.port, "pid": server.pid, "base": dataclasses.asdict(base)})
        while True:
            line = next_line()
            if line is None:            # the runner is gone: stop, and say nothing more
                return 1
            if line.startswith("sample ") and not sampler:
                sampler = sampling.Sampler(server.pid, float(line.split()[1])).start()
            elif line == "samples" and sampler:
                samples, sampler = sampler.stop(), None
                say({"samples": [dataclasses.asdict(s) for s in samples]})
            elif line.startswith("stop"):
                if sampler:
                    sampler.stop()
                    sampler = None
                problem = server.stop(grace=float(line.split()[1]))
                ru = server.rusage
                say({"problem": problem, "exit": server.child.exit_code,
                     "rusage": ru and {k: getattr(ru, k) for k in RUSAGE},
                     "log": envinfo.read_text(server.log_path, "")[-20000:]})
                return 0
    finally:
        if sampler:
            sampler.stop()
        if server.running:
            server.stop(grace=2.0)
        procs.stop_all()


RUSAGE = ("ru_utime", "ru_stime", "ru_nvcsw", "ru_nivcsw", "ru_maxrss")


def load(a):
    scratch = tempfile.mkdtemp(prefix="load.", dir=".")
    argv = [arg.replace("@SCRATCH@", scratch) for arg in a.argv]
    stop = threading.Event()
    next_line = _lifeline(stop.set)
    child = None
    try:
        say({"ready": True})
        line = next_line()
        if not line or not line.startswith("start "):
            return 1
        at = float(line.split()[1])
        if stop.wait(max(0.0, at - time.time())):
            return 1
        late = time.time() - at
        log = os.path.join(scratch, "out.log")
        child = procs.Child(argv, log, cpus=a.cpus or None,
                            stdout_path=os.path.join(scratch, "stdout"))
        deadline = time.monotonic() + a.timeout
        while not child.wait(0.1):
            if stop.is_set():
                return 1
            if time.monotonic() > deadline:
                child.stop(grace=2.0)
                break
        ru = child.rusage
        say({"exit": child.exit_code, "late_s": late, "elapsed_s": child.ended - child.started,
             "user_s": ru.ru_utime if ru else 0.0, "sys_s": ru.ru_stime if ru else 0.0,
             "stdout": envinfo.read_text(child.stdout_path, ""),
             "log": envinfo.read_text(log, "")[-4000:],
             "json": envinfo.read_text(os.path.join(scratch, "out.json"), ""),
             "hgrm": envinfo.read_text(os.path.join(scratch, "out.hgrm"), "")})
        return 0
    finally:
        if child and child.exit_code is None:
            child.stop(grace=2.0)
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv):
    p = argparse.ArgumentParser(prog="agent")
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("info")
    i.add_argument("--addr", default="")
    s = sub.add_parser("serve")
    s.add_argument("--target", required=True)
    s.add_argument("--proto", required=True)
    s.add_argument("--max-conns", type=int, required=True)
    s.add_argument("--cpus", default="")
    s.add_argument("--host", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--scaling", action="store_true")
    s.add_argument("--header-timeout", type=int, default=0)
    g = sub.add_parser("load")
    g.add_argument("--cpus", default="")
    g.add_argument("--timeout", type=float, required=True)
    g.add_argument("argv", nargs="+")
    a = p.parse_args(argv)
    return {"info": info, "serve": serve, "load": load}[a.command](a)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
