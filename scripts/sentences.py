"""The few sentences under each plot of the report, computed from the summary's medians
(results.Summary rows; a metric is named as in runs.csv) and the paired verdicts.

Nothing here is written in advance about who wins: each sentence names the leader and the
others from the data, with the ratio between them, at the points where the differences are
largest (usually the most connections). A model is said to beat another only where the
verdict is clear (harness/bench/verdicts.py): better in every round, beyond the noise bound;
otherwise the sentence says "within noise (±X %)".
"""
from dataclasses import dataclass

from harness.bench import calibration, cpus, verdicts
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


@dataclass
class Facts:
    """What the sentences are made from."""
    summary: list                        # [results.Summary]
    env: dict                            # env.txt
    judge: verdicts.Lookup               # the paired verdicts
    calib: calibration.Calibration       # the noise bounds

    def noise_text(self, metric, scenario):
        fixed = verdicts.at_fixed_rate(scenario)
        return f"within noise (±{100 * self.calib.noise(metric, fixed):.0f} %)"


def leader(facts, rows, metric, fmt, what, higher_is_better=True, where=""):
    """ "At c=1000, epoll served the most (78,231 req/s): 1.3× select's (...), 6.2× fork's
    (...)." or, when less is better, "epoll kept the lowest p99 (1.2 ms); fork 9× higher (...)".
    Only the models the leader clearly beat get a ratio; the others are within noise of it,
    and when none is clearly beaten there is no leader."""
    order = ranked(rows, metric, higher_is_better)
    if not order:
        return ""
    best_model, best = order[0]
    invalid = [r.model for r in rows if not r.valid_runs]
    left_out = f" ({listing(invalid)}: invalid)" if invalid else ""
    if len(order) == 1:
        return _sentence(f"{where}{'only ' if invalid else ''}{best_model} had a valid run: "
                         f"{fmt(best)}{left_out}.")
    scenario, point = rows[0].scenario, rows[0].point
    beaten = [(m, v) for m, v in order[1:]
              if facts.judge.clearly_better(scenario, point, metric, best_model, m)]
    level = [f"{m} ({fmt(v)})" for m, v in order[1:] if (m, v) not in beaten]
    if not beaten:
        return _sentence(f"{where}no model was clearly ahead: "
                         f"{listing([f'{best_model} ({fmt(best)})'] + level)} "
                         f"{facts.noise_text(metric, scenario)}{left_out}.")
    tie = f", with {listing(level)} {facts.noise_text(metric, scenario)} of it" if level else ""
    others = ", ".join(against(best, v, m, fmt, higher_is_better) for m, v in beaten)
    return _sentence(f"{where}{best_model} {what} ({fmt(best)}){tie}"
                     f"{':' if higher_is_better else ';'} {others}{left_out}.")


def _sentence(text):
    return text[:1].upper() + text[1:]


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


def throughput(facts, scenario, noun="requests"):
    summary = facts.summary
    low, high = _extremes(summary, scenario)
    if high is None:
        return []
    out = [leader(facts, at(summary, scenario, high), "req_per_s", rate,
                  f"served the most {noun}", where=f"At {high}, ")]
    if low != high:
        out.append(leader(facts, at(summary, scenario, low), "req_per_s", rate,
                          "led", where=f"At {low}, "))
    return out


def http_p99(facts):
    summary = facts.summary
    low, high = _extremes(summary, "http")
    if high is None:
        return []
    return [leader(facts, at(summary, "http", high), "lat_p99_us", lat,
                   "kept the lowest p99", higher_is_better=False, where=f"At {high}, ")]


def spectrum(facts, point):
    summary = facts.summary
    rows = _valid(at(summary, "http", point), "lat_p999_us")
    tails = sorted(((r.median("lat_p999_us") / r.median("lat_p50_us"), r) for r in rows
                    if r.median("lat_p50_us")), key=lambda t: t[0])
    if not tails:
        return []
    parts = [f"{r.model} {ratio:.2g}× ({lat(r.median('lat_p50_us'))} → "
             f"{lat(r.median('lat_p999_us'))})" for ratio, r in tails]
    return [f"At {point}, the 99.9th percentile against the median (how long the tail is): "
            + "; ".join(parts) + "."]


def cpu_cost(facts, point):
    summary = facts.summary
    rows = at(summary, "http", point)
    out = [leader(facts, rows, "server_cpu_us_per_req", lambda v: f"{v:.1f} µs",
                  "spent the least CPU per request", higher_is_better=False,
                  where=f"At {point}, ")]
    shares = [r.median("server_sys_us_per_req") / r.median("server_cpu_us_per_req")
              for r in _valid(rows, "server_cpu_us_per_req")
              if r.median("server_cpu_us_per_req")]
    if shares:
        out.append(f"System time was {min(shares):.0%}–{max(shares):.0%} of it "
                   "(the kernel's part: system calls, TCP, scheduling).")
    return out


def context_switches(facts):
    summary = facts.summary
    low, high = _extremes(summary, "http")
    if high is None:
        return []
    return [leader(facts, at(summary, "http", high), "server_csw_per_req",
                   lambda v: f"{v:.3g} per request", "switched the least",
                   higher_is_better=False, where=f"At {high}, ")]


def openloop(facts):
    summary = facts.summary
    out = []
    out.append(leader(facts, at(summary, "openloop", "capacity"), "req_per_s", rate,
                      "was fastest", where="Capacity (closed loop, the fractions' base): "))
    fractions = [p for p in points_by_x(summary, "openloop") if p.endswith("x")]
    fractions.sort(key=lambda p: float(p[:-1]))
    for point in reversed(fractions):
        rows = at(summary, "openloop", point)
        if any(r.valid_runs for r in rows):
            target = max((r.median("target_rate") or 0) for r in rows)
            out.append(leader(facts, rows, "lat_p99_us", lat, "kept the lowest p99",
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


def idle_memory(facts, point):
    summary = facts.summary
    rows = at(summary, "idle", point)
    out = [leader(facts, rows, "server_mem_per_conn_kb", lambda v: f"{v:.1f} KiB",
                  "used the least memory per idle connection", higher_is_better=False,
                  where=f"With {point}, ")]
    tasks = [f"{r.model} {plural(r.median('server_threads'), 'thread')} in "
             f"{plural(r.median('server_procs'), 'process')}"
             for r in _valid(rows, "server_threads")]
    if tasks:
        out.append("Holding them took " + "; ".join(tasks) + ".")
    return out


def churn(facts, point):
    summary = facts.summary
    return [leader(facts, at(summary, "churn", point), "req_per_s",
                   lambda v: f"{v:,.0f} connections/s", "accepted the most connections",
                   where=f"With {point} clients, ")]


def cpubound(facts):
    summary, env = facts.summary, facts.env
    low, high = _extremes(summary, "cpubound")
    if high is None:
        return []
    try:
        cores = len(cpus.parse(env.get("server cpus", "")))
    except ValueError:
        cores = 0
    out = throughput(facts, "cpubound")
    if cores:
        ceiling = cores * 1e6 / CPU_WORK_US
        shares = [f"{m} {v / ceiling:.0%}" for m, v in
                  ranked(at(summary, "cpubound", high), "req_per_s", True)]
        out.append(f"The ceiling is {ceiling:,.0f} req/s ({cores} server core(s) at "
                   f"{CPU_WORK_US} µs each); at {high}: " + ", ".join(shares) + ".")
    return out


def slowbackend(facts, point):
    summary = facts.summary
    rows = at(summary, "slowbackend", point)
    order = ranked(rows, "req_per_s", True)
    if not order:
        return []
    conns = float(rows[0].conns)
    ideal = conns * 1000 / SLEEP_MS
    return [f"With {conns:,.0f} connections each waiting {SLEEP_MS} ms, the ideal is "
            f"{ideal:,.0f} req/s: " + ", ".join(f"{m} reached {v / ideal:.0%}"
                                                for m, v in order) + "."]


def blocking(facts):
    summary = facts.summary
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


def _efficiency_points(summary):
    """The efficiency scenario's points at a rate alone, in increasing rate, and those with
    idle connections beside, in increasing connections."""
    rows = [r for r in summary if r.scenario == "efficiency"]
    alone = sorted({r.point: r.median("x") or 0 for r in rows if "idle" not in r.point}.items(),
                   key=lambda kv: kv[1])
    beside = sorted({r.point: r.median("x") or 0 for r in rows if "idle" in r.point}.items(),
                    key=lambda kv: kv[1])
    return [p for p, _ in alone], [p for p, _ in beside]


def us(v):
    return f"{v:.3g} µs"


def efficiency_cpu(facts):
    summary = facts.summary
    alone, _ = _efficiency_points(summary)
    valid = [p for p in alone if any(r.valid_runs for r in at(summary, "efficiency", p))]
    if not valid:
        return []
    point = "25%" if "25%" in valid else valid[len(valid) // 2]
    rows = at(summary, "efficiency", point)
    offered = max((r.median("target_rate") or 0) for r in rows)
    out = [leader(facts, rows, "window_cpu_us_per_req", us, "spent the least CPU per request",
                  higher_is_better=False,
                  where=f"At {offered:,.0f} req/s ({point} of the load generator's ceiling), ")]
    out.append(leader(facts, rows, "server_csw_per_req", lambda v: f"{v:.2g} per request",
                      "switched context the least", higher_is_better=False))
    return out


def efficiency_idle(facts):
    summary = facts.summary
    _, beside = _efficiency_points(summary)
    out = []
    for point in reversed(beside):
        rows = at(summary, "efficiency", point)
        if any(r.valid_runs for r in rows):
            out.append(leader(facts, rows, "window_cpu_us_per_req", us,
                              "spent the least CPU per request", higher_is_better=False,
                              where=f"With {point.split('+')[1]} beside the stream, "))
            break
    refused = sorted({r.model for r in summary if r.scenario == "efficiency" and
                      "idle" in r.point and not r.valid_runs})
    if refused:
        why = (" select refuses a connection whose descriptor is past FD_SETSIZE (1024);"
               if "select" in refused else "")
        out.append(f"No valid run with idle connections beside for {listing(refused)}:{why} "
                   "the invalid runs below say why.")
    return out


KEPT_SERVING = 0.99     # slowclients: the share of the normal client's requests answered


def slowclients(summary, env):
    """Who kept serving the normal client while the attackers trickled, and what the others
    ran out of (503: slots, --max-conns or select's FD_SETSIZE; timeouts: a thread or a
    process for each attacker, or a loop stuck behind them)."""
    rows = [r for r in summary if r.scenario == "slowclients" and r.valid_runs
            and r.median("success_rate") is not None]
    if not rows:
        return []
    kept = sorted((r for r in rows if r.median("success_rate") >= KEPT_SERVING),
                  key=lambda r: r.median("lat_p99_us") or 0)
    lost = sorted((r for r in rows if r.median("success_rate") < KEPT_SERVING),
                  key=lambda r: r.median("success_rate"))
    out = []
    if kept:
        out.append("Kept serving the normal client (at least "
                   f"{KEPT_SERVING:.0%} of its requests answered): "
                   + ", ".join(f"{r.model} (p99 {lat(r.median('lat_p99_us'))}, "
                               f"{count(r.median('server_threads'))} threads, "
                               f"{count(r.median('server_procs'))} processes at the peak)"
                               for r in kept) + ".")
    for r in lost:
        why = []
        if r.median("err_status"):
            why.append(f"{count(r.median('err_status'))} refused (503: out of slots)")
        if r.median("err_timeout"):
            why.append(f"{count(r.median('err_timeout'))} unanswered within 5 s")
        if r.median("err_connect"):
            why.append(f"{count(r.median('err_connect'))} connects failed")
        out.append(f"{r.model} answered only {r.median('success_rate'):.0%} of them"
                   + (f": {', '.join(why)}" if why else "") + ".")
    held = [(r.model, r.median("attackers_held")) for r in rows
            if r.median("attackers_held") is not None]
    if held:
        out.append("Attackers still held when the run ended, after the "
                   "--header-timeout: " + ", ".join(f"{m} {count(v)}" for m, v in held) + ".")
    return out


def count(v):
    return "-" if v is None else f"{v:,.0f}"


def about(plot_name, facts):
    """The sentences for one plot (by its name, as scripts/plots.py draws it)."""
    summary = facts.summary
    point = plot_name.rsplit("_", 1)[-1].replace("c", "c=", 1)
    ref = _ref_point(summary)
    makers = {
        "efficiency_cpu": lambda: efficiency_cpu(facts),
        "efficiency_idle": lambda: efficiency_idle(facts),
        "http_throughput": lambda: throughput(facts, "http"),
        "http_p99": lambda: http_p99(facts),
        "latency_spectrum": lambda: spectrum(facts, ref),
        "cpu_per_request": lambda: cpu_cost(facts, ref),
        "csw_per_request": lambda: context_switches(facts),
        "pipelined_throughput": lambda: throughput(facts, "pipelined", "pipelined requests"),
        "echo_throughput": lambda: throughput(facts, "echo", "round trips"),
        "openloop_p99": lambda: openloop(facts),
        "cpubound_throughput": lambda: cpubound(facts),
        "blocking_p99": lambda: blocking(facts),
    }
    prefixed = {"idle_memory": idle_memory, "churn": churn, "slowbackend": slowbackend}
    if plot_name in makers:
        texts = makers[plot_name]()
    else:
        prefix = plot_name.rsplit("_", 1)[0]
        texts = prefixed[prefix](facts, point) if prefix in prefixed else []
    return [t for t in texts if t]


def _ref_point(summary):
    return plots.reference_point(summary)
