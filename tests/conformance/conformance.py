#!/usr/bin/env python3
"""The black-box conformance suite: runs a server binary through every case and prints
one line per case, PASS or FAIL with the reason, then how many passed in each group, and
last "N passed, N failed".

  tests/conformance/conformance.py --bin build/bin/epoll [--proto http|echo|both]
                                   [--group G]... [--case NAME]... [--server-args ARGS]
                                   [-v] [--list] [--known-failures REF] [--out DIR]

It also writes DIR/results.json (each case's group, verdict and message, the score) for
autograders, and for a case a sanitizer failed, the servers' whole stderr to DIR/GROUP-NAME.log.

A model the machine cannot run (the server says "NAME: unavailable: WHY" and exits 1, as
uring does where io_uring is refused) is skipped: one "skip:" line with the reason, no case.

Every case starts the servers it needs (--port 0) and kills them, and whatever they forked,
when it ends, also on failure or Ctrl-C. Cases run side by side where that is safe; the heavy
ones (many connections or processes) run one at a time beside them. Nothing here asserts a
timing: a bound is a generous limit that only a stuck server misses.
"""
import argparse
import importlib
import json
import os
import resource
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fixture  # noqa: E402
from check import CASES, GROUPS, Context, Fail  # noqa: E402
from many import serves_again  # noqa: E402

# One module per group: cases_GROUP.py registers the group's cases as it is imported.
for group in GROUPS:
    importlib.import_module("cases_" + group.replace("-", "_"))

CASE_LIMIT = 180.0     # seconds a whole case may take before it counts as hung
SIDE_BY_SIDE = 6       # light cases run at once
README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.md")
# Options a reference server runs with (--known-failures REF), before --server-args and each
# case's own. Go: net/http times a request head from accept, not from its first byte as the
# models do, so under load a case that opens 1,200 connections before sending on any missed
# the default 10 s (README.md, "The Go reference").
REF_SERVER_ARGS = {"go": ["--header-timeout", "60"]}


def known_failures(ref):
    """The cases README.md lists as ones the reference server `ref` does not pass, and why:
    the lines "- `group/case`: why" between "<!-- known-failures REF -->" and "<!-- end -->".
    """
    known, inside = {}, False
    with open(README) as f:
        for line in f:
            line = line.strip()
            if line == f"<!-- known-failures {ref} -->":
                inside = True
            elif line == "<!-- end -->":
                inside = False
            elif inside and line.startswith("- `"):
                name, _, why = line[3:].partition("`")
                known[name] = why.lstrip(": ")
    if not known:
        sys.exit(f"conformance.py: README.md lists no known failures of {ref!r}")
    return known


def run_case(case, ctx, out=None):
    """Runs one case; returns (failure reason or None, elapsed seconds, notes). A sanitizer's
    report fails the case; the servers' whole stderr then goes to a file in out (an Output;
    None: the default place for the binary)."""
    started = time.monotonic()
    reason = None
    try:
        case.func(ctx)
    except Fail as e:
        reason = str(e)
    except OSError as e:
        reason = f"{type(e).__name__}: {e}"
    except Exception as e:   # a bug in the case itself: say where
        where = traceback.extract_tb(e.__traceback__)[-1]
        reason = f"{type(e).__name__} in the test ({os.path.basename(where.filename)}:" \
                 f"{where.lineno}): {e}"
    died = []   # (server, how it died with its last words on stderr, without them)
    try:
        for srv in ctx.servers:
            if srv.proc is None:
                continue
            if srv.death_note():
                died.append((srv, srv.death_note(), srv.death_note(quote_stderr=False)))
            elif reason is None and not srv.signalled:
                # Busy, not stuck, while it still ends the processes the case left: under a
                # sanitizer each of fork's 1000 children checks for leaks as it exits, more
                # than a minute's work for two cores, and a fresh connection's child waits
                # behind them. (Bounded: a spinning child is the next check's to catch.)
                srv.wait_while_processes_end(10 * fixture.BOUND["io"])
                reason = serves_again(srv)
    finally:
        for srv in ctx.servers:
            srv.stop()
    reports = [(srv, srv.sanitizer_report()) for srv in ctx.servers if srv.proc is not None]
    reports = [(srv, r) for srv, r in reports if r]
    for srv, said, bare in died:   # a sanitizer's report says more than the last stderr line
        reason = join(reason, bare if any(s is srv for s, _ in reports) else said)
    if reports:
        out = out or Output(default_out(ctx.binary), fresh=False)
        log = out.save(case, ctx.servers)
        for _, report in reports:
            reason = join(reason, report)
        reason += f"; full report in {log}"
    return reason, time.monotonic() - started, ctx.notes


def join(reason, more):
    return f"{reason}; {more}" if reason else more


class Output:
    """Where a run leaves its files: results.json (every case's verdict, for autograders)
    and, for each case a sanitizer failed, the servers' whole stderr (GROUP-NAME.log)."""

    def __init__(self, path, fresh=True):
        self.path = path
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path) if fresh else []:   # a report must be this run's
            if name.endswith(".log") or name == "results.json":
                os.remove(os.path.join(path, name))

    def show(self, name):
        """A file's path as the user should type it: relative to here if it is below here."""
        full = os.path.join(self.path, name)
        rel = os.path.relpath(full)
        return full if rel.startswith("..") else rel

    def save(self, case, servers):
        name = f"{case.group}-{case.name}.log"
        with open(os.path.join(self.path, name), "w") as f:
            for i, srv in enumerate(s for s in servers if s.proc is not None):
                f.write(f"=== server {i + 1}: {' '.join(srv.args)} (pid {srv.pid}), stderr:\n")
                f.writelines(line + "\n" for line in srv.stderr_lines)
        return self.show(name)

    def results(self, binary, cases, results, known):
        """results.json: the run, each case's verdict and message, and the score. known: the
        cases a reference is listed as failing (verdict "known", counted neither way)."""
        def verdict(c):
            failed = results[c][0] is not None
            if c.full_name in known:
                return "known" if failed else "fail"
            return "fail" if failed else "pass"
        groups = {}
        for c in cases:
            g = groups.setdefault(c.group, {"passed": 0, "failed": 0, **({"known": 0} if known
                                                                       else {})})
            g[{"pass": "passed", "fail": "failed", "known": "known"}[verdict(c)]] += 1
        passed = sum(g["passed"] for g in groups.values())
        failed = sum(g["failed"] for g in groups.values())
        doc = {
            "model": os.path.basename(binary),
            "binary": binary,
            "sanitizer": fixture.sanitizer_of(binary),
            "cases": [{"name": c.full_name, "group": c.group,
                       "verdict": verdict(c),
                       "message": results[c][0], "seconds": round(results[c][1], 2)}
                      for c in cases],
            "groups": groups,
            "score": {"passed": passed, "failed": failed, "total": len(cases)},
        }
        tmp = os.path.join(self.path, "results.json.tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        os.replace(tmp, os.path.join(self.path, "results.json"))
        return self.show("results.json")


def select_cases(args):
    protos = {"http": {"http", None}, "echo": {"echo", None}, "both": {"http", "echo", None}}
    chosen = [c for c in CASES if c.proto in protos[args.proto]]
    if args.group:
        unknown = set(args.group) - set(GROUPS)
        if unknown:
            sys.exit(f"conformance.py: unknown group {sorted(unknown)[0]!r}; groups: "
                     f"{', '.join(GROUPS)}")
        chosen = [c for c in chosen if c.group in args.group]
    if args.case:
        chosen = [c for c in chosen if c.full_name in args.case or c.name in args.case]
        if not chosen:
            sys.exit(f"conformance.py: no case named {args.case[0]!r} (see --list)")
    order = {g: i for i, g in enumerate(GROUPS)}
    return sorted(chosen, key=lambda c: (order[c.group], CASES.index(c)))


class Printer:
    """Prints results in the cases' order, as soon as every earlier one is known, and the
    cases a failure may be blamed on (suspects) too."""

    def __init__(self, cases, verbose, known):
        self.cases = cases
        self.verbose = verbose
        self.known = known          # full name -> why a reference fails it (README.md)
        self.results = {}
        self.next = 0
        self.failed = 0
        self.known_failed = 0
        self.lock = threading.Lock()
        names = {c.full_name: c for c in cases}
        self.suspects = {c: [(names[s], hint) for s, hint in c.suspects.items() if s in names]
                         for c in cases}

    def ready(self, case):
        return case in self.results and all(s in self.results for s, _ in self.suspects[case])

    def report(self, case, reason, elapsed, notes):
        with self.lock:
            self.results[case] = (reason, elapsed, notes)
            while self.next < len(self.cases) and self.ready(self.cases[self.next]):
                self._print(self.cases[self.next])
                self.next += 1

    def _print(self, case):
        reason, elapsed, notes = self.results[case]
        listed = self.known.get(case.full_name)
        if listed is not None and reason is not None:
            self.known_failed += 1
            line = f"KNOWN {case.full_name}: {' '.join(reason.split())} (README: {listed})"
        elif listed is not None:
            # A list that stays true: a case the reference has come to pass leaves it.
            self.failed += 1
            line = (f"FAIL {case.full_name}: passed, but README.md lists it as a known "
                    f"failure; remove it from the list")
        elif reason is None:
            line = f"PASS {case.full_name}"
        else:
            self.failed += 1
            for suspect, hint in self.suspects[case]:
                if self.results[suspect][0] is not None:
                    reason += f" ({suspect.full_name} fails too: {hint}; fix that first)"
            self.results[case] = (reason, elapsed, notes)
            line = f"FAIL {case.full_name}: {' '.join(reason.split())}"
        if self.verbose:
            line += f"  ({elapsed:.1f} s)"
        print(line, flush=True)
        if self.verbose:
            for n in notes:
                print(f"    {n}", flush=True)

    def print_groups(self):
        """Cases passed per group: what is left, at a glance (for a student's model)."""
        groups = {}
        for case in self.cases:
            passed, ran = groups.get(case.group, (0, 0))
            groups[case.group] = (passed + (self.results[case][0] is None), ran + 1)
        print("by group:", flush=True)
        for group, (passed, ran) in groups.items():
            print(f"  {group:<12} {passed:3} of {ran:3} passed", flush=True)
        if self.known:
            print(f"{self.known_failed} known failures (listed in tests/conformance/README.md) "
                  f"are not counted below", flush=True)


def run_all(cases, args, out):
    printer = Printer(cases, args.verbose, args.known)
    limit = CASE_LIMIT * args.slow

    def one(case):
        ctx = Context(args.bin, case.proto, args.server_args)
        result = {}
        t = threading.Thread(target=lambda: result.update(r=run_case(case, ctx, out)),
                             daemon=True)
        t.start()
        t.join(limit)
        if t.is_alive():
            for srv in list(ctx.servers):
                srv.kill()
            printer.report(case, f"the case did not finish within {limit:.0f} s", limit,
                           ctx.notes)
            return
        printer.report(case, *result["r"])

    # The cases others' failures may be blamed on run first, so that their verdicts are
    # there to be named when the others are printed.
    suspected = {s for c in cases for s in c.suspects}
    order = sorted(cases, key=lambda c: c.full_name not in suspected)
    light = [c for c in order if not c.heavy]
    heavy = [c for c in order if c.heavy]
    heavy_lane = threading.Thread(target=lambda: [one(c) for c in heavy], daemon=True)
    heavy_lane.start()
    with ThreadPoolExecutor(SIDE_BY_SIDE) as pool:
        for f in [pool.submit(one, c) for c in light]:
            f.result()
    heavy_lane.join()
    printer.print_groups()
    print(f"results: {out.results(args.bin, cases, printer.results, args.known)}", flush=True)
    return len(cases) - printer.failed - printer.known_failed, printer.failed


def default_out(binary):
    """BUILD/check/NAME for BUILD/bin/NAME; NAME-check beside a binary elsewhere."""
    where, name = os.path.split(binary)
    if os.path.basename(where) == "bin":
        return os.path.join(os.path.dirname(where), "check", name)
    return os.path.join(where, f"{name}-check")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", help="the server binary, e.g. build/bin/epoll")
    ap.add_argument("--proto", choices=["http", "echo", "both"], default="both")
    ap.add_argument("--group", action="append",
                    help=f"only this group (repeatable): {', '.join(GROUPS)}")
    ap.add_argument("--case", action="append",
                    help="only this case, NAME or GROUP/NAME (repeatable; with --group, only "
                         "the cases in both)")
    ap.add_argument("--server-args", default="",
                    help="options for every server the cases start, before the case's own "
                         "(which win), e.g. '--workers 2'")
    ap.add_argument("-v", "--verbose", action="store_true", help="show timings and measurements")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--known-failures", metavar="REF",
                    help="a reference server's run: the cases README.md lists for REF (e.g. "
                         "go) are expected to fail (KNOWN), and fail the run if they pass; "
                         "the server gets the options REF needs (README.md)")
    ap.add_argument("--out", metavar="DIR",
                    help="where to write results.json and the sanitizer reports (default: "
                         "check/NAME beside the binary's bin/, e.g. build/check/epoll)")
    args = ap.parse_args()
    args.known = known_failures(args.known_failures) if args.known_failures else {}
    args.server_args = REF_SERVER_ARGS.get(args.known_failures, []) + args.server_args.split()
    unknown = sorted(set(args.known) - {c.full_name for c in CASES})
    if unknown:
        sys.exit(f"conformance.py: README.md lists {unknown[0]!r} as a known failure, but "
                 f"there is no such case")

    cases = select_cases(args)
    if args.list:
        for c in cases:
            print(c.full_name)
        return 0
    if not args.bin:
        ap.error("--bin is required")
    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        print(f"conformance.py: {args.bin}: not an executable file", file=sys.stderr)
        return 2
    args.bin = os.path.abspath(args.bin)
    try:
        out = Output(args.out or default_out(args.bin))
    except OSError as e:
        print(f"conformance.py: cannot write the results: {e}", file=sys.stderr)
        return 2
    args.slow = 3.0 if fixture.is_sanitized(args.bin) else 1.0
    fixture.set_slow(args.slow)
    why = fixture.unavailable(args.bin)
    if why:
        print(f"skip: {os.path.basename(args.bin)}: {why}", flush=True)
        print("0 passed, 0 failed", flush=True)
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))   # for the many-connection cases

    def interrupted(sig, frame):
        fixture.kill_all_live()
        print(f"interrupted by {signal.Signals(sig).name}; servers killed", file=sys.stderr,
              flush=True)
        os._exit(130)
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)

    try:
        passed, failed = run_all(cases, args, out)
    finally:
        fixture.kill_all_live()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
