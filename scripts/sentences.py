"""The few sentences under each plot of the report, computed from the summary's medians
(results.Summary rows; a metric is named as in runs.csv).

Nothing here is written in advance about who wins: each sentence names the leader and the
others from the data, with the ratio between them, at the points where the differences are
largest (usually the most connections).
"""
from harness.bench import cpus
from harness.bench.progress import latency_text, plural

from . import plots

CPU_WORK_US = 100       # /work?us=100 in the cpubound scenario
SLEEP_MS = 10           # /sleep?ms=10 in the slowbackend scenario


def _valid(rows, metric):
    return [r for r in rows if r.valid_runs and r.median(metric) is not None]


def ranked(rows, metric, higher_is_better):
    """[(model, value)] best first, over the rows with a valid value."""
    have = _valid(rows, metric)
    return sorted(((r.model, r.median(metric)) for r in have), key=lambda mv: mv[1],
                  reverse=higher_is_better)


def times(a, b):
    """How many times the larger of a and b is the smaller, in words."""
    if not a or not b:
        return "n/a"
    ratio = max(a, b) / min(a, b)
    if ratio < 1.05:
        return "about the same"
    return f"{ratio:.2g}×" if ratio < 10 else f"{ratio:,.0f}×"


def against(best, value, model, fmt, higher_is_better):
    """Another model against the best: "1.8× epoll's (8,292 req/s)" when more is better,
    "green 14× higher (199 ms)" when less is."""
    ratio = times(best, value)
    if higher_is_better:
        ratio = "about the same as" if ratio == "about the same" else ratio
        return f"{ratio} {model}'s ({fmt(value)})"
    return f"{model} {ratio}{'' if ratio == 'about the same' else ' higher'} ({fmt(value)})"


def points_by_x(summary, scenario):
    """{point: x} of a scenario, in increasing x."""
    pts = {}
    for r in summary:
        if r.scenario == scenario and r.median("x") is not None:
            pts.setdefault(r.point, r.median("x"))
    return dict(sorted(pts.items(), key=lambda kv: kv[1]))


def at(summary, scenario, point):
    return [r for r in summary if r.scenario == scenario and r.point == point]


def leader(rows, metric, fmt, what, higher_is_better=True, where=""):
    """ "At c=1000, epoll served the most (78,231 req/s): 1.3× select's (...), 6.2× fork's
    (...)." or, when less is better, "epoll kept the lowest p99 (1.2 ms); fork 9× higher (...)"."""
    order = ranked(rows, metric, higher_is_better)
    if not order:
        return ""
    best_model, best = order[0]
    invalid = [r.model for r in rows if not r.valid_runs]
    left_out = f" ({listing(invalid)}: invalid)" if invalid else ""
    if len(order) == 1:
        return f"{where}{'only ' if invalid else ''}{best_model} had a valid run: " \
            f"{fmt(best)}{left_out}."
    others = ", ".join(against(best, v, m, fmt, higher_is_better) for m, v in order[1:])
    return f"{where}{best_model} {what} ({fmt(best)}){':' if higher_is_better else ';'} " \
        f"{others}{left_out}."


def listing(words):
    """ "a", "a and b", "a, b and c"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def rate(v):
    return f"{v:,.0f} req/s"


def lat(v):
    return latency_text(v)


def _extremes(summary, scenario):
    """The smallest and largest points of a sweep that have any valid run."""
    pts = [p for p in points_by_x(summary, scenario)
           if any(r.valid_runs for r in at(summary, scenario, p))]
    return (pts[0], pts[-1]) if pts else (None, None)


def throughput(summary, scenario, noun="requests"):
    low, high = _extremes(summary, scenario)
    if high is None:
        return []
    out = [leader(at(summary, scenario, high), "req_per_s", rate,
                  f"served the most {noun}", where=f"At {high}, ")]
    if low != high:
        out.append(leader(at(summary, scenario, low), "req_per_s", rate,
                          "led", where=f"At {low}, "))
    return out


def http_p99(summary, env):
    low, high = _extremes(summary, "http")
    if high is None:
        return []
    return [leader(at(summary, "http", high), "lat_p99_us", lat,
                   "kept the lowest p99", higher_is_better=False, where=f"At {high}, ")]


def spectrum(summary, env, point):
    rows = _valid(at(summary, "http", point), "lat_p999_us")
    tails = sorted(((r.median("lat_p999_us") / r.median("lat_p50_us"), r) for r in rows
                    if r.median("lat_p50_us")), key=lambda t: t[0])
    if not tails:
        return []
    parts = [f"{r.model} {ratio:.2g}× ({lat(r.median('lat_p50_us'))} → "
             f"{lat(r.median('lat_p999_us'))})" for ratio, r in tails]
    return [f"At {point}, the 99.9th percentile against the median (how long the tail is): "
            + "; ".join(parts) + "."]


def cpu_cost(summary, env, point):
    rows = at(summary, "http", point)
    out = [leader(rows, "server_cpu_us_per_req", lambda v: f"{v:.1f} µs",
                  "spent the least CPU per request", higher_is_better=False,
                  where=f"At {point}, ")]
    shares = [r.median("server_sys_us_per_req") / r.median("server_cpu_us_per_req")
              for r in _valid(rows, "server_cpu_us_per_req")
              if r.median("server_cpu_us_per_req")]
    if shares:
        out.append(f"System time was {min(shares):.0%}–{max(shares):.0%} of it "
                   "(the kernel's part: system calls, TCP, scheduling).")
    return out


def context_switches(summary, env):
    low, high = _extremes(summary, "http")
    if high is None:
        return []
    return [leader(at(summary, "http", high), "server_csw_per_req",
                   lambda v: f"{v:.3g} per request", "switched the least",
                   higher_is_better=False, where=f"At {high}, ")]


def openloop(summary, env):
    out = []
    cap = ranked(at(summary, "openloop", "capacity"), "req_per_s", True)
    if cap:
        out.append(f"Capacity (closed loop, the fractions' base): {cap[0][0]} was fastest at "
                   f"{rate(cap[0][1])}" + (f"; the slowest, {cap[-1][0]}, "
                                           f"{rate(cap[-1][1])}" if len(cap) > 1 else "") + ".")
    fractions = [p for p in points_by_x(summary, "openloop") if p.endswith("x")]
    fractions.sort(key=lambda p: float(p[:-1]))
    for point in reversed(fractions):
        rows = at(summary, "openloop", point)
        if any(r.valid_runs for r in rows):
            target = max((r.median("target_rate") or 0) for r in rows)
            out.append(leader(rows, "lat_p99_us", lat, "kept the lowest p99",
                              higher_is_better=False,
                              where=f"At {point} of capacity ({target:,.0f} req/s), "))
            break
    missed = {}
    for r in summary:
        if r.scenario == "openloop" and r.point != "capacity" and not r.valid_runs:
            missed.setdefault(r.model, []).append(r.point)
    if missed:
        out.append("Could not keep the offered rate (invalid, not drawn): " + "; ".join(
            f"{m} at {', '.join(p)}" for m, p in missed.items()) + ".")
    return out


def idle_memory(summary, env, point):
    rows = at(summary, "idle", point)
    out = [leader(rows, "server_mem_per_conn_kb", lambda v: f"{v:.1f} KiB",
                  "used the least memory per idle connection", higher_is_better=False,
                  where=f"With {point}, ")]
    tasks = [f"{r.model} {plural(r.median('server_threads'), 'thread')} in "
             f"{plural(r.median('server_procs'), 'process')}"
             for r in _valid(rows, "server_threads")]
    if tasks:
        out.append("Holding them took " + "; ".join(tasks) + ".")
    return out


def churn(summary, env, point):
    return [leader(at(summary, "churn", point), "req_per_s",
                   lambda v: f"{v:,.0f} connections/s", "accepted the most connections",
                   where=f"With {point} clients, ")]


def cpubound(summary, env):
    low, high = _extremes(summary, "cpubound")
    if high is None:
        return []
    try:
        cores = len(cpus.parse(env.get("server cpus", "")))
    except ValueError:
        cores = 0
    out = throughput(summary, "cpubound")
    if cores:
        ceiling = cores * 1e6 / CPU_WORK_US
        shares = [f"{m} {v / ceiling:.0%}" for m, v in
                  ranked(at(summary, "cpubound", high), "req_per_s", True)]
        out.append(f"The ceiling is {ceiling:,.0f} req/s ({cores} server core(s) at "
                   f"{CPU_WORK_US} µs each); at {high}: " + ", ".join(shares) + ".")
    return out


def slowbackend(summary, env, point):
    rows = at(summary, "slowbackend", point)
    order = ranked(rows, "req_per_s", True)
    if not order:
        return []
    conns = float(rows[0].conns)
    ideal = conns * 1000 / SLEEP_MS
    return [f"With {conns:,.0f} connections each waiting {SLEEP_MS} ms, the ideal is "
            f"{ideal:,.0f} req/s: " + ", ".join(f"{m} reached {v / ideal:.0%}"
                                                for m, v in order) + "."]


def blocking(summary, env):
    alone = {r.model: r for r in _valid(at(summary, "blocking", "alone"), "lat_p99_us")}
    rows = _valid(at(summary, "blocking", "with /block"), "lat_p99_us")
    changes = sorted(((r.median("lat_p99_us") / alone[r.model].median("lat_p99_us"), r)
                      for r in rows if r.model in alone
                      and alone[r.model].median("lat_p99_us")), key=lambda t: t[0])
    if not changes:
        return []
    parts = [f"{r.model} {ratio:.2g}× ({lat(alone[r.model].median('lat_p99_us'))} → "
             f"{lat(r.median('lat_p99_us'))})" for ratio, r in changes]
    return ["With the blocking calls beside it, the /plaintext p99 changed by: "
            + "; ".join(parts) + "."]


def about(plot_name, summary, env):
    """The sentences for one plot (by its name, as scripts/plots.py draws it)."""
    point = plot_name.rsplit("_", 1)[-1].replace("c", "c=", 1)
    ref = _ref_point(summary)
    makers = {
        "http_throughput": lambda: throughput(summary, "http"),
        "http_p99": lambda: http_p99(summary, env),
        "latency_spectrum": lambda: spectrum(summary, env, ref),
        "cpu_per_request": lambda: cpu_cost(summary, env, ref),
        "csw_per_request": lambda: context_switches(summary, env),
        "echo_throughput": lambda: throughput(summary, "echo", "round trips"),
        "openloop_p99": lambda: openloop(summary, env),
        "cpubound_throughput": lambda: cpubound(summary, env),
        "blocking_p99": lambda: blocking(summary, env),
    }
    prefixed = {"idle_memory": idle_memory, "churn": churn, "slowbackend": slowbackend}
    if plot_name in makers:
        texts = makers[plot_name]()
    else:
        prefix = plot_name.rsplit("_", 1)[0]
        texts = prefixed[prefix](summary, env, point) if prefix in prefixed else []
    return [t for t in texts if t]


def _ref_point(summary):
    return plots.reference_point(summary)
