#!/usr/bin/env python3
"""Draws every plot of a results directory from its CSV files alone.

    python3 -m scripts.plots RESULTS_DIR  (from the top; what `make plots RESULTS=...` runs)

Reads runs.csv (and the .hgrm latency distributions beside it), rewrites summary.csv from it,
writes each plot's data under RESULTS_DIR/plots/data/ and has gnuplot draw it, as PNG and as
SVG, with the scripts in scripts/gnuplot/. A plot without data (its scenario did not run, or
every run of it was invalid) is left out. Valid runs are drawn; on line plots, a point whose
runs were all invalid is drawn apart, as an open marker off the line, so that a gap in a line
is explained rather than hidden.
"""
import functools
import math
import os
import shutil
import subprocess
import sys
from dataclasses import astuple, dataclass, field

from harness.bench import results, servers, tools
from harness.bench.scenarios import PIPELINE
from harness.bench.progress import plural

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GP_DIR = os.path.join(ROOT, "scripts", "gnuplot")
REFERENCE_CONNS = 100      # the connections at which single-point plots look at HTTP


@dataclass
class Plot:
    name: str                  # the file name, without extension
    scenario: str              # whose section of the report it belongs to
    title: str
    script: str                # lines, bars, stacked, pairs, spectrum
    xlabel: str = ""
    ylabel: str = ""
    settings: dict = field(default_factory=dict)


@functools.cache
def made_models():
    """The Makefile's models in its order: each keeps its line type (colour and marker) on
    every plot; any other server (a lab's model, a reference server) comes after them."""
    return servers.made_models(ROOT)


def model_order(models):
    """Models in the fixed order that gives each its line type (1-based); the reference
    servers (nginx, Go) last."""
    known = [m for m in made_models() if m in models]
    refs = [m for m in servers.REFERENCES if m in models]
    return known + sorted(m for m in models if m not in made_models() + refs) + refs


# The open marker of each line type's filled one (common.gp): a point from invalid runs.
OPEN_POINT = {1: 6, 2: 4, 3: 8, 4: 12, 5: 10, 6: 14, 7: 3, 8: 1, 9: 1, 10: 3, 11: 4, 12: 8,
              13: 12, 14: 10}
REFERENCE_LT = 9     # the reference servers' line types (grey, dashed), 9 and 10: common.gp
MORE_LT = 11         # the ninth model and after: 11 to 14 (common.gp)


def line_type(model, all_models):
    if model in servers.REFERENCES:
        return REFERENCE_LT + servers.REFERENCES.index(model)
    ours = [m for m in model_order(set(all_models) | set(made_models()))
            if m not in servers.REFERENCES]
    i = ours.index(model)
    return i + 1 if i < REFERENCE_LT - 1 else MORE_LT + i - (REFERENCE_LT - 1)


def quoted(model):
    """A server's name on a plot (a reference says so), as a quoted gnuplot word."""
    return '"' + servers.title(model).replace('"', "'") + '"'


def rows_of(summary, scenario, point=None):
    return [r for r in summary if r.scenario == scenario and
            (point is None or r.point == point)]


def reference_point(summary, scenario="http"):
    """The point of `scenario` nearest REFERENCE_CONNS connections."""
    points = {r.point: float(r.conns) for r in rows_of(summary, scenario)}
    if not points:
        return None
    return min(points, key=lambda p: (abs(points[p] - REFERENCE_CONNS), points[p]))


def ms(us):
    return None if us is None else us / 1000.0


# ---- data files -------------------------------------------------------------------------

def line_points(summary, scenario, model, metric, x_of):
    """(x, median, min, max) of each point of a model's line that has figures; x_of(row)
    is where a point is drawn (None: not on this line)."""
    return sorted((x_of(r), *astuple(r.spread(metric)))
                  for r in rows_of(summary, scenario)
                  if r.model == model and r.median(metric) is not None
                  and x_of(r) is not None)


def write_lines(path_prefix, summary, unchecked, scenario, metric, scale=1.0, xmetric="x",
                x_of=None):
    """DATA.MODEL.dat per model: x median min max, over the valid runs; and
    DATA.MODEL.invalid.dat: x median, for the points with no valid run, from `unchecked` (the
    summary over every run). x is the median of `xmetric`, or x_of(row). Returns the models
    that have data, and whether any point was invalid."""
    x_of = x_of or (lambda r: r.median(xmetric))
    drawn, any_invalid = [], False
    models = model_order({r.model for r in rows_of(unchecked, scenario)})
    for model in models:
        valid = line_points(summary, scenario, model, metric, x_of)
        valid_x = {x for x, _, _, _ in valid}
        invalid = [p for p in line_points(unchecked, scenario, model, metric, x_of)
                   if p[0] not in valid_x]
        if not valid and not invalid:
            continue
        with open(f"{path_prefix}.{model}.dat", "w") as f:
            for x, med, lo, hi in valid:
                f.write(f"{x:g} {med * scale:g} {lo * scale:g} {hi * scale:g}\n")
        with open(f"{path_prefix}.{model}.invalid.dat", "w") as f:
            for x, med, _, _ in invalid:
                f.write(f"{x:g} {med * scale:g}\n")
        any_invalid = any_invalid or bool(invalid)
        drawn.append(model)
    return drawn, any_invalid


def write_bars(path, bars, all_models, scale=1.0):
    """DATA.dat: index model median linetype "label" min max, one bar per model, from
    (model, results.Spread, label). A model without a valid value keeps its place, with no
    bar and the label "invalid". Returns the models, or [] when none has a value."""
    if all(v.median is None for _, v, _ in bars):
        return []
    bars = sorted(bars, key=lambda bar: line_type(bar[0], all_models))
    with open(path, "w") as f:
        for i, (model, v, label) in enumerate(bars, 1):
            med, lo, hi = (0, 0, 0) if v.median is None else astuple(v)
            label = "invalid" if v.median is None else label
            f.write(f'{i} {quoted(model)} {med * scale:g} {line_type(model, all_models)} '
                    f'"{label}" {lo * scale:g} {hi * scale:g}\n')
    return [m for m, _, _ in bars]


def write_two_part(path, parts, all_models, scale=1.0):
    """DATA.dat: index model first second linetype, then each part's min and max, then the
    whole's (first + second) min and max; from (model, Spread, Spread, Spread of the whole or
    None)."""
    parts = sorted((p for p in parts if p[1].median is not None and p[2].median is not None),
                   key=lambda part: line_type(part[0], all_models))
    with open(path, "w") as f:
        for i, (model, a, b, whole) in enumerate(parts, 1):
            whole = whole if whole and whole.median is not None else \
                results.Spread(a.median + b.median, a.min + b.min, a.max + b.max)
            cols = (a.median, b.median, line_type(model, all_models), a.min, a.max, b.min,
                    b.max, whole.min, whole.max)
            f.write(f"{i} {quoted(model)} " + " ".join(f"{c * (1 if j == 2 else scale):g}"
                                                       for j, c in enumerate(cols)) + "\n")
    return [p[0] for p in parts]


def write_spectrum(path_prefix, results_dir, runs, point):
    """DATA.MODEL.dat: 1/(1-p) latency(ms), from the .hgrm of each model's median run."""
    drawn = []
    chosen = {}
    for r in runs:
        if r.scenario == "http" and r.point == point and r.valid and r.hgrm:
            chosen.setdefault(r.model, []).append(r)
    for model in model_order(chosen):
        candidates = sorted(chosen[model], key=lambda r: r.req_per_s or 0)
        run = candidates[len(candidates) // 2]
        try:
            with open(os.path.join(results_dir, run.hgrm)) as f:
                spectrum = tools.parse_hgrm(f.read())
        except OSError:
            continue
        with open(f"{path_prefix}.{model}.dat", "w") as f:
            for p, value in spectrum:
                if p < 100.0:
                    f.write(f"{1.0 / (1.0 - p / 100.0):.6g} {value / 1000.0:g}\n")
        drawn.append(model)
    return drawn


# ---- the plots --------------------------------------------------------------------------

def plan(summary, runs, results_dir, data_dir):
    """[(Plot, models drawn)] for every plot that has data; writes the data files."""
    all_models = {r.model for r in summary}
    unchecked = results.summarise(runs, counted=lambda r: True)
    d = lambda name: os.path.join(data_dir, name)   # noqa: E731
    out = []

    def lines(plot, scenario, metric, scale=1.0, xmetric="x", x_of=None, **settings):
        models, any_invalid = write_lines(d(plot.name), summary, unchecked, scenario, metric,
                                          scale, xmetric, x_of)
        plot.settings.update(settings, invalid=int(any_invalid))
        if models:
            out.append((plot, models))

    def single(plot, models):
        if models:
            out.append((plot, models))

    # efficiency: the figures a small machine gives honestly, first.
    rate_points = {r.point for r in rows_of(summary, "efficiency") if "idle" not in r.point}
    lines(Plot("efficiency_cpu", "efficiency",
               "Server CPU busy against offered rate (open loop, 100 connections)", "lines",
               "offered rate (requests per second)", "server CPU (% of one core)"),
          "efficiency", "window_cpu_pct",
          x_of=lambda r: r.median("target_rate") if r.point in rate_points else None,
          logx=0, logy=0, yformat="%g")
    held = _held_connections(rows_of(unchecked, "efficiency"))
    if len(set(held.values())) > 1:
        lines(Plot("efficiency_idle", "efficiency",
                   "CPU per request against idle connections held, at a fixed rate", "lines",
                   "connections held (100 active, the rest idle)", "server CPU µs per request"),
              "efficiency", "window_cpu_us_per_req", x_of=lambda r: held.get(r.point),
              logx=1, logy=0, yformat="%g")
    lines(Plot("http_throughput", "http", "HTTP /plaintext throughput (wrk, keep-alive)",
               "lines", "connections", "requests per second"),
          "http", "req_per_s", logx=1, logy=0, yformat="%.0s%c")
    lines(Plot("http_p99", "http", "HTTP /plaintext 99th percentile latency", "lines",
               "connections", "p99 latency (ms)"),
          "http", "lat_p99_us", 1e-3, logx=1, logy=1, yformat="%g")
    ref = reference_point(summary)
    if ref:
        single(Plot("latency_spectrum", "http", f"HTTP latency by percentile at {ref}",
                    "spectrum", "percentile", "latency (ms)"),
               write_spectrum(d("latency_spectrum"), results_dir, runs, ref))
        single(Plot("cpu_per_request", "http", f"Server CPU time per request (HTTP, {ref})",
                    "stacked", "", "CPU µs per request", {"lower": "user", "upper": "system"}),
               write_two_part(d("cpu_per_request.dat"), [
                   (r.model, r.spread("server_user_us_per_req"),
                    r.spread("server_sys_us_per_req"), r.spread("server_cpu_us_per_req"))
                   for r in rows_of(summary, "http", ref)], all_models))
    lines(Plot("csw_per_request", "http", "Server context switches per request (HTTP)",
               "lines", "connections", "context switches per request"),
          "http", "server_csw_per_req", logx=1, logy=1, yformat="%g")
    lines(Plot("pipelined_throughput", "pipelined",
               f"HTTP /plaintext throughput, pipelined {PIPELINE} deep (loadgen)", "lines",
               "connections", "requests per second"),
          "pipelined", "req_per_s", logx=1, logy=0, yformat="%.0s%c")
    lines(Plot("echo_throughput", "echo", "Echo throughput, 64-byte messages (loadgen)", "lines",
               "connections", "round trips per second"),
          "echo", "req_per_s", logx=1, logy=0, yformat="%.0s%c")
    lines(Plot("openloop_p99", "openloop", "p99 latency vs offered load (open loop)", "lines",
               "offered load (requests per second)", "p99 latency (ms)"),
          "openloop", "lat_p99_us", 1e-3, xmetric="target_rate", logx=0, logy=1, yformat="%g")
    lines(Plot("idle_memory", "idle", "Server memory per idle connection, by connections held",
               "lines", "idle connections", "KiB per connection (Pss)"),
          "idle", "server_mem_per_conn_kb", x_of=lambda r: float(r.conns),
          logx=1, logy=1, yformat="%g")
    for idle in {r.point for r in rows_of(summary, "idle")}:
        rows = rows_of(summary, "idle", idle)
        single(Plot(f"idle_memory_{idle.replace('=', '')}", "idle",
                    f"Server memory per idle connection ({idle})", "bars", "",
                    "KiB per connection (Pss)", {"yformat": "%g", "logy": 0}),
               write_bars(d(f"idle_memory_{idle.replace('=', '')}.dat"), [
                   (r.model, r.spread("server_mem_per_conn_kb"),
                    _tasks_label(r)) for r in rows], all_models))
    for point in sorted({r.point for r in rows_of(summary, "churn")}):
        single(Plot(f"churn_{point.replace('=', '')}", "churn",
                    f"Connection churn: a new connection per request ({point})", "bars", "",
                    "connections per second", {"yformat": "%.0s%c", "logy": 0}),
               write_bars(d(f"churn_{point.replace('=', '')}.dat"), [
                   (r.model, r.spread("req_per_s"), _count(r.median("req_per_s")))
                   for r in rows_of(summary, "churn", point)], all_models))
    lines(Plot("cpubound_throughput", "cpubound", "CPU-bound requests (/work?us=100)", "lines",
               "connections", "requests per second"),
          "cpubound", "req_per_s", logx=1, logy=0, yformat="%.0s%c")
    for point in sorted({r.point for r in rows_of(summary, "slowbackend")}):
        single(Plot(f"slowbackend_{point.replace('=', '')}", "slowbackend",
                    f"Slow backend: /sleep?ms=10 at {point}", "bars", "",
                    "requests per second (label: p99)", {"yformat": "%.0s%c", "logy": 0}),
               write_bars(d(f"slowbackend_{point.replace('=', '')}.dat"), [
                   (r.model, r.spread("req_per_s"), f"p99 {_ms_text(r.median('lat_p99_us'))}")
                   for r in rows_of(summary, "slowbackend", point)], all_models))
    for proto, unit in (("http", "requests"), ("echo", "round trips")):
        # One scenario, two protocols: each plot takes the points of one ("http/4").
        of = lambda rows: [r for r in rows if r.scenario == "scaling"  # noqa: E731
                           and r.point.startswith(f"{proto}/")]
        for name, title, ylabel, metric, yformat in (
                ("throughput", f"{unit} per second", f"{unit} per second", "req_per_s",
                 "%.0s%c"),
                ("cpu", "server CPU per request", "CPU µs per request", "server_cpu_us_per_req",
                 "%g")):
            plot = Plot(f"scaling_{proto}_{name}", "scaling",
                        f"Scaling, {'/plaintext' if proto == 'http' else 'echo'}: {title} "
                        f"vs server cores", "lines", "server cores", ylabel)
            models, any_invalid = write_lines(d(plot.name), of(summary), of(unchecked),
                                              "scaling", metric)
            plot.settings.update(logx=0, logy=0, yformat=yformat, invalid=int(any_invalid))
            if models:
                out.append((plot, models))
    alone = {r.model: r.spread("lat_p99_us") for r in rows_of(summary, "blocking", "alone")}
    pairs = [(r.model, alone.get(r.model, results.Spread()), r.spread("lat_p99_us"), None)
             for r in rows_of(summary, "blocking", "with /block")]
    lowest = min((ms(v.min) for _, a, b, _ in pairs for v in (a, b) if v.min), default=1.0)
    single(Plot("blocking_p99", "blocking", "/plaintext p99 latency, alone and beside /block",
                "pairs", "", "p99 latency of /plaintext (ms)",
                # On a log scale a bar needs a floor below the lowest one to stand on.
                {"first": "alone", "second": "with /block?ms=5", "logy": 1,
                 "ymin": 10 ** math.floor(math.log10(lowest / 2))}),
           write_two_part(d("blocking_p99.dat"), pairs, all_models, scale=1e-3))
    return out


def _held_connections(rows):
    """{point: connections held} of the efficiency points at the rate that idle connections
    are added to: the rate alone (its active connections) and each with idle ones beside."""
    beside = {r.point: r for r in rows if "idle" in r.point}
    if not beside:
        return {}
    rates = {r.median("target_rate") for r in beside.values()}
    alone = {r.point: float(r.conns) for r in rows
             if r.point not in beside and r.median("target_rate") in rates}
    return {**alone, **{p: r.median("x") for p, r in beside.items()}}


def _count(v):
    return "" if v is None else f"{v:,.0f}"


def _ms_text(us):
    return "-" if us is None else f"{us / 1000:.3g} ms"


def _tasks_label(r):
    threads, procs = r.median("server_threads"), r.median("server_procs")
    if threads is None:
        return ""
    return f"{plural(threads, 'thread')}, {plural(procs, 'process')}"


# ---- drawing ----------------------------------------------------------------------------

def gp_string(s):
    return "'" + str(s).replace("'", "''") + "'"


def draw(plot, models, data_dir, plots_dir, all_models):
    """Runs gnuplot twice (PNG, SVG). Returns the error text, or ""."""
    base = {"data": os.path.join(data_dir, plot.name) + ("" if plot.script in
                                                          ("lines", "spectrum") else ".dat"),
            "models": " ".join(models),
            "titles": " ".join(quoted(m) for m in models),
            "lts": " ".join(str(line_type(m, all_models)) for m in models),
            "open_pts": " ".join(str(OPEN_POINT.get(line_type(m, all_models), 6))
                                 for m in models),
            "ptitle": plot.title, "xlabel": plot.xlabel, "ylabel": plot.ylabel,
            "logx": 0, "logy": 0, "yformat": ""}
    base.update(plot.settings)
    for fmt in ("png", "svg"):
        assigns = dict(base, fmt=fmt, out=os.path.join(plots_dir, f"{plot.name}.{fmt}"))
        expr = "; ".join(f"{k}={v if isinstance(v, (int, float)) else gp_string(v)}"
                         for k, v in assigns.items())
        p = subprocess.run(["gnuplot", "-e", expr, f"{plot.script}.gp"], cwd=GP_DIR,
                           capture_output=True, text=True, timeout=60)
        # gnuplot warns (say, of a point it cannot put on a log scale) and still draws.
        if p.returncode != 0:
            return p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "failed"
    return ""


def main(argv):
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write("usage: python3 -m scripts.plots RESULTS_DIR\n")
        return 2
    results_dir = os.path.abspath(argv[0])
    runs_csv = os.path.join(results_dir, "runs.csv")
    if not os.path.exists(runs_csv):
        sys.stderr.write(f"plots: {runs_csv} does not exist (is {results_dir} a results "
                         "directory?)\n")
        return 2
    if not shutil.which("gnuplot"):
        sys.stderr.write("plots: gnuplot is not installed (scripts/setup.sh installs it)\n")
        return 1
    runs = results.read_runs(runs_csv)
    summary = results.read_summary(results_dir)
    plots_dir = os.path.join(results_dir, "plots")
    data_dir = os.path.join(plots_dir, "data")
    os.makedirs(data_dir, exist_ok=True)
    all_models = {r.model for r in runs}
    failed = 0
    drawn = plan(summary, runs, results_dir, data_dir)
    for plot, models in drawn:
        err = draw(plot, models, data_dir, plots_dir, all_models)
        if err:
            failed += 1
            sys.stderr.write(f"plots: {plot.name}: gnuplot: {err}\n")
    # The report lists the plots in this order, each under its scenario.
    with open(os.path.join(plots_dir, "index.txt"), "w") as f:
        for plot, _ in drawn:
            if os.path.exists(os.path.join(plots_dir, plot.name + ".svg")):
                f.write(f"{plot.name}\t{plot.scenario}\t{plot.title}\n")
    print(f"plots: {len(drawn) - failed} plots in {plots_dir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
