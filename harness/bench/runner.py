"""The loop over runs: their order, the results directory, progress, and Ctrl-C.

Order: the calibration (calibration.py), then scenario by scenario, point by point, round
by round, and within a round every model once, then the calibration again. Models measured
side by side see the same machine, and the order of the models rotates from round to round
(fork thread select, then thread select fork, ...), so that a drift of the machine (a
background job, a warming CPU) falls on each model in turn rather than always on the same.
Verdicts compare models within a round (verdicts.py).

Ctrl-C (or SIGTERM) stops the run in progress, stops every process we started, and still
writes summary.csv, the plots and the report from the runs finished so far.
"""
import os
import platform
import shutil
import signal
import subprocess
import sys
import time

from dataclasses import dataclass

from . import calibration, cpus, envinfo, execute, limits, procs, results, scenarios, servers
from . import tools, verdicts
from .progress import Progress, duration_text


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def _point_latest(results_root, out):
    """results/latest -> the newest run (a relative link, so results/ can move)."""
    link = os.path.join(results_root, "latest")
    tmp = link + ".new"
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(os.path.basename(out), tmp)
    os.replace(tmp, link)


def _tools(cfg):
    wrk = shutil.which("wrk") or "wrk"
    return {"wrk": wrk, "loadgen": os.path.join(cfg.bin_dir, "loadgen")}


# Below this many cores, the server's half of the machine is one core: nothing to scale over.
SCALING_MIN_CORES = 4


def _scaling_cores(cfg, server_cpus):
    """The scaling scenario's server core counts, and why it cannot run ("" when it can).
    --scaling-cores chooses them (any machine: a test's scaled-down plan); by default 1, 2,
    4... up to the server's CPUs, on a machine of SCALING_MIN_CORES cores or more."""
    if cfg.scaling_cores:
        over = [n for n in cfg.scaling_cores if n > len(server_cpus)]
        if over:
            print(f"bench: --scaling-cores: {over[0]} is more than the server's "
                  f"{len(server_cpus)} CPU (SERVER_CPUS={cpus.to_text(server_cpus)})",
                  file=sys.stderr)
            sys.exit(2)
        return cfg.scaling_cores, ""
    machine = len(cpus.available())
    if machine < SCALING_MIN_CORES:
        return [], (f"scaling: this machine has {machine} cores, fewer than "
                    f"{SCALING_MIN_CORES}: the server's half of them is "
                    f"{len(server_cpus)}, with nothing to scale over")
    if len(server_cpus) < 2:
        return [], (f"scaling: the server has one CPU (SERVER_CPUS="
                    f"{cpus.to_text(server_cpus)}), with nothing to scale over")
    return scenarios.scaling_cores(len(server_cpus)), ""


def _usable_scenarios(cfg, tools, server_cpus, have=None):
    """The chosen scenarios whose tools exist (here, or on every client host: `have`; and
    cores, for scaling), and a note for each one left out."""
    cores, no_scaling = ([], "")
    if "scaling" in cfg.scenarios:
        cores, no_scaling = _scaling_cores(cfg, server_cpus)
    names = [n for n in cfg.scenarios if n != "scaling" or cores]
    chosen = scenarios.build(names, cfg.profile, cfg.conns, cfg.idle_conns, cores)
    have = have or {"wrk": bool(shutil.which(tools["wrk"])),
                    "loadgen": os.access(tools["loadgen"], os.X_OK),
                    "slowloris": True}   # harness/bench/slowloris.py: Python, here
    usable, skipped = [], [no_scaling] if no_scaling else []
    for s in chosen:
        missing = sorted(t for t in s.tools if not have.get(t))
        if missing:
            skipped.append(f"{s.name}: needs {' and '.join(missing)}, which is not installed"
                           f" or built")
        else:
            usable.append(s)
    return usable, skipped


@dataclass
class Step:
    """One run of the plan."""
    scenario: object
    point: object
    rep: int                     # the round (calibration: the run), from 1
    model: str
    of: int                      # rounds in all (calibration: runs)
    calibration: bool = False

    @property
    def where(self):
        return f"{'run' if self.calibration else 'round'} {self.rep}/{self.of}"


def rotated(models, rep):
    """The models in the order of round `rep` (from 1): each round starts one further on."""
    k = (rep - 1) % len(models)
    return models[k:] + models[:k]


def _calibration(phase, calibrate):
    if not calibrate:
        return []
    s = calibration.scenario(phase)
    return [Step(s, p, i, calibration.TARGET, calibration.RUNS, calibration=True)
            for p in s.points for i in range(1, calibration.RUNS + 1)]


def plan(cfg, chosen, calibrate=True):
    """[Step] in the order they run. A point a server cannot serve (nginx has no /work) is
    not run for it: its cells say "n/a" (not_applicable())."""
    steps = _calibration("start", calibrate)
    steps += [Step(s, p, rep, model, cfg.reps) for s in chosen for p in s.points
              for rep in range(1, cfg.reps + 1) for model in rotated(cfg.models, rep)
              if not servers.target(model).sits_out(s.name, p)
              and not servers.target(model).cannot_serve(p)]
    return steps + _calibration("end", calibrate)


def not_applicable(cfg, chosen):
    """One note per server and scenario it sits out (some or all of its points)."""
    notes = []
    for model in cfg.models:
        for s in chosen:
            if servers.target(model).sits_out(s.name):
                continue
            out = [(p.label, servers.target(model).cannot_serve(p)) for p in s.points
                   if not servers.target(model).sits_out(s.name, p)]
            out = [(label, why) for label, why in out if why]
            if out:
                points = "" if len(out) == len(s.points) else \
                    f" ({', '.join(label for label, _ in out)})"
                whys = "; ".join(dict.fromkeys(why for _, why in out))
                notes.append(f"{model} in {s.name}{points}: {whys} (its cells say n/a)")
    return notes


def planned_seconds(cfg, point):
    """The seconds a run of `point` takes by plan (wrk runs and warms up whole seconds)."""
    duration, warmup = point.duration(cfg.duration), point.warmup_s(cfg.warmup)
    if point.loads[0].tool == "wrk":
        duration = tools.whole_seconds(duration)
        warmup = tools.whole_seconds(warmup) if warmup > 0 else 0
    return duration + warmup


def _capacity(rows, scenario):
    """The fastest model's closed-loop rate in this scenario's capacity probes (valid runs
    if any were valid)."""
    probes = [r for r in rows if r.scenario == scenario and r.point == "capacity"]
    valid = [r for r in probes if r.valid] or probes
    return max((r.req_per_s or 0 for r in valid), default=0)


def run(cfg):
    """The benchmark; across hosts when cfg.server_host is set (remote.py)."""
    remote = _connect(cfg) if cfg.server_host else None
    try:
        return _run(cfg, remote)
    finally:
        if remote:
            remote.close()


def _connect(cfg):
    """Every host checked and given the binaries, or one line naming the one that cannot
    take part, and exit code 2, before any run."""
    from . import hosts, remote
    # The calibration target goes along, built, as the models do.
    calib = [calibration.TARGET] if os.access(servers.target(calibration.TARGET).binary(
        cfg.bin_dir), os.X_OK) else []
    programs = sorted({os.path.basename(servers.target(m).binary(cfg.bin_dir))
                       for m in cfg.models + calib})
    package = ["harness/bench", "harness/wrk/summary.lua"]
    files = {"server": [(cfg.bin_dir, programs, "bin/"), (cfg.root, package, "")],
             "client": [(cfg.bin_dir, ["loadgen"], "bin/"), (cfg.root, package, "")]}
    build = None
    if cfg.remote_build:     # the source instead, and make there
        source = [(cfg.root, _source_files(cfg.root), "")]
        files = {"server": source, "client": source}
        build = {"server": [f"build/bin/{p}" for p in programs],
                 "client": ["build/bin/loadgen"]}
    print(f"bench: checking {cfg.server_host} and {' '.join(cfg.client_hosts)} over ssh and "
          f"sending them the {'source, to build there' if build else 'binaries'}", flush=True)
    try:
        return remote.Remote.prepare(cfg, files, build)
    except hosts.HostError as e:
        remote.fail(str(e))


def _source_files(root):
    """The repository's files, as git knows them (not results/: figures, not source)."""
    p = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True,
                       timeout=30)
    if p.returncode != 0:
        print(f"bench: --remote-build needs the git repository's file list: "
              f"{p.stderr.strip() or 'git ls-files failed'}", file=sys.stderr)
        sys.exit(2)
    return [f for f in p.stdout.splitlines() if not f.startswith("results/")]


def _run(cfg, remote):
    if remote:
        server_cpus, client_cpus, split_note = remote.cpus(cfg.server_cpus, cfg.client_cpus)
        lacking = [(m, remote.missing(servers.target(m))) for m in cfg.models]
        cfg.absent += [f"{m}: {why}" for m, why in lacking if why]
        cfg.models = [m for m, why in lacking if not why]
    else:
        server_cpus, client_cpus, split_note = _split(cfg)
    tools = _tools(cfg)
    chosen, skipped = _usable_scenarios(cfg, tools, server_cpus,
                                        remote.have() if remote else None)
    skipped += cfg.absent + not_applicable(cfg, chosen)
    for note in skipped:
        print(f"bench: skipping {note}", file=sys.stderr)
    if not chosen:
        print("bench: no scenario can run (see above)", file=sys.stderr)
        return 1
    why_not = servers.target(calibration.TARGET).missing(cfg.bin_dir)
    if why_not:
        skipped.append(f"calibration: {why_not}; efficiency has no rates and verdicts assume "
                       f"a noise of ±{calibration.UNMEASURED:.0%}")
        print(f"bench: skipping {skipped[-1]}", file=sys.stderr)
    runs = plan(cfg, chosen, calibrate=not why_not)
    prog = Progress(planned_seconds(cfg, step.point) for step in runs)
    measured = sum(1 for step in runs if not step.calibration)
    running = [m for m in cfg.models if any(step.model == m for step in runs)]
    print(f"bench: {measured} runs of {', '.join(running)} through "
          f"{', '.join(s.name for s in chosen)} in {cfg.reps} rounds, and "
          f"{len(runs) - measured} calibration runs: about "
          f"{duration_text(prog.total_estimate())}. Server on {_on(cfg.server_host)}CPU "
          f"{cpus.to_text(server_cpus)}, load generator on {_on(' '.join(cfg.client_hosts))}CPU "
          f"{cpus.to_text(client_cpus)}.", flush=True)
    if split_note:
        print(f"bench: warning: {split_note}", file=sys.stderr)
    if cfg.dry_run:
        for step in runs:
            print(f"  {step.scenario.name:<12} {step.point.label:<16} {step.where:<11} "
                  f"{step.model}")
        return 0

    out = _results_dir(cfg)
    _check_limits(cfg, chosen, out)
    env = envinfo.collect(cfg.root, cfg, server_cpus, client_cpus, split_note, tools)
    env += (remote.env() if remote else []) + [("skipped", s) for s in skipped]
    envinfo.write(os.path.join(out, "env.txt"), env)
    _take_charge(cpus.available() if remote else client_cpus)
    ctx = execute.Context(out_dir=out, bin_dir=cfg.bin_dir, wrk=tools["wrk"],
                          loadgen=tools["loadgen"],
                          wrk_script=os.path.join(cfg.root, "harness", "wrk", "summary.lua"),
                          server_cpus=server_cpus, client_cpus=client_cpus,
                          duration=cfg.duration, warmup=cfg.warmup, max_conns=cfg.max_conns,
                          remote=remote, client_hosts=len(remote.clients) if remote else 1)
    rows, status, rates = _run_all(ctx, runs, prog)

    envinfo.write(os.path.join(out, "env.txt"),
                  env + calibration.read(out).env_lines() +
                  ([("efficiency rates", rates)] if rates else []) +
                  [("runs", f"{len(rows)} of {measured} ({status})")])
    results.read_summary(out)
    verdicts.write(out)
    if cfg.report:
        _report(cfg.root, out)
    report = os.path.join(out, "report.html")
    if not os.path.relpath(report).startswith(".."):
        report = os.path.relpath(report)
    invalid = sum(1 for r in rows if not r.valid)
    print(f"bench: {len(rows)} of {measured} runs done, {invalid} invalid. Report: {report} "
          "(and report.md)", flush=True)
    return 0 if status == "complete" else 130


def _results_dir(cfg):
    """--out, or results/<UTC time>-<host> with results/latest pointing to it."""
    if cfg.out:
        out = os.path.abspath(cfg.out)
        os.makedirs(out, exist_ok=True)
        return out
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = os.path.join(cfg.results_root, f"{stamp}-{platform.node() or 'host'}")
    os.makedirs(out, exist_ok=True)
    _point_latest(cfg.results_root, out)
    return out


def _check_limits(cfg, chosen, out):
    """limits.txt, and a warning for each limit too low for the largest run planned."""
    biggest = max(p.conns for s in chosen for p in s.points)
    findings = limits.check(max(biggest, cfg.max_conns), any(s.name == "churn" for s in chosen),
                            threads_per_conn=bool({"fork", "thread"} & set(cfg.models)))
    limits.write(findings, os.path.join(out, "limits.txt"))
    for f in findings:
        if not f.ok:
            print(f"bench: limit: {f.name} = {f.value}: {f.note}. To raise it: {f.fix}",
                  file=sys.stderr)


def _take_charge(client_cpus):
    """From here on the runner runs on the generator's cores (its sampling must not steal the
    server's), adopts orphans, and turns SIGINT and SIGTERM into KeyboardInterrupt, even
    where the shell had SIGINT ignored (a background job of a script)."""
    os.sched_setaffinity(0, client_cpus)
    procs.become_subreaper()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)


def _target_rate(step, rows, ceiling):
    """The rate an open-loop point at a share offers: of the fastest model's capacity, or of
    the generator's ceiling (`ceiling`, as rate_basis() chose it). Returns (rate, why there is
    none)."""
    p = step.point
    if p.load_fraction:
        rate = _capacity(rows, step.scenario.name) * p.load_fraction
        return rate, "" if rate else "no capacity was measured to take a share of"
    if p.ceiling_fraction:
        return ((ceiling or 0) * p.ceiling_fraction,
                "" if ceiling else "no load generator ceiling was measured (calibration)")
    return 0.0, ""


def _rate_basis(ctx, calibrated):
    """The ceiling the efficiency rates are shares of (calibration.rate_basis), remembered
    beside the result sets, per machine and CPU split."""
    measured = calibration.Calibration(calibrated).ceiling()
    key = (f"{platform.node() or 'host'} server CPUs {cpus.to_text(ctx.server_cpus)} "
           f"client CPUs {cpus.to_text(ctx.client_cpus)}")
    path = os.path.join(os.path.dirname(ctx.out_dir), calibration.MEMORY)
    return calibration.rate_basis(measured, path, key,
                                  time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()))


def _run_all(ctx, runs, prog):
    """Runs the plan: a row of runs.csv per run, of calibration.csv per calibration run.
    Returns (rows of runs.csv, "complete" or "interrupted")."""
    writer = results.RunsWriter(os.path.join(ctx.out_dir, "runs.csv"))
    calib_writer = results.RunsWriter(os.path.join(ctx.out_dir, calibration.FILE))
    rows, calibrated, status = [], [], "complete"
    basis = None   # (ceiling, where it comes from), once the start calibration has run
    try:
        for i, step in enumerate(runs, 1):
            started = time.monotonic()
            if basis is None and step.point.ceiling_fraction:
                basis = _rate_basis(ctx, [r for r in calibrated if r.point == "start"])
            target, why_not = _target_rate(step, rows, basis and basis[0])
            spec = execute.RunSpec(f"{i:03d}-{step.model}-{step.scenario.name}-"
                                   f"{_slug(step.point.label)}-r{step.rep}",
                                   step.scenario, step.point, step.model, step.rep, target)
            row = execute.skipped(ctx, spec, why_not) if why_not else execute.run(ctx, spec)
            (calib_writer if step.calibration else writer).write(row)
            (calibrated if step.calibration else rows).append(row)
            prog.finished(row, time.monotonic() - started, step.where)
            procs.sweep()
    except KeyboardInterrupt:
        status = "interrupted"
        print(f"\nbench: interrupted after {len(rows)} runs; stopping what runs "
              "and keeping the runs so far", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not lose the report
        procs.stop_all()
        writer.close()
        calib_writer.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return rows, status, basis and basis[1]


def _split(cfg):
    try:
        return cpus.split(cfg.server_cpus, cfg.client_cpus)
    except ValueError as e:
        print(f"bench: {e}", file=sys.stderr)
        sys.exit(2)


def _on(hosts):
    return f"{hosts}, " if hosts else ""


def _slug(label):
    return "".join(ch if ch.isalnum() or ch in ".=" else "_" for ch in label).strip("_")


def _report(root, out):
    """Plots and report, by the same scripts as `make plots`."""
    for script in ("plots", "report"):
        p = subprocess.run([sys.executable, "-m", f"scripts.{script}", out], cwd=root)
        if p.returncode != 0:
            print(f"bench: scripts/{script}.py failed ({p.returncode})", file=sys.stderr)
