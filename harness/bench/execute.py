"""One run: a fresh server, the point's load against it, and one row of runs.csv.

The order keeps the server's life tight around the measurement, so that its rusage (read by
wait4() when it exits) is the run's cost: start the server, sample it idle, run the warm-up
and the measured load while sampling, stop it. Warm-up requests are served by the same
server, so they are counted in the per-request figures' denominator.
"""
import dataclasses
import os
import time
from dataclasses import dataclass

from . import sampling, servers, tools, validity
from .cpus import to_text
from .procs import Child
from .results import Row
from .servers import Server, ServerError

TIMEOUT_S = 5          # a request unanswered this long is a timeout error
FINISH_SLACK_S = 30    # a generator still running this long after its time is killed
WINDOW_MARGIN_S = 0.2  # the server's CPU is read this far inside the measured window


@dataclass
class Context:
    """What every run of one `make bench` shares."""
    out_dir: str
    bin_dir: str
    wrk: str
    loadgen: str
    wrk_script: str
    server_cpus: list
    client_cpus: list
    duration: float
    warmup: float
    max_conns: int = 0     # 0: each run's connections plus a margin
    remote: object = None  # remote.Remote: the server and the load on other hosts
    client_hosts: int = 1  # hosts running the load, each on client_cpus

    def path(self, kind, name):
        d = os.path.join(self.out_dir, kind)
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, name)


@dataclass
class Generator:
    load: tools.Load
    child: Child
    json_path: str = ""


def _start_generator(ctx, name, load, port, duration, warmup):
    """Starts one generator process for `load`, its files named after `name`. (wrk ignores
    `warmup`: its warm-up is a separate, earlier run.)"""
    threads = tools.threads_for(load, ctx.client_cpus)
    log = ctx.path("logs", f"{name}.{load.tool}.log")
    cpus = to_text(ctx.client_cpus)
    if load.tool == "wrk":
        argv = tools.wrk_argv(ctx.wrk, ctx.wrk_script, load, port, threads, duration, TIMEOUT_S)
        return Generator(load, Child(argv, log, cpus=cpus))
    if load.tool == "slowloris":
        json_path = ctx.path("raw", f"{name}.json")
        argv = tools.slowloris_argv(load, port, warmup + duration, json_path)
        return Generator(load, Child(argv, log, cpus=cpus), json_path)
    json_path, hgrm_path = ctx.path("raw", f"{name}.json"), ctx.path("hgrm", f"{name}.hgrm")
    argv = tools.loadgen_argv(ctx.loadgen, load, port, threads, duration, warmup,
                              TIMEOUT_S, json_path, hgrm_path)
    return Generator(load, Child(argv, log, cpus=cpus), json_path)


def _finish(gen, deadline, client_cpus):
    """Waits for a generator and reads what it measured. Returns (Measured, problem)."""
    if not gen.child.wait(max(0.0, deadline - time.monotonic())):
        gen.child.stop(grace=2.0)
        return None, f"{gen.load.tool} did not finish in time and was stopped"
    try:
        if gen.load.tool == "wrk":
            m = tools.parse_wrk(gen.child.output())
        else:
            with open(gen.json_path) as f:
                text = f.read()
            m = tools.parse_slowloris(text) if gen.load.tool == "slowloris" \
                else tools.parse_loadgen(text)
    except (OSError, tools.ToolError, KeyError, ValueError) as e:
        return None, f"{gen.load.tool} (exit {gen.child.exit_code}): {e}"
    if gen.child.rusage:
        m.gen_user_s, m.gen_sys_s = gen.child.rusage.ru_utime, gen.child.rusage.ru_stime
    m.gen_elapsed_s = gen.child.ended - gen.child.started
    m.gen_threads = tools.threads_for(gen.load, client_cpus)
    return m, ""


@dataclass
class Window:
    """The server's CPU time over the measured window alone (from /proc), without its
    start-up, the warm-up, the connections' set-up and their teardown."""
    seconds: float = 0.0
    cpu_s: float = 0.0
    lost: bool = False        # threads ended within it (the load ended early): unknown


def _sleep_until(t):
    time.sleep(max(0.0, t - time.monotonic()))


def _measure_window(server_pid, start, length):
    """Reads the server's CPU time just after the measured window opens and just before it
    closes: a thread or process that serves one connection ends when its connection does,
    and its time must be read before that."""
    margin = min(WINDOW_MARGIN_S, length / 10)
    _sleep_until(start + margin)
    t0, (cpu0, threads0) = time.monotonic(), sampling.cpu_time(server_pid)
    _sleep_until(start + length - margin)
    t1, (cpu1, threads1) = time.monotonic(), sampling.cpu_time(server_pid)
    if threads1 < threads0 or cpu1 < cpu0:
        return Window(lost=True)
    return Window(t1 - t0, cpu1 - cpu0)


def _run_load(ctx, run_id, loads, port, duration, warmup, server_pid):
    """Runs the point's generators at once. Returns ([Measured or None], [problem], Window)."""
    if ctx.remote:       # the server's /proc is on another host: no window figures
        return (*ctx.remote.run_load(ctx, run_id, loads, port, duration, warmup), Window())
    started = time.monotonic()
    gens = [_start_generator(ctx, f"{run_id}.{i}", load, port, duration, warmup)
            for i, load in enumerate(loads)]
    try:
        # wrk's warm-up was a run of its own; loadgen's comes before its measured window.
        if loads[0].tool == "wrk":
            window = _measure_window(server_pid, started, tools.whole_seconds(duration))
        else:
            window = _measure_window(server_pid, started + warmup, duration)
        deadline = time.monotonic() + TIMEOUT_S + FINISH_SLACK_S
        results = [_finish(g, deadline, ctx.client_cpus) for g in gens]
    finally:
        for g in gens:
            g.child.stop(grace=2.0)
    for i, (g, (m, _)) in enumerate(zip(gens, results)):
        if m and g.load.tool == "wrk" and m.spectrum:
            tools.write_hgrm(ctx.path("hgrm", f"{run_id}.{i}.hgrm"), m.spectrum, m.requests)
    return [m for m, _ in results], [p for _, p in results if p], window


def _wrk_warmup(ctx, run_id, loads, port):
    """wrk has no warm-up of its own: run it once, unmeasured, before the real run.
    Returns the requests it made (the server served them too) and any problem."""
    wrk_loads = [l for l in loads if l.tool == "wrk"]
    if not wrk_loads or ctx.warmup <= 0:
        return 0, []
    if ctx.remote:
        measured, problems = ctx.remote.run_load(ctx, f"{run_id}.warmup", wrk_loads, port,
                                                 ctx.warmup, 0, files=False)
        return sum(m.requests for m in measured if m), [f"warm-up: {p}" for p in problems]
    gens = [_start_generator(ctx, f"{run_id}.{i}.warmup", load, port, ctx.warmup, 0)
            for i, load in enumerate(wrk_loads)]
    deadline = time.monotonic() + ctx.warmup + TIMEOUT_S + FINISH_SLACK_S
    results = [_finish(g, deadline, ctx.client_cpus) for g in gens]
    return (sum(m.requests for m, _ in results if m),
            [f"warm-up: {p}" for _, p in results if p])


@dataclass
class RunSpec:
    """What one run is: which point of which scenario, against which model, in which round."""
    run_id: str                  # number-model-scenario-point-round: its files start with it
    scenario: object             # scenarios.Scenario
    point: object                # scenarios.Point
    model: str                   # a servers.target name
    rep: int                     # the round, from 1
    target_rate: float = 0.0     # open loop at a share of capacity or of the generator's
                                 # ceiling: the rate it became


def server_cpus_of(ctx, point):
    """The server's CPUs for a point: the first `server_cores` of them (scaling), or all."""
    return ctx.server_cpus[:point.server_cores] if point.server_cores else ctx.server_cpus


def _describe(ctx, spec, loads):
    """The row of what the run is, before it runs."""
    main, point = loads[0], spec.point
    return Row(run=spec.run_id, rep=spec.rep, model=spec.model, scenario=spec.scenario.name,
               point=point.label,
               # a share of capacity or ceiling is plotted at the rate it became
               x=point.x if point.x or not (point.load_fraction or point.ceiling_fraction)
               else main.rate,
               tool=main.tool, proto=point.proto,
               path=main.path if point.proto == "http" else "", conns=main.conns,
               gen_threads=tools.threads_for(main, ctx.client_cpus),
               load_fraction=point.load_fraction or None, target_rate=main.rate or None,
               duration_s=point.duration(ctx.duration),
               warmup_s=point.warmup_s(ctx.warmup),
               server_cpus=to_text(server_cpus_of(ctx, point)),
               client_cpus=to_text(ctx.client_cpus),
               started_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def skipped(ctx, spec, why):
    """The row of a run that could not be attempted, marked invalid with the reason."""
    return _verdict(_describe(ctx, spec, spec.point.loads), spec.point, [why])


def run(ctx, spec):
    """Runs one point against one model; returns its runs.csv row (valid or not)."""
    point = spec.point
    if point.all_cpus and not ctx.remote:   # on hosts of its own, it has every CPU already
        every = sorted(set(ctx.server_cpus) | set(ctx.client_cpus))
        ctx = dataclasses.replace(ctx, server_cpus=every, client_cpus=every)
    loads = [dataclasses.replace(l) for l in point.loads]
    if (point.load_fraction or point.ceiling_fraction) and spec.target_rate:
        loads[0].rate = spec.target_rate
    row = _describe(ctx, spec, loads)
    cpus = server_cpus_of(ctx, point)
    # --max-conns is for the models: the calibration target always takes its connections.
    max_conns = point.conns + 64 if point.generator_bound or not ctx.max_conns else ctx.max_conns
    if point.own_limits:   # a point about running out (slowclients): each model's own
        max_conns = None
    make_server = ctx.remote.server if ctx.remote else Server
    server = make_server(servers.target(spec.model), ctx.bin_dir, point.proto, max_conns,
                         to_text(cpus), cpus, ctx.path("logs", f"{spec.run_id}.server.log"),
                         scaling=bool(point.server_cores), header_timeout=point.header_timeout)
    problems, measured, sampler, watch, warm_requests = [], [], None, None, 0
    try:
        server.start()
        base = server.sample()
        sampler = server.sampler(max(0.2, min(1.0, row.duration_s / 5))).start()
        t0 = time.monotonic()
        if point.warmup:
            warm_requests, warm_problems = _wrk_warmup(ctx, spec.run_id, loads, server.port)
            problems += warm_problems
        if not ctx.remote:   # the kernel's view is read here, on the server's host
            watch = sampling.PortWatch(server.port).start()   # the measured load's connections
        measured, load_problems, window_cpu = _run_load(
            ctx, spec.run_id, loads, server.port, row.duration_s, row.warmup_s,
            None if ctx.remote else server.pid)
        if watch:
            watch.stop()
        problems += load_problems
        elapsed = time.monotonic() - t0
        samples = sampler.stop()
        sampler = None
        time.sleep(0.05)   # let the server see the connections close before it is stopped
        stop_problem = server.stop()
        if stop_problem:
            problems.append(stop_problem)
        problems += _refusals(server)
        if window_cpu.lost and "window_cpu_us_per_req" in spec.scenario.metrics:
            problems.append("the server's threads ended within the measured window (the "
                            "load stopped early?): its CPU time there is unknown")
    except ServerError as e:
        problems.append(str(e))
        return _verdict(row, point, problems)
    finally:
        if sampler:
            sampler.stop()
        if watch:
            watch.stop()
        if server.running:       # interrupted, or failed half-way
            server.stop(grace=2.0)

    peak = sampling.peak(samples)
    _fill_generator(row, loads, measured, warm_requests, ctx)
    _fill_server(row, server, base, peak, elapsed, loads, cpus)
    _fill_window(row, window_cpu)
    if watch:
        row.conns_kernel, row.listen_queue_peak = watch.established, watch.listen_queue
        row.listen_queue_end = watch.listen_queue_end
    if loads[0].tool == "wrk" and watch and watch.established:
        # wrk does not say how many connections it holds; the kernel does, accepted or not.
        row.conns_established = min(row.conns, watch.established)
    hgrm = ctx.path("hgrm", f"{spec.run_id}.0.hgrm")
    row.hgrm = os.path.relpath(hgrm, ctx.out_dir) if os.path.exists(hgrm) else ""
    return _verdict(row, point, problems)


def _fill_generator(row, loads, measured, warm_requests, ctx):
    main = measured[0] if measured else None
    if main:
        lat = main.latency_us
        row.requests, row.req_per_s, row.bytes = main.requests, main.req_per_s, main.bytes
        row.warmup_requests = main.warmup_requests + warm_requests
        row.duration_s = main.duration_s
        row.achieved_rate, row.late_sends = main.achieved_rate, main.late_sends
        row.conns_established = main.conns_established
        row.lat_min_us, row.lat_mean_us, row.lat_max_us = (lat.get("min"), lat.get("mean"),
                                                           lat.get("max"))
        row.lat_p50_us, row.lat_p90_us, row.lat_p99_us = (lat.get("p50"), lat.get("p90"),
                                                          lat.get("p99"))
        row.lat_p999_us, row.lat_p9999_us = lat.get("p99.9"), lat.get("p99.99")
        for kind, n in main.errors.items():
            setattr(row, f"err_{kind}", n)
    attackers = [(l, m) for l, m in zip(loads, measured) if l.tool == "slowloris" and m]
    if attackers:
        row.attackers = sum(l.conns for l, _ in attackers)
        row.attackers_held = sum(m.conns_open_at_end or 0 for _, m in attackers)
        row.attackers_408 = sum(m.closed_408 or 0 for _, m in attackers)
    if main and main.target_rate and main.duration_s:
        # Of the requests offered in the window, the share answered with a 2xx or 3xx.
        offered = main.target_rate * main.duration_s
        row.success_rate = min(1.0, max(0, main.requests - main.errors.get("status", 0)) / offered)
    background = [m for l, m in zip(loads, measured)
                  if l.role == "background" and l.tool != "slowloris" and m]
    if background:
        row.bg_requests = sum(m.requests for m in background)
        row.bg_req_per_s = sum(m.req_per_s for m in background)
        row.bg_p99_us = max(m.latency_us.get("p99", 0) for m in background)
    ran = [m for m in measured if m]
    if ran:
        threads = min(sum(m.gen_threads for m in ran), len(ctx.client_cpus) * ctx.client_hosts)
        elapsed = max(m.gen_elapsed_s for m in ran)
        row.gen_user_s = sum(m.gen_user_s for m in ran)
        row.gen_sys_s = sum(m.gen_sys_s for m in ran)
        if elapsed > 0:
            row.gen_busy = (row.gen_user_s + row.gen_sys_s) / (elapsed * threads)


def _fill_server(row, server, base, peak, elapsed, loads, cpus):
    served = (row.requests or 0) + (row.warmup_requests or 0) + (row.bg_requests or 0)
    row.server_conns = max(0, peak.sockets - base.sockets)
    row.server_base_pss_kb, row.server_peak_pss_kb = base.pss_kb, peak.pss_kb
    row.server_peak_rss_kb = peak.rss_kb
    row.server_threads, row.server_procs = peak.threads, peak.procs
    if row.conns_established is None and loads[0].tool == "wrk":
        # wrk does not say how many connections it holds: the server's sockets do.
        row.conns_established = min(row.conns, row.server_conns)
    if row.server_conns and not any(l.close for l in loads):
        row.server_mem_per_conn_kb = max(0, peak.pss_kb - base.pss_kb) / row.server_conns
    row.server_conns_per_worker = server.conns_per_worker()
    ru = server.rusage
    if ru is None:
        return
    cpu = ru.ru_utime + ru.ru_stime
    usable = max(1, min(len(cpus), peak.threads or 1))
    row.server_user_s, row.server_sys_s = ru.ru_utime, ru.ru_stime
    row.server_vcsw, row.server_ivcsw = ru.ru_nvcsw, ru.ru_nivcsw
    row.server_busy = cpu / (elapsed * usable) if elapsed > 0 else None
    if served:
        row.server_cpu_us_per_req = cpu * 1e6 / served
        row.server_user_us_per_req = ru.ru_utime * 1e6 / served
        row.server_sys_us_per_req = ru.ru_stime * 1e6 / served
        row.server_csw_per_req = (ru.ru_nvcsw + ru.ru_nivcsw) / served


def _fill_window(row, window):
    """The server's CPU over the measured window: per request (at the rate measured over
    the same window) and as a share of one core."""
    if window.seconds <= 0:
        return
    row.window_s, row.window_cpu_s = window.seconds, window.cpu_s
    row.window_cpu_pct = 100 * window.cpu_s / window.seconds
    if row.req_per_s:
        row.window_cpu_us_per_req = window.cpu_s * 1e6 / (row.req_per_s * window.seconds)


REFUSING = "refusing"   # what a server logs when it turns connections away


def _refusals(server):
    """A server that refused connections (select past FD_SETSIZE, --max-conns) says so in
    its log: the run is invalid, and its own words say why."""
    try:
        with open(server.log_path, errors="replace") as f:
            lines = [line.strip() for line in f if REFUSING in line]
    except OSError:
        return []
    return [f"{server.model} refused connections: {lines[0]}"] if lines else []


def _verdict(row, point, problems):
    reasons = validity.judge(row, point, problems)
    row.valid = not reasons
    row.invalid_reason = "; ".join(reasons)
    return row
