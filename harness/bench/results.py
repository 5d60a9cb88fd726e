"""runs.csv and summary.csv: a run's row and a point's summary, typed, and their files.

A run's figures are a Row: its fields, in order, are runs.csv's columns (docs/bench.md
explains each; a test checks). runs.csv is appended to, and flushed, as each run ends: a run
that was interrupted keeps every row before it. read_runs() gives Rows back with their types.

summary.csv is computed from runs.csv alone (so `make plots` can redo it): a Summary per
scenario, point and model, with the median, min and max over the valid runs of each figure
in SUMMARISED.
"""
import csv
import dataclasses
import os
import statistics
import typing
from dataclasses import dataclass, field
from typing import Optional


@dataclass(slots=True)
class Row:
    """One run: what ran, what the load generator saw, what the server and the generator
    spent, and the verdict. An empty cell (None) is a figure that does not apply or could
    not be measured."""
    # what ran
    run: str = ""
    rep: int = 0
    model: str = ""
    scenario: str = ""
    point: str = ""
    x: Optional[float] = None
    tool: str = ""
    proto: str = ""
    path: str = ""
    conns: int = 0
    gen_threads: Optional[int] = None
    load_fraction: Optional[float] = None
    target_rate: Optional[float] = None
    achieved_rate: Optional[float] = None
    late_sends: Optional[int] = None
    duration_s: Optional[float] = None
    warmup_s: Optional[float] = None
    # what the load generator saw
    requests: Optional[int] = None
    warmup_requests: Optional[int] = None
    req_per_s: Optional[float] = None
    bytes: Optional[int] = None
    conns_established: Optional[int] = None
    server_conns: Optional[int] = None
    conns_kernel: Optional[int] = None
    listen_queue_peak: Optional[int] = None
    listen_queue_end: Optional[int] = None
    err_connect: Optional[int] = None
    err_read: Optional[int] = None
    err_write: Optional[int] = None
    err_timeout: Optional[int] = None
    err_status: Optional[int] = None
    err_parse: Optional[int] = None
    lat_min_us: Optional[float] = None
    lat_mean_us: Optional[float] = None
    lat_p50_us: Optional[float] = None
    lat_p90_us: Optional[float] = None
    lat_p99_us: Optional[float] = None
    lat_p999_us: Optional[float] = None
    lat_p9999_us: Optional[float] = None
    lat_max_us: Optional[float] = None
    bg_requests: Optional[int] = None
    bg_req_per_s: Optional[float] = None
    bg_p99_us: Optional[float] = None
    success_rate: Optional[float] = None
    attackers: Optional[int] = None
    attackers_held: Optional[int] = None
    attackers_408: Optional[int] = None
    # what the server spent (wait4 rusage over its whole life, /proc samples)
    server_user_s: Optional[float] = None
    server_sys_s: Optional[float] = None
    server_busy: Optional[float] = None
    server_cpu_us_per_req: Optional[float] = None
    server_user_us_per_req: Optional[float] = None
    server_sys_us_per_req: Optional[float] = None
    server_vcsw: Optional[int] = None
    server_ivcsw: Optional[int] = None
    server_csw_per_req: Optional[float] = None
    server_base_pss_kb: Optional[int] = None
    server_peak_pss_kb: Optional[int] = None
    server_peak_rss_kb: Optional[int] = None
    server_mem_per_conn_kb: Optional[float] = None
    server_threads: Optional[int] = None
    server_procs: Optional[int] = None
    server_conns_per_worker: str = ""
    # the server's CPU over the measured window alone (/proc, at its start and end)
    window_s: Optional[float] = None
    window_cpu_s: Optional[float] = None
    window_cpu_pct: Optional[float] = None
    window_cpu_us_per_req: Optional[float] = None
    # what the load generator spent
    gen_user_s: Optional[float] = None
    gen_sys_s: Optional[float] = None
    gen_busy: Optional[float] = None
    # the verdict and the circumstances
    valid: bool = False
    invalid_reason: str = ""
    server_cpus: str = ""
    client_cpus: str = ""
    started_utc: str = ""
    hgrm: str = ""

    def error(self, kind):
        """The count of one kind of error (tools.ERROR_KINDS), 0 when not measured."""
        return getattr(self, f"err_{kind}") or 0


# Every column of runs.csv, in order: the Row's fields.
COLUMNS = [f.name for f in dataclasses.fields(Row)]


def _cell_type(f):
    """The type a column's cells hold: int, float, bool or str (Optional[...] unwrapped)."""
    kind = typing.get_type_hints(Row)[f.name]
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return args[0] if args else kind


_TYPES = {f.name: _cell_type(f) for f in dataclasses.fields(Row)}


def format_value(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e6 else f"{v:.0f}"
    return str(v)


def parse_value(kind, text):
    """A CSV cell back as `kind`: None when empty (or not a number where one is expected)."""
    if kind is str:
        return text or ""
    if kind is bool:
        return text == "1"
    if text in ("", None):
        return None
    try:
        return kind(float(text)) if kind is int else kind(text)
    except ValueError:
        return None


def to_csv(row):
    return {name: format_value(getattr(row, name)) for name in COLUMNS}


def from_csv(cells):
    """A Row from runs.csv's cells; columns it does not know are ignored (an older file)."""
    return Row(**{name: parse_value(_TYPES[name], cells.get(name)) for name in COLUMNS
                  if name in cells})


class RunsWriter:
    """Appends rows to runs.csv, one per finished run, flushed at once."""

    def __init__(self, path):
        self.path = path
        self._file = open(path, "w", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=COLUMNS)
        self._csv.writeheader()
        self._file.flush()

    def write(self, row):
        self._csv.writerow(to_csv(row))
        self._file.flush()

    def close(self):
        self._file.close()


def read_runs(path):
    with open(path, newline="") as f:
        return [from_csv(cells) for cells in csv.DictReader(f)]


# ---- summary.csv ------------------------------------------------------------------------

# The figures summary.csv gives median, min and max of.
SUMMARISED = [
    "x", "target_rate", "achieved_rate", "req_per_s", "lat_p50_us", "lat_p90_us",
    "lat_p99_us", "lat_p999_us", "lat_max_us", "bg_p99_us", "server_cpu_us_per_req",
    "server_user_us_per_req", "server_sys_us_per_req", "server_csw_per_req",
    "server_mem_per_conn_kb", "server_peak_pss_kb", "server_peak_rss_kb", "server_threads",
    "server_procs", "server_busy", "window_cpu_pct", "window_cpu_us_per_req", "gen_busy",
    "success_rate", "attackers_held", "attackers_408", "err_connect", "err_timeout",
    "err_status",
]
STATS = ("median", "min", "max")

# How the report names the figures it judges.
NAMES = {"req_per_s": "req/s", "lat_p99_us": "p99", "server_cpu_us_per_req": "CPU/req",
         "window_cpu_us_per_req": "CPU/req in the window", "server_csw_per_req": "csw/req",
         "server_mem_per_conn_kb": "memory/conn", "server_peak_rss_kb": "RSS"}


@dataclass(frozen=True)
class Spread:
    """A figure over the runs of a point: its median and its range. None: no run had it."""
    median: Optional[float] = None
    min: Optional[float] = None
    max: Optional[float] = None

    @staticmethod
    def of(values):
        values = [v for v in values if v is not None]
        if not values:
            return Spread()
        return Spread(statistics.median(values), min(values), max(values))


@dataclass
class Summary:
    """One point of one scenario for one model, over its runs."""
    scenario: str
    point: str
    model: str
    conns: int
    runs: int
    valid_runs: int
    figures: dict = field(default_factory=dict)     # metric -> Spread

    def spread(self, metric):
        return self.figures.get(metric, Spread())

    def median(self, metric):
        return self.spread(metric).median


SUMMARY_KEYS = ["scenario", "point", "model", "conns", "runs", "valid_runs"]
SUMMARY_COLUMNS = SUMMARY_KEYS + [f"{m}_{s}" for m in SUMMARISED for s in STATS]


def summarise(runs, counted=lambda row: row.valid):
    """Summaries per (scenario, point, model) in the order first run. The figures are over
    the runs `counted` takes: the valid ones, unless told otherwise."""
    groups = {}
    for row in runs:
        groups.setdefault((row.scenario, row.point, row.model), []).append(row)
    summary = []
    for (scenario, point, model), rows in groups.items():
        valid = [r for r in rows if counted(r)]
        summary.append(Summary(
            scenario, point, model, rows[0].conns, len(rows), len(valid),
            {metric: Spread.of(getattr(r, metric) for r in valid) for metric in SUMMARISED}))
    return summary


def _summary_cells(s):
    cells = {k: format_value(getattr(s, k)) for k in SUMMARY_KEYS}
    for metric in SUMMARISED:
        for stat in STATS:
            cells[f"{metric}_{stat}"] = format_value(getattr(s.spread(metric), stat))
    return cells


def write_summary(runs_path, summary_path):
    summary = summarise(read_runs(runs_path))
    with open(summary_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        w.writeheader()
        for s in summary:
            w.writerow(_summary_cells(s))
    return summary


def read_summary(results_dir):
    """summary.csv recomputed from runs.csv (and rewritten), so it always matches it."""
    return write_summary(os.path.join(results_dir, "runs.csv"),
                         os.path.join(results_dir, "summary.csv"))
