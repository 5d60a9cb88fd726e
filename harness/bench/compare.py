"""`make compare A=results/X B=results/Y`: how each headline figure moved from one result set
to another, per point and model, and whether the move is bigger than the rounds' spread.

    python3 -m harness.bench.compare A B [--csv FILE]

A figure "changed" only where the two ranges (min to max over the valid rounds) do not
overlap; otherwise it is the same, whatever its median did. A cell with fewer than 2 valid
rounds on either side has no range to judge by. The figures compared are each scenario's
headline metrics (the ones verdicts are given on). Prints a Markdown table to stdout and
writes the same as CSV (default results/compare.csv).
"""
import argparse
import csv
import os
import sys
from dataclasses import dataclass

from . import results, verdicts
from .progress import figure_text, ranged

COLUMNS = ["scenario", "point", "model", "metric", "a_median", "a_min", "a_max", "b_median",
           "b_min", "b_max", "change_pct", "verdict"]
MIN_ROUNDS = 2


@dataclass
class Change:
    scenario: str
    point: str
    model: str
    metric: str
    a: results.Spread
    b: results.Spread
    verdict: str          # "better", "worse", "same", "too few rounds"

    @property
    def change(self):
        """B's median against A's, as a share (+0.10: 10 % higher)."""
        return self.b.median / self.a.median - 1 if self.a.median else None


def judge(a, b, metric, rounds_a, rounds_b):
    """The verdict on one figure from A's and B's spreads."""
    if rounds_a < MIN_ROUNDS or rounds_b < MIN_ROUNDS:
        return "too few rounds"
    if a.max < b.min or b.max < a.min:
        up = b.min > a.max
        return "better" if up == verdicts.HIGHER_IS_BETTER[metric] else "worse"
    return "same"


def changes(summary_a, summary_b, metrics_of=verdicts.metrics_of):
    """Changes for every (scenario, point, model) in both, in B's order."""
    in_a = {(s.scenario, s.point, s.model): s for s in summary_a}
    found = []
    for sb in summary_b:
        sa = in_a.get((sb.scenario, sb.point, sb.model))
        if sa is None:
            continue
        for metric in metrics_of(sb.scenario):
            a, b = sa.spread(metric), sb.spread(metric)
            if a.median is None or b.median is None:
                continue
            found.append(Change(sb.scenario, sb.point, sb.model, metric, a, b,
                                judge(a, b, metric, sa.valid_runs, sb.valid_runs)))
    return found


def verdict_lines(found_a, found_b):
    """What the two sets' paired verdicts say together: how many are clear in each, and
    every clear verdict that the other set clearly reverses."""
    lines = [f"Clear verdicts: {sum(f.clear for f in found_a)} of {len(found_a)} in A, "
             f"{sum(f.clear for f in found_b)} of {len(found_b)} in B (findings.csv)."]
    reversed_ = verdicts.contradictions(found_a, found_b)
    lines.append(f"Contradictory clear verdicts: {len(reversed_) or 'none'}.")
    for a, b in reversed_:
        lines.append(f"- {a.scenario} {a.point} {results.NAMES.get(a.metric, a.metric)}: "
                     f"A says {a.better} {a.ratio:.3g}× better than {a.worse}, B says "
                     f"{b.better} {b.ratio:.3g}× better than {b.worse}")
    return lines


def markdown(found, name_a, name_b, said=()):
    """The Markdown report: the count of changes, what the verdicts say (`said`), the table."""
    changed = sum(1 for c in found if c.verdict in ("better", "worse"))
    lines = [f"# {name_b} against {name_a}", "",
             f"{changed} of {len(found)} figures changed (their ranges over the rounds do not "
             "overlap); the others are the same within the rounds' spread.", ""]
    lines += [*said, ""] if said else []
    lines += [f"| scenario | point | model | figure | A: {name_a} | B: {name_b} | change | |",
              "|---|---|---|---|---|---|---|---|"]
    for c in found:
        change = "" if c.change is None else f"{100 * c.change:+.1f} %"
        verdict = f"**changed: {c.verdict}**" if c.verdict in ("better", "worse") else c.verdict
        lines.append(f"| {c.scenario} | {c.point} | {c.model} | "
                     f"{results.NAMES.get(c.metric, c.metric)} | "
                     f"{ranged(c.a, figure_text(c.metric))} | "
                     f"{ranged(c.b, figure_text(c.metric))} | {change} | {verdict} |")
    return "\n".join(lines) + "\n"


def write_csv(path, found):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for c in found:
            w.writerow({"scenario": c.scenario, "point": c.point, "model": c.model,
                        "metric": c.metric,
                        **{f"{side}_{stat}": results.format_value(getattr(s, stat))
                           for side, s in (("a", c.a), ("b", c.b)) for stat in results.STATS},
                        "change_pct": "" if c.change is None else f"{100 * c.change:.3g}",
                        "verdict": c.verdict})


class OneLineErrorParser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"compare: {message} (see --help)\n")
        sys.exit(2)


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = OneLineErrorParser(prog="compare", description=__doc__.split("\n\n")[0])
    p.add_argument("a", metavar="A", help="the results directory to compare against")
    p.add_argument("b", metavar="B", help="the results directory compared")
    p.add_argument("--csv", default=os.path.join(root, "results", "compare.csv"),
                   help="where to write the CSV (default results/compare.csv)")
    args = p.parse_args(argv)
    for d in (args.a, args.b):
        if not os.path.exists(os.path.join(d, "runs.csv")):
            p.error(f"{d} is not a results directory (no runs.csv)")
    found = changes(results.summarise(results.read_runs(os.path.join(args.a, "runs.csv"))),
                    results.summarise(results.read_runs(os.path.join(args.b, "runs.csv"))))
    said = verdict_lines(verdicts.for_results(args.a), verdicts.for_results(args.b))
    sys.stdout.write(markdown(found, args.a.rstrip("/"), args.b.rstrip("/"), said))
    os.makedirs(os.path.dirname(os.path.abspath(args.csv)), exist_ok=True)
    write_csv(args.csv, found)
    sys.stderr.write(f"compare: {len(found)} figures; CSV: {args.csv}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
