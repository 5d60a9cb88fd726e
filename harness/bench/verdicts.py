"""Paired verdicts: which model is better at a point, and whether that survives the noise.

Two models are compared round by round: within a round they ran back to back on the same
machine, so the ratio of their figures in that round is free of the drift between rounds.
For each point, each headline metric and each pair of models:

- the ratio in every round where both runs were valid, oriented so that it is at least 1 for
  the model that is better over the rounds ("1.8" means 1.8 times better: more requests per
  second, or a 1.8 times lower p99 or CPU time per request);
- the median of those ratios, and in how many rounds the better one was better;
- **clear** when the better one was better by more than the noise bound in every round (at
  least MIN_ROUNDS rounds, 3 for a p99 (MIN_ROUNDS_OF), and every round of the point had both
  valid); otherwise **within noise**. The bound is the noise that calibration measured for
  that metric on this machine (by its runs at a fixed rate, for a scenario that runs at one).
  Every round, not the median: with two rounds the median is the mean of two ratios, and one
  large one carried a small one over the bound. thread against pool at 10 %: ratios 1.07
  and 1.25 made a clear 1.16x in one QUICK run, and the next run called pool clearly better;
  with each round held to the bound, neither was clear, and no two consecutive runs of the
  four compared contradicted each other.

findings.csv has one line per comparison; the report's sentences use only clear ones.
"""
import csv
import dataclasses
import os
import statistics
from dataclasses import dataclass

from . import calibration, results

# The figures compared, and whether more is better. A scenario names those it is judged on.
HIGHER_IS_BETTER = {"req_per_s": True, "lat_p99_us": False, "server_cpu_us_per_req": False,
                    "window_cpu_us_per_req": False, "server_csw_per_req": False,
                    "server_mem_per_conn_kb": False, "server_peak_rss_kb": False}
MIN_ROUNDS = 2            # one run against one run shows no consistency
# A tail percentile of one short window moves from run to run by more than two rounds can
# show: two QUICK runs (2 rounds each) called six p99 differences of 5-27 % at fixed rates
# clearly, each reversed by the other run, while no CPU, throughput or memory verdict was.
MIN_ROUNDS_OF = {"lat_p99_us": 3}
FILE = "findings.csv"
COLUMNS = ["scenario", "point", "metric", "better", "worse", "ratio", "rounds_won", "rounds",
           "noise_pct", "verdict"]


@dataclass(frozen=True)
class Finding:
    scenario: str
    point: str
    metric: str
    better: str
    worse: str
    ratio: float              # the median per-round ratio, >= 1 for `better`
    rounds_won: int
    rounds: int               # rounds the point ran
    noise: float              # the bound, as a share
    clear: bool

    @property
    def verdict(self):
        return "clear" if self.clear else "within-noise"

    def cells(self):
        return {"scenario": self.scenario, "point": self.point, "metric": self.metric,
                "better": self.better, "worse": self.worse, "ratio": f"{self.ratio:.4g}",
                "rounds_won": self.rounds_won, "rounds": self.rounds,
                "noise_pct": f"{100 * self.noise:.3g}", "verdict": self.verdict}


def _better_ratio(a, b, higher_is_better):
    """How many times a is better than b (below 1: worse)."""
    return a / b if higher_is_better else b / a


def compare(by_round, a, b, metric, rounds, noise):
    """The Finding for models a and b from {round: {model: value}}, or None when no round
    has both. noise: calibration's bound, as a share."""
    higher = HIGHER_IS_BETTER[metric]
    ratios = [_better_ratio(vals[a], vals[b], higher) for vals in by_round.values()
              if vals.get(a) and vals.get(b)]
    if not ratios:
        return None
    median = statistics.median(ratios)
    if median < 1:
        a, b, median, ratios = b, a, 1 / median, [1 / r for r in ratios]
    won = sum(1 for r in ratios if r > 1)
    beyond = sum(1 for r in ratios if r > 1 + noise)
    need = MIN_ROUNDS_OF.get(metric, MIN_ROUNDS)
    clear = rounds >= need and beyond == rounds
    return Finding("", "", metric, a, b, median, won, rounds, noise, clear)


def judge(runs, calib, metrics_of, fixed_rate=None):
    """Findings for every point of `runs` (results.Row), every metric that `metrics_of`
    (scenario name -> metric names) names, every pair of models, in the runs' order.
    `fixed_rate` (scenario name -> bool): whether its noise bounds are those at a fixed rate."""
    fixed_rate = fixed_rate or at_fixed_rate
    points = {}
    for r in runs:
        points.setdefault((r.scenario, r.point), []).append(r)
    found = []
    for (scenario, point), rows in points.items():
        models = list(dict.fromkeys(r.model for r in rows))
        rounds = len({r.rep for r in rows})
        for metric in metrics_of(scenario):
            by_round = {}
            for r in rows:
                value = getattr(r, metric) if r.valid else None
                by_round.setdefault(r.rep, {})[r.model] = value
            for i, a in enumerate(models):
                for b in models[i + 1:]:
                    f = compare(by_round, a, b, metric, rounds,
                                calib.noise(metric, fixed_rate(scenario)))
                    if f:
                        found.append(dataclasses.replace(f, scenario=scenario, point=point))
    return found


def metrics_of(scenario):
    from . import scenarios
    make = scenarios.ALL.get(scenario)
    return make("full").metrics if make else ()


def at_fixed_rate(scenario):
    from . import scenarios
    make = scenarios.ALL.get(scenario)
    return bool(make and make("full").fixed_rate)


def for_results(results_dir):
    runs = results.read_runs(os.path.join(results_dir, "runs.csv"))
    return judge(runs, calibration.read(results_dir), metrics_of)


def write(results_dir):
    """findings.csv of a results directory, from runs.csv and calibration.csv."""
    found = for_results(results_dir)
    with open(os.path.join(results_dir, FILE), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for x in found:
            w.writerow(x.cells())
    return found


def contradictions(found_a, found_b):
    """[(a, b)]: the clear verdicts of one set that the other set clearly reverses (A clearly
    better than B on a metric at a point in one, B clearly better than A in the other)."""
    clear_b = {(f.scenario, f.point, f.metric, f.better, f.worse): f for f in found_b if f.clear}
    return [(f, clear_b[(f.scenario, f.point, f.metric, f.worse, f.better)])
            for f in found_a if f.clear
            and (f.scenario, f.point, f.metric, f.worse, f.better) in clear_b]


class Lookup:
    """The findings by (scenario, point, metric, model, model), in either order."""

    def __init__(self, found):
        self._by = {}
        for f in found:
            self._by[(f.scenario, f.point, f.metric, f.better, f.worse)] = f
            self._by[(f.scenario, f.point, f.metric, f.worse, f.better)] = f

    def get(self, scenario, point, metric, a, b):
        return self._by.get((scenario, point, metric, a, b))

    def clearly_better(self, scenario, point, metric, a, b):
        """True when a is clearly better than b."""
        f = self.get(scenario, point, metric, a, b)
        return bool(f and f.clear and f.better == a)
