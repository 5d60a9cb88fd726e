"""The runner's command line and the configuration of one benchmark."""
import argparse
import os
import sys
from dataclasses import dataclass, field

from . import scenarios, servers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Where each host keeps a run's binaries (relative: in the ssh user's home), removed after.
REMOTE_DIR = ".cache/c10k-lab"

# (duration s, warm-up s, rounds) per profile. QUICK takes ~3 min on 2 cores (efficiency and
# http only), the default ~11 min (every scenario but openloop, fewer points; nine models and
# two reference servers), FULL longer runs, more points, 10,000 connections. The rounds are what verdicts
# rest on: the profiles trim points and durations (docs/bench.md), never rounds or models.
PROFILE_TIMES = {"quick": (0.5, 0, 2), "default": (0.5, 0, 3), "full": (5, 1, 5)}

DESCRIPTION = """\
Runs every server model through the same benchmark scenarios, then draws the plots and writes
the report (results/<UTC time>-<host>/, with results/latest pointing to it).
Usually run as `make bench` (QUICK=1, FULL=1, MODELS=, REFS=, SCENARIOS=, SERVER_CPUS=,
CLIENT_CPUS=; across hosts SERVER_HOST=, CLIENT_HOSTS=, SERVER_ADDR=, SSH_CONFIG=);
directly: python3 -m harness.bench [options], from the repository's top.
The reference servers (--refs, default "nginx go") run in the same rounds as the models.

scenarios: """ + ", ".join(scenarios.ALL)


@dataclass
class Config:
    root: str                    # the repository
    bin_dir: str
    models: list
    scenarios: list
    profile: str
    duration: float
    warmup: float
    reps: int
    server_cpus: str
    client_cpus: str
    conns: list
    idle_conns: list
    max_conns: int
    out: str
    results_root: str
    dry_run: bool
    report: bool
    absent: list                 # "name: why" of each server left out: an absent reference
                                 # server, a model this machine cannot run
    scaling_cores: list = None   # --scaling-cores, or None: the default sweep
    # Across hosts (remote.py): none of these for a local run.
    server_host: str = ""        # [user@]host of the server
    client_hosts: list = field(default_factory=list)   # [user@]host of each load generator
    server_addr: str = ""        # the address the clients use (default: ssh's HostName)
    ssh_config: str = ""         # ssh -F FILE (default: the user's ~/.ssh/config)
    remote_dir: str = REMOTE_DIR
    remote_build: bool = False   # send the source and make it on each host


class OneLineErrorParser(argparse.ArgumentParser):
    """A bad command line: one line naming the problem, exit code 2."""

    def error(self, message):
        sys.stderr.write(f"bench: {message} (see --help)\n")
        sys.exit(2)


def _words(text):
    return [w for w in text.replace(",", " ").split() if w]


def _counts(parser, option, text):
    try:
        values = [int(w) for w in _words(text)]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        parser.error(f"{option}: '{text}' is not a list of positive whole numbers")
    return values


def parse(argv, root):
    p = OneLineErrorParser(prog="bench", description=DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="", help="models (or other servers) to run, e.g. "
                   "'epoll green' (default: every built model of the Makefile's MODELS); a variant "
                   "runs beside its model at its points (green-nohandoff in blocking with /block)")
    p.add_argument("--refs", default=" ".join(servers.REFERENCES),
                   help="reference servers to run beside the models, in the same rounds "
                        f"(default: '{' '.join(servers.REFERENCES)}'; '' for none); one that "
                        "is not installed is left out with a note")
    p.add_argument("--scenarios", default="", help="scenarios to run (default: all; QUICK: "
                   f"{' '.join(scenarios.QUICK)})")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="efficiency and http only, 2 rounds: about 3 minutes")
    size.add_argument("--full", action="store_true",
                      help="5 rounds, longer runs, more points and 10,000 connections")
    p.add_argument("--duration", type=float, help="measured seconds per run")
    p.add_argument("--warmup", type=float, help="warm-up seconds before each run")
    p.add_argument("--reps", "--rounds", type=int, dest="reps",
                   help="rounds: every model runs every point once per round (default 3, "
                   "QUICK 2, FULL 5)")
    p.add_argument("--server-cpus", default="", help="CPUs for the servers, e.g. 0 or 0-3 "
                   "(default: half of this machine's, disjoint from the generator's)")
    p.add_argument("--client-cpus", default="", help="CPUs for the load generators")
    p.add_argument("--conns", default="", help="connection counts for the http, echo and "
                   "cpubound sweeps, e.g. 1,100")
    p.add_argument("--idle-conns", default="", help="connection counts for idle")
    p.add_argument("--scaling-cores", default="", help="server core counts for scaling, e.g. "
                   "1,2 (default: 1, 2, 4... up to the server's CPUs, on a machine of 4 cores "
                   "or more; on fewer, scaling is skipped unless this is given)")
    p.add_argument("--max-conns", type=int, default=0, help="the servers' --max-conns "
                   "(default: each run's connections plus a margin)")
    p.add_argument("--bin", default=os.path.join(root, "build", "bin"),
                   help="where the servers and loadgen are (default: build/bin)")
    p.add_argument("--out", default="", help="results directory "
                   "(default: results/<UTC time>-<host>, and results/latest points to it)")
    p.add_argument("--server-host", default="", metavar="[USER@]HOST",
                   help="run the servers on this host, over ssh (with --client-hosts)")
    p.add_argument("--client-hosts", default="", metavar="'H1 H2 ...'",
                   help="run the load generators on these hosts, each point's load split "
                        "evenly over them")
    p.add_argument("--server-addr", default="", help="the server's address as the clients "
                   "reach it, when it is not the ssh host name")
    p.add_argument("--ssh-config", default="", help="ssh's configuration file (ssh -F) "
                   "instead of ~/.ssh/config")
    p.add_argument("--remote-dir", default=REMOTE_DIR, help="where a host keeps a run's "
                   f"binaries, removed after the run (default: ~/{REMOTE_DIR})")
    p.add_argument("--remote-build", action="store_true", help="send the source and build "
                   "it on each host with make (REMOTE_BUILD=1), instead of sending the binaries "
                   "built here; then a host's architecture may differ from this one's")
    p.add_argument("--dry-run", action="store_true", help="print the plan and its duration")
    p.add_argument("--no-report", action="store_true", help="skip the plots and the report")
    a = p.parse_args(argv)

    profile = "quick" if a.quick else "full" if a.full else "default"
    duration, warmup, reps = PROFILE_TIMES[profile]
    duration = duration if a.duration is None else a.duration
    warmup = warmup if a.warmup is None else a.warmup
    reps = reps if a.reps is None else a.reps
    if duration < 0.5 or warmup < 0 or reps < 1:
        p.error("--duration must be at least 0.5 s, --warmup at least 0, --reps at least 1")
    if a.max_conns < 0:
        p.error("--max-conns must be positive")

    client_hosts = _words(a.client_hosts)
    if bool(a.server_host) != bool(client_hosts):
        p.error("--server-host and --client-hosts go together (SERVER_HOST= and CLIENT_HOSTS=)")
    if (a.server_addr or a.ssh_config or a.remote_build) and not a.server_host:
        p.error("--server-addr, --ssh-config and --remote-build need --server-host and "
                "--client-hosts")
    if a.ssh_config and not os.path.isfile(a.ssh_config):
        p.error(f"--ssh-config: no file {a.ssh_config}")

    bin_dir = os.path.abspath(a.bin)
    absent = []     # reference servers this machine lacks: a note each, and the run goes on
    if a.models:
        models = []
        for name in _words(a.models):
            why = servers.target(name).missing(bin_dir)
            if not why:
                models.append(name)
            elif servers.target(name).reference:
                absent.append(f"{name}: {why}")
            else:
                p.error(why)
    else:
        models = [m for m in servers.made_models(root)
                  if not servers.target(m).missing(bin_dir)]
        if not models:
            p.error(f"no server model is built in {bin_dir} (run make)")
    # A model this machine cannot run (io_uring refused) is skipped with its reason, as an
    # absent reference server is: the others still run.
    for name in list(models):
        why = servers.target(name).unavailable(bin_dir)
        if why:
            models.remove(name)
            absent.append(f"{name}: {why}")
    if not models:
        p.error("; ".join(absent))
    for name in _words(a.refs):
        if name in _words(a.models):
            continue
        if name not in servers.REFERENCES:
            p.error(f"--refs: unknown reference server {name!r} (known: "
                    f"{', '.join(servers.REFERENCES)})")
        why = servers.target(name).missing(bin_dir)
        if why:
            absent.append(f"{name}: {why}")
        elif name not in models:
            models.append(name)
    # A variant runs beside its model, in the scenarios it is for (green --no-handoff in
    # blocking, green --no-monitor in efficiency at 25 %).
    for t in servers.VARIANTS:
        if t.variant_of in models and t.name not in models and not t.missing(bin_dir):
            models.append(t.name)
    chosen = _words(a.scenarios) or list({"quick": scenarios.QUICK, "default": scenarios.DEFAULT,
                                          "full": scenarios.ALL}[profile])
    unknown = [s for s in chosen if s not in scenarios.ALL]
    if unknown:
        p.error(f"unknown scenario {', '.join(unknown)} (known: {', '.join(scenarios.ALL)})")

    return Config(root=root, bin_dir=bin_dir, models=models,
                  scenarios=[s for s in scenarios.ALL if s in chosen], profile=profile,
                  duration=duration, warmup=warmup, reps=reps,
                  server_cpus=a.server_cpus, client_cpus=a.client_cpus,
                  conns=_counts(p, "--conns", a.conns) if a.conns else None,
                  idle_conns=_counts(p, "--idle-conns", a.idle_conns) if a.idle_conns else None,
                  scaling_cores=(_counts(p, "--scaling-cores", a.scaling_cores)
                                 if a.scaling_cores else None),
                  max_conns=a.max_conns, out=a.out, results_root=os.path.join(root, "results"),
                  dry_run=a.dry_run, report=not a.no_report, absent=absent,
                  server_host=a.server_host, client_hosts=client_hosts,
                  server_addr=a.server_addr,
                  ssh_config=os.path.abspath(a.ssh_config) if a.ssh_config else "",
                  remote_dir=a.remote_dir, remote_build=a.remote_build)


def main(argv):
    cfg = parse(argv, ROOT)
    from . import runner
    return runner.run(cfg)
