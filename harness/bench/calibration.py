"""Calibration: the load generator's ceiling and the machine's noise.

At the start and at the end of a benchmark the runner runs the load generator a few times
against build/bin/calib, a canned-response target that costs the server's cores almost
nothing (harness/calib.c), so that what is measured is the generator and the machine:

- the **ceiling**: the requests per second the generator reaches (the median of the runs at
  the start). The efficiency scenario offers fixed shares of it, rates every model can hold.
- the **noise**: for each figure, how far the same run strays from itself on this machine,
  (max - min) / median over every calibration run, start and end together, so that a drift
  between them counts too. A difference between two models is a finding only beyond it
  (verdicts.py).
- the **noise at a fixed rate**: the same, from runs at RATE of the ceiling (the efficiency
  scenario's rate), for the scenarios that run at a fixed rate. The saturated runs are the
  wrong yardstick there: at saturation the target's CPU per request follows the ceiling
  (more requests per wake-up when the generator is faster), and a ceiling that moved by 30 %
  set a ±37 % bound on the efficiency scenario's CPU per request, under which 2 in 3 of its
  model pairs were "within noise" though each had won every round.
- the **drift**: how far the ceiling moved from the start to the end. Beyond DRIFT_NOISY the
  report opens by saying the machine was noisy.

The runs are written to calibration.csv, with runs.csv's columns; read() gets them back, so
the report and `make compare` recompute all of this from the files alone.
"""
import json
import os
import statistics
from dataclasses import dataclass, field

from . import results
from .scenarios import EFFICIENCY_S, Point, Scenario, connect_time
from .tools import Load

TARGET = "calib"          # build/bin/calib: never a model, never in MODELS
CONNS = 100
RUNS = 3                  # at the start, and again at the end, at saturation and at RATE
RATE = 0.25               # the fixed-rate runs: a share of the ceiling, as efficiency's
DRIFT_NOISY = 0.10        # start and end ceilings further apart than this: a noisy machine
NOISE_FLOOR = 0.01        # no bound below 1 %: identical runs would otherwise give 0
UNMEASURED = 0.10         # the bound assumed when there was no calibration
FILE = "calibration.csv"

# The figures whose noise is measured; any other (memory) gets the largest of them.
MEASURED = ("req_per_s", "lat_p99_us", "server_cpu_us_per_req", "window_cpu_us_per_req",
            "server_csw_per_req")


def scenario(phase):
    """The calibration runs of one phase ("start" or "end"), as a scenario of one point.
    The generator is meant to be the bottleneck here: that is what is measured. Each run warms
    up as an efficiency run does, so that the noise is that of runs measured alike: without it
    the first run of a result set paid for a cold start (its CPU per request 1.5x the others'),
    and the bound it set (±48 %) hid every difference the efficiency scenario measures."""
    load = [Load("loadgen", CONNS, path="/plaintext")]
    alike = dict(min_duration=EFFICIENCY_S, min_warmup=connect_time(CONNS))
    return Scenario("calibration", "Calibration", "Calibration",
                    "The load generator's ceiling against a canned-response target.",
                    [Point(phase, CONNS, "http", load, generator_bound=True, **alike),
                     Point(fixed_label(phase), 0, "http", load, ceiling_fraction=RATE, **alike)])


def fixed_label(phase):
    return f"{phase} at {RATE:.0%}"


def _spread(values):
    values = [v for v in values if v]
    if len(values) < 2:
        return None
    return (max(values) - min(values)) / statistics.median(values)


@dataclass
class Calibration:
    start: list = field(default_factory=list)     # [results.Row], at saturation
    end: list = field(default_factory=list)
    fixed: list = field(default_factory=list)     # at RATE, start and end

    def _rates(self, rows):
        return [r.req_per_s for r in rows if r.valid and r.req_per_s]

    def ceiling(self):
        """The generator's requests per second at the start; None if not measured."""
        rates = self._rates(self.start)
        return statistics.median(rates) if rates else None

    def end_ceiling(self):
        rates = self._rates(self.end)
        return statistics.median(rates) if rates else None

    def drift(self):
        """How far the ceiling moved from the start to the end, as a share; None if either
        is missing."""
        a, b = self.ceiling(), self.end_ceiling()
        return abs(b - a) / a if a and b else None

    @property
    def measured(self):
        return len([r for r in self.start + self.end if r.valid]) >= 2

    @property
    def fixed_measured(self):
        """Whether there are runs at RATE to bound figures measured at a fixed rate (results
        from before they were made have none: their bounds are those at saturation)."""
        return len([r for r in self.fixed if r.valid]) >= 2

    def _runs(self, fixed):
        return self.fixed if fixed and self.fixed_measured else self.start + self.end

    def noise(self, metric, fixed=False):
        """The noise bound of a figure, as a share (0.05: ±5 %); `fixed`: of a figure
        measured at a fixed rate."""
        if not self.measured:
            return UNMEASURED
        if metric not in MEASURED:
            return max(self.noise(m, fixed) for m in MEASURED)
        spread = _spread([getattr(r, metric) for r in self._runs(fixed) if r.valid])
        return max(NOISE_FLOOR, spread if spread is not None else UNMEASURED)

    def noisy(self):
        d = self.drift()
        return d is not None and d > DRIFT_NOISY

    def env_lines(self):
        """(key, value) lines for env.txt."""
        lines = []
        for phase, rows in (("start", self.start), ("end", self.end)):
            rates = self._rates(rows)
            if rates:
                each = " ".join(f"{r:,.0f}" for r in rates)
                lines.append((f"calibration {phase}", f"{statistics.median(rates):,.0f} req/s "
                              f"({len(rates)} runs: {each}; spread "
                              f"{100 * (_spread(rates) or 0):.1f} %)"))
            elif rows:
                lines.append((f"calibration {phase}", "failed: " + rows[0].invalid_reason))
        if self.ceiling():
            lines.append(("load generator ceiling", f"{self.ceiling():,.0f} req/s"))
        drift = self.drift()
        if drift is not None:
            lines.append(("calibration drift", f"{100 * drift:.1f} %" +
                          (f" (noisy machine: more than {DRIFT_NOISY:.0%})" if self.noisy()
                           else "")))
        bounds = self.bounds_text()
        lines.append(("noise bound", bounds if self.measured else
                      f"not measured: ±{UNMEASURED:.0%} assumed"))
        if self.measured and self.fixed_measured:
            rates = [r.target_rate for r in self.fixed if r.target_rate]
            lines.append(("noise bound at a fixed rate",
                          f"{self.bounds_text(True)} ({len(self.fixed)} runs at "
                          f"{min(rates):,.0f} req/s)"))
        return lines

    def bounds_text(self, fixed=False):
        """ "req/s ±3.2 %, p99 ±12.0 %, ..." """
        return ", ".join(f"{results.NAMES.get(m, m)} ±{100 * self.noise(m, fixed):.1f} %"
                         for m in MEASURED)


def read(results_dir):
    """The calibration of a results directory (empty if it has none)."""
    path = os.path.join(results_dir, FILE)
    if not os.path.exists(path):
        return Calibration()
    rows = results.read_runs(path)
    return Calibration([r for r in rows if r.point == "start"],
                       [r for r in rows if r.point == "end"],
                       [r for r in rows if r.point in (fixed_label("start"), fixed_label("end"))])


# The ceiling the efficiency scenario's rates are shares of is kept between the runs of one
# machine: this VM's ceiling moved 2x between two consecutive quiet QUICK runs (105,333 and
# 55,022 req/s), and with it every rate, and a server's CPU per request depends on the rate
# (more requests per wake-up at a higher one): the two runs' figures did not compare. A run
# whose own ceiling is within KEEP of the remembered one offers the same rates; one beyond it
# (another machine, another CPU split, a real change) offers shares of its own, and is
# remembered in turn. The file is beside the result sets (results/.ceiling.json); remove it to
# start afresh.
KEEP = (0.5, 1.5)
MEMORY = ".ceiling.json"


def rate_basis(measured, path, key, when):
    """(the ceiling the rates are shares of, a line for env.txt saying where it comes from).
    `measured`: this run's ceiling (None if not measured); `key`: the machine and CPU split."""
    try:
        with open(path) as f:
            memory = json.load(f)
    except (OSError, ValueError):
        memory = {}
    old = memory.get(key) if isinstance(memory, dict) else None
    if not measured:
        return None, "no ceiling measured: no efficiency rates"
    if isinstance(old, dict) and old.get("ceiling") and \
            KEEP[0] <= measured / old["ceiling"] <= KEEP[1]:
        return old["ceiling"], (f"shares of {old['ceiling']:,.0f} req/s, the ceiling of "
                                f"{old.get('when', '?')} on this machine (this run's "
                                f"{measured:,.0f} is within {KEEP[0]:g}-{KEEP[1]:g}x of it: the "
                                f"same rates, so runs compare; {os.path.basename(path)} "
                                f"remembers it)")
    memory = memory if isinstance(memory, dict) else {}
    memory[key] = {"ceiling": measured, "when": when}
    try:
        with open(path, "w") as f:
            json.dump(memory, f, indent=1)
    except OSError:
        pass
    replaced = "" if not isinstance(old, dict) else \
        f"; the remembered {old.get('ceiling', 0):,.0f} was more than {KEEP[1]:g}x away"
    return measured, f"shares of {measured:,.0f} req/s, this run's ceiling{replaced}"
