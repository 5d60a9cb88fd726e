"""The scenarios: what each one sends, at which points, and what it expects.

Every model goes through the same points with the same parameters. A scenario is a list of
points; a point is what the generators do (one Load each, run at once) and the x value it is
plotted at. The three profiles (quick, default, full) differ only in how many points and
connections, never in what a point means, so their results compare.

A new scenario is a function here, (profile, conns) -> Scenario, added to ALL; then its plots
in scripts/plots.py (plan()), their sentences in scripts/sentences.py (about()), and its
row in docs/bench.md. The report gives it a section with a table on its own.
"""
from dataclasses import dataclass, field

from .tools import Load

PROFILES = ("quick", "default", "full")


@dataclass
class Point:
    label: str                       # "c=100", "0.5x", "alone": unique within its scenario
    x: float                         # where it is plotted (connections, offered load, ...);
                                     # a share of capacity is plotted at the rate it became
    proto: str                       # the server's protocol
    loads: list                      # [Load]: the first is the measured one
    expected_errors: tuple = ()      # error kinds that do not make a run invalid
    load_fraction: float = 0.0       # open loop: the share of the fastest model's capacity
    ceiling_fraction: float = 0.0    # open loop: the share of the load generator's ceiling
                                     # (calibration), the same rate for every model
    capacity_probe: bool = False     # open loop: the closed-loop run that finds the capacity
    warmup: bool = True              # idle connections have nothing to warm up
    min_duration: float = 0.0        # seconds the run lasts at least, whatever the profile
    server_cores: int = 0            # scaling: the server gets this many of its CPUs (and
                                     # that many workers); 0: all of them, as every run
    all_cpus: bool = False           # the server and the generators share every CPU, so that
                                     # a server's use of more than one core can show
    min_warmup: float = 0.0          # seconds of warm-up at least (loadgen)
    generator_bound: bool = False    # calibration: the generator is meant to be saturated
    outcome: bool = False            # the measured stream's errors, missed rate or refused
                                     # connections are the result, not a fault of the run
    own_limits: bool = False         # each model keeps its own --max-conns
    header_timeout: int = 0          # the servers' --header-timeout; 0: their default

    def duration(self, profile_duration):
        return max(profile_duration, self.min_duration)

    def warmup_s(self, profile_warmup):
        return max(profile_warmup, self.min_warmup) if self.warmup else 0.0

    @property
    def conns(self):
        return sum(load.conns for load in self.loads)

    @property
    def idle_beside(self):
        """Connections held idle beside the measured stream."""
        return sum(load.conns for load in self.loads[1:] if load.idle)


@dataclass
class Scenario:
    name: str                        # as SCENARIOS= names it
    short: str                       # the report's "In short" names it so
    title: str
    question: str                    # what it shows, one sentence, for the report
    points: list = field(default_factory=list)
    # The figures it is judged on: verdicts.py compares every pair of models on each.
    metrics: tuple = ("req_per_s", "lat_p99_us", "server_cpu_us_per_req")
    # Every point offers a share of the generator's ceiling: the noise bounds are those of
    # calibration's runs at a fixed rate.
    fixed_rate: bool = False

    @property
    def tools(self):
        return {load.tool for p in self.points for load in p.loads}


def _pick(profile, quick, default, full):
    return {"quick": quick, "default": default, "full": full}[profile]


EFFICIENCY_CONNS = 100
EFFICIENCY_S = 1.0      # measured seconds at least: the CPU time per request wants a window
                        # long enough that starting and ending it are small beside it (1 s:
                        # a few thousand requests at the lowest rate)


def connect_time(conns):
    """Seconds of warm-up in which a model that forks or spawns a thread per connection gets
    `conns` of them on a busy core before the measured window opens."""
    return 0.5 + conns / 5000


def efficiency(profile, conns=None):
    """Open loop at rates every model can hold (shares of the load generator's ceiling, the
    same for all), so that what differs is what each model spends per request."""
    rates = _pick(profile, [0.1, 0.25], [0.1, 0.25], [0.1, 0.25, 0.5])
    idle = conns or _pick(profile, [], [1000], [1000, 10000])
    at = 0.25 if 0.25 in rates else rates[0]
    c = EFFICIENCY_CONNS

    def stream():
        return Load("loadgen", c, path="/plaintext")

    points = [Point(f"{f:.0%}", 0, "http", [stream()], ceiling_fraction=f,
                    min_duration=EFFICIENCY_S, min_warmup=connect_time(c)) for f in rates]
    # The idle connections are opened during the warm-up, and the server's CPU is read over
    # the measured window only: what is counted is holding them, not accepting them.
    points += [Point(f"{at:.0%} +{n} idle", c + n, "http",
                     [stream(), Load("loadgen", n, idle=True, role="background")],
                     ceiling_fraction=at, min_duration=EFFICIENCY_S,
                     min_warmup=connect_time(n))
               for n in idle]
    return Scenario("efficiency", "Efficiency", "What a request costs at a fixed rate",
                    f"What each model spends per request when the load is the same for all: "
                    f"open loop on {c} connections at shares of the load generator's ceiling "
                    f"(calibration), then at {at:.0%} with idle connections held beside. "
                    "Server CPU is counted over the measured window, so these figures hold "
                    "whoever the bottleneck is.", points,
                    metrics=("window_cpu_us_per_req", "server_csw_per_req", "lat_p99_us",
                             "server_peak_rss_kb"), fixed_rate=True)


def http(profile, conns=None):
    conns = conns or _pick(profile, [100, 1000], [100, 1000], [1, 10, 100, 1000, 10000])
    return Scenario("http", "HTTP", "HTTP throughput and latency vs connections",
                    "How many keep-alive /plaintext requests per second each model serves, "
                    "and how long they wait, as connections grow (wrk, closed loop).",
                    [Point(f"c={c}", c, "http", [Load("wrk", c, path="/plaintext")])
                     for c in conns],
                    metrics=("req_per_s", "lat_p99_us", "server_cpu_us_per_req",
                             "server_csw_per_req"))


PIPELINE = 16


def pipelined(profile, conns=None):
    conns = conns or _pick(profile, [100], [100], [1, 10, 100, 1000, 10000])
    return Scenario("pipelined", "Pipelined HTTP",
                    f"HTTP throughput, {PIPELINE} requests pipelined per connection",
                    f"How many /plaintext requests per second each model serves when each "
                    f"connection keeps {PIPELINE} requests in flight (loadgen --pipeline "
                    f"{PIPELINE}, as TechEmpower's plaintext test): the client does less per "
                    "request, so the server rather than the client is the bottleneck.",
                    [Point(f"c={c}", c, "http", [Load("loadgen", c, path="/plaintext",
                                                      pipeline=PIPELINE)]) for c in conns])


def echo(profile, conns=None):
    conns = conns or _pick(profile, [100], [100], [1, 10, 100, 1000, 10000])
    return Scenario("echo", "Echo", "Echo throughput vs connections",
                    "How many 64-byte echo round trips per second each model serves as "
                    "connections grow (loadgen, closed loop).",
                    [Point(f"c={c}", c, "echo", [Load("loadgen", c, proto="echo", size=64)])
                     for c in conns])


OPENLOOP_CONNS = 100


def openloop(profile, conns=None):
    fractions = _pick(profile, [0.9], [0.9], [0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
    absolute = _pick(profile, [], [], [1000, 10000, 30000])
    c = OPENLOOP_CONNS

    def stream(rate=0.0):
        return [Load("loadgen", c, path="/plaintext", rate=rate)]

    points = [Point("capacity", 0, "http", stream(), capacity_probe=True)]
    points += [Point(f"{f:g}x", 0, "http", stream(), load_fraction=f) for f in fractions]
    points += [Point(f"rate={r}", r, "http", stream(r)) for r in absolute]
    return Scenario("openloop", "Open loop", "Latency vs offered load (open loop)",
                    "How latency grows as the offered load nears each model's capacity: "
                    "requests sent on a fixed schedule, latency counted from the intended "
                    "send time (no coordinated omission).", points,
                    metrics=("req_per_s", "lat_p99_us"))


def idle(profile, conns=None):
    # 100 beside 1,000 (and 10,000): the cost per connection as a slope (scripts/plots.py's
    # idle_memory), with what a server holds anyway spread over few connections at 100.
    conns = conns or _pick(profile, [1000], [100, 1000], [100, 1000, 10000])
    return Scenario("idle", "Idle", "Idle connections",
                    "What an idle connection costs each model: resident memory, threads, "
                    "processes.",
                    # Held 1.5-3 s at least: a model that accepts slowly (a fork or a thread per
                    # connection, on a busy core) must have them all before memory is read;
                    # a hundred take no time.
                    [Point(f"c={c}", c, "http", [Load("loadgen", c, idle=True)], warmup=False,
                           min_duration=_pick(profile, 1.5, 1.5, 3) if c > 100 else 1.0)
                     for c in conns],
                    metrics=("server_mem_per_conn_kb",))


def churn(profile, conns=None):
    conns = _pick(profile, [10], [10], [1, 10, 100])
    return Scenario("churn", "Churn", "Connection churn",
                    "How many connections per second each model accepts, serves once and "
                    "closes (one request per connection).",
                    [Point(f"c={c}", c, "http", [Load("loadgen", c, path="/plaintext",
                                                      close=True)]) for c in conns])


def cpubound(profile, conns=None):
    # Every CPU for the server: 100 µs of work per request costs the generator a few µs, so
    # it hardly competes, and a model that computes on several cores at once shows it.
    conns = conns or _pick(profile, [10], [10], [1, 10, 100, 1000])
    return Scenario("cpubound", "CPU-bound", "CPU-bound requests (/work?us=100)",
                    "Who uses the cores: requests that each compute for 100 µs, the server "
                    "and the load generator sharing every CPU.",
                    [Point(f"c={c}", c, "http", [Load("wrk", c, path="/work?us=100")],
                           all_cpus=True) for c in conns])


def slowbackend(profile, conns=None):
    c = 1000
    return Scenario("slowbackend", "Slow backend", "Slow backend (/sleep?ms=10)",
                    f"Who can wait for many things at once: {c} connections whose requests "
                    f"each wait 10 ms without using the CPU (ideal: {c * 100:,} req/s).",
                    [Point(f"c={c}", c, "http", [Load("wrk", c, path="/sleep?ms=10")])])


BLOCK_PLAIN_RATE, BLOCK_PLAIN_CONNS = 2000, 50
BLOCK_RATE, BLOCK_CONNS = 20, 4
# A long computation beside them: what the green runtime's monitor must take its worker from
# (20% of a core; with one server core, green runs --workers 1).
WORK_US, WORK_RATE = 100000, 2


def blocking(profile, conns=None):
    plain = Load("loadgen", BLOCK_PLAIN_CONNS, path="/plaintext", rate=BLOCK_PLAIN_RATE)
    block = Load("loadgen", BLOCK_CONNS, path="/block?ms=5", rate=BLOCK_RATE, role="background")
    work = Load("loadgen", 1, path=f"/work?us={WORK_US}", rate=WORK_RATE, role="background")
    share = BLOCK_RATE / (BLOCK_RATE + BLOCK_PLAIN_RATE)
    return Scenario("blocking", "Blocking call", "A blocking call among fast requests",
                    f"What a few blocking calls do to everyone else: /plaintext at "
                    f"{BLOCK_PLAIN_RATE:,} req/s (open loop, latency reported) alone, then with "
                    f"/block?ms=5 at {BLOCK_RATE} req/s beside it ({share:.0%} of requests), "
                    f"then with a {WORK_US // 1000} ms computation (/work) {WORK_RATE} times a "
                    f"second instead.",
                    [Point("alone", 0, "http", [plain]),
                     Point("with /block", 1, "http", [plain, block]),
                     Point("with /work", 2, "http", [plain, work])],
                    metrics=("lat_p99_us",))


SLOW_RATE, SLOW_CONNS = 500, 50
# The servers' --header-timeout in this scenario (their default is 10 s): short, so that a run
# that outlasts it takes seconds, not a quarter of `make bench`. What it shows is the same at
# any value: while it runs, who is held; once it fires, who is freed.
HEADER_TIMEOUT_S = 1


def slowclients(profile, conns=None):
    attackers = _pick(profile, 200, 1000, 1000)
    # The normal client opens a connection per request, as new visitors do: it needs a slot,
    # a thread or a process that the attackers may have taken.
    normal = Load("loadgen", SLOW_CONNS, path="/plaintext", rate=SLOW_RATE, close=True)
    attack = Load("slowloris", attackers, role="background")
    quick = "" if attackers == 200 else " (QUICK: 200)"
    return Scenario("slowclients", "Slow clients", "Slow clients (slowloris) beside a normal one",
                    f"Who kept serving while {attackers:,} clients{quick} each trickled a "
                    f"request head a byte a second (never finishing it): a normal client's "
                    f"/plaintext at {SLOW_RATE} req/s (open loop, a new connection per request), "
                    f"its p99 and the share of its requests answered, and how many attackers "
                    f"the server still held at the end. The servers run with --header-timeout "
                    f"{HEADER_TIMEOUT_S} (their default: 10) and the run outlasts it; each model "
                    f"keeps its own --max-conns.",
                    [Point(f"attackers={attackers}", attackers, "http", [normal, attack],
                           min_duration=HEADER_TIMEOUT_S + 1.5, outcome=True, own_limits=True,
                           header_timeout=HEADER_TIMEOUT_S)])


SCALING_CONNS = 256


def scaling_cores(server_cpus):
    """The scaling scenario's core counts: 1, 2, 4... up to the server's CPUs (half the
    machine by default), and all of them last if that is not a power of two."""
    counts = [1 << i for i in range(server_cpus.bit_length()) if 1 << i <= server_cpus]
    return counts + ([server_cpus] if counts[-1] != server_cpus else [])


def scaling(profile, conns=None, cores=(1,)):
    c = conns[0] if conns else SCALING_CONNS
    points = []
    for proto, load in (("http", lambda: Load("wrk", c, path="/plaintext")),
                        ("echo", lambda: Load("loadgen", c, proto="echo", size=64))):
        points += [Point(f"{proto}/{n}", n, proto, [load()], server_cores=n) for n in cores]
    return Scenario("scaling", "Scaling", "Throughput and CPU per request vs server cores",
                    f"How each model that can use several cores scales: /plaintext (wrk) and "
                    f"64-byte echo (loadgen) on {c} connections, the server on 1, 2, 4... "
                    f"cores (--workers = the cores for epoll, green and the references; fork, "
                    f"thread, prefork and pool use them by nature).", points)


# In the order they run and the report shows them: the fixed-rate figures, which hold on any
# machine, first.
ALL = {f.__name__: f for f in (efficiency, http, pipelined, echo, openloop, idle, churn,
                               cpubound, slowbackend, blocking, slowclients, scaling)}

# What QUICK runs when no scenario is named: in 2-3 minutes, the fixed-rate figures (the
# verdicts a small machine gives honestly) and a short HTTP sweep. The default runs every
# scenario but the open loop's (about 10 minutes on 2 cores): its points are shares of the
# fastest model's capacity, which on a small machine is the load generator's, and the
# efficiency scenario gives the fixed-rate figures that hold there. FULL runs them all.
QUICK = ("efficiency", "http")
DEFAULT = tuple(name for name in ALL if name != "openloop")


def build(names, profile, conns=None, idle_conns=None, cores=(1,)):
    """The chosen scenarios, in the order of ALL. `conns` overrides the connection counts of
    the connection sweeps (http, pipelined, echo, cpubound); `idle_conns` those of idle and
    the idle connections beside efficiency's stream; `cores` are the scaling scenario's server
    core counts."""
    chosen = []
    for name, make in ALL.items():
        if name == "scaling" and name in names:
            chosen.append(make(profile, None, cores))
        elif name in names:
            chosen.append(make(profile, idle_conns if name in ("idle", "efficiency") else conns))
    return chosen
