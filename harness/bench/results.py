"""runs.csv and summary.csv: the columns, and how they are written and summarised.

runs.csv has one row per run and is appended to, and flushed, as each run ends: a run that
was interrupted keeps every row before it. summary.csv is computed from runs.csv alone (so
`make plots` can redo it): per scenario, point and model, the median, min and max over the
valid repetitions. docs/bench.md explains every column.
"""
import csv
import os
import statistics

# Every column of runs.csv, in order. docs/bench.md describes each one (a test checks).
COLUMNS = [
    # what ran
    "run", "rep", "model", "scenario", "point", "x", "tool", "proto", "path",
    "conns", "gen_threads", "load_fraction", "target_rate", "achieved_rate", "late_sends",
    "duration_s", "warmup_s",
    # what the load generator saw
    "requests", "warmup_requests", "req_per_s", "bytes", "conns_established", "server_conns",
    "err_connect", "err_read", "err_write", "err_timeout", "err_status", "err_parse",
    "lat_min_us", "lat_mean_us", "lat_p50_us", "lat_p90_us", "lat_p99_us", "lat_p999_us",
    "lat_p9999_us", "lat_max_us",
    "bg_requests", "bg_req_per_s", "bg_p99_us",
    # what the server spent (wait4 rusage over its whole life, /proc samples)
    "server_user_s", "server_sys_s", "server_busy", "server_cpu_us_per_req",
    "server_user_us_per_req", "server_sys_us_per_req",
    "server_vcsw", "server_ivcsw", "server_csw_per_req",
    "server_base_pss_kb", "server_peak_pss_kb", "server_peak_rss_kb", "server_mem_per_conn_kb",
    "server_threads", "server_procs",
    # what the load generator spent
    "gen_user_s", "gen_sys_s", "gen_busy",
    # the verdict and the circumstances
    "valid", "invalid_reason", "server_cpus", "client_cpus", "started_utc", "hgrm",
]

# The figures summary.csv gives median, min and max of.
SUMMARISED = [
    "x", "target_rate", "achieved_rate", "req_per_s", "lat_p50_us", "lat_p90_us",
    "lat_p99_us", "lat_p999_us", "lat_max_us", "bg_p99_us", "server_cpu_us_per_req",
    "server_user_us_per_req", "server_sys_us_per_req", "server_csw_per_req",
    "server_mem_per_conn_kb", "server_peak_pss_kb", "server_threads", "server_procs",
    "server_busy", "gen_busy",
]
SUMMARY_KEYS = ["scenario", "point", "model", "conns", "runs", "valid_runs"]
SUMMARY_COLUMNS = SUMMARY_KEYS + [f"{m}_{s}" for m in SUMMARISED for s in ("median", "min", "max")]


def format_value(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e6 else f"{v:.0f}"
    return str(v)


class RunsWriter:
    """Appends rows to runs.csv, one per finished run, flushed at once."""

    def __init__(self, path):
        self.path = path
        self._file = open(path, "w", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=COLUMNS)
        self._csv.writeheader()
        self._file.flush()

    def write(self, row):
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise KeyError(f"not a runs.csv column: {', '.join(sorted(unknown))}")
        self._csv.writerow({k: format_value(row.get(k)) for k in COLUMNS})
        self._file.flush()

    def close(self):
        self._file.close()


def number(text):
    """A CSV cell as a number, or None when empty or not a number."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def read_runs(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def is_valid(row):
    return row.get("valid") == "1"


def summarise(runs, counted=is_valid):
    """Rows of summary.csv: per (scenario, point, model) in the order first run. The figures
    are over the runs `counted` takes: the valid ones, unless told otherwise."""
    groups = {}
    for row in runs:
        groups.setdefault((row["scenario"], row["point"], row["model"]), []).append(row)
    summary = []
    for (scenario, point, model), rows in groups.items():
        valid = [r for r in rows if counted(r)]
        out = {"scenario": scenario, "point": point, "model": model, "conns": rows[0]["conns"],
               "runs": len(rows), "valid_runs": len(valid)}
        for metric in SUMMARISED:
            values = [v for v in (number(r.get(metric)) for r in valid) if v is not None]
            for stat, fn in (("median", statistics.median), ("min", min), ("max", max)):
                out[f"{metric}_{stat}"] = fn(values) if values else None
        summary.append(out)
    return summary


def write_summary(runs_path, summary_path):
    rows = summarise(read_runs(runs_path))
    with open(summary_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        w.writeheader()
        for row in rows:
            w.writerow({k: format_value(row.get(k)) for k in SUMMARY_COLUMNS})
    return rows


def read_summary(results_dir):
    """summary.csv recomputed from runs.csv (and rewritten), so it always matches it."""
    return write_summary(os.path.join(results_dir, "runs.csv"),
                         os.path.join(results_dir, "summary.csv"))
