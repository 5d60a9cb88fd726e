"""Paired verdicts: two servers compared round by round, at each point where both ran.

Runs of the same round (rep) are measured one right after the other, on the same machine in
the same state: their ratio is what drifts least. For a pair (a, b), a metric and a point,
the verdict takes the ratio a/b in every round both have a valid run of, and gives:

- the median of those ratios (how much better or worse a is, "1.31×");
- the rounds a won (k of R);
- "clear" or "within noise (±X %)" by the benchmark's own rule (harness/bench/verdicts.py:
  enough rounds, every round won by more than the bound that calibration measured for
  that figure, NOISE without one).

The report states them for the pairs the suite is asked about most: green (the runtime
modelled on Go's) against Go's net/http, and epoll against nginx (REFERENCE_PAIRS).
"""
import statistics
from dataclasses import dataclass

from harness.bench import servers
from harness.bench import verdicts as rule

# The noise bound beyond which a ratio that held in every round is a clear difference, when
# the results have no calibration to measure the machine's own (as calibration.UNMEASURED).
NOISE = 0.10

# (ours, reference): who is compared with whom.
REFERENCE_PAIRS = [("green", "go"), ("epoll", "nginx")]


@dataclass(frozen=True)
class Metric:
    name: str                # a runs.csv column
    label: str               # as a table says it
    higher_is_better: bool


REQ_PER_S = Metric("req_per_s", "req/s", True)
CPU_PER_REQ = Metric("server_cpu_us_per_req", "server CPU µs/req", False)
P99 = Metric("lat_p99_us", "p99 latency", False)
MEM_PER_CONN = Metric("server_mem_per_conn_kb", "KiB per idle connection", False)


def metrics_for(scenario, point):
    """What a point is judged on: throughput where the load is closed-loop (the server
    saturates, or the client does), p99 where the rate is fixed, memory where connections
    idle; and the server's CPU per request wherever requests are served."""
    if scenario == "idle":
        return [MEM_PER_CONN]
    if scenario == "openloop" and point != "capacity" or scenario == "blocking":
        return [P99, CPU_PER_REQ]
    return [REQ_PER_S, CPU_PER_REQ]


@dataclass(frozen=True)
class Verdict:
    scenario: str
    point: str
    metric: Metric
    a: str
    b: str
    ratio: float             # median over rounds of a/b
    won: int                 # rounds a was better in
    rounds: int              # rounds both had a valid run in
    clear: bool
    noise: float = NOISE     # the bound it was judged against

    @property
    def better(self):
        """How a did against b: "1.31× better", "2.0× worse"."""
        good = self.ratio > 1 if self.metric.higher_is_better else self.ratio < 1
        factor = self.ratio if self.ratio >= 1 else 1 / self.ratio
        return f"{factor:.2f}× {'better' if good else 'worse'}"

    @property
    def verdict(self):
        return "clear" if self.clear else f"within noise (±{100 * self.noise:.0f} %)"


def paired(runs, a, b, scenario, point, metric, noise=NOISE):
    """The verdict of a against b at one point on one metric, or None if no round has a
    valid run of both."""
    def by_round(model):
        return {r.rep: getattr(r, metric.name) for r in runs
                if r.model == model and r.scenario == scenario and r.point == point
                and r.valid and getattr(r, metric.name)}
    va, vb = by_round(a), by_round(b)
    rounds = sorted(set(va) & set(vb))
    if not rounds:
        return None
    ratios = [va[k] / vb[k] for k in rounds]
    won = sum(1 for q in ratios if (q > 1 if metric.higher_is_better else q < 1))
    ratio = statistics.median(ratios)
    judged = rule.compare({k: {a: va[k], b: vb[k]} for k in rounds}, a, b, metric.name,
                          len(rounds), noise)
    return Verdict(scenario, point, metric, a, b, ratio, won, len(rounds), judged.clear,
                   judged.noise)


def points(runs):
    """(scenario, point) in the order they ran."""
    return list(dict.fromkeys((r.scenario, r.point) for r in runs))


def pair_verdicts(runs, a, b, noise_of=lambda metric, fixed_rate: NOISE):
    """Every verdict of a against b, point by point, where both ran; noise_of(metric name,
    whether its scenario runs at a fixed rate) is the bound for a figure (Calibration.noise)."""
    out = []
    for scenario, point in points(runs):
        for metric in metrics_for(scenario, point):
            v = paired(runs, a, b, scenario, point, metric,
                       noise_of(metric.name, rule.at_fixed_rate(scenario)))
            if v:
                out.append(v)
    return out


def pair_title(a, b):
    """"green against Go net/http"."""
    return f"{a} against {servers.target(b).title.replace(' (reference)', '') or b}"


def _listed(verdicts):
    return ", ".join(f"{v.metric.label} at {v.scenario} {v.point} ({v.better})"
                     for v in verdicts[:3]) + (", ..." if len(verdicts) > 3 else "")


def summary_sentence(verdicts):
    """One sentence for a pair: how many clear verdicts each way, over how many."""
    if not verdicts:
        return ""
    a = verdicts[0].a
    ahead = [v for v in verdicts if v.clear and v.better.endswith("better")]
    behind = [v for v in verdicts if v.clear and v.better.endswith("worse")]
    text = (f"{len(verdicts)} comparisons, round by round: {a} clearly ahead in "
            f"{len(ahead)}, clearly behind in {len(behind)}, within noise in "
            f"{len(verdicts) - len(ahead) - len(behind)}")
    if ahead:
        text += f"; ahead: {_listed(ahead)}"
    if behind:
        text += f"; behind: {_listed(behind)}"
    return text + "."


def rows(found, fmt):
    """Table rows: point, metric, a's median, b's median, a against b, rounds won, verdict.
    fmt(verdict, model) is a model's median of the verdict's metric at its point, as text."""
    return [[f"{v.scenario} {v.point}", v.metric.label, fmt(v, v.a), fmt(v, v.b), v.better,
             f"{v.won} of {v.rounds}", v.verdict] for v in found]
