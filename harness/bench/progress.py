"""The line printed after every run, and the estimate of the time left.

    [ 7/42] round 2/3  epoll   http c=100          78,231 req/s  p99 1.21 ms  ETA 3m10s

The estimate is the planned time of the runs left plus, for each, the average time the runs
so far took beyond their plan (starting servers, connecting, stopping).
"""
import time

FIRST_GUESS_OVERHEAD_S = 0.3   # measured: 0.27 s a run over a whole default run (server
                               # start and stop, tools start), on a loaded machine


def duration_text(seconds):
    seconds = int(round(max(0, seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def latency_text(us):
    if us is None or us == "":
        return "-"
    us = float(us)
    return f"{us:.0f} µs" if us < 1000 else f"{us / 1000:.3g} ms" if us < 1e6 else f"{us / 1e6:.3g} s"


def si(v):
    """3 significant digits, with k or M: 78231 -> "78.2k", 950 -> "950", 1.25 -> "1.25"."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{suffix}"
    return f"{v:.3g}"


def ranged(spread, fmt=si, unit=""):
    """A median with its range over the rounds (a results.Spread): "78.2k (74k–81.1k) req/s";
    the median alone when the range is one value."""
    if spread.median is None:
        return "-"
    if spread.min == spread.max:
        return f"{fmt(spread.median)}{unit}"
    return f"{fmt(spread.median)} ({fmt(spread.min)}–{fmt(spread.max)}){unit}"


def figure_text(metric):
    """How a figure of runs.csv is written: latencies with their unit, the rest with k/M."""
    return latency_text if metric.startswith("lat_") else si


def plural(n, word):
    """ "1 thread", "1,001 threads", "2 processes"."""
    return f"{n:,.0f} {word}" + ("" if n == 1 else "es" if word.endswith("s") else "s")


def figures(row):
    """What a run (a results.Row) achieved, in a few words fitting its scenario."""
    if row.scenario == "idle":
        mem = row.server_mem_per_conn_kb
        return (f"{row.server_conns or 0:,} held  "
                f"{'-' if mem is None else f'{mem:.1f}'} KiB/conn  "
                f"{plural(row.server_threads or 0, 'thread')}  "
                f"{plural(row.server_procs or 0, 'process')}")
    if row.scenario == "efficiency":
        cpu = row.window_cpu_us_per_req
        return (f"{row.req_per_s or 0:>9,.0f} req/s  "
                f"{'-' if cpu is None else f'{cpu:.1f}'} µs CPU/req  "
                f"p99 {latency_text(row.lat_p99_us)}")
    unit = "conn/s" if row.scenario == "churn" else "req/s"
    return f"{row.req_per_s or 0:>9,.0f} {unit}  p99 {latency_text(row.lat_p99_us)}"


class Progress:
    def __init__(self, planned):
        """`planned`: the planned seconds of every run, in order."""
        self.planned = list(planned)
        self.done = 0
        self.overheads = []
        self.started = time.monotonic()

    def total_estimate(self):
        return sum(self.planned) + FIRST_GUESS_OVERHEAD_S * len(self.planned)

    def finished(self, row, elapsed, where=""):
        """Prints the line for the run just finished, which took `elapsed` seconds; `where`
        is its place in its series ("round 2/3")."""
        self.overheads.append(max(0.0, elapsed - self.planned[self.done]))
        self.done += 1
        overhead = sum(self.overheads) / len(self.overheads)
        left = sum(self.planned[self.done:]) + overhead * (len(self.planned) - self.done)
        width = len(str(len(self.planned)))
        what = f"{row.scenario} {row.point}"
        line = (f"[{self.done:>{width}}/{len(self.planned)}] {where + '  ' if where else ''}"
                f"{row.model:<7} {what:<21} {figures(row)}  ETA {duration_text(left)}")
        if not row.valid:
            line += f"\n{'':>{2 * width + 3}} INVALID: {row.invalid_reason}"
        print(line, flush=True)
