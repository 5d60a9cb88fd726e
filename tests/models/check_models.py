#!/usr/bin/env python3
"""What is particular to a model, beyond the conformance suite (which checks every model's
protocol, limits and shutdown the same way): prefork's pool of processes, pool's hand-off
between its event loop and its worker threads, poll's many connections. One line per case,
PASS or FAIL with the reason, then "N passed, N failed".

  tests/models/check_models.py --bin-dir build/bin [--model NAME]... [--case NAME]... [-v]

A model's cases are in cases_MODEL.py. Like the conformance suite, they judge order and
counts, never a duration: a bound only keeps a stuck server from hanging the suite (it
stretches for a sanitizer build), and what was measured is shown with -v.
"""
import argparse
import glob
import importlib
import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "conformance")]

import fixture  # noqa: E402
from check import Context  # noqa: E402
from conformance import run_case  # noqa: E402
from model_case import CASES  # noqa: E402

CASE_LIMIT = 300.0   # seconds a whole case may take before it counts as hung


def run_one(case, binary, verbose):
    ctx = Context(binary, case.proto)
    result = {}
    t = threading.Thread(target=lambda: result.update(r=run_case(case, ctx)), daemon=True)
    t.start()
    t.join(CASE_LIMIT)
    if t.is_alive():
        for srv in list(ctx.servers):
            srv.kill()
        reason, elapsed, notes = f"the case did not finish within {CASE_LIMIT:.0f} s", CASE_LIMIT, []
    else:
        reason, elapsed, notes = result["r"]
    line = f"PASS {case.full_name}" if reason is None else \
        f"FAIL {case.full_name}: {' '.join(reason.split())}"
    print(line + (f"  ({elapsed:.1f} s)" if verbose else ""), flush=True)
    for n in notes if verbose else []:
        print(f"    {n}", flush=True)
    return reason is None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default="build/bin", help="where the model binaries are")
    ap.add_argument("--model", action="append", help="only this model (repeatable)")
    ap.add_argument("--case", action="append", help="only this case, NAME or MODEL/NAME")
    ap.add_argument("-v", "--verbose", action="store_true", help="show what was measured")
    args = ap.parse_args()
    known = sorted(os.path.basename(p)[6:-3] for p in glob.glob(os.path.join(HERE, "cases_*.py")))
    models = args.model or known
    unknown = sorted(set(models) - set(known))
    if unknown:
        sys.exit(f"check_models.py: no cases for {unknown[0]!r}; models with cases: "
                 f"{', '.join(known)}")
    for m in models:
        importlib.import_module("cases_" + m)
    passed = failed = 0
    slowed = False
    for case in CASES:
        if args.case and case.full_name not in args.case and case.name not in args.case:
            continue
        binary = os.path.join(args.bin_dir, case.model)
        if not os.access(binary, os.X_OK):
            print(f"FAIL {case.full_name}: {binary} is not built (make)", flush=True)
            failed += 1
            continue
        if not slowed and fixture.is_sanitized(binary):
            fixture.set_slow(3)   # as the conformance suite does: a sanitizer build is slower
            slowed = True
        if run_one(case, binary, args.verbose):
            passed += 1
        else:
            failed += 1
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
