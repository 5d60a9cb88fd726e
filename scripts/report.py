#!/usr/bin/env python3
"""Writes report.md and report.html for a results directory, from its files alone.

    python3 -m scripts.report RESULTS_DIR (from the top, after scripts.plots; `make plots`
                                           runs both)

The report has the machine, then one section per scenario: what it asks, a table with the
models side by side, its plots, and a few sentences under each plot computed from the data
(who led, by how much). Invalid runs are flagged in the tables and listed with their reasons;
system limits found too low are listed with the command that raises them.

report.html is self-contained: inline CSS, plots embedded as data: URIs, no network.
report.md links the PNGs under plots/.
"""
import base64
import html
import os
import sys

from harness.bench import calibration, envinfo, limits, results, scenarios, servers
from harness.bench import verdicts as bench_verdicts
from harness.bench.progress import latency_text, ranged

from . import plots, sentences, verdicts

INVALID = "✗"
NOT_APPLICABLE = "n/a"   # a reference server that cannot serve the point (nginx: no /work)


# ---- the document, as blocks both renderers understand -------------------------------------
# ("h1"|"h2"|"h3"|"p", text), ("table", header, rows), ("plot", name, title), ("list", items)

def count(v, unit=""):
    return "-" if v is None else f"{v:,.0f}{unit}"


def p99_text(r):
    return f"p99 {ranged(r.spread('lat_p99_us'), latency_text)}"


# What each scenario's table shows in a cell: (main figure, second figure).
def cell_figures(scenario, r):
    if scenario == "efficiency":
        csw = ranged(r.spread("server_csw_per_req"), lambda v: f"{v:.2g}")
        rss = ranged(r.spread("server_peak_rss_kb"), lambda v: f"{v / 1024:.3g}")
        return (ranged(r.spread("window_cpu_us_per_req"), lambda v: f"{v:.3g}", " µs/req"),
                f"p50 {latency_text(r.median('lat_p50_us'))}, {p99_text(r)}, {csw} csw/req, "
                f"RSS {rss} MiB")
    if scenario == "idle":
        return (ranged(r.spread("server_mem_per_conn_kb"), lambda v: f"{v:.1f}", " KiB/conn"),
                f"{count(r.median('server_threads'))} thr, {count(r.median('server_procs'))} proc")
    if scenario == "openloop" and r.point == "capacity":
        return ranged(r.spread("req_per_s"), unit=" req/s"), p99_text(r)
    if scenario == "openloop":
        return p99_text(r), f"at {count(r.median('achieved_rate'))}/s"
    if scenario == "blocking":
        return p99_text(r), f"p50 {latency_text(r.median('lat_p50_us'))}"
    if scenario == "slowclients":
        ok = r.median("success_rate")
        return ("-" if ok is None else f"{ok:.1%} answered",
                f"{p99_text(r)}; {count(r.median('attackers_held'))} attackers held at the end")
    unit = " conn/s" if scenario == "churn" else " req/s"
    return ranged(r.spread("req_per_s"), unit=unit), p99_text(r)


def scenario_table(scenario, rows, models, refused=frozenset()):
    """Points down, models across; an invalid point is marked, its figures left out (a
    model that refused the connections, as select does past FD_SETSIZE, says so)."""
    points = []
    for r in rows:
        if r.point not in points:
            points.append(r.point)
    by = {(r.point, r.model): r for r in rows}
    body = []
    for point in points:
        line = [_point_label(scenario, point, rows)]
        for m in models:
            r = by.get((point, m))
            if r is None:
                line.append(NOT_APPLICABLE if servers.target(m).reference else "")
            elif not r.valid_runs:
                line.append(f"{INVALID} refused" if (point, m) in refused else f"{INVALID} invalid")
            else:
                main, second = cell_figures(scenario, r)
                flag = f" ({r.runs - r.valid_runs} {INVALID})" if r.valid_runs < r.runs else ""
                line.append(f"{main}{flag}\n{second}")
        body.append(line)
    return ("table", ["point"] + [servers.title(m) for m in models], body)


def _point_label(scenario, point, rows):
    if scenario == "openloop" and point != "capacity":
        rates = [r.median("target_rate") for r in rows if r.point == point and r.median("target_rate")]
        if rates:
            return f"{point} ({max(rates):,.0f}/s)"
    if point == "capacity":
        return "capacity (closed loop)"
    return point


def cost_table(rows, models):
    """HTTP's cost per request on the server: CPU µs (user + sys) and context switches."""
    body, by, points = [], {(r.point, r.model): r for r in rows}, []
    for r in rows:
        if r.point not in points:
            points.append(r.point)
    for point in points:
        line = [point]
        for m in models:
            r = by.get((point, m))
            if not r or not r.valid_runs or r.median("server_cpu_us_per_req") is None:
                line.append(_empty_cell(r, m))
                continue
            line.append(f"{ranged(r.spread('server_cpu_us_per_req'), lambda v: f'{v:.1f}')} µs "
                        f"({r.median('server_user_us_per_req'):.1f} user)\n"
                        f"{ranged(r.spread('server_csw_per_req'), lambda v: f'{v:.3g}')} csw")
        body.append(line)
    return ("table", ["point"] + [servers.title(m) for m in models], body)


def _empty_cell(r, model):
    if r is None:
        return NOT_APPLICABLE if servers.target(model).reference else ""
    return f"{INVALID} invalid" if not r.valid_runs else "-"


def _figure(summary):
    """A point's median of a metric for a model, as the tables write it."""
    by = {(r.scenario, r.point, r.model): r for r in summary}

    def fmt(v, model):
        r = by.get((v.scenario, v.point, model))
        value = r.median(v.metric.name) if r else None
        if value is None:
            return "-"
        if v.metric is verdicts.P99:
            return latency_text(value)
        return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    return fmt


def reference_blocks(runs, summary, calib):
    """The paired verdicts of each model against the reference server it is compared with,
    at every point both ran (scripts/verdicts.py), with the noise bounds of the calibration."""
    blocks = []
    present = {r.model for r in runs}
    for a, b in verdicts.REFERENCE_PAIRS:
        if a not in present or b not in present:
            continue
        found = verdicts.pair_verdicts(runs, a, b, calib.noise)
        blocks.append(("h3", verdicts.pair_title(a, b)))
        if not found:
            blocks.append(("p", f"No point has a valid run of both {a} and {b}."))
            continue
        blocks += [("p", verdicts.summary_sentence(found)),
                   ("table", ["point", "metric", a, servers.title(b), f"{a} vs {b}",
                              "rounds won", "verdict"],
                    verdicts.rows(found, _figure(summary)))]
    if not blocks:
        return []
    return [("h2", "Against the references"),
            ("p", "Each of our models against the server people know that does the same: "
                  "green (M:N green threads, the design of Go's runtime) against Go's "
                  "net/http, epoll (one event loop) against nginx. Ratios are taken round by "
                  "round (the runs of a round share the machine's state), then their median; "
                  "a verdict is clear when one side won every round (two at least) by more "
                  "than the noise bound the calibration measured for that figure (the "
                  "Verdicts section). nginx takes no part where it cannot serve the "
                  "scenario (n/a).")] + blocks


# The summary at the top: one sentence per scenario, from its first plot (which sentence:
# the open-loop plot's first one is about the capacity probe, its second about latency).
HEADLINE_SENTENCE = {"openloop_p99": 1}


def in_short(facts, index, titles, runs):
    items, seen = [], set()
    for name, scenario, _ in index:
        if scenario in seen:
            continue
        seen.add(scenario)
        said = sentences.about(name, facts)
        if said:
            pick = min(HEADLINE_SENTENCE.get(name, 0), len(said) - 1)
            short = titles[scenario].short if scenario in titles else scenario
            items.append(f"**{short}**: {said[pick]}")
    for a, b in verdicts.REFERENCE_PAIRS:
        said = verdicts.summary_sentence(verdicts.pair_verdicts(runs, a, b,
                                                                facts.calib.noise))
        if said:
            items.append(f"**{verdicts.pair_title(a, b)}**: {said}")
    if not items:
        return []
    return [("h2", "In short"), ("list", items),
            ("p", "Figures are medians over the valid rounds, with their range in brackets. "
                  "A model is called better than another only where it was better in every "
                  "round and by more than the noise measured on this machine (findings.csv "
                  "has every comparison); the rest is within noise. The sections below have "
                  "every point, the plots and the runs that were invalid.")]


def noisy_blocks(calib):
    """The first lines of the report when the machine moved under the benchmark."""
    if not calib.noisy():
        return []
    return [("p", f"**Noisy machine**: the load generator's ceiling moved by "
                  f"{100 * calib.drift():.0f} % between the calibration at the start "
                  f"({calib.ceiling():,.0f} req/s) and at the end "
                  f"({calib.end_ceiling():,.0f} req/s), more than "
                  f"{calibration.DRIFT_NOISY:.0%}: something else ran on this machine. The "
                  "noise bounds below include that drift, so fewer differences are clear; "
                  "run it again on a quiet machine before trusting small ones.")]


def verdict_blocks(found, calib):
    clear = [f for f in found if f.clear]
    if not found:
        return []
    bounds = calib.bounds_text()
    if calib.measured and calib.fixed_measured:
        bounds += "; at a fixed rate (efficiency): " + calib.bounds_text(fixed=True)
    return [("h2", "Verdicts"),
            ("p", f"{len(clear)} of {len(found)} paired comparisons are clear: one model was "
                  "better in every round and by more than the noise bound. Noise bounds, "
                  f"from the calibration runs: {bounds}"
                  + ("" if calib.measured else " (not measured: assumed)") +
                  ". Every comparison: findings.csv.")]


def machine_blocks(env, runs):
    started = min((r.started_utc for r in runs if r.started_utc), default="?")
    items = [
        f"**When**: {started}; runs: {env.get('runs', len(runs))}",
        f"**CPU**: {env.get('cpu', '?')}, {env.get('cpus online', '?')} CPUs; "
        f"server on CPU {env.get('server cpus', '?')}, load generator on CPU "
        f"{env.get('client cpus', '?')} ({env.get('core split note', '')})",
        f"**System**: {env.get('os', '?')}, Linux {env.get('kernel', '?')}, "
        f"{env.get('memory', '?')}, CPU governor {env.get('cpu governor', '?')}",
        f"**Build**: {env.get('compiler', '?')}; commit {env.get('commit', '?')}",
        f"**Tools**: {env.get('wrk', '?')}; {env.get('loadgen', '?')}; "
        f"{env.get('gnuplot', '?')}",
        f"**Run**: profile {env.get('profile', '?')}, {env.get('duration s', '?')} s per run "
        f"after {env.get('warmup s', '?')} s of warm-up, {env.get('repetitions', '?')} "
        f"round(s), the models' order rotating from round to round; figures are medians over "
        f"the valid rounds",
    ]
    items += [f"**Calibration**: {k} {env[k]}" for k in
              ("calibration start", "calibration end", "calibration drift", "noise bound")
              if k in env]
    items += [f"**Skipped**: {v}" for k, v in env.items() if k == "skipped"]
    return [("h2", "The machine"), ("list", items),
            ("p", "Full details: env.txt. Every run: runs.csv; medians: summary.csv.")]


def limits_blocks(findings):
    low = [f for f in findings if not f.ok]
    if not findings:
        return []
    if not low:
        return [("h2", "System limits"),
                ("p", "No system limit was found too low for these runs: "
                      + "; ".join(f"{f.name} {f.value}" for f in findings) + ".")]
    return [("h2", "System limits"),
            ("p", "These limits were too low for some runs, which may be distorted. The runner "
                  "changes no system setting; the command that would raise each one:"),
            ("table", ["limit", "found", "what it distorts", "to raise it"],
             [[f.name, f.value, f.note, f.fix] for f in low])]


def invalid_blocks(runs):
    bad = [r for r in runs if not r.valid]
    if not bad:
        return [("h2", "Invalid runs"), ("p", "None: every run was valid.")]
    return [("h2", "Invalid runs"),
            ("p", f"{len(bad)} of {len(runs)} runs were invalid (marked {INVALID} above) and are "
                  "left out of the plots and medians (docs/bench.md says how runs are judged):"),
            ("table", ["run", "model", "scenario", "point", "why"],
             [[r.run, r.model, r.scenario, r.point, r.invalid_reason] for r in bad])]


def _refused(runs):
    """{(scenario, point, model)} of the runs where the server refused connections."""
    return {(r.scenario, r.point, r.model) for r in runs
            if "refused connections" in r.invalid_reason}


def build(results_dir):
    runs = results.read_runs(os.path.join(results_dir, "runs.csv"))
    summary = results.read_summary(results_dir)
    env = envinfo.read(os.path.join(results_dir, "env.txt"))
    calib = calibration.read(results_dir)
    found = bench_verdicts.write(results_dir)
    facts = sentences.Facts(summary, env, bench_verdicts.Lookup(found), calib)
    findings = limits.read(os.path.join(results_dir, "limits.txt"))
    index = _plot_index(results_dir)
    models = plots.model_order({r.model for r in runs})
    titles = {s.name: s for s in scenarios.build(list(scenarios.ALL), "full")}

    refused = _refused(runs)
    blocks = [("h1", f"c10k-lab benchmark: {', '.join(servers.title(m) for m in models)}")]
    blocks += noisy_blocks(calib)
    blocks += in_short(facts, index, titles, runs)
    blocks += reference_blocks(runs, summary, calib)
    blocks += machine_blocks(env, runs)
    blocks += verdict_blocks(found, calib)
    blocks += limits_blocks(findings)
    for name in scenarios.ALL:
        rows = [r for r in summary if r.scenario == name]
        if not rows:
            continue
        s = titles[name]
        blocks += [("h2", s.title), ("p", s.question),
                   scenario_table(name, rows, models,
                                  {(p, m) for sc, p, m in refused if sc == name})]
        if name == "slowclients":
            blocks += [("p", text) for text in sentences.slowclients(summary, env)]
        if name == "http":
            blocks += [("p", "Server cost per request (CPU time from wait4, user + system, "
                             "and voluntary + involuntary context switches), warm-up included:"),
                       cost_table(rows, models)]
        for plot_name, scenario, title in index:
            if scenario == name:
                blocks.append(("plot", plot_name, title))
                blocks += [("p", text) for text in sentences.about(plot_name, facts)]
    blocks += invalid_blocks(runs)
    return blocks


def _plot_index(results_dir):
    path = os.path.join(results_dir, "plots", "index.txt")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f if line.count("\t") == 2]


# ---- renderers --------------------------------------------------------------------------

def to_markdown(blocks):
    out = []
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "h3"):
            out.append(f"{'#' * int(kind[1])} {b[1]}\n")
        elif kind == "p":
            out.append(b[1] + "\n")
        elif kind == "list":
            out.append("\n".join(f"- {item}" for item in b[1]) + "\n")
        elif kind == "plot":
            out.append(f"![{b[2]}](plots/{b[1]}.png)\n")
        elif kind == "table":
            def cell(text):
                return str(text).replace("|", "\\|").replace("\n", "<br>")
            lines = ["| " + " | ".join(cell(h) for h in b[1]) + " |",
                     "|" + "---|" * len(b[1])]
            lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in b[2]]
            out.append("\n".join(lines) + "\n")
    return "\n".join(out)


CSS = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 62em; margin: 2em auto; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
td .second { color: #666; font-size: 0.9em; }
td.invalid { color: #b00; }
img { max-width: 100%; height: auto; display: block; margin: 1em 0 0.3em; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _inline(text):
    """Markdown's **bold** and `code` in our own strings, escaped for HTML."""
    parts, out = html.escape(text).split("**"), []
    for i, part in enumerate(parts):
        out.append(f"<strong>{part}</strong>" if i % 2 else part)
    code = "".join(out).split("`")
    return "".join(f"<code>{c}</code>" if i % 2 else c for i, c in enumerate(code))


def _embedded_plot(results_dir, name, title):
    for ext, mime in (("svg", "image/svg+xml"), ("png", "image/png")):
        path = os.path.join(results_dir, "plots", f"{name}.{ext}")
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = base64.b64encode(f.read()).decode("ascii")
            return f'<img alt="{html.escape(title)}" src="data:{mime};base64,{data}">'
    return f"<p>(plot {html.escape(name)} is missing)</p>"


def to_html(blocks, results_dir):
    title = next((b[1] for b in blocks if b[0] == "h1"), "c10k-lab benchmark")
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"]
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{_inline(b[1])}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_inline(b[1])}</p>")
        elif kind == "list":
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b[1]) + "</ul>")
        elif kind == "plot":
            out.append(_embedded_plot(results_dir, b[1], b[2]))
        elif kind == "table":
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in b[1]) + "</tr>")
            for row in b[2]:
                cells = []
                for c in row:
                    first, _, second = str(c).partition("\n")
                    cls = ' class="invalid"' if INVALID in first else ""
                    extra = f'<br><span class="second">{html.escape(second)}</span>' if second else ""
                    cells.append(f"<td{cls}>{html.escape(first)}{extra}</td>")
                out.append("<tr>" + "".join(cells) + "</tr>")
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def main(argv):
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write("usage: python3 -m scripts.report RESULTS_DIR\n")
        return 2
    results_dir = argv[0]
    if not os.path.exists(os.path.join(results_dir, "runs.csv")):
        sys.stderr.write(f"report: no runs.csv in {results_dir}\n")
        return 2
    blocks = build(results_dir)
    with open(os.path.join(results_dir, "report.md"), "w") as f:
        f.write(to_markdown(blocks))
    with open(os.path.join(results_dir, "report.html"), "w") as f:
        f.write(to_html(blocks, results_dir))
    print(f"report: {os.path.join(results_dir, 'report.html')} and report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
