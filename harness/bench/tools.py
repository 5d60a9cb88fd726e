"""The load generators: their command lines, and their outputs in one shape.

wrk drives HTTP keep-alive throughput (where users use it); the suite's own loadgen drives
echo, open loop (--rate), churn (--close) and idle connections (--idle); slowloris.py plays
slow clients that trickle a request head and never finish it. Whatever the tool, a run's
figures come back as a Measured: latencies in microseconds, errors by kind.

wrk has no warm-up: the runner runs it once more before the measured run instead.
"""
import json
import math
import os
import re
import sys
from dataclasses import dataclass, field

ERROR_KINDS = ("connect", "read", "write", "timeout", "status", "parse")
PERCENTILES = ("p50", "p90", "p99", "p99.9", "p99.99")
WRK_SUMMARY = re.compile(r"^C10K-WRK-SUMMARY (\{.*\})\s*$", re.M)


@dataclass
class Load:
    """One generator process of a run: what it sends and how."""
    tool: str                    # "wrk", "loadgen" or "slowloris"
    conns: int
    proto: str = "http"
    path: str = "/plaintext"
    rate: float = 0.0            # requests/s in all: open loop; 0: closed loop
    size: int = 64               # echo message bytes
    close: bool = False          # a new connection per request (churn)
    pipeline: int = 1            # requests in flight per connection (loadgen)
    idle: bool = False           # hold the connections, send nothing
    every: float = 1.0           # slowloris: seconds between two bytes of one attacker
    role: str = "main"           # "main" is measured; "background" is load beside it


@dataclass
class Measured:
    """A generator's figures: what it reported, plus its own CPU time from wait4()."""
    requests: int = 0
    warmup_requests: int = 0
    duration_s: float = 0.0
    bytes: int = 0
    errors: dict = field(default_factory=lambda: {k: 0 for k in ERROR_KINDS})
    latency_us: dict = field(default_factory=dict)   # min mean p50 ... p99.99 max
    spectrum: list = field(default_factory=list)     # [(percentile, µs)], for the .hgrm
    conns_established: int = None                    # None: the tool does not say
    conns_open_at_end: int = None
    target_rate: float = None
    achieved_rate: float = None
    late_sends: int = None
    connects: int = None
    gen_user_s: float = 0.0
    gen_sys_s: float = 0.0
    gen_threads: int = 1
    gen_elapsed_s: float = 0.0
    closed_408: int = None                           # slowloris: attackers answered 408

    @property
    def req_per_s(self):
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0


def threads_for(load, client_cpus):
    """One generator thread per client core, but never more threads than connections."""
    return max(1, min(len(client_cpus), load.conns))


def whole_seconds(seconds):
    """wrk takes whole seconds."""
    return max(1, int(math.ceil(seconds)))


def wrk_argv(wrk, script, load, port, threads, duration, timeout, host="127.0.0.1"):
    return [wrk, "-t", str(threads), "-c", str(load.conns), "-d", f"{whole_seconds(duration)}s",
            "--timeout", f"{whole_seconds(timeout)}s", "-s", script,
            f"http://{f'[{host}]' if ':' in host else host}:{port}{load.path}"]


def loadgen_argv(loadgen, load, port, threads, duration, warmup, timeout, json_path, hgrm_path,
                 host="127.0.0.1"):
    argv = [loadgen, "--host", host, "--port", str(port), "--proto", load.proto,
            "-c", str(load.conns), "-t", str(threads), "-d", f"{duration:g}",
            "--warmup", f"{warmup:g}", "--timeout", f"{timeout:g}",
            "--json", json_path, "--hgrm", hgrm_path]
    if load.proto == "http":
        argv += ["--path", load.path]
    else:
        argv += ["--size", str(load.size)]
    if load.rate > 0:
        argv += ["--rate", f"{load.rate:.0f}"]
    if load.close:
        argv.append("--close")
    if load.pipeline > 1:
        argv += ["--pipeline", str(load.pipeline)]
    if load.idle:
        argv.append("--idle")
    return argv


SLOWLORIS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "slowloris.py")


def slowloris_argv(load, port, duration, json_path):
    """The attackers last the whole run (warm-up included) and stop by themselves."""
    return [sys.executable, SLOWLORIS, "--port", str(port), "-c", str(load.conns),
            "-d", f"{duration:g}", "--every", f"{load.every:g}", "--json", json_path]


class ToolError(Exception):
    pass


def parse_wrk(output):
    """The line that harness/wrk/summary.lua prints in wrk's done()."""
    m = WRK_SUMMARY.search(output)
    if not m:
        tail = " | ".join(output.strip().splitlines()[-2:])
        raise ToolError(f"wrk printed no summary line: {tail or 'no output'}")
    j = json.loads(m.group(1))
    r = Measured(requests=j["requests"], duration_s=j["duration_us"] / 1e6, bytes=j["bytes"])
    r.errors.update(j["errors"])
    r.latency_us = {k: float(v) for k, v in j["latency_us"].items()}
    r.spectrum = [(float(p), float(v)) for p, v in j["spectrum"]]
    return r


def parse_loadgen(text):
    """loadgen's --json object (key names as harness/report.c writes them)."""
    try:
        j = json.loads(text)
    except ValueError as e:
        raise ToolError(f"loadgen's JSON does not parse: {e}") from None
    conns, rate = j.get("connections", {}), j.get("rate", {})
    r = Measured(requests=j["requests"], warmup_requests=j.get("warmup_requests", 0),
                 duration_s=j["duration_s"], bytes=j.get("bytes_read", 0),
                 conns_established=conns.get("established"),
                 conns_open_at_end=conns.get("open_at_end"), connects=conns.get("connects"),
                 target_rate=rate.get("target"), achieved_rate=rate.get("achieved"),
                 late_sends=rate.get("late_sends"))
    r.errors.update({k: v for k, v in j.get("errors", {}).items() if k in ERROR_KINDS})
    r.latency_us = {k: float(v) for k, v in j.get("latency_us", {}).items()
                    if k in ("min", "mean", "max") + PERCENTILES}
    return r


def parse_slowloris(text):
    """slowloris.py's JSON: its attackers' connects and how many the server still held."""
    try:
        j = json.loads(text)
    except ValueError as e:
        raise ToolError(f"slowloris's JSON does not parse: {e}") from None
    return Measured(conns_established=j["connected"], conns_open_at_end=j["held_at_end"],
                    closed_408=j["closed_408"], duration_s=j.get("elapsed_s", 0.0))


def parse_hgrm(text):
    """[(percentile, value)] from HdrHistogram's percentile text format."""
    points = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            try:
                value, fraction = float(parts[0]), float(parts[1])
            except ValueError:
                continue      # the header and the footer
            points.append((fraction * 100.0, value))
    return points


def write_hgrm(path, spectrum, total):
    """Writes (percentile, µs) pairs in HdrHistogram's percentile format, the same format
    loadgen writes, so that every latency distribution is read the same way."""
    with open(path, "w") as f:
        f.write(f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}\n\n")
        for p, value in spectrum:
            fraction = min(p / 100.0, 1.0)
            inverse = "" if fraction >= 1.0 else f"{1.0 / (1.0 - fraction):14.2f}"
            f.write(f"{value:12.3f} {fraction:14.12f} {int(round(fraction * total)):10d} "
                    f"{inverse}\n")
        f.write(f"#[Max = {spectrum[-1][1] if spectrum else 0:12.3f}, Total count = {total:12d}]\n")
