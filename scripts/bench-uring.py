#!/usr/bin/env python3
"""io_uring against epoll, side by side: server CPU and system calls per echo round trip at
the same fixed rate.

    scripts/bench-uring.py [-d SECONDS] [-r ROUNDS] [-c CONNS] [--rate R] [--size BYTES]
                           [--strace-seconds S] [--bin DIR] [MODEL ...]   (default: epoll uring)

Each round runs every model once, on a fresh server, the order reversed every other round so
that a drift in the machine falls on both: loadgen sends 64-byte echo messages on 1,000
connections at a fixed total rate (open loop: the same work for both, however fast each is),
for a 1 s warm-up and SECONDS measured. Per run:

- server CPU per round trip: the server's user + system time (/proc/PID/stat, every thread)
  over a steady-state window (opened after the warm-up, when every connection is made, and
  closed before the load ends), divided by the round trips of that window (the rate loadgen
  achieved times its length);
- system calls per round trip: `perf stat -e raw_syscalls:sys_enter` on the server over the
  same window, when perf may count it (root, or kernel.perf_event_paranoid <= 1);
- valid: loadgen reached the rate (within 5 %), with no error.

Then one short run per model under `strace -c -f` at a tenth of the rate (strace stops the
server at every system call, so it could not keep up with the full rate): which system calls,
and how many per round trip.

It ends with each model's median over the valid rounds (min-max), and uring's CPU per round
trip as a share of epoll's, against the issue's criterion (at most 0.85). Server on CPU
$SERVER_CPU (default 0), loadgen on $CLIENT_CPU (default 1). Measure on a quiet machine:
figures from a loaded one are provisional.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")   # --bin changes it
TICK = os.sysconf("SC_CLK_TCK")
LISTENING = re.compile(r"listening on \S+:(\d+) ")
UNAVAILABLE = re.compile(r"^\S+: unavailable: (.+)$", re.M)


class Skip(Exception):
    pass


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK   # utime, stime: the whole process


def start_server(model, cpu, log):
    proc = subprocess.Popen(["taskset", "-c", cpu, os.path.join(BIN, model), "--port", "0",
                             "--proto", "echo", "--max-conns", "100000"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    line = proc.stdout.readline()
    m = LISTENING.search(line)
    if not m:
        proc.wait(10)
        log.seek(0)
        why = UNAVAILABLE.search(log.read())
        if why:
            raise Skip(f"{model}: {why.group(1)}")
        raise RuntimeError(f"{model} did not start: {line.strip() or 'no output'}")
    return proc, int(m.group(1))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_loadgen(port, args, seconds, rate, out):
    """loadgen for a 1 s warm-up and `seconds` measured, in the background."""
    cmd = ["taskset", "-c", args.client_cpu, os.path.join(BIN, "loadgen"), "--port", str(port),
           "--proto", "echo", "--size", str(args.size), "-c", str(args.conns),
           "-d", str(seconds), "--warmup", "1", "--rate", str(rate), "--json", out]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish_loadgen(p, out, seconds):
    """(achieved round trips per second, errors) of its measured window."""
    _, err = p.communicate(timeout=seconds + 60)
    if p.returncode != 0:
        raise RuntimeError(f"loadgen failed ({p.returncode}): {err.strip()[-200:]}")
    with open(out) as f:
        j = json.load(f)
    return j.get("rate", {}).get("achieved") or 0, sum(j.get("errors", {}).values())


def perf_start(pid, out):
    """perf counting the server's system calls, or None where perf cannot."""
    try:
        p = subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p",
                              str(pid), "-o", out], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    except OSError:
        return None
    return p


def perf_stop(p, out):
    if p is None:
        return None
    p.send_signal(signal.SIGINT)
    p.wait(10)
    try:
        with open(out) as f:
            for line in f:
                fields = line.split(",")
                if "raw_syscalls:sys_enter" in line and fields[0].isdigit():
                    return int(fields[0])
    except OSError:
        pass
    return None


# The steady state only: the window opens after the warm-up (every connection made) and
# closes before the load ends (no connection closed), so accepts and closes are not counted.
SETTLE_S, MARGIN_S = 1.5, 1.0


def one_run(model, args, tmp):
    with open(os.path.join(tmp, f"{model}.log"), "w+") as log:
        proc, port = start_server(model, args.server_cpu, log)
        try:
            out = os.path.join(tmp, "lg.json")
            lg = start_loadgen(port, args, args.duration + MARGIN_S, args.rate, out)
            time.sleep(SETTLE_S)
            counter_out = os.path.join(tmp, "perf.txt")
            counter = perf_start(proc.pid, counter_out)
            t0, cpu0 = time.monotonic(), cpu_seconds(proc.pid)
            time.sleep(args.duration)
            t1, cpu1 = time.monotonic(), cpu_seconds(proc.pid)
            calls = perf_stop(counter, counter_out)
            achieved, errors = finish_loadgen(lg, out, args.duration + MARGIN_S)
        finally:
            stop(proc)
    served = achieved * (t1 - t0)   # open loop at a rate it kept: the window's round trips
    valid = errors == 0 and achieved >= 0.95 * args.rate
    return {"cpu_us": (cpu1 - cpu0) * 1e6 / served if served else None,
            "calls": calls / served if calls is not None and served else None,
            "valid": valid, "achieved": achieved, "errors": errors}


def strace_run(model, args, tmp):
    """System calls by name per round trip, from strace -c -f over a steady-state window at
    rate/10 (strace stops the server at every call: it could not keep up with the rate)."""
    rate = max(100, args.rate // 10)
    with open(os.path.join(tmp, f"{model}.strace.log"), "w+") as log:
        proc, port = start_server(model, args.server_cpu, log)
        out, lg_out = os.path.join(tmp, f"{model}.strace"), os.path.join(tmp, "lg-strace.json")
        try:
            lg = start_loadgen(port, args, args.strace_seconds + MARGIN_S, rate, lg_out)
            time.sleep(SETTLE_S)
            tracer = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(proc.pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t0 = time.monotonic()
            time.sleep(args.strace_seconds)
            tracer.send_signal(signal.SIGINT)
            tracer.wait(30)
            window = time.monotonic() - t0
            achieved, _ = finish_loadgen(lg, lg_out, args.strace_seconds + MARGIN_S)
        finally:
            stop(proc)
    calls = {}
    with open(out) as f:
        for line in f:
            fields = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(fields) >= 5 and fields[3].isdigit() and fields[-1] != "total":
                calls[fields[-1]] = int(fields[3])
    served = achieved * window
    if not served:
        return rate, None, []
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:5]
    return rate, sum(calls.values()) / served, [(name, n / served) for name, n in top]


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, "-"
    med = statistics.median(values)
    return med, f"{med:.2f} ({min(values):.2f}-{max(values):.2f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("-d", "--duration", type=int, default=5, help="measured seconds per run")
    ap.add_argument("-r", "--rounds", type=int, default=5, help="rounds (every model once each)")
    ap.add_argument("-c", "--conns", type=int, default=1000, help="connections (default 1000)")
    ap.add_argument("--rate", type=int, default=20000, help="round trips per second, in all")
    ap.add_argument("--size", type=int, default=64, help="bytes per echo message")
    ap.add_argument("--strace-seconds", type=int, default=2,
                    help="the strace run's length (0: none)")
    ap.add_argument("--bin", default=BIN, help="where the servers and loadgen are "
                    "(default: build/bin)")
    ap.add_argument("models", nargs="*", default=["epoll", "uring"])
    args = ap.parse_args()
    globals()["BIN"] = os.path.abspath(args.bin)
    if min(args.duration, args.rounds, args.conns, args.rate, args.size) < 1 or \
            args.strace_seconds < 0:
        ap.error("every number must be positive")
    args.server_cpu = os.environ.get("SERVER_CPU", "0")
    args.client_cpu = os.environ.get("CLIENT_CPU", "1")
    for prog in args.models + ["loadgen"]:
        if not os.access(os.path.join(BIN, prog), os.X_OK):
            ap.error(f"{os.path.join(BIN, prog)} not found (run make)")

    results = {m: [] for m in args.models}
    with tempfile.TemporaryDirectory(prefix="bench-uring-") as tmp:
        models = list(args.models)
        try:
            for rnd in range(1, args.rounds + 1):
                order = models if rnd % 2 else models[::-1]
                for model in order:
                    r = one_run(model, args, tmp)
                    results[model].append(r)
                    print(f"round {rnd} {model:<6} CPU {r['cpu_us']:.2f} µs/round trip, "
                          f"system calls {r['calls'] if r['calls'] is None else round(r['calls'], 2)}"
                          f"/round trip, {r['achieved']:.0f}/s achieved, {r['errors']} errors"
                          f"{'' if r['valid'] else '  INVALID'}", flush=True)
        except Skip as e:
            print(f"bench-uring: skipped: {e}")
            return 0
        traced = {}
        if args.strace_seconds and not shutil.which("strace"):
            print("bench-uring: strace is not installed (Debian: strace): no breakdown by call")
        elif args.strace_seconds:
            for model in models:
                traced[model] = strace_run(model, args, tmp)

    print(f"\n{args.conns} connections, {args.size}-byte echo at {args.rate:,} round trips/s, "
          f"{args.rounds} rounds of {args.duration} s; server on CPU {args.server_cpu}, "
          f"loadgen on CPU {args.client_cpu}. Median (min-max) over the valid rounds:")
    medians = {}
    for model in models:
        valid = [r for r in results[model] if r["valid"]]
        medians[model], cpu_text = spread([r["cpu_us"] for r in valid])
        _, calls_text = spread([r["calls"] for r in valid])
        print(f"  {model:<6} CPU µs per round trip {cpu_text}; system calls per round trip "
              f"(perf) {calls_text}; {len(valid)} of {len(results[model])} rounds valid")
        if model in traced:
            rate, per, top = traced[model]
            names = ", ".join(f"{name} {n:.2f}" for name, n in top)
            print(f"         strace -c -f at {rate:,}/s: {per:.2f} system calls per round trip"
                  f" ({names})" if per is not None else "         strace: nothing served")
    if "uring" in medians and "epoll" in medians:
        if medians["uring"] is None or not medians["epoll"]:
            print("uring's CPU per round trip against epoll's: not measured (no valid round, or "
                  "too little CPU time for the clock's ticks: run longer)")
        else:
            ratio = medians["uring"] / medians["epoll"]
            print(f"uring's CPU per round trip is {ratio:.2f}x epoll's (criterion: at most "
                  f"0.85): {'met' if ratio <= 0.85 else 'not met'}")
            # Round by round: the two runs of a round saw the same machine.
            pairs = [u["cpu_us"] / e["cpu_us"] for u, e in zip(results["uring"], results["epoll"])
                     if u["valid"] and e["valid"] and u["cpu_us"] and e["cpu_us"]]
            if pairs:
                print(f"  round by round: {' '.join(f'{p:.2f}' for p in pairs)} "
                      f"(median {statistics.median(pairs):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
