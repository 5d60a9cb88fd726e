"""The benchmark runner: `make bench` runs every server model through the same scenarios.

One concern per module:
  cli        the command line and the run's configuration (QUICK, default, FULL)
  scenarios  what each scenario runs: its points, the load and what it expects
  runner     the loop over runs: order, progress, Ctrl-C, the results directory
  execute    one run (a RunSpec): a fresh server, its load, its measurements, one Row
  servers    what a run measures (models, variants, reference servers): starting one and
             stopping it with its exact rusage
  procs      child processes whose CPU time and context switches we read with wait4()
  sampling   /proc sampling of a server's process tree: memory, threads, sockets
  tools      the load generators' command lines and outputs (wrk, loadgen)
  validity   when a run is invalid, and why
  results    a run's Row (runs.csv's columns) and a point's Summary (summary.csv)
  limits     system limits that would distort a scenario: found, raised, or explained
  envinfo    env.txt: the machine, the tools, the core split, the commit
  cpus       CPU lists ("0-1,4") and the default split between server and generator

Only the standard library: it runs on a fresh Debian with nothing but python3. Run it from
the repository's top as `python3 -m harness.bench` (or `make bench`).
"""
